//! [`Store`] on one SQLite file in WAL mode. rusqlite is blocking, so every call runs on the
//! blocking pool; one connection behind a `std::sync::Mutex` is plenty for one node's writes.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{ListPage, RunRecord, SessionRecord, Store, StoreError, UpdateRecord};

/// Migrations in order; `PRAGMA user_version` counts how many a database has had.
const MIGRATIONS: &[&str] = &[include_str!("schema.sql"), include_str!("migration_2.sql")];
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

fn time(s: String) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time '{s}': {e}")))
}

fn session_from_row(row: &Row<'_>) -> Result<SessionRecord, StoreError> {
    let files: String = row.get("files")?;
    Ok(SessionRecord {
        id: row.get("id")?,
        environment: row.get("environment")?,
        label: row.get("label")?,
        status: row.get("status")?,
        container_id: row.get("container_id")?,
        candidate_hash: row.get("candidate_hash")?,
        interviewer_hash: row.get("interviewer_hash")?,
        created_at: time(row.get("created_at")?)?,
        last_activity_at: time(row.get("last_activity_at")?)?,
        expires_at: time(row.get("expires_at")?)?,
        ended_reason: row.get("ended_reason")?,
        initial_document: row.get("initial_document")?,
        base_version: row.get::<_, i64>("base_version")? as u64,
        created_by: row.get("created_by")?,
        document: row.get("document")?,
        version: row.get::<_, i64>("version")? as u64,
        notes: row.get("notes")?,
        files: serde_json::from_str(&files).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

fn run_from_row(row: &Row<'_>) -> Result<RunRecord, StoreError> {
    Ok(RunRecord {
        id: row.get("id")?,
        session_id: row.get("session_id")?,
        by_role: row.get("by_role")?,
        started_at: time(row.get("started_at")?)?,
        finished_at: row
            .get::<_, Option<String>>("finished_at")?
            .map(time)
            .transpose()?,
        status: row.get("status")?,
        exit_code: row.get("exit_code")?,
        duration_ms: row.get::<_, Option<i64>>("duration_ms")?.map(|d| d as u64),
        build_ms: row.get::<_, Option<i64>>("build_ms")?.map(|d| d as u64),
        stdout: row.get("stdout")?,
        stderr: row.get("stderr")?,
        truncated: row.get("truncated")?,
    })
}

fn query_sessions(conn: &Connection, sql: &str) -> Result<Vec<SessionRecord>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(session_from_row(row)?);
    }
    Ok(out)
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        let s = s.clone();
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO sessions (id, environment, label, status, container_id, candidate_hash,
                   interviewer_hash, created_at, last_activity_at, expires_at, ended_reason,
                   document, version, files, initial_document, notes, base_version, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                   ?17, ?18)",
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
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn update_session_state(
        &self,
        id: &str,
        status: &str,
        container_id: Option<&str>,
        last_activity_at: DateTime<Utc>,
        ended_reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let (id, status) = (id.to_string(), status.to_string());
        let container_id = container_id.map(str::to_string);
        let ended_reason = ended_reason.map(str::to_string);
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
        id: &str,
        updates: &[UpdateRecord],
        document: &str,
        version: u64,
    ) -> Result<(), StoreError> {
        let (id, document, updates) = (id.to_string(), document.to_string(), updates.to_vec());
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

    async fn updates(&self, id: &str) -> Result<Vec<UpdateRecord>, StoreError> {
        let id = id.to_string();
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

    async fn runs(&self, session_id: &str) -> Result<Vec<RunRecord>, StoreError> {
        let session_id = session_id.to_string();
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

    async fn set_notes(&self, id: &str, notes: &str) -> Result<(), StoreError> {
        let (id, notes) = (id.to_string(), notes.to_string());
        self.with(move |conn| {
            conn.execute(
                "UPDATE sessions SET notes = ?2 WHERE id = ?1",
                params![id, notes],
            )?;
            Ok(())
        })
        .await
    }

    async fn get_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let id = id.to_string();
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
        id: &str,
        base_version: u64,
        base_document: &str,
    ) -> Result<(), StoreError> {
        let (id, base_document) = (id.to_string(), base_document.to_string());
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
                "INSERT INTO runs (id, session_id, by_role, started_at) VALUES (?1, ?2, ?3, ?4)",
                params![r.id, r.session_id, r.by_role, r.started_at.to_rfc3339()],
            )?;
            Ok(())
        })
        .await
    }

    async fn set_deadline(&self, id: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        let (id, at) = (id.to_string(), expires_at.to_rfc3339());
        self.with(move |conn| {
            conn.execute(
                "UPDATE sessions SET expires_at = ?2 WHERE id = ?1",
                params![id, at],
            )?;
            Ok(())
        })
        .await
    }

    async fn finish_run(&self, r: &RunRecord, keep_full: usize) -> Result<(), StoreError> {
        let r = r.clone();
        self.with(move |conn| {
            let tx = conn.unchecked_transaction()?;
            tx.execute(
                "UPDATE runs SET finished_at = ?2, status = ?3, exit_code = ?4, duration_ms = ?5,
                   stdout = ?6, stderr = ?7, truncated = ?8, build_ms = ?9 WHERE id = ?1",
                params![
                    r.id,
                    r.finished_at.map(|t| t.to_rfc3339()),
                    r.status,
                    r.exit_code,
                    r.duration_ms.map(|d| d as i64),
                    r.stdout,
                    r.stderr,
                    r.truncated,
                    r.build_ms.map(|d| d as i64),
                ],
            )?;
            // Older runs keep their status and timings but only the start of their output.
            // Each finish moves one run out of the newest `keep_full`: that one is cut, so the
            // work per run stays the same however long the session (an index lookup, not a
            // scan of every run's output).
            tx.execute(
                "UPDATE runs SET stdout = substr(stdout, 1, ?3), stderr = substr(stderr, 1, ?3),
                   truncated = 1
                 WHERE id = (SELECT id FROM runs WHERE session_id = ?1
                             ORDER BY started_at DESC LIMIT 1 OFFSET ?2)
                   AND finished_at IS NOT NULL
                   AND (length(stdout) > ?3 OR length(stderr) > ?3)",
                params![r.session_id, keep_full as i64, OLD_RUN_OUTPUT as i64],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn last_run(&self, session_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let session_id = session_id.to_string();
        self.with(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT * FROM runs WHERE session_id = ?1 AND finished_at IS NOT NULL
                 ORDER BY started_at DESC LIMIT 1",
            )?;
            let row = stmt
                .query_row([session_id], |row| Ok(run_from_row(row)))
                .optional()?;
            row.transpose()
        })
        .await
    }

    async fn fail_unfinished_runs(&self) -> Result<Vec<String>, StoreError> {
        let now = Utc::now().to_rfc3339();
        self.with(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let sessions = {
                let mut stmt =
                    tx.prepare("SELECT DISTINCT session_id FROM runs WHERE finished_at IS NULL")?;
                let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str) -> SessionRecord {
        let now = Utc::now();
        SessionRecord {
            id: id.into(),
            environment: "python".into(),
            label: Some("Jane – loop".into()),
            status: "ready".into(),
            container_id: None,
            candidate_hash: "c".into(),
            interviewer_hash: "i".into(),
            created_at: now,
            last_activity_at: now,
            expires_at: now,
            ended_reason: None,
            initial_document: "print('é🎉')".into(),
            base_version: 0,
            created_by: "ip:127.0.0.1".into(),
            document: "print('é🎉')".into(),
            version: 0,
            notes: String::new(),
            files: [("data/in.txt".to_string(), "1 2".to_string())].into(),
        }
    }

    #[tokio::test]
    async fn sessions_and_runs_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let s = session("a");
        store.insert_session(&s).await.expect("insert");
        let update = UpdateRecord {
            version: 0,
            at: s.created_at,
            client_id: "c1".into(),
            changes: serde_json::value::RawValue::from_string(r#"[[11, "x = 1"]]"#.into())
                .expect("json"),
        };
        store
            .append_updates("a", std::slice::from_ref(&update), "x = 1", 1)
            .await
            .expect("update");
        // A late write of an older document never wins.
        store
            .append_updates("a", &[], "stale", 0)
            .await
            .expect("stale");
        store
            .update_session_state("a", "stopped", Some("c1"), s.created_at, Some("stopped"))
            .await
            .expect("state");
        let run = RunRecord {
            id: "r1".into(),
            session_id: "a".into(),
            by_role: "candidate".into(),
            started_at: s.created_at,
            finished_at: None,
            status: None,
            exit_code: None,
            duration_ms: None,
            build_ms: None,
            stdout: String::new(),
            stderr: String::new(),
            truncated: false,
        };
        store.insert_run(&run).await.expect("run");
        drop(store);

        let store = SqliteStore::open(dir.path()).expect("reopen");
        let got = store.get_session("a").await.expect("get").expect("present");
        assert_eq!(got.document, "x = 1");
        assert_eq!(got.version, 1);
        assert_eq!(got.initial_document, "print('é🎉')");
        assert_eq!(store.updates("a").await.expect("updates"), vec![update]);
        assert_eq!(got.status, "stopped");
        assert_eq!(got.files, s.files);
        assert!(store.live_sessions().await.expect("live").is_empty());
        let page = |created_by: Option<&str>| ListPage {
            created_by: created_by.map(str::to_string),
            limit: 10,
            offset: 0,
        };
        assert_eq!(
            store.list_sessions(&page(None)).await.expect("list").len(),
            1
        );
        assert_eq!(
            store
                .list_sessions(&page(Some("ip:127.0.0.1")))
                .await
                .expect("mine")
                .len(),
            1
        );
        assert!(store
            .list_sessions(&page(Some("key")))
            .await
            .expect("theirs")
            .is_empty());
        // Compaction moves the base forward and drops what it folded in.
        store
            .compact_updates("a", 1, "x = 1")
            .await
            .expect("compact");
        let got = store.get_session("a").await.expect("get").expect("present");
        assert_eq!(
            (got.base_version, got.initial_document.as_str()),
            (1, "x = 1")
        );
        assert!(store.updates("a").await.expect("updates").is_empty());
        assert_eq!(
            store.fail_unfinished_runs().await.expect("fail"),
            vec!["a".to_string()]
        );
        assert_eq!(
            store
                .last_run("a")
                .await
                .expect("last")
                .expect("run")
                .status
                .as_deref(),
            Some("error")
        );
    }

    #[test]
    fn migrations_run_once_and_a_newer_database_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(SqliteStore::open(dir.path()).expect("first open migrates"));
        drop(SqliteStore::open(dir.path()).expect("second open has nothing to do"));
        let conn = Connection::open(dir.path().join("livecode.db")).expect("open");
        let version: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("pragma");
        assert_eq!(version, MIGRATIONS.len());
        conn.pragma_update(None, "user_version", 99).expect("bump");
        drop(conn);
        let err = SqliteStore::open(dir.path())
            .err()
            .expect("newer schema refused");
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }
}
