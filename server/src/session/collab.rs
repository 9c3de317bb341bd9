//! The session's side of collaboration: pushing updates to its document authority, catching
//! clients up, cursors, and the interviewers' private notes. Accepted updates are fanned out
//! to every participant and appended to the store.

use std::sync::Arc;

use chrono::Utc;
use serde_json::value::RawValue;

use super::{Session, SessionEvent, SessionRegistry};
use crate::auth::Role;
use crate::collab::{CollabError, Update};
use crate::store::UpdateRecord;

/// Longest private notes accepted, in bytes.
pub const NOTES_LIMIT: usize = 64 * 1024;

/// Why an edit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// Not based on the current version: rebase over what was missed and push again.
    #[error("the document moved on to version {current}")]
    Stale { current: u64 },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("the session has ended")]
    Ended,
    /// The store failed; the client hears `INTERNAL`, the log has the detail.
    #[error("internal error")]
    Store(String),
}

impl From<CollabError> for EditError {
    fn from(err: CollabError) -> Self {
        match err {
            CollabError::Stale { current, .. } => Self::Stale { current },
            CollabError::TooLarge { .. } => Self::TooLarge(err.to_string()),
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl Session {
    /// Updates since `version`, and the version they start at.
    pub fn updates_since(&self, version: u64) -> Result<Vec<Arc<Update>>, EditError> {
        Ok(self.state().doc.since(version)?)
    }

    /// Broadcasts a participant's selection.
    pub fn cursor(&self, participant: u64, anchor: u64, head: u64, version: u64) {
        let state = self.state();
        if let Some(p) = state.participants.get(&participant) {
            self.emit_locked(SessionEvent::Cursor(super::events::Cursor {
                participant,
                name: p.name.clone(),
                role: p.role,
                anchor,
                head,
                version,
            }));
        }
    }

    /// The interviewers' private notes.
    pub fn notes(&self) -> String {
        self.state().notes.clone()
    }
}

impl SessionRegistry {
    /// Applies updates made on `version`; broadcasts and stores them.
    pub async fn push_updates(
        &self,
        session: &Arc<Session>,
        version: u64,
        updates: Vec<(String, Box<RawValue>)>,
    ) -> Result<(), EditError> {
        let limit = self.config().limits.code_limit_bytes;
        let now = Utc::now();
        let (records, document, new_version, compaction) = {
            let mut state = session.state();
            if state.status.is_ended() {
                return Err(EditError::Ended);
            }
            let pushed = state.doc.push(version, updates, now, limit)?;
            state.last_activity_at = now;
            let records = pushed
                .accepted
                .iter()
                .enumerate()
                .map(|(i, u)| UpdateRecord {
                    version: pushed.first + i as u64,
                    at: u.at,
                    client_id: u.client_id.clone(),
                    changes: u.changes.clone(),
                })
                .collect::<Vec<_>>();
            session.emit_locked(SessionEvent::Updates {
                version: pushed.first,
                updates: pushed.accepted,
            });
            let document = state.doc.doc().to_string();
            (records, document, state.doc.version(), pushed.compaction)
        };
        let store = &self.shared.store;
        if let Err(err) = store
            .append_updates(&session.id, &records, &document, new_version)
            .await
        {
            tracing::error!(session = %session.id, %err, "could not store document updates");
        }
        if let Some(c) = compaction {
            tracing::info!(session = %session.id, base_version = c.base_version, "edit history over its bound; folded the oldest updates into the base");
            if let Err(err) = store
                .compact_updates(&session.id, c.base_version, &c.base_document)
                .await
            {
                tracing::error!(session = %session.id, %err, "could not compact the stored history");
            }
        }
        Ok(())
    }

    /// Replaces the private notes; only interviewers hear of it.
    pub async fn set_notes(&self, session: &Arc<Session>, text: String) -> Result<(), EditError> {
        if text.len() > NOTES_LIMIT {
            return Err(EditError::TooLarge(format!(
                "notes are {} bytes; the limit is {NOTES_LIMIT}",
                text.len()
            )));
        }
        {
            let mut state = session.state();
            state.notes = text.clone();
            session.emit_locked(SessionEvent::Notes(text.clone()));
        }
        self.shared
            .store
            .set_notes(&session.id, &text)
            .await
            .map_err(|e| EditError::Store(e.to_string()))
    }
}

/// Whether a role may see an event (notes are for interviewers only).
pub fn visible_to(event: &SessionEvent, role: Role) -> bool {
    match event {
        SessionEvent::Notes(_) | SessionEvent::Focus(_) => role == Role::Interviewer,
        SessionEvent::TestResult(r) => !r.hidden || crate::questions::sees_hidden(role),
        _ => true,
    }
}
