//! Connections that hold the server's places without finishing a request: half-open ones,
//! bodies sent a byte at a time, a connection table held full from twenty addresses. The
//! server still serves newcomers and runs code, also under an open-file limit of 1024; each
//! test prints what it saw.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// A connection to `server` from the local address `from` (a loopback alias); `None` when it
/// is refused (the backlog is full).
async fn connect_from(server: SocketAddr, from: &str) -> Option<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{from}:0").parse().expect("addr"))
        .expect("bind");
    socket.connect(server).await.ok()
}

/// Opens `count` connections from `from` that send half a request and then nothing.
async fn half_open(server: SocketAddr, from: &str, count: usize) -> Vec<tokio::net::TcpStream> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        if let Some(mut stream) = connect_from(server, from).await {
            let _ = stream
                .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
                .await;
            held.push(stream);
        }
    }
    held
}

/// Opens `count` connections from `from` that each send a request's head announcing a body
/// of 1,000 bytes, then one byte of it, then nothing (a body sent at a byte a minute).
async fn slow_bodies(server: SocketAddr, from: &str, count: usize) -> Vec<tokio::net::TcpStream> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        if let Some(mut stream) = connect_from(server, from).await {
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
    let answer = raw_error_answer(&mut reads).await;
    let took = started.elapsed();
    trickle.abort();
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
