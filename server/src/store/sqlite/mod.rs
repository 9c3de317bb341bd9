//! [`Store`] on one SQLite file in WAL mode. rusqlite is blocking, so every call runs on the
//! blocking pool; one connection behind a `std::sync::Mutex` is plenty for one node's writes.
//!
//! # Layout
//! - `mod.rs`: the connection, the migrations, and the [`Store`] impl: each method is one call
//!   into its concern's module, on the blocking pool.
//! - `sessions`, `updates` (the edit history), `runs`, `events` (the audit trail),
//!   `questions` (and test reports), `templates` (and a session's way through one),
//!   `interviews`, `scorecards`, `erasure`: the queries, as plain functions of a connection;
//!   `kept`: the operator's questions and templates, kept whole as JSON.
//! - `rows`: how each typed value is kept in a column and read back.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use livecode_runner::path::WorkspacePath;
use rusqlite::Connection;
use uuid::Uuid;

mod erasure;
mod events;
mod interviews;
mod kept;
mod questions;
mod rows;
mod runs;
mod scorecards;
mod sessions;
mod templates;
mod updates;

use super::{EventRecord, ListPage, RunRecord, SessionRecord, Store, StoreError, UpdateRecord};
use crate::interview::Interview;
use crate::model::{EndReason, RunResult, RunSummary, SessionId, Status};
use crate::questions::{Question, TestReport};
use crate::scorecards::{Rubric, Scorecard};
use crate::templates::{Progress, Template};

/// Migrations in order; `PRAGMA user_version` counts how many a database has had.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("migration_2.sql"),
    include_str!("migration_3.sql"),
    include_str!("migration_4.sql"),
    include_str!("migration_5.sql"),
    include_str!("migration_6.sql"),
    include_str!("migration_7.sql"),
    include_str!("migration_8.sql"),
    include_str!("migration_9.sql"),
    include_str!("migration_10.sql"),
    include_str!("migration_11.sql"),
    include_str!("migration_12.sql"),
    include_str!("migration_13.sql"),
];

