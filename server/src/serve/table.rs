//! The connection table: how many connections are open, in all and per client, and the socket
//! wrapper that holds a connection's place for as long as it lives.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Counts open connections, in all and per client.
#[derive(Debug)]
pub(super) struct Counter {
    max: usize,
    max_per_ip: usize,
    table: Mutex<Table>,
}

/// The open connections: how many, and each client's, newest last.
#[derive(Debug, Default)]
struct Table {
    open: usize,
    by_client: HashMap<IpAddr, Vec<(u64, CancellationToken)>>,
    next_id: u64,
}

/// One counted connection; gives its place back when dropped. `evicted` is cancelled when a
/// newcomer took the place, and the socket then fails its next read or write.
#[derive(Debug)]
pub(super) struct Place {
    counter: Arc<Counter>,
    client: IpAddr,
    id: u64,
    evicted: CancellationToken,
}

/// Why a connection was not admitted, or what admitting it cost.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The client holds `max_connections_per_ip`.
    ClientCap,
    /// The table is full and no client holds two more than this one.
    Full,
}

/// The client an address counts as: an IPv4 address (an IPv4-mapped IPv6 one too), or an
/// IPv6 /64, which one host is usually given whole.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl Counter {
    pub(super) fn new(max: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            max_per_ip,
            table: Mutex::new(Table::default()),
        })
    }

    /// A place for a connection from `ip`, and whether another client's was taken for it.
    pub(super) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<(Place, Option<IpAddr>), Refusal> {
        let client = client_of(ip);
        let mut table = self.table.lock().expect("counter lock poisoned");
        let mine = table.by_client.get(&client).map_or(0, Vec::len);
        if self.max_per_ip > 0 && mine >= self.max_per_ip {
            return Err(Refusal::ClientCap);
        }
        let mut evicted = None;
        if table.open >= self.max {
            // A linear scan, only when the table is full: at most `max` clients.
            let heaviest = table
                .by_client
                .iter()
                .max_by_key(|(_, places)| places.len())
                .map(|(c, places)| (*c, places.len()));
            match heaviest {
                Some((other, n)) if n >= mine + 2 => {
                    let places = table.by_client.get_mut(&other).expect("heaviest");
                    let (_, token) = places.pop().expect("a place");
                    token.cancel();
                    if places.is_empty() {
                        table.by_client.remove(&other);
                    }
                    table.open -= 1;
                    evicted = Some(other);
                }
                _ => return Err(Refusal::Full),
            }
        }
        table.open += 1;
        table.next_id += 1;
        let id = table.next_id;
        let token = CancellationToken::new();
        table
            .by_client
            .entry(client)
            .or_default()
            .push((id, token.clone()));
        let place = Place {
            counter: self.clone(),
            client,
            id,
            evicted: token,
        };
        Ok((place, evicted))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut table = self.counter.table.lock().expect("counter lock poisoned");
        let Some(places) = table.by_client.get_mut(&self.client) else {
            return; // evicted: its place was given back then
        };
        let Some(i) = places.iter().position(|(id, _)| *id == self.id) else {
            return;
        };
        places.remove(i);
        if places.is_empty() {
            table.by_client.remove(&self.client);
        }
        table.open -= 1;
    }
}

/// A socket that holds its place in the count for as long as it lives, and fails once its
/// place was taken by a newcomer (which ends hyper's connection, or the upgraded socket).
pub(super) struct Counted {
    io: TcpStream,
    evicted: Pin<Box<WaitForCancellationFutureOwned>>,
    _place: Place,
}

impl Counted {
    pub(super) fn new(io: TcpStream, place: Place) -> Self {
        Self {
            io,
            evicted: Box::pin(place.evicted.clone().cancelled_owned()),
            _place: place,
        }
    }

    /// An error once the place was taken; registers for the wake-up otherwise.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.evicted.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the connection table is full; this client holds the most places",
            )),
            Poll::Pending => Ok(()),
        }
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.io).poll_write(cx, buf)
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
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_in_all_and_per_address_and_given_back() {
        let counter = Counter::new(3, 2);
        let a: IpAddr = "127.0.0.2".parse().expect("ip");
        let b: IpAddr = "127.0.0.3".parse().expect("ip");
        let (a1, _) = counter.admit(a).expect("first");
        let _a2 = counter.admit(a).expect("second");
        assert_eq!(counter.admit(a).err(), Some(Refusal::ClientCap));
        let _b1 = counter.admit(b).expect("other address");
        // Full; b holds 1 and a 2: not two more, so no eviction.
        assert_eq!(counter.admit(b).err(), Some(Refusal::Full));
        drop(a1);
        assert!(counter.admit(b).is_ok(), "a place came back");
    }

    #[test]
    fn a_full_table_gives_a_lighter_client_the_heaviest_ones_newest_place() {
        let counter = Counter::new(4, 0);
        let heavy: IpAddr = "127.0.0.2".parse().expect("ip");
        let places: Vec<Place> = (0..4)
            .map(|_| counter.admit(heavy).expect("place").0)
            .collect();
        assert_eq!(counter.admit(heavy).err(), Some(Refusal::Full));
        let (newcomer, evicted) = counter
            .admit("127.0.0.3".parse().expect("ip"))
            .expect("fair share");
        assert_eq!(evicted, Some(heavy));
        assert!(
            places[3].evicted.is_cancelled(),
            "the newest place was taken"
        );
        assert!(!places[0].evicted.is_cancelled());
        // The evicted place's drop gives nothing back twice; the others do.
        drop(places);
        let table = counter.table.lock().expect("lock");
        assert_eq!(table.open, 1);
        assert_eq!(table.by_client.len(), 1);
        drop(table);
        drop(newcomer);
        assert_eq!(counter.table.lock().expect("lock").open, 0);
    }

    #[test]
    fn an_ipv6_host_is_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_of(a), client_of(b));
        assert_ne!(client_of(a), client_of(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("ip");
        assert_eq!(client_of(mapped), "10.0.0.1".parse::<IpAddr>().expect("ip"));
    }
}
