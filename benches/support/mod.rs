//! What the benchmarks share: the server binary started as a child process with its own data
//! dir and instance label (its containers removed when it is dropped), and socket helpers.

#![allow(dead_code)] // each bench uses its own part

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One server binary under test, started fresh for each attack.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub instance: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start(bin: &str, env: &[(&str, &str)], nofile: Option<u64>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let instance = format!("bench-{}", uuid::Uuid::new_v4().simple());
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(match nofile {
                Some(n) => format!("ulimit -n {n} && exec \"$0\" serve"),
                None => "exec \"$0\" serve".into(),
            })
            .arg(bin)
            .envs(env.iter().copied())
            .env("LIVECODE_LISTEN", format!("127.0.0.1:{port}"))
            .env("LIVECODE_DATA_DIR", dir.path())
            .env("LIVECODE_INSTANCE", &instance)
            .env("LIVECODE_BUILD_IMAGES_ON_START", "false")
            .env("LIVECODE_READ_VERSIONS_ON_START", "false")
            .env("LIVECODE_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().expect("spawn the server");
        let server = Self {
            child,
            port,
            instance,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.http.get(server.url("/health")).send().await.is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/api/v1{path}", self.port)
    }

    pub fn ws_url(&self, id: &str, query: &str) -> String {
        format!(
            "ws://127.0.0.1:{}/api/v1/sessions/{id}/ws{query}",
            self.port
        )
    }

    pub fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    }

    /// Creates a session; returns (id, candidate token, interviewer token).
    pub async fn session(&self, body: Value) -> Option<(String, String, String)> {
        let created: Value = self
            .http
            .post(self.url("/sessions"))
            .json(&body)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let field = |k: &str| created[k].as_str().map(str::to_string);
        Some((
            field("session_id")?,
            field("candidate_token")?,
            field("interviewer_token")?,
        ))
    }

    /// A session whose document is `code` (python), and its candidate's socket.
    pub async fn candidate(&self, code: &str) -> (String, Ws) {
        let (id, candidate, _) = self
            .session(json!({"environment": "python", "code": code}))
            .await
            .expect("session");
        let ws = self
            .socket(&id, &format!("?token={candidate}"))
            .await
            .expect("socket");
        (id, ws)
    }

    pub async fn socket(&self, id: &str, query: &str) -> Option<Ws> {
        let (mut ws, _) = tokio_tungstenite::connect_async(self.ws_url(id, query))
            .await
            .ok()?;
        loop {
            let Some(Ok(Message::Text(text))) = ws.next().await else {
                return None;
            };
            if text.as_str().contains("\"type\":\"welcome\"") {
                return Some(ws);
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let filter = format!("label=livecode.instance={}", self.instance);
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ids=$(docker ps -aq --filter {filter}); [ -z \"$ids\" ] || docker rm -f -v $ids"
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Reads frames until one whose text contains `needle`, or `wait` passes.
pub async fn until(ws: &mut Ws, needle: &str, wait: Duration) -> Option<String> {
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
