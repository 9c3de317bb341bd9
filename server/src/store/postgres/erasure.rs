//! Erasure: a session's content cleared, its row kept as a tombstone, in one transaction
//! (`fence::begin_ended_write`: the session is ended, so no lease is checked).
//!
//! What PostgreSQL keeps: a deleted or updated row's old version stays in its table's pages
//! as a dead tuple until VACUUM (autovacuum, soon after on a busy table) makes the space
//! reusable, and the old values stay in the WAL until its segments are recycled, and in any
//! WAL archive or backup until those expire. livecode does not run VACUUM itself: it cannot
//! run inside a transaction, it works table-wide, and autovacuum does it anyway; an operator
//! who needs the space overwritten at once runs `VACUUM (FULL) sessions, runs, updates,
//! events, test_runs` and rotates the WAL archive (docs/retention.md).

use chrono::{DateTime, Utc};

use super::db::{execute, query};
use super::events;
use super::fence::Write;
use crate::model::SessionId;
use crate::store::{EventRecord, StoreError};

/// The statements of one erasure, each with the session's id as `$1`: every table or column
/// holding what a candidate or an interviewer wrote, said or ran. **A new table holding a
/// session's content adds its line here** (and in the SQLite store's list). Kept: ids, times,
/// statuses, the end's reason, the environment's name, the token hashes (so a token still
/// answers 410, not 401), the question's id, versions and counts.
const ERASE: &[&str] = &[
    // The label is free text and often a candidate's name; an open-mode creator's address.
    "UPDATE sessions SET label = NULL, initial_document = '', document = '', notes = '',
       files = '{}', file_versions = '{}', documents = '{}',
       created_by = CASE WHEN created_by LIKE 'ip:%' THEN 'ip:erased' ELSE created_by END
     WHERE id = $1",
    "DELETE FROM updates WHERE session_id = $1",
    "DELETE FROM runs WHERE session_id = $1",
    "DELETE FROM test_runs WHERE session_id = $1",
    // The audit trail, the events feed and the webhook's outbox rows, focus and paste marks.
    "DELETE FROM events WHERE session_id = $1",
    // Interviewers' scorecards of the candidate (the rubric is the operator's, and stays).
    "DELETE FROM scorecards WHERE session_id = $1",
    // The code each question of a template left (where the session was in it stays).
    "UPDATE session_templates SET body = body - 'codes' WHERE session_id = $1",
];

/// The statuses of an ended session.
const ENDED: &str = "status NOT IN ('creating', 'ready', 'executing', 'stopping')";

/// Erases session `id` if it is ended and not erased yet; answers whether it did (the caller
/// commits `w` either way: nothing was written when it did not).
pub async fn erase(
    w: &Write<'_>,
    id: &SessionId,
    erased: &EventRecord,
) -> Result<bool, StoreError> {
    let claimed = execute(
        w,
        &format!(
            "UPDATE sessions SET erased_at = $2 WHERE id = $1 AND erased_at IS NULL AND {ENDED}"
        ),
        &[&id.0, &erased.at],
    )
    .await?;
    if claimed == 0 {
        return Ok(false);
    }
    for statement in ERASE {
        execute(w, statement, &[&id.0]).await?;
    }
    events::insert_unchecked(w, erased).await?;
    Ok(true)
}

/// Ended sessions not erased yet whose last activity is before `before`, oldest first.
pub async fn erasable(
    db: &impl super::db::Db,
    before: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<SessionId>, StoreError> {
    let rows = query(
        db,
        &format!(
            "SELECT id FROM sessions WHERE erased_at IS NULL AND last_activity_at < $1 AND {ENDED}
             ORDER BY last_activity_at LIMIT $2"
        ),
        &[&before, &(limit as i64)],
    )
    .await?;
    rows.iter()
        .map(|row| Ok(SessionId(row.try_get("id")?)))
        .collect()
}
