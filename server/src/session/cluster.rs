//! The sessions' side of cluster mode: which replica serves a session ([`Route`]), a takeover
//! (one session restored from the store onto this replica's engine), a deposition (the lease
//! was lost: the session leaves this replica without writing), the heartbeat and janitor
//! loops, and the drain that hands every session over.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::registry::SessionRegistry;
use super::run::StopReason;
use super::{RunResult, RunStatus, RunSummary, SessionError, SessionEvent, SessionId};
use crate::cluster::{Cluster, ClusterError, Owner};

/// Where a session's request is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Here: this replica holds it, or it is not live (the store answers).
    Local,
    /// At another live replica, by its advertised URL.
    Forward(String),
}

/// What a run cut by a failover says, in its stderr and notice.
pub const FAILOVER_NOTICE: &str =
    "[livecode] the run was cut: the server running it was lost, and another took the session over\n";

/// How long an ended session's lease is kept for its trailing events.
const ENDED_LEASE_KEPT: Duration = Duration::from_secs(30);

/// Sessions the janitor takes per round, so one replica does not take a dead one's all at once.
const JANITOR_BATCH: i64 = 8;

fn unavailable(err: ClusterError) -> SessionError {
    tracing::warn!(%err, "cluster database");
    SessionError::Capacity("the cluster's database is not answering; try again".into())
}

