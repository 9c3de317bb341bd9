//! A session's edit history: accepted updates appended with the document they lead to, read
//! back from the base version, and folded into the base (the history bound).

use rusqlite::{params, Connection};

use super::rows::time;
use crate::model::SessionId;
use crate::store::{StoreError, UpdateRecord};

/// Appends updates and moves the document forward (never back).
pub fn append(
    conn: &Connection,
    id: &SessionId,
    updates: &[UpdateRecord],
    document: &str,
    version: u64,
) -> Result<(), StoreError> {
    let tx = conn.unchecked_transaction()?;
    // An edit still on its way when its session was erased is not stored after the erasure.
    let erased: bool = tx.query_row(
        "SELECT count(*) FROM sessions WHERE id = ?1 AND erased_at IS NOT NULL",
        [id],
        |row| row.get(0),
    )?;
    if erased {
        return Ok(());
    }
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO updates (session_id, version, at, client_id, changes)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for u in updates {
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
}

/// The kept updates, from the base version.
pub fn list(conn: &Connection, id: &SessionId) -> Result<Vec<UpdateRecord>, StoreError> {
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
}

/// Folds the updates before `base_version` into the base document.
pub fn compact(
    conn: &Connection,
    id: &SessionId,
    base_version: u64,
    base_document: &str,
) -> Result<(), StoreError> {
    let tx = conn.unchecked_transaction()?;
    let moved = tx.execute(
        "UPDATE sessions SET initial_document = ?2, base_version = ?3
         WHERE id = ?1 AND base_version < ?3 AND erased_at IS NULL",
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
}
