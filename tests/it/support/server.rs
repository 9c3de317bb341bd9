//! The servers tests start, as one [`Server`] to the tests: the library in process
//! ([`TestServer`]) here, the binary in `spawned`; each with its own data dir and instance
//! label ([`InstanceGuard`]); and a stoppable proxy in front of the engine's socket
//! ([`DockerProxy`]).

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use livecode::config::Config;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{docker_ps, open_socket, test_store_url, Api, Session, StoreDb, WsStream};

/// How long a server gets to answer `GET /health` after it was started.
pub(super) const START_WAIT: Duration = Duration::from_secs(60);

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

/// What a test reaches on a running server, in process ([`TestServer`]) or spawned
/// ([`SpawnedServer`](super::SpawnedServer)): REST through `api`, sockets at `ws_url`, and the shorthands most
/// tests make over them.
pub trait Server {
    fn api(&self) -> Api<'_>;

    /// `ws://127.0.0.1:PORT/api/v1/sessions/{id}/ws{query}`.
    fn ws_url(&self, session_id: &str, query: &str) -> String;

    async fn create_session(&self, body: Value) -> Value {
        self.api().create_session(body).await
    }

    async fn session(&self, body: Value) -> Session {
        Session::from(self.create_session(body).await)
    }

    /// A python session whose document is `code`.
    async fn python(&self, code: &str) -> Session {
        self.session(json!({"environment": "python", "code": code}))
            .await
    }

    async fn bash(&self, code: &str) -> Session {
        self.session(json!({"environment": "bash", "code": code}))
            .await
    }

    /// Opens a socket and returns it after its `welcome`.
    async fn ws(&self, session_id: &str, token: &str) -> WsStream {
        self.connect(session_id, token, "").await.0
    }

    /// Opens a socket with `?token=..` plus `extra_query` (e.g. `&name=Alice&readonly=1`);
    /// returns it with the `welcome` it got first.
    async fn connect(&self, session_id: &str, token: &str, extra_query: &str) -> (WsStream, Value) {
        let url = self.ws_url(session_id, &format!("?token={token}{extra_query}"));
        open_socket(&url).await.unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The API of a server on 127.0.0.1:`port`, as every [`Server`] here is reached.
pub fn loopback_api(http: &reqwest::Client, port: u16) -> Api<'_> {
    Api {
        http,
        base: format!("http://127.0.0.1:{port}/api/v1"),
    }
}

/// A session's socket URL on 127.0.0.1:`port`.
pub fn loopback_ws_url(port: u16, session_id: &str, query: &str) -> String {
    format!("ws://127.0.0.1:{port}/api/v1/sessions/{session_id}/ws{query}")
}

/// The library's server, started in this process on 127.0.0.1:0 with its own data dir (and
/// database, on PostgreSQL) and instance label. Dropping it stops the server and removes its
/// containers.
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
        if let Some(url) = test_store_url().await {
            config.store.url = url;
        }
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

    /// The server's database, opened beside it.
    pub async fn store_db(&self) -> StoreDb {
        StoreDb::open(&self.config.data_dir, &self.config.store.url).await
    }
}

impl Server for TestServer {
    fn api(&self) -> Api<'_> {
        loopback_api(&self.http, self.addr.port())
    }

    fn ws_url(&self, session_id: &str, query: &str) -> String {
        loopback_ws_url(self.addr.port(), session_id, query)
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

/// A stand-in for the Docker engine's socket: it forwards to the real one, counts the engine
/// checks (`GET /version`, `GET /_ping`) passing through, and can be stopped and started again,
/// which is an engine outage to the server behind it without disturbing the shared engine.
pub struct DockerProxy {
    path: PathBuf,
    pub engine_checks: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    _dir: tempfile::TempDir,
}

impl DockerProxy {
    /// Listens on a socket in a directory of its own.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let proxy = Self {
            path: dir.path().join("docker.sock"),
            engine_checks: Default::default(),
            tasks: Default::default(),
            _dir: dir,
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

pub(super) fn http_client() -> reqwest::Client {
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
