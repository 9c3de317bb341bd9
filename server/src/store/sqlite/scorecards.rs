//! A session's rubric and its interviewers' scorecards (one row per author).

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::time;
use super::{json, parse};
use crate::model::SessionId;
use crate::scorecards::{AuthorId, Rubric, Scorecard, ScorecardInput, ScorecardState};
use crate::store::StoreError;

pub fn set_rubric(conn: &Connection, id: &SessionId, rubric: &Rubric) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO session_rubrics (session_id, rubric) VALUES (?1, ?2)",
        params![id, json(rubric)?],
    )?;
    Ok(())
}

pub fn rubric(conn: &Connection, id: &SessionId) -> Result<Option<Rubric>, StoreError> {
    let text: Option<String> = conn
        .query_row(
            "SELECT rubric FROM session_rubrics WHERE session_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    text.map(|t| parse(&t, "rubric")).transpose()
}

/// Writes an author's card unless their stored one is submitted; answers whether it wrote.
pub fn put(conn: &Connection, id: &SessionId, card: &Scorecard) -> Result<bool, StoreError> {
    let written = conn.execute(
        "INSERT INTO scorecards (session_id, author_id, author_name, content, state,
                                 created_at, updated_at, submitted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (session_id, author_id) DO UPDATE SET
             author_name = excluded.author_name, content = excluded.content,
             state = excluded.state, updated_at = excluded.updated_at,
             submitted_at = excluded.submitted_at
         WHERE scorecards.state = 'draft'",
        params![
            id,
            card.author_id.as_str(),
            card.author_name,
            json(&card.content())?,
            card.state.as_str(),
            card.created_at.to_rfc3339(),
            card.updated_at.to_rfc3339(),
            card.submitted_at.map(|t| t.to_rfc3339()),
        ],
    )?;
    Ok(written == 1)
}

/// A session's scorecards, oldest first.
pub fn list(conn: &Connection, id: &SessionId) -> Result<Vec<Scorecard>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT author_id, author_name, content, state, created_at, updated_at, submitted_at
         FROM scorecards WHERE session_id = ?1 ORDER BY created_at, author_id",
    )?;
    let mut rows = stmt.query([id])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let (author, state, content): (String, String, String) =
            (row.get(0)?, row.get(3)?, row.get(2)?);
        let content: ScorecardInput = parse(&content, "scorecard")?;
        out.push(Scorecard {
            author_id: AuthorId::parse(&author)
                .map_err(|e| StoreError::Corrupt(format!("scorecard author '{author}': {e}")))?,
            author_name: row.get(1)?,
            ratings: content.ratings,
            comment: content.comment,
            recommendation: content.recommendation,
            state: ScorecardState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("scorecard state '{state}'")))?,
            created_at: time(row.get(4)?)?,
            updated_at: time(row.get(5)?)?,
            submitted_at: row.get::<_, Option<String>>(6)?.map(time).transpose()?,
        });
    }
    Ok(out)
}
