//! Rows to records and back: ids are `uuid`, times `timestamptz`, counts `bigint`, statuses
//! and roles the text of their names, JSON `jsonb`. A value that does not read back is a
//! corrupt row, said once here.
//!
//! PostgreSQL's text (and jsonb's strings) cannot hold NUL, which a program's output or a
//! pasted document may: the store keeps U+FFFD in its place, one UTF-16 unit as NUL is, so
//! positions in a document hold.

use std::borrow::Cow;
use std::collections::BTreeMap;

use livecode_runner::path::WorkspacePath;
use serde_json::Value;
use tokio_postgres::types::Json;
use tokio_postgres::Row;

use crate::auth::Role;
use crate::model::{EndReason, RunResult, RunStatus, RunSummary, SessionId, Status};
use crate::store::{RunRecord, SessionRecord, StoreError};

/// The columns [`session_from_row`] reads. Queries name their columns, never `*`: a cached
/// plan of `*` fails on a replica still running when a later migration adds a column.
macro_rules! session_columns {
    () => {
        "id, environment, label, status, container_id, candidate_hash, interviewer_hash,
         created_at, last_activity_at, expires_at, ended_reason, initial_document,
         base_version, created_by, document, version, notes, files, documents, file_versions,
         erased_at"
    };
}
pub(super) use session_columns;

/// The columns [`run_from_row`] reads.
macro_rules! run_columns {
    () => {
        "id, session_id, by_role, started_at, code, finished_at, status, exit_code,
         duration_ms, build_ms, build_cached, truncated, stdout, stderr"
    };
}
pub(super) use run_columns;

/// `text` as PostgreSQL can keep it.
pub fn text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A value as jsonb can keep it (see [`text`]).
pub fn json<T: serde::Serialize>(value: &T) -> Result<Value, StoreError> {
    let mut value = serde_json::to_value(value)
        .map_err(|e| StoreError::Corrupt(format!("unserializable: {e}")))?;
    without_nul(&mut value);
    Ok(value)
}

fn without_nul(value: &mut Value) {
    match value {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{fffd}"),
        Value::Array(items) => items.iter_mut().for_each(without_nul),
        Value::Object(map) if map.keys().any(|k| k.contains('\0')) => {
            let entries = std::mem::take(map).into_iter();
            *map = entries
                .map(|(k, mut v)| {
                    without_nul(&mut v);
                    (text(&k).into_owned(), v)
                })
                .collect();
        }
        Value::Object(map) => map.values_mut().for_each(without_nul),
        _ => {}
    }
}

/// A map by workspace path, kept as an object by the paths' text.
pub fn json_by_path<V: serde::Serialize>(
    map: &BTreeMap<WorkspacePath, V>,
) -> Result<Value, StoreError> {
    json(
        &map.iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// A jsonb column read back as `T`.
pub fn parse<T: serde::de::DeserializeOwned>(
    row: &Row,
    column: &str,
    what: &str,
) -> Result<T, StoreError> {
    let value: Value = row.try_get(column)?;
    serde_json::from_value(value).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// An object by file name, its names parsed back into workspace paths.
fn by_path<V: serde::de::DeserializeOwned>(
    row: &Row,
    column: &str,
) -> Result<BTreeMap<WorkspacePath, V>, StoreError> {
    let Json(by_name): Json<BTreeMap<String, V>> = row.try_get(column)?;
    by_name
        .into_iter()
        .map(|(name, v)| {
            let path = WorkspacePath::parse(&name)
                .map_err(|e| StoreError::Corrupt(format!("file name: {e}")))?;
            Ok((path, v))
        })
        .collect()
}

/// A value kept as the text of its name.
fn named<T>(row: &Row, column: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    let name: &str = row.try_get(column)?;
    parse(name).ok_or_else(|| StoreError::Corrupt(format!("{column}: no value named '{name}'")))
}

fn named_opt<T>(
    row: &Row,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    let name: Option<&str> = row.try_get(column)?;
    name.map(|name| {
        parse(name).ok_or_else(|| StoreError::Corrupt(format!("{column}: no value named '{name}'")))
    })
    .transpose()
}

/// A count kept as `bigint`.
pub fn count(row: &Row, column: &str) -> Result<u64, StoreError> {
    let n: i64 = row.try_get(column)?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{column}: {n} is negative")))
}

pub fn session_from_row(row: &Row) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: SessionId(row.try_get("id")?),
        environment: row.try_get("environment")?,
        label: row.try_get("label")?,
        status: named(row, "status", Status::parse)?,
        container_id: row.try_get("container_id")?,
        candidate_hash: row.try_get("candidate_hash")?,
        interviewer_hash: row.try_get("interviewer_hash")?,
        created_at: row.try_get("created_at")?,
        last_activity_at: row.try_get("last_activity_at")?,
        expires_at: row.try_get("expires_at")?,
        ended_reason: named_opt(row, "ended_reason", EndReason::parse)?,
        initial_document: row.try_get("initial_document")?,
        base_version: count(row, "base_version")?,
        created_by: row.try_get("created_by")?,
        document: row.try_get("document")?,
        version: count(row, "version")?,
        notes: row.try_get("notes")?,
        files: by_path(row, "files")?,
        documents: parse(row, "documents", "documents")?,
        file_versions: by_path(row, "file_versions")?,
        erased_at: row.try_get("erased_at")?,
    })
}

pub fn run_from_row(row: &Row) -> Result<RunRecord, StoreError> {
    let by_role = named(row, "by_role", Role::parse)?;
    let result = match summary_from_row(row)? {
        Some(summary) => Some(RunResult {
            by: by_role,
            summary,
            stdout: row.try_get("stdout")?,
            stderr: row.try_get("stderr")?,
        }),
        None => None,
    };
    Ok(RunRecord {
        id: row.try_get("id")?,
        session_id: SessionId(row.try_get("session_id")?),
        by_role,
        started_at: row.try_get("started_at")?,
        code: row.try_get("code")?,
        result,
    })
}

/// How a run ended, once it has (`finished_at` and `status` are written together).
pub fn summary_from_row(row: &Row) -> Result<Option<RunSummary>, StoreError> {
    let (Some(finished_at), Some(status)) = (
        row.try_get("finished_at")?,
        named_opt(row, "status", RunStatus::parse)?,
    ) else {
        return Ok(None);
    };
    let millis = |column| -> Result<Option<u64>, StoreError> {
        let ms: Option<i64> = row.try_get(column)?;
        Ok(ms.map(|ms| ms.max(0) as u64))
    };
    Ok(Some(RunSummary {
        run_id: row.try_get("id")?,
        status,
        exit_code: row.try_get("exit_code")?,
        // None for a run a crash cut short: how long it ran is not known.
        duration_ms: millis("duration_ms")?.unwrap_or(0),
        build_ms: millis("build_ms")?,
        build_cached: row.try_get("build_cached")?,
        truncated: row.try_get("truncated")?,
        started_at: row.try_get("started_at")?,
        finished_at,
    }))
}
