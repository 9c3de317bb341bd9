//! Prometheus metrics: the recorder. Served at `/metrics` by `api::metrics`. Counters and
//! histograms are recorded where things happen, through the `metrics` facade; gauges of
//! what is live (sessions by status, the warm pool) are read off the registry at each scrape.
//!
//! - `livecode_runs_total{environment,status}`, `livecode_run_first_byte_seconds{environment}`
//!   (request → the program's first output), `livecode_run_duration_seconds{environment}`
//!   (the run step), `livecode_builds_cached_total{environment}`;
//! - `livecode_sessions{status}`, `livecode_sockets`, `livecode_pool_warm{environment}`;
//! - `livecode_image_builds_total{environment,result}`, `livecode_engine_errors_total`;
//! - `livecode_store_statements_total{store="postgres"}`: statements sent to PostgreSQL
//!   (`BEGIN` and `COMMIT` included), for statements per run and per typed character.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Seconds, from a run's first byte to a long build.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use: metrics are the process's, as Prometheus
/// scrapes a process (servers started in one test process share it).
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("buckets are not empty")
            .install_recorder()
            .expect("livecode installs the only metrics recorder")
    })
}

/// A run ended: its status, and how long it took to its first output and in its run step.
pub fn run_finished(
    environment: &str,
    status: &'static str,
    first_byte: Option<std::time::Duration>,
    run: std::time::Duration,
    build_cached: bool,
) {
    let env = environment.to_string();
    metrics::counter!("livecode_runs_total", "environment" => env.clone(), "status" => status)
        .increment(1);
    if let Some(first) = first_byte {
        metrics::histogram!("livecode_run_first_byte_seconds", "environment" => env.clone())
            .record(first.as_secs_f64());
    }
    metrics::histogram!("livecode_run_duration_seconds", "environment" => env.clone())
        .record(run.as_secs_f64());
    if build_cached {
        metrics::counter!("livecode_builds_cached_total", "environment" => env).increment(1);
    }
}

/// A socket opened; the gauge goes down when the guard is dropped.
pub struct SocketGauge;

impl SocketGauge {
    pub fn open() -> Self {
        metrics::gauge!("livecode_sockets").increment(1.0);
        Self
    }
}

impl Drop for SocketGauge {
    fn drop(&mut self) {
        metrics::gauge!("livecode_sockets").decrement(1.0);
    }
}

pub fn image_built(environment: &str, ok: bool) {
    let result = if ok { "ok" } else { "failed" };
    metrics::counter!("livecode_image_builds_total", "environment" => environment.to_string(), "result" => result)
        .increment(1);
}

pub fn engine_error() {
    metrics::counter!("livecode_engine_errors_total").increment(1);
}

/// One statement sent to PostgreSQL.
pub fn store_statement() {
    metrics::counter!("livecode_store_statements_total", "store" => "postgres").increment(1);
}
