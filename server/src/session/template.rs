//! A session made from a template: moving between its questions, each keeping its own code per
//! language (as languages keep theirs: the document left is kept under its question, the one
//! arrived at is the question's own, else its starter, else the language's template), the
//! current question's clock (a warning before its time is up, a notice at it), and a
//! question's tests run against that question's own code.
//!
//! The workspace's other files belong to the session, not to a question: they stay as they
//! are across moves (data files an interviewer prepared serve every question).
//!
//! A move replaces the document by an ordinary update from the server, so everyone sees it
//! live and replay has it; it is stored (the template's way and the current question in one
//! write, through `journal`) and marked in the trail (`question.changed`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::events::QuestionClock;
use super::registry::SessionRegistry;
use super::slot::{Claim, SlotGuard};
use super::{Session, SessionError, SessionEvent, SessionId, TestsHandle};
use crate::auth::Role;
use crate::questions::Question;
use crate::templates::Progress;

impl SessionRegistry {
    /// Moves `session` to question `index` of its template (a no-op when it is there): its
    /// clock starts now, candidates see it from now on, its code comes back.
    pub async fn set_question(
        &self,
        session: &Arc<Session>,
        index: usize,
        by: Role,
    ) -> Result<(), SessionError> {
        // Not in a lobby for `by`, nor once a take-home was handed in (its code is final).
        session.check_open(by)?;
        let progress = session
            .state()
            .template
            .as_ref()
            .map(Progress::outline)
            .ok_or(SessionError::NoTemplate)?;
        if index >= progress.steps.len() {
            return Err(SessionError::InvalidArgument(format!(
                "index must be below {} (the template's questions)",
                progress.steps.len()
            )));
        }
        if index == progress.current {
            return Ok(());
        }
        let question = self.template_question(&progress, index).await?;
        // The slot excludes a run, a test run, a switch or another move meanwhile.
        let Some((slot, arrived)) = claim(session, index, &question)? else {
            return Ok(());
        };
        let left = self.replace_document(session, &arrived).await?;
        let (stored, documents, environment) = {
            let mut state = session.state();
            let _ = slot.release_locked(&mut state);
            let environment = state.environment.name.clone();
            let mut documents = std::mem::take(&mut state.documents);
            let mut template = state.template.take().expect("checked above");
            let from = template.current;
            documents.insert(environment.clone(), left);
            let from_id = template.current_step().question_id;
            template.codes.insert(from_id, documents);
            let mut kept = template
                .codes
                .remove(&question.question_id)
                .unwrap_or_default();
            kept.remove(&environment);
            state.documents = kept;
            template
                .move_to(index, Utc::now())
                .expect("an index of the template");
            state.question_told = None;
            session.publish_locked(SessionEvent::QuestionChanged {
                progress: Arc::new(template.outline()),
                from,
                by,
                clock_hidden: state.interview.clock_hidden,
            });
            let stored = template.clone();
            state.template = Some(template);
            (stored, state.documents.clone(), environment)
        };
        session.store_progress(&stored).await?;
        session.store_environment(&environment, &documents).await;
        Ok(())
    }

    /// Session `id`'s way through its template (live, else as stored), without the kept codes.
    pub async fn template(&self, id: &SessionId) -> Result<Option<Progress>, SessionError> {
        if let Some(session) = self.get(id) {
            return Ok(session.template());
        }
        let stored = self.shared.ctx.store.session_template(id).await?;
        Ok(stored.as_ref().map(Progress::outline))
    }

    /// Question `index` of session `id`'s template, if `role` may see it: the one place REST
    /// reads a template's question for a session's token (candidates and observers: only the
    /// questions reached so far; `Progress::view` is the same rule for the navigator).
    pub async fn template_question_for(
        &self,
        id: &SessionId,
        index: usize,
        role: Role,
    ) -> Result<Option<Question>, SessionError> {
        let progress = self.template(id).await?.ok_or(SessionError::NoTemplate)?;
        if !progress.shows(index, role) {
            return Ok(None);
        }
        self.template_question(&progress, index).await.map(Some)
    }

    /// Whether session `id` shows question `question` to `role`: its question, or for a
    /// template one of its questions `role` may see.
    pub async fn shows_question(
        &self,
        id: &SessionId,
        question: &uuid::Uuid,
        role: Role,
    ) -> Result<bool, SessionError> {
        let Some(progress) = self.template(id).await? else {
            return Ok(self.shared.ctx.store.session_question(id).await? == Some(*question));
        };
        Ok(progress
            .steps
            .iter()
            .enumerate()
            .any(|(i, s)| s.question_id == *question && progress.shows(i, role)))
    }

