//! The accept loop: HTTP/1.1 connections (with WebSocket upgrades) under limits that keep one
//! client from stopping the server. `axum::serve` takes no limits, so this is its shape with
//! them added:
//!
//! - a client has `header_read_timeout` to send a request's headers, which is also how long an
//!   idle keep-alive connection may stay (hyper starts the timer whenever it waits for a head);
//! - at most `max_connections` connections at once, and `max_connections_per_ip` from one
//!   client (an IPv4 address, or an IPv6 /64: one host's share of addresses); one past the
//!   per-client cap is closed as it arrives. The count follows the socket itself, so an
//!   upgraded WebSocket holds its place until it closes;
//! - a full table is shared fairly: a newcomer whose client holds at least two connections
//!   fewer than the client holding the most takes the newest of that client's places (that
//!   connection is closed, upgraded or not). So a few addresses holding every slot (slow
//!   bodies, half-open heads) cannot lock anyone else out; only a client as heavy as the
//!   heaviest is refused. Behind a reverse proxy every client is the proxy: nothing is
//!   evicted between them, and the proxy has to share its own connections per client;
//! - the open-file limit is raised as far as allowed at start-up, and the connection cap is
//!   kept below it with a reserve, so Docker and the store always have file handles.
//!
//! Each request carries `ConnectInfo<SocketAddr>` for the per-client quotas.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::ServerConfig;

mod table;

use table::{Counted, Counter, Place};

/// File handles kept back from connections: Docker's socket, the store, logs, image builds.
const FD_RESERVE: u64 = 256;
/// How long open connections get to finish after shutdown starts.
const DRAIN: Duration = Duration::from_secs(10);

/// Raises the soft open-file limit to the hard one; returns the limit now in force.
pub fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(err) => {
            tracing::warn!(%err, "could not read or raise the open-file limit");
            None
        }
    }
}

/// The connection cap that leaves `FD_RESERVE` file handles under `open_files`.
pub fn connection_cap(configured: usize, open_files: Option<u64>) -> usize {
    match open_files {
        Some(limit) => configured.min(limit.saturating_sub(FD_RESERVE).max(16) as usize),
        None => configured,
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets open requests finish (up to
/// `DRAIN`); sockets close themselves on the same token.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &ServerConfig,
    max_connections: usize,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let mut gate = Gate {
        counter: Counter::new(max_connections, config.max_connections_per_ip),
        refused_logged: None,
        evicted_logged: None,
    };
    let header_timeout = Duration::from_secs_f64(config.header_read_timeout_seconds);
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Out of file handles (or a connection reset before accept): back off
                    // instead of spinning, as axum does.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(place) = gate.admit(peer) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req.map(axum::body::Body::new)
            });
        let io = TokioIo::new(Counted::new(stream, place));
        connections.spawn(connection(io, service, header_timeout, shutdown.clone()));
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(DRAIN, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open {DRAIN:?} after shutdown");
    }
    Ok(())
}

/// The connection table at the door, logging refusals and evictions at most every 10 s (a
/// flood would otherwise flood the log too).
struct Gate {
    counter: Arc<Counter>,
    refused_logged: Option<tokio::time::Instant>,
    evicted_logged: Option<tokio::time::Instant>,
}

impl Gate {
    /// A place for a connection from `peer`, or `None` when it is to be closed at once.
    fn admit(&mut self, peer: SocketAddr) -> Option<Place> {
        match self.counter.admit(peer.ip()) {
            Ok((place, None)) => Some(place),
            Ok((place, Some(heaviest))) => {
                if quiet(&mut self.evicted_logged) {
                    tracing::warn!(client = %peer.ip(), %heaviest, "connection table full; closing a connection of the client holding the most");
                }
                Some(place)
            }
            Err(refusal) => {
                if quiet(&mut self.refused_logged) {
                    tracing::warn!(client = %peer.ip(), ?refusal, "connection cap reached; closing new connections");
                }
                None
            }
        }
    }
}

/// True when nothing was logged in the last 10 s (and notes that something is now).
fn quiet(at: &mut Option<tokio::time::Instant>) -> bool {
    let due = at.is_none_or(|t| t.elapsed() > Duration::from_secs(10));
    if due {
        *at = Some(tokio::time::Instant::now());
    }
    due
}

/// One HTTP/1 connection (with upgrades, for sockets) until it ends or the server shuts down,
/// when it finishes its request in progress and closes.
async fn connection<S>(
    io: TokioIo<Counted>,
    service: S,
    header_timeout: Duration,
    shutdown: CancellationToken,
) where
    S: tower::Service<axum::http::Request<Incoming>, Response = axum::response::Response>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder
        .serve_connection(io, TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%err, "connection ended with an error");
            }
        }
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_a_reserve_of_file_handles() {
        assert_eq!(connection_cap(4096, Some(1024)), 768);
        assert_eq!(connection_cap(4096, Some(1 << 20)), 4096);
        assert_eq!(connection_cap(4096, None), 4096);
        assert_eq!(connection_cap(4096, Some(100)), 16);
    }
}
