//! The server under attack from a candidate, an observer and an anonymous client: every
//! attack of the hardening issue, against the real server. Memory is read off the server's own
//! process (the binary, spawned), so the figures are the server's alone; each test prints them.
//! Bounds asserted here are generous (flaky machines); `cargo bench --bench hardening` prints
//! the figures beside the targets.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `[0,0,…,0,len]`: a change set of `zeros` zero-length keeps, the attack's no-op.
fn no_op_update(version: u64, zeros: usize, len: usize) -> String {
    format!(
        r#"{{"type":"update","version":{version},"updates":[{{"client_id":"x","changes":[{}{len}]}}]}}"#,
        "0,".repeat(zeros)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn no_op_updates_are_refused_and_cost_no_memory() {
    // The byte budget would stretch this to a minute; it is tested on its own below.
    let server = SpawnedServer::start(
        &[("LIVECODE_SOCKETS__BYTES_PER_SECOND", "1000000000")],
        None,
    )
    .await;
    let session = server.python("print(1)").await;
    let (mut ws, welcome) = server.connect(&session.id, &session.candidate, "").await;
    let version = welcome["version"].as_u64().expect("version");
    let flood = no_op_update(version, 280_000, 8);
    assert!(flood.len() > 500_000, "the attack's size: {}", flood.len());

    // One first, so buffers the server keeps anyway are counted before.
    send_text(&mut ws, &flood).await;
    check_ws_error(&mut ws, "INVALID_MESSAGE").await;
    let before = server.rss_kib();
    let started = Instant::now();
    for _ in 0..100 {
        send_text(&mut ws, &flood).await;
        let err = check_ws_error(&mut ws, "INVALID_MESSAGE").await;
        assert!(
            err["message"].as_str().unwrap_or("").contains("canonical"),
            "{err}"
        );
    }
    let after = server.rss_kib();
    println!(
        "100 no-op updates of {} kB in {:.1} s: server RSS {:.1} → {:.1} MiB (+{:.1} MiB; target < 10)",
        flood.len() / 1000,
        started.elapsed().as_secs_f64(),
        mib(before),
        mib(after),
        mib(after.saturating_sub(before))
    );
    assert!(
        after.saturating_sub(before) < 32 * 1024,
        "RSS grew by {:.1} MiB",
        mib(after - before)
    );

    // Keeping everything in one part changes nothing either.
    send(&mut ws, json!({"type": "update", "version": version, "updates": [{"client_id": "x", "changes": [8]}]})).await;
    check_ws_error(&mut ws, "INVALID_MESSAGE").await;
    // Nothing was stored: the history is empty and the document unchanged.
    let history = server.api().history(&session).await;
    assert_eq!(history["updates"], json!([]), "{history}");
    let (_, again) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(again["document"], "print(1)");
    assert_eq!(again["version"], version);
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_history_is_bounded_in_bytes_and_replay_starts_from_the_fold() {
    let server = TestServer::start(|c| {
        c.sessions.history_limit_bytes = 64 * 1024;
        c.sockets.bytes_per_second = 1 << 30;
        c.sockets.messages_per_second = 100_000;
    })
    .await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    // 200 edits that each replace the whole line with 1 kB: 200 kB of history for a 64 kB bound.
    let mut doc_len = 0;
    for version in 0..200u64 {
        let text = format!("{version:>1000}");
        let changes = if doc_len == 0 {
            json!([[0, text]])
        } else {
            json!([[doc_len, text]])
        };
        send(
            &mut ws,
            json!({"type": "update", "version": version,
                             "updates": [{"client_id": "me", "changes": changes}]}),
        )
        .await;
        let got = next_of_type(&mut ws, "updates").await;
        assert_eq!(got["version"], version, "{got}");
        doc_len = 1000;
    }
    let history = server.api().history(&session).await;
    let kept = history["updates"].as_array().expect("updates").len() as u64;
    let base = history["base_version"].as_u64().expect("base_version");
    let bytes: usize = history["updates"]
        .as_array()
        .expect("updates")
        .iter()
        .map(|u| u["changes"].to_string().len())
        .sum();
    println!("200 edits of 1 kB with a 64 KiB bound: {kept} kept ({bytes} bytes), base at version {base}");
    assert!(base > 0 && base + kept == 200, "{base} + {kept}");
    assert!(bytes <= 64 * 1024, "{bytes} bytes kept");
    // The base is the document at the base version: the 1 kB line of the edit before it.
    assert_eq!(
        history["initial_document"].as_str().expect("doc").trim(),
        (base - 1).to_string()
    );
    // A pull from before the fold is told to reload; one from after it gets the rest.
    send(&mut ws, json!({"type": "pull", "version": 0})).await;
    check_ws_error(&mut ws, "INVALID_MESSAGE").await;
    send(&mut ws, json!({"type": "pull", "version": 199})).await;
    let pulled = next_of_type(&mut ws, "updates").await;
    assert_eq!(pulled["updates"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_socket_only_slows_itself() {
    let server = TestServer::start(|c| {
        c.sockets.messages_per_second = 50;
    })
    .await;
    let session = server.python("print(1)").await;
    let mut flooder = server.ws(&session.id, &session.candidate).await;
    let started = Instant::now();
    for _ in 0..150 {
        send(&mut flooder, msg::ping()).await;
    }
    for _ in 0..150 {
        check_pong(&mut flooder).await;
    }
    let took = started.elapsed();
    println!("150 pings at 50 messages/s (burst 50): answered in {took:?}");
    // The first second's burst passes at once; the other 100 wait their turn (2 s).
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    // Nobody else waits: another socket is answered at once.
    let mut other = server.ws(&session.id, &session.interviewer).await;
    let t = Instant::now();
    send(&mut other, msg::ping()).await;
    check_pong(&mut other).await;
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_is_capped_and_a_stalled_socket_holds_a_bounded_queue() {
    let server = SpawnedServer::start(&[], None).await;
    let session = server.bash("cat > /dev/null").await;
    // A socket of the candidate's that never reads again.
    let stalled = server.ws(&session.id, &session.candidate).await;
    let mut typing = server.ws(&session.id, &session.candidate).await;
    send(&mut typing, msg::run_document()).await;
    next_of_type(&mut typing, "run_started").await;

    // Too large at once: refused, and nothing is echoed.
    send(&mut typing, msg::stdin(&"x".repeat(500_000))).await;
    check_ws_error(&mut typing, "STDIN_TOO_LARGE").await;

    // The largest allowed, as fast as the budget lets: everyone sees a 1 KiB preview.
    let (mut sink, mut stream) = typing.split();
    let reader = tokio::spawn(async move {
        let (mut inputs, mut longest) = (0usize, 0usize);
        while let Some(Ok(Message::Text(text))) = stream.next().await {
            let v: Value = serde_json::from_str(text.as_str()).expect("json");
            if v["type"] == "input" {
                inputs += 1;
                longest = longest.max(v["data"].as_str().map_or(0, str::len));
                assert_eq!(v["truncated"], true, "{}", clip(&v.to_string(), 200));
            }
            if v["type"] == "run_finished" {
                break;
            }
        }
        (inputs, longest)
    });
    let before = server.rss_kib();
    let mut peak = before;
    let piece = json!({"type": "stdin", "data": "y".repeat(65_000)}).to_string();
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(6) {
        sink.send(Message::Text(piece.clone().into()))
            .await
            .expect("send");
        sent += 1;
        if sent % 10 == 0 {
            peak = peak.max(server.rss_kib());
        }
    }
    sink.send(Message::Text(msg::kill().to_string().into()))
        .await
        .expect("kill");
    let (inputs, longest) = reader.await.expect("reader");
    println!(
        "{sent} stdin messages of 65 kB in 6 s with a stalled socket: {inputs} echoes of at most {longest} bytes; \
         server RSS {:.1} → peak {:.1} MiB",
        mib(before),
        mib(peak)
    );
    assert!(inputs > 0 && longest <= 1024);
    assert!(
        peak.saturating_sub(before) < 64 * 1024,
        "RSS peak +{:.1} MiB",
        mib(peak - before)
    );
    drop(stalled);
    let resp = server
        .api()
        .delete(
            &format!("/sessions/{}", session.id),
            Some(&session.interviewer),
        )
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_observers_through_output_floods_stay_bounded() {
    let server = SpawnedServer::start(
        &[
            ("LIVECODE_SOCKETS__MAX_PER_SESSION", "200"),
            ("LIVECODE_SOCKETS__MAX_PER_TOKEN", "200"),
            // A hundred sockets of one token within the minute: more joins than the default rate.
            ("LIVECODE_QUOTAS__JOINS_PER_MINUTE", "200"),
        ],
        None,
    )
    .await;
    let session = server
        .python("import sys\nsys.stdout.write('x' * 2_000_000)\n")
        .await;
    let mut candidate = server.ws(&session.id, &session.candidate).await;
    let before = server.rss_kib();
    let mut observers = Vec::new();
    for _ in 0..100 {
        let (ws, _) = server
            .connect(&session.id, &session.interviewer, "&readonly=1")
            .await;
        observers.push(ws); // never read again
    }
    let with_sockets = server.rss_kib();
    let mut peak = with_sockets;
    for _ in 0..5 {
        send(&mut candidate, msg::run_document()).await;
        let run = collect_run(&mut candidate).await;
        assert_eq!(run.status(), "output_limit", "{}", run.describe());
        peak = peak.max(server.rss_kib());
    }
    println!(
        "100 observers that never read, five 1 MiB floods: server RSS {:.1} MiB, {:.1} with the sockets, peak {:.1} \
         (+{:.1} MiB over the sockets' own; target < 40)",
        mib(before),
        mib(with_sockets),
        mib(peak),
        mib(peak.saturating_sub(with_sockets))
    );
    assert!(
        peak.saturating_sub(before) < 80 * 1024,
        "RSS peak +{:.1} MiB",
        mib(peak - before)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_observer_cursor_flood_disconnects_nobody() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("print('still here')").await;
    let mut candidate = server.ws(&session.id, &session.candidate).await;
    let (observer, _) = server
        .connect(&session.id, &session.interviewer, "&readonly=1")
        .await;
    let (mut sink, mut observer_reads) = observer.split();
    // The observer reads what it is sent, so only the flood is under test.
    tokio::spawn(async move { while observer_reads.next().await.is_some() {} });
    let flood = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut sent = 0u64;
        // As fast as the connection takes them; once the server pushes back, a send waits,
        // so each is bounded by what is left of the five seconds.
        loop {
            let cursor =
                json!({"type": "cursor", "anchor": sent % 10, "head": sent % 10, "version": 0});
            let send = sink.send(Message::Text(cursor.to_string().into()));
            match tokio::time::timeout_at(deadline.into(), send).await {
                Ok(Ok(())) => sent += 1,
                _ => break,
            }
        }
        sent
    });
    let started = Instant::now();
    let mut cursors = 0;
    while started.elapsed() < Duration::from_secs(6) {
        match next_frame(&mut candidate, Instant::now() + Duration::from_millis(500)).await {
            Frame::Json(v) if v["type"] == "cursor" => cursors += 1,
            Frame::Json(_) | Frame::TimedOut => {}
            Frame::Closed(why) => panic!("the candidate was disconnected: {why}"),
        }
    }
    let sent = flood.await.expect("flood");
    println!("an observer sent {sent} cursor messages in 5 s; the candidate got {cursors} cursor events and stayed");
    assert!(
        cursors <= 20 * 6 + 5,
        "cursors are paced at 20 Hz: {cursors}"
    );
    assert!(cursors > 0, "the observer's cursor still shows");
    send(&mut candidate, msg::run_document()).await;
    let run = collect_run(&mut candidate).await;
    assert_eq!(run.stdout, "still here\n");
}

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

#[tokio::test(flavor = "multi_thread")]
async fn cross_site_requests_are_refused_and_listed_origins_get_cors() {
    let server = TestServer::start(|c| {
        c.cors_origins = vec!["https://hiring.example.com".into()];
    })
    .await;
    let base = format!("http://{}/api/v1", server.addr);
    let http = &server.http;
    let post = |origin: Option<&str>, content_type: &str, body: &str| {
        let mut req = http
            .post(format!("{base}/sessions"))
            .header("content-type", content_type)
            .body(body.to_string());
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        req.send()
    };
    let body = r#"{"environment":"bash"}"#;
    // A drive-by form or text/plain fetch from any page: the body is not JSON to us.
    check_error(
        post(None, "text/plain", body).await.expect("send"),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    // JSON from a foreign page, with or without a body, and from an opaque origin.
    for (origin, content_type, body) in [
        ("https://evil.example", "application/json", body),
        ("https://evil.example", "text/plain", ""),
        ("null", "application/json", body),
    ] {
        let resp = post(Some(origin), content_type, body).await.expect("send");
        check_error(resp, 403, "FORBIDDEN_ORIGIN").await;
    }
    // The server's own page, and a listed platform.
    let own = format!("http://{}", server.addr);
    assert_eq!(
        post(Some(&own), "application/json", body)
            .await
            .expect("send")
            .status(),
        201
    );
    let listed = post(
        Some("https://hiring.example.com"),
        "application/json; charset=utf-8",
        body,
    )
    .await
    .expect("send");
    assert_eq!(listed.status(), 201);
    assert_eq!(
        listed
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().expect("ascii")),
        Some("https://hiring.example.com")
    );
    // The listed platform's preflight is answered; a foreign one gets no CORS grant.
    let preflight = |origin: &str| {
        http.request(reqwest::Method::OPTIONS, format!("{base}/sessions"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let ok = preflight("https://hiring.example.com")
        .await
        .expect("preflight");
    assert!(ok.status().is_success(), "{}", ok.status());
    assert!(ok.headers().get("access-control-allow-origin").is_some());
    let foreign = preflight("https://evil.example").await.expect("preflight");
    assert!(foreign
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    // Sockets too: a foreign page cannot open one, even with a token it somehow has.
    let session = server.bash("echo hi").await;
    let url = server.ws_url(&session.id, &format!("?token={}", session.candidate));
    assert_eq!(
        refused_upgrade(&url, Some("https://evil.example")).await.0,
        403
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_by_layers_have_the_error_shape() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    // A body over the limit, announced by its length: refused before it is read. (Sent by
    // hand: a client still uploading when the answer comes may see its connection reset.)
    let mut tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/sessions/{}/execute HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n",
        session.id, session.candidate
    );
    tcp.write_all(head.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(DEFAULT_WAIT, async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = tcp.read(&mut buf).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.ends_with(b"}}") {
                break;
            }
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or(""))
        .unwrap_or_else(|e| panic!("the error shape, not plain text ({e}): {answer}"));
    assert_eq!(body["error"]["code"], "BODY_TOO_LARGE", "{body}");
    // A method an endpoint does not take.
    let resp = server
        .http
        .patch(format!("http://{}/api/v1/sessions", server.addr))
        .send()
        .await
        .expect("send");
    check_error(resp, 405, "METHOD_NOT_ALLOWED").await;
    // A socket frame over the limit closes with 1009 and a reason.
    let mut ws = server.ws(&session.id, &session.candidate).await;
    let too_big =
        json!({"type": "stdin", "data": "z".repeat(server.config.socket_message_bytes() + 1)});
    ws.send(Message::Text(too_big.to_string().into()))
        .await
        .expect("send");
    let deadline = Instant::now() + DEFAULT_WAIT;
    let close = loop {
        match tokio::time::timeout_at(deadline.into(), ws.next())
            .await
            .expect("an answer")
        {
            Some(Ok(Message::Close(frame))) => break frame.expect("a close frame with a code"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.code, CloseCode::Size);
    assert!(close.reason.contains("too big"), "{}", close.reason);
}

/// Opens `count` connections from `from` that send half a request and then nothing.
async fn half_open(server: SocketAddr, from: &str, count: usize) -> Vec<tokio::net::TcpStream> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(format!("{from}:0").parse().expect("addr"))
            .expect("bind");
        match socket.connect(server).await {
            Ok(mut stream) => {
                let _ = stream
                    .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
                    .await;
                held.push(stream);
            }
            Err(_) => continue, // refused while the backlog is full
        }
    }
    held
}

/// How many of `streams` the server has closed (read gives EOF or an error) within `wait`.
async fn closed_by_server(streams: &mut [tokio::net::TcpStream], wait: Duration) -> usize {
    let deadline = Instant::now() + wait;
    let mut closed = 0;
    for stream in streams.iter_mut() {
        let mut buf = [0u8; 64];
        let left = deadline.saturating_duration_since(Instant::now());
        if matches!(
            tokio::time::timeout(left, stream.read(&mut buf)).await,
            Ok(Ok(0) | Err(_))
        ) {
            closed += 1;
        }
    }
    closed
}

/// The test process needs a file handle per attacking connection.
fn allow_many_files() {
    let _ = rlimit::increase_nofile_limit(16_384);
}

/// A server started under an open-file limit of 1024 (a common service default), with a
/// session whose program prints `says` and a candidate socket open on it.
async fn under_file_limit(env: &[(&str, &str)], says: &str) -> (SpawnedServer, WsStream) {
    allow_many_files();
    let server = SpawnedServer::start(env, Some(1024)).await;
    let session = server.python(&format!("print('{says}')")).await;
    let ws = server.ws(&session.id, &session.candidate).await;
    (server, ws)
}

#[tokio::test(flavor = "multi_thread")]
async fn half_open_connections_do_not_stop_the_server() {
    // The server raises what it can of the file limit and keeps a reserve.
    let (server, mut existing) = under_file_limit(
        &[("LIVECODE_SERVER__HEADER_READ_TIMEOUT_SECONDS", "3")],
        "served",
    )
    .await;
    let addr: SocketAddr = format!("127.0.0.1:{}", server.port).parse().expect("addr");

    let started = Instant::now();
    let mut attack = half_open(addr, "127.0.0.2", 3000).await;
    let opened = attack.len();
    // Past the per-address cap the server closes at once.
    let closed_at_once = closed_by_server(&mut attack, Duration::from_millis(500)).await;
    // Meanwhile the server serves: a new client, a new session, and a run on an old one.
    let t = Instant::now();
    let health = server.api().get("/health", None).await;
    assert_eq!(health.status(), 200);
    let served_in = t.elapsed();
    let fresh = server
        .api()
        .create_session(json!({"environment": "bash"}))
        .await;
    assert!(fresh["session_id"].is_string());
    send(&mut existing, msg::run_document()).await;
    let run = collect_run(&mut existing).await;
    assert_eq!(run.stdout, "served\n", "{}", run.describe());
    // And the held ones are let go after the header timeout.
    let closed_later = closed_by_server(&mut attack, Duration::from_secs(10)).await;
    println!(
        "3000 half-open connections under a 1024-file limit: {opened} connected, {closed_at_once} closed at once, \
         all {closed_later} closed within the 3 s header timeout (+{:.1} s); /health answered in {served_in:?}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(closed_later, opened, "every half-open connection is closed");
    assert!(
        closed_at_once >= opened.saturating_sub(300),
        "per-address cap"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_connection_table_leaves_files_for_runs() {
    // No per-address cap: the attacker takes every connection the server allows.
    let (server, mut existing) = under_file_limit(
        &[
            ("LIVECODE_SERVER__HEADER_READ_TIMEOUT_SECONDS", "4"),
            ("LIVECODE_SERVER__MAX_CONNECTIONS_PER_IP", "0"),
        ],
        "still runs",
    )
    .await;
    let addr: SocketAddr = format!("127.0.0.1:{}", server.port).parse().expect("addr");
    let mut attack = half_open(addr, "127.0.0.2", 1100).await;
    // Docker still has file handles: the open session runs code.
    send(&mut existing, msg::run_document()).await;
    let run = collect_run(&mut existing).await;
    assert_eq!(run.stdout, "still runs\n", "{}", run.describe());
    // Once the header timeout frees the table, new clients are served again.
    closed_by_server(&mut attack, Duration::from_secs(10)).await;
    let deadline = Instant::now() + DEFAULT_WAIT;
    loop {
        if let Ok(resp) = server
            .http
            .get(format!("http://{addr}/api/v1/health"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            if resp.status() == 200 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the server did not serve again");
    }
    assert!(
        server.log_text().contains("connection cap reached"),
        "{}",
        server.log_text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_checks_never_reach_the_engine() {
    use std::sync::atomic::Ordering;
    let proxy = DockerProxy::start();
    let pings = proxy.engine_checks.clone();
    let server = TestServer::start(|c| {
        c.docker.host = proxy.host();
        c.server.health_interval_seconds = 1.0;
    })
    .await;
    let started = Instant::now();
    let before = pings.load(Ordering::Relaxed);
    let url = format!("http://{}/api/v1/health", server.addr);
    let mut answered = 0;
    for _ in 0..20 {
        let calls = (0..100).map(|_| server.http.get(&url).send());
        for resp in futures_util::future::join_all(calls).await {
            assert_eq!(resp.expect("health").status(), 200);
            answered += 1;
        }
    }
    let elapsed = started.elapsed();
    let during = pings.load(Ordering::Relaxed) - before;
    println!("{answered} health checks in {elapsed:?}: {during} engine pings (one a second in the background)");
    assert!(
        during as f64 <= elapsed.as_secs_f64() + 2.0,
        "{during} pings for {answered} health checks in {elapsed:?}"
    );
    // The proxy does see the background pings: the count above can tell.
    let deadline = Instant::now() + Duration::from_secs(10);
    while pings.load(Ordering::Relaxed) == before + during {
        assert!(
            Instant::now() < deadline,
            "no background ping went through the proxy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
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

/// The file-tab attack of the hardening issue, at the default settings: tabs grown to 250 kB
/// each in three sessions, then sixteen reconnect loops on one session's candidate token. The
/// document and files stay within `limits.code_limit_bytes` together, a `welcome` is at most
/// about that, and the loops get `quotas.joins_per_minute` welcomes, not one per connect.
#[tokio::test(flavor = "multi_thread")]
async fn file_tabs_cannot_outgrow_the_code_limit_nor_flood_welcomes() {
    const TAB: usize = 250_000;
    const TABS_TRIED: usize = 8;
    let server = SpawnedServer::start(&[], None).await;
    let rss_before = server.rss_kib();
    let files: serde_json::Map<String, Value> = (0..63)
        .map(|i| (format!("tab{i}.txt"), json!("")))
        .collect();
    let mut sessions = Vec::new();
    let mut accepted_bytes = Vec::new();
    for _ in 0..3 {
        let session = server
            .session(json!({"environment": "python", "code": "print('ok')\n", "files": files}))
            .await;
        let mut ws = server.ws(&session.id, &session.candidate).await;
        let mut refusals = 0usize;
        for i in 0..TABS_TRIED {
            send(
                &mut ws,
                json!({"type": "update", "version": 0, "file": format!("tab{i}.txt"),
                    "updates": [{"client_id": "c", "changes": [[0, "x".repeat(TAB)]]}]}),
            )
            .await;
        }
        // Every tab after the first is refused, with the reason.
        while refusals < TABS_TRIED - 1 {
            let refused = check_ws_error(&mut ws, "CODE_TOO_LARGE").await;
            assert!(refused["message"]
                .as_str()
                .is_some_and(|m| m.contains("262144")));
            refusals += 1;
        }
        // What the session holds, as a new socket of the interviewer's is shown it.
        let (_, held) = server.connect(&session.id, &session.interviewer, "").await;
        let accepted: usize = held["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| f["document"].as_str().map_or(0, str::len))
            .sum();
        // The interviewer's run is not refused: the session stayed runnable.
        let result = server
            .api()
            .execute(&session.id, &session.interviewer, json!({}))
            .await;
        assert_eq!(result["stdout"], "ok\n", "{result}");
        accepted_bytes.push(accepted);
        sessions.push(session);
    }
    let rss_after_tabs = server.rss_kib();
    let target = &sessions[0];
    let (_, welcome) = server.connect(&target.id, &target.candidate, "").await;
    let welcome_bytes = welcome.to_string().len();

    // Sixteen reconnect loops for 5 s.
    let loops: Vec<_> = (0..16)
        .map(|_| {
            let url = server.ws_url(&target.id, &format!("?token={}", target.candidate));
            tokio::spawn(async move {
                let (mut bytes, mut welcomes, mut refused) = (0usize, 0usize, 0usize);
                let until = Instant::now() + Duration::from_secs(5);
                while Instant::now() < until {
                    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await
                    else {
                        continue;
                    };
                    if let Frame::Json(v) = next_frame(&mut ws, Instant::now() + DEFAULT_WAIT).await
                    {
                        bytes += v.to_string().len();
                        match v["type"].as_str() {
                            Some("welcome") => welcomes += 1,
                            _ => refused += 1,
                        }
                    }
                }
                (bytes, welcomes, refused)
            })
        })
        .collect();
    let (mut bytes, mut welcomes, mut refused) = (0, 0, 0);
    for l in loops {
        let (b, w, r) = l.await.expect("loop");
        bytes += b;
        welcomes += w;
        refused += r;
    }
    let rss_end = server.rss_kib();
    println!(
        "file tabs: {TABS_TRIED} tabs of {TAB} B tried per session, accepted {accepted_bytes:?} B \
         (limit 262144); welcome {welcome_bytes} B; 16 reconnect loops for 5 s: {welcomes} \
         welcomes, {refused} refused, {bytes} B received; RSS {rss_before} → {rss_after_tabs} → \
         {rss_end} KiB"
    );
    for accepted in &accepted_bytes {
        assert!(*accepted <= 256 * 1024, "{accepted}");
    }
    assert!(welcome_bytes < 300 * 1024, "{welcome_bytes}");
    // 60 joins a minute: a burst of 60 (one was the welcome above), then one a second.
    assert!(welcomes <= 60 + 5 + 2, "{welcomes} welcomes");
    assert!(refused > 0, "the loops were never held back");
    assert!(bytes < 60 * 300 * 1024 + refused * 1024, "{bytes} B");
}

/// Opens `count` connections from `from` that each send a request's head announcing a body
/// of 1,000 bytes, then one byte of it, then nothing (a body sent at a byte a minute).
async fn slow_bodies(server: SocketAddr, from: &str, count: usize) -> Vec<tokio::net::TcpStream> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(format!("{from}:0").parse().expect("addr"))
            .expect("bind");
        if let Ok(mut stream) = socket.connect(server).await {
            let _ = stream
                .write_all(
                    b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                      Content-Length: 1000\r\n\r\n{",
                )
                .await;
            held.push(stream);
        }
    }
    held
}

/// One request on a fresh connection from 127.0.0.1 (not a pooled one, which the table
/// admitted long ago): the status it answers, or why it did not.
async fn fresh_health(server: SocketAddr) -> Result<u16, String> {
    let mut tcp = tokio::net::TcpStream::connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tcp.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    match read {
        Ok(_) if answer.starts_with("HTTP/1.1 ") => answer[9..12]
            .parse()
            .map_err(|_| format!("status of {answer}")),
        Ok(Ok(_)) => Err(format!("closed without an answer: {answer:?}")),
        Ok(Err(e)) => Err(format!("read: {e}")),
        Err(_) => Err("no answer within 20 s".into()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_sent_a_byte_at_a_time_is_answered_408_at_the_body_deadline() {
    let server = TestServer::start(|c| c.server.body_read_timeout_seconds = 2.0).await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    tcp.write_all(
        b"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 200\r\n\r\n",
    )
    .await
    .expect("head");
    let started = Instant::now();
    // A byte every 200 ms: the whole body would take 40 s.
    let (mut reads, mut writes) = tcp.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..200 {
            if writes.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(DEFAULT_WAIT, async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reads.read(&mut buf).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.ends_with(b"}}") {
                break;
            }
        }
    })
    .await;
    let took = started.elapsed();
    trickle.abort();
    let answer = String::from_utf8_lossy(&answer);
    println!("a body at 5 bytes/s was answered after {took:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or(""))
        .unwrap_or_else(|e| panic!("the error shape ({e}): {answer}"));
    check_error_body(&body, "BODY_TIMEOUT", "a slow body");
    assert!(
        took >= Duration::from_secs(2),
        "not before the deadline: {took:?}"
    );
    assert!(
        took < Duration::from_secs(30),
        "well before the body ended: {took:?}"
    );
    // A body sent at once still creates a session.
    let created = server
        .api()
        .create_session(json!({"environment": "bash"}))
        .await;
    assert!(created["session_id"].is_string(), "{created}");
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_addresses_holding_every_connection_do_not_lock_others_out() {
    allow_many_files();
    // Deadlines far off, so that only the table's fair share can let the newcomer in.
    let server = TestServer::start(|c| {
        c.server.max_connections = 200;
        c.server.header_read_timeout_seconds = 120.0;
        c.server.body_read_timeout_seconds = 120.0;
    })
    .await;
    let addr = server.addr;
    // 20 addresses, 15 connections each (300 for 200 places): ten send half a head, ten a
    // head and the first byte of a body.
    let mut attack = Vec::new();
    for round in 0..3 {
        for n in 2..22 {
            let from = format!("127.0.0.{n}");
            attack.extend(if n % 2 == 0 {
                half_open(addr, &from, 5).await
            } else {
                slow_bodies(addr, &from, 5).await
            });
        }
        println!("round {round}: {} connected", attack.len());
    }
    // The table is full: another connection from an attacking address is closed at once.
    let mut more = slow_bodies(addr, "127.0.0.2", 5).await;
    let refused = closed_by_server(&mut more, Duration::from_secs(5)).await;
    assert_eq!(refused, more.len(), "the table is full for the attackers");
    // A newcomer is served, again and again, each time taking an attacker's place.
    for i in 0..5 {
        let t = Instant::now();
        let status = fresh_health(addr).await;
        println!("newcomer {i}: {status:?} in {:?}", t.elapsed());
        assert_eq!(status, Ok(200), "newcomer {i}");
    }
    let held = attack.len();
    let closed = closed_by_server(&mut attack, Duration::from_secs(5)).await;
    println!("of {held} attacking connections, {closed} were closed");
    assert!(
        closed >= 100,
        "the attackers hold at most 200 places, so {held} - 200 or more are closed; {closed} were"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn session_containers_weigh_less_than_the_server_under_contention() {
    let server = TestServer::start(|c| c.limits.cpu_shares = 300).await;
    let session = server.python("").await;
    server
        .api()
        .wait_status(&session.id, &session.candidate, "ready")
        .await;
    let container = session_container(&server.api(), &session).await;
    let shares = docker_output(&["inspect", "-f", "{{.HostConfig.CpuShares}}", &container]);
    assert_eq!(shares, "300");
    let defaults = livecode::config::Config::defaults();
    assert!(
        defaults.limits.cpu_shares < 1024,
        "below Docker's default weight: {}",
        defaults.limits.cpu_shares
    );
}
