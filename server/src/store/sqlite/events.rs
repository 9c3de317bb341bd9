//! A session's audit trail: events in the order they were recorded.

use rusqlite::{params, Connection};

use super::rows::time;
use crate::model::SessionId;
use crate::store::{EventRecord, StoreError};

/// One event, after those recorded before it, unless its session was erased.
pub fn insert(conn: &Connection, e: &EventRecord) -> Result<bool, StoreError> {
    let stored = conn.execute(
        "INSERT INTO events (id, session_id, type, at, data) SELECT ?1, ?2, ?3, ?4, ?5
         WHERE NOT EXISTS (SELECT 1 FROM sessions WHERE id = ?2 AND erased_at IS NOT NULL)",
        params![
            e.id.to_string(),
            e.session_id,
            e.kind,
            e.at.to_rfc3339(),
            e.data.to_string()
        ],
    )?;
    Ok(stored == 1)
}

/// One event whatever its session: the erasure's own `session.erased`.
pub fn insert_unchecked(conn: &Connection, e: &EventRecord) -> Result<(), StoreError> {
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
}

/// A session's events, oldest first.
pub fn list(conn: &Connection, id: &SessionId) -> Result<Vec<EventRecord>, StoreError> {
    read(
        conn,
        "SELECT id, session_id, type, at, data FROM events WHERE session_id = ?1 ORDER BY seq",
        id,
    )
}

/// A session's events not yet delivered, oldest first.
pub fn undelivered(conn: &Connection, id: &SessionId) -> Result<Vec<EventRecord>, StoreError> {
    read(
        conn,
        "SELECT id, session_id, type, at, data FROM events \
         WHERE session_id = ?1 AND delivered = 0 ORDER BY seq",
        id,
    )
}

pub fn mark_delivered(conn: &Connection, id: &uuid::Uuid) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE events SET delivered = 1 WHERE id = ?1",
        [id.to_string()],
    )?;
    Ok(())
}

fn read(conn: &Connection, sql: &str, id: &SessionId) -> Result<Vec<EventRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
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
}
