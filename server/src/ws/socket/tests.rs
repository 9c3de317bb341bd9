//! The socket loop driven over channels: no server, a real registry and store, and a
//! sandbox that never answers.

use std::convert::Infallible;

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

use super::*;
use crate::config::Config;
use crate::session::{NewSession, SessionRegistry};
use crate::store::SqliteStore;

/// A real registry and store, and a sandbox that never answers: enough for everything a
/// socket does but run code.
async fn state(dir: &std::path::Path) -> AppState {
    let config = Arc::new(Config::defaults());
    let store: Arc<dyn crate::store::Store> = Arc::new(SqliteStore::open(dir).expect("store"));
    let sessions = SessionRegistry::offline(store.clone(), config.clone());
    let (environments, tasks) = sessions.parts();
    AppState {
        config,
        sessions,
        questions: crate::state::Questions::new(store),
        environments,
        tasks,
        shutdown: tokio_util::sync::CancellationToken::new(),
        stop: tokio_util::sync::CancellationToken::new(),
    }
}

/// The next message that is not presence or status.
async fn next(rx: &mut mpsc::Receiver<Message>) -> Message {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a message in time")
            .expect("the loop is still sending");
        if let Message::Text(t) = &msg {
            let v: Value = serde_json::from_str(t.as_str()).expect("json");
            if v["type"] == "presence" || v["type"] == "status" {
                continue;
            }
        }
        return msg;
    }
}

async fn next_json(rx: &mut mpsc::Receiver<Message>) -> Value {
    match next(rx).await {
        Message::Text(t) => serde_json::from_str(t.as_str()).expect("json"),
        other => panic!("not text: {other:?}"),
    }
}

fn say(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

/// A new session, and a socket loop serving it over channels.
struct Harness {
    created: crate::session::CreatedSession,
    /// What the client sends.
    client: mpsc::Sender<Message>,
    /// What the server sends.
    server: mpsc::Receiver<Message>,
    serving: tokio::task::JoinHandle<()>,
}

async fn serve_over_channels(state: &AppState, start: Start) -> Harness {
    let created = state
        .sessions
        .create(NewSession {
            environment: Some("python".into()),
            code: Some(String::new()),
            created_by: "ip:test".into(),
            ..Default::default()
        })
        .await
        .expect("session");
    let (client, client_rx) = mpsc::channel::<Message>(16);
    let (server_tx, server) = mpsc::channel::<Message>(64);
    let incoming = futures_util::stream::unfold(client_rx, |mut rx| async move {
        rx.recv().await.map(|m| (Ok::<_, Infallible>(m), rx))
    });
    let serving = tokio::spawn(serve(
        state.clone(),
        created.session.clone(),
        PollSender::new(server_tx),
        Box::pin(incoming),
        start,
    ));
    Harness {
        created,
        client,
        server,
        serving,
    }
}

#[tokio::test]
async fn the_socket_loop_over_channels_authenticates_answers_and_edits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state(dir.path()).await;
    let start = Start {
        role: None,
        readonly: false,
        name: "Ada".into(),
        after: None,
    };
    let Harness {
        created,
        client,
        server: mut server_rx,
        serving,
    } = serve_over_channels(&state, start).await;

    client
        .send(say(
            json!({"type": "auth", "token": created.candidate_token}),
        ))
        .await
        .expect("send");
    let welcome = next_json(&mut server_rx).await;
    assert_eq!(
        (welcome["type"].as_str(), welcome["role"].as_str()),
        (Some("welcome"), Some("candidate")),
        "{welcome}"
    );
    assert!(welcome["run"].is_null(), "{welcome}");

    client
        .send(say(json!({"type": "ping"})))
        .await
        .expect("send");
    assert_eq!(next_json(&mut server_rx).await["type"], "pong");
    for (sent, code) in [
        (Message::Text("nonsense".into()), "INVALID_MESSAGE"),
        (say(json!({"type": "dance"})), "UNKNOWN_MESSAGE"),
        (Message::Binary(vec![1, 2].into()), "INVALID_MESSAGE"),
        (say(json!({"type": "notes", "text": "x"})), "FORBIDDEN"),
        (say(json!({"type": "kill"})), "NO_RUN"),
    ] {
        client.send(sent).await.expect("send");
        let error = next_json(&mut server_rx).await;
        assert_eq!(error["code"], code, "{error}");
    }

    let edit = json!({"type": "update", "version": 0, "updates": [{"client_id": "c", "changes": [[0, "x"]]}]});
    client.send(say(edit.clone())).await.expect("send");
    let updates = next_json(&mut server_rx).await;
    assert_eq!(
        (updates["type"].as_str(), updates["version"].as_u64()),
        (Some("updates"), Some(0)),
        "{updates}"
    );
    // The same edit again is on a stale version.
    client.send(say(edit)).await.expect("send");
    let rejected = next_json(&mut server_rx).await;
    assert_eq!(rejected["type"], "update_rejected", "{rejected}");
    assert_eq!(rejected["version"], 1, "{rejected}");
    assert_eq!(created.session.document().0, "x");

    // Server shutdown closes the socket with 1012.
    state.shutdown.cancel();
    match next(&mut server_rx).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code, close::RESTART),
        other => panic!("no close frame: {other:?}"),
    }
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the loop ends")
        .expect("no panic");
}
