//! What every integration test stands on: a real server on a free port ([`TestServer`], in
//! process; [`SpawnedServer`], the binary), real HTTP (reqwest), real WebSocket
//! (tokio-tungstenite), real Docker. The conformance suite and the benchmarks use it too.
//!
//! Each boundary is reached through one helper here (`check_error`, `check_ws_error`,
//! `msg::*`, `collect_run`, the `Session` accessors), so that renaming a wire field or an
//! error code touches these files only. Waits have deadlines and poll conditions; none sleeps
//! blindly.
//!
//! # Layout
//! - `server`: the [`Server`] trait tests call through, [`TestServer`], [`InstanceGuard`],
//!   [`DockerProxy`].
//! - `spawned`: [`ServerHome`] and [`SpawnedServer`], the binary as a child process.
//! - `http`: [`Api`], the error-shape checks, [`Session`].
//! - `socket`: `msg::*`, reading frames with deadlines, [`RunResult`] and `collect_run`.
//! - `store`: which store servers use (`LIVECODE_IT_STORE`), and [`StoreDb`], a server's
//!   database opened beside it.
//! - `docker`: `docker ps` and other commands, containers, polling, the process's memory,
//!   repository paths.
//! - `nginx`: [`Nginx`], the real nginx with `deploy/nginx.conf` in front of given upstreams.
//! - `cluster`: [`TestCluster`], replicas of the binary on one PostgreSQL database behind
//!   nginx, which tests kill, stop and drain; who owns a session, by the database.

mod cluster;
mod docker;
mod http;
mod nginx;
mod server;
mod socket;
mod spawned;
mod store;

pub use cluster::*;
pub use docker::*;
pub use http::*;
pub use nginx::*;
pub use server::*;
pub use socket::*;
pub use spawned::*;
pub use store::*;

use std::time::Duration;

/// How long a test waits for a message it expects, unless it says otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);
