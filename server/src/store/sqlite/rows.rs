//! Rows to records and back: how each typed value of a record is kept in a column. Ids are
//! their text form, statuses and roles their names, times RFC 3339; a value that does not read
//! back is a corrupt row, said once here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use livecode_runner::path::WorkspacePath;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, Row};

use crate::auth::Role;
use crate::model::{EndReason, RunResult, RunStatus, RunSummary, SessionId, Status};
use crate::store::{RunRecord, SessionRecord, StoreError};

/// A value kept as the text of its name.
macro_rules! named_text {
    ($ty:ty) => {
        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $ty {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                <$ty>::parse(text).ok_or_else(|| {
                    FromSqlError::Other(format!("no {} named '{text}'", stringify!($ty)).into())
                })
            }
        }
    };
}

named_text!(Status);
named_text!(RunStatus);
named_text!(EndReason);
named_text!(Role);

impl ToSql for SessionId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for SessionId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e: uuid::Error| FromSqlError::Other(Box::new(e)))
    }
}

pub fn time(s: String) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time '{s}': {e}")))
}

/// A JSON object by file name, its names parsed back into workspace paths.
fn by_path<V: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<BTreeMap<WorkspacePath, V>, StoreError> {
    let by_name: BTreeMap<String, V> =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    by_name
        .into_iter()
        .map(|(name, v)| {
            let path = WorkspacePath::parse(&name)
                .map_err(|e| StoreError::Corrupt(format!("file name: {e}")))?;
            Ok((path, v))
        })
        .collect()
}

pub fn session_from_row(row: &Row<'_>) -> Result<SessionRecord, StoreError> {
    let files: String = row.get("files")?;
    let documents: String = row.get("documents")?;
    let file_versions: String = row.get("file_versions")?;
    Ok(SessionRecord {
        id: row.get("id")?,
        environment: row.get("environment")?,
        label: row.get("label")?,
        status: row.get("status")?,
        container_id: row.get("container_id")?,
        candidate_hash: row.get("candidate_hash")?,
        interviewer_hash: row.get("interviewer_hash")?,
        created_at: time(row.get("created_at")?)?,
        last_activity_at: time(row.get("last_activity_at")?)?,
        expires_at: time(row.get("expires_at")?)?,
        ended_reason: row.get("ended_reason")?,
        initial_document: row.get("initial_document")?,
        base_version: row.get::<_, i64>("base_version")? as u64,
        created_by: row.get("created_by")?,
        document: row.get("document")?,
        version: row.get::<_, i64>("version")? as u64,
        notes: row.get("notes")?,
        files: by_path(&files)?,
        documents: serde_json::from_str(&documents)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        file_versions: by_path(&file_versions)?,
        erased_at: row
            .get::<_, Option<String>>("erased_at")?
            .map(time)
            .transpose()?,
    })
}

pub fn run_from_row(row: &Row<'_>) -> Result<RunRecord, StoreError> {
    let by_role = row.get("by_role")?;
    let result = match summary_from_row(row)? {
        Some(summary) => Some(RunResult {
            by: by_role,
            summary,
            stdout: row.get("stdout")?,
            stderr: row.get("stderr")?,
        }),
        None => None,
    };
    Ok(RunRecord {
        id: run_id(row)?,
        session_id: row.get("session_id")?,
        by_role,
        started_at: time(row.get("started_at")?)?,
        code: row.get("code")?,
        result,
    })
}

/// How a run ended, once it has (`finished_at` and `status` are written together).
pub fn summary_from_row(row: &Row<'_>) -> Result<Option<RunSummary>, StoreError> {
    let finished_at: Option<String> = row.get("finished_at")?;
    let (Some(finished_at), Some(status)) = (finished_at, row.get("status")?) else {
        return Ok(None);
    };
    Ok(Some(RunSummary {
        run_id: run_id(row)?,
        status,
        exit_code: row.get("exit_code")?,
        // None for a run a crash cut short: how long it ran is not known.
        duration_ms: row.get::<_, Option<i64>>("duration_ms")?.unwrap_or(0) as u64,
        build_ms: row.get::<_, Option<i64>>("build_ms")?.map(|d| d as u64),
        build_cached: row.get("build_cached")?,
        truncated: row.get("truncated")?,
        started_at: time(row.get("started_at")?)?,
        finished_at: time(finished_at)?,
    }))
}

fn run_id(row: &Row<'_>) -> Result<uuid::Uuid, StoreError> {
    let id: String = row.get("id")?;
    uuid::Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("run id '{id}': {e}")))
}

pub fn query_sessions(conn: &Connection, sql: &str) -> Result<Vec<SessionRecord>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(session_from_row(row)?);
    }
    Ok(out)
}
