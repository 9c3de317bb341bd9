//! What happens in a session: [`SessionEvent`], fanned out to every participant in order
//! (`fanout`), and [`SessionEvent::audit`], its audit form (`audit`), which the trail keeps
//! and the webhook delivers. Both leave a session by one door, `journal`'s `publish`.

use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use super::audit::{Audit, CaseAudit, SubmittedTests, Who};
use super::{EndReason, Participant, Phase, RunResult, Status};
use crate::auth::Role;
use crate::collab::Update;
use crate::interview::SubmittedBy;
use crate::sandbox::OutputStream;

/// One event of a session. The events that reach sockets as they are carry their payload as
/// a struct of its own, which the socket's message wraps unchanged (one conversion, no field
/// copied by hand).
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    Status(Status),
    /// The container engine stopped answering: the session cannot run code until it is back
    /// (then a `Status` with the session's own status follows).
    EngineDown,
    RunStarted(RunStarted),
    Output(Output),
    /// A run ended: its result, as the store keeps it (sockets see its summary).
    RunFinished(Arc<RunResult>),
    Presence(Presence),
    Ended(EndReason),
    /// Accepted document updates; the first applies to `version`.
    Updates {
        /// Another file of the workspace than the document.
        file: Option<String>,
        version: u64,
        updates: Vec<Arc<Update>>,
    },
    Cursor(Cursor),
    Input(Input),
    /// The interviewers' private notes changed (never shown to other roles).
    Notes(String),
    /// An interviewer saved or submitted their scorecard (never shown to other roles).
    Scorecard(Arc<crate::scorecards::Scorecard>),
    Expiry(Expiry),
    /// A test run began: the session's question's cases, run one after another.
    TestsStarted(TestsStarted),
    /// One case is done (a hidden one is seen by interviewers only).
    TestResult(Arc<crate::questions::CaseResult>),
    /// Every case is done; each role sees its view of the report.
    TestsFinished(Arc<crate::questions::TestReport>),
    /// A participant's page gained or lost focus (interviewers only).
    Focus(Focus),
    /// The interview changed: started (or a take-home opened), its clock hidden or shown,
    /// submitted.
    Interview(Arc<InterviewChange>),
    /// The session switched language (its document and container follow).
    Environment {
        environment: EnvironmentInfo,
        by: Role,
        /// The environment it left (for the audit trail).
        from: String,
    },
    /// The session moved to another question of its template (each role sees its view).
    QuestionChanged {
        progress: Arc<crate::templates::Progress>,
        /// The question it left.
        from: usize,
        by: Role,
        /// The interview's clock is hidden from the candidate (so is the question's).
        clock_hidden: bool,
    },
    /// The current question's clock reached its warning, or its end.
    QuestionTime(QuestionClock),
}

/// A question's clock reaching its warning or its end (`question_time` on the socket).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QuestionClock {
    /// The question's place in the template.
    pub index: usize,
    pub time: crate::templates::QuestionTime,
    pub ends_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip)]
    pub question_id: Uuid,
    /// The interview's clock is hidden from the candidate: so is this.
    #[serde(skip)]
    pub clock_hidden: bool,
}

/// The interview as it is now, and what changed it.
#[derive(Debug, Clone, PartialEq)]
pub struct InterviewChange {
    pub interview: crate::interview::Interview,
    pub change: Change,
    /// A templated session's way, so that a page shows the question's clock as the
    /// interview's now allows (hidden or shown again).
    pub template: Option<Arc<crate::templates::Progress>>,
}

/// What changed an interview.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Start (an interviewer), or a take-home's first open (its candidate): the clock runs.
    Started { by: Role },
    /// The clock was hidden from the candidate, or shown again.
    Clock,
    /// A take-home was handed in: read-only from now on; its tests run next.
    Closed,
    /// The submission is complete: the tests ran and their reports are stored.
    Submitted {
        by: SubmittedBy,
        reports: Vec<Arc<crate::questions::TestReport>>,
    },
}

/// Who is connected now, and who just came or went.
#[derive(Debug, Clone, PartialEq)]
pub struct Presence {
    pub participants: Vec<Participant>,
    pub change: PresenceChange,
}

