//! Connecting: the pool and its timeouts, the schema brought up to date at start, a store
//! URL's target for logs, and a scratch database of its own for each test or benchmark.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use uuid::Uuid;

use super::{migrate, PgStore};
use crate::store::StoreError;

/// How long a write waits for a row another transaction holds, as SQLite's busy timeout.
const LOCK_TIMEOUT: &str = "5s";
/// How long connecting, and waiting for a pooled connection, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl PgStore {
    /// Connects with a pool of up to `pool_size` connections and brings the schema up to date.
    pub async fn connect(url: &str, pool_size: usize) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)?;
        // A transaction left open by a stopped process (SIGSTOP) holds its lease row for
        // share; the server ends it, so a takeover waits seconds, not forever.
        let options = format!(
            "-c lock_timeout={LOCK_TIMEOUT} -c idle_in_transaction_session_timeout={LOCK_TIMEOUT}"
        );
        let options = match config.get_options() {
            Some(theirs) => format!("{theirs} {options}"),
            None => options,
        };
        config.options(options);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("livecode");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .expect("a pool with a runtime for its timeouts builds");
        migrate::run(&mut pool.get().await?).await?;
        Ok(Self { pool, leases: None })
    }

    /// `host:port/database` of a store URL, for logs and messages (never its password).
    pub fn target(url: &str) -> String {
        let Ok(config) = tokio_postgres::Config::from_str(url) else {
            return "an unreadable URL".into();
        };
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
            .map(|(host, port)| match host {
                tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                tokio_postgres::config::Host::Unix(dir) => dir.display().to_string(),
            })
            .collect();
        let database = config.get_dbname().or(config.get_user()).unwrap_or("");
        format!("{}/{database}", hosts.join(","))
    }
}

/// Makes an empty database beside the one `server_url` names (whose user may create
/// databases) and answers its URL: a database of its own for each test or benchmark.
pub async fn create_scratch_database(server_url: &str) -> Result<String, StoreError> {
    let (client, connection) = tokio_postgres::connect(server_url, NoTls).await?;
    let connection = tokio::spawn(connection);
    let name = format!("lc_{}", Uuid::new_v4().simple());
    crate::metrics::store_statement();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    drop(client);
    let _ = connection.await;
    Ok(with_database(server_url, &name))
}

/// `url` naming database `name` instead (its query kept).
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, format!("?{query}")),
        None => (rest, String::new()),
    };
    let authority = rest
        .split_once('/')
        .map_or(rest, |(authority, _)| authority);
    format!("{scheme}://{authority}/{name}{query}")
}
