//! What every integration test stands on: a real server on a free port ([`TestServer`], in
//! process; [`SpawnedServer`], the binary), real HTTP (reqwest), real WebSocket
//! (tokio-tungstenite), real Docker.
//!
//! Each boundary is reached through one helper here (`check_error`, `check_ws_error`,
//! `msg::*`, `collect_run`, the `Session` accessors), so that renaming a wire field or an
//! error code touches this file only. Waits have deadlines and poll conditions; none sleeps
//! blindly.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use livecode::config::Config;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// A client socket to `/api/v1/sessions/{id}/ws`.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for a message it expects, unless it says otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// How long a server gets to answer `GET /health` after it was started.
const START_WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

/// Removes every container labelled with one server instance when dropped, so that no test
/// leaves containers behind and no test touches another's.
pub struct InstanceGuard {
    pub instance: String,
}

impl InstanceGuard {
    pub fn new() -> Self {
        Self {
            instance: format!("it-{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

impl Drop for InstanceGuard {
    fn drop(&mut self) {
        let filter = format!("label=livecode.instance={}", self.instance);
        let ids = docker_ps(&[&filter], true);
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&ids)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // A create the server sent just before it stopped may still complete in dockerd after
        // this sweep (and after this process exits): a detached second sweep catches it.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "sleep 15; ids=$(docker ps -aq --filter {filter}); [ -z \"$ids\" ] || docker rm -f -v $ids"
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0) // outlives a kill of the test run's process group
            .spawn();
    }
}

/// The library's server, started in this process on 127.0.0.1:0 with its own data dir and
/// instance label. Dropping it stops the server and removes its containers.
pub struct TestServer {
    pub addr: SocketAddr,
    pub config: Config,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Field order is drop order: containers go first, then the data dir.
    _containers: InstanceGuard,
    _data_dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server from the embedded defaults, changed by `configure`, and waits until
    /// `GET /health` answers 200.
    pub async fn start(configure: impl FnOnce(&mut Config)) -> Self {
        init_tracing();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let data_dir = tempfile::Builder::new()
            .prefix("livecode-it-")
            .tempdir()
            .expect("tempdir");
        let guard = InstanceGuard::new();

        let mut config = Config::defaults();
        config.listen = addr;
        config.data_dir = data_dir.path().to_path_buf();
        config.instance = guard.instance.clone();
        config.build_images_on_start = false;
        // Twenty probe containers per server start would only load the machine; the
        // conformance suite checks versions.
        config.read_versions_on_start = false;
        // One warm python container: a test's first python session takes the pool's path,
        // later ones the path of a miss, and dozens of servers in parallel don't load the
        // engine with containers nobody claims.
        config.pool.default_size = 1;
        configure(&mut config);

        let shutdown = CancellationToken::new();
        let server = tokio::spawn(livecode::run(config.clone(), listener, shutdown.clone()));
        let http = http_client();
        let health = format!("http://{addr}/api/v1/health");
        let deadline = Instant::now() + START_WAIT;
        loop {
            if server.is_finished() {
                let result = server.await;
                panic!("the server stopped before it answered /health: {result:?}");
            }
            if let Ok(resp) = http.get(&health).send().await {
                if resp.status() == 200 {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "GET /health did not answer 200 within {START_WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Self {
            addr,
            config,
            http,
            shutdown,
            server: Some(server),
            _containers: guard,
            _data_dir: data_dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn api(&self) -> Api<'_> {
        Api {
            http: &self.http,
            base: format!("http://{}/api/v1", self.addr),
        }
    }

    // Shorthands for the REST calls most tests make.

    pub async fn create_session(&self, body: Value) -> Value {
        self.api().create_session(body).await
    }

    pub async fn session(&self, body: Value) -> Session {
        Session::from(self.create_session(body).await)
    }

    /// A python session whose document is `code`.
    pub async fn python(&self, code: &str) -> Session {
        self.session(json!({"environment": "python", "code": code}))
            .await
    }

    pub async fn bash(&self, code: &str) -> Session {
        self.session(json!({"environment": "bash", "code": code}))
            .await
    }

    /// Opens a socket and returns it after its `welcome`.
    pub async fn ws(&self, session_id: &str, token: &str) -> WsStream {
        self.connect(session_id, token, "").await.0
    }

    /// Opens a socket with `?token=..` plus `extra_query` (e.g. `&name=Alice&readonly=1`);
    /// returns it with the `welcome` it got first.
    pub async fn connect(
        &self,
        session_id: &str,
        token: &str,
        extra_query: &str,
    ) -> (WsStream, Value) {
        let url = self.ws_url(session_id, &format!("?token={token}{extra_query}"));
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "WebSocket upgrade at {url} failed: {}",
                    describe_ws_error(e)
                )
            });
        let welcome = next_frame_json(&mut ws, "welcome").await;
        assert_eq!(
            welcome["type"], "welcome",
            "the first message must be welcome: {welcome}"
        );
        (ws, welcome)
    }

    /// `ws://127.0.0.1:PORT/api/v1/sessions/{id}/ws{query}`.
    pub fn ws_url(&self, session_id: &str, query: &str) -> String {
        format!("ws://{}/api/v1/sessions/{session_id}/ws{query}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Stop the server and wait (briefly) until it no longer talks to Docker, so that the
        // sweep by `_containers` sees every container it made. Server shutdown deliberately
        // leaves containers; the sweep removes them.
        self.shutdown.cancel();
        let Some(server) = self.server.take() else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return; // block_in_place needs the multi-thread runtime every test here uses
        }
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                if tokio::time::timeout(Duration::from_secs(30), server)
                    .await
                    .is_err()
                {
                    eprintln!("livecode::run did not return within 30 s of shutdown");
                }
            })
        });
    }
}

