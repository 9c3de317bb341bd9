//! Hardening benchmark: the attacks of the hardening issue against the real server binary,
//! with the figures each one costs it. Prints, asserts nothing. Run with
//! `cargo bench --bench hardening` (Docker and the python and bash images must be there).
//!
//! Set `LIVECODE_BASELINE_BIN` to another build of `livecode` (e.g. an older commit's) to run
//! the same attacks against it in the same run, on the same machine: the table then shows
//! both, so the figures compare even on a noisy machine.
//!
//! Memory is the server process's own resident set (`VmRSS`), read from `/proc`.

use std::net::SocketAddr;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

mod support;

use support::{open_socket, rss_mib, start_server, Server, SpawnedServer, Stats, WsStream};

/// Reads frames until one whose text contains `needle`, or `wait` passes.
async fn until(ws: &mut WsStream, needle: &str, wait: Duration) -> Option<String> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.as_str().contains(needle) => {
                return Some(t.to_string())
            }
            Ok(Some(Ok(Message::Close(frame)))) => return Some(format!("closed {frame:?}")),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// A socket of `token` with `extra_query`, once it has its `welcome`; `None` if refused.
async fn socket(
    server: &SpawnedServer,
    id: &str,
    token: &str,
    extra_query: &str,
) -> Option<WsStream> {
    let url = server.ws_url(id, &format!("?token={token}{extra_query}"));
    open_socket(&url).await.ok().map(|(ws, _)| ws)
}

/// A session whose document is `code` (python), and its candidate's socket.
async fn candidate(server: &SpawnedServer, code: &str) -> WsStream {
    let session = server.python(code).await;
    server.ws(&session.id, &session.candidate).await
}

/// 100 updates whose change set is 280,000 zero-length keeps, each on the version the server
/// is at: RSS growth.
async fn no_op_updates(bin: &str) -> String {
    let server = start_server(
        bin,
        &[("LIVECODE_SOCKETS__BYTES_PER_SECOND", "1000000000")],
        None,
    )
    .await;
    let mut ws = candidate(&server, "print(1)").await;
    let zeros = "0,".repeat(280_000);
    let before = rss_mib(&server);
    let mut peak = before;
    let mut version = 0;
    for _ in 0..100 {
        let flood = format!(
            r#"{{"type":"update","version":{version},"updates":[{{"client_id":"x","changes":[{zeros}8]}}]}}"#
        );
        if ws.send(Message::Text(flood.into())).await.is_err() {
            break;
        }
        // A server that takes them answers `updates` (the document moves on a version each
        // time, though its text does not); one that refuses them answers `error`.
        let answer = until(&mut ws, "\"type\":\"", Duration::from_secs(30)).await;
        if answer.is_some_and(|a| a.contains("\"type\":\"updates\"")) {
            version += 1;
        }
        peak = peak.max(rss_mib(&server));
    }
    format!(
        "+{:.1} MiB (peak +{:.1}); {version} accepted",
        rss_mib(&server) - before,
        peak - before
    )
}

/// 100 observer sockets that never read, through five 1 MiB output floods: RSS growth.
async fn slow_sockets(bin: &str) -> String {
    let caps = [
        ("LIVECODE_SOCKETS__MAX_PER_SESSION", "200"),
        ("LIVECODE_SOCKETS__MAX_PER_TOKEN", "200"),
    ];
    let server = start_server(bin, &caps, None).await;
    let code = "import sys\nsys.stdout.write('x' * 2_000_000)\n";
    let session = server.python(code).await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    let before = rss_mib(&server);
    let mut observers = Vec::new();
    for _ in 0..100 {
        observers.extend(socket(&server, &session.id, &session.interviewer, "&readonly=1").await);
    }
    let mut peak = rss_mib(&server);
    for _ in 0..5 {
        let _ = ws
            .send(Message::Text(json!({"type": "run"}).to_string().into()))
            .await;
        until(&mut ws, "run_finished", Duration::from_secs(60)).await;
        peak = peak.max(rss_mib(&server));
    }
    format!("+{:.1} MiB ({} sockets)", peak - before, observers.len())
}

