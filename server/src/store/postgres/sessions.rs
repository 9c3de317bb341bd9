//! Sessions' rows: created, their state as they live (status, container, deadline, notes,
//! files, language), read back one at a time or as lists.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use livecode_runner::path::WorkspacePath;

use super::db::{execute, query, query_one, query_opt, Db};
use super::fence::Write;
use super::rows::{json, json_by_path, session_columns, session_from_row, text};
use crate::model::{EndReason, SessionId, Status};
use crate::store::{ListPage, SessionRecord, StoreError};

/// A new session.
pub async fn insert(w: &Write<'_>, s: &SessionRecord) -> Result<(), StoreError> {
    execute(
        w,
        "INSERT INTO sessions (id, environment, label, status, container_id, candidate_hash,
           interviewer_hash, created_at, last_activity_at, expires_at, ended_reason,
           document, version, files, initial_document, notes, base_version, created_by,
           documents, file_versions)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
           $18, $19, $20)",
        &[
            &s.id.0,
            &s.environment,
            &s.label.as_deref().map(text),
            &s.status.as_str(),
            &s.container_id,
            &s.candidate_hash,
            &s.interviewer_hash,
            &s.created_at,
            &s.last_activity_at,
            &s.expires_at,
            &s.ended_reason.map(EndReason::as_str),
            &text(&s.document),
            &(s.version as i64),
            &json_by_path(&s.files)?,
            &text(&s.initial_document),
            &text(&s.notes),
            &(s.base_version as i64),
            &s.created_by,
            &json(&s.documents)?,
            &json_by_path(&s.file_versions)?,
        ],
    )
    .await?;
    Ok(())
}

/// What changes as a session lives: status, container, last activity (and its end).
pub async fn update_state(
    w: &Write<'_>,
    id: &SessionId,
    status: Status,
    container_id: Option<&str>,
    last_activity_at: DateTime<Utc>,
    ended_reason: Option<EndReason>,
) -> Result<(), StoreError> {
    execute(
        w,
        "UPDATE sessions SET status = $2, container_id = $3, last_activity_at = $4,
           ended_reason = COALESCE($5, ended_reason) WHERE id = $1",
        &[
            &id.0,
            &status.as_str(),
            &container_id,
            &last_activity_at,
            &ended_reason.map(EndReason::as_str),
        ],
    )
    .await?;
    Ok(())
}

/// A session's new hard end.
pub async fn set_deadline(
    w: &Write<'_>,
    id: &SessionId,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    execute(
        w,
        "UPDATE sessions SET expires_at = $2 WHERE id = $1",
        &[&id.0, &expires_at],
    )
    .await?;
    Ok(())
}

/// One session.
pub async fn get(db: &impl Db, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
    let row = query_opt(
        db,
        concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1"
        ),
        &[&id.0],
    )
    .await?;
    row.as_ref().map(session_from_row).transpose()
}

/// Every session not yet ended.
/// `created_by`'s live sessions, and those it created since `since`.
pub async fn count(
    db: &impl Db,
    created_by: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<(u64, u64), StoreError> {
    let row = query_one(
        db,
        "SELECT count(*) FILTER (WHERE status IN ('creating', 'ready', 'executing', 'stopping')) AS live, \
                count(*) FILTER (WHERE created_at >= $2) AS recent \
         FROM sessions WHERE created_by = $1",
        &[&created_by, &since],
    )
    .await?;
    let (live, recent): (i64, i64) = (row.try_get("live")?, row.try_get("recent")?);
    Ok((live as u64, recent as u64))
}

pub async fn live(db: &impl Db) -> Result<Vec<SessionRecord>, StoreError> {
    let rows = query(
        db,
        concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE status IN ('creating', 'ready', 'executing', 'stopping')"
        ),
        &[],
    )
    .await?;
    rows.iter().map(session_from_row).collect()
}

/// A page of sessions, newest first.
pub async fn list(db: &impl Db, page: &ListPage) -> Result<Vec<SessionRecord>, StoreError> {
    let rows = query(
        db,
        concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE ($1::text IS NULL OR created_by = $1)
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ),
        &[
            &page.created_by,
            &(page.limit as i64),
            &(page.offset as i64),
        ],
    )
    .await?;
    rows.iter().map(session_from_row).collect()
}

/// The interviewers' notes.
pub async fn set_notes(w: &Write<'_>, id: &SessionId, notes: &str) -> Result<(), StoreError> {
    execute(
        w,
        "UPDATE sessions SET notes = $2 WHERE id = $1 AND erased_at IS NULL",
        &[&id.0, &text(notes)],
    )
    .await?;
    Ok(())
}

/// The workspace's other files, unless a newer write (`rev`) landed first.
pub async fn set_files(
    w: &Write<'_>,
    id: &SessionId,
    files: &BTreeMap<WorkspacePath, String>,
    versions: &BTreeMap<WorkspacePath, u64>,
    rev: u64,
) -> Result<(), StoreError> {
    execute(
        w,
        "UPDATE sessions SET files = $2, file_versions = $3, files_rev = $4
         WHERE id = $1 AND files_rev < $4 AND erased_at IS NULL",
        &[
            &id.0,
            &json_by_path(files)?,
            &json_by_path(versions)?,
            &(rev as i64),
        ],
    )
    .await?;
    Ok(())
}

/// A switch's language and the documents it keeps.
pub async fn set_environment(
    w: &Write<'_>,
    id: &SessionId,
    environment: &str,
    documents: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    execute(
        w,
        "UPDATE sessions SET environment = $2, documents = $3 WHERE id = $1 AND erased_at IS NULL",
        &[&id.0, &environment, &json(documents)?],
    )
    .await?;
    Ok(())
}
