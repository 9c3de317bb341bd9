//! Sessions' rows: created, their state as they live (status, container, deadline, notes,
//! files, language), read back one at a time or as lists.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use livecode_runner::path::WorkspacePath;
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{query_sessions, session_from_row};
use super::{json, json_by_path};
use crate::model::{EndReason, SessionId, Status};
use crate::store::{ListPage, SessionRecord, StoreError};

/// The statuses of a session not yet ended.
const LIVE: &str = "('creating','ready','executing','stopping')";

/// A new session.
pub fn insert(conn: &Connection, s: &SessionRecord) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sessions (id, environment, label, status, container_id, candidate_hash,
           interviewer_hash, created_at, last_activity_at, expires_at, ended_reason,
           document, version, files, initial_document, notes, base_version, created_by,
           documents, file_versions)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
           ?17, ?18, ?19, ?20)",
        params![
            s.id,
            s.environment,
            s.label,
            s.status,
            s.container_id,
            s.candidate_hash,
            s.interviewer_hash,
            s.created_at.to_rfc3339(),
            s.last_activity_at.to_rfc3339(),
            s.expires_at.to_rfc3339(),
            s.ended_reason,
            s.document,
            s.version as i64,
            json_by_path(&s.files)?,
            s.initial_document,
            s.notes,
            s.base_version as i64,
            s.created_by,
            serde_json::to_string(&s.documents).expect("a string map serializes"),
            json_by_path(&s.file_versions)?,
        ],
    )?;
    Ok(())
}

/// What changes as a session lives: status, container, last activity (and its end).
pub fn update_state(
    conn: &Connection,
    id: &SessionId,
    status: Status,
    container_id: Option<&str>,
    last_activity_at: DateTime<Utc>,
    ended_reason: Option<EndReason>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sessions SET status = ?2, container_id = ?3, last_activity_at = ?4,
           ended_reason = COALESCE(?5, ended_reason) WHERE id = ?1",
        params![
            id,
            status,
            container_id,
            last_activity_at.to_rfc3339(),
            ended_reason
        ],
    )?;
    Ok(())
}

/// A session's new hard end.
pub fn set_deadline(
    conn: &Connection,
    id: &SessionId,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sessions SET expires_at = ?2 WHERE id = ?1",
        params![id, expires_at.to_rfc3339()],
    )?;
    Ok(())
}

/// One session.
pub fn get(conn: &Connection, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
    let mut stmt = conn.prepare("SELECT * FROM sessions WHERE id = ?1")?;
    let row = stmt
        .query_row([id], |row| Ok(session_from_row(row)))
        .optional()?;
    row.transpose()
}

/// Every session not yet ended.
pub fn live(conn: &Connection) -> Result<Vec<SessionRecord>, StoreError> {
    query_sessions(
        conn,
        &format!("SELECT * FROM sessions WHERE status IN {LIVE}"),
    )
}

/// `created_by`'s live sessions, and those it created since `since`.
pub fn count(
    conn: &Connection,
    created_by: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<(u64, u64), StoreError> {
    let (live, recent): (i64, i64) = conn.query_row(
        &format!(
            "SELECT count(*) FILTER (WHERE status IN {LIVE}), \
                    count(*) FILTER (WHERE created_at >= ?2) \
             FROM sessions WHERE created_by = ?1"
        ),
        params![created_by, since.to_rfc3339()],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok((live as u64, recent as u64))
}

/// A page of sessions, newest first.
pub fn list(conn: &Connection, page: &ListPage) -> Result<Vec<SessionRecord>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT * FROM sessions WHERE (?1 IS NULL OR created_by = ?1)
         ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let mut rows = stmt.query(params![
        page.created_by,
        page.limit as i64,
        page.offset as i64
    ])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(session_from_row(row)?);
    }
    Ok(out)
}

/// The interviewers' notes.
pub fn set_notes(conn: &Connection, id: &SessionId, notes: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sessions SET notes = ?2 WHERE id = ?1 AND erased_at IS NULL",
        params![id, notes],
    )?;
    Ok(())
}

/// The workspace's other files, unless a newer write (`rev`) landed first.
pub fn set_files(
    conn: &Connection,
    id: &SessionId,
    files: &BTreeMap<WorkspacePath, String>,
    versions: &BTreeMap<WorkspacePath, u64>,
    rev: u64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sessions SET files = ?2, file_versions = ?3, files_rev = ?4
         WHERE id = ?1 AND files_rev < ?4 AND erased_at IS NULL",
        params![
            id,
            json_by_path(files)?,
            json_by_path(versions)?,
            rev as i64
        ],
    )?;
    Ok(())
}

/// A switch's language and the documents it keeps.
pub fn set_environment(
    conn: &Connection,
    id: &SessionId,
    environment: &str,
    documents: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sessions SET environment = ?2, documents = ?3 WHERE id = ?1 AND erased_at IS NULL",
        params![id, environment, json(documents)?],
    )?;
    Ok(())
}
