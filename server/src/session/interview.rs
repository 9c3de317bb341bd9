//! The interview around a session ([`crate::interview`]): its lobby and Start, its clock and
//! who sees it, a take-home's first open, and what a waiting or submitted interview refuses.
//! Who may do what is [`Role`]'s; this file applies it to where the interview is.
//!
//! - A session made with `lobby` waits: an interviewer prepares it (language, files, code),
//!   others hear only that it waits ([`visible_in_lobby`]) and may do nothing
//!   ([`Session::check_open`]), until Start. A waiting session is bounded by its deadline
//!   (`ttl_seconds`, else `sessions.max_lifetime_seconds` from its creation), never by the idle
//!   TTL, which counts from Start.
//! - A take-home waits for its candidate: their first socket starts the clock
//!   ([`SessionRegistry::arrive`]); its link works until `expires_at`.

use std::sync::Arc;

use chrono::Utc;

use super::events::{Change, InterviewChange};
use super::registry::SessionRegistry;
use super::{NewSession, Session, SessionError, SessionEvent, State};
use crate::auth::Role;
use crate::config::Config;
use crate::interview::{Interview, Mode, Stage};

/// A take-home as `POST /sessions` asks for it.
#[derive(Debug, Clone, Copy)]
pub struct TakeHome {
    /// Minutes, fractions allowed (a second at least).
    pub time_limit_minutes: f64,
    pub expires_at: chrono::DateTime<Utc>,
}

/// The interview a request makes, and the session's deadline when the interview sets it (a
/// take-home's: its link's end plus its time, so that a late first open gets all of it).
pub(super) fn requested(
    req: &NewSession,
    config: &Config,
) -> Result<(Interview, Option<chrono::DateTime<Utc>>), SessionError> {
    let invalid = |m: &str| Err(SessionError::InvalidArgument(m.to_string()));
    let Some(take_home) = req.take_home else {
        return Ok(match req.lobby {
            Some(true) => (Interview::lobby(), None),
            _ => (Interview::started(crate::interview::now()), None),
        });
    };
    if req.lobby == Some(true) {
        return invalid("a take-home has no lobby: its clock starts when the candidate opens it");
    }
    if req.ttl_seconds.is_some() {
        return invalid("a take-home's end is its expires_at, not ttl_seconds");
    }
    let limits = &config.take_home;
    let minutes = take_home.time_limit_minutes;
    if !(minutes.is_finite() && minutes > 0.0 && minutes <= limits.max_time_limit_minutes as f64) {
        return Err(SessionError::InvalidArgument(format!(
            "time_limit_minutes must be above 0 and at most {} (take_home.max_time_limit_minutes)",
            limits.max_time_limit_minutes
        )));
    }
    let now = Utc::now();
    if take_home.expires_at <= now {
        return invalid("expires_at must be in the future");
    }
    if take_home.expires_at > now + chrono::Duration::days(limits.max_link_days as i64) {
        return Err(SessionError::InvalidArgument(format!(
            "expires_at is at most {} days ahead (take_home.max_link_days)",
            limits.max_link_days
        )));
    }
    let seconds = ((minutes * 60.0).round() as u64).max(1);
    let deadline = take_home.expires_at + chrono::Duration::seconds(seconds as i64);
    Ok((
        Interview::take_home(seconds, take_home.expires_at),
        Some(deadline),
    ))
}

/// What a socket held in the lobby hears: that the session waits, who is there, and that it
/// started or ended. Nothing of the code, files, question, runs, cursors or notes.
pub fn visible_in_lobby(event: &SessionEvent) -> bool {
    matches!(
        event,
        SessionEvent::Interview(_)
            | SessionEvent::Presence(_)
            | SessionEvent::Expiry(_)
            | SessionEvent::Ended(_)
    )
}

/// `role` is held in the lobby of `interview`: it waits, and `role` does not see the lobby.
pub fn held_in_lobby(interview: &Interview, role: Role) -> bool {
    interview.stage == Stage::Waiting && !role.sees_lobby()
}

/// Refuses what `role` may not do in `interview` now: anything before Start for a role held
/// in the lobby, and any change (edits, runs, tests, switches) once a take-home is submitted.
pub fn check_open(interview: &Interview, role: Role) -> Result<(), SessionError> {
    if held_in_lobby(interview, role) {
        return Err(SessionError::NotStarted);
    }
    if interview.stage == Stage::Submitted {
        return Err(SessionError::Submitted);
    }
    Ok(())
}

impl Session {
    pub fn interview(&self) -> Interview {
        self.state().interview.clone()
    }

    /// [`check_open`] for this session now.
    pub fn check_open(&self, role: Role) -> Result<(), SessionError> {
        check_open(&self.state().interview, role)
    }

