//! A session's rubric and its interviewers' scorecards (one row per author).

use super::db::{execute, query, query_opt, Db};
use super::fence::Write;
use super::rows::{json, parse, text};
use crate::model::SessionId;
use crate::scorecards::{AuthorId, Rubric, Scorecard, ScorecardInput, ScorecardState};
use crate::store::StoreError;

pub async fn set_rubric(w: &Write<'_>, id: &SessionId, rubric: &Rubric) -> Result<(), StoreError> {
    execute(
        w,
        "INSERT INTO session_rubrics (session_id, rubric) VALUES ($1, $2)
         ON CONFLICT (session_id) DO UPDATE SET rubric = EXCLUDED.rubric",
        &[&id.0, &json(rubric)?],
    )
    .await?;
    Ok(())
}

pub async fn rubric(db: &impl Db, id: &SessionId) -> Result<Option<Rubric>, StoreError> {
    let row = query_opt(
        db,
        "SELECT rubric FROM session_rubrics WHERE session_id = $1",
        &[&id.0],
    )
    .await?;
    row.map(|row| parse(&row, "rubric", "rubric")).transpose()
}

/// Writes an author's card unless their stored one is submitted; answers whether it wrote.
pub async fn put(w: &Write<'_>, id: &SessionId, card: &Scorecard) -> Result<bool, StoreError> {
    let written = execute(
        w,
        "INSERT INTO scorecards (session_id, author_id, author_name, content, state,
                                 created_at, updated_at, submitted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (session_id, author_id) DO UPDATE SET
             author_name = EXCLUDED.author_name, content = EXCLUDED.content,
             state = EXCLUDED.state, updated_at = EXCLUDED.updated_at,
             submitted_at = EXCLUDED.submitted_at
         WHERE scorecards.state = 'draft'",
        &[
            &id.0,
            &card.author_id.as_str(),
            &text(&card.author_name),
            &json(&card.content())?,
            &card.state.as_str(),
            &card.created_at,
            &card.updated_at,
            &card.submitted_at,
        ],
    )
    .await?;
    Ok(written == 1)
}

/// A session's scorecards, oldest first.
pub async fn list(db: &impl Db, id: &SessionId) -> Result<Vec<Scorecard>, StoreError> {
    let rows = query(
        db,
        "SELECT author_id, author_name, content, state, created_at, updated_at, submitted_at
         FROM scorecards WHERE session_id = $1 ORDER BY created_at, author_id",
        &[&id.0],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let (author, state): (String, String) =
                (row.try_get("author_id")?, row.try_get("state")?);
            let content: ScorecardInput = parse(row, "content", "scorecard")?;
            Ok(Scorecard {
                author_id: AuthorId::parse(&author).map_err(|e| {
                    StoreError::Corrupt(format!("scorecard author '{author}': {e}"))
                })?,
                author_name: row.try_get("author_name")?,
                ratings: content.ratings,
                comment: content.comment,
                recommendation: content.recommendation,
                state: ScorecardState::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("scorecard state '{state}'")))?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                submitted_at: row.try_get("submitted_at")?,
            })
        })
        .collect()
}
