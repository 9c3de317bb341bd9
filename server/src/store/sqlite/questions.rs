//! Questions (kept whole, as JSON), the question a session was created with, and its test
//! runs' reports (older ones cut to their summary).

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::kept::QUESTIONS;
use super::{json, parse};
use crate::model::SessionId;
use crate::questions::{Question, TestReport};
use crate::store::{ListPage, StoreError};

/// A new question.
pub fn insert(conn: &Connection, q: &Question, created_by: &str) -> Result<(), StoreError> {
    QUESTIONS.insert(conn, (&q.question_id, q.created_at), created_by, q)
}

/// One question.
pub fn get(conn: &Connection, id: &Uuid) -> Result<Option<Question>, StoreError> {
    QUESTIONS.get(conn, id)
}

/// A page of questions, newest first.
pub fn list(conn: &Connection, page: &ListPage) -> Result<Vec<Question>, StoreError> {
    QUESTIONS.list(conn, page)
}

/// The question a session was created with.
pub fn set_for_session(
    conn: &Connection,
    id: &SessionId,
    question: &Uuid,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO session_questions (session_id, question_id) VALUES (?1, ?2)",
        params![id, question.to_string()],
    )?;
    Ok(())
}

/// The question of a session, if any.
pub fn of_session(conn: &Connection, id: &SessionId) -> Result<Option<Uuid>, StoreError> {
    let q: Option<String> = conn
        .query_row(
            "SELECT question_id FROM session_questions WHERE session_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    q.map(|q| {
        Uuid::parse_str(&q).map_err(|e| StoreError::Corrupt(format!("question id '{q}': {e}")))
    })
    .transpose()
}

/// A test run's report; the one moved out of the newest `keep_full` keeps its summary only.
pub fn insert_report(
    conn: &Connection,
    id: &SessionId,
    report: &TestReport,
    keep_full: usize,
) -> Result<(), StoreError> {
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "INSERT INTO test_runs (id, session_id, body) VALUES (?1, ?2, ?3)",
        params![report.tests_id.to_string(), id, json(report)?],
    )?;
    // Each insert moves one report out of the newest `keep_full`: that one keeps its
    // summary only, so the work per test run stays the same however many there are.
    let old: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, body FROM test_runs WHERE session_id = ?1
             ORDER BY seq DESC LIMIT 1 OFFSET ?2",
            params![id, keep_full as i64],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    if let Some((seq, body)) = old {
        let report: TestReport = parse(&body, "test report")?;
        if !report.summary_only {
            tx.execute(
                "UPDATE test_runs SET body = ?2 WHERE seq = ?1",
                params![seq, json(&report.summary())?],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// A page of a session's reports (of `question` only, when given), oldest first, and how
/// many there are.
pub fn reports(
    conn: &Connection,
    id: &SessionId,
    question: Option<Uuid>,
    limit: usize,
    offset: usize,
) -> Result<(Vec<TestReport>, usize), StoreError> {
    let question = question.map(|q| q.to_string());
    let total: i64 = conn.query_row(
        "SELECT count(*) FROM test_runs WHERE session_id = ?1
         AND (?2 IS NULL OR json_extract(body, '$.question_id') = ?2)",
        params![id, question],
        |row| row.get(0),
    )?;
    let mut stmt = conn.prepare(
        "SELECT body FROM test_runs WHERE session_id = ?1
         AND (?2 IS NULL OR json_extract(body, '$.question_id') = ?2)
         ORDER BY seq LIMIT ?3 OFFSET ?4",
    )?;
    let mut rows = stmt.query(params![id, question, limit as i64, offset as i64])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let body: String = row.get(0)?;
        out.push(parse(&body, "test report")?);
    }
    Ok((out, total as usize))
}
