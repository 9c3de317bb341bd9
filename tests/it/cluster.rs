//! Cluster mode against the real thing, on loopback: replicas of the binary on one
//! PostgreSQL database (`scripts/test-postgres.sh`), the real nginx in front with
//! `deploy/nginx.conf`, each replica a cell with its own instance label. Owners are killed
//! (SIGKILL), stopped (SIGSTOP) and drained (SIGTERM) while participants type and runs stream.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::support::*;

/// A program that streams slowly, with a last comment line the typing grows.
const STREAMER: &str =
    "import time\nfor i in range(400):\n    print(i, flush=True)\n    time.sleep(0.05)\n# ";

/// How long a failover may take in these tests (the target is 15 s at p95).
const FAILOVER_WAIT: Duration = Duration::from_secs(30);

fn utf16_len(text: &str) -> u64 {
    text.encode_utf16().count() as u64
}

/// An update appending `text` to a document of `doc` at `version`.
fn append(version: u64, client: &str, doc: &str, text: &str) -> Value {
    json!({"type": "update", "version": version,
           "updates": [{"client_id": client, "changes": [utf16_len(doc), [0, text]]}]})
}

/// Opens a socket through `server`, retrying while the session moves between replicas.
async fn reconnect(
    server: &impl Server,
    session: &Session,
    token: &str,
    cluster: &TestCluster,
) -> (WsStream, Value) {
    let deadline = Instant::now() + FAILOVER_WAIT;
    loop {
        let url = server.ws_url(&session.id, &format!("?token={token}"));
        match open_socket(&url).await {
            Ok(open) => return open,
            Err(err) => assert!(
                Instant::now() < deadline,
                "no socket on session {} within {FAILOVER_WAIT:?}: {err}\n{}",
                session.id,
                cluster.logs()
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for this socket to end (its server died or let the session go).
async fn closed(ws: &mut WsStream, wait: Duration) -> bool {
    tokio::time::timeout(wait, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Waits for the echo of the update this socket sent on `version` (the other's come first).
async fn own_echo(ws: &mut WsStream, version: u64) -> Value {
    loop {
        let got = next_of_type(ws, "updates").await;
        if got["version"] == version {
            return got;
        }
    }
}

/// Types `tokens` turn by turn from two sockets, each waiting for its own echo: answers the
/// document and version after them.
async fn type_in_turns(
    sockets: [&mut WsStream; 2],
    (mut doc, mut version): (String, u64),
    tokens: &[String],
) -> (String, u64) {
    let [a, b] = sockets;
    for (k, token) in tokens.iter().enumerate() {
        let ws = if k % 2 == 0 { &mut *a } else { &mut *b };
        send(ws, append(version, &format!("c{}", k % 2), &doc, token)).await;
        let echo = own_echo(ws, version).await;
        assert_eq!(
            echo["updates"][0]["client_id"],
            format!("c{}", k % 2),
            "{echo}"
        );
        doc.push_str(token);
        version += 1;
    }
    (doc, version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_spread_over_replicas_and_any_replica_serves_one_live() {
    let cluster = TestCluster::start(3, &[]).await;
    let front = cluster.front();
    let mut owners = std::collections::BTreeSet::new();
    let mut sessions = Vec::new();
    for _ in 0..9 {
        let session = front.python("print('hello from a cell')\n").await;
        owners.insert(cluster.owner_of(&session.id).await.expect("an owner"));
        sessions.push(session);
    }
    assert!(
        owners.len() >= 2,
        "every session landed on one replica: {owners:?}"
    );

    // One session, its two participants on the two replicas that do not own it.
    let session = &sessions[0];
    let owner = cluster.owner_of(&session.id).await.unwrap();
    let (x, y) = ((owner + 1) % 3, (owner + 2) % 3);
    let (mut cand, welcome) = cluster
        .replica(x)
        .connect(&session.id, &session.candidate, "&name=Cand")
        .await;
    let (mut intv, _) = cluster
        .replica(y)
        .connect(&session.id, &session.interviewer, "&name=Intv")
        .await;
    let doc = welcome["document"].as_str().unwrap().to_string();

    // An edit through one is seen through the other.
    send(&mut cand, append(0, "cand", &doc, "# typed\n")).await;
    let seen = next_of_type(&mut intv, "updates").await;
    assert_eq!(seen["updates"][0]["client_id"], "cand", "{seen}");
    // So is a cursor.
    send(
        &mut cand,
        json!({"type": "cursor", "anchor": 1, "head": 2, "version": 1}),
    )
    .await;
    let cursor = next_of_type(&mut intv, "cursor").await;
    assert_eq!(cursor["head"], 2, "{cursor}");
    // And a run's output, streamed to both.
    let run = run_message(&mut cand, msg::run_document()).await;
    run.assert_completed(0);
    assert_eq!(run.stdout, "hello from a cell\n", "{}", cluster.logs());
    assert_eq!(
        stdout_until(&mut intv, "hello from a cell")
            .await
            .trim_end(),
        "hello from a cell"
    );

    // REST through a non-owner answers as the owner does.
    let got = cluster
        .replica(x)
        .api()
        .get_session(&session.id, &session.interviewer)
        .await;
    assert_eq!(got["status"], "ready", "{got}");
    // Health shows the replica and what it owns (its peers are the API key's: see below).
    let health = expect_json(cluster.replica(owner).api().get("/health", None).await, 200).await;
    assert!(
        health["cluster"]["sessions"].as_u64().unwrap() >= 1,
        "{health}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_shows_the_replica_its_peers_and_its_sessions_and_addresses_to_the_key_only() {
    const KEY: &str = "cluster-health-key-0123456789abcdef";
    let cluster = TestCluster::start(2, &[("LIVECODE_API_KEY", KEY)]).await;
    for _ in 0..2 {
        cluster
            .replica(0)
            .api()
            .create_session_as(Some(KEY), json!({"environment": "python"}))
            .await;
    }
    let health = expect_json(
        cluster.replica(0).api().get("/health", Some(KEY)).await,
        200,
    )
    .await;
    let c = &health["cluster"];
    assert_eq!(c["sessions"], 2, "{health}");
    assert_eq!(c["draining"], false, "{health}");
    assert_eq!(
        c["url"],
        format!("http://127.0.0.1:{}", cluster.replica(0).port),
        "{health}"
    );
    let peers = c["peers"].as_array().expect("peers");
    assert_eq!(peers.len(), 2, "{health}");
    let me = peers
        .iter()
        .find(|p| p["id"] == c["replica"])
        .expect("itself among its peers");
    assert_eq!(
        (me["alive"].as_bool(), me["sessions"].as_u64()),
        (Some(true), Some(2)),
        "{health}"
    );
    // Anyone else sees that it is a replica, and no internal address.
    let open = expect_json(cluster.replica(0).api().get("/health", None).await, 200).await;
    assert_eq!(open["cluster"]["url"], "", "{open}");
    assert_eq!(open["cluster"]["peers"], json!([]), "{open}");
    assert!(!open.to_string().contains("127.0.0.1"), "{open}");
}

/// One failover: the owner of a session where two participants type and a run streams is
/// killed; every echoed edit survives, the cut run reports `error` with a notice, and the
/// next run works. Answers how long the sockets took to be `ready` again.
async fn one_failover(cluster: &mut TestCluster, trial: usize) -> Duration {
    let front_session = cluster
        .front()
        .session(json!({
            "environment": "python", "code": STREAMER,
            "files": {"helper.py": "WORD = 'intact'\n"},
        }))
        .await;
    let session = &front_session;
    let owner = cluster.owner_of(&session.id).await.expect("an owner");
    let (mut cand, welcome) = cluster
        .front()
        .connect(&session.id, &session.candidate, "")
        .await;
    let (mut intv, _) = cluster
        .front()
        .connect(&session.id, &session.interviewer, "")
        .await;
    let start = (
        welcome["document"].as_str().unwrap().to_string(),
        welcome["version"].as_u64().unwrap(),
    );

    send(&mut cand, msg::run_document()).await;
    stdout_until(&mut cand, "3\n").await;
    let tokens: Vec<String> = (0..6).map(|k| format!("t{trial}-{k};")).collect();
    let (doc, version) = type_in_turns([&mut cand, &mut intv], start, &tokens).await;
    // One more, sent as the owner dies: it may be kept or lost, never half-kept.
    send(&mut cand, append(version, "c0", &doc, "maybe;")).await;
    cluster.replica_mut(owner).kill();
    let killed = Instant::now();
    assert!(
        closed(&mut cand, FAILOVER_WAIT).await,
        "the candidate's socket stayed open"
    );

    let (mut cand, welcome) =
        reconnect(cluster.front(), session, &session.candidate, cluster).await;
    let (_intv, _) = reconnect(cluster.front(), session, &session.interviewer, cluster).await;
    let ready = killed.elapsed();
    let now_doc = welcome["document"].as_str().unwrap();
    assert!(
        now_doc.starts_with(&doc),
        "trial {trial}: an echoed edit was lost: had {doc:?}, now {now_doc:?}\n{}",
        cluster.logs()
    );
    let new_owner = cluster.owner_of(&session.id).await.expect("a new owner");
    assert_ne!(new_owner, owner);

    // The cut run is `error`, with a notice, never `completed`.
    let got = cluster
        .front()
        .api()
        .get(
            &format!("{}/history", session.path()),
            Some(&session.interviewer),
        )
        .await;
    assert_eq!(
        got.status(),
        200,
        "trial {trial}: history\n{}",
        cluster.logs()
    );
    let history: Value = got.json().await.expect("history");
    let runs = history["runs"].as_array().expect("runs");
    let cut = runs.first().expect("the cut run");
    assert_eq!(cut["status"], "error", "trial {trial}: {cut}");
    assert!(
        cut["stderr"]
            .as_str()
            .unwrap_or("")
            .contains("another took the session over"),
        "{cut}"
    );

    // The next run works, with the files as they were.
    let run = run_code(&mut cand, "main.py", "import helper\nprint(helper.WORD)\n").await;
    assert_eq!(
        run.stdout,
        "intact\n",
        "trial {trial}: {}\n{}",
        run.describe(),
        cluster.logs()
    );
    cluster.restart(owner).await;
    ready
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_owner_loses_no_echoed_edit_over_twenty_failovers() {
    let mut cluster = TestCluster::start(3, &[]).await;
    let mut times = Vec::new();
    for trial in 0..20 {
        times.push(one_failover(&mut cluster, trial).await);
    }
    times.sort();
    eprintln!(
        "failover to ready: p50 {:?}, max {:?}",
        times[times.len() / 2],
        times.last().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_owner_that_wakes_up_writes_nothing_more() {
    let cluster = TestCluster::start(2, &[]).await;
    let session = cluster.replica(0).python("print('split')\n# ").await;
    assert_eq!(cluster.owner_of(&session.id).await, Some(0));
    let (mut old, welcome) = cluster
        .replica(0)
        .connect(&session.id, &session.candidate, "")
        .await;
    let doc = welcome["document"].as_str().unwrap().to_string();
    let pid = cluster.replica(0).pid;

    signal(pid, "STOP");
    let (mut new, _) = reconnect(cluster.replica(1), &session, &session.candidate, &cluster).await;
    assert_eq!(cluster.owner_of(&session.id).await, Some(1));
    let epoch = cluster.epoch_of(&session.id).await;
    send(&mut new, append(0, "new", &doc, "kept;")).await;
    next_of_type(&mut new, "updates").await;
    // Sent to the old owner while it sleeps; it reads it when it wakes.
    send(&mut old, append(0, "old", &doc, "stale;")).await;
    signal(pid, "CONT");

    assert!(
        closed(&mut old, Duration::from_secs(10)).await,
        "the old owner kept its socket\n{}",
        cluster.logs()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = cluster
        .replica(1)
        .api()
        .get(
            &format!("{}/history", session.path()),
            Some(&session.interviewer),
        )
        .await;
    let history = expect_json(got, 200).await;
    let updates = history["updates"].as_array().expect("updates");
    assert_eq!(
        updates.len(),
        1,
        "the old owner wrote after it lost the lease: {history}"
    );
    assert_eq!(updates[0]["client_id"], "new", "{history}");
    assert_eq!(cluster.owner_of(&session.id).await, Some(1));
    assert_eq!(
        cluster.epoch_of(&session.id).await,
        epoch,
        "the lease moved again"
    );
    let log = std::fs::read_to_string(cluster.homes[0].log()).expect("the old owner's log");
    assert!(log.contains("lost the session's lease"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_host_s_sessions_come_back_on_another_engine_with_their_files() {
    let mut cluster = TestCluster::start(2, &[]).await;
    let session = cluster
        .replica(0)
        .session(json!({
            "environment": "python", "code": "import helper\nprint(helper.WORD)\n",
            "files": {"helper.py": "WORD = 'restored'\n"},
        }))
        .await;
    cluster
        .replica(0)
        .api()
        .wait_status(&session.id, &session.candidate, "ready")
        .await;
    let instance = cluster.homes[0].instance().to_string();
    cluster.replica_mut(0).kill();
    // What a dead host leaves: nothing of its engine.
    for id in docker_ps(&[&format!("label=livecode.instance={instance}")], true) {
        docker_output(&["rm", "-f", &id]);
    }
    let (mut ws, welcome) =
        reconnect(cluster.front(), &session, &session.candidate, &cluster).await;
    let helper = welcome["files"]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["name"] == "helper.py"))
        .unwrap_or_else(|| panic!("no helper.py: {welcome}"));
    assert_eq!(helper["document"], "WORD = 'restored'\n", "{welcome}");
    let run = run_message(&mut ws, msg::run_document()).await;
    assert_eq!(
        run.stdout,
        "restored\n",
        "{}\n{}",
        run.describe(),
        cluster.logs()
    );
    assert_eq!(cluster.owner_of(&session.id).await, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_replica_cuts_no_run_and_the_others_serve_its_sessions() {
    let mut cluster = TestCluster::start(3, &[]).await;
    let session = cluster
        .replica(0)
        .python("import time\ntime.sleep(2)\nprint('finished')\n")
        .await;
    let other = cluster.replica(0).python("print('other')\n").await;
    let (mut ws, _) = cluster
        .front()
        .connect(&session.id, &session.candidate, "")
        .await;
    send(&mut ws, msg::run_document()).await;
    next_of_type(&mut ws, "run_started").await;
    let pid = cluster.replica(0).pid;
    signal(pid, "TERM");
    // The run in flight finishes on the drained replica before it lets the session go.
    let run = collect_run(&mut ws).await;
    run.assert_completed(0);
    assert_eq!(run.stdout, "finished\n");
    assert!(
        cluster
            .replica_mut(0)
            .wait_exit(Duration::from_secs(40))
            .await,
        "the drained replica did not exit 0\n{}",
        cluster.logs()
    );
    for s in [&session, &other] {
        let (mut ws, _) = reconnect(cluster.front(), s, &s.candidate, &cluster).await;
        let run = run_message(&mut ws, msg::run_document()).await;
        assert_eq!(run.status(), "completed", "{}", run.describe());
        assert!(matches!(cluster.owner_of(&s.id).await, Some(1 | 2)));
    }
    let history = cluster.front().api().history(&session).await;
    for run in history["runs"].as_array().unwrap() {
        assert_eq!(
            run["status"], "completed",
            "a run was cut by the drain: {run}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_count_a_callers_sessions_over_every_replica() {
    let cluster = TestCluster::start(
        3,
        &[
            ("LIVECODE_QUOTAS__MAX_LIVE_SESSIONS_PER_IP", "2"),
            ("LIVECODE_QUOTAS__SESSIONS_PER_MINUTE", "3"),
        ],
    )
    .await;
    let body = json!({"environment": "python"});
    let create = |i: usize| {
        let (server, body) = (cluster.replica(i), body.clone());
        async move { server.api().post("/sessions", None, &body).await }
    };
    let a: Session = expect_json(create(0).await, 201).await.into();
    let b: Session = expect_json(create(1).await, 201).await.into();
    // Two live on two replicas: the third replica refuses a third.
    let refused = check_error(create(2).await, 429, "RATE_LIMITED").await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("live sessions"),
        "{refused}"
    );
    // One ends on its replica; the third replica counts it gone.
    expect_json(
        cluster
            .replica(0)
            .api()
            .delete(&a.path(), Some(&a.interviewer))
            .await,
        200,
    )
    .await;
    let c: Session = expect_json(create(2).await, 201).await.into();
    // Three made in this minute, on three replicas: a fourth is over the rate anywhere.
    for s in [&b, &c] {
        cluster
            .replica(1)
            .api()
            .delete(&s.path(), Some(&s.interviewer))
            .await;
    }
    let refused = check_error(create(0).await, 429, "RATE_LIMITED").await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a minute"),
        "{refused}"
    );
}

#[derive(Clone, Default)]
struct Hook {
    /// Deliveries answered 2xx: (delivery id, event type).
    taken: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    refusing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// A webhook receiver that takes every delivery, or refuses them all (500) while told to.
async fn hook() -> (String, Hook) {
    let hook = Hook::default();
    let state = hook.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let state = state.clone();
            async move {
                if state.refusing.load(std::sync::atomic::Ordering::SeqCst) {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                let field = |name: &str| headers[name].to_str().unwrap().to_string();
                state
                    .taken
                    .lock()
                    .unwrap()
                    .push((field("x-livecode-delivery"), field("x-livecode-event")));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hook)
}

impl Hook {
    fn taken(&self) -> Vec<(String, String)> {
        self.taken.lock().unwrap().clone()
    }

    async fn wait_for(&self, kind: &str, n: usize) {
        let ok = wait_until(Duration::from_secs(30), || {
            self.taken().iter().filter(|(_, k)| k == kind).count() >= n
        })
        .await;
        assert!(ok, "{n} × {kind} never delivered: {:?}", self.taken());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_outbox_delivers_each_event_once_in_order_across_a_takeover() {
    let (url, hook) = hook().await;
    let env = [
        ("LIVECODE_WEBHOOKS__URL", url.as_str()),
        ("LIVECODE_WEBHOOKS__SECRET", "a webhook secret"),
        ("LIVECODE_WEBHOOKS__MAX_ATTEMPTS", "20"),
    ];
    let mut cluster = TestCluster::start(2, &env).await;
    let session = cluster.replica(0).python("print('hooked')\n").await;
    let mut ws = cluster.replica(0).ws(&session.id, &session.candidate).await;
    run_message(&mut ws, msg::run_document())
        .await
        .assert_completed(0);
    hook.wait_for("run.finished", 1).await;

    // The receiver is down while the owner records the next run's end, and the owner dies
    // before it could deliver it.
    hook.refusing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    run_message(&mut ws, msg::run_document())
        .await
        .assert_completed(0);
    cluster.replica_mut(0).kill();
    hook.refusing
        .store(false, std::sync::atomic::Ordering::SeqCst);

    // The new owner delivers it, then what the session does from then on.
    let (mut ws, _) = reconnect(cluster.replica(1), &session, &session.candidate, &cluster).await;
    run_message(&mut ws, msg::run_document())
        .await
        .assert_completed(0);
    expect_json(
        cluster
            .replica(1)
            .api()
            .delete(&session.path(), Some(&session.interviewer))
            .await,
        200,
    )
    .await;
    hook.wait_for("session.ended", 1).await;

    let lifecycle =
        |kind: &str| matches!(kind, "session.created" | "run.finished" | "session.ended");
    let delivered: Vec<(String, String)> = hook
        .taken()
        .into_iter()
        .filter(|(_, k)| lifecycle(k))
        .collect();
    let got = cluster
        .replica(1)
        .api()
        .get(
            &format!("{}/events", session.path()),
            Some(&session.interviewer),
        )
        .await;
    let events = expect_json(got, 200).await;
    let recorded: Vec<(String, String)> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| lifecycle(e["type"].as_str().unwrap()))
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        recorded.iter().filter(|(_, k)| k == "run.finished").count(),
        3,
        "{events}"
    );
    assert_eq!(
        delivered,
        recorded,
        "every lifecycle event once, in the order recorded\n{}",
        cluster.logs()
    );
}
