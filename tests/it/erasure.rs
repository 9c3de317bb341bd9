//! Erasure: `DELETE /sessions/{id}?erase=true` on a live and on an ended session, and the
//! retention sweep; the tombstone, the 410s, `session.erased` in the feed and to the webhook,
//! and a marker written into every place content is kept, present in the store before and
//! absent from it (SQLite: the bytes of its files) after.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

const KEY: &str = "erasure-test-key-0123456789abcdef";
const MARKER: &str = "ZQXERASEME";

/// The document: prints a marker it computes (so only the output holds `-out`) and echoes its
/// input.
const CODE: &str =
    "# ZQXERASEME-code\nimport sys\nprint('ZQXERASEME' + '-out', sys.stdin.read().strip())\n";

/// What a webhook receiver started by the test got: each body, in order.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Value>>>);

impl Received {
    fn of(&self, session: &str) -> Vec<Value> {
        let all = self.0.lock().unwrap();
        all.iter()
            .filter(|e| e["session_id"] == session)
            .cloned()
            .collect()
    }

    /// Waits until `session.erased` of `session` arrived; answers it.
    async fn erased(&self, session: &str) -> Value {
        let deadline = Instant::now() + DEFAULT_WAIT;
        loop {
            if let Some(e) = self
                .of(session)
                .into_iter()
                .find(|e| e["type"] == "session.erased")
            {
                return e;
            }
            assert!(Instant::now() < deadline, "no session.erased delivered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receiver() -> (String, Received) {
    let got = Received::default();
    let store = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let store = store.clone();
            async move {
                store
                    .0
                    .lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// A server with an API key and a webhook, changed by `configure`.
async fn server(configure: impl FnOnce(&mut livecode::config::Config)) -> (TestServer, Received) {
    let (url, got) = receiver().await;
    let server = TestServer::start(|c| {
        c.api_key = KEY.into();
        c.webhooks.url = url;
        c.webhooks.secret = "a secret".into();
        c.sessions.reap_interval_seconds = 0.2;
        configure(c);
    })
    .await;
    (server, got)
}

/// Whether `needle` is anywhere in the server's store: on SQLite the bytes of its files (the
/// database, its WAL and shared memory), on PostgreSQL the text of every row of the tables a
/// session's content lives in.
async fn in_store(server: &TestServer, needle: &str) -> bool {
    if server.config.store.url.is_empty() {
        let db = server.config.data_dir.join("livecode.db");
        return ["", "-wal", "-shm"].iter().any(|suffix| {
            let path = format!("{}{suffix}", db.display());
            std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        });
    }
    in_rows(&server.store_db().await, needle).await
}

/// Whether `needle` is in the text of any row of the tables a session's content lives in.
async fn in_rows(db: &StoreDb, needle: &str) -> bool {
    let tables = ["sessions", "updates", "runs", "events", "test_runs"];
    let rows = tables
        .map(|t| format!("SELECT row_to_json(r)::text AS t FROM {t} r"))
        .join(" UNION ALL ");
    let sql = format!("SELECT count(*) FROM ({rows}) a WHERE t LIKE '%{needle}%'");
    db.value(&sql).await.as_deref() != Some("0")
}

async fn create(server: &TestServer, body: Value) -> Session {
    Session::from(server.api().create_session_as(Some(KEY), body).await)
}

/// A session with the marker in its label, code, a file, an edit, a participant's name, a
/// run's output and input, the notes and a test report; answers it once all is stored.
async fn marked_session(server: &TestServer) -> (Session, WsStream) {
    let api = server.api();
    let question = json!({
        "title": "Echo", "prompt": "Echo the input.",
        "starters": {"python": "print(input())\n"},
        "cases": [{"name": "one", "stdin": "1\n", "expected": "1\n"}]
    });
    let question = expect_json(api.post("/questions", Some(KEY), &question).await, 201).await;
    let session = create(
        server,
        json!({
            "environment": "python", "code": CODE, "label": "ZQXERASEME-label",
            "files": {"data.txt": "ZQXERASEME-file"}, "question": question["question_id"],
        }),
    )
    .await;
    api.wait_status(&session.id, KEY, "ready").await;
    let name = "&name=ZQXERASEME-name";
    let (mut ws, _) = server
        .connect(&session.id, &session.interviewer, name)
        .await;
    let edit = json!([[0, "# ZQXERASEME-edit", ""], CODE.encode_utf16().count()]);
    let update =
        json!({"type": "update", "version": 0, "updates": [{"client_id": "i", "changes": edit}]});
    send(&mut ws, update).await;
    next_of_type(&mut ws, "updates").await;
    let ran = api
        .execute(&session.id, KEY, json!({"stdin": "ZQXERASEME-stdin\n"}))
        .await;
    assert_eq!(ran["stdout"], "ZQXERASEME-out ZQXERASEME-stdin\n", "{ran}");
    let notes = api
        .http
        .put(api.url(&format!("/sessions/{}/notes", session.id)))
        .bearer_auth(KEY)
        .json(&json!({"text": "ZQXERASEME-notes"}))
        .send()
        .await
        .expect("PUT notes");
    assert_eq!(notes.status(), 200);
    let path = format!("/sessions/{}/tests", session.id);
    let report = expect_json(api.post(&path, Some(KEY), &json!({})).await, 200).await;
    assert!(report.to_string().contains("ZQXERASEME-out"), "{report}");
    // Reading the history waits until every event recorded so far is stored.
    expect_json(
        api.get(&format!("{}/history", session.path()), Some(KEY))
            .await,
        200,
    )
    .await;
    (session, ws)
}

/// The session is a tombstone: GET shows it, its content answers 410, its feed holds only
/// `session.erased` (answered), carrying none of the content.
async fn check_tombstone(server: &TestServer, session: &Session, reason: &str) -> Value {
    let api = server.api();
    for token in [KEY, &session.candidate, &session.interviewer] {
        let got = api.get_session(&session.id, token).await;
        assert!(got["erased_at"].is_string(), "{got}");
        assert_eq!(
            (&got["label"], &got["status"]),
            (&Value::Null, &json!("stopped"))
        );
    }
    for path in ["history", "notes", "tests"] {
        let path = format!("{}/{path}", session.path());
        check_error(api.get(&path, Some(KEY)).await, 410, "SESSION_ERASED").await;
    }
    let feed = expect_json(
        api.get(&format!("{}/events", session.path()), Some(KEY))
            .await,
        200,
    )
    .await;
    let events = feed["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{feed}");
    let erased = &events[0];
    assert_eq!(erased["type"], "session.erased");
    assert_eq!(
        erased["data"],
        json!({"reason": reason, "status": "stopped", "ended_reason": "stopped"})
    );
    assert!(!feed.to_string().contains(MARKER));
    erased.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_erased_leaves_no_marker_in_the_store() {
    let (server, hooks) = server(|_| {}).await;
    let api = server.api();
    let (session, mut ws) = marked_session(&server).await;
    for place in [
        "code", "file", "edit", "out", "stdin", "notes", "label", "name",
    ] {
        let marker = format!("{MARKER}-{place}");
        assert!(
            in_store(&server, &marker).await,
            "{marker} is not in the store before"
        );
    }

    let erase = format!("{}?erase=true", session.path());
    let refused = api.delete(&erase, Some(&session.interviewer)).await;
    check_error(refused, 403, "FORBIDDEN").await;
    let bad = api
        .delete(&format!("{}?erase=yes", session.path()), Some(KEY))
        .await;
    check_error(bad, 400, "INVALID_ARGUMENT").await;
    let erased = expect_json(api.delete(&erase, Some(KEY)).await, 200).await;
    assert_eq!(erased["status"], "stopped", "{erased}");
    // The socket heard the end as any ended session's does, then closes.
    next_of_type(&mut ws, "session_ended").await;
    drop(ws);

    let event = check_tombstone(&server, &session, "request").await;
    let delivered = hooks.erased(&session.id).await;
    assert_eq!(delivered["id"], event["id"]);
    assert!(!delivered.to_string().contains(MARKER), "{delivered}");
    let again = expect_json(api.delete(&erase, Some(KEY)).await, 200).await;
    assert_eq!(again["erased_at"], erased["erased_at"], "erased once");

    // The socket's leaving, recorded as it closed, is not stored after the erasure.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !in_store(&server, MARKER).await,
        "the marker is still in the store"
    );
    let later = hooks.of(&session.id);
    let last = later.last().expect("deliveries");
    assert_eq!(
        last["type"], "session.erased",
        "nothing is delivered after it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_is_erased_on_request() {
    let (server, hooks) = server(|_| {}).await;
    let api = server.api();
    let ended = create(&server, json!({"environment": "python", "code": CODE})).await;
    api.wait_status(&ended.id, KEY, "ready").await;
    api.execute(&ended.id, KEY, json!({"stdin": "x\n"})).await;
    let stopped = expect_json(api.delete(&ended.path(), Some(KEY)).await, 200).await;
    assert!(
        stopped.get("erased_at").is_none(),
        "a plain DELETE keeps: {stopped}"
    );
    let erase = format!("{}?erase=true", ended.path());
    let erased = expect_json(api.delete(&erase, Some(KEY)).await, 200).await;
    assert!(erased["erased_at"].is_string(), "{erased}");
    check_tombstone(&server, &ended, "request").await;
    hooks.erased(&ended.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_sweep_erases_an_ended_session_and_never_a_live_one() {
    let (server, hooks) = server(|c| c.sessions.retention_days = 1.0 / 86_400.0).await;
    let api = server.api();
    let live = create(
        &server,
        json!({"environment": "python", "code": "print(1)\n"}),
    )
    .await;
    let (session, ws) = marked_session(&server).await;
    drop(ws);
    expect_json(api.delete(&session.path(), Some(KEY)).await, 200).await;
    let deadline = Instant::now() + DEFAULT_WAIT;
    while api.get_session(&session.id, KEY).await["erased_at"].is_null() {
        assert!(Instant::now() < deadline, "not swept past its retention");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check_tombstone(&server, &session, "retention").await;
    assert_eq!(
        hooks.erased(&session.id).await["data"]["reason"],
        "retention"
    );
    assert!(
        !in_store(&server, MARKER).await,
        "the marker is still in the store"
    );
    // Idle past the retention, the live session keeps its content: only ended ones go.
    let got = api.get_session(&live.id, KEY).await;
    assert!(got.get("erased_at").is_none(), "{got}");
    expect_json(
        api.get(&format!("{}/history", live.path()), Some(KEY))
            .await,
        200,
    )
    .await;
}

/// In a cluster (two replicas on PostgreSQL): a live session is erased through the replica
/// that does not own it (the request goes to its owner, which ends it through its lease), and
/// an ended one that both replicas' sweeps find is erased once, with one `session.erased`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_a_live_session_is_erased_through_either_replica_and_swept_once() {
    let (url, hooks) = receiver().await;
    let env = [
        ("LIVECODE_API_KEY", KEY),
        ("LIVECODE_WEBHOOKS__URL", url.as_str()),
        ("LIVECODE_WEBHOOKS__SECRET", "a secret"),
        ("LIVECODE_SESSIONS__REAP_INTERVAL_SECONDS", "0.1"),
        // A second: `live` is erased through a request, or by a sweep as soon as it ended.
        ("LIVECODE_SESSIONS__RETENTION_DAYS", "0.0000116"),
    ];
    let cluster = TestCluster::start(2, &env).await;
    let body = json!({"environment": "python", "code": CODE});
    let live = Session::from(
        cluster
            .replica(0)
            .api()
            .create_session_as(Some(KEY), body)
            .await,
    );
    let owner = cluster.owner_of(&live.id).await.expect("an owner");
    let other = cluster.replica(1 - owner).api();
    other.wait_status(&live.id, KEY, "ready").await;
    let erase = format!("{}?erase=true", live.path());
    let erased = expect_json(other.delete(&erase, Some(KEY)).await, 200).await;
    assert!(
        erased["erased_at"].is_string(),
        "{erased}\n{}",
        cluster.logs()
    );
    for i in 0..2 {
        let got = cluster.replica(i).api().get_session(&live.id, KEY).await;
        assert_eq!(got["erased_at"], erased["erased_at"], "{got}");
    }
    hooks.erased(&live.id).await;

    // Ended, it is due on both replicas at once: erased once, told once.
    let body = json!({"environment": "python", "code": CODE});
    let ended = Session::from(
        cluster
            .replica(0)
            .api()
            .create_session_as(Some(KEY), body)
            .await,
    );
    let api = cluster.replica(0).api();
    api.wait_status(&ended.id, KEY, "ready").await;
    api.execute(&ended.id, KEY, json!({"stdin": "x\n"})).await;
    expect_json(api.delete(&ended.path(), Some(KEY)).await, 200).await;
    hooks.erased(&ended.id).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for session in [&live, &ended] {
        let told = hooks.of(&session.id);
        let erasures = told
            .iter()
            .filter(|e| e["type"] == "session.erased")
            .count();
        assert_eq!(erasures, 1, "{told:?}");
        let feed = format!("{}/events", session.path());
        let feed = expect_json(api.get(&feed, Some(KEY)).await, 200).await;
        assert_eq!(feed["events"].as_array().map(Vec::len), Some(1), "{feed}");
    }
    let db = StoreDb::open(std::path::Path::new(""), &cluster.database).await;
    assert!(
        !in_rows(&db, MARKER).await,
        "the marker is still in the store"
    );
}
