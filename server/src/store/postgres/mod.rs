//! [`Store`] on PostgreSQL, for replicas that share one database. tokio-postgres with
//! deadpool-postgres's pool: async to the socket, pipelined, prepared statements cached per
//! connection, no macros and no database at compile time, and a small dependency tree (sqlx
//! was the other candidate).
//!
//! With [`Leases`] (cluster mode), every write of a session's rows is one transaction whose
//! first statement checks that this process still holds the session's lease at its epoch
//! (`fence::begin_write`); a deposed owner's write fails whole with
//! [`StoreError::Fenced`]. Without them (one server on PostgreSQL) nothing is checked.
//!
//! # Layout
//! - `mod.rs`: the [`Store`] impl: each method takes a pooled connection, opens a session's
//!   write where it writes, and calls its concern's module.
//! - `connect`: connecting (the pool, its timeouts, the migrations at start), a URL's target
//!   for logs, and scratch databases for tests.
//! - `fence`: the one door for a session's writes, and the lease check behind it.
//! - `db`: statements (cached, counted) and transactions.
//! - `migrate`: the versioned migrations in `migrations/`.
//! - `sessions`, `updates`, `runs`, `events`, `questions`, `interviews`, `templates`,
//!   `scorecards`, `erasure`: the queries, as functions of a connection or a write; `kept`:
//!   the operator's questions and templates, kept whole as jsonb; `rows`: how typed values
//!   are kept in columns.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use livecode_runner::path::WorkspacePath;
use uuid::Uuid;

mod connect;
mod db;
mod erasure;
mod events;
mod fence;
mod interviews;
mod kept;
mod migrate;
mod questions;
mod rows;
mod runs;
mod scorecards;
mod sessions;
mod templates;
mod updates;

pub use connect::create_scratch_database;

use super::{
    EventRecord, Leases, ListPage, RunRecord, SessionRecord, Store, StoreError, UpdateRecord,
};
use crate::interview::Interview;
use crate::model::{EndReason, RunResult, RunSummary, SessionId, Status};
use crate::questions::{Question, TestReport};
use crate::scorecards::{Rubric, Scorecard};
use crate::templates::{Progress, Template};

/// PostgreSQL-backed store. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    leases: Option<Arc<dyn Leases>>,
}

impl PgStore {
    /// Checks every write of a session against the lease this process holds (cluster mode).
    pub fn with_leases(mut self, leases: Arc<dyn Leases>) -> Self {
        self.leases = Some(leases);
        self
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        Ok(self.pool.get().await?)
    }

    fn leases(&self) -> Option<&dyn Leases> {
        self.leases.as_deref()
    }
}

