//! The balancer: the real nginx with `deploy/nginx.conf` ([`Nginx`]) in front of three
//! stand-in replicas on loopback. Each answers its own name on any path, with the headers it
//! was sent, and on a socket greets with its name and echoes what it hears prefixed with it.
//! Needs nginx (`scripts/ensure-nginx.sh`), not Docker.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message as AxumMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{future, stream, SinkExt, StreamExt};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::support::{Nginx, WsStream};

/// How long a test waits for one answer or frame.
const WAIT: Duration = Duration::from_secs(10);

/// What a flood answer sends in all: far more than the sockets between a replica and a
/// client hold (a few MiB each on loopback).
const FLOOD_BYTES: usize = 128 << 20;

/// A stand-in replica on 127.0.0.1.
struct Replica {
    addr: SocketAddr,
    /// While set, plain requests are answered 503 (the replica's engine is down).
    unavailable: Arc<AtomicBool>,
    /// Lets a streamed answer (`x-test-stream`) send its second part.
    release: Arc<Notify>,
    /// Bytes of flood (`x-test-flood`) handed to the connection so far.
    flooded: Arc<AtomicUsize>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Shared {
    name: &'static str,
    unavailable: Arc<AtomicBool>,
    release: Arc<Notify>,
    flooded: Arc<AtomicUsize>,
}

impl Replica {
    async fn start(name: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a replica");
        let addr = listener.local_addr().expect("replica address");
        let unavailable = Arc::new(AtomicBool::new(false));
        let release = Arc::new(Notify::new());
        let flooded = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new().fallback(answer).with_state(Shared {
            name,
            unavailable: unavailable.clone(),
            release: release.clone(),
            flooded: flooded.clone(),
        });
        let stop = CancellationToken::new();
        let serve =
            axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
        let task = tokio::spawn(async move { serve.await.expect("the replica serves") });
        Self {
            addr,
            unavailable,
            release,
            flooded,
            stop,
            task,
        }
    }

    /// Stops it as a dead replica: its port refuses, its idle connections are closed.
    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the replica stops")
            .expect("the replica's task");
    }
}

/// Any path: a socket upgrade is echoed; with `x-test-stream`, the name is sent at once and
/// the rest once released; with `x-test-flood`, [`FLOOD_BYTES`] as fast as they are taken;
/// anything else gets the name and what was seen.
async fn answer(
    State(shared): State<Shared>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Ok(upgrade) = upgrade {
        return upgrade.on_upgrade(move |socket| echo(socket, shared.name));
    }
    if headers.contains_key("x-test-stream") {
        let first = stream::once(future::ready(Ok::<_, Infallible>(Bytes::from(shared.name))));
        let rest = stream::once(async move {
            shared.release.notified().await;
            Ok(Bytes::from_static(b" done"))
        });
        return Body::from_stream(first.chain(rest)).into_response();
    }
    if headers.contains_key("x-test-flood") {
        static CHUNK: [u8; 1 << 20] = [b'x'; 1 << 20];
        let flood = stream::unfold(shared.flooded, |flooded| async move {
            if flooded.load(Ordering::SeqCst) >= FLOOD_BYTES {
                return None;
            }
            flooded.fetch_add(CHUNK.len(), Ordering::SeqCst);
            Some((Ok::<_, Infallible>(Bytes::from_static(&CHUNK)), flooded))
        });
        return Body::from_stream(flood).into_response();
    }
    let status = if shared.unavailable.load(Ordering::SeqCst) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let seen = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    (
        status,
        [
            ("x-seen-host", seen("host")),
            ("x-seen-forwarded-for", seen("x-forwarded-for")),
            ("x-seen-forwarded-proto", seen("x-forwarded-proto")),
            ("x-seen-body-bytes", body.len().to_string()),
        ],
        shared.name,
    )
        .into_response()
}

