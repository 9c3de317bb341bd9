//! A session's container and its runner: made (or claimed from the warm pool), adopted after
//! a restart, re-opened when the runner's stream broke, replaced when the container died
//! (seen as a Docker event, or after an engine outage), removed when the session ends.
//!
//! Creation and removal for one session are serialized by the session's `lifecycle` mutex.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::pool::Pool;
use super::{EndReason, LiveMap, Session, SessionError, SessionEvent, Status};
use crate::config::Config;
use crate::environments::Environment;
use crate::sandbox::{
    EngineHealth, RunnerConn, RunnerError, Sandbox, SandboxError, SandboxId, SandboxSpec,
};
use crate::store::Store;

/// Everything a session's container needs. Cheap to clone: every field is a handle.
#[derive(Clone)]
pub(super) struct Containers {
    pub sandbox: Arc<dyn Sandbox>,
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub tasks: TaskTracker,
    pub pool: Pool,
    pub engine: watch::Receiver<EngineHealth>,
    /// The live sessions (owned by the registry), to find whose container died.
    pub live: LiveMap,
    /// Sessions' events: the store's audit trail and the webhook.
    pub events: crate::webhooks::Events,
    /// The server is shutting down: test runs start no further case.
    pub stopping: Arc<std::sync::atomic::AtomicBool>,
}

/// A session's runner, ready for a run.
pub(super) struct Ready {
    pub container: SandboxId,
    pub runner: Arc<RunnerConn>,
    /// The container was replaced on the way (it had died or could not run the runner).
    pub replaced: bool,
}