impl SessionRegistry {
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.shared.ctx.cluster.as_ref()
    }

    /// Which replica serves session `id`: this one when it holds the lease; the live owner
    /// otherwise; and when nobody live holds it, this one after taking it over.
    /// `may_forward` is false for a request another replica already forwarded (no loops).
    pub async fn locate(&self, id: &SessionId, may_forward: bool) -> Result<Route, SessionError> {
        let Some(cluster) = self.cluster() else {
            return Ok(Route::Local);
        };
        for _ in 0..3 {
            if cluster.holds(id) && self.get(id).is_some() {
                return Ok(Route::Local);
            }
            match cluster.owner(id).await.map_err(unavailable)? {
                Owner::NotLive => return Ok(Route::Local),
                Owner::Peer { url, .. } if may_forward => return Ok(Route::Forward(url)),
                Owner::Peer { .. } => break,
                // A draining replica takes nothing: a live peer will.
                Owner::Free { .. } if cluster.is_draining() && may_forward => {
                    match cluster.any_peer().await.map_err(unavailable)? {
                        Some(peer) => return Ok(Route::Forward(peer)),
                        None => break,
                    }
                }
                Owner::Me | Owner::Free { .. } => {
                    if self.take_over(id).await? {
                        return Ok(Route::Local);
                    }
                }
            }
        }
        Err(SessionError::Capacity(
            "the session is moving between servers; try again".into(),
        ))
    }

    /// Takes session `id` over if nobody live holds it, and restores it here: the document
    /// and files from the store, a container from this replica's engine, the run a failover
    /// cut marked `error`. One takeover per session at a time on this replica; answers
    /// whether this replica holds it now.
    async fn take_over(&self, id: &SessionId) -> Result<bool, SessionError> {
        let gate = self
            .shared
            .taking
            .entry(*id)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(())))
            .clone();
        let taken = {
            let _one = gate.lock().await;
            self.take_over_gated(id).await
        };
        // The gate goes with its last user (the map's own reference and this one).
        self.shared
            .taking
            .remove_if(id, |_, g| Arc::strong_count(g) <= 2);
        taken
    }

    async fn take_over_gated(&self, id: &SessionId) -> Result<bool, SessionError> {
        let cluster = self.cluster().expect("cluster mode").clone();
        if cluster.holds(id) && self.get(id).is_some() {
            return Ok(true);
        }
        let epoch = match cluster.owner(id).await.map_err(unavailable)? {
            Owner::Free { epoch } => epoch,
            // Held here but not live: being created here, or let go a moment ago. Never
            // taken again on top of itself; the caller tries again.
            Owner::Me | Owner::NotLive | Owner::Peer { .. } => return Ok(false),
        };
        if cluster
            .take_over(id, epoch)
            .await
            .map_err(unavailable)?
            .is_none()
        {
            return Ok(false);
        }
        if let Err(err) = self.restore_one(id).await {
            // Nobody is served by a lease held for a session that did not come back: it is
            // handed back at once, for the next request (here or elsewhere) to try again.
            if let Err(release) = cluster.release(id).await {
                tracing::warn!(session = %id, %release, "could not hand back a failed takeover");
            }
            return Err(err);
        }
        Ok(true)
    }

    /// A session this replica just took: back from the store, its cut runs ended as
    /// `error`, its container made anew on this engine.
    async fn restore_one(&self, id: &SessionId) -> Result<(), SessionError> {
        let ctx = &self.shared.ctx;
        let Some(record) = ctx.store.get_session(id).await? else {
            return Err(SessionError::NotFound);
        };
        if ctx.environments.get(&record.environment).is_none() {
            ctx.store_lost_session(&record).await;
            return Err(SessionError::UnknownEnvironment(record.environment));
        }
        let cut: Vec<RunResult> = ctx
            .store
            .runs(id)
            .await?
            .into_iter()
            .filter(|run| run.result.is_none())
            .map(|run| {
                let now = Utc::now();
                RunResult {
                    by: run.by_role,
                    summary: RunSummary {
                        run_id: run.id,
                        status: RunStatus::Error,
                        exit_code: None,
                        duration_ms: (now - run.started_at).num_milliseconds().max(0) as u64,
                        build_ms: None,
                        build_cached: false,
                        truncated: false,
                        started_at: run.started_at,
                        finished_at: now,
                    },
                    stdout: String::new(),
                    stderr: FAILOVER_NOTICE.to_string(),
                }
            })
            .collect();
        // Its events the lost owner did not deliver go first, in their order.
        ctx.audit.resume(ctx.store.undelivered_events(id).await?);
        let session = self.bring_back(record, None).await?;
        for result in cut {
            tracing::warn!(session = %id, run = %result.summary.run_id, "run cut by a failover");
            session.store_run_result(&result).await;
            session.finish_cut_run(result);
        }
        Ok(())
    }

    /// Session `id`'s lease went to another replica: it leaves this one without a write (the
    /// store would refuse them), its sockets are closed so their clients reconnect to the new
    /// owner, its run is stopped and its container removed.
    pub async fn depose(&self, id: &SessionId) {
        if let Some(cluster) = self.cluster() {
            cluster.forget(id);
        }
        tracing::warn!(session = %id, "lost the session's lease to another server; letting it go");
        self.let_go(id).await;
    }

    /// The store failed under a session (not its lease: the database): this replica's copy
    /// may be ahead of the stored one, so it goes, and its lease is handed back for whoever
    /// next needs the session to restore it from the store.
    pub(super) async fn hand_back(&self, id: &SessionId) {
        tracing::warn!(session = %id, "a write failed; handing the session back to be restored");
        self.let_go(id).await;
        if let Some(cluster) = self.cluster() {
            if let Err(err) = cluster.release(id).await {
                tracing::warn!(session = %id, %err, "could not hand the session back");
                cluster.forget(id);
            }
        }
    }

    /// A session leaves this replica: sockets closed (1012), run stopped, container removed;
    /// nothing of it is written.
    async fn let_go(&self, id: &SessionId) {
        let Some((_, session)) = self.shared.sessions.remove(id) else {
            return;
        };
        // First, so that nothing makes it a container again (see `Containers::runner`).
        session.moved.cancel();
        let stopper = session.state().slot.run().map(|r| r.stopper());
        if let Some(stopper) = stopper {
            stopper.stop(StopReason::ServerShutdown).await;
        }
        if let Err(err) = self.shared.containers.release(&session).await {
            tracing::warn!(session = %id, %err, "could not remove a deposed session's container");
        }
    }

    /// An ended session's lease is forgotten a while after its end: the events that trail
    /// it (its participants leaving) are still this replica's to store.
    pub(super) fn let_lease_go(&self, id: SessionId) {
        let Some(cluster) = self.cluster().cloned() else {
            return;
        };
        // Not a tracked task: shutdown need not wait for it (the row outlives this process
        // harmlessly, as an ended session's).
        tokio::spawn(async move {
            tokio::time::sleep(ENDED_LEASE_KEPT).await;
            if let Err(err) = cluster.let_go_ended(&id).await {
                tracing::debug!(session = %id, %err, "could not remove an ended session's lease");
            }
        });
    }

    /// Drain: takes no new session and hands each of its sessions to the other replicas as
    /// soon as it is idle (their sockets reconnect there); one still running after `wait` is
    /// stopped (and recorded) first.
    pub async fn drain(&self, wait: Duration) {
        let Some(cluster) = self.cluster().cloned() else {
            return;
        };
        if let Err(err) = cluster.start_draining().await {
            tracing::warn!(%err, "could not mark this replica draining");
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let sessions: Vec<_> = self
                .shared
                .sessions
                .iter()
                .map(|e| e.value().clone())
                .collect();
            let (idle, busy): (Vec<_>, Vec<_>) = sessions
                .into_iter()
                .partition(|s| !s.state().slot.is_busy());
            for session in idle {
                self.hand_over(&cluster, session).await;
            }
            if busy.is_empty() {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    runs = busy.len(),
                    "draining: runs still going at the deadline; stopping them"
                );
                self.stop_for_shutdown().await;
                for session in busy {
                    self.hand_over(&cluster, session).await;
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Their events go out from here before this replica leaves (bounded: a receiver that
        // is down gets them from the new owners, possibly twice; deliveries carry their id).
        self.shared
            .ctx
            .audit
            .delivered(Duration::from_secs(5))
            .await;
    }

    /// One idle session to whoever needs it next: its events stored, its lease released (no
    /// replica, same epoch: taken at once, no lease to wait out), its sockets closed.
    async fn hand_over(&self, cluster: &Cluster, session: Arc<super::Session>) {
        self.shared.sessions.remove(&session.id);
        session.moved.cancel();
        self.settled().await;
        if let Err(err) = cluster.release(&session.id).await {
            tracing::warn!(session = %session.id, %err, "could not release the session");
        }
        let _ = self.shared.containers.release(&session).await;
    }

    /// The heartbeat and the janitor, until `shutdown`.
    pub fn spawn_cluster_loops(&self, shutdown: &CancellationToken) {
        let Some(cluster) = self.cluster().cloned() else {
            return;
        };
        let (registry, stop) = (self.clone(), shutdown.clone());
        let every = cluster.heartbeat_every();
        self.shared.ctx.tasks.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                // Deposed apart from the beat: removing a container must not delay the next one.
                for id in cluster.beat().await {
                    let registry = registry.clone();
                    tokio::spawn(async move { registry.depose(&id).await });
                }
            }
        });
        let (registry, stop) = (self.clone(), shutdown.clone());
        let every = Duration::from_secs_f64(self.config().cluster.janitor_seconds);
        self.shared.ctx.tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(every) => {}
                }
                registry.janitor_round().await;
            }
        });
    }

    /// Takes over a few live sessions nobody live holds, so that they expire, deliver their
    /// events and keep their deadlines even when no client asks for them.
    async fn janitor_round(&self) {
        let Some(cluster) = self.cluster() else {
            return;
        };
        if cluster.is_draining() {
            return;
        }
        if let Err(err) = cluster.forget_the_long_dead().await {
            tracing::warn!(%err, "janitor: could not remove replicas long dead");
        }
        let orphans = match cluster.orphans(JANITOR_BATCH).await {
            Ok(orphans) => orphans,
            Err(err) => {
                tracing::warn!(%err, "janitor: could not list orphaned sessions");
                return;
            }
        };
        for (id, _) in orphans {
            // A request may have taken it since the list was read.
            if cluster.holds(&id) {
                continue;
            }
            match self.take_over(&id).await {
                Ok(true) => tracing::info!(session = %id, "janitor: took an orphaned session"),
                Ok(false) => {}
                Err(err) => tracing::warn!(session = %id, %err, "janitor: takeover failed"),
            }
        }
    }
}

impl super::Session {
    /// Tells the sockets that reconnect after a failover how the cut run ended.
    fn finish_cut_run(&self, result: RunResult) {
        let mut state = self.state();
        state.last_execution = Some(result.summary.clone());
        self.publish_locked(SessionEvent::RunFinished(Arc::new(result)));
    }
}
