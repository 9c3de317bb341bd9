//! A cluster on loopback ([`TestCluster`]): its own PostgreSQL database (in the test cluster
//! `scripts/test-postgres.sh` starts), replicas of the binary each on a [`ServerHome`] of its
//! own (its own instance label: a cell), and the real nginx in front with
//! `deploy/nginx.conf`. Replicas can be killed, stopped, continued, terminated and started
//! again; the database tells which one owns a session.

use super::{
    free_port, http_client, loopback_api, loopback_ws_url, Api, Nginx, Server, ServerHome,
    SpawnedServer,
};

/// Lease and heartbeat times short enough for failover tests to be quick.
pub const LEASE_SECONDS: &str = "2";
pub const HEARTBEAT_SECONDS: &str = "0.3";

/// A fresh database in the tests' PostgreSQL, by URL.
pub async fn new_database() -> String {
    let admin = std::env::var("LIVECODE_TEST_POSTGRES_URL").expect(
        "LIVECODE_TEST_POSTGRES_URL is not set: start a PostgreSQL for the tests with \
         eval \"$(bash scripts/test-postgres.sh start)\" (scripts/test.sh does)",
    );
    livecode::store::create_scratch_database(&admin)
        .await
        .expect("a database of the cluster's own")
}

/// Several replicas on one database, behind nginx.
pub struct TestCluster {
    pub database: String,
    pub homes: Vec<ServerHome>,
    pub replicas: Vec<Option<SpawnedServer>>,
    pub nginx: Nginx,
    front: Front,
    db: tokio_postgres::Client,
    extra: Vec<(String, String)>,
}

/// nginx, as the tests' [`Server`].
pub struct Front {
    pub port: u16,
    pub http: reqwest::Client,
}

impl Server for Front {
    fn api(&self) -> Api<'_> {
        loopback_api(&self.http, self.port)
    }

    fn ws_url(&self, session_id: &str, query: &str) -> String {
        loopback_ws_url(self.port, session_id, query)
    }
}

impl TestCluster {
    /// `n` replicas and nginx, each replica started with `extra` variables too.
    pub async fn start(n: usize, extra: &[(&str, &str)]) -> Self {
        let database = new_database().await;
        let (db, connection) = tokio_postgres::connect(&database, tokio_postgres::NoTls)
            .await
            .expect("connect to the cluster's database");
        tokio::spawn(connection);
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut cluster = Self {
            database,
            homes: (0..n).map(|_| ServerHome::new()).collect(),
            replicas: (0..n).map(|_| None).collect(),
            nginx: Nginx::start(
                &ports
                    .iter()
                    .map(|p| ([127, 0, 0, 1], *p).into())
                    .collect::<Vec<_>>(),
            ),
            front: Front {
                port: 0,
                http: http_client(),
            },
            db,
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        cluster.front.port = cluster.nginx.addr().port();
        // One at a time: the first creates the schema, the rest find it.
        for (i, port) in ports.into_iter().enumerate() {
            cluster.spawn(i, port).await;
        }
        cluster
    }

    /// Starts replica `i` on `port` (again, after a kill: a new replica of the same cell).
    pub async fn spawn(&mut self, i: usize, port: u16) {
        let listen = format!("127.0.0.1:{port}");
        let url = format!("http://{listen}");
        let mut env: Vec<(&str, &str)> = vec![
            ("LIVECODE_STORE__URL", &self.database),
            ("LIVECODE_CLUSTER__ADVERTISE_URL", &url),
            ("LIVECODE_LISTEN", &listen),
            ("LIVECODE_CLUSTER__LEASE_SECONDS", LEASE_SECONDS),
            ("LIVECODE_CLUSTER__HEARTBEAT_SECONDS", HEARTBEAT_SECONDS),
            ("LIVECODE_CLUSTER__JANITOR_SECONDS", "1"),
            ("LIVECODE_CLUSTER__DRAIN_SECONDS", "30"),
            // Behind nginx every client has nginx's address.
            ("LIVECODE_SERVER__MAX_CONNECTIONS_PER_IP", "0"),
        ];
        env.extend(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.replicas[i] = Some(self.homes[i].spawn_with(&env, None).await);
    }

    /// Starts replica `i` again on the port it had.
    pub async fn restart(&mut self, i: usize) {
        let port = self.replica(i).port;
        self.replica_mut(i).kill();
        self.spawn(i, port).await;
    }

    /// The front door: nginx.
    pub fn front(&self) -> &Front {
        &self.front
    }

    pub fn replica(&self, i: usize) -> &SpawnedServer {
        self.replicas[i].as_ref().expect("replica running")
    }

    pub fn replica_mut(&mut self, i: usize) -> &mut SpawnedServer {
        self.replicas[i].as_mut().expect("replica running")
    }

    /// Which replica (by index) holds session `id`'s lease now, if a live one does.
    pub async fn owner_of(&self, id: &str) -> Option<usize> {
        let id: uuid::Uuid = id.parse().expect("a session id");
        let row = self
            .db
            .query_opt(
                "SELECT r.url FROM session_leases l JOIN replicas r ON r.id = l.replica \
                 WHERE l.session_id = $1",
                &[&id],
            )
            .await
            .expect("query the owner")?;
        let url: String = row.get(0);
        self.replicas.iter().position(|r| {
            r.as_ref()
                .is_some_and(|r| url.ends_with(&format!(":{}", r.port)))
        })
    }

    /// The session's lease epoch now.
    pub async fn epoch_of(&self, id: &str) -> i64 {
        let id: uuid::Uuid = id.parse().expect("a session id");
        self.db
            .query_one(
                "SELECT epoch FROM session_leases WHERE session_id = $1",
                &[&id],
            )
            .await
            .expect("query the epoch")
            .get(0)
    }

    /// Every replica's log tail and nginx's, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for (i, replica) in self.replicas.iter().enumerate() {
            if let Some(r) = replica {
                out.push_str(&format!(
                    "=== replica {i} (port {})\n{}\n",
                    r.port,
                    r.log_text()
                ));
            }
        }
        out.push_str(&format!("=== nginx\n{}", self.nginx.error_log()));
        out
    }
}

/// Sends a signal to a process (SIGSTOP, SIGCONT, SIGTERM).
pub fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid}");
}