/// What a container of `env` is made with.
pub(super) fn spec(config: &Config, env: &Environment) -> SandboxSpec {
    let limits = &config.limits;
    let runtime = &config.docker.runtime;
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

impl Containers {
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

    /// Makes the session's container in the background (status `creating`, then `ready`).
    pub fn spawn_ensure(&self, session: Arc<Session>) {
        let this = self.clone();
        self.tasks.spawn(async move {
            if let Err(err) = this.runner(&session).await {
                tracing::warn!(session = %session.id, %err, "could not start the session's container");
            }
        });
    }

    /// The session's runner: the open one, else re-opened in its container, else a new
    /// container (from the pool when it has one) with its runner.
    pub async fn runner(&self, session: &Arc<Session>) -> Result<Ready, SessionError> {
        let _lifecycle = session.lifecycle.lock().await;
        let mut replaced = false;
        for _ in 0..2 {
            if session.status().is_ended() {
                return Err(SessionError::Ended);
            }
            let (container, runner) = {
                let state = session.state();
                (state.container.clone(), state.runner.clone())
            };
            let Some(container) = container else {
                let (container, runner) = self.create_locked(session).await?;
                return Ok(Ready {
                    container,
                    runner,
                    replaced,
                });
            };
            if let Some(runner) = runner.filter(|r| !r.is_closed()) {
                return Ok(Ready {
                    container,
                    runner,
                    replaced,
                });
            }
            match RunnerConn::open(&*self.sandbox, &container, &self.tasks).await {
                Ok(runner) => {
                    session.state().runner = Some(runner.clone());
                    return Ok(Ready {
                        container,
                        runner,
                        replaced,
                    });
                }
                Err(err) if self.unusable(&container, &err).await => {
                    tracing::warn!(session = %session.id, %container, %err, "the container cannot run the runner; replacing it");
                    self.forget_locked(session, &container);
                    let _ = self.sandbox.remove(&container).await;
                    replaced = true;
                }
                Err(err) => return Err(runner_error(err)),
            }
        }
        Err(SessionError::Sandbox(SandboxError::Engine(
            "a new container could not run the runner either".into(),
        )))
    }

    /// Would a new container help? Yes when this one is gone, stopped or paused, or was
    /// made from an image whose runner is not this server's. An engine that does not answer
    /// says nothing of the container: it is kept (replacing it then would only lose it).
    async fn unusable(&self, container: &SandboxId, err: &RunnerError) -> bool {
        match err {
            RunnerError::Sandbox(e) if e.is_gone() => true,
            RunnerError::Protocol(_) => true,
            RunnerError::Sandbox(SandboxError::Unavailable(_)) => false,
            _ => match self.sandbox.is_running(container).await {
                Ok(running) => !running,
                Err(e) => e.is_gone(),
            },
        }
    }

    /// A container for the session, with its runner open; the lifecycle lock is held.
    async fn create_locked(
        &self,
        session: &Arc<Session>,
    ) -> Result<(SandboxId, Arc<RunnerConn>), SessionError> {
        let env = &session.environment();
        let (container, runner) = match self.pool.claim(&env.name) {
            Some(warm) => (warm.container, warm.runner),
            None => {
                self.engine_up()?;
                let started = std::time::Instant::now();
                let container = self.sandbox.create(&spec(&self.config, env)).await?;
                match RunnerConn::open(&*self.sandbox, &container, &self.tasks).await {
                    Ok(runner) => {
                        tracing::info!(session = %session.id, %container, ms = started.elapsed().as_millis() as u64, "container started");
                        (container, runner)
                    }
                    Err(err) => {
                        let _ = self.sandbox.remove(&container).await;
                        return Err(runner_error(err));
                    }
                }
            }
        };
        let status = {
            let mut state = session.state();
            state.container = Some(container.clone());
            state.runner = Some(runner.clone());
            if state.status() == Status::Creating {
                session.set_status_locked(&mut state, Status::Ready);
            }
            state.status()
        };
        self.persist_state(session, status, None).await;
        Ok((container, runner))
    }

    /// Forgets a container that died under the session, so that a new one is made; an idle
    /// session shows `creating` until then. False when the session has another container.
    pub async fn forget(&self, session: &Arc<Session>, dead: &SandboxId) -> bool {
        let _lifecycle = session.lifecycle.lock().await;
        self.forget_locked(session, dead)
    }

    fn forget_locked(&self, session: &Session, dead: &SandboxId) -> bool {
        let mut state = session.state();
        if state.container.as_ref() != Some(dead) {
            return false;
        }
        state.container = None;
        state.runner = None;
        if state.status() == Status::Ready {
            session.set_status_locked(&mut state, Status::Creating);
        }
        true
    }

    /// Drops a runner whose stream broke while its container still runs: the next run
    /// re-opens it (the new runner stops any old one first).
    pub fn drop_runner(&self, session: &Session, runner: &Arc<RunnerConn>) {
        let mut state = session.state();
        if state
            .runner
            .as_ref()
            .is_some_and(|r| Arc::ptr_eq(r, runner))
        {
            state.runner = None;
        }
    }

    /// Takes the container away from an ending session and removes it.
    pub async fn release(&self, session: &Arc<Session>) -> Result<(), SandboxError> {
        let (container, runner) = {
            let _lifecycle = session.lifecycle.lock().await;
            let mut state = session.state();
            (state.container.take(), state.runner.take())
        };
        if let Some(runner) = runner {
            runner.close().await;
        }
        match &container {
            Some(id) => self.sandbox.remove(id).await,
            None => Ok(()),
        }
    }

    /// Replaces a session's dead container, if it is still the session's.
    pub async fn replace(&self, session: &Arc<Session>, dead: &SandboxId) {
        if self.forget(session, dead).await {
            tracing::warn!(session = %session.id, container = %dead, "container died; replacing it");
            let _ = self.sandbox.remove(dead).await;
            if let Err(err) = self.runner(session).await {
                tracing::warn!(session = %session.id, %err, "could not replace the container");
            }
        }
    }

    /// Replaces a container whose runner could not clear it (a run left what it cannot
    /// remove, or processes it cannot stop): forgotten at once, so that no run is sent to it
    /// again; removed, and a new one made (from the pool when it has one), in the
    /// background. The next run writes the session's files into the new one as into any.
    pub async fn retire(&self, session: &Arc<Session>, broken: &SandboxId, why: &str) {
        if !self.forget(session, broken).await {
            return;
        }
        tracing::warn!(session = %session.id, container = %broken, why, "the sandbox could not be cleared; replacing it");
        let (this, session, broken) = (self.clone(), session.clone(), broken.clone());
        self.tasks.spawn(async move {
            let _ = this.sandbox.remove(&broken).await;
            if session.status().is_ended() {
                return;
            }
            if let Err(err) = this.runner(&session).await {
                tracing::warn!(session = %session.id, %err, "could not replace the container");
            }
        });
    }

    /// Writes the session's status, container and last activity to the store; a failure is
    /// logged, not fatal (the next write carries the same fields).
    pub async fn persist_state(
        &self,
        session: &Session,
        status: Status,
        reason: Option<EndReason>,
    ) {
        let (container, last_activity) = {
            let state = session.state();
            (
                state.container.as_ref().map(|c| c.0.clone()),
                state.last_activity_at,
            )
        };
        if let Err(err) = self
            .store
            .update_session_state(
                &session.id,
                status,
                container.as_deref(),
                last_activity,
                reason,
            )
            .await
        {
            tracing::error!(session = %session.id, %err, "could not store the session state");
        }
    }

    /// Replaces the containers of live sessions as they die or are paused (killed, OOM of the
    /// keeper, removed or paused by hand), and drops dead pool containers, until `shutdown`.
    pub async fn run_watch(self, shutdown: CancellationToken) {
        loop {
            let mut exits = self.sandbox.watch_exits();
            loop {
                let exit = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    exit = exits.next() => exit,
                };
                match exit {
                    Some(Ok(id)) => self.on_exit(id),
                    Some(Err(err)) => {
                        tracing::warn!(%err, "container events failed; watching again");
                        break;
                    }
                    None => break,
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn on_exit(&self, id: SandboxId) {
        if self.pool.forget(&id) {
            let sandbox = self.sandbox.clone();
            self.tasks.spawn(async move {
                let _ = sandbox.remove(&id).await;
            });
            return;
        }
        let owner = self
            .live
            .iter()
            .find(|entry| entry.value().state().container.as_ref() == Some(&id))
            .map(|entry| entry.value().clone());
        let Some(session) = owner else { return };
        let this = self.clone();
        self.tasks.spawn(async move {
            if session.status().is_ended() {
                return;
            }
            this.replace(&session, &id).await;
        });
    }

    /// Follows the engine's state until `shutdown`: while it is down every socket hears
    /// `degraded`; when it is back, every live session's container is checked, a dead one is
    /// removed and replaced (with backoff), and the sockets hear the session's status again.
    /// Container deaths during the outage were not seen as events, hence the check.
    pub async fn run_engine_watch(self, shutdown: CancellationToken) {
        let mut engine = self.engine.clone();
        let mut down = false;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = engine.changed() => if changed.is_err() { return },
            }
            let now_down = matches!(*engine.borrow_and_update(), EngineHealth::Down(_));
            if now_down == down {
                continue;
            }
            down = now_down;
            let live: Vec<Arc<Session>> = self.live.iter().map(|e| e.value().clone()).collect();
            if down {
                for session in &live {
                    session.emit(SessionEvent::EngineDown);
                }
                continue;
            }
            tracing::info!(
                sessions = live.len(),
                "engine back: checking every session's container"
            );
            self.pool.wake();
            let back = std::time::SystemTime::now();
            for session in live {
                let this = self.clone();
                self.tasks
                    .spawn(async move { this.heal_after_outage(session).await });
            }
            let this = self.clone();
            self.tasks
                .spawn(async move { this.remove_leftovers(back).await });
        }
    }

    /// Removes this instance's containers that nobody holds and that were made before the
    /// engine came back: what the outage left (a creation whose answer was lost, a removal
    /// that failed, a session that ended meanwhile). Newer ones may be in the making.
    async fn remove_leftovers(&self, back: std::time::SystemTime) {
        // Containers are dated in whole seconds; a margin keeps one made as the engine came
        // back (and not yet handed to its session) out of reach.
        let before = back
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
            - 2;
        let managed = match self.sandbox.list_managed().await {
            Ok(list) => list,
            Err(err) => {
                tracing::warn!(%err, "could not list containers after the outage");
                return;
            }
        };
        let mut held = self.pool.containers();
        held.extend(
            self.live
                .iter()
                .filter_map(|e| e.value().state().container.clone()),
        );
        for m in managed {
            if held.contains(&m.id) || m.created >= before {
                continue;
            }
            tracing::warn!(container = %m.id, environment = %m.environment, "removing a container the outage left");
            if let Err(err) = self.sandbox.remove(&m.id).await {
                tracing::warn!(container = %m.id, %err, "could not remove a container the outage left");
            }
        }
    }

    async fn heal_after_outage(&self, session: Arc<Session>) {
        let container = session.state().container.clone();
        if let Some(id) = &container {
            if !matches!(self.sandbox.is_running(id).await, Ok(true))
                && self.forget(&session, id).await
            {
                tracing::warn!(session = %session.id, container = %id, "container died during the outage; replacing it");
                let _ = self.sandbox.remove(id).await;
            }
        }
        // A session whose container survived keeps it; its runner opens at its next run.
        let mut wait = Duration::from_millis(500);
        for attempt in 1..=6 {
            if session.state().container.is_some() {
                break;
            }
            match self.runner(&session).await {
                Ok(_) | Err(SessionError::Ended) => break,
                Err(err) if attempt == 6 => {
                    tracing::error!(session = %session.id, %err, "no container after the outage");
                }
                Err(err) => {
                    tracing::warn!(session = %session.id, %err, attempt, "could not make a container yet");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
        // Everyone hears the session's own status again (`ready` once it has a container).
        session.emit(SessionEvent::Status(session.status()));
    }
}

pub(super) fn runner_error(err: RunnerError) -> SessionError {
    match err {
        RunnerError::Sandbox(e) => SessionError::Sandbox(e),
        other => SessionError::Sandbox(SandboxError::Engine(other.to_string())),
    }
}
