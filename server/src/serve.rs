//! The accept loop: HTTP/1.1 connections (with WebSocket upgrades) under limits that keep one
//! client from stopping the server. `axum::serve` takes no limits, so this is its shape with
//! them added:
//!
//! - a client has `header_read_timeout` to send a request's headers, which is also how long an
//!   idle keep-alive connection may stay (hyper starts the timer whenever it waits for a head);
//! - at most `max_connections` connections at once, and `max_connections_per_ip` from one
//!   address; one past a cap is closed as it arrives. The count follows the socket itself,
//!   so an upgraded WebSocket holds its place until it closes;
//! - the open-file limit is raised as far as allowed at start-up, and the connection cap is
//!   kept below it with a reserve, so Docker and the store always have file handles.
//!
//! Each request carries `ConnectInfo<SocketAddr>` for the per-client quotas.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::ServerConfig;

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

/// Counts open connections, in all and per client address.
#[derive(Debug)]
struct Counter {
    max: usize,
    max_per_ip: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One counted connection; gives its place back when dropped.
#[derive(Debug)]
struct Place {
    counter: Arc<Counter>,
    ip: IpAddr,
}

impl Counter {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Place> {
        let mut open = self.open.lock().expect("counter lock poisoned");
        let mine = open.1.get(&ip).copied().unwrap_or(0);
        if open.0 >= self.max || (self.max_per_ip > 0 && mine >= self.max_per_ip) {
            return None;
        }
        open.0 += 1;
        open.1.insert(ip, mine + 1);
        Some(Place {
            counter: self.clone(),
            ip,
        })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = self.counter.open.lock().expect("counter lock poisoned");
        open.0 -= 1;
        if let Some(n) = open.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.ip);
            }
        }
    }
}

/// A socket that holds its place in the count for as long as it lives.
struct Counted {
    io: TcpStream,
    _place: Place,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
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
    let counter = Arc::new(Counter {
        max: max_connections,
        max_per_ip: config.max_connections_per_ip,
        open: Mutex::new((0, HashMap::new())),
    });
    let header_timeout = Duration::from_secs_f64(config.header_read_timeout_seconds);
    let connections = TaskTracker::new();
    let mut refused_logged: Option<tokio::time::Instant> = None;
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
        let Some(place) = counter.admit(peer.ip()) else {
            if refused_logged.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                refused_logged = Some(tokio::time::Instant::now());
                tracing::warn!(client = %peer.ip(), "connection cap reached; closing new connections");
            }
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
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let io = TokioIo::new(Counted {
                io: stream,
                _place: place,
            });
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
        });
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

    #[test]
    fn places_are_counted_in_all_and_per_address_and_given_back() {
        let counter = Arc::new(Counter {
            max: 3,
            max_per_ip: 2,
            open: Mutex::new((0, HashMap::new())),
        });
        let a: IpAddr = "127.0.0.2".parse().expect("ip");
        let b: IpAddr = "127.0.0.3".parse().expect("ip");
        let a1 = counter.admit(a).expect("first");
        let _a2 = counter.admit(a).expect("second");
        assert!(counter.admit(a).is_none(), "per-address cap");
        let _b1 = counter.admit(b).expect("other address");
        assert!(counter.admit(b).is_none(), "total cap");
        drop(a1);
        assert!(counter.admit(b).is_some(), "a place came back");
    }
}