    /// Question `index` of the session's template, from the store.
    pub(super) async fn template_question(
        &self,
        progress: &Progress,
        index: usize,
    ) -> Result<Question, SessionError> {
        let id = progress.steps[index].question_id;
        self.shared
            .ctx
            .store
            .get_question(&id)
            .await?
            .ok_or_else(|| SessionError::InvalidArgument(format!("question {id} is gone")))
    }

    /// Runs question `index`'s tests against that question's own code (its document in the
    /// session's language now: the live one for the current question, the one it kept for
    /// another, else its starter), and keeps the report under that question. For a take-home
    /// Submit, every question reached in turn. Only a question reached so far: every socket
    /// hears a test run's cases, candidates' too.
    pub async fn run_question_tests(
        &self,
        session: &Arc<Session>,
        index: usize,
        by: Role,
    ) -> Result<TestsHandle, SessionError> {
        session.check_open(by)?;
        self.test_question(session, index, by).await
    }

    /// [`Self::run_question_tests`] without the interview's check: a take-home's submission,
    /// which runs after the session is read-only.
    pub(super) async fn test_question(
        &self,
        session: &Arc<Session>,
        index: usize,
        by: Role,
    ) -> Result<TestsHandle, SessionError> {
        let progress = session
            .state()
            .template
            .clone()
            .ok_or(SessionError::NoTemplate)?;
        if !progress.was_reached(index) {
            return Err(SessionError::InvalidArgument(format!(
                "question {index} was not reached yet"
            )));
        }
        let question = self.template_question(&progress, index).await?;
        let code = (index != progress.current).then(|| {
            let env = session.environment();
            progress
                .codes
                .get(&question.question_id)
                .and_then(|codes| codes.get(&env.name).cloned())
                .or_else(|| question.starters.get(&env.name).cloned())
                .unwrap_or_else(|| env.template())
        });
        self.start_tests_of(session, question, code, by)
    }

    /// Tells every templated session whose current question's clock reached its warning or
    /// its end at `now`, once for each (the reaper's tick).
    pub fn tell_question_times(&self, now: DateTime<Utc>) {
        for entry in self.shared.sessions.iter() {
            let session = entry.value();
            let mut state = session.state();
            // A question's clock runs only while the interview does: not in a lobby, nor
            // after a take-home's submission.
            let running = state.interview.stage == crate::interview::Stage::Live;
            if state.status().is_ended() || !running {
                continue;
            }
            let Some(progress) = &state.template else {
                continue;
            };
            let (Some(time), Some(ends_at)) = (progress.time(now), progress.ends_at()) else {
                continue;
            };
            let told = (progress.current, progress.question_started_at, time);
            let known = state.question_told.is_some_and(|(index, started, was)| {
                (index, started) == (told.0, told.1) && was >= time
            });
            if known {
                continue;
            }
            let clock = QuestionClock {
                index: progress.current,
                time,
                ends_at,
                question_id: progress.current_step().question_id,
                clock_hidden: state.interview.clock_hidden,
            };
            state.question_told = Some(told);
            session.publish_locked(SessionEvent::QuestionTime(clock));
        }
    }
}

impl Session {
    /// At the interview's Start (or a take-home's first open), a template's current question
    /// starts its clock there too; a session without a template has none.
    pub async fn restart_question_if_templated(&self, by: Role) -> Result<(), SessionError> {
        if self.state().template.is_none() {
            return Ok(());
        }
        self.restart_current_question(by).await
    }

    /// The current question (re)starts now: its clock counts from here, and everyone hears
    /// (`question_changed`, to the same question). For the interview's Start.
    pub async fn restart_current_question(&self, by: Role) -> Result<(), SessionError> {
        let stored = {
            let mut state = self.state();
            let mut template = state.template.take().ok_or(SessionError::NoTemplate)?;
            let current = template.current;
            template.start_here(Utc::now());
            state.question_told = None;
            self.publish_locked(SessionEvent::QuestionChanged {
                progress: Arc::new(template.outline()),
                from: current,
                by,
                clock_hidden: state.interview.clock_hidden,
            });
            let stored = template.clone();
            state.template = Some(template);
            stored
        };
        Ok(self.store_progress(&stored).await?)
    }

