//! Nothing of a run is missed or repeated: a late joiner gets the run so far in `welcome`, a
//! reconnecting socket asks for what came after its last `seq`. And a session warns before it
//! ends, and can be extended within its lifetime.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

/// Prints 0..9, one line every 200 ms, and waits for a line of stdin before 7: the run goes
/// on until the test lets it (see [`release`]), however slow the machine.
const TICKER: &str = "import time\nfor i in range(10):\n    if i == 7:\n        input()\n    print(i, flush=True)\n    time.sleep(0.2)\n";

/// What a socket sees of the whole run: 0..6, the line [`release`] sent, 7..9.
fn whole_run() -> String {
    let line = |i: i32| format!("{i}\n");
    (0..7)
        .map(line)
        .chain(["go\n".to_string()])
        .chain((7..10).map(line))
        .collect()
}

/// Lets the ticker past its input(), once it has printed 6 (the line is shown when sent).
async fn release(candidate: &mut WsStream) {
    stdout_until(candidate, "6\n").await;
    send(candidate, msg::stdin("go\n")).await;
}

/// The `output` and `input` items of a welcome's run, and of the messages after it until
/// `run_finished`, as (seq, data) in the order they came.
async fn rest_of_run(ws: &mut WsStream, welcome: &Value) -> (Vec<(u64, String)>, Value) {
    let mut items: Vec<(u64, String)> = welcome["run"]["events"]
        .as_array()
        .map(|events| events.iter().map(item).collect())
        .unwrap_or_default();
    for (_, frame) in frames_until(ws, "run_finished", DEFAULT_WAIT).await {
        if frame["type"] == "output" || frame["type"] == "input" {
            items.push(item(&frame));
        }
        if frame["type"] == "run_finished" {
            return (items, frame);
        }
    }
    unreachable!("frames_until ends with run_finished")
}

fn item(v: &Value) -> (u64, String) {
    (
        v["seq"].as_u64().unwrap_or_else(|| panic!("no seq: {v}")),
        v["data"].as_str().unwrap_or_default().to_string(),
    )
}

