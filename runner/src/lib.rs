//! livecode-runner: the one process the server execs into each session container, and the
//! protocol it speaks. The server uses this library for [`protocol`]; the binary (`main.rs`)
//! is built from this folder by Debian's `rustc`, std only, statically linked, into every
//! environment image.
//!
//! # Layout
//! - [`protocol`]: the frames both ways, versioned.
//! - [`procfs`]: pure readers of `/proc` and cgroup files, and the workspace path check.
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
pub mod procfs;
pub mod protocol;
pub mod shell;
