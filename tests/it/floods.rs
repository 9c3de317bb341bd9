//! Floods from a candidate, an observer or an anonymous client, and sockets that stop reading:
//! each costs the server little memory and its neighbours nothing. Memory is read off the
//! server's own process (the binary, spawned), so the figures are the server's alone; each
//! test prints them. Bounds asserted here are generous (flaky machines); `cargo bench --bench
//! hardening` prints the figures beside the targets.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
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