fn assert_numbered_from_one(items: &[(u64, String)]) {
    let seqs: Vec<u64> = items.iter().map(|(s, _)| *s).collect();
    let want: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, want, "every item once, in order: {items:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_sees_the_whole_run() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python(TICKER).await;
    let mut candidate = server.ws(&session.id, &session.candidate).await;
    send(&mut candidate, msg::run_document()).await;
    stdout_until(&mut candidate, "4\n").await;

    // The interviewer joins a second into the run.
    let (mut interviewer, welcome) = server.connect(&session.id, &session.interviewer, "").await;
    let run = &welcome["run"];
    assert!(
        run["run_id"].is_string(),
        "welcome carries the run: {welcome}"
    );
    assert_eq!(run["by"], "candidate", "{welcome}");
    assert!(
        run["events"].as_array().is_some_and(|e| !e.is_empty()),
        "with what it printed so far: {welcome}"
    );
    release(&mut candidate).await;
    let (items, finished) = rest_of_run(&mut interviewer, &welcome).await;
    assert_eq!(finished["run_id"], run["run_id"]);
    assert_numbered_from_one(&items);
    let seen: String = items.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(seen, whole_run(), "0..9, none missing, none twice");

    // Outside a run, welcome has none.
    let (_, welcome) = server.connect(&session.id, &session.interviewer, "").await;
    assert!(welcome["run"].is_null(), "{welcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_socket_gets_only_what_it_missed() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python(TICKER).await;
    let mut candidate = server.ws(&session.id, &session.candidate).await;

    // The watcher authenticates by message, as the page does, and sees the first lines.
    let url = server.ws_url(&session.id, "");
    let (mut watcher, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("socket");
    send(&mut watcher, msg::auth(&session.interviewer)).await;
    next_of_type(&mut watcher, "welcome").await;
    send(&mut candidate, msg::run_document()).await;
    let started = next_of_type(&mut watcher, "run_started").await;
    let run_id = started["run_id"].as_str().expect("run_id").to_string();
    let mut had = Vec::new();
    while had.len() < 3 {
        let out = next_of_type(&mut watcher, "output").await;
        had.push(item(&out));
    }
    // Its network blips: it is gone for a while, then dials again with what it has.
    drop(watcher);
    // Gone while more came (the candidate sees it), then back before the run ends (it waits
    // for the candidate).
    stdout_until(&mut candidate, "4\n").await;
    let (mut watcher, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("socket");
    let last = had.last().expect("three items").0;
    send(
        &mut watcher,
        json!({"type": "auth", "token": session.interviewer, "after": {"run_id": run_id, "seq": last}}),
    )
    .await;
    let welcome = next_of_type(&mut watcher, "welcome").await;
    assert_eq!(welcome["run"]["run_id"], run_id.as_str(), "{welcome}");
    let first = welcome["run"]["events"][0]["seq"].as_u64();
    assert_eq!(first, Some(last + 1), "only what came after: {welcome}");
    release(&mut candidate).await;
    let (rest, _) = rest_of_run(&mut watcher, &welcome).await;
    had.extend(rest);
    assert_numbered_from_one(&had);
    let seen: String = had.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(seen, whole_run());

    // The same through the URL, for clients that put the token there.
    let (_, welcome) = server
        .connect(
            &session.id,
            &session.candidate,
            &format!("&after_run={run_id}&after_seq=1"),
        )
        .await;
    assert!(welcome["run"].is_null(), "the run is over: {welcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_hear_of_the_end_ahead_and_may_extend_the_session() {
    let server = TestServer::start(|c| {
        c.sessions.expiry_warning_seconds = 30;
        c.sessions.reap_interval_seconds = 0.2;
    })
    .await;
    // Forty seconds to live: the warning comes within the first ten.
    let session = server
        .session(json!({"environment": "python", "code": "", "ttl_seconds": 40}))
        .await;
    let (mut ws, welcome) = server.connect(&session.id, &session.candidate, "").await;
    let before = welcome["session"]["expires_at"]
        .as_str()
        .expect("expires_at")
        .to_string();
    let warning = next_of_type_within(&mut ws, "expiry", Duration::from_secs(20)).await;
    assert_eq!(warning["warning"], true, "{warning}");
    assert_eq!(warning["reason"], "lifetime", "{warning}");
    assert_eq!(warning["can_extend"], true, "{warning}");
    assert_eq!(warning["expires_at"].as_str(), Some(before.as_str()));

    send(&mut ws, json!({"type": "extend"})).await;
    let extended = next_of_type(&mut ws, "expiry").await;
    assert_eq!(extended["warning"], false, "{extended}");
    let later = extended["expires_at"].as_str().expect("expires_at");
    let gained = chrono::DateTime::parse_from_rfc3339(later).expect("time")
        - chrono::DateTime::parse_from_rfc3339(&before).expect("time");
    assert!(
        gained > chrono::Duration::minutes(20),
        "an idle TTL (30 min) from now: {before} → {later}"
    );
    let got = server
        .api()
        .get_session(&session.id, &session.candidate)
        .await;
    assert_eq!(got["expires_at"].as_str(), Some(later), "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_at_its_maximum_lifetime_cannot_be_extended() {
    let server = TestServer::start(|c| {
        c.sessions.max_lifetime_seconds = 30;
        c.sessions.expiry_warning_seconds = 30;
        c.sessions.reap_interval_seconds = 0.2;
    })
    .await;
    let session = server.python("").await;
    let (mut ws, _) = server.connect(&session.id, &session.candidate, "").await;
    let warning = next_of_type_within(&mut ws, "expiry", Duration::from_secs(10)).await;
    assert_eq!(warning["can_extend"], false, "{warning}");
    send(&mut ws, json!({"type": "extend"})).await;
    check_ws_error(&mut ws, "LIFETIME_REACHED").await;
    // REST says the same, in the error shape.
    let resp = server
        .api()
        .post(
            &format!("{}/extend", session.path()),
            Some(&session.candidate),
            &json!({}),
        )
        .await;
    check_error(resp, 409, "LIFETIME_REACHED").await;
}
