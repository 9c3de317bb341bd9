//! Runs: stored as they start, finished with their result (older ones cut to the start of
//! their output), read back as the history, the last one's summary, and marked as errors
//! when a crash cut them short. Runs that started at the same instant keep the order they
//! were stored in (`seq`).

use chrono::Utc;

use super::db::{execute, query, query_opt, Db};
use super::fence::Write;
use super::rows::{run_columns, run_from_row, summary_from_row, text};
use crate::model::{RunResult, RunSummary, SessionId};
use crate::store::{RunRecord, StoreError};

/// Characters of stdout and of stderr kept of a run older than the last `keep_full`.
const OLD_RUN_OUTPUT: i32 = 1024;

/// A session's runs, oldest first.
pub async fn list(db: &impl Db, session_id: &SessionId) -> Result<Vec<RunRecord>, StoreError> {
    let rows = query(
        db,
        concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE session_id = $1 ORDER BY started_at, seq"
        ),
        &[&session_id.0],
    )
    .await?;
    rows.iter().map(run_from_row).collect()
}

/// A run as it starts.
pub async fn insert(w: &Write<'_>, r: &RunRecord) -> Result<(), StoreError> {
    execute(
        w,
        "INSERT INTO runs (id, session_id, by_role, started_at, code) VALUES ($1, $2, $3, $4, $5)",
        &[
            &r.id,
            &r.session_id.0,
            &r.by_role.as_str(),
            &r.started_at,
            &r.code.as_deref().map(text),
        ],
    )
    .await?;
    Ok(())
}

/// A run's result; the run moved out of the newest `keep_full` is cut.
pub async fn finish(
    w: &Write<'_>,
    session_id: &SessionId,
    r: &RunResult,
    keep_full: usize,
) -> Result<(), StoreError> {
    let s = &r.summary;
    execute(
        w,
        "UPDATE runs SET finished_at = $3, status = $4, exit_code = $5, duration_ms = $6,
           stdout = $7, stderr = $8, truncated = $9, build_ms = $10, build_cached = $11
         WHERE id = $1 AND session_id = $2",
        &[
            &s.run_id,
            &session_id.0,
            &s.finished_at,
            &s.status.as_str(),
            &s.exit_code,
            &(s.duration_ms as i64),
            &text(&r.stdout),
            &text(&r.stderr),
            &s.truncated,
            &s.build_ms.map(|d| d as i64),
            &s.build_cached,
        ],
    )
    .await?;
    // Older runs keep their status and timings but only the start of their output (and of
    // the code they ran, when it was not the document). Each finish moves one run out of the
    // newest `keep_full`: that one is cut, so the work per run stays the same however long
    // the session (an index lookup, not a scan of every run's output).
    execute(
        w,
        "UPDATE runs SET stdout = left(stdout, $3), stderr = left(stderr, $3),
           code = left(code, $3), truncated = true
         WHERE id = (SELECT id FROM runs WHERE session_id = $1
                     ORDER BY started_at DESC, seq DESC LIMIT 1 OFFSET $2)
           AND finished_at IS NOT NULL
           AND (length(stdout) > $3 OR length(stderr) > $3 OR length(code) > $3)",
        &[&session_id.0, &(keep_full as i64), &OLD_RUN_OUTPUT],
    )
    .await?;
    Ok(())
}

/// The summary of the session's last finished run.
pub async fn last(db: &impl Db, session_id: &SessionId) -> Result<Option<RunSummary>, StoreError> {
    let row = query_opt(
        db,
        concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE session_id = $1 AND finished_at IS NOT NULL
             ORDER BY started_at DESC, seq DESC LIMIT 1"
        ),
        &[&session_id.0],
    )
    .await?;
    Ok(row.as_ref().map(summary_from_row).transpose()?.flatten())
}

/// Marks runs a crash left unfinished as errors (one statement); answers their sessions.
pub async fn fail_unfinished(db: &impl Db) -> Result<Vec<SessionId>, StoreError> {
    let rows = query(
        db,
        "UPDATE runs SET finished_at = $1, status = 'error',
           stderr = stderr || '[livecode] the server stopped during the run' || chr(10)
         WHERE finished_at IS NULL RETURNING session_id",
        &[&Utc::now()],
    )
    .await?;
    let mut sessions = Vec::new();
    for row in &rows {
        let id = SessionId(row.try_get("session_id")?);
        if !sessions.contains(&id) {
            sessions.push(id);
        }
    }
    Ok(sessions)
}
