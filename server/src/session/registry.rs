//! The registry of live sessions: a cheap-clone handle over the `DashMap` of them, the session
//! context and the containers. Ending sessions and shutting down happen here; creating them in
//! `create`, finding them in `lookup`, bringing them back in `restore`. A session's container
//! and runner are `container`'s business, its runs `run`'s.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::container::Containers;
use super::context::Context;
use super::pool::PoolStatus;
use super::quotas::Quotas;
use super::run::{self, RunHandle, RunRequest, StopReason, Stopper};
use super::testing::{self, TestsHandle};
use super::{EndReason, LiveMap, Session, SessionError, SessionEvent, SessionId, Status};
use crate::auth::Role;
use crate::config::Config;
use crate::environments::Environments;
use crate::questions::{Question, TestReport};
use crate::sandbox::{EngineHealth, Sandbox};
use crate::store::{Store, StoreError};

/// What the registry's handles share.
pub(super) struct Shared {
    pub ctx: Arc<Context>,
    pub sessions: LiveMap,
    pub containers: Containers,
    pub quotas: Quotas,
    /// Serializes the quota check and the insert of a new session, so that concurrent
    /// creations cannot both take the last place.
    pub create_gate: tokio::sync::Mutex<()>,
    /// One takeover per session at a time (cluster mode).
    pub taking: DashMap<SessionId, Arc<tokio::sync::Mutex<()>>>,
}

/// Live sessions by id. Cheap to clone: a handle.
#[derive(Clone)]
pub struct SessionRegistry {
    pub(super) shared: Arc<Shared>,
}