/// What changed the participants.
#[derive(Debug, Clone, PartialEq)]
pub enum PresenceChange {
    Joined(Participant),
    Left(Participant),
}

/// An environment as `welcome` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EnvironmentInfo {
    pub name: String,
    pub description: String,
    pub filename: String,
    pub editor_language: String,
    pub version: Option<String>,
}

impl EnvironmentInfo {
    pub fn of(env: &crate::environments::Environment) -> Self {
        Self {
            name: env.name.clone(),
            description: env.settings.description.clone(),
            filename: env.settings.filename.to_string(),
            editor_language: env.settings.editor_language.clone(),
            version: env.version(),
        }
    }
}

/// A participant's page gained or lost focus.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Focus {
    pub participant: u64,
    pub name: String,
    pub role: Role,
    /// False: the tab was hidden or the window lost focus.
    pub focused: bool,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A test run began.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TestsStarted {
    pub tests_id: Uuid,
    pub by: Role,
    /// Every case, hidden ones included.
    pub total: usize,
}

/// A run started.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunStarted {
    pub run_id: Uuid,
    pub by: Role,
}

/// A piece of a run's output; `seq` numbers the run's output and input from 1.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Output {
    pub run_id: Uuid,
    pub seq: u64,
    pub stream: OutputStream,
    pub phase: Phase,
    pub data: String,
}

/// A participant's selection.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Cursor {
    pub participant: u64,
    pub name: String,
    pub role: Role,
    pub anchor: u64,
    pub head: u64,
    pub version: u64,
    /// In another file of the workspace than the document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A participant typed into the running program's stdin (so everyone sees the answers): at
/// most [`INPUT_PREVIEW_BYTES`] of it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Input {
    pub run_id: Uuid,
    /// In the same numbering as the run's output.
    pub seq: u64,
    pub participant: u64,
    pub data: String,
    /// More was typed than `data` shows.
    pub truncated: bool,
}

/// When the session ends now: `warning` ahead of the end (within
/// `sessions.expiry_warning_seconds`), or not after it was extended.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Expiry {
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub warning: bool,
    pub reason: ExpiryReason,
    /// `extend` would move the end (it cannot past the session's maximum lifetime).
    pub can_extend: bool,
}

/// What ends a session that nothing more happens in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExpiryReason {
    /// No activity for the idle TTL.
    Idle,
    /// Its lifetime is over.
    Lifetime,
}

impl SessionEvent {
    /// The place in its run's numbering of output and input, for those events.
    pub fn seq(&self) -> Option<u64> {
        match self {
            SessionEvent::Output(Output { seq, .. }) | SessionEvent::Input(Input { seq, .. }) => {
                Some(*seq)
            }
            _ => None,
        }
    }

    /// Roughly the bytes this event holds (and costs each socket to send).
    pub fn weight(&self) -> usize {
        const BASE: usize = 64;
        BASE + match self {
            SessionEvent::Output(Output { data, .. }) | SessionEvent::Input(Input { data, .. }) => {
                data.len()
            }
            SessionEvent::Notes(text) => text.len(),
            SessionEvent::Scorecard(card) => {
                card.comment.len()
                    + card
                        .ratings
                        .iter()
                        .map(|(name, r)| BASE + name.len() + r.comment.len())
                        .sum::<usize>()
            }
            SessionEvent::Updates { updates, .. } => updates.iter().map(|u| u.weight()).sum(),
            SessionEvent::Presence(p) => p.participants.iter().map(|p| p.name.len() + BASE).sum(),
            SessionEvent::Cursor(c) => c.name.len(),
            SessionEvent::TestResult(r) => r.actual.len() + r.expected.len() + r.stderr.len(),
            SessionEvent::TestsFinished(r) => r
                .results
                .iter()
                .map(|r| BASE + r.actual.len() + r.expected.len() + r.stderr.len())
                .sum(),
            SessionEvent::Focus(f) => f.name.len(),
            SessionEvent::Environment { .. }
            | SessionEvent::QuestionTime(_)
            | SessionEvent::Interview(_) => BASE,
            SessionEvent::QuestionChanged { progress, .. } => {
                BASE + progress
                    .steps
                    .iter()
                    .map(|s| BASE + s.title.len())
                    .sum::<usize>()
            }
            SessionEvent::TestsStarted(_)
            | SessionEvent::Status(_)
            | SessionEvent::Expiry(_)
            | SessionEvent::EngineDown
            | SessionEvent::RunStarted(_)
            | SessionEvent::RunFinished(_)
            | SessionEvent::Ended(_) => 0,
        }
    }

