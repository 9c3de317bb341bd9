//! A socket fuzzer against the real server (the binary, so its memory is its own): thousands
//! of random and malformed frames from a candidate and an observer. The server must stay up,
//! answer every frame or close with a reason, keep its memory bounded, and the session must
//! still work afterwards with its document consistent.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

const FRAMES: usize = 4000;

/// Random text: ASCII, multi-byte characters, quotes and brackets, control characters.
fn junk(rng: &mut StdRng, max: usize) -> String {
    const PIECES: &[&str] = &[
        "a", "0", "-1", "é", "🎉", "\"", "\\", "{", "}", "[", "]", ",", ":", "\n", "\r\n", "\u{0}",
        " ", "null", "true", "1e309", "type",
    ];
    let n = rng.random_range(0..max);
    (0..n)
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

/// A random JSON value, sometimes deeply nested or huge in number.
fn value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..9) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random::<i64>()),
        3 => json!(rng.random::<u64>()),
        4 => json!(rng.random::<f64>() * 1e300),
        5 => json!(junk(rng, 40)),
        6 if depth < 4 => Value::Array(
            (0..rng.random_range(0..6))
                .map(|_| value(rng, depth + 1))
                .collect(),
        ),
        7 if depth < 4 => {
            let mut map = serde_json::Map::new();
            for _ in 0..rng.random_range(0..5) {
                map.insert(junk(rng, 8), value(rng, depth + 1));
            }
            Value::Object(map)
        }
        _ => json!(rng.random_range(0u64..20)),
    }
}

