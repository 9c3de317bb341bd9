//! The session's side of collaboration: pushing updates to its document authority, catching
//! clients up, cursors, and the interviewers' private notes. Accepted updates are fanned out
//! to every participant and appended to the store.

use std::sync::Arc;

use chrono::Utc;
use livecode_runner::path::WorkspacePath;
use serde_json::value::RawValue;

use super::{files, Session, SessionEvent, SessionRegistry};
use crate::auth::Role;
use crate::collab::{CollabError, Update};
use crate::store::{StoreError, UpdateRecord};

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
    /// Updates of the document (or of `file`) since `version`.
    pub fn updates_since(
        &self,
        file: Option<&str>,
        version: u64,
    ) -> Result<Vec<Arc<Update>>, EditError> {
        let state = self.state();
        // The document by its own file name is the document.
        let file = file.filter(|f| state.environment.settings.filename != *f);
        match file {
            None => Ok(state.doc.since(version)?),
            Some(name) => Ok(state
                .file_docs
                .get(name)
                .ok_or_else(|| no_file(name))?
                .since(version)?),
        }
    }

    /// Broadcasts a participant's selection (in the document, or in `file`).
    pub fn cursor(
        &self,
        participant: u64,
        (anchor, head, version): (u64, u64, u64),
        file: Option<String>,
    ) {
        let state = self.state();
        let file = file.filter(|f| state.environment.settings.filename != f.as_str());
        // A cursor in a file that is not there goes nowhere.
        if file
            .as_ref()
            .is_some_and(|f| !state.file_docs.contains_key(f.as_str()))
        {
            return;
        }
        if let Some(p) = state.participants.get(&participant) {
            self.publish_locked(SessionEvent::Cursor(super::events::Cursor {
                participant,
                name: p.name.clone(),
                role: p.role,
                anchor,
                head,
                version,
                file,
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
        self.push_file_updates(session, None, version, updates)
            .await
    }

    /// As `push_updates`, for `file` (another file of the workspace) when it is given.
    pub async fn push_file_updates(
        &self,
        session: &Arc<Session>,
        file: Option<&str>,
        version: u64,
        updates: Vec<(String, Box<RawValue>)>,
    ) -> Result<(), EditError> {
        // The document by its own file name is the document.
        let main = session.environment().settings.filename.clone();
        let file = file.filter(|f| main != *f);
        if let Some(name) = file {
            return self.push_to_file(session, name, version, updates).await;
        }
        let limit = self.config().limits.code_limit_bytes;
        let durable = session.stores_before_telling();
        let _in_order = match durable {
            true => Some(session.edits.lock().await),
            false => None,
        };
        let now = Utc::now();
        let (records, document, new_version, compaction, held) = {
            let mut state = session.state();
            if state.status().is_ended() {
                return Err(EditError::Ended);
            }
            // The document may grow only as far as the files leave room for.
            let others = files::files_bytes(&state.files) + DOCUMENT_NAME_BYTES;
            let room = limit.saturating_sub(others).max(state.doc.doc().len());
            let pushed = state
                .doc
                .push(version, updates, now, room)
                .map_err(|e| over_workspace(e, others, limit))?;
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
            let held = session.tell_unless(
                durable,
                SessionEvent::Updates {
                    file: None,
                    version: pushed.first,
                    updates: pushed.accepted,
                },
            );
            let document = state.doc.doc().to_string();
            (
                records,
                document,
                state.doc.version(),
                pushed.compaction,
                held,
            )
        };
        let stored = session
            .store_updates(&records, (&document, new_version), compaction)
            .await;
        self.tell_once_stored(session, held, stored).await
    }

    /// Cluster mode tells an accepted edit only once it is stored. A write the store refused
    /// (the lease moved on, or the database failed) means this replica's copy is no longer
    /// the session's: it goes, and its clients reconnect to the stored one.
    async fn tell_once_stored(
        &self,
        session: &Arc<Session>,
        held: Option<SessionEvent>,
        stored: Result<(), StoreError>,
    ) -> Result<(), EditError> {
        match (held, stored) {
            (_, Ok(())) if session.moved.is_cancelled() => return Err(EditError::Ended),
            (Some(event), Ok(())) => session.publish(event),
            (None, Ok(())) => {}
            (None, Err(err)) => {
                tracing::error!(session = %session.id, %err, "could not store an edit");
            }
            (Some(_), Err(StoreError::Fenced)) => {
                self.depose(&session.id).await;
                return Err(EditError::Ended);
            }
            (Some(_), Err(err)) => {
                self.hand_back(&session.id).await;
                return Err(EditError::Store(err.to_string()));
            }
        }
        Ok(())
    }

    /// Applies updates to one of the workspace's other files; broadcasts them and stores the
    /// file's text (its edits are not part of the document's history).
    async fn push_to_file(
        &self,
        session: &Arc<Session>,
        name: &str,
        version: u64,
        updates: Vec<(String, Box<RawValue>)>,
    ) -> Result<(), EditError> {
        // The document and every file together are at most the code limit, as a run counts
        // them: an edit that would take the workspace past it is refused, so every state a
        // session accepts can run.
        let limit = self.config().limits.code_limit_bytes;
        let durable = session.stores_before_telling();
        let _in_order = match durable {
            true => Some(session.edits.lock().await),
            false => None,
        };
        let now = Utc::now();
        let (files, versions, held) = {
            let mut state = session.state();
            if state.status().is_ended() {
                return Err(EditError::Ended);
            }
            let current = state.files.get(name).map_or(0, String::len);
            let others = files::files_bytes(&state.files) - current
                + state.doc.doc().len()
                + DOCUMENT_NAME_BYTES;
            let room = limit.saturating_sub(others).max(current);
            // The file's name as the session holds it, parsed when the file was made.
            let (name, _) = state
                .file_docs
                .get_key_value(name)
                .ok_or_else(|| no_file(name))?;
            let name = name.clone();
            let authority = state.file_docs.get_mut(&name).expect("found above");
            let pushed = authority
                .push(version, updates, now, room)
                .map_err(|e| over_workspace(e, others, limit))?;
            let text = authority.doc().to_string();
            state.files.insert(name.clone(), text);
            state.last_activity_at = now;
            let held = session.tell_unless(
                durable,
                SessionEvent::Updates {
                    file: Some(name.to_string()),
                    version: pushed.first,
                    updates: pushed.accepted,
                },
            );
            let versions: std::collections::BTreeMap<WorkspacePath, u64> = state
                .file_docs
                .iter()
                .map(|(n, d)| (n.clone(), d.version()))
                .collect();
            (state.files.clone(), versions, held)
        };
        // Every accepted push moves one file's version: their sum orders the writes.
        let rev = versions.values().sum();
        let stored = session.store_files(&files, &versions, rev).await;
        self.tell_once_stored(session, held, stored).await
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
            session.publish_locked(SessionEvent::Notes(text.clone()));
        }
        session
            .store_notes(&text)
            .await
            .map_err(|e| EditError::Store(e.to_string()))
    }
}

/// Whether a role may see an event ([`Role`]'s policy).
pub fn visible_to(event: &SessionEvent, role: Role) -> bool {
    match event {
        SessionEvent::Notes(_) => role.keeps_notes(),
        SessionEvent::Scorecard(_) => role.keeps_scorecards(),
        SessionEvent::Focus(_) => role.sees_focus(),
        SessionEvent::TestResult(r) => !r.hidden || role.sees_hidden_cases(),
        SessionEvent::QuestionTime(c) => !c.clock_hidden || role.sees_hidden_clock(),
        _ => true,
    }
}

/// What the document's own name may take in a run's workspace (a name is at most this long,
/// or the run refuses it): counted with the files, so that an accepted edit always runs.
pub const DOCUMENT_NAME_BYTES: usize = 128;

/// An edit refused for size, told as the workspace's size against the code limit.
fn over_workspace(err: CollabError, others: usize, limit: usize) -> EditError {
    match err {
        CollabError::TooLarge { size, .. } => EditError::TooLarge(format!(
            "the edit would make the document and its files {} bytes; the limit \
             (limits.code_limit_bytes) is {limit}",
            size + others
        )),
        other => other.into(),
    }
}

fn no_file(name: &str) -> EditError {
    EditError::Invalid(format!(
        "no file named '{}' in this session",
        name.chars().take(100).collect::<String>()
    ))
}
