//! Runs: stored as they start, finished with their result (older ones cut to the start of
//! their output), read back as the history, the last one's summary, and marked as errors
//! when a crash cut them short.

use chrono::Utc;
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{run_from_row, summary_from_row};
use crate::model::{RunResult, RunSummary, SessionId};
use crate::store::{RunRecord, StoreError};

/// Characters of stdout and of stderr kept of a run older than the last `keep_full`.
const OLD_RUN_OUTPUT: usize = 1024;

/// A session's runs, oldest first.
pub fn list(conn: &Connection, session_id: &SessionId) -> Result<Vec<RunRecord>, StoreError> {
    let mut stmt = conn.prepare("SELECT * FROM runs WHERE session_id = ?1 ORDER BY started_at")?;
    let mut rows = stmt.query([session_id])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(run_from_row(row)?);
    }
    Ok(out)
}

/// A run as it starts.
pub fn insert(conn: &Connection, r: &RunRecord) -> Result<(), StoreError> {
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
}

/// A run's result; the run moved out of the newest `keep_full` is cut.
pub fn finish(
    conn: &Connection,
    session_id: &SessionId,
    r: &RunResult,
    keep_full: usize,
) -> Result<(), StoreError> {
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
}

/// The summary of the session's last finished run.
pub fn last(conn: &Connection, session_id: &SessionId) -> Result<Option<RunSummary>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT * FROM runs WHERE session_id = ?1 AND finished_at IS NOT NULL
         ORDER BY started_at DESC LIMIT 1",
    )?;
    let row = stmt
        .query_row([session_id], |row| Ok(summary_from_row(row)))
        .optional()?;
    Ok(row.transpose()?.flatten())
}

/// Marks runs a crash left unfinished as errors; answers their sessions.
pub fn fail_unfinished(conn: &Connection) -> Result<Vec<SessionId>, StoreError> {
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
        [Utc::now().to_rfc3339()],
    )?;
    tx.commit()?;
    Ok(sessions)
}