    /// The event's audit form, for the events the trail keeps: `publish` records it before the
    /// event goes out.
    pub fn audit(&self) -> Option<Audit> {
        Some(match self {
            SessionEvent::Presence(p) => match &p.change {
                PresenceChange::Joined(who) => Audit::Joined(Who::of(who)),
                PresenceChange::Left(who) => Audit::Left(Who::of(who)),
            },
            SessionEvent::Focus(f) => Audit::Focus {
                participant: f.participant,
                role: f.role,
                name: f.name.clone(),
                focused: f.focused,
            },
            SessionEvent::Environment {
                environment,
                by,
                from,
            } => Audit::Environment {
                from: from.clone(),
                to: environment.name.clone(),
                by: *by,
            },
            SessionEvent::QuestionChanged {
                progress, from, by, ..
            } => Audit::QuestionChanged {
                from: *from,
                to: progress.current,
                question_id: progress.current_step().question_id,
                by: *by,
            },
            SessionEvent::QuestionTime(c) => Audit::QuestionTime {
                index: c.index,
                question_id: c.question_id,
                time: c.time,
            },
            SessionEvent::RunFinished(r) => Audit::RunFinished {
                run_id: r.summary.run_id,
                by: r.by,
                status: r.summary.status,
                exit_code: r.summary.exit_code,
                duration_ms: r.summary.duration_ms,
                build_ms: r.summary.build_ms,
                build_cached: r.summary.build_cached,
                truncated: r.summary.truncated,
            },
            SessionEvent::TestsFinished(r) => Audit::TestsFinished {
                tests_id: r.tests_id,
                question_id: r.question_id,
                by: r.by,
                passed: r.passed,
                total: r.total,
                cases: r
                    .results
                    .iter()
                    .map(|c| CaseAudit {
                        name: c.name.clone(),
                        hidden: c.hidden,
                        verdict: c.verdict,
                    })
                    .collect(),
            },
            SessionEvent::Ended(reason) => Audit::Ended { reason: *reason },
            SessionEvent::Scorecard(card) => return Audit::of_scorecard(card),
            SessionEvent::Interview(i) => return interview_audit(i),
            SessionEvent::Status(_)
            | SessionEvent::EngineDown
            | SessionEvent::RunStarted(_)
            | SessionEvent::Output(_)
            | SessionEvent::Updates { .. }
            | SessionEvent::Cursor(_)
            | SessionEvent::Input(_)
            | SessionEvent::Notes(_)
            | SessionEvent::Expiry(_)
            | SessionEvent::TestsStarted(_)
            | SessionEvent::TestResult(_) => return None,
        })
    }
}

/// An interview change's audit form (a take-home closing has none: its `Submitted`
/// follows once the tests ran).
fn interview_audit(i: &InterviewChange) -> Option<Audit> {
    let interview = &i.interview;
    Some(match &i.change {
        Change::Started { by } => Audit::Started {
            mode: interview.mode,
            by: *by,
            started_at: interview.started_at,
        },
        Change::Clock => Audit::Clock {
            hidden: interview.clock_hidden,
        },
        Change::Closed => return None,
        Change::Submitted { by, reports } => Audit::Submitted {
            by: *by,
            started_at: interview.started_at,
            submitted_at: interview.submitted_at,
            tests: reports
                .iter()
                .map(|r| SubmittedTests {
                    tests_id: r.tests_id,
                    question_id: r.question_id,
                    passed: r.passed,
                    total: r.total,
                })
                .collect(),
        },
    })
}

/// The most of one stdin message that is echoed to participants.
pub const INPUT_PREVIEW_BYTES: usize = 1024;
