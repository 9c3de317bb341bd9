//! The registry of live sessions: a cheap-clone handle over the `DashMap` and everything a
//! session needs to reach (its containers, the store, environments, config). Creating,
//! restoring after a restart, and ending sessions happen here; a session's container and
//! runner are `container`'s business, its runs `run`'s.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::container::{spec, Containers};
use super::files::validate_files;
use super::pool::{Pool, PoolStatus};
use super::run::{self, RunHandle, RunRequest, StopReason, Stopper};
use super::{
    new_channel, EndReason, ExpiryReason, RunSummary, Session, SessionError, SessionEvent,
    SessionId, SessionSnapshot, State, Status,
};
use crate::auth::{self, Role};
use crate::collab::{normalize_newlines, Authority, Update};
use crate::config::Config;
use crate::environments::Environments;
use crate::sandbox::{EngineHealth, ManagedSandbox, RunnerConn, Sandbox, SandboxId};
use crate::store::{ListPage, SessionRecord, Store};

/// Everything the registry's handles share.
pub(super) struct Shared {
    pub sessions: Arc<DashMap<SessionId, Arc<Session>>>,
    pub containers: Containers,
    pub store: Arc<dyn Store>,
    pub environments: Arc<Environments>,
    pub config: Arc<Config>,
    pub tasks: TaskTracker,
    pub quotas: super::quotas::Quotas,
    /// Serializes the quota check and the insert of a new session, so that concurrent
    /// creations cannot both take the last place.
    create_gate: tokio::sync::Mutex<()>,
}

/// Live sessions by id. Cheap to clone: a handle.
#[derive(Clone)]
pub struct SessionRegistry {
    pub(super) shared: Arc<Shared>,
}

/// What `create` hands back once: the only time tokens exist in clear.
#[derive(Debug)]
pub struct CreatedSession {
    pub session: Arc<Session>,
    pub candidate_token: String,
    pub interviewer_token: String,
}

/// A session's document history and runs.
#[derive(Debug)]
pub struct History {
    /// The document at `base_version`, where the kept history starts.
    pub initial_document: String,
    pub base_version: u64,
    pub updates: Vec<crate::store::UpdateRecord>,
    pub runs: Vec<crate::store::RunRecord>,
}

/// A session request, parsed.
#[derive(Debug, Default)]
pub struct NewSession {
    pub environment: Option<String>,
    pub code: Option<String>,
    pub files: BTreeMap<String, String>,
    pub ttl_seconds: Option<u64>,
    pub label: Option<String>,
    /// Who asks: "key", or "ip:<address>" in open mode (for quotas and listing).
    pub created_by: String,
}

