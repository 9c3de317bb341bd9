//! How statements reach PostgreSQL: each prepared once per connection (`prepare_cached`) and
//! counted (`livecode_store_statements_total`), on a pooled connection, a transaction, or a
//! session's write (`fence::Write`).

use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::store::StoreError;

/// Statement parameters, as tokio-postgres takes them.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Where statements go: a pooled connection, a transaction, or a session's write.
pub trait Db: Send + Sync {
    type Client: GenericClient;
    fn client(&self) -> &Self::Client;
}

impl Db for deadpool_postgres::Client {
    type Client = Self;
    fn client(&self) -> &Self {
        self
    }
}

impl<'c> Db for Transaction<'c> {
    type Client = Self;
    fn client(&self) -> &Self {
        self
    }
}

/// `BEGIN`.
pub async fn begin(client: &mut deadpool_postgres::Client) -> Result<Transaction<'_>, StoreError> {
    crate::metrics::store_statement();
    Ok(client.transaction().await?)
}

/// `COMMIT`.
pub async fn commit(tx: Transaction<'_>) -> Result<(), StoreError> {
    crate::metrics::store_statement();
    Ok(tx.commit().await?)
}

/// `ROLLBACK`.
pub async fn rollback(tx: Transaction<'_>) -> Result<(), StoreError> {
    crate::metrics::store_statement();
    Ok(tx.rollback().await?)
}

/// Runs one statement; answers the rows it changed.
pub async fn execute(db: &impl Db, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
    let client = db.client();
    let statement = client.prepare_cached(sql).await?;
    crate::metrics::store_statement();
    Ok(client.execute(&statement, params).await?)
}

/// Runs one query; answers its rows.
pub async fn query(db: &impl Db, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
    let client = db.client();
    let statement = client.prepare_cached(sql).await?;
    crate::metrics::store_statement();
    Ok(client.query(&statement, params).await?)
}

/// Runs one query of at most one row.
pub async fn query_opt(
    db: &impl Db,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, StoreError> {
    let client = db.client();
    let statement = client.prepare_cached(sql).await?;
    crate::metrics::store_statement();
    Ok(client.query_opt(&statement, params).await?)
}

/// Runs one query of exactly one row.
pub async fn query_one(db: &impl Db, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
    let client = db.client();
    let statement = client.prepare_cached(sql).await?;
    crate::metrics::store_statement();
    Ok(client.query_one(&statement, params).await?)
}

/// Runs SQL text as it is (a migration, DDL): one simple query, not prepared.
pub async fn batch(db: &impl Db, sql: &str) -> Result<(), StoreError> {
    crate::metrics::store_statement();
    Ok(db.client().batch_execute(sql).await?)
}