    /// The session's way through its template, when it has one (without the kept codes).
    pub fn template(&self) -> Option<Progress> {
        self.state().template.as_ref().map(Progress::outline)
    }
}

/// Takes the run slot for a move to `question` (at `index`), and answers the document it
/// arrives at: the one it kept in the session's language, else its starter, else the
/// language's template. `None` when the session is there already (another move came first).
fn claim(
    session: &Arc<Session>,
    index: usize,
    question: &Question,
) -> Result<Option<(SlotGuard, String)>, SessionError> {
    let mut state = session.state();
    let taken = state.slot.try_take(Claim::Switch)?;
    if state.template.as_ref().is_some_and(|t| t.current == index) {
        state.slot.release(taken);
        return Ok(None);
    }
    let env = state.environment.clone();
    let kept: Option<&BTreeMap<String, String>> = state
        .template
        .as_ref()
        .and_then(|t| t.codes.get(&question.question_id));
    let arrived = kept
        .and_then(|codes| codes.get(&env.name).cloned())
        .or_else(|| question.starters.get(&env.name).cloned())
        .unwrap_or_else(|| env.template());
    drop(state);
    Ok(Some((SlotGuard::new(session.clone(), taken), arrived)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::session::{NewSession, BY_KEY};
    use crate::store::{SqliteStore, Store};
    use crate::templates::{NewTemplate, QuestionTime};

    /// A session of a two-question template (10 minutes for the first), on an offline
    /// registry, with a subscriber.
    async fn session() -> (
        SessionRegistry,
        Arc<Session>,
        super::super::EventReceiver,
        tempfile::TempDir,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).expect("store"));
        let mut ids = Vec::new();
        for title in ["One", "Two"] {
            let question: crate::questions::NewQuestion =
                serde_json::from_value(serde_json::json!({"title": title})).expect("question");
            let question = question.validate(&[], 10.0).expect("valid");
            store
                .insert_question(&question, BY_KEY)
                .await
                .expect("kept");
            ids.push(question.question_id);
        }
        let template: NewTemplate = serde_json::from_value(serde_json::json!({"name": "Loop",
            "questions": [{"question_id": ids[0], "minutes": 10}, {"question_id": ids[1]}]}))
        .expect("template");
        let template = template.validate().expect("valid");
        store
            .insert_template(&template, BY_KEY)
            .await
            .expect("kept");
        let sessions = SessionRegistry::offline(store, Arc::new(Config::defaults()));
        let new = NewSession {
            created_by: BY_KEY.into(),
            template: Some(template.template_id),
            ..Default::default()
        };
        let session = sessions.create(new).await.expect("created").session;
        let events = session.subscribe(sessions.idle_ttl(), None).events;
        (sessions, session, events, dir)
    }

    /// The current question restarts (the interview's Start): its clock counts from now, it
    /// is stored, and everyone hears it; its warning and end are told once each.
    #[tokio::test]
    async fn the_current_question_restarts_and_its_clock_is_told_once() {
        let (sessions, session, mut events, _dir) = session().await;
        let before = session.template().expect("a template").question_started_at;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        session
            .restart_current_question(Role::Interviewer)
            .await
            .expect("restarted");
        let now = session.template().expect("a template");
        assert!(now.question_started_at > before);
        let stored = sessions
            .shared
            .ctx
            .store
            .session_template(&session.id)
            .await;
        assert_eq!(
            stored.expect("read").map(|p| p.question_started_at),
            Some(now.question_started_at)
        );
        let heard = events.recv().await.expect("an event");
        assert!(
            matches!(&*heard, SessionEvent::QuestionChanged { from: 0, .. }),
            "{heard:?}"
        );

        let (warn_at, ends_at) = (now.warn_at().expect("warns"), now.ends_at().expect("ends"));
        for at in [warn_at, warn_at, ends_at, ends_at] {
            sessions.tell_question_times(at);
        }
        let mut told = Vec::new();
        while let Ok(Ok(event)) =
            tokio::time::timeout(std::time::Duration::from_millis(50), events.recv()).await
        {
            if let SessionEvent::QuestionTime(clock) = &*event {
                told.push(clock.time);
            }
        }
        assert_eq!(told, [QuestionTime::Warning, QuestionTime::TimesUp]);
        // A question without a limit is never told.
        sessions
            .set_question(&session, 1, Role::Interviewer)
            .await
            .expect("moved");
        sessions.tell_question_times(ends_at + chrono::Duration::hours(1));
        assert_eq!(session.state().question_told, None);
    }
}
