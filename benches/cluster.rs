//! Cluster benchmark: replicas of the release binary on one PostgreSQL (the tests' cluster,
//! `LIVECODE_TEST_POSTGRES_URL`; `eval "$(bash scripts/test-postgres.sh start)"`), nginx in
//! front, each figure beside its baseline measured in the same run. Prints figures, asserts
//! nothing. Run with `cargo bench --bench cluster`.
//!
//! - run → first output byte through a non-owner (relayed) against through the owner;
//! - typing echo (an update to its own `updates`) on a cluster, stored before it is told,
//!   against a single server on SQLite;
//! - failover: `kill -9` of the owner to every socket `ready` on a new owner, 20 trials;
//! - sessions created per second through nginx with three replicas against one;
//! - PostgreSQL statements per run and per typed character (the owner's
//!   `livecode_store_statements_total`).
//!
//! `LIVECODE_BENCH_ONLY=<part of a section name>` runs only the sections whose name has it
//! (forward, typing, failover, create, statements).

mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use support::{
    ms, next_of_type_within, send, start_server, Server, Session, Stats, TestCluster, WsStream,
};

const ROUNDS: usize = 40;
const KEYS: usize = 200;
const TRIALS: usize = 20;

/// The next message of type `ty`, within a minute (a failover may take the lease's time).
async fn next(ws: &mut WsStream, ty: &str) -> Value {
    next_of_type_within(ws, ty, Duration::from_secs(60)).await
}

/// Runs the document; answers the time to its first output.
async fn first_byte(ws: &mut WsStream) -> Duration {
    let sent = Instant::now();
    send(ws, json!({"type": "run"})).await;
    next(ws, "output").await;
    let first = sent.elapsed();
    next(ws, "run_finished").await;
    first
}

/// Types `n` characters one update at a time, each after the echo of the last; answers each
/// echo's time.
async fn type_chars(ws: &mut WsStream, mut version: u64, mut len: u64, n: usize) -> Vec<Duration> {
    let mut out = Vec::new();
    for _ in 0..n {
        // CodeMirror's canonical form: no empty retain before the insertion.
        let changes = match len {
            0 => json!([[0, "x"]]),
            n => json!([n, [0, "x"]]),
        };
        let sent = Instant::now();
        send(
            ws,
            json!({"type": "update", "version": version,
                   "updates": [{"client_id": "bench", "changes": changes}]}),
        )
        .await;
        next(ws, "updates").await;
        out.push(sent.elapsed());
        version += 1;
        len += 1;
    }
    out
}

async fn wait_ready(server: &impl Server, s: &Session) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.api().get_session(&s.id, &s.candidate).await["status"] != "ready" {
        assert!(Instant::now() < deadline, "session never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Cluster-wide defaults for these runs: no quotas in the way, errors only in the logs.
fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("LIVECODE_LOG", "error"),
        ("LIVECODE_QUOTAS__MAX_LIVE_SESSIONS_PER_IP", "0"),
        ("LIVECODE_QUOTAS__SESSIONS_PER_MINUTE", "0"),
        ("LIVECODE_QUOTAS__RUNS_PER_MINUTE", "0"),
        ("LIVECODE_QUOTAS__MAX_LIVE_SESSIONS", "400"),
        ("LIVECODE_POOL__DEFAULT_SIZE", "2"),
    ]
}

async fn forward(cluster: &TestCluster, rows: &mut Vec<String>) {
    // Two sessions of replica 0, one socket each: one straight to it, one through replica 1.
    let (s, t) = (
        cluster.replica(0).python("print(1)").await,
        cluster.replica(0).python("print(1)").await,
    );
    wait_ready(cluster.replica(0), &s).await;
    wait_ready(cluster.replica(0), &t).await;
    let mut owner = cluster.replica(0).ws(&s.id, &s.candidate).await;
    let mut relayed = cluster.replica(1).ws(&t.id, &t.candidate).await;
    for _ in 0..3 {
        first_byte(&mut owner).await;
        first_byte(&mut relayed).await;
    }
    let (mut direct, mut forwarded) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        direct.push(first_byte(&mut owner).await);
        forwarded.push(first_byte(&mut relayed).await);
    }
    let (d, f) = (Stats::of(&direct), Stats::of(&forwarded));
    println!(
        "run → first byte, p50 / p95 (n={ROUNDS}): owner {}, through a non-owner {}",
        ms(d),
        ms(f)
    );
    rows.push(format!(
        "| run → first output byte through a non-owner | {} | through the owner: {} | +{:.2} ms p50 ({:.2}×) |",
        ms(f), ms(d), f.p50 - d.p50, f.p50 / d.p50
    ));
}

