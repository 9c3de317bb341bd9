//! Erasure: a session's content cleared, its row kept as a tombstone. With `secure_delete` on
//! (set at open) SQLite zeroes what it frees; the WAL, which still holds the pages as they
//! were, is checkpointed and truncated after each erasure, so nothing erased stays in the
//! database's files.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use super::events;
use crate::model::SessionId;
use crate::store::{EventRecord, StoreError};

/// The statements of one erasure, each with the session's id as `?1`: every table or column
/// holding what a candidate or an interviewer wrote, said or ran. **A new table holding a
/// session's content adds its line here** (and in the PostgreSQL store's list). Kept: ids,
/// times, statuses, the end's reason, the environment's name, the token hashes (so a token
/// still answers 410, not 401), the question's id, versions and counts.
const ERASE: &[&str] = &[
    // The label is free text and often a candidate's name; an open-mode creator's address.
    "UPDATE sessions SET label = NULL, initial_document = '', document = '', notes = '',
       files = '{}', file_versions = '{}', documents = '{}',
       created_by = CASE WHEN created_by LIKE 'ip:%' THEN 'ip:erased' ELSE created_by END
     WHERE id = ?1",
    "DELETE FROM updates WHERE session_id = ?1",
    "DELETE FROM runs WHERE session_id = ?1",
    "DELETE FROM test_runs WHERE session_id = ?1",
    // The audit trail, the events feed and the webhook's outbox rows, focus and paste marks.
    "DELETE FROM events WHERE session_id = ?1",
    // Interviewers' scorecards of the candidate (the rubric is the operator's, and stays).
    "DELETE FROM scorecards WHERE session_id = ?1",
    // The code each question of a template left (where the session was in it stays).
    "UPDATE session_templates SET body = json_remove(body, '$.codes') WHERE session_id = ?1",
];

/// The statuses of an ended session (as `sessions::LIVE` lists the others).
const ENDED: &str = "status NOT IN ('creating','ready','executing','stopping')";

/// Erases session `id` if it is ended and not erased yet; answers whether it did.
pub fn erase(conn: &Connection, id: &SessionId, erased: &EventRecord) -> Result<bool, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let claimed = tx.execute(
        &format!(
            "UPDATE sessions SET erased_at = ?2 WHERE id = ?1 AND erased_at IS NULL AND {ENDED}"
        ),
        params![id, erased.at.to_rfc3339()],
    )?;
    if claimed == 0 {
        return Ok(false);
    }
    for statement in ERASE {
        tx.execute(statement, [id])?;
    }
    events::insert_unchecked(&tx, erased)?;
    tx.commit()?;
    // TRUNCATE: the WAL's frames (the content as it was) are copied back and the file cut to
    // nothing. With one connection no reader can hold it back; a failure is only logged.
    if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::error!(session = %id, %err, "could not truncate the WAL after an erasure");
    }
    Ok(true)
}

/// Ended sessions not erased yet whose last activity is before `before`, oldest first.
pub fn erasable(
    conn: &Connection,
    before: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<SessionId>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id FROM sessions WHERE erased_at IS NULL AND last_activity_at < ?1 AND {ENDED}
         ORDER BY last_activity_at LIMIT ?2"
    ))?;
    let ids = stmt
        .query_map(params![before.to_rfc3339(), limit as i64], |row| row.get(0))?
        .collect::<Result<Vec<SessionId>, _>>()?;
    Ok(ids)
}
