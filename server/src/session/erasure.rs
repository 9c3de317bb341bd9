//! Erasure of a session's content, the candidates' personal data: now
//! (`DELETE /sessions/{id}?erase=true`) or by the retention sweep once an ended session is
//! older than `sessions.retention_days`. What is cleared is each store's `ERASE` list; the
//! write is `Context::store_erasure` in the journal. Only an ended session is erased: a live
//! one is ended first, through [`SessionRegistry::end`] (in a cluster, the owner's fenced
//! path: the edge relays the request to it), so no lease is needed for the erasure itself.

use chrono::{DateTime, Utc};

use super::registry::SessionRegistry;
use super::{EndReason, SessionError, SessionId, SessionSnapshot};

/// Sessions one sweep erases at most: a backlog (retention turned on over years of sessions)
/// is worked off a batch per reaper tick, never in one long stretch of store writes.
const SWEEP_BATCH: usize = 50;

impl SessionRegistry {
    /// Erases session `id` now, ending it first when it is live; answers its tombstone.
    /// Erasing an erased session changes nothing.
    pub async fn erase(&self, id: &SessionId) -> Result<SessionSnapshot, SessionError> {
        if let Some(session) = self.get(id) {
            self.end(&session, EndReason::Stopped).await?;
        }
        let ctx = &self.shared.ctx;
        let record = ctx
            .store
            .get_session(id)
            .await?
            .ok_or(SessionError::NotFound)?;
        if record.erased_at.is_none()
            && !ctx.store_erasure(&record, "request").await?
            && !record.status.is_ended()
        {
            // Live in the store but not here: its owner is changing hands.
            return Err(SessionError::Capacity(
                "the session is moving to another replica; try again".into(),
            ));
        }
        self.snapshot(id).await
    }

    /// Erases a batch of the ended sessions past `sessions.retention_days` at `now`; answers
    /// how many this call erased. Every replica may sweep: the store erases each session
    /// once, and a session another replica erased first is skipped.
    pub async fn sweep_retention(&self, now: DateTime<Utc>) -> usize {
        let ctx = &self.shared.ctx;
        let Some(retention) = ctx.config.sessions.retention() else {
            return 0;
        };
        let due = match ctx
            .store
            .erasable_sessions(now - retention, SWEEP_BATCH)
            .await
        {
            Ok(due) => due,
            Err(err) => {
                tracing::error!(%err, "could not list the sessions past their retention");
                return 0;
            }
        };
        let mut erased = 0;
        for id in due {
            let record = match ctx.store.get_session(&id).await {
                Ok(Some(record)) => record,
                Ok(None) => continue,
                Err(err) => {
                    tracing::error!(session = %id, %err, "could not read a session to erase");
                    continue;
                }
            };
            match ctx.store_erasure(&record, "retention").await {
                Ok(true) => erased += 1,
                Ok(false) => {}
                Err(err) => tracing::error!(session = %id, %err, "could not erase a session"),
            }
        }
        erased
    }
}
