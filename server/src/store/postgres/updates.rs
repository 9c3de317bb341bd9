//! A session's edit history: accepted updates appended with the document they lead to, read
//! back from the base version, and folded into the base (the history bound).

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use tokio_postgres::types::Json;

use super::db::{execute, query, Db, Params};
use super::fence::Write;
use super::rows::{count, text};
use crate::model::SessionId;
use crate::store::{StoreError, UpdateRecord};

/// Appends updates and moves the document forward (never back): two statements, whatever
/// the number of updates, sent together.
pub async fn append(
    w: &Write<'_>,
    id: &SessionId,
    updates: &[UpdateRecord],
    document: &str,
    version: u64,
) -> Result<(), StoreError> {
    let versions: Vec<i64> = updates.iter().map(|u| u.version as i64).collect();
    let times: Vec<DateTime<Utc>> = updates.iter().map(|u| u.at).collect();
    let clients: Vec<_> = updates.iter().map(|u| text(&u.client_id)).collect();
    let changes: Vec<Json<&RawValue>> = updates.iter().map(|u| Json(&*u.changes)).collect();
    let (document, version) = (text(document), version as i64);
    let inserted: Params = &[&id.0, &versions, &times, &clients, &changes];
    let moved: Params = &[&id.0, &document, &version];
    tokio::try_join!(
        execute(
            w,
            "INSERT INTO updates (session_id, version, at, client_id, changes)
             SELECT $1::uuid, * FROM unnest($2::bigint[], $3::timestamptz[], $4::text[], $5::json[])
             -- Not after an erasure: FOR SHARE waits for one in progress, then sees it.
             WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND erased_at IS NULL FOR SHARE)
             ON CONFLICT DO NOTHING",
            inserted,
        ),
        execute(
            w,
            "UPDATE sessions SET document = $2, version = $3
             WHERE id = $1 AND version < $3 AND erased_at IS NULL",
            moved,
        ),
    )?;
    Ok(())
}

/// The kept updates, from the base version.
pub async fn list(db: &impl Db, id: &SessionId) -> Result<Vec<UpdateRecord>, StoreError> {
    let rows = query(
        db,
        "SELECT u.version, u.at, u.client_id, u.changes FROM updates u
         JOIN sessions s ON s.id = u.session_id
         WHERE u.session_id = $1 AND u.version >= s.base_version ORDER BY u.version",
        &[&id.0],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let Json(changes): Json<Box<RawValue>> = row.try_get("changes")?;
            Ok(UpdateRecord {
                version: count(row, "version")?,
                at: row.try_get("at")?,
                client_id: row.try_get("client_id")?,
                changes,
            })
        })
        .collect()
}

/// Folds the updates before `base_version` into the base document.
pub async fn compact(
    w: &Write<'_>,
    id: &SessionId,
    base_version: u64,
    base_document: &str,
) -> Result<(), StoreError> {
    let moved = execute(
        w,
        "UPDATE sessions SET initial_document = $2, base_version = $3
         WHERE id = $1 AND base_version < $3 AND erased_at IS NULL",
        &[&id.0, &text(base_document), &(base_version as i64)],
    )
    .await?;
    if moved > 0 {
        execute(
            w,
            "DELETE FROM updates WHERE session_id = $1 AND version < $2",
            &[&id.0, &(base_version as i64)],
        )
        .await?;
    }
    Ok(())
}
