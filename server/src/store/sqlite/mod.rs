//! [`Store`] on one SQLite file in WAL mode. rusqlite is blocking, so every call runs on the
//! blocking pool; one connection behind a `std::sync::Mutex` is plenty for one node's writes.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

mod rows;

use rows::{query_sessions, run_from_row, session_from_row, summary_from_row, time};

use super::{EventRecord, ListPage, RunRecord, SessionRecord, Store, StoreError, UpdateRecord};
use crate::model::{EndReason, RunResult, RunSummary, SessionId, Status};
use crate::questions::{Question, TestReport};

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
];
const LIVE: &str = "('creating','ready','executing','stopping')";
/// Characters of stdout and of stderr kept of a run older than the last `keep_full`.
const OLD_RUN_OUTPUT: usize = 1024;

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
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO sessions (id, environment, label, status, container_id, candidate_hash,
                   interviewer_hash, created_at, last_activity_at, expires_at, ended_reason,
                   document, version, files, initial_document, notes, base_version, created_by,
                   documents)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                   ?17, ?18, ?19)",
                params![
                    s.id,
                    s.environment,
                    s.label,
                    s.status,
                    s.container_id,
                    s.candidate_hash,
                    s.interviewer_hash,
                    s.created_at.to_rfc3339(),
                    s.last_activity_at.to_rfc3339(),
                    s.expires_at.to_rfc3339(),
                    s.ended_reason,
                    s.document,
                    s.version as i64,
                    serde_json::to_string(&s.files).expect("a string map serializes"),
                    s.initial_document,
                    s.notes,
                    s.base_version as i64,
                    s.created_by,
                    serde_json::to_string(&s.documents).expect("a string map serializes"),
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn update_session_state(
        &self,
        id: &SessionId,
        status: Status,
        container_id: Option<&str>,
        last_activity_at: DateTime<Utc>,
        ended_reason: Option<EndReason>,
    ) -> Result<(), StoreError> {
        let id = *id;
        let container_id = container_id.map(str::to_string);
        self.with(move |conn| {
            conn.execute(
                "UPDATE sessions SET status = ?2, container_id = ?3, last_activity_at = ?4,
                   ended_reason = COALESCE(?5, ended_reason) WHERE id = ?1",
                params![
                    id,
                    status,
                    container_id,
                    last_activity_at.to_rfc3339(),
                    ended_reason
                ],
            )?;
            Ok(())
        })
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
        self.with(move |conn| {
            let tx = conn.unchecked_transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO updates (session_id, version, at, client_id, changes)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for u in &updates {
                    insert.execute(params![
                        id,
                        u.version as i64,
                        u.at.to_rfc3339(),
                        u.client_id,
                        u.changes.get()
                    ])?;
                }
            }
            tx.execute(
                "UPDATE sessions SET document = ?2, version = ?3 WHERE id = ?1 AND version < ?3",
                params![id, document, version as i64],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn updates(&self, id: &SessionId) -> Result<Vec<UpdateRecord>, StoreError> {
        let id = *id;
        self.with(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT u.version, u.at, u.client_id, u.changes FROM updates u
                 JOIN sessions s ON s.id = u.session_id
                 WHERE u.session_id = ?1 AND u.version >= s.base_version ORDER BY u.version",
            )?;
            let mut rows = stmt.query([id])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let changes: String = row.get(3)?;
                out.push(UpdateRecord {
                    version: row.get::<_, i64>(0)? as u64,
                    at: time(row.get(1)?)?,
                    client_id: row.get(2)?,
                    changes: serde_json::value::RawValue::from_string(changes)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn runs(&self, session_id: &SessionId) -> Result<Vec<RunRecord>, StoreError> {
        let session_id = *session_id;
        self.with(move |conn| {
            let mut stmt =
                conn.prepare("SELECT * FROM runs WHERE session_id = ?1 ORDER BY started_at")?;
            let mut rows = stmt.query([session_id])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(run_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn set_notes(&self, id: &SessionId, notes: &str) -> Result<(), StoreError> {
        let (id, notes) = (*id, notes.to_string());
        self.with(move |conn| {
            conn.execute(
                "UPDATE sessions SET notes = ?2 WHERE id = ?1",
                params![id, notes],
            )?;
            Ok(())
        })
        .await
    }

    async fn insert_event(&self, event: &EventRecord) -> Result<(), StoreError> {
        let e = event.clone();
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO events (id, session_id, type, at, data) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    e.id.to_string(),
                    e.session_id,
                    e.kind,
                    e.at.to_rfc3339(),
                    e.data.to_string()
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn events(&self, id: &SessionId) -> Result<Vec<EventRecord>, StoreError> {
        let id = *id;
        self.with(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, session_id, type, at, data FROM events WHERE session_id = ?1 ORDER BY seq",
            )?;
            let mut rows = stmt.query([id])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let event_id: String = row.get(0)?;
                let data: String = row.get(4)?;
                out.push(EventRecord {
                    id: uuid::Uuid::parse_str(&event_id)
                        .map_err(|e| StoreError::Corrupt(format!("event id '{event_id}': {e}")))?,
                    session_id: row.get(1)?,
                    kind: row.get(2)?,
                    at: time(row.get(3)?)?,
                    data: serde_json::from_str(&data)
                        .map_err(|e| StoreError::Corrupt(format!("event data: {e}")))?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        let id = *id;
        self.with(move |conn| {
            let mut stmt = conn.prepare("SELECT * FROM sessions WHERE id = ?1")?;
            let row = stmt
                .query_row([id], |row| Ok(session_from_row(row)))
                .optional()?;
            row.transpose()
        })
        .await
    }

    async fn live_sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        self.with(|conn| {
            query_sessions(
                conn,
                &format!("SELECT * FROM sessions WHERE status IN {LIVE}"),
            )
        })
        .await
    }

    async fn compact_updates(
        &self,
        id: &SessionId,
        base_version: u64,
        base_document: &str,
    ) -> Result<(), StoreError> {
        let (id, base_document) = (*id, base_document.to_string());
        self.with(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let moved = tx.execute(
                "UPDATE sessions SET initial_document = ?2, base_version = ?3
                 WHERE id = ?1 AND base_version < ?3",
                params![id, base_document, base_version as i64],
            )?;
            if moved > 0 {
                tx.execute(
                    "DELETE FROM updates WHERE session_id = ?1 AND version < ?2",
                    params![id, base_version as i64],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn list_sessions(&self, page: &ListPage) -> Result<Vec<SessionRecord>, StoreError> {
        let page = page.clone();
        self.with(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT * FROM sessions WHERE (?1 IS NULL OR created_by = ?1)
                 ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
            )?;
            let mut rows = stmt.query(params![
                page.created_by,
                page.limit as i64,
                page.offset as i64
            ])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(session_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn insert_run(&self, r: &RunRecord) -> Result<(), StoreError> {
        let r = r.clone();
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO runs (id, session_id, by_role, started_at, code)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    r.id.to_string(),
                    r.session_id,
                    r.by_role,
                    r.started_at.to_rfc3339(),
                    r.code,
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn set_deadline(
        &self,
        id: &SessionId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (id, at) = (*id, expires_at.to_rfc3339());
        self.with(move |conn| {
            conn.execute(
                "UPDATE sessions SET expires_at = ?2 WHERE id = ?1",
                params![id, at],
            )?;
            Ok(())
        })
        .await
    }

    async fn finish_run(
        &self,
        session_id: &SessionId,
        result: &RunResult,
        keep_full: usize,
    ) -> Result<(), StoreError> {
        let (session_id, r) = (*session_id, result.clone());
        self.with(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let s = &r.summary;
            tx.execute(
                "UPDATE runs SET finished_at = ?2, status = ?3, exit_code = ?4, duration_ms = ?5,
                   stdout = ?6, stderr = ?7, truncated = ?8, build_ms = ?9, build_cached = ?10
                 WHERE id = ?1",
                params![
                    s.run_id.to_string(),
                    s.finished_at.to_rfc3339(),
                    s.status,
                    s.exit_code,
                    s.duration_ms as i64,
                    r.stdout,
                    r.stderr,
                    s.truncated,
                    s.build_ms.map(|d| d as i64),
                    s.build_cached,
                ],
            )?;
            // Older runs keep their status and timings but only the start of their output (and
            // of the code they ran, when it was not the document).
            // Each finish moves one run out of the newest `keep_full`: that one is cut, so the
            // work per run stays the same however long the session (an index lookup, not a
            // scan of every run's output).
            tx.execute(
                "UPDATE runs SET stdout = substr(stdout, 1, ?3), stderr = substr(stderr, 1, ?3),
                   code = substr(code, 1, ?3), truncated = 1
                 WHERE id = (SELECT id FROM runs WHERE session_id = ?1
                             ORDER BY started_at DESC LIMIT 1 OFFSET ?2)
                   AND finished_at IS NOT NULL
                   AND (length(stdout) > ?3 OR length(stderr) > ?3 OR length(code) > ?3)",
                params![session_id, keep_full as i64, OLD_RUN_OUTPUT as i64],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn last_run(&self, session_id: &SessionId) -> Result<Option<RunSummary>, StoreError> {
        let session_id = *session_id;
        self.with(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT * FROM runs WHERE session_id = ?1 AND finished_at IS NOT NULL
                 ORDER BY started_at DESC LIMIT 1",
            )?;
            let row = stmt
                .query_row([session_id], |row| Ok(summary_from_row(row)))
                .optional()?;
            Ok(row.transpose()?.flatten())
        })
        .await
    }

    async fn fail_unfinished_runs(&self) -> Result<Vec<SessionId>, StoreError> {
        let now = Utc::now().to_rfc3339();
        self.with(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let sessions = {
                let mut stmt =
                    tx.prepare("SELECT DISTINCT session_id FROM runs WHERE finished_at IS NULL")?;
                let rows = stmt.query_map([], |row| row.get::<_, SessionId>(0))?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            tx.execute(
                "UPDATE runs SET finished_at = ?1, status = 'error',
                   stderr = stderr || '[livecode] the server stopped during the run' || char(10)
                 WHERE finished_at IS NULL",
                [now],
            )?;
            tx.commit()?;
            Ok(sessions)
        })
        .await
    }
    async fn set_files(
        &self,
        id: &SessionId,
        files: &std::collections::BTreeMap<String, String>,
        versions: &std::collections::BTreeMap<String, u64>,
        rev: u64,
    ) -> Result<(), StoreError> {
        let (id, files, versions) = (*id, json(files)?, json(versions)?);
        self.with(move |conn| {
            conn.execute(
                "UPDATE sessions SET files = ?2, file_versions = ?3, files_rev = ?4
                 WHERE id = ?1 AND files_rev < ?4",
                params![id, files, versions, rev as i64],
            )?;
            Ok(())
        })
        .await
    }

    async fn set_environment(
        &self,
        id: &SessionId,
        environment: &str,
        documents: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let (id, environment, documents) = (*id, environment.to_string(), json(documents)?);
        self.with(move |conn| {
            conn.execute(
                "UPDATE sessions SET environment = ?2, documents = ?3 WHERE id = ?1",
                params![id, environment, documents],
            )?;
            Ok(())
        })
        .await
    }

    async fn insert_question(&self, q: &Question, created_by: &str) -> Result<(), StoreError> {
        let body = json(q)?;
        let (id, at, by) = (
            q.question_id.to_string(),
            q.created_at.to_rfc3339(),
            created_by.to_string(),
        );
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO questions (id, created_at, created_by, body) VALUES (?1, ?2, ?3, ?4)",
                params![id, at, by, body],
            )?;
            Ok(())
        })
        .await
    }

    async fn get_question(&self, id: &uuid::Uuid) -> Result<Option<Question>, StoreError> {
        let id = id.to_string();
        self.with(move |conn| {
            let body: Option<String> = conn
                .query_row("SELECT body FROM questions WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            body.map(|b| parse(&b, "question")).transpose()
        })
        .await
    }

    async fn list_questions(&self, page: &ListPage) -> Result<Vec<Question>, StoreError> {
        let page = page.clone();
        self.with(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT body FROM questions WHERE ?1 IS NULL OR created_by = ?1
                 ORDER BY seq DESC LIMIT ?2 OFFSET ?3",
            )?;
            let mut rows = stmt.query(params![
                page.created_by,
                page.limit as i64,
                page.offset as i64
            ])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let body: String = row.get(0)?;
                out.push(parse(&body, "question")?);
            }
            Ok(out)
        })
        .await
    }

    async fn set_session_question(
        &self,
        id: &SessionId,
        question: &uuid::Uuid,
    ) -> Result<(), StoreError> {
        let (id, question) = (*id, question.to_string());
        self.with(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO session_questions (session_id, question_id) VALUES (?1, ?2)",
                params![id, question],
            )?;
            Ok(())
        })
        .await
    }

    async fn session_question(&self, id: &SessionId) -> Result<Option<uuid::Uuid>, StoreError> {
        let id = *id;
        self.with(move |conn| {
            let q: Option<String> = conn
                .query_row(
                    "SELECT question_id FROM session_questions WHERE session_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?;
            q.map(|q| {
                uuid::Uuid::parse_str(&q)
                    .map_err(|e| StoreError::Corrupt(format!("question id '{q}': {e}")))
            })
            .transpose()
        })
        .await
    }

    async fn insert_test_report(
        &self,
        id: &SessionId,
        report: &TestReport,
        keep_full: usize,
    ) -> Result<(), StoreError> {
        let (id, tests_id, body) = (*id, report.tests_id.to_string(), json(report)?);
        self.with(move |conn| {
            let tx = conn.unchecked_transaction()?;
            tx.execute(
                "INSERT INTO test_runs (id, session_id, body) VALUES (?1, ?2, ?3)",
                params![tests_id, id, body],
            )?;
            // Each insert moves one report out of the newest `keep_full`: that one keeps its
            // summary only, so the work per test run stays the same however many there are.
            let old: Option<(i64, String)> = tx
                .query_row(
                    "SELECT seq, body FROM test_runs WHERE session_id = ?1
                     ORDER BY seq DESC LIMIT 1 OFFSET ?2",
                    params![id, keep_full as i64],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            if let Some((seq, body)) = old {
                let report: TestReport = parse(&body, "test report")?;
                if !report.summary_only {
                    tx.execute(
                        "UPDATE test_runs SET body = ?2 WHERE seq = ?1",
                        params![seq, json(&report.summary())?],
                    )?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn test_reports(
        &self,
        id: &SessionId,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<TestReport>, usize), StoreError> {
        let id = *id;
        self.with(move |conn| {
            let total: i64 = conn.query_row(
                "SELECT count(*) FROM test_runs WHERE session_id = ?1",
                [id],
                |row| row.get(0),
            )?;
            let mut stmt = conn.prepare(
                "SELECT body FROM test_runs WHERE session_id = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3",
            )?;
            let mut rows = stmt.query(params![id, limit as i64, offset as i64])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let body: String = row.get(0)?;
                out.push(parse(&body, "test report")?);
            }
            Ok((out, total as usize))
        })
        .await
    }
}

/// A value kept whole as JSON.
fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("unserializable: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests;
