//! The registry of live sessions: a cheap-clone handle over the `DashMap` and everything a
//! session needs to reach (its containers, the store, environments, config). Creating,
//! restoring after a restart, and ending sessions happen here; a session's container and
//! runner are `container`'s business, its runs `run`'s.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use dashmap::DashMap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::container::Containers;
use super::files::validate_files;
use super::pool::{Pool, PoolStatus};
use super::run::{self, RunHandle, RunRequest, StopReason, Stopper};
use super::testing::{self, TestsHandle};
use super::{
    new_channel, EndReason, RunSummary, Session, SessionError, SessionEvent, SessionId, State,
    Status,
};
use crate::auth::{self, Role};
use crate::collab::{normalize_newlines, Authority, Update};
use crate::config::Config;
use crate::environments::Environments;
use crate::questions::{Question, TestReport};
use crate::sandbox::{EngineHealth, RunnerConn, Sandbox, SandboxId};
use crate::store::{ListPage, SessionRecord, Store};

/// The least history a file keeps for pulls, however many files share the budget.
const FILE_HISTORY_MIN_BYTES: usize = 8 * 1024;

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

/// A session request, checked.
struct Prepared {
    environment: String,
    lifetime: u64,
    document: String,
    files: BTreeMap<String, String>,
}

/// A session request, parsed.
#[derive(Debug, Default)]
pub struct NewSession {
    pub environment: Option<String>,
    pub code: Option<String>,
    pub files: BTreeMap<String, String>,
    pub ttl_seconds: Option<u64>,
    pub label: Option<String>,
    /// The question the interview is about: its starter code (when `code` is absent) and
    /// its test cases.
    pub question: Option<Uuid>,
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
            events: crate::webhooks::Events::new(store.clone(), &config.webhooks),
            stopping: Default::default(),
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

