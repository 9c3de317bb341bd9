//! Caps and rates: sockets per token and per session, sessions per anonymous client, the API
//! key's live sessions and its runs a minute. Each refusal has the error shape, and says when
//! to retry where waiting helps.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn sockets_are_capped_per_token_and_per_session() {
    let server = TestServer::start(|c| {
        c.sockets.max_per_token = 3;
        c.sockets.max_per_session = 5;
    })
    .await;
    let session = server.python("").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(server.ws(&session.id, &session.interviewer).await);
    }
    let url = server.ws_url(&session.id, &format!("?token={}", session.interviewer));
    assert_eq!(refused_upgrade(&url, None).await.0, 429);
    // Another token still gets in, up to the session's cap.
    for _ in 0..2 {
        open.push(server.ws(&session.id, &session.candidate).await);
    }
    let url = server.ws_url(&session.id, &format!("?token={}", session.candidate));
    assert_eq!(refused_upgrade(&url, None).await.0, 429);
    // A socket that authenticates by message is held to the same caps.
    let (mut late, _) = tokio_tungstenite::connect_async(server.ws_url(&session.id, ""))
        .await
        .expect("upgrade without a token");
    send(&mut late, msg::auth(&session.candidate)).await;
    check_ws_error(&mut late, "TOO_MANY_SOCKETS").await;
    // A closed socket gives its place back.
    let mut first = open.remove(0);
    first.close(None).await.expect("close");
    drop(first);
    let deadline = Instant::now() + DEFAULT_WAIT;
    loop {
        let url = server.ws_url(&session.id, &format!("?token={}", session.interviewer));
        if tokio_tungstenite::connect_async(url.as_str()).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the place never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_anonymous_client_is_refused_before_fifty_sessions() {
    let server = TestServer::start(|_| {}).await;
    let mut created = 0;
    let refusal = loop {
        let resp = server
            .api()
            .post("/sessions", None, &json!({"environment": "bash"}))
            .await;
        if resp.status() != 201 {
            break resp;
        }
        created += 1;
        assert!(created < 50, "50 sessions were created for one client");
    };
    let retry_after = refusal
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let status = refusal.status().as_u16();
    let body: Value = refusal.json().await.expect("json");
    println!("one open-mode client: {created} sessions, then {status} {body}");
    assert_eq!(status, 429);
    check_error_body(&body, "RATE_LIMITED", "the 21st session");
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "Retry-After: {retry_after:?}"
    );

    // Another client address has its own quota, and sees only its own sessions.
    let other = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().expect("ip")))
        .build()
        .expect("client");
    let base = format!("http://{}/api/v1", server.addr);
    let resp = other
        .post(format!("{base}/sessions"))
        .json(&json!({"environment": "bash"}))
        .send()
        .await
        .expect("create");
    assert_eq!(resp.status(), 201);
    let mine: Value = other
        .get(format!("{base}/sessions"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");
    let first: Vec<Value> = expect_json(server.api().get("/sessions", None).await, 200)
        .await
        .as_array()
        .expect("list")
        .clone();
    assert_eq!(first.len(), created);
    // Pages: a Link to the next one while a page is full.
    let page = server.api().get("/sessions?limit=5", None).await;
    let link = page
        .headers()
        .get("link")
        .map(|v| v.to_str().expect("ascii").to_string());
    assert_eq!(
        expect_json(page, 200).await.as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(
        link.as_deref(),
        Some("</api/v1/sessions?limit=5&offset=5>; rel=\"next\"")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_key_has_a_total_cap_and_runs_a_rate() {
    let server = TestServer::start(|c| {
        c.api_key = "k".repeat(32);
        c.quotas.max_live_sessions = 2;
        c.quotas.runs_per_minute = 2;
    })
    .await;
    let key = "k".repeat(32);
    let session = Session::from(
        server
            .api()
            .create_session_as(
                Some(&key),
                json!({"environment": "python", "code": "print(2)"}),
            )
            .await,
    );
    server
        .api()
        .create_session_as(Some(&key), json!({"environment": "bash"}))
        .await;
    let full = server.api().post("/sessions", Some(&key), &json!({})).await;
    check_error(full, 503, "CAPACITY").await;

    let path = format!("/sessions/{}/execute", session.id);
    for _ in 0..2 {
        let r = server
            .api()
            .execute(&session.id, &session.candidate, json!({}))
            .await;
        assert_eq!(r["stdout"], "2\n");
    }
    let limited = server
        .api()
        .post(&path, Some(&session.candidate), &json!({}))
        .await;
    assert!(limited.headers().get("retry-after").is_some());
    check_error(limited, 429, "RATE_LIMITED").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    send(&mut ws, msg::run_document()).await;
    let err = check_ws_error(&mut ws, "RATE_LIMITED").await;
    assert!(
        err["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0),
        "{err}"
    );
}