impl SessionRegistry {
    pub fn new(
        sandbox: Arc<dyn Sandbox>,
        engine: tokio::sync::watch::Receiver<EngineHealth>,
        store: Arc<dyn Store>,
        environments: Arc<Environments>,
        config: Arc<Config>,
        tasks: TaskTracker,
        cluster: Option<Arc<crate::cluster::Cluster>>,
    ) -> Self {
        let ctx = Arc::new(Context {
            audit: crate::webhooks::Events::new(store.clone(), &config.webhooks),
            config,
            store,
            sandbox,
            engine,
            environments,
            tasks,
            stopping: Default::default(),
            cluster,
        });
        Self {
            shared: Arc::new(Shared {
                sessions: Arc::new(DashMap::new()),
                containers: Containers::new(ctx.clone()),
                quotas: Quotas::new(&ctx.config.quotas),
                create_gate: tokio::sync::Mutex::new(()),
                taking: DashMap::new(),
                ctx,
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.shared.ctx.config
    }

    /// The engine's state as last seen (what `GET /health` reports).
    pub fn engine(&self) -> EngineHealth {
        self.shared.ctx.engine.borrow().clone()
    }

    /// How many live sessions are in each status.
    pub fn count_by_status(&self) -> std::collections::BTreeMap<&'static str, u64> {
        let mut counts = std::collections::BTreeMap::new();
        for session in self.shared.sessions.iter() {
            *counts.entry(session.status().as_str()).or_default() += 1;
        }
        counts
    }

    /// Waits until every event recorded so far is in the store (the audit trail).
    pub async fn settled(&self) {
        self.shared.ctx.audit.settled().await;
    }

    /// Every environment's warm pool.
    pub fn pool(&self) -> Vec<PoolStatus> {
        self.shared.containers.pool_status()
    }

    /// Wakes the pool's filler, e.g. once an image is built.
    pub fn wake_pool(&self) {
        self.shared.containers.wake_pool();
    }

    /// Starts the background work of live sessions: the container and engine watches and the
    /// pool's filler. Each ends with `shutdown`.
    pub fn spawn_background(&self, shutdown: &CancellationToken) {
        self.shared
            .containers
            .spawn_watches(&self.shared.sessions, shutdown);
    }

    pub fn idle_ttl(&self) -> chrono::Duration {
        self.shared.ctx.idle_ttl()
    }

    /// A live session. The `Arc` is cloned out so no map guard outlives this call.
    pub fn get(&self, id: &SessionId) -> Option<Arc<Session>> {
        self.shared.sessions.get(id).map(|s| s.value().clone())
    }

    /// Starts a run (see `run`): the request is checked against the session's files and
    /// the limits first, then the engine and the session's run quota.
    pub async fn start_run(
        &self,
        session: &Arc<Session>,
        req: RunRequest,
        by: Role,
    ) -> Result<RunHandle, SessionError> {
        session.check_open(by)?;
        let plan = run::plan_for(session, &req, &self.shared.ctx.config.limits)?;
        self.shared.ctx.engine_up()?;
        self.shared.quotas.check_run(session.id)?;
        run::start(&self.shared.containers, session, plan, req, by).await
    }

    /// The question session `id` was created with, if any.
    pub async fn question(&self, id: &SessionId) -> Result<Option<Question>, SessionError> {
        let Some(question) = self.shared.ctx.store.session_question(id).await? else {
            return Ok(None);
        };
        Ok(self.shared.ctx.store.get_question(&question).await?)
    }

    /// May the token of `role` open another socket on `session` (`quotas.joins_per_minute`)?
    pub fn check_join(&self, session: SessionId, role: Role) -> Result<(), SessionError> {
        self.shared.quotas.check_join(session, role)
    }

    /// The id of the question session `id` uses, if any.
    pub async fn question_id(&self, id: &SessionId) -> Result<Option<Uuid>, SessionError> {
        Ok(self.shared.ctx.store.session_question(id).await?)
    }

    /// Starts a test run of the session's question (one quota of runs for all its cases).
    pub async fn start_tests(
        &self,
        session: &Arc<Session>,
        by: Role,
    ) -> Result<TestsHandle, SessionError> {
        session.check_open(by)?;
        let question = self
            .question(&session.id)
            .await?
            .ok_or(SessionError::NoQuestion)?;
        self.start_tests_of(session, question, None, by)
    }

    /// Starts a test run of `question` against `code` (`None`: the document now).
    pub(super) fn start_tests_of(
        &self,
        session: &Arc<Session>,
        question: Question,
        code: Option<String>,
        by: Role,
    ) -> Result<TestsHandle, SessionError> {
        if question.cases.is_empty() {
            return Err(SessionError::InvalidArgument(
                "the session's question has no test cases".into(),
            ));
        }
        self.shared.ctx.engine_up()?;
        self.shared.quotas.check_run(session.id)?;
        testing::start(&self.shared.containers, session, question, code, by)
    }

    /// A page of a session's test reports (of `question` only, when given), oldest first,
    /// and how many there are in all.
    pub async fn test_reports(
        &self,
        id: &SessionId,
        question: Option<Uuid>,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<TestReport>, usize), SessionError> {
        let record = self
            .shared
            .ctx
            .store
            .get_session(id)
            .await?
            .ok_or(SessionError::NotFound)?;
        if record.erased_at.is_some() {
            return Err(SessionError::Erased);
        }
        Ok(self
            .shared
            .ctx
            .store
            .test_reports(id, question, limit, offset)
            .await?)
    }

    /// On server shutdown: stops every run in progress and waits until each is recorded, so
    /// none is left to its timeout or cut off unrecorded; then closes every runner (each
    /// clears its sandbox). Sessions and containers stay, for the next start.
    pub async fn stop_for_shutdown(&self) {
        // Test runs start no further case (the one running is stopped below).
        self.shared.ctx.stopping.store(true, Ordering::Relaxed);
        let sessions: Vec<Arc<Session>> = self
            .shared
            .sessions
            .iter()
            .map(|entry| entry.value().clone())
            .collect();
        let stoppers: Vec<Stopper> = sessions
            .iter()
            .filter_map(|s| s.state().slot.run().map(|r| r.stopper()))
            .collect();
        if !stoppers.is_empty() {
            tracing::info!(
                runs = stoppers.len(),
                "stopping runs in progress for shutdown"
            );
            futures_util::future::join_all(
                stoppers
                    .into_iter()
                    .map(|s| s.stop(StopReason::ServerShutdown)),
            )
            .await;
        }
        self.shared.containers.close_runners(&sessions).await;
    }

    /// Ends a session: stops its run, removes its container, tells its clients. Its code and
    /// runs stay in the store. Ending an ended session is a no-op.
    pub async fn end(&self, session: &Arc<Session>, reason: EndReason) -> Result<(), SessionError> {
        let active = {
            let mut state = session.state();
            if state.status().is_ended() {
                return Ok(());
            }
            session.set_status_locked(&mut state, Status::Stopping);
            state.slot.run().map(|r| r.stopper())
        };
        if let Some(stopper) = active {
            stopper.stop(StopReason::SessionEnded).await;
        }
        let removed = self.shared.containers.release(session).await;
        let status = reason.status();
        let ended = SessionEvent::Ended(reason);
        // In a cluster the end is stored (its event in the trail too) before anyone hears of
        // it, and a replica that no longer holds the session tells nobody.
        let durable = session.stores_before_telling();
        if durable {
            if let Err(StoreError::Fenced) = session.try_persist_state(status, Some(reason)).await {
                self.depose(&session.id).await;
                return Err(SessionError::Ended);
            }
            session.record_stored(&ended).await;
        }
        {
            let mut state = session.state();
            // From `stopping`, so always a change: told once it is recorded.
            state.slot.set_status(status);
            session.publish_locked(SessionEvent::Status(status));
            if durable {
                session.tell_locked(ended);
            } else {
                session.publish_locked(ended);
            }
        }
        if !durable {
            session.persist_state(status, Some(reason)).await;
        }
        self.shared.sessions.remove(&session.id);
        self.let_lease_go(session.id);
        tracing::info!(session = %session.id, reason = reason.as_str(), "session ended");
        removed.map_err(SessionError::from)
    }

    /// Lets rate limiters forget callers and sessions that are back to a full budget.
    pub fn forget_idle_quotas(&self) {
        self.shared.quotas.forget_idle();
    }
}

#[cfg(test)]
impl SessionRegistry {
    /// For unit tests: a registry over `store` with the embedded environments (python marked
    /// built) and a sandbox that never answers: everything a session does but run code.
    pub(crate) fn offline(store: Arc<dyn Store>, config: Arc<Config>) -> Self {
        let environments = Arc::new(Environments::load("").expect("embedded environments"));
        environments
            .get("python")
            .expect("python")
            .set_image(Some("sha256:test".into()));
        let (_engine_tx, engine) = tokio::sync::watch::channel(EngineHealth::Ok("test".into()));
        Self::new(
            Arc::new(crate::sandbox::testing::Unreachable),
            engine,
            store,
            environments,
            config,
            TaskTracker::new(),
            None,
        )
    }

    /// What an `offline` registry was made with, for the `AppState` beside it.
    pub(crate) fn parts(&self) -> (Arc<Environments>, TaskTracker) {
        (
            self.shared.ctx.environments.clone(),
            self.shared.ctx.tasks.clone(),
        )
    }
}
