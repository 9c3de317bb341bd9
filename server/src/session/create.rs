//! Making a session: the request checked against the environments, limits and quotas, its
//! record stored, and the live [`Session`] built from a record (here, or by `restore` after a
//! restart), with a warm container from the pool when one waits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use livecode_runner::path::WorkspacePath;
use uuid::Uuid;

use super::audit::Audit;
use super::fanout::EventSender;
use super::files::check_files;
use super::quotas::Mine;
use super::registry::SessionRegistry;
use super::{RunSummary, Session, SessionError, SessionId, State, Status, BY_KEY};
use crate::auth;
use crate::collab::{normalize_newlines, Authority, Update};
use crate::interview::Interview;
use crate::sandbox::{RunnerConn, SandboxId};
use crate::scorecards::Rubric;
use crate::store::{SessionRecord, StoreError};
use crate::templates::Progress;

/// The least history a file keeps for pulls, however many files share the budget.
const FILE_HISTORY_MIN_BYTES: usize = 8 * 1024;

/// What `create` hands back once: the only time tokens exist in clear.
#[derive(Debug)]
pub struct CreatedSession {
    pub session: Arc<Session>,
    pub candidate_token: String,
    pub interviewer_token: String,
}

/// A session request, parsed.
#[derive(Debug, Default)]
pub struct NewSession {
    pub environment: Option<String>,
    pub code: Option<String>,
    pub files: BTreeMap<WorkspacePath, String>,
    pub ttl_seconds: Option<u64>,
    pub label: Option<String>,
    /// The question the interview is about: its starter code (when `code` is absent) and
    /// its test cases.
    pub question: Option<Uuid>,
    /// The template the interview follows (instead of `question`): its questions in order,
    /// the first one current.
    pub template: Option<Uuid>,
    /// Waits in a lobby until the interviewer's Start (default: starts at once).
    pub lobby: Option<bool>,
    /// A take-home: the candidate alone, on a clock from their first open.
    pub take_home: Option<super::TakeHome>,
    /// Who asks: "key", or "ip:<address>" in open mode (for quotas and listing).
    pub created_by: String,
    /// What interviewers' scorecards rate (checked here); none: [`Rubric::standard`].
    pub rubric: Option<Rubric>,
}

/// A session request, checked.
struct Prepared {
    environment: String,
    lifetime: u64,
    document: String,
    files: BTreeMap<WorkspacePath, String>,
}

impl SessionRegistry {
    /// Creates a session and starts its container in the background (status `creating`,
    /// then `ready`).
    pub async fn create(&self, mut req: NewSession) -> Result<CreatedSession, SessionError> {
        let (ctx, containers) = (&self.shared.ctx, &self.shared.containers);
        ctx.engine_up()?;
        if ctx.cluster.as_ref().is_some_and(|c| c.is_draining()) {
            return Err(SessionError::Capacity(
                "this server is draining; try again".into(),
            ));
        }
        let template = self.take_template(&mut req).await?;
        self.take_starter(&mut req).await?;
        let prepared = self.prepare(&req)?;
        let (interview, deadline) = super::interview::requested(&req, &ctx.config)?;
        let _gate = self.shared.create_gate.lock().await;
        let mine = self.sessions_of(&req.created_by).await?;
        self.shared
            .quotas
            .check_create(&req.created_by, self.shared.sessions.len(), mine)?;
        let (candidate_token, interviewer_token) = (auth::new_token(), auth::new_token());
        // A warm container makes the session ready before it is even answered.
        let warm = containers.claim_for_new(&prepared.environment);
        let hashes = (
            auth::hash_token(&candidate_token),
            auth::hash_token(&interviewer_token),
        );
        let mut record = new_record(&req, prepared, warm.as_ref().map(|w| &w.container), hashes);
        if let Some(deadline) = deadline {
            record.expires_at = deadline;
        }
        let created = Audit::Created {
            environment: record.environment.clone(),
            label: record.label.clone(),
            question_id: req.question,
            template_id: req.template,
            created_by: if req.created_by == BY_KEY {
                "api_key"
            } else {
                "open_mode"
            },
        };
        let rubric = req.rubric.take().unwrap_or_else(Rubric::standard);
        let stored = self
            .store_new(
                &record,
                &interview,
                (req.question, &rubric),
                created,
                template.as_ref(),
            )
            .await;
        if let Err(err) = stored {
            if let Some(warm) = warm {
                containers.discard(warm.container, Some(warm.runner)).await;
            }
            return Err(err.into());
        }
        let session = match warm {
            Some(warm) => self.insert(
                (record, interview),
                Vec::new(),
                Some(warm.container),
                Some(warm.runner),
                None,
                template,
            ),
            None => {
                let session =
                    self.insert((record, interview), Vec::new(), None, None, None, template);
                containers.spawn_ensure(session.clone());
                session
            }
        };
        Ok(CreatedSession {
            session,
            candidate_token,
            interviewer_token,
        })
    }

