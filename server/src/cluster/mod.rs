//! Cluster mode: several replicas (cells) on one PostgreSQL, each the one authority for the
//! sessions it owns. Ownership is a lease row per session with an epoch (the fencing token):
//! the PostgreSQL store checks it at every write of a session (through [`Leases`]), so a
//! deposed owner's writes fail. A lease is live while its replica's heartbeat is fresh, by the
//! database's clock; advisory locks were measured unsafe (a stopped holder keeps one forever).
//!
//! # Layout
//! - `mod.rs`: [`Cluster`], this replica's membership: its row in `replicas`, the heartbeat,
//!   and the leases it holds (claim, take over, release).
//! - `sql.rs`: the statements, one constant each.
//!
//! Who serves a request is decided at the edge (`forward`); what a takeover restores is
//! `session`'s business.

mod sql;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use uuid::Uuid;

use crate::config::ClusterConfig;
use crate::model::SessionId;
use crate::store::{Lease, Leases};

/// The cluster's database failed; details go to the log.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cluster: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("cluster: pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("cluster: {0}")]
    Config(String),
}

/// Who holds a live session, as the database says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// No such session, or it has ended: any replica answers from the store.
    NotLive,
    /// This replica (by its lease).
    Me,
    /// Another replica whose heartbeat is fresh: forward to it.
    Peer { id: Uuid, url: String },
    /// Nobody live holds it (its owner died, drained, or it never had a lease): take it over
    /// at this epoch (`None`: no lease row yet).
    Free { epoch: Option<i64> },
}

/// A replica as the health endpoint lists it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Peer {
    pub id: Uuid,
    pub url: String,
    pub heartbeat_at: DateTime<Utc>,
    /// Its heartbeat is fresh (younger than the lease time).
    pub alive: bool,
    pub draining: bool,
    /// Sessions it holds the lease of.
    pub sessions: u64,
}

