//! After a restart: live sessions come back from the store and their containers are adopted
//! (their runners re-opened at the next run, lazily); containers no session owns go to the
//! warm pool or are removed.

use std::collections::HashSet;

use super::container::spec;
use super::registry::SessionRegistry;
use super::{EndReason, SessionError, Status};
use crate::collab::Update;
use crate::sandbox::{ManagedSandbox, SandboxId};
use crate::store::SessionRecord;

impl SessionRegistry {
    /// After a restart: brings back every live session from the store and adopts its
    /// container if it still runs, is of the session's environment and is made from today's
    /// image and spec (its runner is re-opened at its next run, so many adopted sessions cost
    /// no execs at once), else makes a new one. Containers no live session owns go to the warm pool or are removed.
    pub async fn restore(&self) -> Result<usize, SessionError> {
        let cut_short = self.shared.store.fail_unfinished_runs().await?;
        if !cut_short.is_empty() {
            // Their programs ended with the old server's runner streams (a runner whose
            // stdin ends kills every process of the run's uid).
            tracing::warn!(
                sessions = cut_short.len(),
                "runs cut short by the last shutdown marked as error"
            );
        }
        let records = self.shared.store.live_sessions().await?;
        let managed = match self.shared.containers.sandbox.list_managed().await {
            Ok(list) => list,
            Err(err) => {
                tracing::error!(%err, "cannot list containers; sessions will get new ones");
                Vec::new()
            }
        };
        let mut kept = HashSet::new();
        // A container a session named but did not adopt (another language's) served that
        // session: it is removed, never handed to another one.
        let named: HashSet<String> = records
            .iter()
            .filter_map(|r| r.container_id.clone())
            .collect();
        let mut restored = 0;
        for record in records {
            if self.shared.environments.get(&record.environment).is_none() {
                tracing::error!(session = %record.id, environment = %record.environment, "environment is gone; ending session");
                let _ = self
                    .shared
                    .store
                    .update_session_state(
                        &record.id,
                        Status::Error,
                        None,
                        record.last_activity_at,
                        Some(EndReason::Error),
                    )
                    .await;
                continue;
            }
            // Of the session's language too: a crash in the middle of a language switch may
            // leave the store naming the other language's container.
            let adopted = managed
                .iter()
                .find(|m| {
                    Some(&m.id.0) == record.container_id.as_ref()
                        && m.environment == record.environment
                        && self.current(m)
                })
                .map(|m| m.id.clone());
            if let Some(id) = &adopted {
                kept.insert(id.clone());
            }
            self.bring_back(record, adopted).await?;
            restored += 1;
        }
        let pool = &self.shared.containers.pool;
        for m in managed.into_iter().filter(|m| !kept.contains(&m.id)) {
            if !named.contains(&m.id.0)
                && self.current(&m)
                && pool.adopt(&m.environment, m.id.clone())
            {
                tracing::info!(container = %m.id, environment = %m.environment, "adopting a pool container");
                continue;
            }
            tracing::info!(container = %m.id, "removing a container no live session owns");
            if let Err(err) = self.shared.containers.sandbox.remove(&m.id).await {
                tracing::warn!(container = %m.id, %err, "could not remove container");
            }
        }
        Ok(restored)
    }

    /// One live session back in the registry, with its history and last run, in the container
    /// it had (or a new one, made in the background).
    async fn bring_back(
        &self,
        record: SessionRecord,
        adopted: Option<SandboxId>,
    ) -> Result<(), SessionError> {
        let store = &self.shared.store;
        let last = store.last_run(&record.id).await?;
        let updates = store
            .updates(&record.id)
            .await?
            .into_iter()
            .map(|u| Update {
                client_id: u.client_id,
                changes: u.changes,
                at: u.at,
            })
            .collect();
        let has_container = adopted.is_some();
        let session = self.insert(record, updates, adopted, None, last);
        if has_container {
            self.shared
                .containers
                .persist_state(&session, Status::Ready, None)
                .await;
        } else {
            self.shared.containers.spawn_ensure(session);
        }
        Ok(())
    }

    /// A container worth keeping: running, of a ready environment, made from its image as it
    /// is now and with today's spec.
    fn current(&self, m: &ManagedSandbox) -> bool {
        let Some(env) = self.shared.environments.get(&m.environment) else {
            return false;
        };
        m.running
            && env.is_ready()
            && env.image_id().as_deref() == Some(m.image_id.as_str())
            && m.spec_digest == spec(&self.shared.config, env).digest()
    }
}
