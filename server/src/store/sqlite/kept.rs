//! What an operator keeps in livecode whole, as JSON: questions and templates, each in a table
//! of `(seq, id, created_at, created_by, body)`, listed newest first (by `seq`).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::{json, parse};
use crate::store::{ListPage, StoreError};

/// One such table: its name, and what a row is (for errors).
pub struct Kept {
    table: &'static str,
    what: &'static str,
}

pub const QUESTIONS: Kept = Kept {
    table: "questions",
    what: "question",
};
pub const TEMPLATES: Kept = Kept {
    table: "templates",
    what: "template",
};

impl Kept {
    pub fn insert(
        &self,
        conn: &Connection,
        (id, at): (&Uuid, DateTime<Utc>),
        created_by: &str,
        body: &impl Serialize,
    ) -> Result<(), StoreError> {
        conn.execute(
            &format!(
                "INSERT INTO {} (id, created_at, created_by, body) VALUES (?1, ?2, ?3, ?4)",
                self.table
            ),
            params![id.to_string(), at.to_rfc3339(), created_by, json(body)?],
        )?;
        Ok(())
    }

    pub fn get<T: DeserializeOwned>(
        &self,
        conn: &Connection,
        id: &Uuid,
    ) -> Result<Option<T>, StoreError> {
        let body: Option<String> = conn
            .query_row(
                &format!("SELECT body FROM {} WHERE id = ?1", self.table),
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| parse(&b, self.what)).transpose()
    }

    /// A page, newest first; only those `page.created_by` made when given (open mode).
    pub fn list<T: DeserializeOwned>(
        &self,
        conn: &Connection,
        page: &ListPage,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = conn.prepare(&format!(
            "SELECT body FROM {} WHERE ?1 IS NULL OR created_by = ?1
             ORDER BY seq DESC LIMIT ?2 OFFSET ?3",
            self.table
        ))?;
        let mut rows = stmt.query(params![
            page.created_by,
            page.limit as i64,
            page.offset as i64
        ])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let body: String = row.get(0)?;
            out.push(parse(&body, self.what)?);
        }
        Ok(out)
    }
}
