//! Finding a session: live in the registry, else as the store has it (ended sessions stay
//! readable). One lookup does the "live, else stored" for every reader.

use std::sync::Arc;

use super::registry::SessionRegistry;
use super::{RunSummary, Session, SessionError, SessionId, SessionSnapshot};
use crate::auth::{self, Role};
use crate::interview::Interview;
use crate::store::{ListPage, RunRecord, SessionRecord, UpdateRecord};

/// A session's document history and runs.
#[derive(Debug)]
pub struct History {
    /// The document at `base_version`, where the kept history starts.
    pub initial_document: String,
    pub base_version: u64,
    pub updates: Vec<UpdateRecord>,
    pub runs: Vec<RunRecord>,
    /// The audit trail: joins, leaves, focus, test runs, the end.
    pub events: Vec<crate::store::EventRecord>,
    pub tests: Vec<crate::questions::TestReport>,
}

/// The most test runs history carries (the newest).
pub const HISTORY_TESTS: usize = 100;

/// A session as found: live, or only in the store (it ended, or another node holds it).
enum Found {
    Live(Arc<Session>),
    Stored(Box<SessionRecord>),
}

impl SessionRegistry {
    /// The session with this id, live first, else from the store.
    async fn lookup(&self, id: &SessionId) -> Result<Found, SessionError> {
        if let Some(session) = self.get(id) {
            return Ok(Found::Live(session));
        }
        match self.shared.ctx.store.get_session(id).await? {
            Some(record) => Ok(Found::Stored(Box::new(record))),
            None => Err(SessionError::NotFound),
        }
    }

    /// A snapshot of a live session, or of an ended one from the store.
    pub async fn snapshot(&self, id: &SessionId) -> Result<SessionSnapshot, SessionError> {
        Ok(match self.lookup(id).await? {
            Found::Live(session) => session.snapshot(self.idle_ttl()),
            Found::Stored(record) => {
                let last = self.shared.ctx.store.last_run(id).await?;
                let interview = self.stored_interview(&record).await?;
                snapshot_from_record(*record, last, interview)
            }
        })
    }

    /// A stored session's interview (one made before interviews were kept started when it
    /// was made).
    pub(super) async fn stored_interview(
        &self,
        record: &SessionRecord,
    ) -> Result<Interview, SessionError> {
        let stored = self.shared.ctx.store.interview(&record.id).await?;
        Ok(stored.unwrap_or_else(|| Interview::started(record.created_at)))
    }

    /// A live or ended session's interview.
    pub async fn interview(&self, id: &SessionId) -> Result<Interview, SessionError> {
        match self.lookup(id).await? {
            Found::Live(session) => Ok(session.interview()),
            Found::Stored(record) => self.stored_interview(&record).await,
        }
    }

    /// The role a token grants on session `id`, live or ended.
    pub async fn role_for_token(
        &self,
        id: &SessionId,
        token: &str,
    ) -> Result<Option<Role>, SessionError> {
        Ok(match self.lookup(id).await? {
            Found::Live(session) => session.role_for_token(token),
            Found::Stored(record) => {
                auth::role_for_token(token, &record.interviewer_hash, &record.candidate_hash)
            }
        })
    }

    /// Everything replay needs, from the store (so it works after the session ended).
    pub async fn history(&self, id: &SessionId) -> Result<History, SessionError> {
        // First, so the record and its updates are read together, with no wait between.
        self.shared.ctx.audit.settled().await;
        let record = self
            .shared
            .ctx
            .store
            .get_session(id)
            .await?
            .ok_or(SessionError::NotFound)?;
        if record.erased_at.is_some() {
            return Err(SessionError::Erased);
        }
        Ok(History {
            initial_document: record.initial_document,
            base_version: record.base_version,
            updates: self.shared.ctx.store.updates(id).await?,
            runs: self.shared.ctx.store.runs(id).await?,
            events: self.shared.ctx.store.events(id).await?,
            tests: {
                // The newest test runs only: history stays bounded however many there were
                // (`GET /sessions/{id}/tests` pages through them all).
                let (_, total) = self.shared.ctx.store.test_reports(id, None, 0, 0).await?;
                let offset = total.saturating_sub(HISTORY_TESTS);
                self.shared
                    .ctx
                    .store
                    .test_reports(id, None, HISTORY_TESTS, offset)
                    .await?
                    .0
            },
        })
    }

    /// A live or ended session's events (its audit trail), oldest first.
    pub async fn events(
        &self,
        id: &SessionId,
    ) -> Result<Vec<crate::store::EventRecord>, SessionError> {
        self.shared
            .ctx
            .store
            .get_session(id)
            .await?
            .ok_or(SessionError::NotFound)?;
        self.shared.ctx.audit.settled().await;
        Ok(self.shared.ctx.store.events(id).await?)
    }

    /// The private notes of a live or ended session.
    pub async fn notes(&self, id: &SessionId) -> Result<String, SessionError> {
        Ok(match self.lookup(id).await? {
            Found::Live(session) => session.notes(),
            Found::Stored(record) if record.erased_at.is_some() => {
                return Err(SessionError::Erased)
            }
            Found::Stored(record) => record.notes,
        })
    }

    /// Does a session with this id exist at all (live or ended)?
    pub async fn exists(&self, id: &SessionId) -> Result<bool, SessionError> {
        match self.lookup(id).await {
            Ok(_) => Ok(true),
            Err(SessionError::NotFound) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// A page of sessions, newest first: live ones as they are now.
    pub async fn list(&self, page: &ListPage) -> Result<Vec<SessionSnapshot>, SessionError> {
        let records = self.shared.ctx.store.list_sessions(page).await?;
        let mut snapshots = Vec::with_capacity(records.len());
        for record in records {
            snapshots.push(match self.get(&record.id) {
                Some(live) => live.snapshot(self.idle_ttl()),
                None => {
                    let interview = self.stored_interview(&record).await?;
                    snapshot_from_record(record, None, interview)
                }
            });
        }
        Ok(snapshots)
    }
}

fn snapshot_from_record(
    record: SessionRecord,
    last_execution: Option<RunSummary>,
    interview: Interview,
) -> SessionSnapshot {
    SessionSnapshot {
        id: record.id,
        status: record.status,
        environment: record.environment,
        label: record.label,
        container_id: None,
        created_at: record.created_at,
        last_activity_at: record.last_activity_at,
        expires_at: record.expires_at,
        last_execution,
        participants: Vec::new(),
        erased_at: record.erased_at,
        interview,
    }
}
