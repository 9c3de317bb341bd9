//! Take-home mode: the clock starts at the candidate's first open (not at creation), the
//! server submits at the limit with nobody connected (read-only after: edits and runs refused,
//! the final code kept, the question's tests run once more and their report stored,
//! `session.submitted` in the trail); the candidate's Submit does the same; the container goes
//! while the candidate is away and comes back, with the code, at their next visit.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::lobby::prepend;
use crate::support::*;

const KEY: &str = "take-home-test-key-0123456789abcdef";

async fn server() -> TestServer {
    TestServer::start(|c| {
        c.api_key = KEY.into();
        c.sessions.reap_interval_seconds = 0.2;
        c.take_home.release_after_seconds = 1.0;
    })
    .await
}

/// A take-home on a question with one case, `minutes` long, whose link works for an hour.
async fn take_home(server: &TestServer, minutes: f64) -> (Session, Value) {
    let question = json!({
        "title": "Sum",
        "prompt": "Add two numbers.",
        "cases": [{"name": "small", "stdin": "1 2\n", "expected": "3\n"}]
    });
    let question = expect_json(
        server.api().post("/questions", Some(KEY), &question).await,
        201,
    )
    .await;
    let body = json!({
        "environment": "python",
        "mode": "take_home",
        "time_limit_minutes": minutes,
        "expires_at": Utc::now() + chrono::Duration::hours(1),
        "code": "a, b = map(int, input().split())\nprint(a + b)\n",
        "question": question["question_id"],
    });
    let created = server.api().create_session_as(Some(KEY), body).await;
    (Session::from(created.clone()), created)
}

async fn events(server: &TestServer, session: &Session) -> Vec<Value> {
    let path = format!("{}/events", session.path());
    let listed = expect_json(server.api().get(&path, Some(KEY)).await, 200).await;
    listed["events"].as_array().expect("events").clone()
}