/// Opens `count` connections from 127.0.0.2 that send half a request.
async fn half_open(port: u16, count: usize) -> Vec<tokio::net::TcpStream> {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut held = Vec::new();
    for _ in 0..count {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.2:0".parse().expect("addr"))
            .expect("bind");
        if let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_millis(200), socket.connect(addr)).await
        {
            let _ = s
                .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
                .await;
            held.push(s);
        }
    }
    held
}

/// 3,000 half-open connections under a 1024-file limit: can a new client be served, and does
/// a run on an open session work?
async fn half_open_connections(bin: &str) -> String {
    let server = start_server(bin, &[], Some(1024)).await;
    let mut ws = candidate(&server, "print('ok')").await;
    let held = half_open(server.port, 3000).await;
    let t = Instant::now();
    let served = matches!(
        server.http.get(server.api().url("/health")).timeout(Duration::from_secs(5)).send().await,
        Ok(r) if r.status().is_success()
    );
    let served = if served {
        format!("served in {} ms", t.elapsed().as_millis())
    } else {
        "not served in 5 s".into()
    };
    let _ = ws
        .send(Message::Text(json!({"type": "run"}).to_string().into()))
        .await;
    let run = match until(&mut ws, "run_finished", Duration::from_secs(20)).await {
        Some(t) if t.contains("\"completed\"") => "run works",
        Some(_) => "run fails",
        None => "run hangs",
    };
    drop(held);
    format!("{served}; {run}")
}

/// A read-only observer floods cursor messages for 5 s: is the candidate disconnected?
async fn cursor_flood(bin: &str) -> String {
    let server = start_server(bin, &[], None).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    let (observer, _) = server
        .connect(&session.id, &session.interviewer, "&readonly=1")
        .await;
    let (mut sink, mut reads) = observer.split();
    tokio::spawn(async move { while reads.next().await.is_some() {} });
    let flood = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut n = 0u64;
        loop {
            let m =
                json!({"type": "cursor", "anchor": n % 7, "head": n % 7, "version": 0}).to_string();
            match tokio::time::timeout_at(deadline.into(), sink.send(Message::Text(m.into()))).await
            {
                Ok(Ok(())) => n += 1,
                _ => return n,
            }
        }
    });
    let started = Instant::now();
    let (mut cursors, mut closed) = (0, None);
    while started.elapsed() < Duration::from_secs(6) && closed.is_none() {
        match tokio::time::timeout(Duration::from_millis(500), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.as_str().contains("\"cursor\"") => cursors += 1,
            Ok(Some(Ok(Message::Close(frame)))) => {
                closed = Some(frame.map_or(0, |f| u16::from(f.code)))
            }
            Ok(None | Some(Err(_))) => closed = Some(0),
            _ => {}
        }
    }
    let sent = flood.await.unwrap_or(0);
    match closed {
        Some(code) => format!("{sent} sent; candidate closed ({code}) after {cursors} cursors"),
        None => format!("{sent} sent; candidate stayed, {cursors} cursors"),
    }
}

