//! Credentials, roles, and every refusal the API and the socket can give, each with its code.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

const API_KEY: &str = "it-api-key-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_token_opens_only_its_own_session() {
    let server = TestServer::start(|_| {}).await;
    let a = server.python("print('a')\n").await;
    let b = server.python("print('b')\n").await;
    let api = server.api();

    // Both tokens of a session open it.
    api.get_session(&a.id, &a.candidate).await;
    api.get_session(&a.id, &a.interviewer).await;

    check_error(api.get(&a.path(), None).await, 401, "UNAUTHORIZED").await;
    check_error(
        api.get(&a.path(), Some("not-a-token")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let wrong = format!("{}x", a.candidate);
    check_error(api.get(&a.path(), Some(&wrong)).await, 401, "UNAUTHORIZED").await;
    for token in [&b.candidate, &b.interviewer] {
        check_error(api.get(&a.path(), Some(token)).await, 401, "UNAUTHORIZED").await;
        let resp = api
            .post(&format!("{}/execute", a.path()), Some(token), &json!({}))
            .await;
        check_error(resp, 401, "UNAUTHORIZED").await;
    }
    check_error(
        api.delete(&a.path(), Some(&b.interviewer)).await,
        401,
        "UNAUTHORIZED",
    )
    .await;

    for query in [
        format!("?token={}", b.candidate),
        format!("?token={}", b.interviewer),
        "?token=nope".into(),
    ] {
        let (status, body) = refused_upgrade(&server.ws_url(&a.id, &query), None).await;
        check_error_body(&body, "UNAUTHORIZED", "refused upgrade");
        assert_eq!(status, 401, "{body}");
    }
    // A is untouched by all of that.
    api.wait_status(&a.id, &a.candidate, "ready").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_interviewer_may_end_a_session() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let api = server.api();

    check_error(
        api.delete(&session.path(), Some(&session.candidate)).await,
        403,
        "FORBIDDEN",
    )
    .await;
    api.wait_status(&session.id, &session.candidate, "ready")
        .await;
    let body = expect_json(
        api.delete(&session.path(), Some(&session.interviewer))
            .await,
        200,
    )
    .await;
    assert_eq!(body["status"], "stopped", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_guards_creating_listing_and_deleting() {
    let server = TestServer::start(|c| c.api_key = API_KEY.into()).await;
    let api = server.api();
    let body = json!({"environment": "python", "code": "print(1)\n"});

    check_error(
        api.post("/sessions", None, &body).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    check_error(
        api.post("/sessions", Some("wrong-key"), &body).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let session = Session::from(api.create_session_as(Some(API_KEY), body).await);
    // A session token is no API key.
    check_error(
        api.post("/sessions", Some(&session.interviewer), &json!({}))
            .await,
        401,
        "UNAUTHORIZED",
    )
    .await;

    check_error(api.get("/sessions", None).await, 401, "UNAUTHORIZED").await;
    check_error(
        api.get("/sessions", Some("wrong-key")).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let list = expect_json(api.get("/sessions", Some(API_KEY)).await, 200).await;
    let listed = list
        .as_array()
        .expect("GET /sessions is a list")
        .iter()
        .find(|s| s["session_id"] == session.id.as_str())
        .unwrap_or_else(|| panic!("the new session is listed: {list}"));
    assert_eq!(listed["environment"], "python", "{listed}");
    assert!(
        listed.get("candidate_token").is_none(),
        "a list hands out no tokens: {listed}"
    );
    assert!(
        listed.get("interviewer_token").is_none(),
        "a list hands out no tokens: {listed}"
    );

    // The key opens every session; the session's tokens still work too.
    api.get_session(&session.id, API_KEY).await;
    let result = api
        .execute(&session.id, &session.candidate, json!({}))
        .await;
    assert_eq!(result["stdout"], "1\n", "{result}");

    let unknown = uuid::Uuid::new_v4();
    check_error(
        api.get(&format!("/sessions/{unknown}"), Some(API_KEY))
            .await,
        404,
        "SESSION_NOT_FOUND",
    )
    .await;
    check_error(
        api.get("/sessions/not-a-uuid", Some(API_KEY)).await,
        404,
        "SESSION_NOT_FOUND",
    )
    .await;

    let body = expect_json(api.delete(&session.path(), Some(API_KEY)).await, 200).await;
    assert_eq!(body["status"], "stopped", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_their_error_codes() {
    let server = TestServer::start(|c| {
        c.limits.code_limit_bytes = 1024;
        c.limits.run_timeout_seconds = 5;
    })
    .await;
    let api = server.api();
    let session = server.python("print('ok')\n").await;
    let execute = format!("{}/execute", session.path());
    let token = Some(session.candidate.as_str());

    let resp = api
        .post("/sessions", None, &json!({"environment": "pyhton"}))
        .await;
    let body = check_error(resp, 400, "UNKNOWN_ENVIRONMENT").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("pyhton"),
        "{body}"
    );

    // Code (plus files) over limits.code_limit_bytes; just under it is fine.
    let under = format!("#{}\n", "x".repeat(900));
    api.create_session(json!({"environment": "python", "code": under}))
        .await;
    let over = "x".repeat(1025);
    for body in [
        json!({"environment": "python", "code": over}),
        json!({"environment": "python", "code": "x".repeat(600), "files": {"data.txt": "y".repeat(600)}}),
        json!({"environment": "python", "files": {"a.txt": "y".repeat(600), "b.txt": "y".repeat(600)}}),
    ] {
        check_error(
            api.post("/sessions", None, &body).await,
            413,
            "CODE_TOO_LARGE",
        )
        .await;
    }
    check_error(
        api.post(&execute, token, &json!({"code": over})).await,
        413,
        "CODE_TOO_LARGE",
    )
    .await;

    for name in ["../x", "/etc/passwd", "", "a\0b", "a\\b", "..", "a/../../b"] {
        let body = json!({"environment": "python", "files": {name: "x"}});
        check_error(
            api.post("/sessions", None, &body).await,
            400,
            "INVALID_FILENAME",
        )
        .await;
        let body = json!({"code": "print(1)", "filename": name});
        check_error(
            api.post(&execute, token, &body).await,
            400,
            "INVALID_FILENAME",
        )
        .await;
        let body = json!({"files": {name: "print(1)"}});
        check_error(
            api.post(&execute, token, &body).await,
            400,
            "INVALID_FILENAME",
        )
        .await;
    }

    for raw in ["{not json", "[1,", "{\"environment\": \"python\""] {
        check_error(
            api.post_raw("/sessions", None, raw).await,
            400,
            "INVALID_JSON",
        )
        .await;
        check_error(
            api.post_raw(&execute, token, raw).await,
            400,
            "INVALID_JSON",
        )
        .await;
    }

    for timeout in [0, 6, 3600] {
        let body = json!({"code": "print(1)", "timeout_seconds": timeout});
        check_error(
            api.post(&execute, token, &body).await,
            400,
            "INVALID_ARGUMENT",
        )
        .await;
    }
    let body = json!({"environment": "python", "ttl_seconds": 0});
    check_error(
        api.post("/sessions", None, &body).await,
        400,
        "INVALID_ARGUMENT",
    )
    .await;

    // None of that disturbed the session.
    let result = api
        .execute(
            &session.id,
            &session.candidate,
            json!({"timeout_seconds": 5}),
        )
        .await;
    assert_eq!(result["stdout"], "ok\n", "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_is_503_image_not_ready() {
    // An environments folder with python and one environment whose image does not exist
    // (and cannot be built: no base, no network needed to find out).
    let dir = tempfile::tempdir().expect("tempdir");
    let python = dir.path().join("python");
    std::fs::create_dir(&python).expect("mkdir");
    for file in ["environment.toml", "Dockerfile"] {
        std::fs::copy(
            repo_path(&format!("environments/python/{file}")),
            python.join(file),
        )
        .expect("copy");
    }
    let ghost: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(10)
        .map(|c| {
            if c.is_ascii_digit() {
                (b'g' + (c as u8 - b'0')) as char
            } else {
                c
            }
        })
        .collect();
    let ghost = format!("ghost{ghost}");
    let ghost_dir = dir.path().join(&ghost);
    std::fs::create_dir(&ghost_dir).expect("mkdir");
    std::fs::write(
        ghost_dir.join("environment.toml"),
        "description = \"Nothing\"\nfilename = \"main.txt\"\neditor_language = \"plaintext\"\nbuild = \"\"\nrun = \"cat {file_path}\"\nversion_command = \"true\"\ntemplate = '''hello'''\n",
    )
    .expect("write environment.toml");
    std::fs::write(ghost_dir.join("Dockerfile"), "FROM scratch\nRUN false\n")
        .expect("write Dockerfile");

    let environments_dir = dir.path().to_str().expect("utf-8 path").to_string();
    let server = TestServer::start(move |c| c.environments_dir = environments_dir).await;
    let api = server.api();

    let envs = expect_json(api.get("/environments", None).await, 200).await;
    let entry = envs
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["name"] == ghost.as_str())
        .unwrap_or_else(|| panic!("{ghost} is listed: {envs}"));
    assert_eq!(entry["ready"], false, "{entry}");

    let resp = api
        .post("/sessions", None, &json!({"environment": ghost}))
        .await;
    check_error(resp, 503, "IMAGE_NOT_READY").await;
    // The environments that are ready still work.
    let session = server.python("print('fine')\n").await;
    let result = api
        .execute(&session.id, &session.candidate, json!({}))
        .await;
    assert_eq!(result["stdout"], "fine\n", "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_socket_messages_get_errors_and_the_socket_stays_usable() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("print('still here')\n").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    for (text, code) in [
        ("not json", "INVALID_MESSAGE"),
        ("[1, 2]", "INVALID_MESSAGE"),
        ("{}", "INVALID_MESSAGE"),
        (r#"{"type": 5}"#, "INVALID_MESSAGE"),
        (r#"{"type": "stdin"}"#, "INVALID_MESSAGE"),
        (r#"{"type": "run", "files": "main.py"}"#, "INVALID_MESSAGE"),
        (r#"{"type": "frobnicate"}"#, "UNKNOWN_MESSAGE"),
        (r#"{"type": "stdin", "data": "x\n"}"#, "NO_RUN"),
        (r#"{"type": "kill"}"#, "NO_RUN"),
    ] {
        send_text(&mut ws, text).await;
        let error = check_ws_error(&mut ws, code).await;
        assert!(error.get("type").is_some(), "{text} → {error}");
        check_pong(&mut ws).await;
    }

    let run = run_message(&mut ws, msg::run_document()).await;
    assert_eq!(run.stdout, "still here\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_messages_are_checked_like_rest_bodies() {
    let server = TestServer::start(|c| c.limits.code_limit_bytes = 1024).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    send(
        &mut ws,
        msg::run("main.py", &format!("#{}", "x".repeat(2000))),
    )
    .await;
    check_ws_error(&mut ws, "CODE_TOO_LARGE").await;
    for name in ["../x", "/etc/passwd", "", "a\\b", "a\0b"] {
        send(&mut ws, json!({"type": "run", "files": {name: "print(1)"}})).await;
        check_ws_error(&mut ws, "INVALID_FILENAME").await;
    }
    check_pong(&mut ws).await;
    let run = run_code(&mut ws, "main.py", "print('fine')\n").await;
    assert_eq!(run.stdout, "fine\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observers_watch_but_cannot_run() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("print('x')\n").await;
    let mut candidate = server.ws(&session.id, &session.candidate).await;
    let (mut observer, welcome) = server
        .connect(&session.id, &session.interviewer, "&readonly=1")
        .await;
    assert_eq!(welcome["role"], "observer", "{welcome}");

    send(&mut observer, msg::run_document()).await;
    check_ws_error(&mut observer, "FORBIDDEN").await;
    check_pong(&mut observer).await;

    // Nothing ran: the candidate sees no run_started before its own pong.
    send(&mut candidate, msg::ping()).await;
    let frames = frames_until(&mut candidate, "pong", Duration::from_secs(10)).await;
    assert!(
        frames.iter().all(|(_, f)| f["type"] != "run_started"),
        "an observer's run started: {frames:?}"
    );

    // The observer sees a run the candidate starts.
    send(&mut candidate, msg::run_document()).await;
    let (a, b) = tokio::join!(collect_run(&mut candidate), collect_run(&mut observer));
    assert_eq!((a.run_id(), b.stdout.as_str()), (b.run_id(), "x\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_accepts_its_token_in_the_first_message() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let url = server.ws_url(&session.id, "");

    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("upgrade without a query token");
    send(&mut ws, msg::auth(&session.candidate)).await;
    let welcome = next_of_type(&mut ws, "welcome").await;
    assert_eq!(welcome["role"], "candidate", "{welcome}");
    assert_eq!(
        welcome["session"]["session_id"],
        session.id.as_str(),
        "{welcome}"
    );
    check_pong(&mut ws).await;

    // A wrong token in the first message gets no welcome.
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("upgrade without a query token");
    send(&mut ws, msg::auth("wrong")).await;
    match next_frame(&mut ws, Instant::now() + Duration::from_secs(10)).await {
        Frame::Json(v) if v["type"] == "error" => {
            assert_eq!(v["code"], "UNAUTHORIZED", "{v}");
        }
        Frame::Closed(_) => {}
        other => panic!(
            "a wrong first-message token must get an UNAUTHORIZED error or a close, got {other:?}"
        ),
    }
}

/// Which container serves a session is the operator's business: the candidate's and an
/// observer's views (REST and `welcome`) carry no `container_id`; interviewers and the API
/// key see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_interviewers_and_the_key_see_the_container() {
    const KEY: &str = "container-view-key-0123456789abcdef";
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let session = Session::from(
        server
            .api()
            .create_session_as(Some(KEY), json!({"environment": "python"}))
            .await,
    );
    let api = server.api();
    let full = api.wait_status(&session.id, KEY, "ready").await;
    let container = full["container_id"]
        .as_str()
        .expect("a container")
        .to_string();
    let as_interviewer = api.get_session(&session.id, &session.interviewer).await;
    assert_eq!(as_interviewer["container_id"], container.as_str());
    let as_candidate = api.get_session(&session.id, &session.candidate).await;
    assert_eq!(as_candidate["status"], "ready", "{as_candidate}");
    assert!(as_candidate["container_id"].is_null(), "{as_candidate}");
    assert!(!as_candidate.to_string().contains(&container));

    let (_candidate, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert!(!welcome.to_string().contains(&container), "{welcome}");
    let (_observer, welcome) = server
        .connect(&session.id, &session.interviewer, "&readonly=1")
        .await;
    assert_eq!(welcome["role"], "observer");
    assert!(!welcome.to_string().contains(&container), "{welcome}");
    let (_interviewer, welcome) = server.connect(&session.id, &session.interviewer, "").await;
    assert_eq!(welcome["session"]["container_id"], container.as_str());
}
