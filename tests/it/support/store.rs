//! Which store the servers keep their sessions in: `LIVECODE_IT_STORE=sqlite` (the default, a
//! file in each server's data dir) or `postgres` (a database of its own for each server or
//! home, in the cluster `LIVECODE_TEST_POSTGRES_URL` names); and [`StoreDb`], that database
//! opened beside a server, as another process (or a crash) would touch it.

use std::path::Path;
use std::time::{Duration, Instant};

/// A new database for one server or home when the suite runs on PostgreSQL; `None` on SQLite.
pub async fn test_store_url() -> Option<String> {
    match std::env::var("LIVECODE_IT_STORE").as_deref() {
        Err(_) | Ok("sqlite") => None,
        Ok("postgres") => {
            let cluster = std::env::var("LIVECODE_TEST_POSTGRES_URL").unwrap_or_else(|_| {
                panic!(
                    "LIVECODE_IT_STORE=postgres needs LIVECODE_TEST_POSTGRES_URL: run \
                     `eval \"$(bash scripts/test-postgres.sh start)\"` first"
                )
            });
            let url = livecode::store::create_scratch_database(&cluster)
                .await
                .unwrap_or_else(|e| panic!("a database for the test in {cluster}: {e}"));
            Some(url)
        }
        Ok(other) => panic!("LIVECODE_IT_STORE is '{other}': 'sqlite' or 'postgres'"),
    }
}

/// A server's database, opened beside it. SQL written for both stores: literals rather than
/// parameters (PostgreSQL reads a quoted id as a uuid, SQLite as the text it keeps).
pub enum StoreDb {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl StoreDb {
    /// The database at `url`, or SQLite's file in `data_dir` when `url` is empty.
    pub async fn open(data_dir: &Path, url: &str) -> Self {
        if url.is_empty() {
            let file = data_dir.join("livecode.db");
            return Self::Sqlite(rusqlite::Connection::open(file).expect("open the store"));
        }
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect to the store");
        tokio::spawn(connection);
        Self::Postgres(client)
    }

    /// Runs one statement; answers the rows it changed.
    pub async fn execute(&self, sql: &str) -> u64 {
        match self {
            Self::Sqlite(db) => db.execute(sql, []).expect(sql) as u64,
            Self::Postgres(db) => db.execute(sql, &[]).await.expect(sql),
        }
    }

    /// The first column of the first row, as text (`None` when there is no row).
    pub async fn value(&self, sql: &str) -> Option<String> {
        match self {
            Self::Sqlite(db) => {
                let mut statement = db.prepare(sql).expect(sql);
                let mut rows = statement.query([]).expect(sql);
                let row = rows.next().expect(sql)?;
                let value: rusqlite::types::Value = row.get(0).expect(sql);
                Some(match value {
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => panic!("{sql}: {other:?}"),
                })
            }
            Self::Postgres(db) => {
                let rows = db.simple_query(sql).await.expect(sql);
                rows.into_iter().find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => {
                        Some(row.get(0).expect("a value").to_string())
                    }
                    _ => None,
                })
            }
        }
    }

    /// Polls [`value`](Self::value) every 100 ms until `cond` holds of it or `wait` passes;
    /// answers whether it held.
    pub async fn wait_for(
        &self,
        sql: &str,
        wait: Duration,
        cond: impl Fn(Option<&str>) -> bool,
    ) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            if cond(self.value(sql).await.as_deref()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Holds what another writer would: the server's writes of sessions wait for it, then
    /// fail after the store's timeout (SQLite's busy timeout, PostgreSQL's lock_timeout),
    /// until [`unlock`](Self::unlock).
    pub async fn lock(&self) {
        match self {
            Self::Sqlite(db) => db.execute_batch("BEGIN EXCLUSIVE").expect("lock"),
            Self::Postgres(db) => db
                .batch_execute("BEGIN; LOCK TABLE sessions IN EXCLUSIVE MODE")
                .await
                .expect("lock"),
        }
    }

    pub async fn unlock(&self) {
        match self {
            Self::Sqlite(db) => db.execute_batch("ROLLBACK").expect("unlock"),
            Self::Postgres(db) => db.batch_execute("ROLLBACK").await.expect("unlock"),
        }
    }
}
