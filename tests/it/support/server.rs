//! The servers tests start: the library in process ([`TestServer`]) or the binary
//! ([`SpawnedServer`]), each with its own data dir and instance label, and a stoppable proxy
//! in front of the engine's socket ([`DockerProxy`]).

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use livecode::config::Config;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{describe_ws_error, docker_ps, next_frame_json, Api, Session, WsStream};

/// How long a server gets to answer `GET /health` after it was started.
const START_WAIT: Duration = Duration::from_secs(60);

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
