//! A take-home after its first open: its submission (the candidate's Submit, or the server's
//! at the limit, with nobody connected and after a restart too, since the limit is computed
//! from stored times and the reaper looks every tick), the tests run once more at it, and its
//! container released while the candidate is away (made again, with the files, when they come
//! back).
//!
//! After the submission the session is read-only and stays for an idle TTL (the candidate
//! sees what they handed in), then ends as any; replay, test reports and the trail stay.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::events::Change;
use super::registry::SessionRegistry;
use super::{testing, EndReason, Session, SessionError, Status};
use crate::auth::Role;
use crate::interview::{Interview, Mode, Stage, SubmittedBy};
use crate::questions::{Question, TestReport};

/// One test run of a submission.
#[derive(Debug)]
pub enum ToTest {
    /// Question `index` of the session's template, against its own code.
    Step(usize),
    /// The session's one question, against the document.
    Question(Question),
}

/// How long a submission's test run waits for a run being stopped to let the slot go.
const SLOT_WAIT: Duration = Duration::from_secs(10);

impl SessionRegistry {
    /// Hands a take-home in: read-only at once (everyone hears it), then each question's
    /// tests run once more on the code as handed in and their reports are stored, then
    /// `session.submitted` goes to the trail and the webhook.
    pub async fn submit(
        &self,
        session: &Arc<Session>,
        by: SubmittedBy,
    ) -> Result<Interview, SessionError> {
        let now = crate::interview::now();
        session
            .change_interview(
                |i| match (i.mode, i.stage) {
                    (Mode::TakeHome, Stage::Live) => Ok(()),
                    (Mode::TakeHome, Stage::Submitted) => Err(SessionError::Submitted),
                    (Mode::TakeHome, Stage::Waiting) => Err(SessionError::NotStarted),
                    (Mode::Live, _) => Err(SessionError::Interview(
                        "only a take-home is submitted".into(),
                    )),
                },
                Change::Closed,
                |i| {
                    i.stage = Stage::Submitted;
                    i.submitted_at = Some(now);
                },
            )
            .await?;
        let deadline = {
            let mut state = session.state();
            state.deadline = state.deadline.min(now + self.idle_ttl());
            state.deadline
        };
        session.store_deadline(deadline).await?;
        // A run in progress stops: the tests run the code as it was handed in.
        let _ = session.kill_run();
        let mut reports = Vec::new();
        for question in self.questions_to_test(session).await? {
            if let Some(report) = self.test_at_submit(session, question).await {
                reports.push(report);
            }
        }
        let interview = {
            let mut state = session.state();
            session.change_interview_locked(&mut state, Change::Submitted { by, reports }, |_| {})
        };
        Ok(interview)
    }

    /// What a submission tests: every question of the session's template reached so far
    /// that has cases, each against its own code; else the session's question, when it has
    /// cases.
    pub async fn questions_to_test(
        &self,
        session: &Arc<Session>,
    ) -> Result<Vec<ToTest>, SessionError> {
        let progress = session.state().template.clone();
        let Some(progress) = progress else {
            let question = self.question(&session.id).await?;
            return Ok(question
                .into_iter()
                .filter(|q| !q.cases.is_empty())
                .map(ToTest::Question)
                .collect());
        };
        let mut steps = Vec::new();
        for &index in &progress.visited {
            if !self
                .template_question(&progress, index)
                .await?
                .cases
                .is_empty()
            {
                steps.push(ToTest::Step(index));
            }
        }
        Ok(steps)
    }

    /// Runs one question's tests once for a submission and answers the stored report; `None`
    /// when they could not run (logged).
    async fn test_at_submit(
        &self,
        session: &Arc<Session>,
        what: ToTest,
    ) -> Option<Arc<TestReport>> {
        let until = tokio::time::Instant::now() + SLOT_WAIT;
        loop {
            let started = match &what {
                ToTest::Step(index) => self.test_question(session, *index, Role::Candidate).await,
                ToTest::Question(question) => testing::start(
                    &self.shared.containers,
                    session,
                    question.clone(),
                    None,
                    Role::Candidate,
                ),
            };
            match started {
                Ok(handle) => return handle.wait().await,
                Err(SessionError::RunInProgress) if tokio::time::Instant::now() < until => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => {
                    tracing::warn!(session = %session.id, %err, "a submission's tests could not run");
                    return None;
                }
            }
        }
    }

    /// The reaper's look at take-homes at `now`: a link that expired unopened ends its
    /// session, a clock past its limit submits, and a container whose candidate has been away
    /// for `take_home.release_after_seconds` is removed.
    pub async fn take_homes(&self, now: DateTime<Utc>) {
        let away = self.shared.ctx.config.take_home.release_after_seconds;
        let away = chrono::Duration::milliseconds((away * 1000.0) as i64);
        let mut due = Vec::new();
        for entry in self.shared.sessions.iter() {
            let session = entry.value();
            if let Some(what) = due_now(session, now, away) {
                due.push((session.clone(), what));
            }
        }
        for (session, what) in due {
            let this = self.clone();
            self.shared.ctx.tasks.spawn(async move {
                let done = match what {
                    Due::End => this.end(&session, EndReason::Expired).await,
                    Due::Submit => this.submit(&session, SubmittedBy::Limit).await.map(drop),
                    Due::Release => {
                        this.shared.containers.park(&session).await;
                        Ok(())
                    }
                };
                if let Err(err) = done {
                    tracing::warn!(session = %session.id, %err, "take-home: {what:?} failed");
                }
            });
        }
    }
}

/// What the reaper does to a take-home now.
#[derive(Debug, Clone, Copy)]
enum Due {
    End,
    Submit,
    Release,
}

/// What is due for `session` at `now`, if anything; keeps how long its candidate was away.
fn due_now(session: &Session, now: DateTime<Utc>, away: chrono::Duration) -> Option<Due> {
    let mut state = session.state();
    let interview = &state.interview;
    if interview.mode != Mode::TakeHome || state.status().is_ended() {
        return None;
    }
    if interview.stage == Stage::Waiting && interview.link_expires_at.is_some_and(|at| at <= now) {
        return Some(Due::End);
    }
    if interview.submit_at().is_some_and(|at| at <= now) {
        return Some(Due::Submit);
    }
    let candidate_here = state
        .participants
        .values()
        .any(|p| p.role == Role::Candidate);
    if candidate_here {
        state.candidate_away_since = None;
        return None;
    }
    let since = *state.candidate_away_since.get_or_insert(now);
    let idle = state.status() == Status::Ready && state.container.is_some();
    (idle && now - since >= away).then_some(Due::Release)
}