/// Polls the session (as the API key) until `done` says so.
async fn wait_for(
    server: &TestServer,
    session: &Session,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = server.api().get_session(&session.id, KEY).await;
        if done(&seen) {
            return seen;
        }
        assert!(Instant::now() < deadline, "{what}: {seen}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("a time: {v}"))
        .to_utc()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_home_starts_at_the_first_open_and_submits_at_its_limit_with_nobody_there() {
    let server = server().await;
    let (session, created) = take_home(&server, 0.1).await;
    assert_eq!(created["interview"]["mode"], "take_home", "{created}");
    assert_eq!(created["interview"]["stage"], "waiting");
    assert!(created["interview"]["started_at"].is_null());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let opened_at = Utc::now();
    let (mut cand, welcome) = server.connect(&session.id, &session.candidate, "").await;
    let document = welcome["document"].as_str().expect("document").to_string();
    let interview = &welcome["session"]["interview"];
    assert_eq!(interview["stage"], "live", "{welcome}");
    let started = time(&interview["started_at"]);
    assert!(
        started >= opened_at - chrono::Duration::milliseconds(50),
        "{interview}"
    );
    assert_eq!(
        time(&interview["submit_at"]) - started,
        chrono::Duration::seconds(6)
    );
    // The final code, then the candidate leaves.
    send(&mut cand, prepend(&document, 0, "# FINAL-CODE\n")).await;
    next_of_type(&mut cand, "updates").await;
    drop(cand);

    let submitted = wait_for(&server, &session, "submitted at the limit", |s| {
        s["interview"]["stage"] == "submitted"
    })
    .await;
    let at = time(&submitted["interview"]["submitted_at"]);
    assert!(at >= started + chrono::Duration::seconds(6), "{submitted}");
    // The tests ran once more, on the final code, and their report is stored.
    let deadline = Instant::now() + Duration::from_secs(60);
    let submitted_event = loop {
        let found = events(&server, &session)
            .await
            .into_iter()
            .find(|e| e["type"] == "session.submitted");
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "no session.submitted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(submitted_event["data"]["by"], "limit", "{submitted_event}");
    assert_eq!(submitted_event["data"]["tests"][0]["passed"], 1);
    let tests = expect_json(
        server
            .api()
            .get(&format!("{}/tests", session.path()), Some(KEY))
            .await,
        200,
    )
    .await;
    assert_eq!(tests["total"], 1, "{tests}");
    assert_eq!(tests["tests"][0]["passed"], 1, "{tests}");

    // Back: read-only, with the code as handed in.
    let (mut cand, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert!(welcome["document"]
        .as_str()
        .unwrap_or("")
        .starts_with("# FINAL-CODE"));
    assert_eq!(welcome["session"]["interview"]["stage"], "submitted");
    for message in [
        prepend("", 1, "x"),
        json!({"type": "run"}),
        json!({"type": "run_tests"}),
        json!({"type": "submit"}),
    ] {
        send(&mut cand, message).await;
        check_ws_error(&mut cand, "SUBMITTED").await;
    }
    check_error(
        server
            .api()
            .post(
                &format!("{}/execute", session.path()),
                Some(&session.candidate),
                &json!({}),
            )
            .await,
        409,
        "SUBMITTED",
    )
    .await;
    // Reviewable: the history replays to the final code.
    let history = server.api().history(&session).await;
    assert!(!history["updates"].as_array().expect("updates").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_container_goes_while_the_candidate_is_away_and_the_candidate_submits() {
    let server = server().await;
    let (session, _) = take_home(&server, 30.0).await;
    let api = server.api();
    let (mut cand, welcome) = server.connect(&session.id, &session.candidate, "").await;
    let document = welcome["document"].as_str().expect("document").to_string();
    let ready = api.wait_status(&session.id, KEY, "ready").await;
    let first = ready["container_id"]
        .as_str()
        .expect("a container")
        .to_string();
    send(&mut cand, prepend(&document, 0, "print('KEPT-CODE')\n")).await;
    next_of_type(&mut cand, "updates").await;
    drop(cand);
    // Away: the container really goes; the session stays.
    assert!(
        wait_until(Duration::from_secs(30), || !container_exists(&first)).await,
        "the container of an absent candidate was kept"
    );
    let away = wait_for(&server, &session, "released", |s| {
        s["container_id"].is_null()
    })
    .await;
    assert_eq!(away["status"], "creating", "{away}");
    // Back: a new container, and the code runs there.
    let (mut cand, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert!(welcome["document"]
        .as_str()
        .unwrap_or("")
        .starts_with("print('KEPT-CODE')"));
    let back = api.wait_status(&session.id, KEY, "ready").await;
    let second = back["container_id"].as_str().expect("a container");
    assert_ne!(second, first);
    assert!(container_exists(second));
    let ran = run_message(&mut cand, json!({"type": "run", "stdin": "1 2\n"})).await;
    assert!(ran.stdout.contains("KEPT-CODE"), "{}", ran.describe());

    // Submit: everyone hears the read-only interview, then the submission with its tests.
    send(&mut cand, json!({"type": "submit"})).await;
    let told = next_of_type(&mut cand, "interview").await;
    assert_eq!(told["interview"]["stage"], "submitted", "{told}");
    send(&mut cand, json!({"type": "run"})).await;
    check_ws_error(&mut cand, "SUBMITTED").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = events(&server, &session)
            .await
            .into_iter()
            .find(|e| e["type"] == "session.submitted");
        if let Some(found) = found {
            assert_eq!(found["data"]["by"], "candidate", "{found}");
            assert_eq!(found["data"]["tests"].as_array().map(Vec::len), Some(1));
            break;
        }
        assert!(Instant::now() < deadline, "no session.submitted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    check_error(
        api.post(&format!("{}/submit", session.path()), Some(KEY), &json!({}))
            .await,
        409,
        "SUBMITTED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn take_homes_are_checked_when_made() {
    let server = server().await;
    let now = Utc::now();
    for (body, needle) in [
        (json!({"mode": "take_home"}), "needs time_limit_minutes"),
        (
            json!({"time_limit_minutes": 10, "expires_at": now + chrono::Duration::hours(1)}),
            "take_home\" only",
        ),
        (
            json!({"mode": "take_home", "time_limit_minutes": 10, "expires_at": now - chrono::Duration::hours(1)}),
            "future",
        ),
        (
            json!({"mode": "take_home", "time_limit_minutes": 10, "expires_at": now + chrono::Duration::days(400)}),
            "max_link_days",
        ),
        (
            json!({"mode": "take_home", "time_limit_minutes": 0, "expires_at": now + chrono::Duration::hours(1)}),
            "time_limit_minutes",
        ),
        (
            json!({"mode": "take_home", "lobby": true, "time_limit_minutes": 10, "expires_at": now + chrono::Duration::hours(1)}),
            "no lobby",
        ),
    ] {
        let err = check_error(
            server.api().post("/sessions", Some(KEY), &body).await,
            400,
            "INVALID_ARGUMENT",
        )
        .await;
        let message = err["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(needle), "{needle}: {err}");
    }
    // A live session is not submitted.
    let live = Session::from(
        server
            .api()
            .create_session_as(Some(KEY), json!({"environment": "python"}))
            .await,
    );
    check_error(
        server
            .api()
            .post(&format!("{}/submit", live.path()), Some(KEY), &json!({}))
            .await,
        409,
        "INTERVIEW_STATE",
    )
    .await;
}

/// The clock is the store's: a server killed with a take-home running and a started lobby
/// comes back with the same starts and the hidden clock, and submits the take-home at its
/// limit by itself, with nobody connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_and_the_limit_survive_a_restart() {
    let home = ServerHome::new();
    let env = [("LIVECODE_SESSIONS__REAP_INTERVAL_SECONDS", "0.2")];
    let mut first = home.spawn_with(&env, None).await;
    let body = json!({
        "environment": "python", "mode": "take_home", "time_limit_minutes": 0.1,
        "expires_at": Utc::now() + chrono::Duration::hours(1),
    });
    let take_home = Session::from(first.api().create_session(body).await);
    let (cand, welcome) = first.connect(&take_home.id, &take_home.candidate, "").await;
    let opened = welcome["session"]["interview"]["started_at"].clone();
    drop(cand);
    let lobby = Session::from(
        first
            .api()
            .create_session(json!({"environment": "python", "lobby": true}))
            .await,
    );
    let mut intv = first.ws(&lobby.id, &lobby.interviewer).await;
    send(&mut intv, json!({"type": "start"})).await;
    let started = next_of_type(&mut intv, "interview").await["interview"]["started_at"].clone();
    send(&mut intv, json!({"type": "clock", "hidden": true})).await;
    next_of_type(&mut intv, "interview").await;
    first.kill();
    drop(intv);

    let second = home.spawn_with(&env, None).await;
    let seen = second
        .api()
        .get_session(&lobby.id, &lobby.interviewer)
        .await;
    assert_eq!(seen["interview"]["started_at"], started, "{seen}");
    assert_eq!(seen["interview"]["clock_hidden"], true, "{seen}");
    let seen = second.api().get_session(&lobby.id, &lobby.candidate).await;
    assert!(seen["interview"]["started_at"].is_null(), "{seen}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let submitted = loop {
        let seen = second
            .api()
            .get_session(&take_home.id, &take_home.interviewer)
            .await;
        if seen["interview"]["stage"] == "submitted" {
            break seen;
        }
        assert!(
            Instant::now() < deadline,
            "not submitted after the restart: {seen}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(submitted["interview"]["started_at"], opened, "{submitted}");
    assert!(
        time(&submitted["interview"]["submitted_at"])
            >= time(&opened) + chrono::Duration::seconds(6)
    );
}