impl SessionRegistry {
    pub fn new(
        sandbox: Arc<dyn Sandbox>,
        engine: tokio::sync::watch::Receiver<EngineHealth>,
        store: Arc<dyn Store>,
        environments: Arc<Environments>,
        config: Arc<Config>,
        tasks: TaskTracker,
    ) -> Self {
        let sessions = Arc::new(DashMap::new());
        let pool = Pool::new(
            sandbox.clone(),
            environments.clone(),
            config.clone(),
            tasks.clone(),
            engine.clone(),
        );
        let containers = Containers {
            sandbox,
            store: store.clone(),
            config: config.clone(),
            tasks: tasks.clone(),
            pool,
            engine,
            live: sessions.clone(),
        };
        Self {
            shared: Arc::new(Shared {
                sessions,
                containers,
                store,
                environments,
                quotas: super::quotas::Quotas::new(&config.quotas),
                create_gate: tokio::sync::Mutex::new(()),
                config,
                tasks,
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The engine's state as last seen (what `GET /health` reports).
    pub fn engine(&self) -> EngineHealth {
        self.shared.containers.engine.borrow().clone()
    }

    /// Every environment's warm pool.
    pub fn pool(&self) -> Vec<PoolStatus> {
        self.shared.containers.pool.status()
    }

    /// Wakes the pool's filler, e.g. once an image is built.
    pub fn wake_pool(&self) {
        self.shared.containers.pool.wake();
    }

    /// Starts the background work of live sessions: the container and engine watches and the
    /// pool's filler. Each ends with `shutdown`.
    pub fn spawn_background(&self, shutdown: &CancellationToken) {
        let c = &self.shared.containers;
        self.shared
            .tasks
            .spawn(c.clone().run_watch(shutdown.clone()));
        self.shared
            .tasks
            .spawn(c.clone().run_engine_watch(shutdown.clone()));
        self.shared
            .tasks
            .spawn(c.pool.clone().run_filler(shutdown.clone()));
    }

    pub fn idle_ttl(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.shared.config.idle_ttl()).expect("idle TTL fits")
    }

    /// A live session. The `Arc` is cloned out so no map guard outlives this call.
    pub fn get(&self, id: &SessionId) -> Option<Arc<Session>> {
        self.shared.sessions.get(id).map(|s| s.value().clone())
    }

    /// Creates a session and starts its container in the background (status `creating`,
    /// then `ready`).
    pub async fn create(&self, req: NewSession) -> Result<CreatedSession, SessionError> {
        self.shared.containers.engine_up()?;
        let config = &self.shared.config;
        let name = req
            .environment
            .unwrap_or_else(|| config.default_environment.clone());
        let environment = self
            .shared
            .environments
            .get(&name)
            .cloned()
            .ok_or_else(|| SessionError::UnknownEnvironment(name.clone()))?;
        if !environment.is_ready() {
            return Err(SessionError::ImageNotReady(name));
        }
        let mut all = req.files.clone();
        if let Some(code) = &req.code {
            all.insert(environment.settings.filename.clone(), code.clone());
        }
        validate_files(&all, config.limits.code_limit_bytes)?;
        let lifetime = match req.ttl_seconds {
            Some(0) => {
                return Err(SessionError::InvalidArgument(
                    "ttl_seconds must be at least 1".into(),
                ))
            }
            Some(ttl) => ttl.min(config.sessions.max_lifetime_seconds),
            None => config.sessions.max_lifetime_seconds,
        };
        let mut files = req.files;
        let document = normalize_newlines(&match req.code {
            Some(code) => code,
            None => files
                .remove(&environment.settings.filename)
                .unwrap_or_else(|| environment.template()),
        });
        files.remove(&environment.settings.filename);

        let _gate = self.shared.create_gate.lock().await;
        let live_mine = self
            .shared
            .sessions
            .iter()
            .filter(|s| s.created_by == req.created_by)
            .count();
        self.shared
            .quotas
            .check_create(&req.created_by, self.shared.sessions.len(), live_mine)?;
        let (candidate_token, interviewer_token) = (auth::new_token(), auth::new_token());
        // A warm container makes the session ready before it is even answered.
        let warm = self.shared.containers.pool.claim(&name);
        self.shared.containers.pool.count(&name, warm.is_some());
        let now = Utc::now();
        let record = SessionRecord {
            id: Uuid::new_v4().to_string(),
            environment: name,
            label: req.label,
            status: if warm.is_some() {
                Status::Ready
            } else {
                Status::Creating
            }
            .as_str()
            .into(),
            container_id: warm.as_ref().map(|w| w.container.0.clone()),
            candidate_hash: auth::hash_token(&candidate_token),
            interviewer_hash: auth::hash_token(&interviewer_token),
            created_at: now,
            last_activity_at: now,
            expires_at: now + chrono::Duration::seconds(lifetime as i64),
            ended_reason: None,
            initial_document: document.clone(),
            base_version: 0,
            created_by: req.created_by,
            document,
            version: 0,
            notes: String::new(),
            files,
        };
        if let Err(err) = self.shared.store.insert_session(&record).await {
            if let Some(warm) = warm {
                warm.runner.close().await;
                let _ = self.shared.containers.sandbox.remove(&warm.container).await;
            }
            return Err(err.into());
        }
        let session = match warm {
            Some(warm) => self.insert(
                record,
                Vec::new(),
                Some(warm.container),
                Some(warm.runner),
                None,
            ),
            None => {
                let session = self.insert(record, Vec::new(), None, None, None);
                self.shared.containers.spawn_ensure(session.clone());
                session
            }
        };
        Ok(CreatedSession {
            session,
            candidate_token,
            interviewer_token,
        })
    }

    fn insert(
        &self,
        record: SessionRecord,
        updates: Vec<Update>,
        container: Option<SandboxId>,
        runner: Option<Arc<RunnerConn>>,
        last_execution: Option<RunSummary>,
    ) -> Arc<Session> {
        let environment = self
            .shared
            .environments
            .get(&record.environment)
            .cloned()
            .expect("checked by the caller");
        let status = if container.is_some() {
            Status::Ready
        } else {
            Status::Creating
        };
        let id = SessionId(Uuid::parse_str(&record.id).expect("stored ids are UUIDs"));
        let session = Arc::new(Session {
            id,
            environment,
            label: record.label,
            created_by: record.created_by,
            created_at: record.created_at,
            candidate_hash: record.candidate_hash,
            interviewer_hash: record.interviewer_hash,
            events: new_channel(&self.shared.config),
            state: Mutex::new(State {
                status,
                container,
                runner,
                last_activity_at: record.last_activity_at,
                doc: Authority::restore(
                    record.initial_document,
                    record.base_version,
                    updates,
                    record.document,
                    self.shared.config.sessions.history_limit_bytes,
                ),
                notes: record.notes,
                files: record.files,
                participants: BTreeMap::new(),
                next_participant: 0,
                last_execution,
                run: None,
                transcript: None,
                deadline: record.expires_at,
                warning: None,
            }),
            lifecycle: tokio::sync::Mutex::new(()),
        });
        self.shared.sessions.insert(id, session.clone());
        session
    }

    /// Starts a run (see `run`): the request is checked against the session's files and
    /// the limits first, then the engine and the session's run quota.
    pub async fn start_run(
        &self,
        session: &Arc<Session>,
        req: RunRequest,
        by: Role,
    ) -> Result<RunHandle, SessionError> {
        let plan = run::plan_for(session, &req, &self.shared.config.limits)?;
        self.shared.containers.engine_up()?;
        self.shared.quotas.check_run(session.id)?;
        run::start(&self.shared.containers, session, plan, req, by).await
    }

    /// On server shutdown: stops every run in progress and waits until each is recorded, so
    /// none is left to its timeout or cut off unrecorded; then closes every runner (each
    /// clears its sandbox). Sessions and containers stay, for the next start.
    pub async fn stop_for_shutdown(&self) {
        let sessions: Vec<Arc<Session>> = self
            .shared
            .sessions
            .iter()
            .map(|entry| entry.value().clone())
            .collect();
        let stoppers: Vec<Stopper> = sessions
            .iter()
            .filter_map(|s| s.state().run.as_ref().map(|r| r.stopper()))
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
        let runners: Vec<Arc<RunnerConn>> = sessions
            .iter()
            .filter_map(|s| s.state().runner.clone())
            .collect();
        futures_util::future::join_all(runners.iter().map(|r| r.close())).await;
        self.shared.containers.pool.close_all().await;
    }

    /// Ends a session: stops its run, removes its container, tells its clients. Its code and
    /// runs stay in the store. Ending an ended session is a no-op.
    pub async fn end(&self, session: &Arc<Session>, reason: EndReason) -> Result<(), SessionError> {
        let active = {
            let mut state = session.state();
            if state.status.is_ended() {
                return Ok(());
            }
            state.status = Status::Stopping;
            session.emit_locked(SessionEvent::Status(Status::Stopping));
            state.run.as_ref().map(|r| r.stopper())
        };
        if let Some(stopper) = active {
            stopper.stop(StopReason::SessionEnded).await;
        }
        let removed = self.shared.containers.release(session).await;
        let status = reason.status();
        {
            let mut state = session.state();
            state.status = status;
            session.emit_locked(SessionEvent::Status(status));
            session.emit_locked(SessionEvent::Ended(reason));
        }
        self.shared
            .containers
            .persist_state(session, status, Some(reason))
            .await;
        self.shared.sessions.remove(&session.id);
        tracing::info!(session = %session.id, reason = reason.as_str(), "session ended");
        removed.map_err(SessionError::from)
    }

    /// Moves a session's end: activity now, and its deadline out to an idle TTL from now,
    /// never past creation plus `sessions.max_lifetime_seconds` (`LifetimeReached` when the end
    /// cannot move). Everyone hears the new end.
    pub async fn extend(&self, session: &Arc<Session>) -> Result<DateTime<Utc>, SessionError> {
        let now = Utc::now();
        let idle_ttl = self.idle_ttl();
        let cap = session.created_at
            + chrono::Duration::from_std(self.shared.config.max_lifetime()).expect("fits");
        let (expires_at, moved) = {
            let mut state = session.state();
            if state.status.is_ended() {
                return Err(SessionError::Ended);
            }
            let was = super::expiry(state.last_activity_at, idle_ttl, state.deadline);
            state.last_activity_at = now;
            let before = state.deadline;
            let (deadline, expires_at) = extended(now, idle_ttl, before, cap);
            if expires_at <= was {
                return Err(SessionError::LifetimeReached);
            }
            state.deadline = deadline;
            state.warning = None;
            session.emit_locked(SessionEvent::Expiry {
                expires_at,
                warning: false,
                reason: expiry_reason(now, idle_ttl, deadline),
                can_extend: extended(now, idle_ttl, deadline, cap).1 > expires_at,
            });
            (
                expires_at,
                (state.deadline != before).then_some(state.deadline),
            )
        };
        if let Some(deadline) = moved {
            self.shared
                .store
                .set_deadline(&session.id.to_string(), deadline)
                .await?;
        }
        let status = session.status();
        self.shared
            .containers
            .persist_state(session, status, None)
            .await;
        Ok(expires_at)
    }

    /// Tells the sockets of every session that ends within `sessions.expiry_warning_seconds`
    /// of `now` when and why, once for each end.
    pub fn warn_expiring(&self, now: DateTime<Utc>) {
        let warning = self.shared.config.sessions.expiry_warning_seconds;
        if warning == 0 {
            return;
        }
        let (idle_ttl, window) = (self.idle_ttl(), chrono::Duration::seconds(warning as i64));
        let cap = chrono::Duration::from_std(self.shared.config.max_lifetime()).expect("fits");
        for entry in self.shared.sessions.iter() {
            let session = entry.value();
            let mut state = session.state();
            if state.status.is_ended() {
                continue;
            }
            let expires_at = super::expiry(state.last_activity_at, idle_ttl, state.deadline);
            let warned = state.warning.as_ref().is_some_and(
                |w| matches!(**w, SessionEvent::Expiry { expires_at: at, .. } if at == expires_at),
            );
            if expires_at - now > window || warned {
                continue;
            }
            let (_, later) = extended(now, idle_ttl, state.deadline, session.created_at + cap);
            let event = Arc::new(SessionEvent::Expiry {
                expires_at,
                warning: true,
                reason: expiry_reason(state.last_activity_at, idle_ttl, state.deadline),
                can_extend: later > expires_at,
            });
            state.warning = Some(event.clone());
            session.emit_arc_locked(event);
        }
    }

    /// Sessions past their [`expiry`](super::expiry) at `now`, with no run in progress.
    pub fn expired(&self, now: DateTime<Utc>) -> Vec<Arc<Session>> {
        let idle_ttl = self.idle_ttl();
        self.shared
            .sessions
            .iter()
            .filter(|entry| {
                let s = entry.value();
                let state = s.state();
                !state.status.is_ended()
                    && state.run.is_none()
                    && now >= super::expiry(state.last_activity_at, idle_ttl, state.deadline)
            })
            .map(|entry| entry.value().clone())
            .collect()
    }

    /// A snapshot of a live session, or of an ended one from the store.
    pub async fn snapshot(&self, id: &SessionId) -> Result<SessionSnapshot, SessionError> {
        if let Some(session) = self.get(id) {
            return Ok(session.snapshot(self.idle_ttl()));
        }
        let record = self
            .shared
            .store
            .get_session(&id.to_string())
            .await?
            .ok_or(SessionError::NotFound)?;
        let last = self.shared.store.last_run(&record.id).await?;
        Ok(snapshot_from_record(
            record,
            last.and_then(super::run::summary_from_record),
        ))
    }

    /// The role a token grants on session `id`, live or ended.
    pub async fn role_for_token(
        &self,
        id: &SessionId,
        token: &str,
    ) -> Result<Option<Role>, SessionError> {
        if let Some(session) = self.get(id) {
            return Ok(session.role_for_token(token));
        }
        let record = self
            .shared
            .store
            .get_session(&id.to_string())
            .await?
            .ok_or(SessionError::NotFound)?;
        Ok(if auth::token_matches(token, &record.interviewer_hash) {
            Some(Role::Interviewer)
        } else if auth::token_matches(token, &record.candidate_hash) {
            Some(Role::Candidate)
        } else {
            None
        })
    }

    /// Everything replay needs, from the store (so it works after the session ended).
    pub async fn history(&self, id: &SessionId) -> Result<History, SessionError> {
        let key = id.to_string();
        let record = self
            .shared
            .store
            .get_session(&key)
            .await?
            .ok_or(SessionError::NotFound)?;
        Ok(History {
            initial_document: record.initial_document,
            base_version: record.base_version,
            updates: self.shared.store.updates(&key).await?,
            runs: self.shared.store.runs(&key).await?,
        })
    }

    /// The private notes of a live or ended session.
    pub async fn notes(&self, id: &SessionId) -> Result<String, SessionError> {
        if let Some(session) = self.get(id) {
            return Ok(session.notes());
        }
        let record = self.shared.store.get_session(&id.to_string()).await?;
        Ok(record.ok_or(SessionError::NotFound)?.notes)
    }

    /// Does a session with this id exist at all (live or ended)?
    pub async fn exists(&self, id: &SessionId) -> Result<bool, SessionError> {
        Ok(self.get(id).is_some()
            || self
                .shared
                .store
                .get_session(&id.to_string())
                .await?
                .is_some())
    }

    /// Lets rate limiters forget callers and sessions that are back to a full budget.
    pub fn forget_idle_quotas(&self) {
        self.shared.quotas.forget_idle();
    }

    /// A page of sessions, newest first.
    pub async fn list(&self, page: &ListPage) -> Result<Vec<SessionSnapshot>, SessionError> {
        let records = self.shared.store.list_sessions(page).await?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let id = SessionId(Uuid::parse_str(&record.id).map_err(|e| {
                SessionError::Store(crate::store::StoreError::Corrupt(e.to_string()))
            })?);
            match self.get(&id) {
                Some(live) => out.push(live.snapshot(self.idle_ttl())),
                None => out.push(snapshot_from_record(record, None)),
            }
        }
        Ok(out)
    }

    /// After a restart: brings back every live session from the store and adopts its
    /// container if it still runs and is made from today's image and spec (its runner is
    /// re-opened at its next run, so many adopted sessions cost no execs at once), else makes
    /// a new one. Containers no live session owns go to the warm pool or are removed.
    pub async fn restore(&self) -> Result<usize, SessionError> {
        let cut_short = self.shared.store.fail_unfinished_runs().await?;
        if !cut_short.is_empty() {
            // Their programs ended with the old server's runner streams (a runner whose
            // stdin ends kills every process of the run's uid).
            tracing::warn!(
                sessions = cut_short.len(),
                "runs cut short by the last shutdown marked as error"
            );
        }
        let records = self.shared.store.live_sessions().await?;
        let managed = match self.shared.containers.sandbox.list_managed().await {
            Ok(list) => list,
            Err(err) => {
                tracing::error!(%err, "cannot list containers; sessions will get new ones");
                Vec::new()
            }
        };
        let mut kept = HashSet::new();
        let mut restored = 0;
        for record in records {
            if self.shared.environments.get(&record.environment).is_none() {
                tracing::error!(session = %record.id, environment = %record.environment, "environment is gone; ending session");
                let _ = self
                    .shared
                    .store
                    .update_session_state(
                        &record.id,
                        Status::Error.as_str(),
                        None,
                        record.last_activity_at,
                        Some("error"),
                    )
                    .await;
                continue;
            }
            let adopted = managed
                .iter()
                .find(|m| Some(&m.id.0) == record.container_id.as_ref() && self.current(m))
                .map(|m| m.id.clone());
            if let Some(id) = &adopted {
                kept.insert(id.clone());
            }
            let last = self.shared.store.last_run(&record.id).await?;
            let updates = self
                .shared
                .store
                .updates(&record.id)
                .await?
                .into_iter()
                .map(|u| Update {
                    client_id: u.client_id,
                    changes: u.changes,
                    at: u.at,
                })
                .collect();
            let session = self.insert(
                record,
                updates,
                adopted.clone(),
                None,
                last.and_then(super::run::summary_from_record),
            );
            restored += 1;
            match &adopted {
                None => self.shared.containers.spawn_ensure(session),
                Some(_) => {
                    self.shared
                        .containers
                        .persist_state(&session, Status::Ready, None)
                        .await
                }
            }
        }
        let pool = &self.shared.containers.pool;
        for m in managed.into_iter().filter(|m| !kept.contains(&m.id)) {
            if self.current(&m) && pool.adopt(&m.environment, m.id.clone()) {
                tracing::info!(container = %m.id, environment = %m.environment, "adopting a pool container");
                continue;
            }
            tracing::info!(container = %m.id, "removing a container no live session owns");
            if let Err(err) = self.shared.containers.sandbox.remove(&m.id).await {
                tracing::warn!(container = %m.id, %err, "could not remove container");
            }
        }
        Ok(restored)
    }

    /// A container worth keeping: running, of a ready environment, made from its image as it
    /// is now and with today's spec.
    fn current(&self, m: &ManagedSandbox) -> bool {
        let Some(env) = self.shared.environments.get(&m.environment) else {
            return false;
        };
        m.running
            && env.is_ready()
            && env.image_id().as_deref() == Some(m.image_id.as_str())
            && m.spec_digest == spec(&self.shared.config, env).digest()
    }
}

/// What `extend` at `now` makes of a session's deadline: an idle TTL from now at least, never
/// past `cap`; answers the new deadline and the session's new end.
fn extended(
    now: DateTime<Utc>,
    idle_ttl: chrono::Duration,
    deadline: DateTime<Utc>,
    cap: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let deadline = deadline.max((now + idle_ttl).min(cap));
    (deadline, super::expiry(now, idle_ttl, deadline))
}

/// Whether a session whose last activity was at `last_activity` ends for idleness or for its
/// lifetime.
fn expiry_reason(
    last_activity: DateTime<Utc>,
    idle_ttl: chrono::Duration,
    deadline: DateTime<Utc>,
) -> ExpiryReason {
    if last_activity + idle_ttl < deadline {
        ExpiryReason::Idle
    } else {
        ExpiryReason::Lifetime
    }
}

fn snapshot_from_record(
    record: SessionRecord,
    last_execution: Option<RunSummary>,
) -> SessionSnapshot {
    SessionSnapshot {
        id: SessionId(Uuid::parse_str(&record.id).unwrap_or_default()),
        status: Status::parse(&record.status).unwrap_or(Status::Error),
        environment: record.environment,
        label: record.label,
        container_id: None,
        created_at: record.created_at,
        last_activity_at: record.last_activity_at,
        expires_at: record.expires_at,
        last_execution,
        participants: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extending_moves_the_deadline_an_idle_ttl_out_within_the_lifetime() {
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .expect("time")
            .to_utc();
        let min = chrono::Duration::minutes;
        // A 20-minute session, idle TTL 30 min, lifetime 4 h: 30 more minutes from now.
        let (deadline, end) = extended(t0 + min(18), min(30), t0 + min(20), t0 + min(240));
        assert_eq!((deadline, end), (t0 + min(48), t0 + min(48)));
        // Near the lifetime: only up to it.
        let (deadline, end) = extended(t0 + min(230), min(30), t0 + min(235), t0 + min(240));
        assert_eq!((deadline, end), (t0 + min(240), t0 + min(240)));
        // A deadline further out than an idle TTL stays.
        assert_eq!(
            extended(t0, min(30), t0 + min(120), t0 + min(240)).0,
            t0 + min(120)
        );
        assert_eq!(
            expiry_reason(t0, min(30), t0 + min(120)),
            ExpiryReason::Idle
        );
        assert_eq!(
            expiry_reason(t0 + min(100), min(30), t0 + min(120)),
            ExpiryReason::Lifetime
        );
    }
}
