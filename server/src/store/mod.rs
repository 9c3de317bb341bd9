//! Persistence: sessions (with hashed tokens), documents, runs with capped output, and the
//! update history. The only module that runs SQL.
//!
//! # Layout
//! - `mod.rs`: the [`Store`] trait, its records and [`StoreError`]; [`Lease`] and [`Leases`],
//!   the fencing token cluster mode hands the PostgreSQL store.
//! - `sqlite`: [`SqliteStore`], one file in `data_dir` (the default, one machine).
//! - `postgres`: [`PgStore`], for `[store] url = "postgres://…"` (several replicas).
//! - `tests`: the store tests, run once on each store.

mod postgres;
mod sqlite;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use livecode_runner::path::WorkspacePath;
use uuid::Uuid;

pub use postgres::{create_scratch_database, PgStore};
pub use sqlite::SqliteStore;

use crate::auth::Role;
use crate::interview::Interview;
use crate::model::{EndReason, RunResult, RunSummary, SessionId, Status};
use crate::questions::{Question, TestReport};
use crate::scorecards::{Rubric, Scorecard};
use crate::templates::{Progress, Template};

/// A session as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub environment: String,
    pub label: Option<String>,
    pub status: Status,
    pub container_id: Option<String>,
    pub candidate_hash: String,
    pub interviewer_hash: String,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_reason: Option<EndReason>,
    /// The document at `base_version`, where the kept history (and replay) starts.
    pub initial_document: String,
    /// Updates before this version were folded into `initial_document` (history bound).
    pub base_version: u64,
    /// Who created the session: "key", or "ip:<address>" in open mode.
    pub created_by: String,
    pub document: String,
    pub version: u64,
    /// The interviewers' private notes.
    pub notes: String,
    /// Extra files beside the document, by relative path.
    pub files: BTreeMap<WorkspacePath, String>,
    /// The documents of the session's other languages, by environment name.
    pub documents: BTreeMap<String, String>,
    /// The version each file is at (they are edited together).
    pub file_versions: BTreeMap<WorkspacePath, u64>,
    /// When the session's content was erased ([`Store::erase_session`]); the record is then
    /// its tombstone.
    pub erased_at: Option<DateTime<Utc>>,
}

/// A run as stored: started, then finished.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: Uuid,
    pub session_id: SessionId,
    pub by_role: Role,
    pub started_at: DateTime<Utc>,
    /// The code it ran when that was not the session's document (`None`: the document).
    pub code: Option<String>,
    /// How it ended, once it has (whole by itself: it repeats the id, role and start).
    pub result: Option<RunResult>,
}

/// One event of a session's audit trail (what webhooks deliver too).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct EventRecord {
    pub id: Uuid,
    pub session_id: SessionId,
    /// `session.created`, `participant.joined`, `participant.left`, `run.finished`,
    /// `session.ended`.
    #[serde(rename = "type")]
    pub kind: String,
    pub at: DateTime<Utc>,
    /// What happened: the participant, the run's status and timings, the end's reason.
    pub data: serde_json::Value,
}

/// One accepted document update, as stored.
#[derive(Debug, Clone)]
pub struct UpdateRecord {
    /// The version this update applies to.
    pub version: u64,
    pub at: DateTime<Utc>,
    pub client_id: String,
    /// The change set's JSON text, as the client sent it.
    pub changes: Box<serde_json::value::RawValue>,
}

impl PartialEq for UpdateRecord {
    fn eq(&self, other: &Self) -> bool {
        (self.version, self.at, &self.client_id, self.changes.get())
            == (
                other.version,
                other.at,
                &other.client_id,
                other.changes.get(),
            )
    }
}

/// A page of the session list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// Only sessions with this `created_by`; `None` for all.
    pub created_by: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// A replica's hold on one session at one epoch: cluster mode's fencing token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub replica: Uuid,
    pub epoch: i64,
}

/// The leases this process holds; the PostgreSQL store asks at every write of a session.
pub trait Leases: Send + Sync {
    fn lease(&self, session: &SessionId) -> Option<Lease>;
}

