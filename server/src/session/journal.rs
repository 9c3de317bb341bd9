//! The one door for everything a session writes: its events, to its participants and to its
//! audit trail ([`Session::publish`]), and what it keeps in the store (its record, its state
//! and status, document updates, files, notes, deadline, language, runs, test reports and
//! scorecards).
//! Nothing else in `session` writes to the store for a session, or records to its trail.
//!
//! This is the seam the cluster's fencing goes through: an owner's epoch, checked on every
//! write here, so that a deposed owner's writes fail.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use livecode_runner::path::WorkspacePath;
use uuid::Uuid;

use super::audit::Audit;
use super::context::Context;
use super::events::SessionEvent;
use super::{EndReason, RunResult, Session, SessionId, Status};
use crate::collab::Compaction;
use crate::questions::TestReport;
use crate::scorecards::{Rubric, Scorecard};
use crate::store::{EventRecord, RunRecord, SessionRecord, StoreError, UpdateRecord};

impl Session {
    /// Publishes an event (see `publish_locked`) under the state lock, in order with every
    /// other.
    pub(super) fn publish(&self, event: impl Into<Arc<SessionEvent>>) {
        let _state = self.state();
        self.publish_locked(event);
    }

    /// Records the event's audit form, if it has one, then fans the event out; the caller
    /// holds the state lock. Whoever hears of an event finds it in the trail (readers wait for
    /// what was recorded before them), so "recorded before its live message" holds here.
    pub(super) fn publish_locked(&self, event: impl Into<Arc<SessionEvent>>) {
        let event = event.into();
        if let Some(audit) = event.audit() {
            self.ctx.audit.record(self.id, audit.kind(), audit.data());
        }
        self.events.send(event);
    }

    /// Records `event`'s audit form and waits until it is stored: for an event whose audit
    /// form must not be lost with this replica once anyone has heard of it. Tell it with
    /// [`tell_locked`](Self::tell_locked) then, not `publish`, which would record it again.
    pub(super) async fn record_stored(&self, event: &SessionEvent) {
        if let Some(audit) = event.audit() {
            self.ctx.audit.record(self.id, audit.kind(), audit.data());
            self.ctx.audit.settled().await;
        }
    }

    /// Fans out an event [`record_stored`](Self::record_stored) recorded; the caller holds
    /// the state lock.
    pub(super) fn tell_locked(&self, event: SessionEvent) {
        self.events.send(Arc::new(event));
    }

    /// Publishes `event` now (the caller holds the state lock), unless `hold`: then it is
    /// handed back, to be published once what it tells is stored.
    pub(super) fn tell_unless(&self, hold: bool, event: SessionEvent) -> Option<SessionEvent> {
        if hold {
            return Some(event);
        }
        self.publish_locked(event);
        None
    }

    /// Writes the session's status, container and last activity to the store; a failure is
    /// logged, not fatal (the next write carries the same fields).
    pub(super) async fn persist_state(&self, status: Status, reason: Option<EndReason>) {
        let _ = self.try_persist_state(status, reason).await;
    }

    /// As `persist_state`, answering the store's error too (logged either way).
    pub(super) async fn try_persist_state(
        &self,
        status: Status,
        reason: Option<EndReason>,
    ) -> Result<(), StoreError> {
        let (container, last_activity) = {
            let state = self.state();
            (
                state.container.as_ref().map(|c| c.0.clone()),
                state.last_activity_at,
            )
        };
        if let Err(err) = self
            .ctx
            .store
            .update_session_state(
                &self.id,
                status,
                container.as_deref(),
                last_activity,
                reason,
            )
            .await
        {
            tracing::error!(session = %self.id, %err, "could not store the session state");
            return Err(err);
        }
        Ok(())
    }

    /// Appends accepted document updates and the document they make; folds the oldest into
    /// the base when the history outgrew its bound. Answers whether the updates were stored
    /// (a failed compaction is only logged: the next one folds more).
    pub(super) async fn store_updates(
        &self,
        records: &[UpdateRecord],
        (document, version): (&str, u64),
        compaction: Option<Compaction>,
    ) -> Result<(), StoreError> {
        let store = &self.ctx.store;
        store
            .append_updates(&self.id, records, document, version)
            .await?;
        if let Some(c) = compaction {
            tracing::info!(session = %self.id, base_version = c.base_version, "edit history over its bound; folded the oldest updates into the base");
            if let Err(err) = store
                .compact_updates(&self.id, c.base_version, &c.base_document)
                .await
            {
                tracing::error!(session = %self.id, %err, "could not compact the stored history");
            }
        }
        Ok(())
    }

