//! Switching a session's language mid-session: everyone hears it live, the document becomes the
//! language's own (and comes back on a switch back), the container changes, runs use the new
//! language, the audit trail and the history mark it; who may switch is configurable.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

async fn switch(
    server: &TestServer,
    session: &Session,
    bearer: &str,
    env: &str,
) -> reqwest::Response {
    server
        .api()
        .post(
            &format!("/sessions/{}/environment", session.id),
            Some(bearer),
            &json!({"environment": env}),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_is_seen_live_keeps_each_document_and_changes_the_container() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("print('the python version')\n").await;
    let ready = server
        .api()
        .wait_status(&session.id, &session.interviewer, "ready")
        .await;
    let python_container = ready["container_id"]
        .as_str()
        .expect("a container")
        .to_string();
    let (mut cand, _) = server.connect(&session.id, &session.candidate, "").await;
    let mut intv = server.ws(&session.id, &session.interviewer).await;

    send(
        &mut cand,
        json!({"type": "switch_environment", "environment": "bash"}),
    )
    .await;
    for ws in [&mut cand, &mut intv] {
        // The document first (the server's update), then the language.
        let frames = frames_until(ws, "environment", Duration::from_secs(30)).await;
        let (_, switched) = frames.last().expect("environment");
        assert_eq!(switched["environment"]["name"], "bash", "{switched}");
        assert_eq!(switched["by"], "candidate");
        let update = frames
            .iter()
            .find(|(_, f)| f["type"] == "updates")
            .map(|(_, f)| f)
            .expect("the document's update before the switch");
        assert_eq!(update["updates"][0]["client_id"], "livecode", "{update}");
    }
    let now = server
        .api()
        .wait_status(&session.id, &session.interviewer, "ready")
        .await;
    assert_eq!(now["environment"], "bash");
    let bash_container = now["container_id"]
        .as_str()
        .expect("a container")
        .to_string();
    assert_ne!(bash_container, python_container, "a new container");
    assert!(
        wait_until(Duration::from_secs(20), || !container_exists(
            &python_container
        ))
        .await,
        "the python container is removed"
    );
    // Runs are bash's now.
    let ran = server
        .api()
        .execute(
            &session.id,
            &session.candidate,
            json!({"code": "echo \"bash $BASH_VERSION\"\n"}),
        )
        .await;
    assert_eq!(ran["status"], "completed", "{ran}");
    assert!(
        ran["stdout"].as_str().unwrap_or("").starts_with("bash 5"),
        "{ran}"
    );
    // A late joiner's welcome is in bash, with bash's document.
    let (_late, welcome) = server.connect(&session.id, &session.interviewer, "").await;
    assert_eq!(welcome["environment"]["name"], "bash");
    assert_ne!(welcome["document"], "print('the python version')\n");

    // Back to python (by REST): its document is there again.
    let back = expect_json(
        switch(&server, &session, &session.interviewer, "python").await,
        200,
    )
    .await;
    assert_eq!(back["environment"], "python");
    let (_again, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(welcome["document"], "print('the python version')\n");
    server
        .api()
        .wait_status(&session.id, &session.candidate, "ready")
        .await;
    let ran = server
        .api()
        .execute(&session.id, &session.candidate, json!({}))
        .await;
    assert_eq!(ran["stdout"], "the python version\n", "{ran}");

    // The audit trail and the history mark both switches.
    let history = server.api().history(&session).await;
    let switches: Vec<&Value> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "session.environment")
        .collect();
    assert_eq!(switches.len(), 2, "{history}");
    assert_eq!(
        (&switches[0]["data"]["from"], &switches[0]["data"]["to"]),
        (&json!("python"), &json!("bash"))
    );
    assert_eq!(switches[1]["data"]["by"], "interviewer");
    let by_server = history["updates"]
        .as_array()
        .expect("updates")
        .iter()
        .filter(|u| u["client_id"] == "livecode")
        .count();
    assert_eq!(by_server, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_switches_are_refused_and_change_nothing() {
    let server = TestServer::start(|c| {
        c.sessions.language_switch = livecode::config::LanguageSwitch::Interviewers;
        c.limits.code_limit_bytes = 4096;
    })
    .await;
    let session = server.python("print(1)\n").await;
    // A document the switch cannot bring (a starter over the code limit) changes nothing.
    let big = json!({"title": "Big", "starters": {"bash": format!("# {}\n", "x".repeat(5000))}});
    let question = expect_json(server.api().post("/questions", None, &big).await, 201).await;
    let with_question = Session::from(
        server
            .create_session(json!({"environment": "python", "code": "print(2)\n", "question": question["question_id"]}))
            .await,
    );
    let before = server
        .api()
        .wait_status(&with_question.id, &with_question.interviewer, "ready")
        .await;
    check_error(
        switch(&server, &with_question, &with_question.interviewer, "bash").await,
        413,
        "CODE_TOO_LARGE",
    )
    .await;
    let after = server
        .api()
        .get_session(&with_question.id, &with_question.interviewer)
        .await;
    assert_eq!(after["environment"], "python");
    assert_eq!(after["status"], "ready");
    assert_eq!(after["container_id"], before["container_id"]);
    let ran = server
        .api()
        .execute(&with_question.id, &with_question.candidate, json!({}))
        .await;
    assert_eq!(ran["stdout"], "2\n", "{ran}");
    check_error(
        switch(&server, &session, &session.candidate, "bash").await,
        403,
        "FORBIDDEN",
    )
    .await;
    check_error(
        switch(&server, &session, &session.interviewer, "cobol").await,
        400,
        "UNKNOWN_ENVIRONMENT",
    )
    .await;
    check_error(
        switch(&server, &session, "wrong-token", "bash").await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let (mut cand, _) = server.connect(&session.id, &session.candidate, "").await;
    send(
        &mut cand,
        json!({"type": "switch_environment", "environment": "bash"}),
    )
    .await;
    check_ws_error(&mut cand, "FORBIDDEN").await;
    // Not during a run.
    let mut intv = server.ws(&session.id, &session.interviewer).await;
    send(
        &mut intv,
        json!({"type": "run", "files": {"main.py": "import time\ntime.sleep(5)\n"}}),
    )
    .await;
    next_of_type(&mut intv, "run_started").await;
    check_error(
        switch(&server, &session, &session.interviewer, "bash").await,
        409,
        "RUN_IN_PROGRESS",
    )
    .await;
    send(&mut intv, json!({"type": "kill"})).await;
    next_of_type(&mut intv, "run_finished").await;
    let read = server
        .api()
        .get_session(&session.id, &session.candidate)
        .await;
    assert_eq!(read["environment"], "python");
    // The interviewer may.
    expect_json(
        switch(&server, &session, &session.interviewer, "bash").await,
        200,
    )
    .await;
    // Not to a language whose document's name a file of the workspace already has.
    let clash = Session::from(
        server
            .create_session(json!({"environment": "python", "files": {"main.sh": "echo\n"}}))
            .await,
    );
    check_error(
        switch(&server, &clash, &clash.interviewer, "bash").await,
        400,
        "INVALID_ARGUMENT",
    )
    .await;
}
