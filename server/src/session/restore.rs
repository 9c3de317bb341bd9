//! After a restart: live sessions come back from the store and their containers are adopted
//! (their runners re-opened at the next run, lazily); containers no session owns go to the
//! warm pool or are removed.

use std::collections::HashSet;

use super::registry::SessionRegistry;
use super::{SessionError, Status};
use crate::collab::Update;
use crate::sandbox::SandboxId;
use crate::store::SessionRecord;

impl SessionRegistry {
    /// After a restart: brings back every live session from the store and adopts its
    /// container if it still runs, is of the session's environment and is made from today's
    /// image and spec (its runner is re-opened at its next run, so many adopted sessions cost
    /// no execs at once), else makes a new one. Containers no live session owns go to the warm pool or are removed.
    pub async fn restore(&self) -> Result<usize, SessionError> {
        let (ctx, containers) = (&self.shared.ctx, &self.shared.containers);
        if ctx.cluster.is_some() {
            // In a cluster, sessions come back one by one, on whichever replica needs them
            // first (a takeover); this one only sorts out the containers it left.
            let managed = containers.managed().await;
            containers.take_leftovers(managed, &HashSet::new()).await;
            return Ok(0);
        }
        let cut_short = ctx.fail_unfinished_runs().await?;
        if !cut_short.is_empty() {
            // Their programs ended with the old server's runner streams (a runner whose
            // stdin ends kills every process of the run's uid).
            tracing::warn!(
                sessions = cut_short.len(),
                "runs cut short by the last shutdown marked as error"
            );
        }
        let records = ctx.store.live_sessions().await?;
        let managed = containers.managed().await;
        let mut kept = HashSet::new();
        // A container a session named but did not adopt (another language's) served that
        // session: it is removed, never handed to another one.
        let named: HashSet<String> = records
            .iter()
            .filter_map(|r| r.container_id.clone())
            .collect();
        let mut restored = 0;
        for record in records {
            if ctx.environments.get(&record.environment).is_none() {
                tracing::error!(session = %record.id, environment = %record.environment, "environment is gone; ending session");
                ctx.store_lost_session(&record).await;
                continue;
            }
            // Of the session's language too: a crash in the middle of a language switch may
            // leave the store naming the other language's container.
            let adopted = managed
                .iter()
                .find(|m| {
                    Some(&m.id.0) == record.container_id.as_ref()
                        && m.environment == record.environment
                        && containers.current(m)
                })
                .map(|m| m.id.clone());
            if let Some(id) = &adopted {
                kept.insert(id.clone());
            }
            self.bring_back(record, adopted).await?;
            restored += 1;
        }
        let leftovers = managed.into_iter().filter(|m| !kept.contains(&m.id));
        containers.take_leftovers(leftovers.collect(), &named).await;
        Ok(restored)
    }

    /// One live session back in the registry, with its history and last run, in the container
    /// it had (or a new one, made in the background).
    pub(super) async fn bring_back(
        &self,
        record: SessionRecord,
        adopted: Option<SandboxId>,
    ) -> Result<std::sync::Arc<super::Session>, SessionError> {
        let store = &self.shared.ctx.store;
        let last = store.last_run(&record.id).await?;
        let template = store.session_template(&record.id).await?;
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
        let interview = self.stored_interview(&record).await?;
        let session = self.insert((record, interview), updates, adopted, None, last, template);
        if has_container {
            session.persist_state(Status::Ready, None).await;
        } else {
            self.shared.containers.spawn_ensure(session.clone());
        }
        Ok(session)
    }
}
