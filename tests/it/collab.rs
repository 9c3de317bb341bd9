//! The document over the socket (docs/protocol.md, Collaboration): updates against the
//! current version are accepted and broadcast, stale ones rejected for a rebase, positions are
//! UTF-16 units, runs use the server's copy, history and notes are the interviewer's, and the
//! notes never reach a candidate.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

fn update(version: u64, client: &str, changes: Value) -> Value {
    json!({"type": "update", "version": version, "updates": [{"client_id": client, "changes": changes}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_are_broadcast_in_order_and_runs_use_the_servers_copy() {
    let server = TestServer::start(|_| {}).await;
    // 🎉 is two UTF-16 units: the closing parenthesis is at 10, not at 9 as in chars.
    let session = server.python("print('🎉')").await;
    let (mut cand, welcome) = server.connect(&session.id, &session.candidate, "").await;
    let mut intv = server.ws(&session.id, &session.interviewer).await;
    assert_eq!(
        (welcome["document"].as_str(), welcome["version"].as_u64()),
        (Some("print('🎉')"), Some(0))
    );

    send(&mut cand, update(0, "cand", json!([10, [0, " + 'x'"], 1]))).await;
    send(&mut cand, update(0, "cand", json!([[5, "len"], 6]))).await; // stale: version 0 again
                                                                      // In order: the broadcast of the accepted update, then the rejection of the stale one.
    for ws in [&mut cand, &mut intv] {
        let got = next_of_type(ws, "updates").await;
        assert_eq!(got["version"], 0, "{got}");
        assert_eq!(got["updates"][0]["client_id"], "cand", "{got}");
    }
    let rejected = next_of_type(&mut cand, "update_rejected").await;
    assert_eq!(rejected["version"], 1, "{rejected}");
    // The interviewer types on version 1; both see it as version 1.
    send(&mut intv, update(1, "intv", json!([[0, "# hi", ""], 17]))).await;
    next_of_type(&mut cand, "updates").await;

    send(&mut cand, json!({"type": "run"})).await;
    let run = collect_run(&mut cand).await;
    assert_eq!(run.stdout, "🎉x\n", "{}", run.finished);

    // A client that fell behind pulls what it missed.
    send(&mut cand, json!({"type": "pull", "version": 0})).await;
    let pulled = next_of_type(&mut cand, "updates").await;
    assert_eq!(
        pulled["updates"].as_array().map(Vec::len),
        Some(2),
        "{pulled}"
    );

    // A fresh socket starts from the server's document and version.
    let (_late, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(welcome["document"], "# hi\nprint('🎉' + 'x')");
    assert_eq!(welcome["version"], 2);

    // History: the initial document and every update, for replay.
    let history = server.api().history(&session).await;
    assert_eq!(history["initial_document"], "print('🎉')");
    assert_eq!(
        history["updates"].as_array().map(Vec::len),
        Some(2),
        "{history}"
    );
    assert_eq!(
        history["runs"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );
    check_error(
        server
            .api()
            .get(
                &format!("/sessions/{}/history", session.id),
                Some(&session.candidate),
            )
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_updates_are_refused_and_change_nothing() {
    let server = TestServer::start(|cfg| cfg.limits.code_limit_bytes = 64).await;
    let session = server.python("abc").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    // Wrong length, malformed, from the future, too large.
    send(&mut ws, update(0, "c", json!([2]))).await;
    check_ws_error(&mut ws, "INVALID_MESSAGE").await;
    send(&mut ws, update(0, "c", json!({"not": "a change set"}))).await;
    check_ws_error(&mut ws, "INVALID_MESSAGE").await;
    send(&mut ws, update(5, "c", json!([3]))).await;
    check_ws_error(&mut ws, "INVALID_MESSAGE").await;
    send(&mut ws, update(0, "c", json!([3, [0, "x".repeat(100)]]))).await;
    check_ws_error(&mut ws, "CODE_TOO_LARGE").await;
    check_pong(&mut ws).await;

    let (mut observer, welcome) = server
        .connect(&session.id, &session.interviewer, "&readonly=1")
        .await;
    assert_eq!(welcome["role"], "observer");
    send(&mut observer, update(0, "o", json!([3, [0, "!"]]))).await;
    check_ws_error(&mut observer, "FORBIDDEN").await;

    let (_fresh, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(
        (welcome["document"].as_str(), welcome["version"].as_u64()),
        (Some("abc"), Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_reach_interviewers_only() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let (mut cand, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert!(welcome.get("notes").is_none(), "{welcome}");
    let mut intv = server.ws(&session.id, &session.interviewer).await;

    send(&mut cand, json!({"type": "notes", "text": "mine"})).await;
    check_ws_error(&mut cand, "FORBIDDEN").await;
    send(
        &mut intv,
        json!({"type": "notes", "text": "SECRET strong hire"}),
    )
    .await;
    let echoed = next_of_type(&mut intv, "notes").await;
    assert_eq!(echoed["text"], "SECRET strong hire");

    // The candidate's socket gets nothing of it: a ping after the notes answers first.
    let frames = {
        send(&mut cand, msg::ping()).await;
        frames_until(&mut cand, "pong", Duration::from_secs(10)).await
    };
    assert!(
        frames
            .iter()
            .all(|(_, f)| !f.to_string().contains("SECRET")),
        "the candidate saw the notes: {frames:?}"
    );

    let notes = expect_json(
        server
            .api()
            .get(
                &format!("/sessions/{}/notes", session.id),
                Some(&session.interviewer),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(notes["text"], "SECRET strong hire");
    check_error(
        server
            .api()
            .get(
                &format!("/sessions/{}/notes", session.id),
                Some(&session.candidate),
            )
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
    let (_late, welcome) = server.connect(&session.id, &session.interviewer, "").await;
    assert_eq!(welcome["notes"], "SECRET strong hire");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_failure_on_notes_is_internal_not_the_clients_fault() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.interviewer).await;
    // Another writer holds the database: the server's write gives up after its busy timeout
    // (SQLite) or lock timeout (PostgreSQL).
    let db = server.store_db().await;
    db.lock().await;
    send(
        &mut ws,
        json!({"type": "notes", "text": "strong on testing"}),
    )
    .await;
    let err = next_of_type_within(&mut ws, "error", Duration::from_secs(30)).await;
    assert_eq!(err["code"], "INTERNAL", "{err}");
    db.unlock().await;
}

/// A socket that joins while the document changes sees every update after its `welcome`: the
/// snapshot and the subscription are taken under one hold of the session's lock.
#[tokio::test(flavor = "multi_thread")]
async fn joining_mid_edit_misses_no_update() {
    let server = TestServer::start(|c| c.sockets.messages_per_second = 0).await;
    let session = server.python("").await;
    let mut writer = server.ws(&session.id, &session.candidate).await;
    let typing = tokio::spawn(async move {
        for version in 0..300u64 {
            let changes = if version == 0 {
                json!([[0, "x"]])
            } else {
                json!([version, [0, "x"]])
            };
            send(
                &mut writer,
                json!({"type": "update", "version": version,
                "updates": [{"client_id": "w", "changes": changes}]}),
            )
            .await;
            next_of_type(&mut writer, "updates").await;
        }
    });
    for _ in 0..20 {
        let (mut ws, welcome) = server.connect(&session.id, &session.interviewer, "").await;
        let seen = welcome["version"].as_u64().expect("version");
        if seen >= 300 {
            break;
        }
        let next = next_of_type(&mut ws, "updates").await;
        assert_eq!(
            next["version"], seen,
            "a joiner at version {seen} got {next}"
        );
    }
    typing.await.expect("typing");
}

/// A page losing focus is a signal for interviewers: they hear it live, it is recorded once per
/// change, and replay's history carries it; the candidate hears nothing of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn focus_changes_reach_interviewers_and_the_history() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("print(1)\n").await;
    let (mut cand, _) = server
        .connect(&session.id, &session.candidate, "&name=Cara")
        .await;
    let mut intv = server.ws(&session.id, &session.interviewer).await;
    for focused in [false, false, true] {
        send(&mut cand, json!({"type": "focus", "focused": focused})).await;
    }
    let lost = next_of_type(&mut intv, "focus").await;
    assert_eq!(
        (&lost["name"], &lost["role"], &lost["focused"]),
        (&json!("Cara"), &json!("candidate"), &json!(false)),
        "{lost}"
    );
    let back = next_of_type(&mut intv, "focus").await;
    assert_eq!(
        back["focused"], true,
        "the repeated 'false' is no change: {back}"
    );
    // The candidate's own socket hears none of it.
    send(&mut cand, json!({"type": "ping"})).await;
    let frames = frames_until(&mut cand, "pong", Duration::from_secs(5)).await;
    assert!(
        frames.iter().all(|(_, f)| f["type"] != "focus"),
        "{frames:?}"
    );
    let history = server.api().history(&session).await;
    let focus: Vec<&Value> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "participant.focus")
        .collect();
    assert_eq!(focus.len(), 2, "{history}");
    assert_eq!(focus[0]["data"]["focused"], false);
    assert!(history["tests"].as_array().is_some_and(Vec::is_empty));
}

/// The workspace's other files are edited together like the document: updates carry `file`,
/// a stale one is rejected for that file, pulls catch up per file, runs use the files as
/// edited, and a new socket's welcome has them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_edited_together_and_runs_use_them() {
    let server = TestServer::start(|_| {}).await;
    let session = Session::from(
        server
            .create_session(json!({
                "environment": "python",
                "code": "import helper\nprint(helper.X)\n",
                "files": {"helper.py": "X = 1\n"}
            }))
            .await,
    );
    let (mut cand, welcome) = server.connect(&session.id, &session.candidate, "").await;
    let mut intv = server.ws(&session.id, &session.interviewer).await;
    assert_eq!(
        welcome["files"],
        json!([{"name": "helper.py", "document": "X = 1\n", "version": 0}])
    );
    let file_update = |version: u64, client: &str, changes: Value| {
        json!({"type": "update", "version": version, "file": "helper.py",
            "updates": [{"client_id": client, "changes": changes}]})
    };
    // "X = 1\n" → "X = 42\n": the candidate types, the interviewer hears it as the file's.
    send(&mut cand, file_update(0, "c", json!([4, [1, "42"], 1]))).await;
    let heard = next_of_type(&mut intv, "updates").await;
    assert_eq!(
        (&heard["file"], &heard["version"]),
        (&json!("helper.py"), &json!(0)),
        "{heard}"
    );
    // The interviewer's edit on the same version is stale for that file.
    send(&mut intv, file_update(0, "i", json!([[1, "Y"], 5]))).await;
    let rejected = next_of_type(&mut intv, "update_rejected").await;
    assert_eq!(
        (&rejected["file"], &rejected["version"]),
        (&json!("helper.py"), &json!(1))
    );
    // A pull of the file catches up; a file that is not there is refused.
    send(
        &mut intv,
        json!({"type": "pull", "version": 0, "file": "helper.py"}),
    )
    .await;
    let pulled = next_of_type(&mut intv, "updates").await;
    assert_eq!(
        pulled["updates"].as_array().map(Vec::len),
        Some(1),
        "{pulled}"
    );
    send(
        &mut cand,
        file_update(0, "c", json!([[0, "x"]]))
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.insert("file".into(), json!("nope.py"));
                Value::Object(o)
            })
            .expect("object"),
    )
    .await;
    check_ws_error(&mut cand, "INVALID_MESSAGE").await;
    // The document's own version did not move.
    let (_late, again) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(again["version"], 0);
    assert_eq!(again["files"][0]["document"], "X = 42\n");
    assert_eq!(again["files"][0]["version"], 1);
    // Runs see the file as edited.
    let run = run_message(&mut cand, json!({"type": "run"})).await;
    run.assert_completed(0);
    assert_eq!(run.stdout_of_phase("run"), "42\n");
}

/// The document and every file together are bounded like a run's workspace
/// (`limits.code_limit_bytes`): growing file tabs past it is refused with the reason, a
/// shrinking edit is not, and every state the session accepted runs for the interviewer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_and_files_together_stay_within_the_code_limit() {
    const LIMIT: usize = 64 * 1024;
    let server = TestServer::start(|c| c.limits.code_limit_bytes = LIMIT).await;
    let session = Session::from(
        server
            .create_session(json!({
                "environment": "python",
                "code": "print('ok')\n",
                "files": {"a.txt": "", "b.txt": ""}
            }))
            .await,
    );
    let (mut cand, _) = server.connect(&session.id, &session.candidate, "").await;
    let mut intv = server.ws(&session.id, &session.interviewer).await;
    let update = |file: Option<&str>, version: u64, changes: Value| {
        let mut m = json!({"type": "update", "version": version,
            "updates": [{"client_id": "c", "changes": changes}]});
        if let Some(f) = file {
            m["file"] = json!(f);
        }
        m
    };
    // 40 kB in one tab: within the limit.
    send(
        &mut cand,
        update(Some("a.txt"), 0, json!([[0, "x".repeat(40_000)]])),
    )
    .await;
    let heard = next_of_type(&mut intv, "updates").await;
    assert_eq!(heard["file"], "a.txt");
    // 30 kB more in another tab, or in the document, would pass it: refused, with why.
    send(
        &mut cand,
        update(Some("b.txt"), 0, json!([[0, "y".repeat(30_000)]])),
    )
    .await;
    let refused = check_ws_error(&mut cand, "CODE_TOO_LARGE").await;
    let message = refused["message"].as_str().unwrap_or("");
    assert!(
        message.contains("document and its files") && message.contains(&LIMIT.to_string()),
        "{refused}"
    );
    send(
        &mut cand,
        update(None, 0, json!([[0, "#".repeat(30_000)], 12])),
    )
    .await;
    check_ws_error(&mut cand, "CODE_TOO_LARGE").await;
    // What fits is still accepted.
    send(
        &mut cand,
        update(Some("b.txt"), 0, json!([[0, "y".repeat(20_000)]])),
    )
    .await;
    let heard = next_of_type(&mut intv, "updates").await;
    assert_eq!(heard["file"], "b.txt");
    // Every accepted state runs: the interviewer's run is not refused for size.
    let result = server
        .api()
        .execute(&session.id, &session.interviewer, json!({}))
        .await;
    assert_eq!(result["stdout"], "ok\n", "{result}");
    // A new socket's welcome holds no more than the limit, and a shrinking edit is accepted.
    let (_late, welcome) = server.connect(&session.id, &session.candidate, "").await;
    let total: usize = welcome["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["document"].as_str().map_or(0, str::len))
        .sum::<usize>()
        + welcome["document"].as_str().map_or(0, str::len);
    assert!(total <= LIMIT, "{total}");
    send(
        &mut cand,
        update(Some("a.txt"), 1, json!([40_000 - 10, [10]])),
    )
    .await;
    let heard = next_of_type(&mut intv, "updates").await;
    assert_eq!(
        (&heard["file"], &heard["version"]),
        (&json!("a.txt"), &json!(1))
    );
}

/// Each socket costs a `welcome` (the document and every file): one token may open only
/// `quotas.joins_per_minute` a minute; past it, `RATE_LIMITED` with when to retry, and the
/// socket closes. Another token of the session has its own allowance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_welcomed_at_a_bounded_rate() {
    let server = TestServer::start(|c| c.quotas.joins_per_minute = 5).await;
    let session = server.python("print(1)\n").await;
    for _ in 0..5 {
        let ws = server.ws(&session.id, &session.candidate).await;
        drop(ws);
    }
    let url = server.ws_url(&session.id, &format!("?token={}", session.candidate));
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("the upgrade itself is answered");
    let refused = check_ws_error(&mut ws, "RATE_LIMITED").await;
    assert!(
        refused["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0),
        "{refused}"
    );
    match next_frame(&mut ws, Instant::now() + DEFAULT_WAIT).await {
        Frame::Closed(_) => {}
        other => panic!("the refused socket should close: {other:?}"),
    }
    // The interviewer's token is not held back by the candidate's reconnects.
    let (_intv, welcome) = server.connect(&session.id, &session.interviewer, "").await;
    assert_eq!(welcome["role"], "interviewer");
}

/// What ran is recorded: a run with its own `code` keeps that code in the history (and the
/// OpenAPI document says so); a run of the document keeps none (the updates tell its text).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_records_the_code_of_runs_that_did_not_run_the_document() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("print('the document')\n").await;
    let api = server.api();
    let own = "print('the interviewer\\'s own code')\n";
    let ran = api
        .execute(&session.id, &session.interviewer, json!({"code": own}))
        .await;
    assert_eq!(ran["stdout"], "the interviewer's own code\n", "{ran}");
    let ran = api
        .execute(&session.id, &session.interviewer, json!({}))
        .await;
    assert_eq!(ran["stdout"], "the document\n", "{ran}");
    let history = api.history(&session).await;
    let runs = history["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{history}");
    assert_eq!(runs[0]["code"], own, "{}", runs[0]);
    assert!(runs[1]["code"].is_null(), "{}", runs[1]);
    let doc = expect_json(api.get("/openapi.json", None).await, 200).await;
    let text = doc["components"]["schemas"].to_string();
    assert!(
        text.contains("The code the run ran when it was not the session's document"),
        "the OpenAPI document describes the run's code"
    );
}