/// The store failed; details go to the log, never to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("store: no connection to PostgreSQL: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The session's lease is held at another epoch or by another replica (or this process
    /// holds none): the write was refused whole.
    #[error("store: this replica no longer holds the session's lease")]
    Fenced,
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
    #[error("store: corrupt row: {0}")]
    Corrupt(String),
    #[error("store: background task failed: {0}")]
    Task(String),
}

/// Where sessions outlive the process. Times are kept to the microsecond (PostgreSQL's
/// precision).
#[async_trait]
pub trait Store: Send + Sync {
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    /// Status, container and last activity: what changes as a session lives.
    async fn update_session_state(
        &self,
        id: &SessionId,
        status: Status,
        container_id: Option<&str>,
        last_activity_at: DateTime<Utc>,
        ended_reason: Option<EndReason>,
    ) -> Result<(), StoreError>;
    /// A session's new hard end (it was extended).
    async fn set_deadline(
        &self,
        id: &SessionId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Appends accepted updates and the document they lead to, in one transaction. The stored
    /// document only ever moves forward, whatever order concurrent calls finish in.
    async fn append_updates(
        &self,
        id: &SessionId,
        updates: &[UpdateRecord],
        document: &str,
        version: u64,
    ) -> Result<(), StoreError>;
    /// Every update of a session, oldest first.
    async fn updates(&self, id: &SessionId) -> Result<Vec<UpdateRecord>, StoreError>;
    /// Every run of a session, oldest first.
    async fn runs(&self, session_id: &SessionId) -> Result<Vec<RunRecord>, StoreError>;
    async fn set_notes(&self, id: &SessionId, notes: &str) -> Result<(), StoreError>;
    /// Stores an event; false, storing nothing, when its session was erased (an event
    /// recorded as it ended, such as a participant leaving, must not outlive the erasure).
    async fn insert_event(&self, event: &EventRecord) -> Result<bool, StoreError>;
    /// A session's events, oldest first.
    async fn events(&self, id: &SessionId) -> Result<Vec<EventRecord>, StoreError>;
    /// The webhook delivered event `id` (or gave it up): a takeover does not send it again.
    async fn mark_delivered(&self, id: &Uuid) -> Result<(), StoreError>;
    /// A session's events the webhook has not delivered, oldest first: the outbox a replica
    /// that takes the session over resumes.
    async fn undelivered_events(&self, id: &SessionId) -> Result<Vec<EventRecord>, StoreError>;
    /// How many live sessions `created_by` has, and how many it created since `since`: the
    /// quotas of a cluster, counted over every replica.
    async fn count_sessions(
        &self,
        created_by: &str,
        since: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError>;
    async fn get_session(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError>;
    /// Every session not yet ended, for start-up.
    async fn live_sessions(&self) -> Result<Vec<SessionRecord>, StoreError>;
    /// Folds the updates before `base_version` into the base document (the history bound).
    async fn compact_updates(
        &self,
        id: &SessionId,
        base_version: u64,
        base_document: &str,
    ) -> Result<(), StoreError>;
    async fn list_sessions(&self, page: &ListPage) -> Result<Vec<SessionRecord>, StoreError>;
    /// A run as it starts (its `result` is not stored: `finish_run` brings it).
    async fn insert_run(&self, run: &RunRecord) -> Result<(), StoreError>;
    /// Records how a run of session `session_id` ended; of the session's runs before the last
    /// `keep_full`, only the start of the output is kept (so a session's stored output is
    /// bounded).
    async fn finish_run(
        &self,
        session_id: &SessionId,
        result: &RunResult,
        keep_full: usize,
    ) -> Result<(), StoreError>;
    /// How the session's last finished run ended.
    async fn last_run(&self, session_id: &SessionId) -> Result<Option<RunSummary>, StoreError>;
    /// Runs left unfinished by a crash are marked as `error`; answers their sessions.
    async fn fail_unfinished_runs(&self) -> Result<Vec<SessionId>, StoreError>;
    /// The workspace's other files as they are now (edited together) and their versions;
    /// a write whose `rev` is not above the stored one is older and is dropped.
    async fn set_files(
        &self,
        id: &SessionId,
        files: &BTreeMap<WorkspacePath, String>,
        versions: &BTreeMap<WorkspacePath, u64>,
        rev: u64,
    ) -> Result<(), StoreError>;
    /// The session switched language: its environment and the other languages' documents.
    async fn set_environment(
        &self,
        id: &SessionId,
        environment: &str,
        documents: &BTreeMap<String, String>,
    ) -> Result<(), StoreError>;
    async fn insert_question(
        &self,
        question: &Question,
        created_by: &str,
    ) -> Result<(), StoreError>;
    async fn get_question(&self, id: &Uuid) -> Result<Option<Question>, StoreError>;
    /// Newest first; only those `created_by` made when given (open mode).
    async fn list_questions(&self, page: &ListPage) -> Result<Vec<Question>, StoreError>;
    /// The question session `id` was created with.
    async fn set_session_question(&self, id: &SessionId, question: &Uuid)
        -> Result<(), StoreError>;
    async fn session_question(&self, id: &SessionId) -> Result<Option<Uuid>, StoreError>;
    /// Writes a session's interview whole: its stage, mode and the times of its clock.
    async fn set_interview(&self, id: &SessionId, interview: &Interview) -> Result<(), StoreError>;
    /// A session's interview; `None` for a session made before interviews were kept (a live
    /// interview that started when it was made).
    async fn interview(&self, id: &SessionId) -> Result<Option<Interview>, StoreError>;
    /// Keeps a test run's report; the one it moves out of the newest `keep_full` of its
    /// session keeps only its summary ([`TestReport::summary`]), as runs keep theirs.
    async fn insert_test_report(
        &self,
        id: &SessionId,
        report: &TestReport,
        keep_full: usize,
    ) -> Result<(), StoreError>;
    /// A page of a session's test runs (of `question` only, when given), oldest first
    /// (`offset` from the oldest), and how many there are in all.
    async fn test_reports(
        &self,
        id: &SessionId,
        question: Option<Uuid>,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<TestReport>, usize), StoreError>;
    /// Erases an ended session's content, in one transaction, and stores `erased` (its
    /// `session.erased`, whose `at` becomes `erased_at`) as its only event: what is cleared,
    /// table by table, is the `ERASE` list in each store's `erasure.rs`. The row stays as a
    /// tombstone. False, changing nothing, when the session is live, already erased or
    /// unknown: so two replicas sweeping at once erase it once. Afterwards the writes of
    /// content (events, document updates and their compaction, files, notes, language) land
    /// nowhere: one still on its way from the session's end is not stored after its erasure.
    async fn erase_session(&self, id: &SessionId, erased: &EventRecord)
        -> Result<bool, StoreError>;
    /// Up to `limit` ended sessions not yet erased whose last activity is before `before`,
    /// oldest first: the retention sweep's next batch.
    async fn erasable_sessions(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SessionId>, StoreError>;
    /// The rubric session `id`'s scorecards are written against.
    async fn set_rubric(&self, id: &SessionId, rubric: &Rubric) -> Result<(), StoreError>;
    async fn rubric(&self, id: &SessionId) -> Result<Option<Rubric>, StoreError>;
    /// Writes its author's scorecard of session `id`, unless the stored one is submitted
    /// (then nothing is written): answers whether it wrote. Also after the session ended
    /// (see `fence::begin_review_write` for a cluster's check).
    async fn put_scorecard(&self, id: &SessionId, card: &Scorecard) -> Result<bool, StoreError>;
    /// A session's scorecards, oldest first.
    async fn scorecards(&self, id: &SessionId) -> Result<Vec<Scorecard>, StoreError>;
    async fn insert_template(
        &self,
        template: &Template,
        created_by: &str,
    ) -> Result<(), StoreError>;
    async fn get_template(&self, id: &Uuid) -> Result<Option<Template>, StoreError>;
    /// Newest first; only those `created_by` made when given (open mode).
    async fn list_templates(&self, page: &ListPage) -> Result<Vec<Template>, StoreError>;
    /// A templated session's way through its template, and its current question
    /// (`session_question`) with it, in one write.
    async fn set_session_template(
        &self,
        id: &SessionId,
        progress: &Progress,
    ) -> Result<(), StoreError>;
    async fn session_template(&self, id: &SessionId) -> Result<Option<Progress>, StoreError>;
}

#[cfg(test)]
mod tests;