async fn echo(mut socket: WebSocket, name: &'static str) {
    let hello = AxumMessage::Text(format!("{name}: welcome").into());
    if socket.send(hello).await.is_err() {
        return;
    }
    while let Some(Ok(message)) = socket.recv().await {
        let AxumMessage::Text(text) = message else {
            continue;
        };
        let reply = AxumMessage::Text(format!("{name}: {}", text.as_str()).into());
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}

/// nginx in front of replicas `a`, `b` and `c`.
struct Front {
    nginx: Nginx,
    http: reqwest::Client,
    replicas: HashMap<&'static str, Replica>,
}

/// A session's paths that must land on one replica (its socket aside).
fn session_paths(id: Uuid) -> Vec<(reqwest::Method, String)> {
    use reqwest::Method;
    vec![
        (Method::GET, format!("/api/v1/sessions/{id}")),
        (Method::DELETE, format!("/api/v1/sessions/{id}")),
        (Method::POST, format!("/api/v1/sessions/{id}/execute")),
        (Method::GET, format!("/api/v1/sessions/{id}/history")),
        (Method::POST, format!("/api/v1/sessions/{id}/notes")),
        (Method::GET, format!("/s/{id}")),
        (Method::GET, format!("/embed/{id}")),
    ]
}

impl Front {
    async fn start() -> Self {
        let mut replicas = HashMap::new();
        for name in ["a", "b", "c"] {
            replicas.insert(name, Replica::start(name).await);
        }
        let mut addrs: Vec<SocketAddr> = replicas.values().map(|r| r.addr).collect();
        addrs.sort();
        Self {
            nginx: Nginx::start(&addrs),
            http: reqwest::Client::builder()
                .timeout(WAIT)
                .build()
                .expect("reqwest client"),
            replicas,
        }
    }

    /// The status and the answering replica's name (its body), with what it was sent.
    async fn send(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.http
            .request(method.clone(), format!("{}{path}", self.nginx.url()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.nginx.error_log()))
    }

    /// The replica that answered `method path`, asserting the status.
    async fn who(&self, method: reqwest::Method, path: &str, status: u16) -> String {
        let resp = self.send(method.clone(), path).await;
        let got = resp.status().as_u16();
        let name = resp.text().await.expect("body");
        assert_eq!(
            got,
            status,
            "{method} {path}: answered by {name:?}\n{}",
            self.nginx.error_log()
        );
        name
    }

    async fn socket(&self, id: Uuid) -> (WsStream, String) {
        let url = format!("ws://{}/api/v1/sessions/{id}/ws", self.nginx.addr());
        let (mut ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(&url))
            .await
            .expect("the upgrade is answered in time")
            .unwrap_or_else(|e| panic!("upgrade at {url}: {e}\n{}", self.nginx.error_log()));
        let welcome = next_text(&mut ws).await;
        let name = welcome
            .strip_suffix(": welcome")
            .unwrap_or_else(|| panic!("a greeting, not {welcome:?}"))
            .to_string();
        (ws, name)
    }

    /// The one replica every path of session `id`, its socket included, lands on.
    async fn landing(&self, id: Uuid) -> String {
        let (_, name) = self.socket(id).await;
        for (method, path) in session_paths(id) {
            let got = self.who(method.clone(), &path, 200).await;
            assert_eq!(got, name, "{method} {path} left session {id}'s replica");
        }
        name
    }
}

async fn next_text(ws: &mut WsStream) -> String {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = frame {
            return text.to_string();
        }
    }
}

#[tokio::test]
async fn a_session_lands_on_one_replica_for_its_rest_socket_and_pages() {
    let front = Front::start().await;
    for _ in 0..5 {
        let id = Uuid::new_v4();
        let first = front.landing(id).await;
        assert_eq!(front.landing(id).await, first, "session {id} moved");
    }
}

#[tokio::test]
async fn thirty_sessions_spread_over_the_replicas() {
    let front = Front::start().await;
    let mut used = BTreeSet::new();
    for _ in 0..30 {
        let id = Uuid::new_v4();
        used.insert(
            front
                .who(reqwest::Method::GET, &format!("/api/v1/sessions/{id}"), 200)
                .await,
        );
    }
    assert!(used.len() >= 2, "30 sessions all landed on {used:?}");
}

#[tokio::test]
async fn a_socket_streams_both_ways_through_nginx() {
    let front = Front::start().await;
    let id = Uuid::new_v4();
    let rest = front
        .who(reqwest::Method::GET, &format!("/api/v1/sessions/{id}"), 200)
        .await;
    let (mut ws, name) = front.socket(id).await;
    assert_eq!(
        name, rest,
        "the socket and REST of one session on one replica"
    );
    for i in 0..50 {
        ws.send(Message::text(format!("edit {i}")))
            .await
            .expect("send");
    }
    for i in 0..50 {
        assert_eq!(next_text(&mut ws).await, format!("{name}: edit {i}"));
    }
    ws.close(None).await.expect("close");
}

#[tokio::test]
async fn an_answer_streams_through_nginx_as_it_is_produced() {
    let front = Front::start().await;
    let id = Uuid::new_v4();
    let owner = front.landing(id).await;
    let mut resp = front
        .http
        .get(format!("{}/api/v1/sessions/{id}/events", front.nginx.url()))
        .header("x-test-stream", "1")
        .send()
        .await
        .expect("GET");
    // The replica sends the rest only once the first part has come through.
    let first = tokio::time::timeout(WAIT, resp.chunk())
        .await
        .unwrap_or_else(|_| panic!("nginx held the first part back"))
        .expect("a chunk")
        .expect("not the end");
    assert_eq!(first.as_ref(), owner.as_bytes());
    front.replicas[owner.as_str()].release.notify_one();
    let rest = resp.text().await.expect("the rest");
    assert_eq!(rest, " done");
}

