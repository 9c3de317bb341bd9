//! A session's audit trail: events in the order they were recorded.

use super::db::{execute, query, Db};
use super::fence::Write;
use super::rows::json;
use crate::model::SessionId;
use crate::store::{EventRecord, StoreError};

/// One event, after those recorded before it, unless its session was erased.
pub async fn insert(w: &Write<'_>, e: &EventRecord) -> Result<bool, StoreError> {
    let stored = execute(
        w,
        "INSERT INTO events (id, session_id, type, at, data) SELECT $1, $2, $3, $4, $5
         WHERE NOT EXISTS (SELECT 1 FROM sessions WHERE id = $2 AND erased_at IS NOT NULL)",
        &[&e.id, &e.session_id.0, &e.kind, &e.at, &json(&e.data)?],
    )
    .await?;
    Ok(stored == 1)
}

/// One event whatever its session: the erasure's own `session.erased`.
pub async fn insert_unchecked(w: &Write<'_>, e: &EventRecord) -> Result<(), StoreError> {
    execute(
        w,
        "INSERT INTO events (id, session_id, type, at, data) VALUES ($1, $2, $3, $4, $5)",
        &[&e.id, &e.session_id.0, &e.kind, &e.at, &json(&e.data)?],
    )
    .await?;
    Ok(())
}

/// A session's events, oldest first.
pub async fn list(db: &impl Db, id: &SessionId) -> Result<Vec<EventRecord>, StoreError> {
    read(
        db,
        "SELECT id, session_id, type, at, data FROM events WHERE session_id = $1 ORDER BY seq",
        id,
    )
    .await
}

/// A session's events the webhook has not delivered, oldest first.
pub async fn undelivered(db: &impl Db, id: &SessionId) -> Result<Vec<EventRecord>, StoreError> {
    read(
        db,
        "SELECT id, session_id, type, at, data FROM events \
         WHERE session_id = $1 AND NOT delivered ORDER BY seq",
        id,
    )
    .await
}

pub async fn mark_delivered(db: &impl Db, id: &uuid::Uuid) -> Result<(), StoreError> {
    execute(
        db,
        "UPDATE events SET delivered = true WHERE id = $1",
        &[id],
    )
    .await?;
    Ok(())
}

async fn read(db: &impl Db, sql: &str, id: &SessionId) -> Result<Vec<EventRecord>, StoreError> {
    let rows = query(db, sql, &[&id.0]).await?;
    rows.iter()
        .map(|row| {
            Ok(EventRecord {
                id: row.try_get("id")?,
                session_id: SessionId(row.try_get("session_id")?),
                kind: row.try_get("type")?,
                at: row.try_get("at")?,
                data: row.try_get("data")?,
            })
        })
        .collect()
}
