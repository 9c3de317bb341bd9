//! Templates (kept whole, as jsonb), and a templated session's way through its template,
//! stored with its current question in the one write.

use uuid::Uuid;

use super::db::{execute, query_opt, Db};
use super::fence::Write;
use super::kept::TEMPLATES;
use super::rows::{json, parse};
use crate::model::SessionId;
use crate::store::{ListPage, StoreError};
use crate::templates::{Progress, Template};

/// A new template.
pub async fn insert(db: &impl Db, t: &Template, created_by: &str) -> Result<(), StoreError> {
    TEMPLATES
        .insert(db, (&t.template_id, t.created_at), created_by, t)
        .await
}

/// One template.
pub async fn get(db: &impl Db, id: &Uuid) -> Result<Option<Template>, StoreError> {
    TEMPLATES.get(db, id).await
}

/// A page of templates, newest first.
pub async fn list(db: &impl Db, page: &ListPage) -> Result<Vec<Template>, StoreError> {
    TEMPLATES.list(db, page).await
}

/// The session's way through its template, and its current question with it.
pub async fn set_progress(w: &Write<'_>, id: &SessionId, p: &Progress) -> Result<(), StoreError> {
    execute(
        w,
        "INSERT INTO session_templates (session_id, body) VALUES ($1, $2)
         ON CONFLICT (session_id) DO UPDATE SET body = EXCLUDED.body",
        &[&id.0, &json(p)?],
    )
    .await?;
    super::questions::set_for_session(w, id, &p.current_step().question_id).await
}

/// A templated session's way through its template.
pub async fn progress(db: &impl Db, id: &SessionId) -> Result<Option<Progress>, StoreError> {
    let row = query_opt(
        db,
        "SELECT body FROM session_templates WHERE session_id = $1",
        &[&id.0],
    )
    .await?;
    row.map(|row| parse(&row, "body", "session template"))
        .transpose()
}
