//! The session context: every handle the sessions' work shares, each held once. The registry,
//! the containers, the warm pool and every session hold the one `Arc<Context>`; none of them
//! keeps a handle of its own beside it.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use super::SessionError;
use crate::config::Config;
use crate::environments::{Environment, Environments};
use crate::sandbox::{EngineHealth, Sandbox, SandboxError, SandboxSpec};
use crate::store::Store;

/// What every part of the sessions' work may reach. Shared as an `Arc`; it holds no session,
/// so a session may hold it too.
pub(super) struct Context {
    pub config: Arc<Config>,
    /// Read by anyone; written for a session only through `journal`.
    pub store: Arc<dyn Store>,
    /// Used by `container` and `pool` alone.
    pub sandbox: Arc<dyn Sandbox>,
    /// The engine's state as the health watch last saw it.
    pub engine: watch::Receiver<EngineHealth>,
    pub environments: Arc<Environments>,
    /// The sessions' audit trail and the webhook; recorded only through `journal`.
    pub audit: crate::webhooks::Events,
    pub tasks: TaskTracker,
    /// The server is shutting down: test runs start no further case.
    pub stopping: AtomicBool,
    /// This replica's membership, in cluster mode: the leases the store's writes carry.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl Context {
    /// Refuses work that needs the engine while the last ping found it down, so that a caller
    /// hears 503 at once instead of a session stuck in `creating` or a run reported `error`.
    pub fn engine_up(&self) -> Result<(), SessionError> {
        match &*self.engine.borrow() {
            EngineHealth::Ok(_) => Ok(()),
            EngineHealth::Down(why) => Err(SessionError::Sandbox(SandboxError::Unavailable(
                why.clone(),
            ))),
        }
    }

    /// What a container of `env` is made with.
    pub fn spec(&self, env: &Environment) -> SandboxSpec {
        let limits = &self.config.limits;
        let runtime = &self.config.docker.runtime;
        SandboxSpec {
            environment: env.name.clone(),
            image: env.image.clone(),
            memory_mib: env.settings.memory_mib.unwrap_or(limits.memory_mib),
            cpus: env.settings.cpus.unwrap_or(limits.cpus),
            cpu_shares: limits.cpu_shares,
            pids: limits.pids,
            workspace_mib: limits.workspace_mib,
            tmp_mib: limits.tmp_mib,
            build_cache_mib: limits.build_cache_mib,
            daemon: env.settings.daemon.clone(),
            nofile: limits.nofile,
            runtime: (!runtime.is_empty()).then(|| runtime.clone()),
        }
    }

    pub fn idle_ttl(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.idle_ttl()).expect("idle TTL fits")
    }
}
