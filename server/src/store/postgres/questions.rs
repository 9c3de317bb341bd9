//! Questions (kept whole, as jsonb), the question a session was created with, and its test
//! runs' reports (older ones cut to their summary).

use uuid::Uuid;

use super::db::{execute, query, query_one, query_opt, Db, Params};
use super::fence::Write;
use super::kept::QUESTIONS;
use super::rows::{json, parse};
use crate::model::SessionId;
use crate::questions::{Question, TestReport};
use crate::store::{ListPage, StoreError};

/// A new question.
pub async fn insert(db: &impl Db, q: &Question, created_by: &str) -> Result<(), StoreError> {
    QUESTIONS
        .insert(db, (&q.question_id, q.created_at), created_by, q)
        .await
}

/// One question.
pub async fn get(db: &impl Db, id: &Uuid) -> Result<Option<Question>, StoreError> {
    QUESTIONS.get(db, id).await
}

/// A page of questions, newest first.
pub async fn list(db: &impl Db, page: &ListPage) -> Result<Vec<Question>, StoreError> {
    QUESTIONS.list(db, page).await
}

/// The question a session was created with.
pub async fn set_for_session(
    w: &Write<'_>,
    id: &SessionId,
    question: &Uuid,
) -> Result<(), StoreError> {
    execute(
        w,
        "INSERT INTO session_questions (session_id, question_id) VALUES ($1, $2)
         ON CONFLICT (session_id) DO UPDATE SET question_id = EXCLUDED.question_id",
        &[&id.0, question],
    )
    .await?;
    Ok(())
}

/// The question of a session, if any.
pub async fn of_session(db: &impl Db, id: &SessionId) -> Result<Option<Uuid>, StoreError> {
    let row = query_opt(
        db,
        "SELECT question_id FROM session_questions WHERE session_id = $1",
        &[&id.0],
    )
    .await?;
    Ok(row.map(|row| row.try_get("question_id")).transpose()?)
}

/// A test run's report; the one moved out of the newest `keep_full` keeps its summary only.
pub async fn insert_report(
    w: &Write<'_>,
    id: &SessionId,
    report: &TestReport,
    keep_full: usize,
) -> Result<(), StoreError> {
    execute(
        w,
        "INSERT INTO test_runs (id, session_id, body) VALUES ($1, $2, $3)",
        &[&report.tests_id, &id.0, &json(report)?],
    )
    .await?;
    // Each insert moves one report out of the newest `keep_full`: that one keeps its summary
    // only, so the work per test run stays the same however many there are.
    let old = query_opt(
        w,
        "SELECT seq, body FROM test_runs WHERE session_id = $1
         ORDER BY seq DESC LIMIT 1 OFFSET $2",
        &[&id.0, &(keep_full as i64)],
    )
    .await?;
    if let Some(row) = old {
        let report: TestReport = parse(&row, "body", "test report")?;
        if !report.summary_only {
            let seq: i64 = row.try_get("seq")?;
            execute(
                w,
                "UPDATE test_runs SET body = $2 WHERE seq = $1",
                &[&seq, &json(&report.summary())?],
            )
            .await?;
        }
    }
    Ok(())
}

/// A page of a session's reports (of `question` only, when given), oldest first, and how
/// many there are.
pub async fn reports(
    db: &impl Db,
    id: &SessionId,
    question: Option<Uuid>,
    limit: usize,
    offset: usize,
) -> Result<(Vec<TestReport>, usize), StoreError> {
    let (limit, offset) = (limit as i64, offset as i64);
    let question = question.map(|q| q.to_string());
    let (session, page): (Params, Params) =
        (&[&id.0, &question], &[&id.0, &question, &limit, &offset]);
    let (total, rows) = tokio::try_join!(
        query_one(
            db,
            "SELECT count(*) AS total FROM test_runs WHERE session_id = $1
             AND ($2::text IS NULL OR body->>'question_id' = $2)",
            session,
        ),
        query(
            db,
            "SELECT body FROM test_runs WHERE session_id = $1
             AND ($2::text IS NULL OR body->>'question_id' = $2)
             ORDER BY seq LIMIT $3 OFFSET $4",
            page,
        ),
    )?;
    let reports = rows
        .iter()
        .map(|row| parse(row, "body", "test report"))
        .collect::<Result<_, _>>()?;
    let total: i64 = total.try_get("total")?;
    Ok((reports, total as usize))
}
