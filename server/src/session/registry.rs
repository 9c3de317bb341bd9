//! The registry of live sessions: a cheap-clone handle over the `DashMap` and everything a
//! session needs to reach (sandbox, store, environments, config). Creating, restoring after a
//! restart, and ending sessions happen here.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::files::{validate_files, FilesError};
use super::{
    new_channel, EndReason, RunSummary, Session, SessionError, SessionEvent, SessionId,
    SessionSnapshot, State, Status,
};
use crate::auth::{self, Role};
use crate::collab::{normalize_newlines, Authority, Update};
use crate::config::Config;
use crate::environments::Environments;
use crate::sandbox::{EngineHealth, Sandbox, SandboxError, SandboxId, SandboxSpec};
use crate::store::{ListPage, SessionRecord, Store};

/// Everything the registry's handles share.
pub(super) struct Shared {
    pub sessions: DashMap<SessionId, Arc<Session>>,
    pub sandbox: Arc<dyn Sandbox>,
    /// The engine as the background ping last found it.
    pub engine: tokio::sync::watch::Receiver<EngineHealth>,
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
        Self {
            shared: Arc::new(Shared {
                sessions: DashMap::new(),
                sandbox,
                engine,
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
        self.shared.engine.borrow().clone()
    }

    /// Refuses work that needs the engine while the last ping found it down, so that a caller
    /// hears 503 at once instead of a session stuck in `creating` or a run reported `error`.
    pub(super) fn engine_up(&self) -> Result<(), SessionError> {
        match &*self.shared.engine.borrow() {
            EngineHealth::Ok(_) => Ok(()),
            EngineHealth::Down(why) => Err(SessionError::Sandbox(SandboxError::Unavailable(
                why.clone(),
            ))),
        }
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
        self.engine_up()?;
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
        let now = Utc::now();
        let record = SessionRecord {
            id: Uuid::new_v4().to_string(),
            environment: name,
            label: req.label,
            status: Status::Creating.as_str().into(),
            container_id: None,
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
        self.shared.store.insert_session(&record).await?;
        let session = self.insert(record, Vec::new(), None, None);
        self.spawn_container(session.clone());
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
            deadline: record.expires_at,
            candidate_hash: record.candidate_hash,
            interviewer_hash: record.interviewer_hash,
            events: new_channel(&self.shared.config),
            state: Mutex::new(State {
                status,
                container,
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
            }),
            lifecycle: tokio::sync::Mutex::new(()),
        });
        self.shared.sessions.insert(id, session.clone());
        session
    }

    fn spawn_container(&self, session: Arc<Session>) {
        let this = self.clone();
        self.shared.tasks.spawn(async move {
            if let Err(err) = this.ensure_container(&session).await {
                tracing::warn!(session = %session.id, %err, "could not start the session's container");
            }
        });
    }

    /// The session's container, created (or re-created) if it has none.
    pub(super) async fn ensure_container(
        &self,
        session: &Arc<Session>,
    ) -> Result<SandboxId, SessionError> {
        let _lifecycle = session.lifecycle.lock().await;
        if let Some(id) = session.state().container.clone() {
            return Ok(id);
        }
        if session.status().is_ended() {
            return Err(SessionError::Ended);
        }
        let limits = &self.shared.config.limits;
        let runtime = &self.shared.config.docker.runtime;
        let spec = SandboxSpec {
            session_id: session.id.to_string(),
            environment: session.environment.name.clone(),
            image: session.environment.image.clone(),
            memory_mib: session
                .environment
                .settings
                .memory_mib
                .unwrap_or(limits.memory_mib),
            cpus: session.environment.settings.cpus.unwrap_or(limits.cpus),
            pids: limits.pids,
            workspace_mib: limits.workspace_mib,
            tmp_mib: limits.tmp_mib,
            nofile: limits.nofile,
            runtime: (!runtime.is_empty()).then(|| runtime.clone()),
        };
        let started = std::time::Instant::now();
        let id = self.shared.sandbox.create(&spec).await?;
        tracing::info!(session = %session.id, container = %id, ms = started.elapsed().as_millis() as u64, "container started");
        let status = {
            let mut state = session.state();
            state.container = Some(id.clone());
            if state.status == Status::Creating {
                state.status = Status::Ready;
                session.emit_locked(SessionEvent::Status(Status::Ready));
            }
            state.status
        };
        self.persist_state(session, status, None).await;
        Ok(id)
    }

    /// Forgets a container that died under the session, so that a new one is made; an idle
    /// session shows `creating` until then.
    pub(super) async fn forget_container(&self, session: &Arc<Session>, dead: &SandboxId) -> bool {
        let _lifecycle = session.lifecycle.lock().await;
        let mut state = session.state();
        if state.container.as_ref() != Some(dead) {
            return false;
        }
        state.container = None;
        if state.status == Status::Ready {
            state.status = Status::Creating;
            session.emit_locked(SessionEvent::Status(Status::Creating));
        }
        true
    }

    /// Replaces the containers of live sessions as they die (killed, OOM of the keeper, removed
    /// by hand), until `shutdown`. A container this server restarted itself is running again
    /// by the time it is checked, and is left alone.
    pub async fn run_container_watch(self, shutdown: tokio_util::sync::CancellationToken) {
        use futures_util::StreamExt;
        loop {
            let mut exits = self.shared.sandbox.watch_exits();
            loop {
                let exit = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    exit = exits.next() => exit,
                };
                match exit {
                    Some(Ok(id)) => self.on_container_exit(id),
                    Some(Err(err)) => {
                        tracing::warn!(%err, "container events failed; watching again");
                        break;
                    }
                    None => break,
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
        }
    }

    /// Follows the engine's state until `shutdown`: while it is down every socket hears
    /// `degraded`; when it is back, every live session's container is checked, a dead one is
    /// removed and replaced (with backoff), and the sockets hear the session's status again.
    /// Container deaths during the outage were not seen as events, hence the check.
    pub async fn run_engine_watch(self, shutdown: tokio_util::sync::CancellationToken) {
        let mut engine = self.shared.engine.clone();
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
            let live: Vec<Arc<Session>> = self
                .shared
                .sessions
                .iter()
                .map(|e| e.value().clone())
                .collect();
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
            for session in live {
                let this = self.clone();
                self.shared
                    .tasks
                    .spawn(async move { this.heal_after_outage(session).await });
            }
        }
    }

    async fn heal_after_outage(&self, session: Arc<Session>) {
        let container = session.state().container.clone();
        if let Some(id) = &container {
            if !matches!(self.shared.sandbox.is_running(id).await, Ok(true))
                && self.forget_container(&session, id).await
            {
                tracing::warn!(session = %session.id, container = %id, "container died during the outage; replacing it");
                let _ = self.shared.sandbox.remove(id).await;
            }
        }
        let mut wait = std::time::Duration::from_millis(500);
        for attempt in 1..=6 {
            match self.ensure_container(&session).await {
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

    fn on_container_exit(&self, id: SandboxId) {
        let owner = self
            .shared
            .sessions
            .iter()
            .find(|entry| entry.value().state().container.as_ref() == Some(&id))
            .map(|entry| entry.value().clone());
        let Some(session) = owner else { return };
        let this = self.clone();
        self.shared.tasks.spawn(async move {
            // A restart (ours, to clear a fork bomb) is a die followed by a start: give it time.
            for _ in 0..6 {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                if session.status().is_ended() {
                    return;
                }
                if !this.shared.sandbox.exists(&id).await.unwrap_or(true) {
                    break; // removed: no restart is coming
                }
                if matches!(this.shared.sandbox.is_running(&id).await, Ok(true)) {
                    return;
                }
            }
            if this.forget_container(&session, &id).await {
                tracing::warn!(session = %session.id, container = %id, "container died; replacing it");
                let _ = this.shared.sandbox.remove(&id).await;
                if let Err(err) = this.ensure_container(&session).await {
                    tracing::warn!(session = %session.id, %err, "could not replace the container");
                }
            }
        });
    }

    /// Writes the session's status, container and last activity to the store; a failure is
    /// logged, not fatal (the next write carries the same fields).
    pub(super) async fn persist_state(
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
            .shared
            .store
            .update_session_state(
                &session.id.to_string(),
                status.as_str(),
                container.as_deref(),
                last_activity,
                reason.map(EndReason::as_str),
            )
            .await
        {
            tracing::error!(session = %session.id, %err, "could not store the session state");
        }
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
            stopper.stop(super::run::StopReason::SessionEnded).await;
        }
        let container = {
            let _lifecycle = session.lifecycle.lock().await;
            session.state().container.take()
        };
        let removed = match &container {
            Some(id) => self.shared.sandbox.remove(id).await,
            None => Ok(()),
        };
        let status = reason.status();
        {
            let mut state = session.state();
            state.status = status;
            session.emit_locked(SessionEvent::Status(status));
            session.emit_locked(SessionEvent::Ended(reason));
        }
        self.persist_state(session, status, Some(reason)).await;
        self.shared.sessions.remove(&session.id);
        tracing::info!(session = %session.id, reason = reason.as_str(), "session ended");
        removed.map_err(SessionError::from)
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
                    && now >= super::expiry(state.last_activity_at, idle_ttl, s.deadline)
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

    /// After a restart: brings back every live session from the store, adopts its container
    /// if it still runs (or makes a new one), and removes managed containers nobody owns.
    pub async fn restore(&self) -> Result<usize, SessionError> {
        let cut_short = self.shared.store.fail_unfinished_runs().await?;
        if !cut_short.is_empty() {
            tracing::warn!(
                sessions = cut_short.len(),
                "runs cut short by the last shutdown marked as error"
            );
        }
        let records = self.shared.store.live_sessions().await?;
        let managed = match self.shared.sandbox.list_managed().await {
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
                .find(|m| {
                    m.running
                        && m.session_id == record.id
                        && Some(&m.id.0) == record.container_id.as_ref()
                })
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
                last.and_then(super::run::summary_from_record),
            );
            restored += 1;
            match &adopted {
                None => self.spawn_container(session),
                Some(container) => {
                    // A server that died mid-run left its program running: stop it now.
                    // Before serving, so that it cannot hit a new run.
                    if cut_short.contains(&session.id.to_string()) {
                        if let Err(err) = self.shared.sandbox.kill_run_processes(container).await {
                            tracing::warn!(session = %session.id, %err, "could not stop the run a crash left behind");
                        }
                    }
                    self.persist_state(&session, Status::Ready, None).await;
                }
            }
        }
        for m in managed.into_iter().filter(|m| !kept.contains(&m.id)) {
            tracing::info!(container = %m.id, session = %m.session_id, "removing a container no live session owns");
            if let Err(err) = self.shared.sandbox.remove(&m.id).await {
                tracing::warn!(container = %m.id, %err, "could not remove container");
            }
        }
        Ok(restored)
    }

    pub(super) fn sandbox(&self) -> &Arc<dyn Sandbox> {
        &self.shared.sandbox
    }

    /// Is this sandbox error the container being gone (so a new one would help)?
    pub(super) fn container_gone(err: &SandboxError) -> bool {
        matches!(err, SandboxError::NotFound(_) | SandboxError::NotRunning(_))
    }

    /// Validates a set of files against the configured limits.
    pub(super) fn check_files(&self, files: &BTreeMap<String, String>) -> Result<(), FilesError> {
        validate_files(files, self.shared.config.limits.code_limit_bytes)
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
