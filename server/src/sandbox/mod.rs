//! Where a session's code runs: the [`Sandbox`] trait and its types, which say nothing about
//! Docker, and the Docker backend in `docker`.
//!
//! # Layout
//! - [`Sandbox`]: create a session's sandbox, exec a run into it, kill what a run left, remove.
//! - `runner.sh`: the small shell program every run execs; it unpacks the run's files into
//!   `/workspace` from its own stdin and runs the command, in one exec.
//! - `docker`: the bollard backend (the only module that knows Docker).
//!
//! Deliberately absent: sessions, roles, timeouts. The caller decides when to kill.

mod docker;

use std::collections::BTreeMap;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use tokio::io::AsyncWrite;

pub use docker::DockerSandbox;

/// The shell program each run execs (see the file for its stdin protocol).
pub const RUNNER_SCRIPT: &str = include_str!("runner.sh");
/// The byte the runner writes first on stdout, and again once the workspace is written (see
/// `runner.sh`).
pub const RUNNER_STARTED: u8 = 0x06;
/// Written by the runner instead of the second `RUNNER_STARTED` when the workspace could not be
/// written; its reason follows.
pub const RUNNER_WORKSPACE_FAILED: u8 = 0x15;
/// Exit code of the runner when the workspace could not be written.
pub const RUNNER_FAILED: i64 = 125;
/// Where the session's files live inside the sandbox.
pub const WORKSPACE: &str = "/workspace";
/// The uid runs execute as; the sandbox's keeper process runs as another uid.
pub const RUN_UID: u32 = 1000;

/// An engine's id for one sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SandboxId(pub String);

impl std::fmt::Display for SandboxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a new sandbox is made from, and its limits.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub session_id: String,
    pub environment: String,
    pub image: String,
    pub memory_mib: u64,
    pub cpus: f64,
    pub pids: i64,
    pub workspace_mib: u64,
    pub tmp_mib: u64,
    pub nofile: u64,
    /// OCI runtime, e.g. `runsc`; `None` for the engine's default.
    pub runtime: Option<String>,
}

/// A file to put into `/workspace`; `path` is relative and already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceFile {
    pub path: String,
    pub content: Bytes,
}

/// One process to start in a sandbox.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    /// Files written into `/workspace` just before the command starts (same exec).
    pub files: Vec<WorkspaceFile>,
    /// The command, in `sh` syntax, run in `/workspace` as [`RUN_UID`].
    pub command: String,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// Bytes a running process wrote, as they arrived.
#[derive(Debug, Clone)]
pub struct OutputChunk {
    pub stream: OutputStream,
    pub data: Bytes,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// The exit code (128 + signal when killed by a signal), if the engine knows it.
    pub code: Option<i64>,
    /// The kernel's OOM killer ended a process of this run.
    pub oom: bool,
}

/// A started process: its output as it is produced, its stdin, and how it ended.
pub struct Execution {
    /// Ends when the process and everything holding its stdout/stderr are gone.
    pub output: BoxStream<'static, Result<OutputChunk, SandboxError>>,
    /// The process's standard input; shut it down to send EOF.
    pub stdin: Pin<Box<dyn AsyncWrite + Send>>,
    /// Resolves once `output` has ended.
    pub exit: BoxFuture<'static, Result<ExitStatus, SandboxError>>,
}

/// What `kill_run_processes` had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillOutcome {
    /// The run's processes were killed; the workspace is intact.
    Killed,
    /// The sandbox could not take another process (pids limit) and was restarted: its
    /// workspace is empty again.
    Restarted,
}

/// A sandbox found in the engine carrying this server's labels.
#[derive(Debug, Clone)]
pub struct ManagedSandbox {
    pub id: SandboxId,
    pub session_id: String,
    pub running: bool,
}

/// Why the sandbox layer failed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the container engine is unreachable: {0}")]
    Unavailable(String),
    #[error("image {0} is not built")]
    ImageMissing(String),
    #[error("sandbox {0} does not exist")]
    NotFound(String),
    #[error("sandbox {0} is not running")]
    NotRunning(String),
    #[error("image build failed: {0}")]
    Build(String),
    #[error("container engine error: {0}")]
    Engine(String),
    /// The process could not be started in the sandbox (nothing of it ran).
    #[error("the sandbox could not start the program: {0}")]
    ExecFailed(String),
    /// The run's files could not be written (nothing of the program ran).
    #[error("the files could not be written to the workspace: {0}")]
    Workspace(String),
}

