//! The lobby and the clock: a session made with `lobby` waits while the interviewer prepares
//! it (types, runs, runs the tests, switches the language, writes notes); the candidate's
//! socket gets `lobby` and, frame by frame, nothing of the code, files, question, runs or
//! notes, and the candidate's REST calls and messages are refused, until Start (socket or
//! REST) gives them everything. The clock starts at Start, is stored, and the interviewer can
//! hide it from the candidate.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

const KEY: &str = "lobby-test-key-0123456789abcdef";

/// What the candidate's socket must never carry before Start; every string the interviewer
/// prepares in the lobby has it.
const MARK: &str = "LOBBYMARK";

/// Opens a socket whose first message must be `lobby`.
async fn open_lobby(server: &TestServer, id: &str, token: &str) -> (WsStream, Value) {
    let url = server.ws_url(id, &format!("?token={token}"));
    let (mut ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("upgrade");
    let first = next_json(&mut ws).await;
    assert_eq!(first["type"], "lobby", "{first}");
    (ws, first)
}

/// Every frame the candidate got until its next `pong`: none may carry the mark, and only
/// the lobby's kinds of message may come.
async fn candidate_heard_nothing(cand: &mut WsStream) {
    send(cand, msg::ping()).await;
    let frames = frames_until(cand, "pong", Duration::from_secs(10)).await;
    for (_, frame) in &frames {
        assert!(
            !frame.to_string().contains(MARK),
            "the lobby leaked to the candidate: {frame}"
        );
        let kind = frame["type"].as_str().unwrap_or("");
        assert!(
            ["presence", "pong", "error", "expiry"].contains(&kind),
            "a candidate in the lobby got a {kind}: {frame}"
        );
    }
}

/// An update of `doc` at `version` that puts `text` before it (a CodeMirror change set).
pub fn prepend(doc: &str, version: u64, text: &str) -> Value {
    let mut insert = vec![json!(0)];
    insert.extend(text.split('\n').map(|l| json!(l)));
    let len = doc.encode_utf16().count();
    let changes = if len == 0 {
        json!([insert])
    } else {
        json!([insert, len])
    };
    json!({"type": "update", "version": version,
           "updates": [{"client_id": "t", "changes": changes}]})
}

async fn lobby_session(server: &TestServer) -> Session {
    let question = json!({
        "title": format!("Sum {MARK}"),
        "prompt": format!("Add them. {MARK}"),
        "cases": [{"name": format!("case {MARK}"), "stdin": "1 2\n", "expected": "3\n"}]
    });
    let created = expect_json(
        server.api().post("/questions", Some(KEY), &question).await,
        201,
    )
    .await;
    let body = json!({
        "environment": "python",
        "lobby": true,
        "code": format!("a, b = map(int, input().split())\nprint(a + b)  # {MARK}\n"),
        "files": {"data/notes.txt": MARK},
        "question": created["question_id"],
    });
    let created = server.api().create_session_as(Some(KEY), body).await;
    assert_eq!(created["interview"]["stage"], "waiting", "{created}");
    assert!(created["interview"]["started_at"].is_null(), "{created}");
    Session::from(created)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_candidate_sees_nothing_of_the_lobby_until_start() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let session = lobby_session(&server).await;
    let api = server.api();
    let (mut cand, lobby) = open_lobby(&server, &session.id, &session.candidate).await;
    assert!(!lobby.to_string().contains(MARK), "{lobby}");
    assert!(lobby.get("document").is_none(), "{lobby}");
    assert_eq!(lobby["session"]["interview"]["stage"], "waiting");

    // The interviewer prepares: types, runs, runs the tests, writes notes, switches.
    let (mut intv, welcome) = server.connect(&session.id, &session.interviewer, "").await;
    assert!(welcome["document"].as_str().unwrap_or("").contains(MARK));
    api.wait_status(&session.id, &session.interviewer, "ready")
        .await;
    let document = welcome["document"].as_str().expect("document");
    send(
        &mut intv,
        prepend(document, 0, &format!("# typed {MARK}\n")),
    )
    .await;
    next_of_type(&mut intv, "updates").await;
    let ran = run_code(&mut intv, "main.py", &format!("print('ran {MARK}')")).await;
    assert!(ran.stdout.contains(MARK), "{}", ran.describe());
    send(&mut intv, json!({"type": "run_tests"})).await;
    next_of_type(&mut intv, "tests_finished").await;
    send(&mut intv, json!({"type": "notes", "text": MARK})).await;
    next_of_type(&mut intv, "notes").await;
    candidate_heard_nothing(&mut cand).await;

    // The candidate may do nothing, on the socket or REST, and reads nothing.
    for message in [
        prepend("", 1, "x"),
        json!({"type": "pull", "version": 0}),
        json!({"type": "run"}),
        json!({"type": "run_tests"}),
        json!({"type": "start"}),
    ] {
        send(&mut cand, message).await;
        check_ws_error(&mut cand, "NOT_STARTED").await;
    }
    let path = session.path();
    for (resp, code) in [
        (
            api.get(&format!("{path}/question"), Some(&session.candidate))
                .await,
            "NOT_STARTED",
        ),
        (
            api.get(&format!("{path}/tests"), Some(&session.candidate))
                .await,
            "NOT_STARTED",
        ),
        (
            api.post(
                &format!("{path}/execute"),
                Some(&session.candidate),
                &json!({}),
            )
            .await,
            "NOT_STARTED",
        ),
    ] {
        check_error(resp, 409, code).await;
    }
    let seen = api.get_session(&session.id, &session.candidate).await;
    assert!(seen["last_execution"].is_null(), "{seen}");
    assert!(!seen.to_string().contains(MARK), "{seen}");
    check_error(
        api.post(
            &format!("{path}/start"),
            Some(&session.candidate),
            &json!({}),
        )
        .await,
        403,
        "FORBIDDEN",
    )
    .await;
    // A language switch in the lobby is not heard either.
    send(
        &mut intv,
        json!({"type": "switch_environment", "environment": "bash"}),
    )
    .await;
    next_of_type(&mut intv, "environment").await;
    let (mut intv, welcome) = server.connect(&session.id, &session.interviewer, "").await;
    let (document, version) = (
        welcome["document"].as_str().expect("doc"),
        welcome["version"].as_u64().expect("version"),
    );
    send(
        &mut intv,
        prepend(document, version, &format!("echo {MARK}\n")),
    )
    .await;
    next_of_type(&mut intv, "updates").await;
    candidate_heard_nothing(&mut cand).await;

    // Start: the candidate gets the interview, then a welcome with everything.
    let started = expect_json(
        api.post(
            &format!("{path}/start"),
            Some(&session.interviewer),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(started["stage"], "live", "{started}");
    let started_at = started["started_at"]
        .as_str()
        .expect("started_at")
        .to_string();
    // Out of the lobby, the socket's next message is a fresh welcome (as a reconnect's).
    let welcome = next_json(&mut cand).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(
        welcome["session"]["interview"]["started_at"],
        started_at.as_str()
    );
    assert!(welcome["document"].as_str().unwrap_or("").contains(MARK));
    assert_eq!(welcome["environment"]["name"], "bash");
    assert_eq!(welcome["session"]["interview"]["stage"], "live");
    assert!(welcome.get("notes").is_none(), "{welcome}");
    // The candidate works now, and the question reads.
    expect_json(
        api.get(&format!("{path}/question"), Some(&session.candidate))
            .await,
        200,
    )
    .await;
    let ran = run_code(&mut cand, "main.sh", "echo after-start").await;
    assert!(ran.stdout.contains("after-start"), "{}", ran.describe());
    check_error(
        api.post(&format!("{path}/start"), Some(KEY), &json!({}))
            .await,
        409,
        "INTERVIEW_STATE",
    )
    .await;
    let events = expect_json(api.get(&format!("{path}/events"), Some(KEY)).await, 200).await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(kinds.contains(&"session.started"), "{kinds:?}");
}

/// The clock starts at Start and is what the store keeps: the same on every reconnect. Hidden,
/// the candidate's frames and REST carry none of it; the interviewer's still do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_is_stored_and_can_be_hidden_from_the_candidate() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let created = server
        .api()
        .create_session_as(Some(KEY), json!({"environment": "python", "lobby": true}))
        .await;
    let session = Session::from(created);
    let api = server.api();
    let (mut cand, _) = open_lobby(&server, &session.id, &session.candidate).await;
    let mut intv = server.ws(&session.id, &session.interviewer).await;
    send(&mut intv, json!({"type": "start"})).await;
    let told = next_of_type(&mut intv, "interview").await;
    let started_at = told["interview"]["started_at"].clone();
    assert!(started_at.is_string(), "{told}");
    next_of_type(&mut cand, "welcome").await;
    // Reconnecting changes nothing: the clock is the stored start.
    let (_again, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(welcome["session"]["interview"]["started_at"], started_at);

    send(&mut cand, json!({"type": "clock", "hidden": true})).await;
    check_ws_error(&mut cand, "FORBIDDEN").await;
    send(&mut intv, json!({"type": "clock", "hidden": true})).await;
    let mine = next_of_type(&mut intv, "interview").await;
    assert_eq!(mine["interview"]["started_at"], started_at, "{mine}");
    let theirs = next_of_type(&mut cand, "interview").await;
    assert_eq!(theirs["interview"]["clock_hidden"], true, "{theirs}");
    assert!(theirs["interview"]["started_at"].is_null(), "{theirs}");
    send(&mut cand, msg::ping()).await;
    for (_, frame) in frames_until(&mut cand, "pong", Duration::from_secs(10)).await {
        let text = frame.to_string();
        assert!(
            !text.contains(started_at.as_str().expect("time")),
            "the candidate got the hidden clock: {text}"
        );
    }
    let (_late, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert!(welcome["session"]["interview"]["started_at"].is_null());
    let seen = api.get_session(&session.id, &session.candidate).await;
    assert!(seen["interview"]["started_at"].is_null(), "{seen}");
    let seen = api.get_session(&session.id, &session.interviewer).await;
    assert_eq!(seen["interview"]["started_at"], started_at, "{seen}");
    // Shown again over REST.
    let shown = expect_json(
        server
            .api()
            .put_json(
                &format!("{}/clock", session.path()),
                Some(&session.interviewer),
                &json!({"hidden": false}),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(shown["clock_hidden"], false);
    let theirs = next_of_type(&mut cand, "interview").await;
    assert_eq!(theirs["interview"]["started_at"], started_at, "{theirs}");
}

/// A session without a lobby started when it was made, and Start has nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_lobby_the_clock_starts_at_creation() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let created = server
        .api()
        .create_session_as(Some(KEY), json!({"environment": "python"}))
        .await;
    assert_eq!(created["interview"]["stage"], "live", "{created}");
    assert_eq!(created["interview"]["mode"], "live");
    assert!(created["interview"]["started_at"].is_string());
    let session = Session::from(created);
    check_error(
        server
            .api()
            .post(&format!("{}/start", session.path()), Some(KEY), &json!({}))
            .await,
        409,
        "INTERVIEW_STATE",
    )
    .await;
}
