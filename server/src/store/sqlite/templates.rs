//! Templates (kept whole, as JSON), and a templated session's way through its template,
//! stored with its current question in one transaction.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::kept::TEMPLATES;
use super::{json, parse};
use crate::model::SessionId;
use crate::store::{ListPage, StoreError};
use crate::templates::{Progress, Template};

/// A new template.
pub fn insert(conn: &Connection, t: &Template, created_by: &str) -> Result<(), StoreError> {
    TEMPLATES.insert(conn, (&t.template_id, t.created_at), created_by, t)
}

/// One template.
pub fn get(conn: &Connection, id: &Uuid) -> Result<Option<Template>, StoreError> {
    TEMPLATES.get(conn, id)
}

/// A page of templates, newest first.
pub fn list(conn: &Connection, page: &ListPage) -> Result<Vec<Template>, StoreError> {
    TEMPLATES.list(conn, page)
}

/// The session's way through its template, and its current question with it.
pub fn set_progress(conn: &Connection, id: &SessionId, p: &Progress) -> Result<(), StoreError> {
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "INSERT OR REPLACE INTO session_templates (session_id, body) VALUES (?1, ?2)",
        params![id, json(p)?],
    )?;
    super::questions::set_for_session(&tx, id, &p.current_step().question_id)?;
    tx.commit()?;
    Ok(())
}

/// A templated session's way through its template.
pub fn progress(conn: &Connection, id: &SessionId) -> Result<Option<Progress>, StoreError> {
    let body: Option<String> = conn
        .query_row(
            "SELECT body FROM session_templates WHERE session_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    body.map(|b| parse(&b, "session template")).transpose()
}