#[async_trait]
impl Store for PgStore {
    async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_new_session(&mut client).await?;
        sessions::insert(&w, s).await?;
        fence::claim(&w, self.leases(), &s.id).await?;
        w.commit().await
    }

    async fn update_session_state(
        &self,
        id: &SessionId,
        status: Status,
        container_id: Option<&str>,
        last_activity_at: DateTime<Utc>,
        ended_reason: Option<EndReason>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), id).await?;
        sessions::update_state(&w, id, status, container_id, last_activity_at, ended_reason)
            .await?;
        w.commit().await
    }

    async fn set_deadline(
        &self,
        id: &SessionId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), id).await?;
        sessions::set_deadline(&w, id, expires_at).await?;
        w.commit().await
    }

    async fn append_updates(
        &self,
        id: &SessionId,
        updates: &[UpdateRecord],
        document: &str,
        version: u64,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), id).await?;
        updates::append(&w, id, updates, document, version).await?;
        w.commit().await
    }

    async fn updates(&self, id: &SessionId) -> Result<Vec<UpdateRecord>, StoreError> {
        updates::list(&self.client().await?, id).await
    }

    async fn runs(&self, session_id: &SessionId) -> Result<Vec<RunRecord>, StoreError> {
        runs::list(&self.client().await?, session_id).await
    }

    async fn set_notes(&self, id: &SessionId, notes: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), id).await?;
        sessions::set_notes(&w, id, notes).await?;
        w.commit().await
    }

    async fn insert_event(&self, event: &EventRecord) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        // An ended session's review (its scorecards) is still recorded.
        let w = fence::begin_review_write(&mut client, self.leases(), &event.session_id).await?;
        let stored = events::insert(&w, event).await?;
        w.commit().await?;
        Ok(stored)
    }

    async fn events(&self, id: &SessionId) -> Result<Vec<EventRecord>, StoreError> {
        events::list(&self.client().await?, id).await
    }

    async fn mark_delivered(&self, id: &Uuid) -> Result<(), StoreError> {
        events::mark_delivered(&self.client().await?, id).await
    }

    async fn undelivered_events(&self, id: &SessionId) -> Result<Vec<EventRecord>, StoreError> {
        events::undelivered(&self.client().await?, id).await
    }

    async fn count_sessions(
        &self,
        created_by: &str,
        since: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        sessions::count(&self.client().await?, created_by, since).await
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        sessions::get(&self.client().await?, id).await
    }

    async fn live_sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        sessions::live(&self.client().await?).await
    }

    async fn compact_updates(
        &self,
        id: &SessionId,
        base_version: u64,
        base_document: &str,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), id).await?;
        updates::compact(&w, id, base_version, base_document).await?;
        w.commit().await
    }

    async fn list_sessions(&self, page: &ListPage) -> Result<Vec<SessionRecord>, StoreError> {
        sessions::list(&self.client().await?, page).await
    }

    async fn insert_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), &run.session_id).await?;
        runs::insert(&w, run).await?;
        w.commit().await
    }

    async fn finish_run(
        &self,
        session_id: &SessionId,
        result: &RunResult,
        keep_full: usize,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), session_id).await?;
        runs::finish(&w, session_id, result, keep_full).await?;
        w.commit().await
    }

    async fn last_run(&self, session_id: &SessionId) -> Result<Option<RunSummary>, StoreError> {
        runs::last(&self.client().await?, session_id).await
    }

    async fn fail_unfinished_runs(&self) -> Result<Vec<SessionId>, StoreError> {
        runs::fail_unfinished(&self.client().await?).await
    }

    async fn set_files(
        &self,
        id: &SessionId,
        files: &BTreeMap<WorkspacePath, String>,
        versions: &BTreeMap<WorkspacePath, u64>,
        rev: u64,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), id).await?;
        sessions::set_files(&w, id, files, versions, rev).await?;
        w.commit().await
    }

    async fn set_environment(
        &self,
        id: &SessionId,
        environment: &str,
        documents: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), id).await?;
        sessions::set_environment(&w, id, environment, documents).await?;
        w.commit().await
    }

    async fn insert_question(&self, q: &Question, created_by: &str) -> Result<(), StoreError> {
        questions::insert(&self.client().await?, q, created_by).await
    }

    async fn get_question(&self, id: &Uuid) -> Result<Option<Question>, StoreError> {
        questions::get(&self.client().await?, id).await
    }

    async fn list_questions(&self, page: &ListPage) -> Result<Vec<Question>, StoreError> {
        questions::list(&self.client().await?, page).await
    }

    async fn set_session_question(
        &self,
        id: &SessionId,
        question: &Uuid,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), id).await?;
        questions::set_for_session(&w, id, question).await?;
        w.commit().await
    }

    async fn session_question(&self, id: &SessionId) -> Result<Option<Uuid>, StoreError> {
        questions::of_session(&self.client().await?, id).await
    }

    async fn set_interview(&self, id: &SessionId, interview: &Interview) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), id).await?;
        interviews::put(&w, id, interview).await?;
        w.commit().await
    }

    async fn interview(&self, id: &SessionId) -> Result<Option<Interview>, StoreError> {
        interviews::get(&self.client().await?, id).await
    }

    async fn insert_test_report(
        &self,
        id: &SessionId,
        report: &TestReport,
        keep_full: usize,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), id).await?;
        questions::insert_report(&w, id, report, keep_full).await?;
        w.commit().await
    }

    async fn test_reports(
        &self,
        id: &SessionId,
        question: Option<Uuid>,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<TestReport>, usize), StoreError> {
        questions::reports(&self.client().await?, id, question, limit, offset).await
    }

    async fn insert_template(&self, t: &Template, created_by: &str) -> Result<(), StoreError> {
        templates::insert(&self.client().await?, t, created_by).await
    }

    async fn get_template(&self, id: &Uuid) -> Result<Option<Template>, StoreError> {
        templates::get(&self.client().await?, id).await
    }

    async fn list_templates(&self, page: &ListPage) -> Result<Vec<Template>, StoreError> {
        templates::list(&self.client().await?, page).await
    }

    async fn set_session_template(&self, id: &SessionId, p: &Progress) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), id).await?;
        templates::set_progress(&w, id, p).await?;
        w.commit().await
    }

    async fn session_template(&self, id: &SessionId) -> Result<Option<Progress>, StoreError> {
        templates::progress(&self.client().await?, id).await
    }

    async fn erase_session(
        &self,
        id: &SessionId,
        erased: &EventRecord,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_ended_write(&mut client).await?;
        let erased = erasure::erase(&w, id, erased).await?;
        w.commit().await?;
        Ok(erased)
    }

    async fn erasable_sessions(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SessionId>, StoreError> {
        erasure::erasable(&self.client().await?, before, limit).await
    }

    async fn set_rubric(&self, id: &SessionId, rubric: &Rubric) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_write(&mut client, self.leases(), id).await?;
        scorecards::set_rubric(&w, id, rubric).await?;
        w.commit().await
    }

    async fn rubric(&self, id: &SessionId) -> Result<Option<Rubric>, StoreError> {
        scorecards::rubric(&self.client().await?, id).await
    }

    async fn put_scorecard(&self, id: &SessionId, card: &Scorecard) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let w = fence::begin_review_write(&mut client, self.leases(), id).await?;
        let written = scorecards::put(&w, id, card).await?;
        w.commit().await?;
        Ok(written)
    }

    async fn scorecards(&self, id: &SessionId) -> Result<Vec<Scorecard>, StoreError> {
        scorecards::list(&self.client().await?, id).await
    }
}

#[cfg(test)]
mod tests;
