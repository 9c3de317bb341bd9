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