/// SQLite-backed store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) `livecode.db` under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let conn = Connection::open(data_dir.join("livecode.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL in WAL mode survives a process crash; only power loss may lose the last commit.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // What is deleted or overwritten is zeroed, not left in free pages: erasure's promise.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// Brings the database up to the newest schema, one migration per transaction.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let done: usize = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if done > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {done}; this livecode knows up to {}",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        let s = s.clone();
        self.with(move |conn| sessions::insert(conn, &s)).await
    }

    async fn update_session_state(
        &self,
        id: &SessionId,
        status: Status,
        container_id: Option<&str>,
        last_activity_at: DateTime<Utc>,
        ended_reason: Option<EndReason>,
    ) -> Result<(), StoreError> {
        let (id, container_id) = (*id, container_id.map(str::to_string));
        self.with(move |conn| {
            let container_id = container_id.as_deref();
            sessions::update_state(
                conn,
                &id,
                status,
                container_id,
                last_activity_at,
                ended_reason,
            )
        })
        .await
    }

    async fn set_deadline(
        &self,
        id: &SessionId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = *id;
        self.with(move |conn| sessions::set_deadline(conn, &id, expires_at))
            .await
    }

    async fn append_updates(
        &self,
        id: &SessionId,
        updates: &[UpdateRecord],
        document: &str,
        version: u64,
    ) -> Result<(), StoreError> {
        let (id, document, updates) = (*id, document.to_string(), updates.to_vec());
        self.with(move |conn| updates::append(conn, &id, &updates, &document, version))
            .await
    }

    async fn updates(&self, id: &SessionId) -> Result<Vec<UpdateRecord>, StoreError> {
        let id = *id;
        self.with(move |conn| updates::list(conn, &id)).await
    }

    async fn runs(&self, session_id: &SessionId) -> Result<Vec<RunRecord>, StoreError> {
        let id = *session_id;
        self.with(move |conn| runs::list(conn, &id)).await
    }

    async fn set_notes(&self, id: &SessionId, notes: &str) -> Result<(), StoreError> {
        let (id, notes) = (*id, notes.to_string());
        self.with(move |conn| sessions::set_notes(conn, &id, &notes))
            .await
    }

    async fn insert_event(&self, event: &EventRecord) -> Result<bool, StoreError> {
        let event = event.clone();
        self.with(move |conn| events::insert(conn, &event)).await
    }

    async fn events(&self, id: &SessionId) -> Result<Vec<EventRecord>, StoreError> {
        let id = *id;
        self.with(move |conn| events::list(conn, &id)).await
    }

    async fn mark_delivered(&self, id: &Uuid) -> Result<(), StoreError> {
        let id = *id;
        self.with(move |conn| events::mark_delivered(conn, &id))
            .await
    }

    async fn undelivered_events(&self, id: &SessionId) -> Result<Vec<EventRecord>, StoreError> {
        let id = *id;
        self.with(move |conn| events::undelivered(conn, &id)).await
    }

    async fn count_sessions(
        &self,
        created_by: &str,
        since: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        let created_by = created_by.to_string();
        self.with(move |conn| sessions::count(conn, &created_by, since))
            .await
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        let id = *id;
        self.with(move |conn| sessions::get(conn, &id)).await
    }

    async fn live_sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        self.with(sessions::live).await
    }

    async fn compact_updates(
        &self,
        id: &SessionId,
        base_version: u64,
        base_document: &str,
    ) -> Result<(), StoreError> {
        let (id, base) = (*id, base_document.to_string());
        self.with(move |conn| updates::compact(conn, &id, base_version, &base))
            .await
    }

    async fn list_sessions(&self, page: &ListPage) -> Result<Vec<SessionRecord>, StoreError> {
        let page = page.clone();
        self.with(move |conn| sessions::list(conn, &page)).await
    }

    async fn insert_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let run = run.clone();
        self.with(move |conn| runs::insert(conn, &run)).await
    }

    async fn finish_run(
        &self,
        session_id: &SessionId,
        result: &RunResult,
        keep_full: usize,
    ) -> Result<(), StoreError> {
        let (id, result) = (*session_id, result.clone());
        self.with(move |conn| runs::finish(conn, &id, &result, keep_full))
            .await
    }

    async fn last_run(&self, session_id: &SessionId) -> Result<Option<RunSummary>, StoreError> {
        let id = *session_id;
        self.with(move |conn| runs::last(conn, &id)).await
    }

    async fn fail_unfinished_runs(&self) -> Result<Vec<SessionId>, StoreError> {
        self.with(runs::fail_unfinished).await
    }

    async fn set_files(
        &self,
        id: &SessionId,
        files: &BTreeMap<WorkspacePath, String>,
        versions: &BTreeMap<WorkspacePath, u64>,
        rev: u64,
    ) -> Result<(), StoreError> {
        let (id, files, versions) = (*id, files.clone(), versions.clone());
        self.with(move |conn| sessions::set_files(conn, &id, &files, &versions, rev))
            .await
    }

    async fn set_environment(
        &self,
        id: &SessionId,
        environment: &str,
        documents: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let (id, environment, documents) = (*id, environment.to_string(), documents.clone());
        self.with(move |conn| sessions::set_environment(conn, &id, &environment, &documents))
            .await
    }

    async fn insert_question(&self, q: &Question, created_by: &str) -> Result<(), StoreError> {
        let (q, by) = (q.clone(), created_by.to_string());
        self.with(move |conn| questions::insert(conn, &q, &by))
            .await
    }

    async fn get_question(&self, id: &Uuid) -> Result<Option<Question>, StoreError> {
        let id = *id;
        self.with(move |conn| questions::get(conn, &id)).await
    }

    async fn list_questions(&self, page: &ListPage) -> Result<Vec<Question>, StoreError> {
        let page = page.clone();
        self.with(move |conn| questions::list(conn, &page)).await
    }

    async fn set_session_question(
        &self,
        id: &SessionId,
        question: &Uuid,
    ) -> Result<(), StoreError> {
        let (id, question) = (*id, *question);
        self.with(move |conn| questions::set_for_session(conn, &id, &question))
            .await
    }

    async fn session_question(&self, id: &SessionId) -> Result<Option<Uuid>, StoreError> {
        let id = *id;
        self.with(move |conn| questions::of_session(conn, &id))
            .await
    }

    async fn set_interview(&self, id: &SessionId, interview: &Interview) -> Result<(), StoreError> {
        let (id, interview) = (*id, interview.clone());
        self.with(move |conn| interviews::put(conn, &id, &interview))
            .await
    }

    async fn interview(&self, id: &SessionId) -> Result<Option<Interview>, StoreError> {
        let id = *id;
        self.with(move |conn| interviews::get(conn, &id)).await
    }

    async fn insert_test_report(
        &self,
        id: &SessionId,
        report: &TestReport,
        keep_full: usize,
    ) -> Result<(), StoreError> {
        let (id, report) = (*id, report.clone());
        self.with(move |conn| questions::insert_report(conn, &id, &report, keep_full))
            .await
    }

    async fn test_reports(
        &self,
        id: &SessionId,
        question: Option<Uuid>,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<TestReport>, usize), StoreError> {
        let id = *id;
        self.with(move |conn| questions::reports(conn, &id, question, limit, offset))
            .await
    }

    async fn erase_session(
        &self,
        id: &SessionId,
        erased: &EventRecord,
    ) -> Result<bool, StoreError> {
        let (id, erased) = (*id, erased.clone());
        self.with(move |conn| erasure::erase(conn, &id, &erased))
            .await
    }

    async fn erasable_sessions(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SessionId>, StoreError> {
        self.with(move |conn| erasure::erasable(conn, before, limit))
            .await
    }
    async fn set_rubric(&self, id: &SessionId, rubric: &Rubric) -> Result<(), StoreError> {
        let (id, rubric) = (*id, rubric.clone());
        self.with(move |conn| scorecards::set_rubric(conn, &id, &rubric))
            .await
    }

    async fn rubric(&self, id: &SessionId) -> Result<Option<Rubric>, StoreError> {
        let id = *id;
        self.with(move |conn| scorecards::rubric(conn, &id)).await
    }

    async fn put_scorecard(&self, id: &SessionId, card: &Scorecard) -> Result<bool, StoreError> {
        let (id, card) = (*id, card.clone());
        self.with(move |conn| scorecards::put(conn, &id, &card))
            .await
    }

    async fn scorecards(&self, id: &SessionId) -> Result<Vec<Scorecard>, StoreError> {
        let id = *id;
        self.with(move |conn| scorecards::list(conn, &id)).await
    }

    async fn insert_template(&self, t: &Template, created_by: &str) -> Result<(), StoreError> {
        let (t, by) = (t.clone(), created_by.to_string());
        self.with(move |conn| templates::insert(conn, &t, &by))
            .await
    }

    async fn get_template(&self, id: &Uuid) -> Result<Option<Template>, StoreError> {
        let id = *id;
        self.with(move |conn| templates::get(conn, &id)).await
    }

    async fn list_templates(&self, page: &ListPage) -> Result<Vec<Template>, StoreError> {
        let page = page.clone();
        self.with(move |conn| templates::list(conn, &page)).await
    }

    async fn set_session_template(&self, id: &SessionId, p: &Progress) -> Result<(), StoreError> {
        let (id, p) = (*id, p.clone());
        self.with(move |conn| templates::set_progress(conn, &id, &p))
            .await
    }

    async fn session_template(&self, id: &SessionId) -> Result<Option<Progress>, StoreError> {
        let id = *id;
        self.with(move |conn| templates::progress(conn, &id)).await
    }
}

/// A value kept whole as JSON.
fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("unserializable: {e}")))
}

/// A map by workspace path, kept as a JSON object by the paths' text.
fn json_by_path<V: serde::Serialize>(
    map: &BTreeMap<WorkspacePath, V>,
) -> Result<String, StoreError> {
    json(
        &map.iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests;
