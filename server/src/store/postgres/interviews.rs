//! Interviews' rows: a session's stage, mode and the stored times of its clock.

use tokio_postgres::Row;

use super::db::{execute, query_opt, Db};
use super::fence::Write;
use crate::interview::{Interview, Mode, Stage};
use crate::model::SessionId;
use crate::store::StoreError;

/// Writes a session's interview whole (made, started, opened, submitted, clock hidden).
pub async fn put(w: &Write<'_>, id: &SessionId, i: &Interview) -> Result<(), StoreError> {
    execute(
        w,
        "INSERT INTO interviews (session_id, mode, stage, started_at, submitted_at,
           time_limit_seconds, link_expires_at, clock_hidden)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (session_id) DO UPDATE SET mode = $2, stage = $3, started_at = $4,
           submitted_at = $5, time_limit_seconds = $6, link_expires_at = $7, clock_hidden = $8",
        &[
            &id.0,
            &i.mode.as_str(),
            &i.stage.as_str(),
            &i.started_at,
            &i.submitted_at,
            &i.time_limit_seconds.map(|s| s as i64),
            &i.link_expires_at,
            &i.clock_hidden,
        ],
    )
    .await?;
    Ok(())
}

/// A session's interview, if one was stored.
pub async fn get(db: &impl Db, id: &SessionId) -> Result<Option<Interview>, StoreError> {
    let row = query_opt(
        db,
        "SELECT mode, stage, started_at, submitted_at, time_limit_seconds, link_expires_at,
           clock_hidden FROM interviews WHERE session_id = $1",
        &[&id.0],
    )
    .await?;
    row.as_ref().map(from_row).transpose()
}

fn from_row(row: &Row) -> Result<Interview, StoreError> {
    let mode: &str = row.try_get("mode")?;
    let stage: &str = row.try_get("stage")?;
    Ok(Interview {
        mode: Mode::parse(mode)
            .ok_or_else(|| StoreError::Corrupt(format!("interview mode '{mode}'")))?,
        stage: Stage::parse(stage)
            .ok_or_else(|| StoreError::Corrupt(format!("interview stage '{stage}'")))?,
        started_at: row.try_get("started_at")?,
        submitted_at: row.try_get("submitted_at")?,
        time_limit_seconds: row
            .try_get::<_, Option<i64>>("time_limit_seconds")?
            .map(|s| s.max(0) as u64),
        link_expires_at: row.try_get("link_expires_at")?,
        clock_hidden: row.try_get("clock_hidden")?,
    })
}