/// 1,000 connections from five addresses each announce a 100-byte body and send 60 bytes of
/// it, one byte per write with a pause between rounds (so each byte is its own read): RSS
/// before, once the 60 kB are in, and 3 s after the connections closed.
async fn slow_body_memory(bin: &str) -> String {
    let server = start_server(bin, &[], None).await;
    let addr: SocketAddr = format!("127.0.0.1:{}", server.port).parse().expect("addr");
    let before = rss_mib(&server);
    let mut held = Vec::new();
    for i in 0..1000 {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        let from = format!("127.0.0.{}:0", 2 + i % 5);
        socket.bind(from.parse().expect("addr")).expect("bind");
        if let Ok(mut s) = socket.connect(addr).await {
            let head = "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\n\
                        Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
            if s.write_all(head.as_bytes()).await.is_ok() {
                held.push(s);
            }
        }
    }
    let started = Instant::now();
    let mut sent = 0usize;
    for _ in 0..60 {
        for s in held.iter_mut() {
            if s.write_all(b" ").await.is_ok() {
                sent += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sending = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = rss_mib(&server);
    let connections = held.len();
    drop(held);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_mib(&server);
    format!(
        "{before:.1} → {during:.1} → {after:.1} MiB ({connections} connections, {sent} bytes in {:.1} s)",
        sending.as_secs_f64()
    )
}

/// `POST execute` of `code` at `url` (a session's execute); the run's result, or `Null` when it failed.
async fn execute(http: &reqwest::Client, url: &str, token: &str, code: &str) -> serde_json::Value {
    let resp = http
        .post(url)
        .bearer_auth(token)
        .json(&json!({"code": code}))
        .timeout(Duration::from_secs(120))
        .send()
        .await;
    match resp {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    }
}

/// A victim session's CPU-bound run (timed inside its container) and `GET /health` beside 0,
/// 10 and 20 sessions spinning the CPU (each at `limits.cpus`, 0.5 by default), with the
/// containers' CPU weight at `shares`.
async fn neighbours_at(bin: &str, shares: &str) -> String {
    let env = [
        ("LIVECODE_LIMITS__CPU_SHARES", shares),
        ("LIVECODE_QUOTAS__MAX_LIVE_SESSIONS_PER_IP", "0"),
        ("LIVECODE_QUOTAS__SESSIONS_PER_MINUTE", "0"),
        ("LIVECODE_POOL__DEFAULT_SIZE", "0"),
    ];
    let server = start_server(bin, &env, None).await;
    let victim_code =
        "import time\nt = time.perf_counter()\nsum(i * i for i in range(1_000_000))\n\
                       print(round((time.perf_counter() - t) * 1000))\n";
    let spin = "while True:\n    pass\n";
    let victim = server.session(json!({"environment": "python"})).await;
    let token = &victim.candidate;
    let mut spinners = Vec::new();
    let stop = tokio_util::sync::CancellationToken::new();
    let victim_url = server
        .api()
        .url(&format!("/sessions/{}/execute", victim.id));
    let mut out = Vec::new();
    for target in [0usize, 10, 20] {
        while spinners.len() < target {
            let neighbour = server.session(json!({"environment": "python"})).await;
            let (http, stop, t) = (server.http.clone(), stop.clone(), neighbour.candidate);
            let url = server
                .api()
                .url(&format!("/sessions/{}/execute", neighbour.id));
            spinners.push(tokio::spawn(async move {
                // Each run spins until the run timeout; then the next one starts.
                while !stop.is_cancelled() {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = execute(&http, &url, &t, spin) => {}
                    }
                }
            }));
        }
        // Let the neighbours' containers start spinning.
        tokio::time::sleep(Duration::from_secs(if target == 0 { 1 } else { 5 })).await;
        let (mut runs, mut health) = (Vec::<f64>::new(), Vec::<f64>::new());
        for _ in 0..7 {
            let ran = execute(&server.http, &victim_url, token, victim_code).await;
            if let Some(ms) = ran["stdout"]
                .as_str()
                .and_then(|s| s.trim().parse::<f64>().ok())
            {
                runs.push(ms);
            }
            let t = Instant::now();
            let _ = server.http.get(server.api().url("/health")).send().await;
            health.push(t.elapsed().as_secs_f64() * 1e3);
        }
        if runs.is_empty() {
            out.push(format!("{target}: no run"));
            continue;
        }
        let (r, h) = (Stats::of_ms(&runs), Stats::of_ms(&health));
        let (r, h) = (r.expect("runs"), h.expect("health checks"));
        let ((r50, r95), (h50, h95)) = ((r.p50, r.p95), (h.p50, h.p95));
        out.push(format!(
            "{target} spinning: run p50 {r50:.0} ms p95 {r95:.0} ms, /health p50 {h50:.1} ms p95 {h95:.1} ms"
        ));
    }
    stop.cancel();
    for s in spinners {
        let _ = s.await;
    }
    out.join("; ")
}

/// Neighbours with the configured default weight (`limits.cpu_shares`, 256).
async fn neighbours(bin: &str) -> String {
    neighbours_at(bin, "256").await
}

/// Neighbours at Docker's default weight (1024), the baseline for the one above.
async fn neighbours_docker_weight(bin: &str) -> String {
    neighbours_at(bin, "1024").await
}

/// One anonymous client creates sessions until refused (at most 60 tries).
async fn session_cap(bin: &str) -> String {
    let server = start_server(bin, &[], None).await;
    let mut created = 0;
    for _ in 0..60 {
        let r = server
            .http
            .post(server.api().url("/sessions"))
            .json(&json!({"environment": "bash"}))
            .send()
            .await;
        match r {
            Ok(r) if r.status().as_u16() == 201 => created += 1,
            Ok(r) => return format!("{created} created, then {}", r.status().as_u16()),
            Err(e) => return format!("{created} created, then {e}"),
        }
    }
    format!("{created} created, none refused")
}

/// 2,000 health checks, 100 at a time: how long they take (each was a Docker call).
async fn health_checks(bin: &str) -> String {
    let server = start_server(bin, &[], None).await;
    let mut per_batch = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let calls = (0..100).map(|_| server.http.get(server.api().url("/health")).send());
        futures_util::future::join_all(calls).await;
        per_batch.push(t.elapsed());
    }
    per_batch.sort();
    format!(
        "p50 {:.1} ms, p95 {:.1} ms per 100",
        per_batch[10].as_secs_f64() * 1e3,
        per_batch[18].as_secs_f64() * 1e3
    )
}

#[tokio::main]
async fn main() {
    let _ = rlimit::increase_nofile_limit(16_384);
    let new = env!("CARGO_BIN_EXE_livecode").to_string();
    let baseline = std::env::var("LIVECODE_BASELINE_BIN").ok();
    let mut rows: Vec<(&str, &str, String, Option<String>)> = Vec::new();
    // LIVECODE_BENCH_ONLY=<part of a name> runs only the attacks whose name has it.
    let only = std::env::var("LIVECODE_BENCH_ONLY").unwrap_or_default();
    macro_rules! attack {
        ($name:expr, $target:expr, $f:ident) => {{
            if !$name.contains(only.as_str()) {
                eprintln!("{}: skipped", $name);
            } else {
                let after = $f(&new).await;
                let before = match &baseline {
                    Some(bin) => Some($f(bin).await),
                    None => None,
                };
                eprintln!("{}: {after}", $name);
                rows.push(($name, $target, after, before));
            }
        }};
    }
    attack!(
        "100 no-op updates (560 kB each): RSS",
        "< 10 MB",
        no_op_updates
    );
    attack!(
        "100 slow sockets, five 1 MiB floods: RSS",
        "< 40 MB",
        slow_sockets
    );
    attack!(
        "3,000 half-open connections, nofile 1024",
        "serves; runs work",
        half_open_connections
    );
    attack!(
        "60 kB of slow bodies, a byte per read: RSS before → during → after",
        "no growth kept",
        slow_body_memory
    );
    attack!(
        "a victim's run beside 0, 10, 20 spinning sessions, cpu_shares 1024",
        "the server answers; runs share the host",
        neighbours_docker_weight
    );
    attack!(
        "a victim's run beside 0, 10, 20 spinning sessions, cpu_shares 256",
        "the server answers; runs share the host",
        neighbours
    );
    attack!(
        "observer cursor flood (5 s)",
        "nobody disconnected",
        cursor_flood
    );
    attack!(
        "one anonymous client creating sessions",
        "refused before 50",
        session_cap
    );
    attack!("2,000 health checks", "no engine call each", health_checks);

    println!();
    if baseline.is_some() {
        println!("| attack | target | baseline (LIVECODE_BASELINE_BIN) | this build |");
        println!("|---|---|---|---|");
    } else {
        println!("| attack | target | this build |");
        println!("|---|---|---|");
    }
    for (name, target, after, before) in rows {
        match before {
            Some(before) => println!("| {name} | {target} | {before} | {after} |"),
            None => println!("| {name} | {target} | {after} |"),
        }
    }
}
