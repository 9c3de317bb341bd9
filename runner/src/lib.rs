//! livecode-runner: the one process the server execs into each session container, and the
//! protocol it speaks. The server uses this library for [`protocol`]; the binary (`main.rs`)
//! is built from this folder by Debian's `rustc`, std only, statically linked, into every
//! environment image.
//!
//! # Layout
//! - [`protocol`]: the frames both ways, versioned.
//! - [`path`]: [`path::WorkspacePath`], the one rule for the names of a workspace's files,
//!   which the server parses requests into and [`protocol`] decodes into.
//! - [`procfs`]: pure readers of `/proc` and cgroup files.
//! - [`shell`]: which commands need no shell.
//! - [`compiler`]: the resident-compiler protocol, between a build and a toolchain's daemon.
//! - `main.rs` (binary): modes `serve` (the default) and `keep`.
//! - `sys.rs`: the few libc calls std does not wrap.
//! - `worker.rs`: the thread that acts as the run's uid: kills, cleans, writes files.
//! - `run.rs`: one run: build and run steps, limits, kills.
//! - `streams.rs`: frames out, the output budget and pumps, the stdin writer.
//! - `cache.rs`: the build cache: a build's outputs by the digest of its inputs.
//! - `daemon.rs`: a toolchain's resident compiler, started and kept alive as its own uid.
//! - `compile.rs` (binary `livecode-compile`): a build's client of that daemon.

pub mod compiler;
pub mod path;
pub mod procfs;
pub mod protocol;
pub mod shell;

use std::time::Duration;

/// How long the runner waits for the processes of a run it killed to be gone.
pub const KILL_WAIT: Duration = Duration::from_secs(3);
/// How long emptying the sandbox after a run may take before the sandbox counts as broken
/// (the server replaces it). The runner clears before it reports a run's end, so the server
/// waits `KILL_WAIT` + `CLEAN_WITHIN` beyond a run's limits before it calls the runner stuck:
/// keep both short.
pub const CLEAN_WITHIN: Duration = Duration::from_secs(8);

/// The container variable that asks the runner to cap each run's processes (RLIMIT_NPROC).
///
/// Under gVisor the container's pids limit cannot bound a run: the host's pids cgroup holds
/// the sandbox's kernel, whose own threads and (on gVisor's default ptrace platform) one stub
/// process per process of the run count there, not the run's processes. At the 64 pids of
/// the default config, the first process a run started took the host count past the limit,
/// the sandbox's kernel panicked ("error initializing first thread: resource temporarily
/// unavailable") and the container died after every run. So the server raises the host limit
/// under gVisor, and the runner bounds the run inside the sandbox with RLIMIT_NPROC, which
/// gVisor's kernel enforces per uid of the sandbox.
pub const RUN_NPROC_ENV: &str = "LIVECODE_RUN_NPROC";