#[tokio::test]
async fn a_client_that_does_not_read_holds_the_replica_back() {
    let front = Front::start().await;
    let id = Uuid::new_v4();
    let owner = front.landing(id).await;
    let resp = front
        .http
        .get(format!(
            "{}/api/v1/sessions/{id}/history",
            front.nginx.url()
        ))
        .header("x-test-flood", "1")
        .send()
        .await
        .expect("GET");
    // Nothing is read: what the replica could hand over is what the sockets on the way hold,
    // unless nginx reads ahead into memory and temporary files (proxy_buffering on).
    let flooded = &front.replicas[owner.as_str()].flooded;
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = flooded.load(Ordering::SeqCst);
        if now == last || now >= FLOOD_BYTES {
            break;
        }
        last = now;
    }
    let held = flooded.load(Ordering::SeqCst);
    assert!(
        held < FLOOD_BYTES / 4,
        "nginx took {} MiB ahead of a client that reads nothing",
        held >> 20
    );
    drop(resp);
}

#[tokio::test]
async fn a_stopped_replicas_sessions_are_served_by_another() {
    let mut front = Front::start().await;
    let id = Uuid::new_v4();
    let owner = front.landing(id).await;
    let replica = front.replicas.remove(owner.as_str()).expect("a replica");
    replica.stop().await;

    let next = front.landing(id).await;
    assert_ne!(next, owner, "a stopped replica answered");
    let (mut ws, name) = front.socket(id).await;
    assert_eq!(name, next);
    ws.send(Message::text("still here")).await.expect("send");
    assert_eq!(next_text(&mut ws).await, format!("{next}: still here"));
    // nginx found the owner down and went on, rather than the hash never choosing it.
    let log = front.nginx.error_log();
    assert!(log.contains("Connection refused"), "nginx log:\n{log}");
}

#[tokio::test]
async fn a_503_is_passed_back_and_never_marks_the_replica_down() {
    let front = Front::start().await;
    let id = Uuid::new_v4();
    let owner = front.landing(id).await;
    front.replicas[owner.as_str()]
        .unavailable
        .store(true, Ordering::SeqCst);

    // A replica's 503 is about one session (it is moving) or its own engine; nginx passes it
    // back as it is, for reads and writes alike, and never sends a request twice.
    let execute = format!("/api/v1/sessions/{id}/execute");
    assert_eq!(front.who(reqwest::Method::POST, &execute, 503).await, owner);
    let read = format!("/api/v1/sessions/{id}");
    for _ in 0..3 {
        assert_eq!(front.who(reqwest::Method::GET, &read, 503).await, owner);
    }
    // Nor does nginx count those 503s as the replica failing: once it answers again, the
    // session's requests are still its own, with no fail_timeout to wait out.
    front.replicas[owner.as_str()]
        .unavailable
        .store(false, Ordering::SeqCst);
    assert_eq!(front.who(reqwest::Method::GET, &read, 200).await, owner);
}

#[tokio::test]
async fn other_paths_are_served_round_robin() {
    let front = Front::start().await;
    use reqwest::Method;
    for (method, path) in [
        (Method::GET, "/"),
        (Method::GET, "/assets/index-0a1b2c.js"),
        (Method::GET, "/docs"),
        (Method::GET, "/metrics"),
        (Method::GET, "/api/v1/environments"),
        (Method::GET, "/api/v1/sessions"),
        (Method::GET, "/api/v1/sessions?limit=5"),
        (Method::POST, "/api/v1/sessions"),
    ] {
        front.who(method, path, 200).await;
    }
    let mut used = BTreeSet::new();
    for _ in 0..12 {
        used.insert(front.who(Method::GET, "/api/v1/health", 200).await);
    }
    assert!(used.len() >= 2, "12 health checks all went to {used:?}");
}

#[tokio::test]
async fn replicas_see_the_clients_host_address_and_scheme() {
    let front = Front::start().await;
    let resp = front
        .send(reqwest::Method::GET, &format!("/s/{}", Uuid::new_v4()))
        .await;
    let seen = |name: &str| resp.headers()[name].to_str().expect("ascii").to_string();
    // The port included: a replica compares a browser's Origin with it.
    assert_eq!(seen("x-seen-host"), front.nginx.addr().to_string());
    assert_eq!(seen("x-seen-forwarded-for"), "127.0.0.1");
    assert_eq!(seen("x-seen-forwarded-proto"), "http");
}

#[tokio::test]
async fn the_largest_body_the_api_takes_passes() {
    let front = Front::start().await;
    let limits = livecode::config::Config::defaults().limits;
    // The server's own body limit (app::router): 6 x code_limit_bytes + 64 KiB.
    let largest = limits.code_limit_bytes * 6 + 64 * 1024;
    let path = format!("/api/v1/sessions/{}/execute", Uuid::new_v4());
    let resp = front
        .http
        .post(format!("{}{path}", front.nginx.url()))
        .body(vec![b'x'; largest])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 200, "{}", front.nginx.error_log());
    assert_eq!(
        resp.headers()["x-seen-body-bytes"],
        largest.to_string().as_str()
    );
}