    /// Changes the interview under the state lock and tells everyone (the change's audit form
    /// is recorded first); answers the interview as it is now.
    pub(super) fn change_interview_locked(
        &self,
        state: &mut State,
        change: Change,
        apply: impl FnOnce(&mut Interview),
    ) -> Interview {
        apply(&mut state.interview);
        let interview = state.interview.clone();
        self.publish_locked(SessionEvent::Interview(Arc::new(InterviewChange {
            interview: interview.clone(),
            change,
            // Never while it waits: sockets held in the lobby hear this event.
            template: (interview.stage != Stage::Waiting)
                .then(|| state.template.as_ref().map(|p| Arc::new(p.outline())))
                .flatten(),
        })));
        interview
    }

    /// Changes the interview: stored first, then told, so that nobody hears of a start or a
    /// submission a restart or a takeover would not find. `check` refuses on the interview as
    /// it is. Changes take the session's `edits` turn: one at a time, and a socket's welcome
    /// (`subscribe_told`, in a cluster) sees none half done.
    pub(super) async fn change_interview(
        &self,
        check: impl FnOnce(&Interview) -> Result<(), SessionError>,
        change: Change,
        apply: impl FnOnce(&mut Interview),
    ) -> Result<Interview, SessionError> {
        let _turn = self.edits.lock().await;
        let next = {
            let state = self.state();
            if state.status().is_ended() {
                return Err(SessionError::Ended);
            }
            check(&state.interview)?;
            let mut next = state.interview.clone();
            apply(&mut next);
            next
        };
        self.store_interview(&next).await?;
        let mut state = self.state();
        if matches!(change, Change::Started { .. }) {
            // The idle TTL counts from the start.
            state.last_activity_at = Utc::now();
            state.warning = None;
        }
        Ok(self.change_interview_locked(&mut state, change, |i| *i = next))
    }
}

impl SessionRegistry {
    /// The interviewer's Start: the clock starts, and everyone held in the lobby gets the
    /// session (`start` on the socket, `POST /sessions/{id}/start`).
    ///
    /// The coordinator's hook for the templates strand: the current question's clock restarts
    /// here too.
    pub async fn start(&self, session: &Arc<Session>, by: Role) -> Result<Interview, SessionError> {
        let now = crate::interview::now();
        let interview = session
            .change_interview(
                |i| match (i.mode, i.stage) {
                    (Mode::TakeHome, _) => Err(SessionError::Interview(
                        "a take-home starts when its candidate opens it".into(),
                    )),
                    (_, Stage::Waiting) => Ok(()),
                    _ => Err(SessionError::Interview(
                        "the interview has already started".into(),
                    )),
                },
                Change::Started { by },
                |i| {
                    i.stage = Stage::Live;
                    i.started_at = Some(now);
                },
            )
            .await?;
        session.persist_state(session.status(), None).await;
        session.restart_question_if_templated(by).await?;
        Ok(interview)
    }

    /// Hides the clock from the candidate, or shows it again.
    pub async fn set_clock_hidden(
        &self,
        session: &Arc<Session>,
        hidden: bool,
    ) -> Result<Interview, SessionError> {
        session
            .change_interview(|_| Ok(()), Change::Clock, |i| i.clock_hidden = hidden)
            .await
    }

    /// A socket of `role` (by its credential) joined: a take-home's candidate opening it
    /// starts its clock the first time, and gets its container back if it was released.
    /// Refused once the link expired unopened (the reaper ends the session).
    pub async fn arrive(&self, session: &Arc<Session>, role: Role) -> Result<(), SessionError> {
        let interview = session.interview();
        if interview.mode != Mode::TakeHome || role != Role::Candidate {
            return Ok(());
        }
        if interview.stage == Stage::Waiting {
            let now = crate::interview::now();
            if interview.link_expires_at.is_some_and(|at| at <= now) {
                return Err(SessionError::LinkExpired);
            }
            let opened = session
                .change_interview(
                    |i| match i.stage {
                        Stage::Waiting => Ok(()),
                        _ => Err(SessionError::Interview("opened already".into())),
                    },
                    Change::Started { by: role },
                    |i| {
                        i.stage = Stage::Live;
                        i.started_at = Some(now);
                    },
                )
                .await;
            match opened {
                Ok(_) => session.restart_question_if_templated(role).await?,
                // Two first sockets at once: the other one opened it.
                Err(SessionError::Interview(_)) => {}
                Err(err) => return Err(err),
            }
        }
        if session.state().container.is_none() {
            self.shared.containers.spawn_ensure(session.clone());
        }
        Ok(())
    }
}
