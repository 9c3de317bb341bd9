//! Versioned migrations: `migrations/NNNN_*.sql` in order, each applied in a transaction of
//! its own and recorded in `schema_migrations`. Replicas starting at once take turns under a
//! transaction-scoped advisory lock (fine for this one-off at start-up; leases are rows, not
//! advisory locks). A database migrated by a newer livecode is refused.

use super::db::{self, begin, commit, execute, query_one};
use crate::store::StoreError;

/// Migrations in order; version N is `MIGRATIONS[N - 1]`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_schema.sql"),
    include_str!("migrations/0002_outbox.sql"),
    include_str!("migrations/0003_templates.sql"),
    include_str!("migrations/0004_clock.sql"),
    include_str!("migrations/0005_scorecards.sql"),
    include_str!("migrations/0006_erasure.sql"),
];

/// The advisory lock replicas migrate under: "livecode" in ASCII.
const MIGRATION_LOCK: i64 = 0x6c69_7665_636f_6465;

/// Brings the database up to the newest schema.
pub async fn run(client: &mut deadpool_postgres::Client) -> Result<(), StoreError> {
    while apply_next(client).await? {}
    Ok(())
}

/// Applies the first migration the database lacks; false when it lacks none.
async fn apply_next(client: &mut deadpool_postgres::Client) -> Result<bool, StoreError> {
    let tx = begin(client).await?;
    execute(&tx, "SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    db::batch(
        &tx,
        // Quiet: the table is there at every start but the first.
        "SET LOCAL client_min_messages = warning;
         CREATE TABLE IF NOT EXISTS schema_migrations (
            version     int PRIMARY KEY,
            applied_at  timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let done: i32 = query_one(
        &tx,
        "SELECT coalesce(max(version), 0) AS done FROM schema_migrations",
        &[],
    )
    .await?
    .try_get("done")?;
    let done = done as usize;
    if done > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {done}; this livecode knows up to {}",
            MIGRATIONS.len()
        )));
    }
    let Some(sql) = MIGRATIONS.get(done) else {
        commit(tx).await?;
        return Ok(false);
    };
    db::batch(&tx, sql).await?;
    execute(
        &tx,
        "INSERT INTO schema_migrations (version) VALUES ($1)",
        &[&(done as i32 + 1)],
    )
    .await?;
    commit(tx).await?;
    Ok(true)
}
