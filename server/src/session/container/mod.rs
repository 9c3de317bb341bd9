//! A session's container and its runner, and the warm pool they may come from: made (or
//! claimed from the pool), adopted after a restart, re-opened when the runner's stream broke,
//! replaced when the container died (`watch` sees that) or could not be cleared, closed and
//! removed when the session ends, switches language, or could not be stored.
//!
//! Creation and removal for one session are serialized by the session's `lifecycle` mutex.

mod watch;

use std::collections::HashSet;
use std::sync::Arc;

use super::context::Context;
use super::pool::{Pool, PoolStatus, Warm};
use super::{Session, SessionError, Status};
use crate::sandbox::{ManagedSandbox, RunnerConn, RunnerError, SandboxError, SandboxId};

/// Sessions' containers and the warm pool. Cheap to clone: every field is a handle.
#[derive(Clone)]
pub(super) struct Containers {
    ctx: Arc<Context>,
    pool: Pool,
}

/// A session's runner, ready for a run.
pub(super) struct Ready {
    pub container: SandboxId,
    pub runner: Arc<RunnerConn>,
    /// The container was replaced on the way (it had died or could not run the runner).
    pub replaced: bool,
}

impl Containers {
    pub fn new(ctx: Arc<Context>) -> Self {
        Self {
            pool: Pool::new(ctx.clone()),
            ctx,
        }
    }

    /// A warm container of `environment` for a new session, if one waits (counted as a hit
    /// or a miss).
    pub fn claim_for_new(&self, environment: &str) -> Option<Warm> {
        let warm = self.pool.claim(environment);
        self.pool.count(environment, warm.is_some());
        warm
    }

    /// Closes a container's runner and removes the container in the background: one a session
    /// no longer has (a language switch), or one it never got (its record could not be stored).
    pub async fn discard(&self, container: SandboxId, runner: Option<Arc<RunnerConn>>) {
        if let Some(runner) = runner {
            runner.close().await;
        }
        let sandbox = self.ctx.sandbox.clone();
        self.ctx.tasks.spawn(async move {
            if let Err(err) = sandbox.remove(&container).await {
                tracing::warn!(%container, %err, "could not remove a container no session has");
            }
        });
    }

    /// Every environment's warm pool.
    pub fn pool_status(&self) -> Vec<PoolStatus> {
        self.pool.status()
    }

    /// Wakes the pool's filler (a claim, an image built, the engine back).
    pub fn wake_pool(&self) {
        self.pool.wake();
    }

    /// On shutdown: closes the runners of `sessions` and of the pool (each clears its
    /// sandbox). The containers stay, for the next start.
    pub async fn close_runners(&self, sessions: &[Arc<Session>]) {
        let runners: Vec<Arc<RunnerConn>> = sessions
            .iter()
            .filter_map(|s| s.state().runner.clone())
            .collect();
        futures_util::future::join_all(runners.iter().map(|r| r.close())).await;
        self.pool.close_all().await;
    }

    /// Whether a container still runs (an engine error counts as no).
    pub async fn is_running(&self, container: &SandboxId) -> bool {
        matches!(self.ctx.sandbox.is_running(container).await, Ok(true))
    }