    /// Stores a new session (its record, interview, rubric and `created` event, then its
    /// template's progress); in a cluster, its lease with it, confirmed once stored or
    /// forgotten.
    async fn store_new(
        &self,
        record: &SessionRecord,
        interview: &Interview,
        question_and_rubric: (Option<Uuid>, &Rubric),
        created: Audit,
        template: Option<&Progress>,
    ) -> Result<(), StoreError> {
        let ctx = &self.shared.ctx;
        if let Some(cluster) = &ctx.cluster {
            // The store writes the lease with the session, in one transaction.
            cluster.claim_new(record.id);
        }
        let mut stored = ctx
            .store_new_session(record, interview, question_and_rubric, created)
            .await;
        if let (Ok(()), Some(progress)) = (&stored, template) {
            stored = ctx.store_new_progress(&record.id, progress).await;
        }
        if let Some(cluster) = &ctx.cluster {
            match &stored {
                Ok(()) => cluster.confirm(&record.id),
                Err(_) => cluster.forget(&record.id),
            }
        }
        stored
    }

    /// `created_by`'s live sessions: on this server; in a cluster, on every replica, with
    /// how many it created in the last minute (the cluster's creation rate).
    async fn sessions_of(&self, created_by: &str) -> Result<Mine, SessionError> {
        let ctx = &self.shared.ctx;
        if ctx.cluster.is_none() {
            let live = self
                .shared
                .sessions
                .iter()
                .filter(|s| s.created_by == created_by)
                .count();
            return Ok(Mine {
                live,
                last_minute: None,
            });
        }
        let since = Utc::now() - chrono::Duration::minutes(1);
        let (live, recent) = ctx.store.count_sessions(created_by, since).await?;
        Ok(Mine {
            live: live as usize,
            last_minute: Some(recent as usize),
        })
    }

    /// With a template, the session's question is its first one, and its way through it
    /// starts now; every question of it must still exist.
    async fn take_template(&self, req: &mut NewSession) -> Result<Option<Progress>, SessionError> {
        let Some(id) = req.template else {
            return Ok(None);
        };
        if req.question.is_some() {
            return Err(SessionError::InvalidArgument(
                "give either question or template, not both".into(),
            ));
        }
        let store = &self.shared.ctx.store;
        let template = store
            .get_template(&id)
            .await?
            .ok_or_else(|| SessionError::InvalidArgument(format!("no template with id {id}")))?;
        let mut titles = Vec::with_capacity(template.questions.len());
        for q in &template.questions {
            let question = store.get_question(&q.question_id).await?.ok_or_else(|| {
                SessionError::InvalidArgument(format!(
                    "template {id}: question {} is gone",
                    q.question_id
                ))
            })?;
            titles.push(question.title);
        }
        req.question = Some(template.questions[0].question_id);
        // The template's defaults, where the request is silent (a take-home has no lobby).
        if req.take_home.is_none() {
            req.lobby = req.lobby.or(Some(template.lobby));
        }
        req.rubric = req.rubric.take().or_else(|| template.rubric.clone());
        Ok(Some(Progress::new(&template, titles, Utc::now())))
    }

    /// With a question and no code, the session starts from the question's starter for its
    /// environment.
    async fn take_starter(&self, req: &mut NewSession) -> Result<(), SessionError> {
        let Some(id) = req.question else {
            return Ok(());
        };
        let question = self
            .shared
            .ctx
            .store
            .get_question(&id)
            .await?
            .ok_or_else(|| SessionError::InvalidArgument(format!("no question with id {id}")))?;
        let environment = req
            .environment
            .clone()
            .unwrap_or_else(|| self.shared.ctx.config.default_environment.clone());
        if req.code.is_none() {
            req.code = question.starters.get(&environment).cloned();
        }
        Ok(())
    }