async fn typing(cluster: &TestCluster, rows: &mut Vec<String>) {
    let s = cluster.replica(0).python("").await;
    let mut ws = cluster.replica(0).ws(&s.id, &s.candidate).await;
    let on_pg = type_chars(&mut ws, 0, 0, KEYS).await;
    let single = start_server(
        env!("CARGO_BIN_EXE_livecode"),
        &[("LIVECODE_LOG", "error")],
        None,
    )
    .await;
    let t = single.python("").await;
    let mut ws = single.ws(&t.id, &t.candidate).await;
    let on_sqlite = type_chars(&mut ws, 0, 0, KEYS).await;
    let (pg, lite) = (Stats::of(&on_pg), Stats::of(&on_sqlite));
    println!("typing echo, p50 / p95 (n={KEYS}): cluster (PostgreSQL, stored first) {}, single server (SQLite) {}", ms(pg), ms(lite));
    rows.push(format!(
        "| typing echo, PostgreSQL, stored before told | {} | one server on SQLite: {} | {:.2}× |",
        ms(pg),
        ms(lite),
        pg.p50 / lite.p50
    ));
}

async fn failover(cluster: &mut TestCluster, rows: &mut Vec<String>) {
    let mut times = Vec::new();
    for _ in 0..TRIALS {
        let s = cluster.front().python("print('ok')").await;
        let owner = cluster.owner_of(&s.id).await.expect("an owner");
        wait_ready(cluster.front(), &s).await;
        let mut a = cluster.front().ws(&s.id, &s.candidate).await;
        let mut b = cluster.front().ws(&s.id, &s.interviewer).await;
        cluster.replica_mut(owner).kill();
        let killed = Instant::now();
        for ws in [&mut a, &mut b] {
            while let Some(Ok(m)) = ws.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        }
        for token in [&s.candidate, &s.interviewer] {
            loop {
                let url = cluster.front().ws_url(&s.id, &format!("?token={token}"));
                if support::open_socket(&url).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        times.push(killed.elapsed());
        cluster.restart(owner).await;
    }
    let t = Stats::of(&times);
    println!(
        "failover, kill -9 → every socket ready, p50 / p95 (n={TRIALS}): {}",
        ms(t)
    );
    rows.push(format!(
        "| failover: `kill -9` of the owner → every socket `ready` | {} | the lease: {} s | {:.2}× the lease p95 |",
        ms(t),
        support::LEASE_SECONDS,
        t.p95 / 1e3 / support::LEASE_SECONDS.parse::<f64>().unwrap()
    ));
}

/// Sessions created through `server` by 6 callers at once, 30 in all; answers sessions/s.
async fn create_rate(server: &(impl Server + Sync)) -> f64 {
    let started = Instant::now();
    let made: Vec<Vec<Session>> = futures_util::future::join_all((0..6).map(|_| async {
        let mut mine = Vec::new();
        for _ in 0..5 {
            mine.push(server.python("print(1)").await);
        }
        mine
    }))
    .await;
    let rate = 30.0 / started.elapsed().as_secs_f64();
    for s in made.into_iter().flatten() {
        server.api().delete(&s.path(), Some(&s.interviewer)).await;
    }
    rate
}

async fn create(cluster: &TestCluster, rows: &mut Vec<String>) {
    let three = create_rate(cluster.front()).await;
    let one = create_rate(cluster.replica(0)).await;
    println!("sessions created per second: three replicas through nginx {three:.1}, one replica {one:.1}");
    rows.push(format!(
        "| sessions created per second, three replicas behind nginx | {three:.1}/s | one replica: {one:.1}/s | {:.2}× |",
        three / one
    ));
}

/// The owner's count of PostgreSQL statements so far.
async fn statements(server: &impl Server) -> f64 {
    let text = server
        .api()
        .http
        .get(
            server
                .api()
                .url("/metrics")
                .replace("/api/v1/metrics", "/metrics"),
        )
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|l| l.starts_with("livecode_store_statements_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn statement_counts(cluster: &TestCluster, rows: &mut Vec<String>) {
    let owner = cluster.replica(0);
    let s = owner.python("print(1)").await;
    wait_ready(owner, &s).await;
    let mut ws = owner.ws(&s.id, &s.candidate).await;
    first_byte(&mut ws).await;
    let before = statements(owner).await;
    for _ in 0..10 {
        first_byte(&mut ws).await;
    }
    let per_run = (statements(owner).await - before) / 10.0;
    let before = statements(owner).await;
    type_chars(&mut ws, 0, 8, 100).await;
    let per_char = (statements(owner).await - before) / 100.0;
    println!("PostgreSQL statements: {per_run:.1} per run, {per_char:.1} per typed character");
    rows.push(format!(
        "| PostgreSQL statements per run / per typed character | {per_run:.1} / {per_char:.1} | output frames: 0 | |"
    ));
}

#[tokio::main]
async fn main() {
    let only = std::env::var("LIVECODE_BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || name.contains(only.as_str());
    let mut cluster = TestCluster::start(3, &env()).await;
    let mut rows = Vec::new();
    if wanted("forward") {
        forward(&cluster, &mut rows).await;
    }
    if wanted("typing") {
        typing(&cluster, &mut rows).await;
    }
    if wanted("statements") {
        statement_counts(&cluster, &mut rows).await;
    }
    if wanted("create") {
        create(&cluster, &mut rows).await;
    }
    if wanted("failover") {
        failover(&mut cluster, &mut rows).await;
    }
    println!("\n| measure | livecode | baseline (same run) | ratio |\n|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}