    /// Makes the session's container in the background (status `creating`, then `ready`).
    pub fn spawn_ensure(&self, session: Arc<Session>) {
        let this = self.clone();
        self.ctx.tasks.spawn(async move {
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
            // A session that moved to another replica gets no container here again (its
            // removal took this lock before, so none is left behind either).
            if session.status().is_ended() || session.moved.is_cancelled() {
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
            match RunnerConn::open(&*self.ctx.sandbox, &container, &self.ctx.tasks).await {
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
                    let _ = self.ctx.sandbox.remove(&container).await;
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
            _ => match self.ctx.sandbox.is_running(container).await {
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
                self.ctx.engine_up()?;
                let started = std::time::Instant::now();
                let container = self.ctx.sandbox.create(&self.ctx.spec(env)).await?;
                match RunnerConn::open(&*self.ctx.sandbox, &container, &self.ctx.tasks).await {
                    Ok(runner) => {
                        tracing::info!(session = %session.id, %container, ms = started.elapsed().as_millis() as u64, "container started");
                        (container, runner)
                    }
                    Err(err) => {
                        let _ = self.ctx.sandbox.remove(&container).await;
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
        session.persist_state(status, None).await;
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
            Some(id) => self.ctx.sandbox.remove(id).await,
            None => Ok(()),
        }
    }

    /// Removes an idle session's container while nobody needs it (a take-home's candidate
    /// is away): the session stays, `creating`, until its next visit makes one again (runs
    /// write the session's files into it, as into any).
    pub async fn park(&self, session: &Arc<Session>) {
        let (container, runner) = {
            let _lifecycle = session.lifecycle.lock().await;
            let mut state = session.state();
            if state.status() != Status::Ready {
                return;
            }
            let taken = (state.container.take(), state.runner.take());
            session.set_status_locked(&mut state, Status::Creating);
            taken
        };
        session.persist_state(Status::Creating, None).await;
        if let Some(runner) = runner {
            runner.close().await;
        }
        if let Some(id) = &container {
            tracing::info!(session = %session.id, container = %id, "the candidate is away; container released");
            if let Err(err) = self.ctx.sandbox.remove(id).await {
                tracing::warn!(session = %session.id, %err, "could not remove a released container");
            }
        }
    }

    /// Replaces a session's dead container, if it is still the session's.
    pub async fn replace(&self, session: &Arc<Session>, dead: &SandboxId) {
        if self.forget(session, dead).await {
            tracing::warn!(session = %session.id, container = %dead, "container died; replacing it");
            let _ = self.ctx.sandbox.remove(dead).await;
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
        self.ctx.tasks.spawn(async move {
            let _ = this.ctx.sandbox.remove(&broken).await;
            if session.status().is_ended() {
                return;
            }
            if let Err(err) = this.runner(&session).await {
                tracing::warn!(session = %session.id, %err, "could not replace the container");
            }
        });
    }

    /// This server's containers as the engine lists them; none when it cannot list them (the
    /// sessions then get new ones).
    pub async fn managed(&self) -> Vec<ManagedSandbox> {
        match self.ctx.sandbox.list_managed().await {
            Ok(list) => list,
            Err(err) => {
                tracing::error!(%err, "cannot list containers; sessions will get new ones");
                Vec::new()
            }
        }
    }

    /// A container worth keeping: running, of a ready environment, made from its image as it
    /// is now and with today's spec.
    pub fn current(&self, m: &ManagedSandbox) -> bool {
        let Some(env) = self.ctx.environments.get(&m.environment) else {
            return false;
        };
        m.running
            && env.is_ready()
            && env.image_id().as_deref() == Some(m.image_id.as_str())
            && m.spec_digest == self.ctx.spec(env).digest()
    }

    /// After a restart: containers no live session adopted go to the warm pool, or are
    /// removed. One a session named but did not adopt (another language's) served that
    /// session: it is removed, never handed to another one.
    pub async fn take_leftovers(&self, leftovers: Vec<ManagedSandbox>, named: &HashSet<String>) {
        for m in leftovers {
            if !named.contains(&m.id.0)
                && self.current(&m)
                && self.pool.adopt(&m.environment, m.id.clone())
            {
                tracing::info!(container = %m.id, environment = %m.environment, "adopting a pool container");
                continue;
            }
            tracing::info!(container = %m.id, "removing a container no live session owns");
            if let Err(err) = self.ctx.sandbox.remove(&m.id).await {
                tracing::warn!(container = %m.id, %err, "could not remove container");
            }
        }
    }
}

pub(super) fn runner_error(err: RunnerError) -> SessionError {
    match err {
        RunnerError::Sandbox(e) => SessionError::Sandbox(e),
        other => SessionError::Sandbox(SandboxError::Engine(other.to_string())),
    }
}