    /// Checks a request against the environments and limits: which environment, for how
    /// long, and the document apart from the other files.
    fn prepare(&self, req: &NewSession) -> Result<Prepared, SessionError> {
        let config = &self.shared.ctx.config;
        let name = req
            .environment
            .clone()
            .unwrap_or_else(|| config.default_environment.clone());
        let environment = self
            .shared
            .ctx
            .environments
            .get(&name)
            .ok_or_else(|| SessionError::UnknownEnvironment(name.clone()))?;
        if !environment.is_ready() {
            return Err(SessionError::ImageNotReady(name));
        }
        // Files are text with `\n` line breaks, as the editor counts them.
        let mut files: BTreeMap<WorkspacePath, String> = req
            .files
            .iter()
            .map(|(name, text)| (name.clone(), normalize_newlines(text)))
            .collect();
        if let Some(code) = &req.code {
            files.insert(environment.settings.filename.clone(), code.clone());
        }
        check_files(&files, config.limits.code_limit_bytes)?;
        if let Some(rubric) = &req.rubric {
            rubric.validate()?;
        }
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

    /// A live session from its record: its document from the record and `updates`, in
    /// `container` (then `ready`) or waiting for one (`creating`).
    pub(super) fn insert(
        &self,
        (record, interview): (SessionRecord, Interview),
        updates: Vec<Update>,
        container: Option<SandboxId>,
        runner: Option<Arc<RunnerConn>>,
        last_execution: Option<RunSummary>,
        template: Option<Progress>,
    ) -> Arc<Session> {
        let ctx = &self.shared.ctx;
        let config = &ctx.config;
        let environment = ctx
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
            events: EventSender::new(config.sockets.queue_bytes, config.sessions.event_buffer),
            ctx: ctx.clone(),
            state: Mutex::new(State {
                container,
                runner,
                last_activity_at: record.last_activity_at,
                doc: Authority::restore(
                    record.initial_document,
                    record.base_version,
                    updates,
                    record.document,
                    config.sessions.history_limit_bytes,
                ),
                notes: record.notes,
                file_docs: file_docs(
                    &record.files,
                    &record.file_versions,
                    config.sessions.history_limit_bytes,
                ),
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
                template,
                question_told: None,
                interview,
                candidate_away_since: None,
            }),
            lifecycle: tokio::sync::Mutex::new(()),
            moved: Default::default(),
            edits: tokio::sync::Mutex::new(()),
        });
        self.shared.sessions.insert(id, session.clone());
        session
    }
}

/// A new session's record, with its tokens' hashes (candidate's, interviewer's).
fn new_record(
    req: &NewSession,
    prepared: Prepared,
    container: Option<&SandboxId>,
    (candidate_hash, interviewer_hash): (String, String),
) -> SessionRecord {
    let now = Utc::now();
    SessionRecord {
        id: SessionId(Uuid::new_v4()),
        environment: prepared.environment,
        label: req.label.clone(),
        status: if container.is_some() {
            Status::Ready
        } else {
            Status::Creating
        },
        container_id: container.map(|c| c.0.clone()),
        candidate_hash,
        interviewer_hash,
        created_at: now,
        last_activity_at: now,
        expires_at: now + chrono::Duration::seconds(prepared.lifetime as i64),
        ended_reason: None,
        initial_document: prepared.document.clone(),
        base_version: 0,
        created_by: req.created_by.clone(),
        document: prepared.document,
        version: 0,
        notes: String::new(),
        files: prepared.files,
        documents: BTreeMap::new(),
        file_versions: BTreeMap::new(),
        erased_at: None,
    }
}

/// Each file goes on from its stored version (its edits are not kept: a pull from before a
/// restart reloads), with a small history of its own: the files share an eighth of the
/// session's history bound, so that many files cost no more memory than one.
fn file_docs(
    files: &BTreeMap<WorkspacePath, String>,
    versions: &BTreeMap<WorkspacePath, u64>,
    history_limit_bytes: usize,
) -> BTreeMap<WorkspacePath, Authority> {
    let history = (history_limit_bytes / 8 / files.len().max(1)).max(FILE_HISTORY_MIN_BYTES);
    files
        .iter()
        .map(|(name, text)| {
            let version = versions.get(name).copied().unwrap_or(0);
            let doc = Authority::restore(text.clone(), version, Vec::new(), text.clone(), history);
            (name.clone(), doc)
        })
        .collect()
}
