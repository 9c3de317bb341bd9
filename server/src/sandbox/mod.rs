//! Where a session's code runs: the [`Sandbox`] trait and its types, which say nothing about
//! Docker, the [`ImageBuilder`] beside it, the client of the runner every sandbox holds, and
//! the Docker backend.
//!
//! # Layout
//! - [`Sandbox`]: create a session's sandbox, open its runner's stream, remove it, watch it.
//! - [`ImageBuilder`]: build, inspect and probe environment images.
//! - `runner`: [`RunnerConn`], the server's end of `livecode-runner`'s framed stream: one per
//!   sandbox, carrying every run.
//! - `docker`: the bollard backend (the only module that knows Docker).
//!
//! Deliberately absent: sessions, roles, run statuses. The runner enforces a run's limits;
//! the caller decides what its end means.

mod docker;
mod runner;

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use tokio::io::AsyncWrite;

pub use docker::DockerSandbox;
pub use runner::{RunEvent, RunEvents, RunnerConn, RunnerError};

/// Where the session's files live inside the sandbox.
pub const WORKSPACE: &str = "/workspace";
/// The uid runs execute as; the sandbox's keeper and its runner run as others.
pub const RUN_UID: u32 = 1000;
/// The runner's build cache: a tmpfs of its own, which only the runner's cache uid may write.
pub const BUILD_CACHE: &str = "/var/cache/livecode";
pub const BUILD_CACHE_UID: u32 = 1001;
/// A toolchain's resident compiler (the spec's `daemon`): its uid, and its own tmpfs, where
/// its socket is.
pub const DAEMON_DIR: &str = "/run/livecode";
pub const DAEMON_UID: u32 = 1002;
pub const DAEMON_DIR_MIB: u64 = 64;
/// Where the runner binary lives in every environment image.
pub const RUNNER_PATH: &str = "/usr/local/bin/livecode-runner";
/// The image label that names the runner build an image carries.
pub const RUNNER_LABEL: &str = "livecode.runner";

/// An engine's id for one sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SandboxId(pub String);

impl std::fmt::Display for SandboxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a new sandbox is made from, and its limits.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxSpec {
    pub environment: String,
    pub image: String,
    pub memory_mib: u64,
    pub cpus: f64,
    /// Relative CPU weight under contention (Docker's `--cpu-shares`; the default is 1024).
    pub cpu_shares: i64,
    pub pids: i64,
    pub workspace_mib: u64,
    pub tmp_mib: u64,
    /// The build cache's tmpfs ([`BUILD_CACHE`]); 0 for none.
    pub build_cache_mib: u64,
    /// The command of the toolchain's resident compiler, which the runner starts as
    /// [`DAEMON_UID`] (environment.toml `daemon`).
    pub daemon: Option<String>,
    pub nofile: u64,
    /// OCI runtime, e.g. `runsc`; `None` for the engine's default.
    pub runtime: Option<String>,
}

impl SandboxSpec {
    /// A short digest of everything a sandbox is made with: a sandbox whose digest differs
    /// from today's spec is not adopted.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        let text = format!("{self:?}");
        hex::encode(&sha2::Sha256::digest(text.as_bytes())[..8])
    }
}

/// Which output stream a chunk came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// Bytes a process wrote, as they arrived.
#[derive(Debug, Clone)]
pub struct OutputChunk {
    pub stream: OutputStream,
    pub data: Bytes,
}

/// The runner's end of a sandbox, as the engine hands it over: its stdout and stderr as they
/// arrive, and its stdin.
pub struct RunnerPipe {
    pub output: BoxStream<'static, Result<OutputChunk, SandboxError>>,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// A sandbox found in the engine carrying this server's labels.
#[derive(Debug, Clone)]
pub struct ManagedSandbox {
    pub id: SandboxId,
    pub environment: String,
    /// The image it was made from, as the engine's id.
    pub image_id: String,
    /// [`SandboxSpec::digest`] of the spec it was made with.
    pub spec_digest: String,
    pub running: bool,
    /// When the engine made it, in seconds since the Unix epoch.
    pub created: i64,
}

/// An image as the engine has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    /// The runner build it carries ([`RUNNER_LABEL`]), if any.
    pub runner: Option<String>,
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
}

impl SandboxError {
    /// The sandbox is gone or stopped: a new one would help.
    pub fn is_gone(&self) -> bool {
        matches!(
            self,
            SandboxError::NotFound(_) | SandboxError::NotRunning(_)
        )
    }
}

/// Progress of an image build, line by line.
pub type BuildLog<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// Where a session's code runs. Narrow, so a Kubernetes backend is an addition, not a rewrite:
/// a sandbox is a long-lived container with the runner in it, and everything a run does goes
/// through the runner's stream.
#[async_trait]
pub trait Sandbox: Send + Sync {
    /// Checks the engine answers; returns its version.
    async fn ping(&self) -> Result<String, SandboxError>;
    /// Creates and starts a sandbox.
    async fn create(&self, spec: &SandboxSpec) -> Result<SandboxId, SandboxError>;
    /// True when the sandbox exists, runs and is not paused.
    async fn is_running(&self, id: &SandboxId) -> Result<bool, SandboxError>;
    /// Starts `livecode-runner` in the sandbox and hands over its stdin and output.
    async fn open_runner(&self, id: &SandboxId) -> Result<RunnerPipe, SandboxError>;
    /// Removes the sandbox and everything in it; absent is fine.
    async fn remove(&self, id: &SandboxId) -> Result<(), SandboxError>;
    /// Ids of this instance's sandboxes as they stop (died, were killed or removed) or are
    /// paused. Ends when the engine's stream does; watch again then.
    fn watch_exits(&self) -> BoxStream<'static, Result<SandboxId, SandboxError>>;
    /// Sandboxes labelled with this server's instance, for start-up reconciliation.
    async fn list_managed(&self) -> Result<Vec<ManagedSandbox>, SandboxError>;
}