/// This replica's membership in the cluster. Shared as an `Arc`.
pub struct Cluster {
    /// This replica, for this process's life (a restart joins as a new replica).
    pub id: Uuid,
    /// Where the other replicas reach this one.
    pub url: String,
    pool: Pool,
    lease: Duration,
    heartbeat: Duration,
    /// The leases this replica holds, by session: the epoch every write carries.
    held: DashMap<SessionId, i64>,
    /// Leases of sessions being created here, whose rows are not committed yet: their writes
    /// carry them, but the heartbeat does not check them until they are `confirm`ed.
    pending: DashMap<SessionId, i64>,
    draining: AtomicBool,
    /// When the last heartbeat was stored (the leases are good for `lease` after it).
    last_beat: std::sync::Mutex<Instant>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("id", &self.id)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Leases for Cluster {
    fn lease(&self, session: &SessionId) -> Option<Lease> {
        let epoch = self
            .held
            .get(session)
            .map(|e| *e)
            .or_else(|| self.pending.get(session).map(|e| *e))?;
        Some(Lease {
            replica: self.id,
            epoch,
        })
    }
}

impl Cluster {
    /// Joins the cluster: a pool of its own (so heartbeats never wait behind the store's
    /// traffic) and this replica's row.
    pub async fn join(url: &str, config: &ClusterConfig) -> Result<Arc<Self>, ClusterError> {
        let mut pg: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| ClusterError::Config(e.to_string()))?;
        // A takeover waits briefly for a write in flight on the lease's row, never forever
        // (a stopped owner's transaction is ended by the store's idle timeout).
        pg.options("-c lock_timeout=3s");
        pg.connect_timeout(Duration::from_secs(5));
        let manager = Manager::from_config(
            pg,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        // Waits are bounded, so that a starved or hung pool makes the heartbeat fail (and,
        // after a lease's time, give its leases up) rather than wait forever.
        let pool = Pool::builder(manager)
            .max_size(4)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(2)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(2)))
            .build()
            .map_err(|e| ClusterError::Config(e.to_string()))?;
        let cluster = Arc::new(Self {
            id: Uuid::new_v4(),
            url: config.advertise_url.trim_end_matches('/').to_string(),
            pool,
            lease: Duration::from_secs_f64(config.lease_seconds),
            heartbeat: Duration::from_secs_f64(config.heartbeat_seconds),
            held: DashMap::new(),
            pending: DashMap::new(),
            draining: AtomicBool::new(false),
            last_beat: std::sync::Mutex::new(Instant::now()),
        });
        let client = cluster.pool.get().await?;
        client
            .execute(sql::JOIN, &[&cluster.id, &cluster.url])
            .await?;
        tracing::info!(replica = %cluster.id, url = %cluster.url, "joined the cluster");
        Ok(cluster)
    }

    fn lease_secs(&self) -> f64 {
        self.lease.as_secs_f64()
    }

    /// How often the heartbeat runs.
    pub fn heartbeat_every(&self) -> Duration {
        self.heartbeat
    }

    /// The sessions this replica holds.
    pub fn owned(&self) -> usize {
        self.held.len()
    }

    pub fn holds(&self, session: &SessionId) -> bool {
        self.held.contains_key(session)
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// A new session is this replica's at epoch 1: the store writes its lease row with the
    /// session's own (in one transaction).
    pub fn claim_new(&self, session: SessionId) {
        self.pending.insert(session, 1);
    }

    /// The new session's row and lease are committed: the heartbeat checks it from now on.
    pub fn confirm(&self, session: &SessionId) {
        if let Some((id, epoch)) = self.pending.remove(session) {
            self.held.insert(id, epoch);
        }
    }

    /// Forgets a lease without touching the database (the session was deposed, or its
    /// creation failed).
    pub fn forget(&self, session: &SessionId) {
        self.held.remove(session);
        self.pending.remove(session);
    }

    /// Who holds session `id` now.
    pub async fn owner(&self, id: &SessionId) -> Result<Owner, ClusterError> {
        let client = self.pool.get().await?;
        let Some(row) = client
            .query_opt(sql::OWNER, &[&id.0, &self.lease_secs()])
            .await?
        else {
            return Ok(Owner::NotLive);
        };
        let ended: bool = row.get("ended");
        let replica: Option<Uuid> = row.get("replica");
        let epoch: Option<i64> = row.get("epoch");
        let alive: Option<bool> = row.get("alive");
        let url: Option<String> = row.get("url");
        Ok(match (ended, replica, alive) {
            (true, _, _) => Owner::NotLive,
            (false, Some(replica), _) if replica == self.id && self.holds(id) => Owner::Me,
            (false, Some(replica), Some(true)) if replica != self.id => Owner::Peer {
                id: replica,
                url: url.unwrap_or_default(),
            },
            _ => Owner::Free { epoch },
        })
    }

    /// Takes session `id` over from a dead owner: a compare-and-set on the epoch, so of
    /// replicas racing for it exactly one wins. Answers the new epoch when this one won.
    pub async fn take_over(
        &self,
        id: &SessionId,
        seen: Option<i64>,
    ) -> Result<Option<i64>, ClusterError> {
        if self.is_draining() {
            return Ok(None);
        }
        let client = self.pool.get().await?;
        let row = match seen {
            Some(epoch) => {
                client
                    .query_opt(
                        sql::TAKE_OVER,
                        &[&id.0, &self.id, &epoch, &self.lease_secs()],
                    )
                    .await?
            }
            None => {
                client
                    .query_opt(sql::TAKE_UNLEASED, &[&id.0, &self.id])
                    .await?
            }
        };
        let won = row.map(|r| r.get::<_, i64>(0));
        if let Some(epoch) = won {
            self.held.insert(*id, epoch);
            tracing::info!(session = %id, epoch, "took the session over");
        }
        Ok(won)
    }

    /// One heartbeat: this replica's row is refreshed, and the leases the database no longer
    /// gives it (another replica took them while this one was not heard) are answered: their
    /// sessions must go. Every lease is answered when the heartbeat fails for longer than a
    /// lease lasts, since others may have taken any of them by then.
    pub async fn beat(&self) -> Vec<SessionId> {
        // The database stamps the beat after this: the local clock errs on the early side.
        let started = Instant::now();
        match self.try_beat().await {
            Ok(lost) => {
                *self.last_beat.lock().unwrap_or_else(|p| p.into_inner()) = started;
                lost
            }
            Err(err) => {
                let since = self
                    .last_beat
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .elapsed();
                tracing::warn!(%err, silent_for = ?since, "cluster heartbeat failed");
                if since >= self.lease {
                    self.held.iter().map(|e| *e.key()).collect()
                } else {
                    Vec::new()
                }
            }
        }
    }

    async fn try_beat(&self) -> Result<Vec<SessionId>, ClusterError> {
        let client = self.pool.get().await?;
        let draining = self.is_draining();
        if client
            .execute(sql::BEAT, &[&self.id, &self.url, &draining])
            .await?
            == 0
            && !draining
        {
            // Its row was removed (an operator, or the janitor after a long stop): join
            // again; the leases the database no longer gives it are answered below.
            client.execute(sql::JOIN, &[&self.id, &self.url]).await?;
        }
        // Only leases held before the database is asked are judged by its answer: one taken
        // meanwhile is committed, but perhaps after the answer was read.
        let before: Vec<(SessionId, i64)> = self.held.iter().map(|e| (*e.key(), *e)).collect();
        let rows = client.query(sql::HELD, &[&self.id]).await?;
        let stored: std::collections::HashMap<Uuid, i64> =
            rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(before
            .into_iter()
            .filter(|(id, epoch)| stored.get(&id.0) != Some(epoch))
            .filter(|(id, epoch)| self.held.get(id).is_some_and(|now| *now == *epoch))
            .map(|(id, _)| id)
            .collect())
    }

    /// Drain: this replica takes no more sessions from now on.
    pub async fn start_draining(&self) -> Result<(), ClusterError> {
        self.draining.store(true, Ordering::Relaxed);
        let client = self.pool.get().await?;
        client
            .execute(sql::BEAT, &[&self.id, &self.url, &true])
            .await?;
        Ok(())
    }

    /// Hands session `id` back: its lease keeps its epoch but names no replica, so the next
    /// replica to need it takes it at once (no wait for a heartbeat to age).
    pub async fn release(&self, id: &SessionId) -> Result<(), ClusterError> {
        let Some((_, epoch)) = self.held.remove(id) else {
            return Ok(());
        };
        let client = self.pool.get().await?;
        client
            .execute(sql::RELEASE, &[&id.0, &self.id, &epoch])
            .await?;
        Ok(())
    }

    /// An ended session's lease goes, row and all: the heartbeat's list stays the live ones.
    pub async fn let_go_ended(&self, id: &SessionId) -> Result<(), ClusterError> {
        let Some((_, epoch)) = self.held.remove(id) else {
            return Ok(());
        };
        let client = self.pool.get().await?;
        client
            .execute(sql::DELETE_ENDED, &[&id.0, &self.id, &epoch])
            .await?;
        Ok(())
    }

    /// Leaves the cluster: the replica's row goes, so nobody forwards to it any more.
    pub async fn leave(&self) {
        let result = async {
            let client = self.pool.get().await?;
            client.execute(sql::LEAVE, &[&self.id]).await?;
            Ok::<_, ClusterError>(())
        }
        .await;
        if let Err(err) = result {
            tracing::warn!(%err, "could not leave the cluster");
        }
    }

    /// Every replica the database knows, with how many sessions each holds.
    pub async fn peers(&self) -> Result<Vec<Peer>, ClusterError> {
        let client = self.pool.get().await?;
        let rows = client.query(sql::PEERS, &[&self.lease_secs()]).await?;
        Ok(rows
            .iter()
            .map(|r| Peer {
                id: r.get("id"),
                url: r.get("url"),
                heartbeat_at: r.get("heartbeat_at"),
                alive: r.get("alive"),
                draining: r.get("draining"),
                sessions: r.get::<_, i64>("sessions") as u64,
            })
            .collect())
    }

    /// Removes the rows of replicas not heard for a long time (killed ones leave theirs), so
    /// that health lists the cluster as it is; their leases read as nobody's either way.
    pub async fn forget_the_long_dead(&self) -> Result<(), ClusterError> {
        let client = self.pool.get().await?;
        client
            .execute(sql::FORGET_DEAD, &[&(self.lease_secs() * 60.0)])
            .await?;
        Ok(())
    }

    /// Live sessions no live replica holds: the janitor's work (at most `limit`).
    pub async fn orphans(&self, limit: i64) -> Result<Vec<(SessionId, Option<i64>)>, ClusterError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(sql::ORPHANS, &[&self.lease_secs(), &limit])
            .await?;
        Ok(rows
            .iter()
            .map(|r| (SessionId(r.get(0)), r.get(1)))
            .collect())
    }

    /// A live replica that takes sessions, other than this one, for work this one refuses
    /// while it drains (new sessions).
    pub async fn any_peer(&self) -> Result<Option<String>, ClusterError> {
        Ok(self
            .peers()
            .await?
            .into_iter()
            .find(|p| p.id != self.id && p.alive && !p.draining)
            .map(|p| p.url))
    }
}