/// The `livecode` binary, started as a child process with `LIVECODE_*` variables.
pub struct SpawnedServer {
    pub port: u16,
    pub pid: u32,
    pub http: reqwest::Client,
    child: Option<Child>,
    log: PathBuf,
}

impl SpawnedServer {
    /// Runs `livecode serve` on a free port with `data_dir` and `instance`, logging to
    /// `log`, and waits for `GET /health`.
    pub async fn spawn(data_dir: &Path, instance: &str, log: &Path) -> Self {
        Self::spawn_with(data_dir, instance, log, &[], None).await
    }

    /// As [`spawn`](Self::spawn), with more `LIVECODE_*` variables and, when given, the
    /// open-file limit the server starts under (soft and hard, as a service manager sets it).
    pub async fn spawn_with(
        data_dir: &Path,
        instance: &str,
        log: &Path,
        env: &[(&str, &str)],
        nofile: Option<u64>,
    ) -> Self {
        let port = free_port();
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the server log");
        let mut command = match nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" serve"))
                    .arg(env!("CARGO_BIN_EXE_livecode"));
                c
            }
            None => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_livecode"));
                c.arg("serve");
                c
            }
        };
        // As TestServer: one warm python container, unless the test says otherwise.
        command.env("LIVECODE_POOL__DEFAULT_SIZE", "1");
        command.envs(env.iter().copied());
        let child = command
            .env("LIVECODE_LISTEN", format!("127.0.0.1:{port}"))
            .env("LIVECODE_DATA_DIR", data_dir)
            .env("LIVECODE_INSTANCE", instance)
            .env("LIVECODE_BUILD_IMAGES_ON_START", "false")
            .env("LIVECODE_READ_VERSIONS_ON_START", "false")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log handle"))
            .stderr(log_file)
            .spawn()
            .expect("spawn the livecode binary");
        let pid = child.id();
        let mut server = Self {
            pid,
            port,
            http: http_client(),
            child: Some(child),
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + START_WAIT;
        let health = format!("http://127.0.0.1:{port}/api/v1/health");
        loop {
            if let Some(status) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "livecode exited with {status} before answering /health\n{}",
                    server.log_text()
                );
            }
            if let Ok(resp) = server.http.get(&health).send().await {
                if resp.status() == 200 {
                    return server;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no /health within {START_WAIT:?}\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn api(&self) -> Api<'_> {
        Api {
            http: &self.http,
            base: format!("http://127.0.0.1:{}/api/v1", self.port),
        }
    }

    pub fn ws_url(&self, session_id: &str, query: &str) -> String {
        format!(
            "ws://127.0.0.1:{}/api/v1/sessions/{session_id}/ws{query}",
            self.port
        )
    }

    /// The server's resident memory now, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .expect("the server process is alive");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// SIGTERM, as a service manager stops it; waits up to `wait` for it to exit and says
    /// whether it exited 0.
    pub async fn terminate(&mut self, wait: Duration) -> bool {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return status.success();
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// True while the server process runs.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// SIGKILL, as a crash or an OOM kill of the server would: nothing gets to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL on unix
            let _ = child.wait();
        }
    }

    pub fn log_text(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        format!(
            "--- server log (last lines) ---\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A stand-in for the Docker engine's socket: it forwards to the real one, counts the engine
/// checks (`GET /version`, `GET /_ping`) passing through, and can be stopped and started again,
/// which is an engine outage to the server behind it without disturbing the shared engine.
pub struct DockerProxy {
    pub path: PathBuf,
    pub engine_checks: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl DockerProxy {
    pub fn start(path: PathBuf) -> Self {
        let proxy = Self {
            path,
            engine_checks: Default::default(),
            tasks: Default::default(),
        };
        proxy.listen();
        proxy
    }

    fn listen(&self) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _ = std::fs::remove_file(&self.path);
        let listener = tokio::net::UnixListener::bind(&self.path).expect("bind the proxy socket");
        let (counter, tasks) = (self.engine_checks.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let counter = counter.clone();
                let conn = tokio::spawn(async move {
                    let Ok(mut engine) =
                        tokio::net::UnixStream::connect("/var/run/docker.sock").await
                    else {
                        return;
                    };
                    let (mut cr, mut cw) = client.split();
                    let (mut er, mut ew) = engine.split();
                    let upstream = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let text = String::from_utf8_lossy(&buf[..n]);
                            let checks = text.matches("GET /_ping").count()
                                + text.matches("GET /version").count();
                            counter.fetch_add(checks, Ordering::Relaxed);
                            if ew.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        // A client that is done writing (an exec's stdin closed) still
                        // reads: pass the half-close on and keep the other way open.
                        let _ = ew.shutdown().await;
                    };
                    let downstream = async {
                        let _ = tokio::io::copy(&mut er, &mut cw).await;
                        let _ = cw.shutdown().await;
                    };
                    tokio::join!(upstream, downstream);
                });
                tasks.lock().expect("lock").push(conn.abort_handle());
            }
        });
        self.tasks.lock().expect("lock").push(accept.abort_handle());
    }

    /// The engine goes away: no new connection, and every open one is cut.
    pub fn stop(&self) {
        for task in self.tasks.lock().expect("lock").drain(..) {
            task.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }

    /// The engine is back.
    pub fn restart(&self) {
        self.listen();
    }

    /// `unix://…`, for `docker.host`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

impl Drop for DockerProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port that was free a moment ago (bind :0, read it, let it go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("reqwest client")
}

fn init_tracing() {
    // Server logs help when a test fails; RUST_LOG=livecode=debug for more.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("livecode=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

// ---------------------------------------------------------------------------------------------
// REST
// ---------------------------------------------------------------------------------------------

/// REST calls against one server's `/api/v1`.
pub struct Api<'a> {
    pub http: &'a reqwest::Client,
    pub base: String,
}

impl Api<'_> {
    fn with_auth(req: reqwest::RequestBuilder, bearer: Option<&str>) -> reqwest::RequestBuilder {
        match bearer {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> reqwest::Response {
        Self::with_auth(self.http.get(format!("{}{path}", self.base)), bearer)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> reqwest::Response {
        Self::with_auth(self.http.post(format!("{}{path}", self.base)), bearer)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// A POST whose body is sent as is, with `Content-Type: application/json`.
    pub async fn post_raw(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &str,
    ) -> reqwest::Response {
        Self::with_auth(self.http.post(format!("{}{path}", self.base)), bearer)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub async fn delete(&self, path: &str, bearer: Option<&str>) -> reqwest::Response {
        Self::with_auth(self.http.delete(format!("{}{path}", self.base)), bearer)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DELETE {path}: {e}"))
    }

    /// `POST /sessions` without credentials (open mode); expects 201.
    pub async fn create_session(&self, body: Value) -> Value {
        self.create_session_as(None, body).await
    }

    pub async fn create_session_as(&self, bearer: Option<&str>, body: Value) -> Value {
        let resp = self.post("/sessions", bearer, &body).await;
        expect_json(resp, 201).await
    }

    /// `GET /sessions/{id}`; expects 200.
    pub async fn get_session(&self, id: &str, bearer: &str) -> Value {
        expect_json(
            self.get(&format!("/sessions/{id}"), Some(bearer)).await,
            200,
        )
        .await
    }

    /// Polls `GET /sessions/{id}` until its status is `status` (a new session is `creating`
    /// until its container runs); returns that answer.
    pub async fn wait_status(&self, id: &str, bearer: &str, status: &str) -> Value {
        let deadline = Instant::now() + DEFAULT_WAIT;
        loop {
            let got = self.get_session(id, bearer).await;
            if got["status"] == status {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "session {id} is not {status} after {DEFAULT_WAIT:?}: {got}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET /sessions/{id}/history` with the interviewer's token; expects 200.
    pub async fn history(&self, session: &Session) -> Value {
        let path = format!("/sessions/{}/history", session.id);
        expect_json(self.get(&path, Some(&session.interviewer)).await, 200).await
    }

    /// `POST /sessions/{id}/execute`; expects 200.
    pub async fn execute(&self, id: &str, bearer: &str, body: Value) -> Value {
        let resp = self
            .post(&format!("/sessions/{id}/execute"), Some(bearer), &body)
            .await;
        let result = expect_json(resp, 200).await;
        check_execute_shape(&result);
        result
    }
}

/// Asserts the status and returns the JSON body.
pub async fn expect_json(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let url = resp.url().path().to_string();
    let text = resp.text().await.expect("response body");
    assert_eq!(
        got, status,
        "{url}: expected HTTP {status}, got {got}: {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: body is not JSON ({e}): {text}"))
}

/// The REST error boundary: HTTP `status` and `{"error":{"code","message","hint"}}` with `code`.
pub async fn check_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    let got = resp.status().as_u16();
    let url = resp.url().path().to_string();
    let text = resp.text().await.expect("response body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{url}: error body is not JSON ({e}): {text:?} (HTTP {got})"));
    check_error_body(&body, code, &format!("{url} (HTTP {got})"));
    assert_eq!(
        got, status,
        "{url}: expected HTTP {status} {code}, got {got}: {body}"
    );
    body
}

/// The error triple, shared by REST bodies and the upgrade refusal.
pub fn check_error_body(body: &Value, code: &str, what: &str) {
    let error = &body["error"];
    assert_eq!(
        error["code"], code,
        "{what}: expected error code {code}: {body}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: error.message must be a non-empty string: {body}"
    );
    assert!(
        error["hint"].is_string(),
        "{what}: error.hint must be a string: {body}"
    );
}

/// The shape `POST /sessions/{id}/execute` answers.
pub fn check_execute_shape(result: &Value) {
    for key in ["session_id", "run_id", "stdout", "stderr", "status"] {
        assert!(
            result[key].is_string(),
            "execute: {key} must be a string: {result}"
        );
    }
    assert!(
        result["exit_code"].is_i64() || result["exit_code"].is_null(),
        "execute: exit_code must be an integer or null: {result}"
    );
    assert!(
        result["execution_time"].is_f64(),
        "execute: execution_time must be a float: {result}"
    );
    assert!(
        result["truncated"].is_boolean(),
        "execute: truncated must be a boolean: {result}"
    );
}

/// A created session: its id and tokens.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub candidate: String,
    pub interviewer: String,
}

impl From<Value> for Session {
    fn from(created: Value) -> Self {
        let field = |key: &str| {
            created[key]
                .as_str()
                .unwrap_or_else(|| panic!("POST /sessions: {key} missing: {created}"))
                .to_string()
        };
        Self {
            id: field("session_id"),
            candidate: field("candidate_token"),
            interviewer: field("interviewer_token"),
        }
    }
}

impl Session {
    pub fn path(&self) -> String {
        format!("/sessions/{}", self.id)
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------------------------

/// Client → server messages, built in one place.
pub mod msg {
    use serde_json::{json, Value};

    /// Runs the session's current document.
    pub fn run_document() -> Value {
        json!({"type": "run"})
    }

    /// Runs `code` as `filename`.
    pub fn run(filename: &str, code: &str) -> Value {
        json!({"type": "run", "files": {filename: code}})
    }

    pub fn run_with_stdin(filename: &str, code: &str, stdin: &str) -> Value {
        json!({"type": "run", "files": {filename: code}, "stdin": stdin})
    }

    /// Kills a running program first, then runs `code`.
    pub fn restart(filename: &str, code: &str) -> Value {
        json!({"type": "run", "files": {filename: code}, "restart": true})
    }

    pub fn stdin(data: &str) -> Value {
        json!({"type": "stdin", "data": data})
    }

    pub fn stdin_eof() -> Value {
        json!({"type": "stdin_eof"})
    }

    pub fn kill() -> Value {
        json!({"type": "kill"})
    }

    pub fn ping() -> Value {
        json!({"type": "ping"})
    }

    pub fn auth(token: &str) -> Value {
        json!({"type": "auth", "token": token})
    }
}

pub async fn send(ws: &mut WsStream, message: Value) {
    send_text(ws, &message.to_string()).await;
}

pub async fn send_text(ws: &mut WsStream, text: &str) {
    ws.send(Message::Text(text.to_string().into()))
        .await
        .expect("send a WebSocket frame");
}

/// What the socket gave next.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    /// Why the socket ended (read through `Debug` in failure messages).
    Closed(#[allow(dead_code)] String),
    TimedOut,
}

/// The next text frame as JSON, or why there is none before `deadline`.
pub async fn next_frame(ws: &mut WsStream, deadline: Instant) -> Frame {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => return Frame::TimedOut,
            Ok(None) => return Frame::Closed("stream ended".into()),
            Ok(Some(Err(e))) => return Frame::Closed(format!("error: {e}")),
            Ok(Some(Ok(Message::Text(text)))) => {
                let value = serde_json::from_str(text.as_str()).unwrap_or_else(|e| {
                    panic!("server sent a text frame that is not JSON ({e}): {text}")
                });
                return Frame::Json(value);
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Frame::Closed(format!("close frame {frame:?}"))
            }
            Ok(Some(Ok(_))) => continue, // ping/pong/binary: tungstenite answers pings itself
        }
    }
}

async fn next_frame_json(ws: &mut WsStream, waiting_for: &str) -> Value {
    match next_frame(ws, Instant::now() + DEFAULT_WAIT).await {
        Frame::Json(v) => v,
        other => panic!("waiting for {waiting_for}: {other:?}"),
    }
}

/// The next message, whatever its type (within [`DEFAULT_WAIT`]).
pub async fn next_json(ws: &mut WsStream) -> Value {
    next_frame_json(ws, "any message").await
}

/// Skips frames until one of type `ty` arrives (within [`DEFAULT_WAIT`]).
pub async fn next_of_type(ws: &mut WsStream, ty: &str) -> Value {
    next_of_type_within(ws, ty, DEFAULT_WAIT).await
}

/// Skips frames until one of type `ty` arrives; panics with what it saw when `wait` passes
/// or the socket closes.
pub async fn next_of_type_within(ws: &mut WsStream, ty: &str, wait: Duration) -> Value {
    let deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    loop {
        match next_frame(ws, deadline).await {
            Frame::Json(v) if v["type"] == ty => return v,
            Frame::Json(v) => seen.push(v),
            other => panic!(
                "no {ty:?} message within {wait:?} ({other:?}); frames seen:\n{}",
                summarize(&seen)
            ),
        }
    }
}

/// Frames until (and with) the first whose type is `ty`.
pub async fn frames_until(ws: &mut WsStream, ty: &str, wait: Duration) -> Vec<(Instant, Value)> {
    let deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    loop {
        match next_frame(ws, deadline).await {
            Frame::Json(v) => {
                let done = v["type"] == ty;
                seen.push((Instant::now(), v));
                if done {
                    return seen;
                }
            }
            other => {
                let frames: Vec<Value> = seen.into_iter().map(|(_, v)| v).collect();
                panic!(
                    "no {ty:?} message within {wait:?} ({other:?}); frames seen:\n{}",
                    summarize(&frames)
                )
            }
        }
    }
}

/// The WebSocket error boundary: the next `error` message has `code`, a message and a hint.
pub async fn check_ws_error(ws: &mut WsStream, code: &str) -> Value {
    let error = next_of_type(ws, "error").await;
    assert_eq!(
        error["code"], code,
        "expected a WebSocket error {code}: {error}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "WebSocket error without a message: {error}"
    );
    assert!(
        error["hint"].is_string(),
        "WebSocket error without a hint: {error}"
    );
    error
}

/// `ping` is answered by `pong`: the socket still works.
pub async fn check_pong(ws: &mut WsStream) {
    send(ws, msg::ping()).await;
    next_of_type_within(ws, "pong", Duration::from_secs(10)).await;
}

/// Reads `output` messages until the stdout seen so far contains `needle` (chunks are not
/// lines: a line may arrive in pieces); returns that stdout.
pub async fn stdout_until(ws: &mut WsStream, needle: &str) -> String {
    let mut stdout = String::new();
    while !stdout.contains(needle) {
        let out = next_of_type(ws, "output").await;
        if out["stream"] == "stdout" {
            stdout.push_str(out["data"].as_str().expect("output.data"));
        }
    }
    stdout
}

/// One run as a socket saw it, from `run_started` (if it came after the collection began) to
/// `run_finished`. `stdout`/`stderr` are the `data` of every `output` concatenated per stream:
/// chunks are not lines.
#[derive(Debug)]
pub struct RunResult {
    pub started: Option<Value>,
    pub stdout: String,
    pub stderr: String,
    pub finished: Value,
    pub events: Vec<(Instant, Value)>,
}

impl RunResult {
    pub fn run_id(&self) -> &str {
        self.finished["run_id"]
            .as_str()
            .expect("run_finished.run_id")
    }

    pub fn status(&self) -> &str {
        self.finished["status"]
            .as_str()
            .expect("run_finished.status")
    }

    pub fn exit_code(&self) -> Option<i64> {
        self.finished["exit_code"].as_i64()
    }

    pub fn duration_ms(&self) -> u64 {
        self.finished["duration_ms"]
            .as_u64()
            .expect("run_finished.duration_ms")
    }

    pub fn truncated(&self) -> bool {
        self.finished["truncated"]
            .as_bool()
            .expect("run_finished.truncated")
    }

    pub fn finished_at(&self) -> Instant {
        self.events
            .last()
            .expect("run_finished is the last event")
            .0
    }

    /// When the first `output` of `stream` arrived.
    pub fn first_output_at(&self, stream: &str) -> Option<Instant> {
        self.events
            .iter()
            .find(|(_, e)| e["type"] == "output" && e["stream"] == stream)
            .map(|(at, _)| *at)
    }

    /// Asserts a normal end: status `completed` with `exit_code`.
    pub fn assert_completed(&self, exit_code: i64) {
        assert_eq!(
            (self.status(), self.exit_code()),
            ("completed", Some(exit_code)),
            "{}",
            self.describe()
        );
    }

    /// The run in a few lines, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "run_finished: {}\nstdout: {:?}\nstderr: {:?}",
            self.finished,
            clip(&self.stdout, 600),
            clip(&self.stderr, 600)
        )
    }
}

/// Collects one run (within [`DEFAULT_WAIT`]).
pub async fn collect_run(ws: &mut WsStream) -> RunResult {
    collect_run_within(ws, DEFAULT_WAIT).await
}

/// Reads until `run_finished`, concatenating `output` per stream. An `error` message on the
/// way fails the test (a run was expected, not a refusal).
pub async fn collect_run_within(ws: &mut WsStream, wait: Duration) -> RunResult {
    let deadline = Instant::now() + wait;
    let mut events: Vec<(Instant, Value)> = Vec::new();
    let (mut started, mut stdout, mut stderr) = (None::<Value>, String::new(), String::new());
    loop {
        let frame = match next_frame(ws, deadline).await {
            Frame::Json(v) => v,
            other => {
                let frames: Vec<Value> = events.into_iter().map(|(_, v)| v).collect();
                panic!(
                    "run did not finish within {wait:?} ({other:?}); stdout so far {:?}; frames:\n{}",
                    clip(&stdout, 300),
                    summarize(&frames)
                );
            }
        };
        let run_id_matches = |frame: &Value, started: &Option<Value>| match started {
            Some(s) => frame["run_id"] == s["run_id"],
            None => true,
        };
        match frame["type"].as_str() {
            Some("run_started") => {
                assert!(
                    started.is_none(),
                    "two run_started before a run_finished: {frame}"
                );
                assert!(
                    frame["run_id"].is_string(),
                    "run_started without run_id: {frame}"
                );
                started = Some(frame.clone());
            }
            Some("output") => {
                assert!(
                    run_id_matches(&frame, &started),
                    "output of another run: {frame} (started {started:?})"
                );
                let data = frame["data"]
                    .as_str()
                    .unwrap_or_else(|| panic!("output without data: {frame}"));
                match frame["stream"].as_str() {
                    Some("stdout") => stdout.push_str(data),
                    Some("stderr") => stderr.push_str(data),
                    _ => panic!("output with an unknown stream: {frame}"),
                }
            }
            Some("run_finished") => {
                assert!(
                    run_id_matches(&frame, &started),
                    "run_finished of another run: {frame} (started {started:?})"
                );
                events.push((Instant::now(), frame.clone()));
                return RunResult {
                    started,
                    stdout,
                    stderr,
                    finished: frame,
                    events,
                };
            }
            Some("error") => panic!("error message while a run was expected: {frame}"),
            _ => {}
        }
        events.push((Instant::now(), frame));
    }
}

/// Sends `message` and collects the run it starts.
pub async fn run_message(ws: &mut WsStream, message: Value) -> RunResult {
    send(ws, message).await;
    let run = collect_run(ws).await;
    assert!(
        run.started.is_some(),
        "run_finished came without run_started: {:?}",
        run.events
    );
    run
}

/// Runs `code` as `filename` and collects the run.
pub async fn run_code(ws: &mut WsStream, filename: &str, code: &str) -> RunResult {
    run_message(ws, msg::run(filename, code)).await
}

fn summarize(frames: &[Value]) -> String {
    let skipped = frames.len().saturating_sub(40);
    let mut out = String::new();
    if skipped > 0 {
        out.push_str(&format!("  ... {skipped} earlier frames\n"));
    }
    for frame in &frames[skipped..] {
        let text = frame.to_string();
        out.push_str("  ");
        out.push_str(&clip(&text, 240));
        out.push('\n');
    }
    out
}

/// `text`, cut to at most `max` bytes for a failure message.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…({} bytes)", &text[..cut], text.len())
}

fn describe_ws_error(e: tokio_tungstenite::tungstenite::Error) -> String {
    match e {
        tokio_tungstenite::tungstenite::Error::Http(resp) => {
            let body = resp
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            format!("HTTP {}: {body}", resp.status())
        }
        other => other.to_string(),
    }
}

/// Tries an upgrade that should be refused; returns the HTTP status and the JSON body.
pub async fn refused_upgrade(url: &str) -> (u16, Value) {
    match tokio_tungstenite::connect_async(url).await {
        Ok((mut ws, _)) => {
            let first = next_frame(&mut ws, Instant::now() + Duration::from_secs(5)).await;
            panic!("upgrade at {url} should have been refused; the socket said {first:?}")
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let status = resp.status().as_u16();
            let body = resp.body().clone().unwrap_or_default();
            let json = serde_json::from_slice(&body).unwrap_or_else(|e| {
                panic!(
                    "refusal body is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(&body)
                )
            });
            (status, json)
        }
        Err(other) => panic!("upgrade at {url} failed without an HTTP answer: {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Docker and the process
// ---------------------------------------------------------------------------------------------

/// Container ids matching every `filters` entry (`docker ps --filter`); `all` includes
/// stopped ones.
pub fn docker_ps(filters: &[&str], all: bool) -> Vec<String> {
    let mut cmd = Command::new("docker");
    cmd.arg("ps").arg("-q").arg("--no-trunc");
    if all {
        cmd.arg("-a");
    }
    for f in filters {
        cmd.args(["--filter", f]);
    }
    let out = cmd.output().expect("run docker ps");
    assert!(
        out.status.success(),
        "docker ps failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Whether a container with this id exists, running or not.
pub fn container_exists(id: &str) -> bool {
    !docker_ps(&[&format!("id={id}")], true).is_empty()
}

/// The container a live session has once it is ready, from `GET /sessions/{id}` (which
/// container serves which session is the store's business, not a label's).
pub async fn session_container(api: &Api<'_>, session: &Session) -> String {
    let got = api
        .wait_status(&session.id, &session.interviewer, "ready")
        .await;
    got["container_id"]
        .as_str()
        .unwrap_or_else(|| panic!("the session has no container: {got}"))
        .to_string()
}

/// Polls `cond` every 100 ms until it holds or `wait` passes; returns whether it held.
pub async fn wait_until(wait: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// This process's resident memory (the in-process server included), in bytes.
pub fn vm_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

/// The path of a file at the repository root.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}