    /// Keeps the other files' text and versions; `rev` orders the writes.
    pub(super) async fn store_files(
        &self,
        files: &BTreeMap<WorkspacePath, String>,
        versions: &BTreeMap<WorkspacePath, u64>,
        rev: u64,
    ) -> Result<(), StoreError> {
        self.ctx
            .store
            .set_files(&self.id, files, versions, rev)
            .await
    }

    /// Whether edits are stored before anyone hears of them: in a cluster, where an edit
    /// everyone saw must survive the loss of this replica.
    pub(super) fn stores_before_telling(&self) -> bool {
        self.ctx.cluster.is_some()
    }

    /// As `subscribe`, at a moment when no edit is between its acceptance and its telling
    /// (cluster mode), so that the snapshot holds no edit that is not stored yet, and none
    /// is told to it twice.
    pub async fn subscribe_told(
        &self,
        idle_ttl: chrono::Duration,
        after: Option<(Uuid, u64)>,
    ) -> super::Subscription {
        let _no_edit_in_flight = match self.stores_before_telling() {
            true => Some(self.edits.lock().await),
            false => None,
        };
        self.subscribe(idle_ttl, after)
    }

    /// Keeps the interview whole: its stage, mode and the times of its clock.
    pub(super) async fn store_interview(
        &self,
        interview: &crate::interview::Interview,
    ) -> Result<(), StoreError> {
        self.ctx.store.set_interview(&self.id, interview).await
    }

    pub(super) async fn store_notes(&self, text: &str) -> Result<(), StoreError> {
        self.ctx.store.set_notes(&self.id, text).await
    }

    /// An interviewer's scorecard, then its event to interviewers (recorded as
    /// `scorecard.submitted` when submitted). False: the stored card is submitted, and nothing
    /// was written or told.
    pub(super) async fn store_scorecard(&self, card: &Scorecard) -> Result<bool, StoreError> {
        if !self.ctx.store.put_scorecard(&self.id, card).await? {
            return Ok(false);
        }
        self.publish(SessionEvent::Scorecard(Arc::new(card.clone())));
        Ok(true)
    }

    pub(super) async fn store_deadline(&self, deadline: DateTime<Utc>) -> Result<(), StoreError> {
        self.ctx.store.set_deadline(&self.id, deadline).await
    }

    /// Keeps a language switch: the environment now, and the documents of the others.
    pub(super) async fn store_environment(&self, name: &str, documents: &BTreeMap<String, String>) {
        if let Err(err) = self
            .ctx
            .store
            .set_environment(&self.id, name, documents)
            .await
        {
            tracing::error!(session = %self.id, %err, "could not store the language switch");
        }
    }

    /// A templated session's way through its template (with its current question).
    pub(super) async fn store_progress(
        &self,
        progress: &crate::templates::Progress,
    ) -> Result<(), StoreError> {
        self.ctx
            .store
            .set_session_template(&self.id, progress)
            .await
    }

    /// A run as it starts.
    pub(super) async fn store_run(&self, record: &RunRecord) {
        if let Err(err) = self.ctx.store.insert_run(record).await {
            tracing::error!(session = %self.id, %err, "could not store the run");
        }
    }

    /// A run's result (the oldest runs past `sessions.runs_kept_in_full` keep their summary).
    pub(super) async fn store_run_result(&self, result: &RunResult) {
        let keep = self.ctx.config.sessions.runs_kept_in_full;
        if let Err(err) = self.ctx.store.finish_run(&self.id, result, keep).await {
            tracing::error!(session = %self.id, %err, "could not store the run's result");
        }
    }

    pub(super) async fn store_test_report(&self, report: &TestReport) {
        let keep = self.ctx.config.sessions.runs_kept_in_full;
        if let Err(err) = self
            .ctx
            .store
            .insert_test_report(&self.id, report, keep)
            .await
        {
            tracing::error!(session = %self.id, %err, "could not store the test report");
        }
    }
}

impl Context {
    /// A new session's record, question and rubric, and its `session.created` in the trail
    /// (nobody can hear of the session before this returns).
    pub(super) async fn store_new_session(
        &self,
        record: &SessionRecord,
        interview: &crate::interview::Interview,
        (question, rubric): (Option<Uuid>, &Rubric),
        created: Audit,
    ) -> Result<(), StoreError> {
        self.store.insert_session(record).await?;
        self.store.set_rubric(&record.id, rubric).await?;
        // Before the session is answered, so nobody sees a lobby's session as started.
        self.store.set_interview(&record.id, interview).await?;
        if let Some(question) = &question {
            self.store
                .set_session_question(&record.id, question)
                .await?;
        }
        self.audit.record(record.id, created.kind(), created.data());
        Ok(())
    }

