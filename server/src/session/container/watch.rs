//! Watching sessions' containers die: a container that exits or is paused is replaced (a
//! pool container is dropped); while the engine is down every socket hears so, and when it is
//! back every live session's container is checked, since deaths during the outage were not
//! seen as events, and what the outage left behind is removed.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::Containers;
use crate::sandbox::{EngineHealth, SandboxId};
use crate::session::{LiveMap, Session, SessionError, SessionEvent};

impl Containers {
    /// Starts the container and engine watches over `live` and the pool's filler, on the
    /// tracker; each ends with `shutdown`.
    pub fn spawn_watches(&self, live: &LiveMap, shutdown: &CancellationToken) {
        let tasks = &self.ctx.tasks;
        tasks.spawn(self.clone().run_watch(live.clone(), shutdown.clone()));
        tasks.spawn(
            self.clone()
                .run_engine_watch(live.clone(), shutdown.clone()),
        );
        tasks.spawn(self.pool.clone().run_filler(shutdown.clone()));
    }

    /// Replaces the containers of live sessions as they die or are paused (killed, OOM of the
    /// keeper, removed or paused by hand), and drops dead pool containers, until `shutdown`.
    async fn run_watch(self, live: LiveMap, shutdown: CancellationToken) {
        loop {
            let mut exits = self.ctx.sandbox.watch_exits();
            loop {
                let exit = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    exit = exits.next() => exit,
                };
                match exit {
                    Some(Ok(id)) => self.on_exit(&live, id),
                    Some(Err(err)) => {
                        tracing::warn!(%err, "container events failed; watching again");
                        break;
                    }
                    None => break,
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn on_exit(&self, live: &LiveMap, id: SandboxId) {
        if self.pool.forget(&id) {
            let sandbox = self.ctx.sandbox.clone();
            self.ctx.tasks.spawn(async move {
                let _ = sandbox.remove(&id).await;
            });
            return;
        }
        let owner = live
            .iter()
            .find(|entry| entry.value().state().container.as_ref() == Some(&id))
            .map(|entry| entry.value().clone());
        let Some(session) = owner else { return };
        let this = self.clone();
        self.ctx.tasks.spawn(async move {
            if session.status().is_ended() {
                return;
            }
            this.replace(&session, &id).await;
        });
    }

    /// Follows the engine's state until `shutdown`: while it is down every socket hears
    /// `degraded`; when it is back, every live session's container is checked, a dead one is
    /// removed and replaced (with backoff), and the sockets hear the session's status again.
    /// Container deaths during the outage were not seen as events, hence the check.
    async fn run_engine_watch(self, live: LiveMap, shutdown: CancellationToken) {
        let mut engine = self.ctx.engine.clone();
        let mut down = false;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = engine.changed() => if changed.is_err() { return },
            }
            let now_down = matches!(*engine.borrow_and_update(), EngineHealth::Down(_));
            if now_down == down {
                continue;
            }
            down = now_down;
            let sessions: Vec<Arc<Session>> = live.iter().map(|e| e.value().clone()).collect();
            if down {
                for session in &sessions {
                    session.publish(SessionEvent::EngineDown);
                }
                continue;
            }
            tracing::info!(
                sessions = sessions.len(),
                "engine back: checking every session's container"
            );
            self.pool.wake();
            let back = std::time::SystemTime::now();
            for session in sessions {
                let this = self.clone();
                self.ctx
                    .tasks
                    .spawn(async move { this.heal_after_outage(session).await });
            }
            let (this, live) = (self.clone(), live.clone());
            self.ctx
                .tasks
                .spawn(async move { this.remove_leftovers(&live, back).await });
        }
    }

    /// Removes this instance's containers that nobody holds and that were made before the
    /// engine came back: what the outage left (a creation whose answer was lost, a removal
    /// that failed, a session that ended meanwhile). Newer ones may be in the making.
    async fn remove_leftovers(&self, live: &LiveMap, back: std::time::SystemTime) {
        // Containers are dated in whole seconds; a margin keeps one made as the engine came
        // back (and not yet handed to its session) out of reach.
        let before = back
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
            - 2;
        let managed = match self.ctx.sandbox.list_managed().await {
            Ok(list) => list,
            Err(err) => {
                tracing::warn!(%err, "could not list containers after the outage");
                return;
            }
        };
        let mut held = self.pool.containers();
        held.extend(
            live.iter()
                .filter_map(|e| e.value().state().container.clone()),
        );
        for m in managed {
            if held.contains(&m.id) || m.created >= before {
                continue;
            }
            tracing::warn!(container = %m.id, environment = %m.environment, "removing a container the outage left");
            if let Err(err) = self.ctx.sandbox.remove(&m.id).await {
                tracing::warn!(container = %m.id, %err, "could not remove a container the outage left");
            }
        }
    }

    async fn heal_after_outage(&self, session: Arc<Session>) {
        let container = session.state().container.clone();
        if let Some(id) = &container {
            if !matches!(self.ctx.sandbox.is_running(id).await, Ok(true))
                && self.forget(&session, id).await
            {
                tracing::warn!(session = %session.id, container = %id, "container died during the outage; replacing it");
                let _ = self.ctx.sandbox.remove(id).await;
            }
        }
        // A session whose container survived keeps it; its runner opens at its next run.
        let mut wait = Duration::from_millis(500);
        for attempt in 1..=6 {
            if session.state().container.is_some() {
                break;
            }
            match self.runner(&session).await {
                Ok(_) | Err(SessionError::Ended) => break,
                Err(err) if attempt == 6 => {
                    tracing::error!(session = %session.id, %err, "no container after the outage");
                }
                Err(err) => {
                    tracing::warn!(session = %session.id, %err, attempt, "could not make a container yet");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
        // Everyone hears the session's own status again (`ready` once it has a container).
        session.publish(SessionEvent::Status(session.status()));
    }
}