/// One frame: a message of a real type with random fields, a plausible update or cursor,
/// nonsense, or a nesting bomb.
fn frame(rng: &mut StdRng, doc_len: usize) -> Message {
    const TYPES: &[&str] = &[
        "auth",
        "run",
        "stdin",
        "stdin_eof",
        "kill",
        "ping",
        "update",
        "pull",
        "cursor",
        "notes",
        "end_session",
        "dance",
        "",
    ];
    let text = match rng.random_range(0..10) {
        0 => junk(rng, 200),
        1 => format!("{}{}", "[".repeat(rng.random_range(1..5000)), "1"),
        2 => return Message::Binary(junk(rng, 100).into_bytes().into()),
        3 => {
            // A change set that is nearly right: lengths around the document's.
            let keep = rng.random_range(0..doc_len + 3);
            let changes = match rng.random_range(0..4) {
                0 => json!([keep, [0, junk(rng, 10)]]),
                1 => json!([[keep, junk(rng, 10)]]),
                2 => json!([0, keep, [0]]),
                _ => value(rng, 0),
            };
            json!({"type": "update", "version": rng.random_range(0u64..5),
                   "updates": [{"client_id": junk(rng, 70), "changes": changes}]})
            .to_string()
        }
        4 => json!({"type": "cursor", "anchor": value(rng, 3), "head": rng.random::<u64>(), "version": 0})
            .to_string(),
        5 => json!({"type": "run", "files": {junk(rng, 12): junk(rng, 20)}, "stdin": value(rng, 2)}).to_string(),
        _ => {
            let mut map = serde_json::Map::new();
            map.insert("type".into(), json!(TYPES[rng.random_range(0..TYPES.len())]));
            for _ in 0..rng.random_range(0..4) {
                map.insert(junk(rng, 10), value(rng, 0));
            }
            Value::Object(map).to_string()
        }
    };
    Message::Text(text.into())
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_random_frames_leave_the_server_up_and_the_session_working() {
    let mut server = SpawnedServer::start(
        // The budget would make this minutes long; it is tested on its own.
        &[
            ("LIVECODE_SOCKETS__MESSAGES_PER_SECOND", "0"),
            ("LIVECODE_QUOTAS__RUNS_PER_MINUTE", "0"),
        ],
        None,
    )
    .await;
    let session = server.python("print('alive')").await;
    let seed: u64 = std::env::var("LIVECODE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("fuzz seed {seed} (LIVECODE_FUZZ_SEED={seed} repeats this run)");
    let mut rng = StdRng::seed_from_u64(seed);

    let before = server.rss_kib();
    let mut peak = before;
    let (mut answered, mut closes, mut sent) = (0usize, Vec::new(), 0usize);
    let started = Instant::now();
    'sockets: while sent < FRAMES {
        let query = if rng.random_bool(0.8) {
            format!("?token={}", session.candidate)
        } else {
            format!("?token={}&readonly=1", session.interviewer)
        };
        let (ws, _) = tokio_tungstenite::connect_async(server.ws_url(&session.id, &query))
            .await
            .expect("the server still accepts sockets");
        let (mut sink, mut stream) = ws.split();
        // Reads everything the server says until it closes; counts answers.
        let reader = tokio::spawn(async move {
            let (mut n, mut close) = (0usize, None);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(Message::Text(_)) => n += 1,
                    Ok(Message::Close(frame)) => {
                        close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            (n, close)
        });
        for _ in 0..rng.random_range(50..600) {
            let message = frame(&mut rng, 14);
            sent += 1;
            if sink.send(message).await.is_err() {
                // The server closed this one (e.g. an end_session from an interviewer link is
                // refused, but a socket may be told to go): open another.
                break;
            }
            if sent % 200 == 0 {
                peak = peak.max(server.rss_kib());
            }
            if sent >= FRAMES {
                break;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
        match tokio::time::timeout(DEFAULT_WAIT, reader).await {
            Ok(Ok((n, close))) => {
                answered += n;
                if let Some(close) = close {
                    closes.push(close);
                }
            }
            _ => {
                assert!(server.alive(), "the server died\n{}", server.log_text());
                continue 'sockets;
            }
        }
        assert!(server.alive(), "the server died\n{}", server.log_text());
    }
    let after = server.rss_kib();
    println!(
        "{sent} fuzz frames in {:.1} s: {answered} answers; closes {:?}; server RSS {:.1} → peak {:.1}, end {:.1} MiB",
        started.elapsed().as_secs_f64(),
        closes.iter().filter(|c| c.0 != 1000).collect::<Vec<_>>(),
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        after as f64 / 1024.0,
    );
    assert!(
        answered > FRAMES / 4,
        "most frames get an answer: {answered}"
    );
    assert!(
        peak.saturating_sub(before) < 96 * 1024,
        "memory stayed bounded"
    );

    // The session still works: its health, a run, and an edit on the document as it stands.
    assert_eq!(server.api().get("/health", None).await.status(), 200);
    let (mut ws, _) = tokio_tungstenite::connect_async(
        server.ws_url(&session.id, &format!("?token={}", session.interviewer)),
    )
    .await
    .expect("socket");
    let welcome = next_of_type(&mut ws, "welcome").await;
    let doc = welcome["document"].as_str().expect("document").to_string();
    let version = welcome["version"].as_u64().expect("version");
    // Whatever the fuzz typed in, the server's copy is what its history replays to.
    let history = server.api().history(&session).await;
    assert_eq!(history["version"], version, "{history}");
    let len = doc.encode_utf16().count();
    send(
        &mut ws,
        json!({"type": "update", "version": version,
        "updates": [{"client_id": "check", "changes": [[len, "print('alive')"]]}]}),
    )
    .await;
    next_of_type_within(&mut ws, "updates", Duration::from_secs(30)).await;
    let deadline = Instant::now() + DEFAULT_WAIT;
    send(&mut ws, json!({"type": "run", "restart": true})).await;
    let run = loop {
        match next_frame(&mut ws, deadline).await {
            Frame::Json(v) if v["type"] == "run_started" => break collect_run(&mut ws).await,
            Frame::Json(_) => continue,
            other => panic!("no run: {other:?}"),
        }
    };
    assert_eq!(run.stdout, "alive\n", "{}", run.describe());
}