    /// A scorecard of a session that ended (nobody hears of it live), and its
    /// `scorecard.submitted` in the trail when submitted. False: as `store_scorecard`.
    pub(super) async fn store_ended_scorecard(
        &self,
        id: &SessionId,
        card: &Scorecard,
    ) -> Result<bool, StoreError> {
        if !self.store.put_scorecard(id, card).await? {
            return Ok(false);
        }
        if let Some(audit) = Audit::of_scorecard(card) {
            self.audit.record(*id, audit.kind(), audit.data());
        }
        Ok(true)
    }

    /// A new templated session's way through its template (before anyone can hear of it).
    pub(super) async fn store_new_progress(
        &self,
        id: &SessionId,
        progress: &crate::templates::Progress,
    ) -> Result<(), StoreError> {
        self.store.set_session_template(id, progress).await
    }

    /// A stored session that cannot come back (its environment is gone) ends as `error`.
    pub(super) async fn store_lost_session(&self, record: &SessionRecord) {
        let _ = self
            .store
            .update_session_state(
                &record.id,
                Status::Error,
                None,
                record.last_activity_at,
                Some(EndReason::Error),
            )
            .await;
    }

    /// Erases an ended session's content in one store transaction
    /// ([`Store::erase_session`](crate::store::Store::erase_session)) with its
    /// `session.erased`, which then goes to the webhook in place of the session's events still
    /// waiting. First waits for what was recorded before (its end's events), so none lands
    /// after; one recorded later is refused by the store. False when the session was not
    /// ended, or was erased already (by another replica's sweep, say).
    pub(super) async fn store_erasure(
        &self,
        record: &SessionRecord,
        reason: &'static str,
    ) -> Result<bool, StoreError> {
        let audit = Audit::Erased {
            reason,
            status: record.status,
            ended_reason: record.ended_reason,
        };
        let event = EventRecord {
            id: Uuid::new_v4(),
            session_id: record.id,
            kind: audit.kind().to_string(),
            at: Utc::now(),
            data: audit.data(),
        };
        self.audit.settled().await;
        let erased = self.store.erase_session(&record.id, &event).await?;
        if erased {
            tracing::info!(session = %record.id, reason, "session content erased");
            self.audit.erased(event);
        }
        Ok(erased)
    }

    /// Marks the runs the last shutdown cut short as `error`; answers their sessions.
    pub(super) async fn fail_unfinished_runs(&self) -> Result<Vec<SessionId>, StoreError> {
        self.store.fail_unfinished_runs().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::config::Config;
    use crate::session::events::Focus;
    use crate::session::{NewSession, SessionRegistry, BY_KEY};
    use crate::store::{SqliteStore, Store};

    /// A subscriber that hears of an event finds it in the trail, once it has waited for what
    /// was recorded before it (as every reader of the trail does): the audit form is recorded
    /// before the event is fanned out. The subscriber runs on its own thread, so it reads as
    /// soon as it is woken.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_is_recorded_before_a_subscriber_hears_of_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).expect("store"));
        let sessions = SessionRegistry::offline(store.clone(), Arc::new(Config::defaults()));
        let new = NewSession {
            created_by: BY_KEY.into(),
            ..Default::default()
        };
        let session = sessions.create(new).await.expect("created").session;
        let mut events = session.subscribe(sessions.idle_ttl(), None).events;
        const EVENTS: u64 = 50;
        let (trail, id) = (sessions.clone(), session.id);
        let subscriber = tokio::spawn(async move {
            let mut heard = 0;
            while heard < EVENTS {
                let event = events.recv().await.expect("keeps up");
                let SessionEvent::Focus(focus) = &*event else {
                    continue;
                };
                trail.settled().await;
                let recorded = store.events(&id).await.expect("the trail");
                assert!(
                    recorded.iter().any(|e| e.kind == "participant.focus"
                        && e.data["participant"] == focus.participant),
                    "participant {} heard of before it was recorded",
                    focus.participant
                );
                heard += 1;
            }
        });
        for participant in 0..EVENTS {
            session.publish(SessionEvent::Focus(Focus {
                participant,
                name: "Ada".into(),
                role: Role::Candidate,
                focused: participant % 2 == 0,
                at: Utc::now(),
            }));
            tokio::task::yield_now().await;
        }
        subscriber
            .await
            .expect("the subscriber heard every event in the trail");
    }
}
