//! What the benchmarks share: the integration tests' support (`tests/it/support`: the server
//! binary on a home of its own, REST and socket helpers), and a quiet start of any build.

#![allow(dead_code, unused_imports)] // each bench uses its own part

#[path = "../../tests/it/support/mod.rs"]
mod it;

pub use it::*;

/// The `livecode` binary at `bin` (this build's or another's) on a home of its own, logging
/// errors only, with the operator's warm pool (not the tests' one container) and `env` over
/// the tests' defaults.
pub async fn start_server(bin: &str, env: &[(&str, &str)], nofile: Option<u64>) -> SpawnedServer {
    let pool = livecode::config::Config::defaults()
        .pool
        .default_size
        .to_string();
    let mut all = vec![
        ("LIVECODE_LOG", "error"),
        ("LIVECODE_POOL__DEFAULT_SIZE", &pool),
    ];
    all.extend_from_slice(env);
    ServerHome::new().spawn_binary(bin, &all, nofile).await
}

/// The server's resident memory in MiB; NaN once it is gone (a build under attack may die).
pub fn rss_mib(server: &SpawnedServer) -> f64 {
    server
        .try_rss_kib()
        .map_or(f64::NAN, |kib| kib as f64 / 1024.0)
}

/// p50 and p95 of a set of samples, in ms (nearest rank), and how many there were.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub p50: f64,
    pub p95: f64,
    pub n: usize,
}

impl Stats {
    /// Of samples in ms; `None` when there are none.
    pub fn of_ms(ms: &[f64]) -> Option<Self> {
        if ms.is_empty() {
            return None;
        }
        let mut ms = ms.to_vec();
        ms.sort_by(f64::total_cmp);
        let pick = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        Some(Self {
            p50: pick(0.5),
            p95: pick(0.95),
            n: ms.len(),
        })
    }

    /// Of durations (at least one).
    pub fn of(samples: &[std::time::Duration]) -> Self {
        let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        Self::of_ms(&ms).expect("at least one sample")
    }
}

/// "p50 / p95 ms", to a tenth of a millisecond.
pub fn ms(s: Stats) -> String {
    format!("{:.1} / {:.1} ms", s.p50, s.p95)
}
