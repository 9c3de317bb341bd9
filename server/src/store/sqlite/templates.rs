//! Templates (kept whole, as JSON), and a templated session's way through its template,
//! stored with its current question in one transaction.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::{json, parse};
use crate::model::SessionId;
use crate::store::{ListPage, StoreError};
use crate::templates::{Progress, Template};

/// A new template.
pub fn insert(conn: &Connection, t: &Template, created_by: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO templates (id, created_at, created_by, body) VALUES (?1, ?2, ?3, ?4)",
        params![
            t.template_id.to_string(),
            t.created_at.to_rfc3339(),
            created_by,
            json(t)?
        ],
    )?;
    Ok(())
}

/// One template.
pub fn get(conn: &Connection, id: &Uuid) -> Result<Option<Template>, StoreError> {
    let body: Option<String> = conn
        .query_row(
            "SELECT body FROM templates WHERE id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    body.map(|b| parse(&b, "template")).transpose()
}

/// A page of templates, newest first.
pub fn list(conn: &Connection, page: &ListPage) -> Result<Vec<Template>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT body FROM templates WHERE ?1 IS NULL OR created_by = ?1
         ORDER BY seq DESC LIMIT ?2 OFFSET ?3",
    )?;
    let mut rows = stmt.query(params![
        page.created_by,
        page.limit as i64,
        page.offset as i64
    ])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let body: String = row.get(0)?;
        out.push(parse(&body, "template")?);
    }
    Ok(out)
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
