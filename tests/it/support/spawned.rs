//! The binary as a child process ([`SpawnedServer`]) on a [`ServerHome`]: a data dir (or a
//! PostgreSQL database), a log and an instance label that outlive any one process, so that a test can kill a server and
//! start the next on the same state. The benchmarks start theirs here too, any build of it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    free_port, http_client, loopback_api, loopback_ws_url, test_store_url, Api, InstanceGuard,
    Server, StoreDb, START_WAIT,
};

/// Where spawned servers keep their state. Cheap to clone, and every server started on it
/// holds a clone: the last one dropped removes the instance's containers, then the dir.
#[derive(Clone)]
pub struct ServerHome(Arc<Home>);

struct Home {
    // Field order is drop order: containers go first, then the dir.
    containers: InstanceGuard,
    dir: tempfile::TempDir,
    /// The home's PostgreSQL database, made at the first spawn (empty on SQLite).
    store_url: tokio::sync::OnceCell<String>,
}

impl ServerHome {
    pub fn new() -> Self {
        Self(Arc::new(Home {
            containers: InstanceGuard::new(),
            dir: tempfile::Builder::new()
                .prefix("livecode-it-")
                .tempdir()
                .expect("tempdir"),
            store_url: tokio::sync::OnceCell::new(),
        }))
    }

    /// `[store] url` of every server on this home: one database, made once (empty: SQLite in
    /// the data dir).
    pub async fn store_url(&self) -> &str {
        self.0
            .store_url
            .get_or_init(|| async { test_store_url().await.unwrap_or_default() })
            .await
    }

    /// The home's database, opened beside its servers.
    pub async fn store_db(&self) -> StoreDb {
        StoreDb::open(&self.data_dir(), self.store_url().await).await
    }

    /// The label value of this home's containers (`livecode.instance`).
    pub fn instance(&self) -> &str {
        &self.0.containers.instance
    }

    /// The home's directory, for files a test keeps beside the server's.
    pub fn path(&self) -> &Path {
        self.0.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data")
    }

    pub fn log(&self) -> PathBuf {
        self.path().join("server.log")
    }

    /// Runs `livecode serve` here and waits for `GET /health`.
    pub async fn spawn(&self) -> SpawnedServer {
        self.spawn_with(&[], None).await
    }

    /// As [`spawn`](Self::spawn), with more `LIVECODE_*` variables and, when given, the
    /// open-file limit the server starts under (soft and hard, as a service manager sets it).
    pub async fn spawn_with(&self, env: &[(&str, &str)], nofile: Option<u64>) -> SpawnedServer {
        self.spawn_binary(env!("CARGO_BIN_EXE_livecode"), env, nofile)
            .await
    }

    /// As [`spawn_with`](Self::spawn_with), with another build of `livecode` at `bin`.
    pub async fn spawn_binary(
        &self,
        bin: &str,
        env: &[(&str, &str)],
        nofile: Option<u64>,
    ) -> SpawnedServer {
        // A caller that must know the port first (a replica advertises it) names it.
        let port = env
            .iter()
            .find(|(key, _)| *key == "LIVECODE_LISTEN")
            .and_then(|(_, addr)| addr.rsplit(':').next()?.parse().ok())
            .unwrap_or_else(free_port);
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("open the server log");
        let mut command = match nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" serve"))
                    .arg(bin);
                c
            }
            None => {
                let mut c = Command::new(bin);
                c.arg("serve");
                c
            }
        };
        // As TestServer: one warm python container, unless the test says otherwise.
        command.env("LIVECODE_POOL__DEFAULT_SIZE", "1");
        command.env("LIVECODE_STORE__URL", self.store_url().await);
        command.envs(env.iter().copied());
        let child = command
            .env("LIVECODE_LISTEN", format!("127.0.0.1:{port}"))
            .env("LIVECODE_DATA_DIR", self.data_dir())
            .env("LIVECODE_INSTANCE", self.instance())
            .env("LIVECODE_BUILD_IMAGES_ON_START", "false")
            .env("LIVECODE_READ_VERSIONS_ON_START", "false")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log handle"))
            .stderr(log_file)
            .spawn()
            .expect("spawn the livecode binary");
        let pid = child.id();
        let mut server = SpawnedServer {
            pid,
            port,
            http: http_client(),
            child: Some(child),
            home: self.clone(),
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
}

/// The `livecode` binary, started as a child process with `LIVECODE_*` variables.
pub struct SpawnedServer {
    pub port: u16,
    pub pid: u32,
    pub http: reqwest::Client,
    child: Option<Child>,
    // Dropped after `drop` has killed the child: the sweep then finds every container.
    home: ServerHome,
}

impl SpawnedServer {
    /// The binary on a home of its own; see [`ServerHome::spawn_with`].
    pub async fn start(env: &[(&str, &str)], nofile: Option<u64>) -> Self {
        ServerHome::new().spawn_with(env, nofile).await
    }

    /// The server's resident memory now, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        self.try_rss_kib().expect("the server process is alive")
    }

    /// As [`rss_kib`](Self::rss_kib); `None` once the process is gone.
    pub fn try_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    }

    /// SIGTERM, as a service manager stops it; waits up to `wait` for it to exit and says
    /// whether it exited 0.
    pub async fn terminate(&mut self, wait: Duration) -> bool {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        self.wait_exit(wait).await
    }

    /// Waits up to `wait` for the server to exit by itself; says whether it exited 0.
    pub async fn wait_exit(&mut self, wait: Duration) -> bool {
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
        let text = std::fs::read_to_string(self.home.log()).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        format!(
            "--- server log (last lines) ---\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }
}

impl Server for SpawnedServer {
    fn api(&self) -> Api<'_> {
        loopback_api(&self.http, self.port)
    }

    fn ws_url(&self, session_id: &str, query: &str) -> String {
        loopback_ws_url(self.port, session_id, query)
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        self.kill();
    }
}