/// Environment images: what exists, building one, reading a version off one.
#[async_trait]
pub trait ImageBuilder: Send + Sync {
    /// The image, or `None` when the engine has no such image.
    async fn image(&self, image: &str) -> Result<Option<ImageInfo>, SandboxError>;
    /// Builds `image` from a tar'd build context with these build arguments; progress goes to
    /// `log`.
    async fn build_image(
        &self,
        image: &str,
        context: Bytes,
        args: &[(&str, &str)],
        log: BuildLog<'_>,
    ) -> Result<(), SandboxError>;
    /// Runs a command in a fresh, throw-away sandbox from `image` and returns its stdout
    /// (used to read an environment's language version off its image).
    async fn probe_image(&self, image: &str, command: &str) -> Result<String, SandboxError>;
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
    suspect: std::sync::Arc<tokio::sync::Notify>,
    tx: tokio::sync::watch::Sender<EngineHealth>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
    let mut failures = 0u32;
    loop {
        let wait = if failures == 0 { every } else { every / 4 };
        // A call that found the engine unreachable counts as one failed ping already.
        let suspected = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => false,
            _ = suspect.notified() => true,
        };
        let now = match tokio::time::timeout(PING_TIMEOUT, sandbox.ping()).await {
            Ok(Ok(version)) => {
                failures = 0;
                EngineHealth::Ok(version)
            }
            Ok(Err(err)) => {
                failures += 1 + u32::from(suspected);
                EngineHealth::Down(err.to_string())
            }
            Err(_) => {
                failures += 1 + u32::from(suspected);
                EngineHealth::Down("the engine did not answer a ping in time".into())
            }
        };
        if matches!(now, EngineHealth::Down(_)) {
            crate::metrics::engine_error();
        }
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

/// A [`Sandbox`] that tells the engine watch (`suspect`) whenever a call finds the engine
/// unreachable, so that an outage is noticed at the first failed call, not at the next
/// background ping. The watch pings at once and decides; a false alarm costs one ping.
pub struct Watched {
    inner: std::sync::Arc<dyn Sandbox>,
    suspect: std::sync::Arc<tokio::sync::Notify>,
}

impl Watched {
    pub fn new(
        inner: std::sync::Arc<dyn Sandbox>,
        suspect: std::sync::Arc<tokio::sync::Notify>,
    ) -> Self {
        Self { inner, suspect }
    }

    fn note<T>(&self, result: Result<T, SandboxError>) -> Result<T, SandboxError> {
        if let Err(SandboxError::Unavailable(_)) = &result {
            self.suspect.notify_one();
        }
        result
    }
}

#[async_trait]
impl Sandbox for Watched {
    async fn ping(&self) -> Result<String, SandboxError> {
        self.inner.ping().await
    }
    async fn create(&self, spec: &SandboxSpec) -> Result<SandboxId, SandboxError> {
        self.note(self.inner.create(spec).await)
    }
    async fn is_running(&self, id: &SandboxId) -> Result<bool, SandboxError> {
        self.note(self.inner.is_running(id).await)
    }
    async fn open_runner(&self, id: &SandboxId) -> Result<RunnerPipe, SandboxError> {
        self.note(self.inner.open_runner(id).await)
    }
    async fn remove(&self, id: &SandboxId) -> Result<(), SandboxError> {
        self.note(self.inner.remove(id).await)
    }
    fn watch_exits(&self) -> BoxStream<'static, Result<SandboxId, SandboxError>> {
        use futures_util::StreamExt;
        let suspect = self.suspect.clone();
        self.inner
            .watch_exits()
            .inspect(move |item| {
                if let Err(SandboxError::Unavailable(_)) = item {
                    suspect.notify_one();
                }
            })
            .boxed()
    }
    async fn list_managed(&self) -> Result<Vec<ManagedSandbox>, SandboxError> {
        self.note(self.inner.list_managed().await)
    }
}

/// A sandbox backend for unit tests of the layers above: the engine never answers.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub struct Unreachable;

    fn down<T>() -> Result<T, SandboxError> {
        Err(SandboxError::Unavailable("no engine in unit tests".into()))
    }

    #[async_trait]
    impl Sandbox for Unreachable {
        async fn ping(&self) -> Result<String, SandboxError> {
            down()
        }
        async fn create(&self, _: &SandboxSpec) -> Result<SandboxId, SandboxError> {
            down()
        }
        async fn is_running(&self, _: &SandboxId) -> Result<bool, SandboxError> {
            down()
        }
        async fn open_runner(&self, _: &SandboxId) -> Result<RunnerPipe, SandboxError> {
            down()
        }
        async fn remove(&self, _: &SandboxId) -> Result<(), SandboxError> {
            down()
        }
        fn watch_exits(&self) -> BoxStream<'static, Result<SandboxId, SandboxError>> {
            Box::pin(futures_util::stream::empty())
        }
        async fn list_managed(&self) -> Result<Vec<ManagedSandbox>, SandboxError> {
            down()
        }
    }
}
