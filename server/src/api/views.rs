//! What REST and the socket show of a session: the wire shapes both use, built from the
//! session's typed values.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::Role;
use crate::interview::{Interview, InterviewView};
use crate::session::{
    held_in_lobby, History, Participant, RunResult, RunStatus, RunSummary, SessionId,
    SessionSnapshot,
};
use crate::store::RunRecord;

/// A session as GET shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    session_id: SessionId,
    status: crate::session::Status,
    environment: String,
    label: Option<String>,
    /// The session's container: interviewers and the API key only (null for others).
    container_id: Option<String>,
    created_at: DateTime<Utc>,
    last_activity_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    last_execution: Option<RunSummary>,
    participants: Vec<Participant>,
    /// Present once the session's content was erased: the view is then its tombstone (ids,
    /// times, statuses, the end's reason in the events feed; no label), and its content
    /// endpoints answer 410 `SESSION_ERASED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    erased_at: Option<DateTime<Utc>>,
    /// Where the interview is (waiting, live, submitted), its mode and its clock as the
    /// caller may see it.
    interview: InterviewView,
    /// The interview as kept, from which `for_role` makes a role's view.
    #[serde(skip)]
    kept: Interview,
}

impl From<SessionSnapshot> for SessionView {
    fn from(s: SessionSnapshot) -> Self {
        Self {
            session_id: s.id,
            status: s.status,
            environment: s.environment,
            label: s.label,
            container_id: s.container_id,
            created_at: s.created_at,
            last_activity_at: s.last_activity_at,
            expires_at: s.expires_at,
            last_execution: s.last_execution,
            participants: s.participants,
            erased_at: s.erased_at,
            interview: s.interview.view(Role::Interviewer),
            kept: s.interview,
        }
    }
}

impl SessionView {
    /// The view as `role` may see it: which container serves the session is the operator's
    /// business (interviewers and the API key), not the candidate's or an observer's.
    /// Held in a lobby, a role sees nothing of its runs either; a hidden clock is not shown
    /// to a role that may not see it.
    pub fn for_role(mut self, role: Role) -> Self {
        if !role.sees_container() {
            self.container_id = None;
        }
        if held_in_lobby(&self.kept, role) {
            self.last_execution = None;
        }
        self.interview = self.kept.view(role);
        self
    }
}

/// `GET /sessions/{id}/history`, typed so that change sets go out as the raw JSON they are
/// kept as (a `json!` tree would parse each one again).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryView {
    session_id: SessionId,
    initial_document: String,
    base_version: u64,
    version: u64,
    updates: Vec<UpdateView>,
    runs: Vec<RunView>,
    /// The session's events (as `GET /sessions/{id}/events`): joins, leaves, focus changes,
    /// test runs, its end. Replay marks them on its timeline.
    events: Vec<crate::store::EventRecord>,
    /// Every test run, in full.
    tests: Vec<crate::questions::TestReport>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct UpdateView {
    version: u64,
    at: DateTime<Utc>,
    client_id: String,
    /// A CodeMirror change set in its JSON form.
    #[schema(value_type = Vec<serde_json::Value>)]
    changes: Box<serde_json::value::RawValue>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RunView {
    run_id: Uuid,
    by: Role,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    status: Option<RunStatus>,
    exit_code: Option<i64>,
    duration_ms: Option<u64>,
    build_ms: Option<u64>,
    stdout: String,
    stderr: String,
    truncated: bool,
    /// The code the run ran when it was not the session's document (a REST or socket run
    /// with its own `code`); null when it ran the document (the updates tell its text). Cut
    /// like the output once the run is past `sessions.runs_kept_in_full`.
    code: Option<String>,
}

impl From<RunRecord> for RunView {
    fn from(r: RunRecord) -> Self {
        let (summary, stdout, stderr) = match r.result {
            Some(result) => (Some(result.summary), result.stdout, result.stderr),
            None => (None, String::new(), String::new()),
        };
        let summary = summary.as_ref();
        Self {
            run_id: r.id,
            by: r.by_role,
            started_at: r.started_at,
            finished_at: summary.map(|s| s.finished_at),
            status: summary.map(|s| s.status),
            exit_code: summary.and_then(|s| s.exit_code),
            duration_ms: summary.map(|s| s.duration_ms),
            build_ms: summary.and_then(|s| s.build_ms),
            stdout,
            stderr,
            truncated: summary.is_some_and(|s| s.truncated),
            code: r.code,
        }
    }
}

impl HistoryView {
    pub fn new(session_id: SessionId, history: History) -> Self {
        let updates: Vec<UpdateView> = history
            .updates
            .into_iter()
            .map(|u| UpdateView {
                version: u.version,
                at: u.at,
                client_id: u.client_id,
                changes: u.changes,
            })
            .collect();
        let runs = history.runs.into_iter().map(RunView::from).collect();
        Self {
            session_id,
            initial_document: history.initial_document,
            base_version: history.base_version,
            version: history.base_version + updates.len() as u64,
            updates,
            runs,
            events: history.events,
            tests: history.tests,
        }
    }
}

// The socket's `run_finished`: a run result's summary, without its times (the socket had
// them as they happened) and its output (sent as it came).
/// How a run ended.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunFinished {
    run_id: Uuid,
    exit_code: Option<i64>,
    status: RunStatus,
    duration_ms: u64,
    build_ms: Option<u64>,
    /// The build did not run: an unchanged program's outputs came from the build cache.
    build_cached: bool,
    truncated: bool,
}

impl From<&RunResult> for RunFinished {
    fn from(result: &RunResult) -> Self {
        let s = &result.summary;
        Self {
            run_id: s.run_id,
            exit_code: s.exit_code,
            status: s.status,
            duration_ms: s.duration_ms,
            build_ms: s.build_ms,
            build_cached: s.build_cached,
            truncated: s.truncated,
        }
    }
}