    /// How many live sessions are in each status.
    pub fn count_by_status(&self) -> std::collections::BTreeMap<&'static str, u64> {
        let mut counts = std::collections::BTreeMap::new();
        for session in self.shared.sessions.iter() {
            *counts.entry(session.status().as_str()).or_default() += 1;
        }
        counts
    }

    /// Records an event of a session (the audit trail, and the webhook).
    pub fn record_event(&self, session: SessionId, kind: &str, data: serde_json::Value) {
        self.shared.containers.events.record(session, kind, data);
    }

    /// Where the sessions' events go (the audit trail and the webhook).
    pub fn event_sink(&self) -> crate::webhooks::Events {
        self.shared.containers.events.clone()
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
    pub async fn create(&self, mut req: NewSession) -> Result<CreatedSession, SessionError> {
        self.shared.containers.engine_up()?;
        if let Some(id) = req.question {
            let question = self.shared.store.get_question(&id).await?.ok_or_else(|| {
                SessionError::InvalidArgument(format!("no question with id {id}"))
            })?;
            let environment = req
                .environment
                .clone()
                .unwrap_or_else(|| self.shared.config.default_environment.clone());
            if req.code.is_none() {
                req.code = question.starters.get(&environment).cloned();
            }
        }
        let Prepared {
            environment: name,
            lifetime,
            document,
            files,
        } = self.prepare(&req)?;
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
            id: SessionId(Uuid::new_v4()),
            environment: name,
            label: req.label.clone(),
            status: if warm.is_some() {
                Status::Ready
            } else {
                Status::Creating
            },
            container_id: warm.as_ref().map(|w| w.container.0.clone()),
            candidate_hash: auth::hash_token(&candidate_token),
            interviewer_hash: auth::hash_token(&interviewer_token),
            created_at: now,
            last_activity_at: now,
            expires_at: now + chrono::Duration::seconds(lifetime as i64),
            ended_reason: None,
            initial_document: document.clone(),
            base_version: 0,
            created_by: req.created_by.clone(),
            document,
            version: 0,
            notes: String::new(),
            files,
            documents: BTreeMap::new(),
            file_versions: BTreeMap::new(),
        };
        if let Err(err) = self.shared.store.insert_session(&record).await {
            if let Some(warm) = warm {
                warm.runner.close().await;
                let _ = self.shared.containers.sandbox.remove(&warm.container).await;
            }
            return Err(err.into());
        }
        if let Some(question) = &req.question {
            self.shared
                .store
                .set_session_question(&record.id, question)
                .await?;
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
        self.record_event(
            session.id,
            "session.created",
            serde_json::json!({
                "environment": session.environment().name,
                "label": session.label,
                "question_id": req.question,
                "created_by": if session.created_by == super::BY_KEY { "api_key" } else { "open_mode" },
            }),
        );
        Ok(CreatedSession {
            session,
            candidate_token,
            interviewer_token,
        })
    }

    /// Checks a request against the environments and limits: which environment, for how
    /// long, and the document apart from the other files.
    fn prepare(&self, req: &NewSession) -> Result<Prepared, SessionError> {
        let config = &self.shared.config;
        let name = req
            .environment
            .clone()
            .unwrap_or_else(|| config.default_environment.clone());
        let environment = self
            .shared
            .environments
            .get(&name)
            .ok_or_else(|| SessionError::UnknownEnvironment(name.clone()))?;
        if !environment.is_ready() {
            return Err(SessionError::ImageNotReady(name));
        }
        // Files are text with `\n` line breaks, as the editor counts them.
        let mut files: BTreeMap<String, String> = req
            .files
            .iter()
            .map(|(name, text)| (name.clone(), normalize_newlines(text)))
            .collect();
        if let Some(code) = &req.code {
            files.insert(environment.settings.filename.clone(), code.clone());
        }
        validate_files(&files, config.limits.code_limit_bytes)?;
        let lifetime = match req.ttl_seconds {
            Some(0) => {
                return Err(SessionError::InvalidArgument(
                    "ttl_seconds must be at least 1".into(),
                ))
            }
            Some(ttl) if ttl > config.sessions.max_lifetime_seconds => {
                return Err(SessionError::InvalidArgument(format!(
                    "ttl_seconds is at most {} (sessions.max_lifetime_seconds)",
                    config.sessions.max_lifetime_seconds
                )))
            }
            Some(ttl) => ttl,
            None => config.sessions.max_lifetime_seconds,
        };
        let document = normalize_newlines(
            &files
                .remove(&environment.settings.filename)
                .unwrap_or_else(|| environment.template()),
        );
        Ok(Prepared {
            environment: name,
            lifetime,
            document,
            files,
        })
    }

    pub(super) fn insert(
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
        let id = record.id;
        let session = Arc::new(Session {
            id,
            label: record.label,
            created_by: record.created_by,
            created_at: record.created_at,
            candidate_hash: record.candidate_hash,
            interviewer_hash: record.interviewer_hash,
            events: new_channel(&self.shared.config),
            audit: self.shared.containers.events.clone(),
            state: Mutex::new(State {
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
                // Each file goes on from its stored version (its edits are not kept: a pull
                // from before a restart reloads), with a small history of its own: the files
                // share an eighth of the session's history bound, so that many files cost
                // no more memory than one.
                file_docs: record
                    .files
                    .iter()
                    .map(|(name, text)| {
                        let history = (self.shared.config.sessions.history_limit_bytes
                            / 8
                            / record.files.len().max(1))
                        .max(FILE_HISTORY_MIN_BYTES);
                        let version = record.file_versions.get(name).copied().unwrap_or(0);
                        let doc = Authority::restore(
                            text.clone(),
                            version,
                            Vec::new(),
                            text.clone(),
                            history,
                        );
                        (name.clone(), doc)
                    })
                    .collect(),
                files: record.files,
                participants: BTreeMap::new(),
                focus_told: BTreeMap::new(),
                next_participant: 0,
                last_execution,
                slot: super::slot::Slot::new(status),
                transcript: None,
                deadline: record.expires_at,
                warning: None,
                environment,
                documents: record.documents,
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

    /// The question session `id` was created with, if any.
    pub async fn question(&self, id: &SessionId) -> Result<Option<Question>, SessionError> {
        let Some(question) = self.shared.store.session_question(id).await? else {
            return Ok(None);
        };
        Ok(self.shared.store.get_question(&question).await?)
    }

    /// May the token of `role` open another socket on `session` (`quotas.joins_per_minute`)?
    pub fn check_join(&self, session: SessionId, role: Role) -> Result<(), SessionError> {
        self.shared.quotas.check_join(session, role)
    }

    /// The id of the question session `id` uses, if any.
    pub async fn question_id(&self, id: &SessionId) -> Result<Option<Uuid>, SessionError> {
        Ok(self.shared.store.session_question(id).await?)
    }

    /// Starts a test run of the session's question (one quota of runs for all its cases).
    pub async fn start_tests(
        &self,
        session: &Arc<Session>,
        by: Role,
    ) -> Result<TestsHandle, SessionError> {
        let question = self
            .question(&session.id)
            .await?
            .ok_or(SessionError::NoQuestion)?;
        if question.cases.is_empty() {
            return Err(SessionError::InvalidArgument(
                "the session's question has no test cases".into(),
            ));
        }
        self.shared.containers.engine_up()?;
        self.shared.quotas.check_run(session.id)?;
        testing::start(&self.shared.containers, session, question, by)
    }

    /// A page of a session's test reports, oldest first, and how many there are in all.
    pub async fn test_reports(
        &self,
        id: &SessionId,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<TestReport>, usize), SessionError> {
        self.shared
            .store
            .get_session(id)
            .await?
            .ok_or(SessionError::NotFound)?;
        Ok(self.shared.store.test_reports(id, limit, offset).await?)
    }

    /// Keeps a new question.
    pub async fn create_question(
        &self,
        question: &Question,
        created_by: &str,
    ) -> Result<(), SessionError> {
        Ok(self
            .shared
            .store
            .insert_question(question, created_by)
            .await?)
    }

    pub async fn get_question(&self, id: &Uuid) -> Result<Option<Question>, SessionError> {
        Ok(self.shared.store.get_question(id).await?)
    }

    pub async fn list_questions(&self, page: &ListPage) -> Result<Vec<Question>, SessionError> {
        Ok(self.shared.store.list_questions(page).await?)
    }

    /// On server shutdown: stops every run in progress and waits until each is recorded, so
    /// none is left to its timeout or cut off unrecorded; then closes every runner (each
    /// clears its sandbox). Sessions and containers stay, for the next start.
    pub async fn stop_for_shutdown(&self) {
        // Test runs start no further case (the one running is stopped below).
        self.shared
            .containers
            .stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
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
        {
            let mut state = session.state();
            // From `stopping`, so always a change: told once it is recorded.
            state.slot.set_status(status);
            self.record_event(
                session.id,
                "session.ended",
                serde_json::json!({"reason": reason.as_str()}),
            );
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

    /// Lets rate limiters forget callers and sessions that are back to a full budget.
    pub fn forget_idle_quotas(&self) {
        self.shared.quotas.forget_idle();
    }
}
