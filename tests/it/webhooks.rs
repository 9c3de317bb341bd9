//! Webhooks: a receiver started by the test gets a session's events, signed, in order, and a
//! refused delivery again; `GET /sessions/{id}/events` lists the same events.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use crate::support::*;

const SECRET: &str = "a webhook secret";

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, String)>>>);

/// A receiver on a free port that refuses its first delivery (500) and takes the rest.
async fn receiver() -> (String, Received) {
    let got = Received::default();
    let store = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let store = store.clone();
            async move {
                let mut all = store.0.lock().unwrap();
                all.push((headers, body));
                if all.len() == 1 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// Whether `header` (`t=…,v1=…`) signs `body` under `secret`.
fn signed(header: &str, body: &str, secret: &str) -> bool {
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    hex::decode(v1).is_ok_and(|sig| mac.verify_slice(&sig).is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_gets_signed_events_in_order_and_the_api_lists_them() {
    let (url, got) = receiver().await;
    let server = TestServer::start(|c| {
        c.webhooks.url = url;
        c.webhooks.secret = SECRET.into();
    })
    .await;
    let api = server.api();
    let session = server.python("print('hooked')\n").await;
    let (id, token) = (&session.id, &session.interviewer);
    api.wait_status(id, &session.candidate, "ready").await;
    let ws = server.ws(id, &session.candidate).await;
    let ran = api.execute(id, token, json!({})).await;
    assert_eq!(ran["stdout"], "hooked\n");
    drop(ws);
    // The server notices the socket is gone before the session ends.
    let mut gone = false;
    for _ in 0..300 {
        let now = api.get_session(id, token).await;
        if now["participants"].as_array().is_some_and(|p| p.is_empty()) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the participant never left");
    let resp = api.delete(&format!("/sessions/{id}"), Some(token)).await;
    assert!(resp.status().is_success());

    let want = [
        "session.created",
        "participant.joined",
        "run.finished",
        "participant.left",
        "session.ended",
    ];
    // One more delivery than events: the first was refused and sent again.
    let all = wait_until(Duration::from_secs(30), || {
        got.0.lock().unwrap().len() > want.len()
    })
    .await;
    let received = got.0.lock().unwrap().clone();
    assert!(
        all,
        "deliveries: {:?}",
        received.iter().map(|r| r.1.clone()).collect::<Vec<_>>()
    );

    let delivery = |i: usize| {
        received[i].0["x-livecode-delivery"]
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(delivery(0), delivery(1), "the refused delivery came again");
    let bodies: Vec<Value> = received[1..]
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    let kinds: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, want, "in the order they happened");
    for (headers, body) in &received {
        let sig = headers["x-livecode-signature"].to_str().unwrap();
        assert!(signed(sig, body, SECRET), "signed: {sig}");
        // A receiver can tell a forgery: another key, or another body, does not match.
        assert!(!signed(sig, body, "another secret"));
        assert!(!signed(sig, &body.replacen('}', ",\"x\":1}", 1), SECRET));
        assert_eq!(headers["content-type"], "application/json");
    }
    assert!(bodies.iter().all(|b| b["session_id"] == id.as_str()));
    let run = &bodies[2]["data"];
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["exit_code"], 0, "{run}");
    assert_eq!(run["by"], "interviewer", "{run}");
    assert!(run["duration_ms"].is_u64(), "{run}");
    assert_eq!(bodies[0]["data"]["environment"], "python");
    assert_eq!(bodies[4]["data"]["reason"], "stopped");

    let listed = expect_json(
        api.get(&format!("/sessions/{id}/events"), Some(token))
            .await,
        200,
    )
    .await;
    let ids: Vec<&str> = listed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let delivered: Vec<&str> = bodies.iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids, delivered, "the API lists what was delivered");
    // Candidates do not read the audit trail.
    check_error(
        api.get(&format!("/sessions/{id}/events"), Some(&session.candidate))
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
}

/// The audit-trail flood of the hardening issue: sixteen observer sockets and the candidate
/// toggle focus as fast as their sockets allow. Observers' focus is not recorded, the
/// candidate's is stored at most once per interval with its final state kept, and the
/// lifecycle events (`run.finished`, `session.ended`) are delivered promptly all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_focus_flood_costs_little_and_never_holds_back_lifecycle_events() {
    const FLOOD: Duration = Duration::from_secs(6);
    let (url, got) = receiver().await;
    let server = TestServer::start(|c| {
        c.webhooks.url = url;
        c.webhooks.secret = SECRET.into();
    })
    .await;
    let api = server.api();
    let session = server.python("print('after the flood')\n").await;
    let (id, token) = (session.id.clone(), session.interviewer.clone());
    api.wait_status(&id, &session.candidate, "ready").await;
    let mut observers = Vec::new();
    for _ in 0..16 {
        let (ws, welcome) = server.connect(&id, &token, "&readonly=1").await;
        assert_eq!(welcome["role"], "observer");
        observers.push(ws);
    }
    let (candidate, _) = server.connect(&id, &session.candidate, "").await;
    let flooders: Vec<_> = observers
        .into_iter()
        .chain([candidate])
        .map(|mut ws| {
            tokio::spawn(async move {
                let (mut sent, until) = (0usize, std::time::Instant::now() + FLOOD);
                while std::time::Instant::now() < until {
                    send(&mut ws, json!({"type": "focus", "focused": sent % 2 == 1})).await;
                    sent += 1;
                }
                // The final state: away.
                send(&mut ws, json!({"type": "focus", "focused": false})).await;
                (sent + 1, ws)
            })
        })
        .collect();
    let mut sent = 0;
    let mut sockets = Vec::new();
    for f in flooders {
        let (n, ws) = f.await.expect("flooder");
        sent += n;
        sockets.push(ws);
    }
    // The trailing write of the final state lands within the interval.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ran = api.execute(&id, &token, json!({})).await;
    assert_eq!(ran["stdout"], "after the flood\n");
    let ended_at = std::time::Instant::now();
    let resp = api.delete(&format!("/sessions/{id}"), Some(&token)).await;
    assert!(resp.status().is_success());
    let delivered = |kind: &str| {
        got.0
            .lock()
            .unwrap()
            .iter()
            .any(|(h, _)| h["x-livecode-event"] == kind)
    };
    assert!(
        wait_until(Duration::from_secs(30), || delivered("run.finished")
            && delivered("session.ended"))
        .await,
        "lifecycle events were not delivered"
    );
    let lifecycle_ms = ended_at.elapsed().as_millis();
    drop(sockets);

    let events = expect_json(
        api.get(&format!("/sessions/{id}/events"), Some(&token))
            .await,
        200,
    )
    .await;
    let all = events["events"].as_array().expect("events");
    let focus: Vec<&Value> = all
        .iter()
        .filter(|e| e["type"] == "participant.focus")
        .collect();
    let bytes = events.to_string().len();
    let deliveries = got.0.lock().unwrap().len();
    println!(
        "focus flood: {sent} focus messages from 16 observers and the candidate in {FLOOD:?}; \
         stored {} events ({} participant.focus), {bytes} B of events; {deliveries} webhook \
         deliveries; session.ended delivered {lifecycle_ms} ms after the end",
        all.len(),
        focus.len()
    );
    assert!(
        focus.iter().all(|e| e["data"]["role"] == "candidate"),
        "only the candidate's focus is recorded: {focus:?}"
    );
    // At most one per 2 s interval (and the first at once).
    assert!(!focus.is_empty() && focus.len() <= 6, "{}", focus.len());
    assert_eq!(
        focus.last().expect("one")["data"]["focused"],
        false,
        "the final state is stored"
    );
    assert!(all.len() < 100, "{} events", all.len());
}
