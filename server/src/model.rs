//! The shared vocabulary: the values sessions are made of, as the store, questions, webhooks
//! and the session module all see them (ids, statuses, a run's summary and result, a snapshot
//! of a session, its participants, end reasons). A leaf: it imports nothing of the crate but the role.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Role;

/// A session's id.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[schema(value_type = Uuid)]
pub struct SessionId(pub Uuid);

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for SessionId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(SessionId)
    }
}

/// Where a session is in its life (the API's session `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Ready,
    Executing,
    Stopping,
    Stopped,
    Expired,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Ready => "ready",
            Status::Executing => "executing",
            Status::Stopping => "stopping",
            Status::Stopped => "stopped",
            Status::Expired => "expired",
            Status::Error => "error",
        }
    }

    pub const ALL: [Status; 7] = [
        Status::Creating,
        Status::Ready,
        Status::Executing,
        Status::Stopping,
        Status::Stopped,
        Status::Expired,
        Status::Error,
    ];

    /// The status with this name ([`Status::as_str`] backwards).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Stopping, stopped, expired or error: the session takes no more runs.
    pub fn is_ended(self) -> bool {
        matches!(
            self,
            Status::Stopping | Status::Stopped | Status::Expired | Status::Error
        )
    }
}

/// How a run ended (the API's run `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Completed,
    Timeout,
    Oom,
    Killed,
    OutputLimit,
    /// The build step failed (compiled languages); nothing was run.
    CompileError,
    Error,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Completed,
        RunStatus::Timeout,
        RunStatus::Oom,
        RunStatus::Killed,
        RunStatus::OutputLimit,
        RunStatus::CompileError,
        RunStatus::Error,
    ];

    /// The status with this name ([`RunStatus::as_str`] backwards).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Timeout => "timeout",
            RunStatus::Oom => "oom",
            RunStatus::Killed => "killed",
            RunStatus::OutputLimit => "output_limit",
            RunStatus::CompileError => "compile_error",
            RunStatus::Error => "error",
        }
    }
}

/// Which step of a run produced output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Build,
    Run,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EndReason {
    Expired,
    Stopped,
    Error,
}

impl EndReason {
    pub const ALL: [EndReason; 3] = [EndReason::Expired, EndReason::Stopped, EndReason::Error];

    /// The reason with this name ([`EndReason::as_str`] backwards).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn status(self) -> Status {
        match self {
            EndReason::Expired => Status::Expired,
            EndReason::Stopped => Status::Stopped,
            EndReason::Error => Status::Error,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Expired => "expired",
            EndReason::Stopped => "stopped",
            EndReason::Error => "error",
        }
    }
}

/// Someone connected to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Participant {
    /// Unique within the session while connected; ties cursors to names.
    pub id: u64,
    pub role: Role,
    pub name: String,
    /// The token it came with (an interviewer watching read-only is an observer with the
    /// interviewer's token): sockets are capped per token.
    #[serde(skip)]
    pub credential: Role,
    /// The participant's page is in view (its tab has focus); interviewers hear changes.
    #[serde(skip)]
    pub focused: bool,
}

/// Why a socket may not join a session now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SocketCap {
    #[error("the session has {0} sockets open, its limit")]
    Session(usize),
    #[error("this token has {0} sockets open on the session, its limit")]
    Token(usize),
}

/// The last finished run, as GET shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunSummary {
    pub run_id: Uuid,
    pub status: RunStatus,
    pub exit_code: Option<i64>,
    pub duration_ms: u64,
    pub build_ms: Option<u64>,
    pub build_cached: bool,
    pub truncated: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// A finished run: who asked for it, how it ended, and its (capped) output. The one shape of
/// a run's end: the run's event carries it, the store keeps it, the webhook tells it, and
/// `POST /execute` and the test cases wait for it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    pub by: Role,
    pub summary: RunSummary,
    pub stdout: String,
    pub stderr: String,
}

/// What the API shows of a session.
#[derive(Debug, Clone)]
pub struct SessionSnapshot {
    pub id: SessionId,
    pub status: Status,
    pub environment: String,
    pub label: Option<String>,
    pub container_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_execution: Option<RunSummary>,
    pub participants: Vec<Participant>,
    /// When the session's content was erased: it is a tombstone.
    pub erased_at: Option<DateTime<Utc>>,
    pub interview: crate::interview::Interview,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_their_values() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        for r in EndReason::ALL {
            assert_eq!(EndReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(Status::parse("sleeping"), None);
    }
}
