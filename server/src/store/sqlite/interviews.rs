//! Interviews' rows: a session's stage, mode and the stored times of its clock.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::rows::time;
use crate::interview::{Interview, Mode, Stage};
use crate::model::SessionId;
use crate::store::StoreError;

/// Writes a session's interview whole (made, started, opened, submitted, clock hidden).
pub fn put(conn: &Connection, id: &SessionId, i: &Interview) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO interviews (session_id, mode, stage, started_at, submitted_at,
           time_limit_seconds, link_expires_at, clock_hidden)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (session_id) DO UPDATE SET mode = ?2, stage = ?3, started_at = ?4,
           submitted_at = ?5, time_limit_seconds = ?6, link_expires_at = ?7, clock_hidden = ?8",
        params![
            id,
            i.mode.as_str(),
            i.stage.as_str(),
            i.started_at.map(|t| t.to_rfc3339()),
            i.submitted_at.map(|t| t.to_rfc3339()),
            i.time_limit_seconds.map(|s| s as i64),
            i.link_expires_at.map(|t| t.to_rfc3339()),
            i.clock_hidden,
        ],
    )?;
    Ok(())
}

/// A session's interview, if one was stored.
pub fn get(conn: &Connection, id: &SessionId) -> Result<Option<Interview>, StoreError> {
    let row = conn
        .query_row(
            "SELECT mode, stage, started_at, submitted_at, time_limit_seconds,
               link_expires_at, clock_hidden FROM interviews WHERE session_id = ?1",
            [id],
            |row| Ok(from_row(row)),
        )
        .optional()?;
    row.transpose()
}

fn from_row(row: &Row) -> Result<Interview, StoreError> {
    let named = |column: usize| -> Result<String, StoreError> { Ok(row.get(column)?) };
    let at = |column: usize| -> Result<_, StoreError> {
        row.get::<_, Option<String>>(column)?.map(time).transpose()
    };
    let (mode, stage) = (named(0)?, named(1)?);
    Ok(Interview {
        mode: Mode::parse(&mode)
            .ok_or_else(|| StoreError::Corrupt(format!("interview mode '{mode}'")))?,
        stage: Stage::parse(&stage)
            .ok_or_else(|| StoreError::Corrupt(format!("interview stage '{stage}'")))?,
        started_at: at(2)?,
        submitted_at: at(3)?,
        time_limit_seconds: row.get::<_, Option<i64>>(4)?.map(|s| s.max(0) as u64),
        link_expires_at: at(5)?,
        clock_hidden: row.get(6)?,
    })
}