/// Progress of an image build, line by line.
pub type BuildLog<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// Where a session's code runs. Narrow, so a Kubernetes backend is an addition, not a rewrite.
#[async_trait]
pub trait Sandbox: Send + Sync {
    /// Checks the engine answers; returns its version.
    async fn ping(&self) -> Result<String, SandboxError>;
    /// Creates and starts a sandbox.
    async fn create(&self, spec: &SandboxSpec) -> Result<SandboxId, SandboxError>;
    /// True when the sandbox exists and runs.
    async fn is_running(&self, id: &SandboxId) -> Result<bool, SandboxError>;
    /// True when the sandbox exists, running or not.
    async fn exists(&self, id: &SandboxId) -> Result<bool, SandboxError>;
    /// Starts a process; its output arrives on [`Execution`] as it is produced.
    async fn exec(&self, id: &SandboxId, spec: ExecSpec) -> Result<Execution, SandboxError>;
    /// Kills every process a run started; the sandbox itself keeps running.
    async fn kill_run_processes(&self, id: &SandboxId) -> Result<KillOutcome, SandboxError>;
    /// Removes the sandbox and everything in it; absent is fine.
    async fn remove(&self, id: &SandboxId) -> Result<(), SandboxError>;
    /// Ids of this instance's sandboxes as they stop (died, were killed or removed) — also when
    /// this server restarts one itself, so a watcher checks before acting. Ends when the
    /// engine's stream does; watch again then.
    fn watch_exits(&self) -> BoxStream<'static, Result<SandboxId, SandboxError>>;
    /// Sandboxes labelled with this server's instance, for start-up reconciliation.
    async fn list_managed(&self) -> Result<Vec<ManagedSandbox>, SandboxError>;
    /// True when the image exists in the engine.
    async fn image_exists(&self, image: &str) -> Result<bool, SandboxError>;
    /// Builds `image` from a tar'd build context; progress goes to `log`.
    async fn build_image(
        &self,
        image: &str,
        context: Bytes,
        log: BuildLog<'_>,
    ) -> Result<(), SandboxError>;
    /// Runs a command in a fresh, throw-away sandbox from `image` and returns its stdout
    /// (used to read an environment's language version off its image).
    async fn probe_image(&self, image: &str, command: &str) -> Result<String, SandboxError>;
}

/// Packs files into the tar the runner unpacks into `/workspace`.
pub fn workspace_tar(files: &[WorkspaceFile]) -> Bytes {
    let mut builder = tar::Builder::new(Vec::new());
    for file in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(file.content.len() as u64);
        header.set_mode(0o644);
        header.set_uid(RUN_UID.into());
        header.set_gid(RUN_UID.into());
        header.set_mtime(0);
        builder
            .append_data(&mut header, &file.path, file.content.as_ref())
            .expect("writing a tar to memory cannot fail for validated relative paths");
    }
    Bytes::from(builder.into_inner().expect("tar to memory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_tar_round_trips() {
        let files = vec![
            WorkspaceFile {
                path: "main.py".into(),
                content: Bytes::from_static(b"print(1)\n"),
            },
            WorkspaceFile {
                path: "lib/util.py".into(),
                content: Bytes::from("é🎉"),
            },
        ];
        let tar = workspace_tar(&files);
        let mut archive = tar::Archive::new(tar.as_ref());
        let mut seen = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let mut body = String::new();
            std::io::Read::read_to_string(&mut entry, &mut body).expect("utf-8");
            seen.push((entry.path().expect("path").display().to_string(), body));
        }
        assert_eq!(
            seen,
            vec![
                ("main.py".into(), "print(1)\n".into()),
                ("lib/util.py".into(), "é🎉".into())
            ]
        );
    }
}

/// The engine as the last background ping found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineHealth {
    /// Answering; the engine's version.
    Ok(String),
    /// Not answering; why.
    Down(String),
}

/// Pings the engine every `every` (four times as often after a failure, so that an outage
/// and a recovery both show quickly) and publishes what it finds, until `shutdown`. Health
/// checks read this instead of calling the engine, so no number of them adds load on Docker.
/// Two failed pings in a row make the engine `Down`: one slow answer on a busy host is not an
/// outage, and `Down` makes the server refuse new sessions and runs.
pub async fn watch_engine(
    sandbox: std::sync::Arc<dyn Sandbox>,
    every: std::time::Duration,
    tx: tokio::sync::watch::Sender<EngineHealth>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
    let mut failures = 0u32;
    loop {
        let wait = if failures == 0 { every } else { every / 4 };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let now = match tokio::time::timeout(PING_TIMEOUT, sandbox.ping()).await {
            Ok(Ok(version)) => {
                failures = 0;
                EngineHealth::Ok(version)
            }
            Ok(Err(err)) => {
                failures += 1;
                EngineHealth::Down(err.to_string())
            }
            Err(_) => {
                failures += 1;
                EngineHealth::Down("the engine did not answer a ping in time".into())
            }
        };
        if matches!(now, EngineHealth::Down(_)) && failures < 2 {
            continue;
        }
        tx.send_if_modified(|old| {
            if *old == now {
                return false;
            }
            match &now {
                EngineHealth::Ok(_) => tracing::info!("the container engine answers again"),
                EngineHealth::Down(why) => {
                    tracing::warn!(%why, "the container engine does not answer")
                }
            }
            *old = now;
            true
        });
    }
}
