//! What an operator keeps in livecode whole, as jsonb: questions and templates, each in a
//! table of `(seq, id, created_at, created_by, body)`, listed newest first (by `seq`).

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::db::{execute, query, query_opt, Db};
use super::rows::{json, parse};
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
    pub async fn insert(
        &self,
        db: &impl Db,
        (id, at): (&Uuid, DateTime<Utc>),
        created_by: &str,
        body: &impl Serialize,
    ) -> Result<(), StoreError> {
        execute(
            db,
            &format!(
                "INSERT INTO {} (id, created_at, created_by, body) VALUES ($1, $2, $3, $4)",
                self.table
            ),
            &[id, &at, &created_by, &json(body)?],
        )
        .await?;
        Ok(())
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        db: &impl Db,
        id: &Uuid,
    ) -> Result<Option<T>, StoreError> {
        let sql = format!("SELECT body FROM {} WHERE id = $1", self.table);
        let row = query_opt(db, &sql, &[id]).await?;
        row.map(|row| parse(&row, "body", self.what)).transpose()
    }

    /// A page, newest first; only those `page.created_by` made when given (open mode).
    pub async fn list<T: DeserializeOwned>(
        &self,
        db: &impl Db,
        page: &ListPage,
    ) -> Result<Vec<T>, StoreError> {
        let sql = format!(
            "SELECT body FROM {} WHERE $1::text IS NULL OR created_by = $1
             ORDER BY seq DESC LIMIT $2 OFFSET $3",
            self.table
        );
        let rows = query(
            db,
            &sql,
            &[
                &page.created_by,
                &(page.limit as i64),
                &(page.offset as i64),
            ],
        )
        .await?;
        rows.iter()
            .map(|row| parse(row, "body", self.what))
            .collect()
    }
}
