//! Where an interview is in time, apart from its container's `Status`: `waiting` (a lobby, or
//! a take-home nobody opened yet), `live` (since Start, or since the take-home's first open:
//! the clock runs), `submitted` (a take-home, read-only from then on). Stored beside the
//! session, so the clock is computed from stored times, never from a page's, and survives
//! reconnects and restarts. Pure: the session keeps it, the store stores it, `Role` says who
//! sees what of it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::Role;

/// A live interview (everyone together), or a take-home (the candidate alone, on a clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Live,
    TakeHome,
}

/// Where the interview is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Before Start (a lobby) or before a take-home's first open: the clock has not started.
    Waiting,
    /// The clock runs.
    Live,
    /// A take-home was handed in (by the candidate or at its limit): read-only.
    Submitted,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::TakeHome => "take_home",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Mode::Live, Mode::TakeHome]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Waiting => "waiting",
            Stage::Live => "live",
            Stage::Submitted => "submitted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Stage::Waiting, Stage::Live, Stage::Submitted]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// Who handed a take-home in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubmittedBy {
    Candidate,
    /// An interviewer's token or the API key.
    Interviewer,
    /// The server, at the time limit.
    Limit,
}

impl SubmittedBy {
    /// A submission by a participant of `role` (the API key acts as an interviewer).
    pub fn of(role: Role) -> Self {
        match role {
            Role::Candidate => SubmittedBy::Candidate,
            _ => SubmittedBy::Interviewer,
        }
    }
}

/// A session's interview, as kept (the `interviews` table) and held live.
#[derive(Debug, Clone, PartialEq)]
pub struct Interview {
    pub mode: Mode,
    pub stage: Stage,
    /// When the clock started: Start, or the take-home's first open by its candidate.
    pub started_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// A take-home's time, from its first open.
    pub time_limit_seconds: Option<u64>,
    /// A take-home's link works until then: not opened by then, the session ends.
    pub link_expires_at: Option<DateTime<Utc>>,
    /// The interviewer hid the clock from the candidate.
    pub clock_hidden: bool,
}

/// Now, as the stores keep times (to the microsecond): the clock reads the same before and
/// after a restart.
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

impl Interview {
    /// An interview without a lobby: it started when the session was made.
    pub fn started(at: DateTime<Utc>) -> Self {
        Self {
            mode: Mode::Live,
            stage: Stage::Live,
            started_at: Some(at),
            submitted_at: None,
            time_limit_seconds: None,
            link_expires_at: None,
            clock_hidden: false,
        }
    }

    /// A live interview that waits in its lobby for the interviewer's Start.
    pub fn lobby() -> Self {
        Self {
            stage: Stage::Waiting,
            started_at: None,
            ..Self::started(now())
        }
    }

    /// A take-home: waiting for its candidate's first open, until `link_expires_at`.
    pub fn take_home(time_limit_seconds: u64, link_expires_at: DateTime<Utc>) -> Self {
        Self {
            mode: Mode::TakeHome,
            time_limit_seconds: Some(time_limit_seconds),
            link_expires_at: Some(link_expires_at),
            ..Self::lobby()
        }
    }

    /// When a started take-home is submitted by the server if its candidate has not.
    pub fn submit_at(&self) -> Option<DateTime<Utc>> {
        match (
            self.mode,
            self.stage,
            self.started_at,
            self.time_limit_seconds,
        ) {
            (Mode::TakeHome, Stage::Live, Some(at), Some(limit)) => {
                Some(at + chrono::Duration::seconds(limit as i64))
            }
            _ => None,
        }
    }

    /// Whether the idle TTL ends the session: only a live interview once started. A waiting
    /// session is bounded by its deadline (its lifetime, or a take-home's link), and a
    /// take-home's candidate may be away between visits.
    pub fn idle_ttl_applies(&self) -> bool {
        self.mode == Mode::Live && self.stage == Stage::Live
    }

    /// What `role` is shown of the interview: no clock for a role that may not see a hidden
    /// one ([`Role::sees_hidden_clock`]).
    pub fn view(&self, role: Role) -> InterviewView {
        let clock = !self.clock_hidden || role.sees_hidden_clock();
        InterviewView {
            mode: self.mode,
            stage: self.stage,
            started_at: self.started_at.filter(|_| clock),
            submit_at: self.submit_at().filter(|_| clock),
            time_limit_seconds: self.time_limit_seconds.filter(|_| clock),
            submitted_at: self.submitted_at,
            link_expires_at: self.link_expires_at,
            clock_hidden: self.clock_hidden,
        }
    }
}

/// An interview as REST and the socket show it to one role.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InterviewView {
    pub mode: Mode,
    pub stage: Stage,
    /// The clock's start (null while waiting, or when the clock is hidden from this role).
    pub started_at: Option<DateTime<Utc>>,
    /// A take-home's time, from its first open (null when the clock is hidden).
    pub time_limit_seconds: Option<u64>,
    /// When a started take-home is submitted at the latest (null when the clock is hidden).
    pub submit_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// A take-home's link works until then.
    pub link_expires_at: Option<DateTime<Utc>>,
    /// The interviewer hid the clock from the candidate.
    pub clock_hidden: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_take_home_submits_at_its_limit_from_the_first_open_and_a_hidden_clock_is_not_shown() {
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .expect("time")
            .to_utc();
        let mut i = Interview::take_home(3600, t0 + chrono::Duration::days(2));
        assert_eq!(i.submit_at(), None, "not opened: no clock");
        assert!(!i.idle_ttl_applies());
        i.stage = Stage::Live;
        i.started_at = Some(t0);
        assert_eq!(i.submit_at(), Some(t0 + chrono::Duration::hours(1)));
        assert!(!i.idle_ttl_applies(), "the candidate may be away");
        i.clock_hidden = true;
        let shown = i.view(Role::Candidate);
        assert_eq!((shown.started_at, shown.submit_at), (None, None));
        assert_eq!(i.view(Role::Interviewer).started_at, Some(t0));
        assert!(Interview::started(t0).idle_ttl_applies());
        assert!(!Interview::lobby().idle_ttl_applies());
        for s in [Stage::Waiting, Stage::Live, Stage::Submitted] {
            assert_eq!(Stage::parse(s.as_str()), Some(s));
        }
        assert_eq!(Mode::parse("take_home"), Some(Mode::TakeHome));
    }
}
