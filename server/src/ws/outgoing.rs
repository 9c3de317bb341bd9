//! What the server sends on the socket (each message with a schema in
//! `/api/v1/socket-schemas.json`): answers, errors in `ApiError`'s vocabulary, and session
//! events as each role may see them.

use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use crate::api::scorecards::ScorecardsView;
use crate::api::views::{RunFinished, SessionView};
use crate::auth::Role;
use crate::collab::Update;
use crate::interview::InterviewView;
use crate::scorecards::Scorecard;
use crate::session::{events, CatchUp, Participant, SessionEvent};

pub use crate::session::events::EnvironmentInfo;

/// What the server sends.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome {
        session: Box<SessionView>,
        role: Role,
        document: String,
        version: u64,
        participants: Vec<Participant>,
        /// This socket's participant id.
        participant: u64,
        environment: EnvironmentInfo,
        /// The workspace's other files, each edited together like the document (tabs).
        files: Vec<FileDoc>,
        /// This socket may switch the session's language (`switch_environment`).
        can_switch: bool,
        /// Interviewers only.
        #[serde(skip_serializing_if = "Option::is_none")]
        notes: Option<String>,
        /// The rubric and every scorecard so far: interviewers only.
        #[serde(skip_serializing_if = "Option::is_none")]
        scorecards: Option<ScorecardsView>,
        /// The run in progress, with its output and input so far (after the client's `after`).
        run: Option<Box<WelcomeRun>>,
        /// The session's way through its template, when it has one: every question for
        /// interviewers, those reached so far for others; the current question's clock.
        #[serde(skip_serializing_if = "Option::is_none")]
        template: Option<Box<crate::templates::ProgressView>>,
    },
    /// What a socket held in a lobby gets instead of `welcome`: the session waits for the
    /// interviewer's Start (then a `welcome` follows); nothing of its code or question.
    Lobby {
        session: Box<SessionView>,
        role: Role,
        participants: Vec<Participant>,
        /// This socket's participant id.
        participant: u64,
    },
    /// The interview changed: started, its clock hidden or shown, a take-home submitted.
    Interview {
        interview: InterviewView,
        /// A templated session's way as this role sees it now (the question's clock hidden
        /// with the interview's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<Box<crate::templates::ProgressView>>,
    },
    Status {
        status: &'static str,
    },
    RunStarted(events::RunStarted),
    Output(events::Output),
    RunFinished(RunFinished),
    Presence {
        participants: Vec<Participant>,
    },
    Error {
        code: &'static str,
        message: String,
        hint: &'static str,
        /// For RATE_LIMITED: when trying again may succeed.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    SessionEnded {
        reason: &'static str,
    },
    Pong,
    Updates {
        /// Another file of the workspace than the document (a tab).
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        version: u64,
        updates: Vec<Arc<Update>>,
    },
    UpdateRejected {
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        version: u64,
    },
    Cursor(events::Cursor),
    Notes {
        text: String,
    },
    /// An interviewer saved or submitted their scorecard (interviewers only).
    Scorecard {
        scorecard: Scorecard,
    },
    /// What a participant typed into the running program.
    Input(events::Input),
    /// When the session ends: ahead of it (`warning`), and again once it was extended.
    Expiry(events::Expiry),
    /// A test run of the session's question began.
    TestsStarted(events::TestsStarted),
    /// One case's result (hidden cases: interviewers only).
    TestResult(crate::questions::CaseResult),
    /// The test run's report, as the receiving role may see it.
    TestsFinished(crate::questions::TestReportView),
    /// A participant's page gained or lost focus (interviewers only).
    Focus(events::Focus),
    /// The session switched language: the editor's language, the file name and the template
    /// follow (the document itself changes by an `updates`).
    Environment {
        environment: EnvironmentInfo,
        by: Role,
    },
    /// The session moved to another question of its template (or its question restarted):
    /// the navigator and the clock follow, the question is read again
    /// (`GET /sessions/{id}/question`); the document changes by an `updates`.
    QuestionChanged {
        template: Box<crate::templates::ProgressView>,
        by: Role,
    },
    /// The current question's clock reached its warning, or its end.
    QuestionTime(events::QuestionClock),
}

/// One of the workspace's other files as `welcome` shows it: its text and the version its
/// updates go on from.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FileDoc {
    pub name: String,
    pub document: String,
    pub version: u64,
}

/// The run in progress as `welcome` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WelcomeRun {
    pub run_id: Uuid,
    pub by: Role,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// `output` and `input` messages, in order, as they were sent.
    #[schema(no_recursion)]
    pub events: Vec<ServerMessage>,
    /// Earlier output or input of the run was not kept.
    pub truncated: bool,
}

impl WelcomeRun {
    /// The run a joining socket catches up on, as the socket shows it to `role`.
    pub fn new(run: CatchUp) -> Self {
        Self {
            run_id: run.run_id,
            by: run.by,
            started_at: run.started_at,
            events: run
                .events
                .iter()
                .map(|e| ServerMessage::from(&**e))
                .collect(),
            truncated: run.truncated,
        }
    }
}

impl From<&SessionEvent> for ServerMessage {
    fn from(event: &SessionEvent) -> Self {
        match event {
            SessionEvent::Status(s) => Self::Status { status: s.as_str() },
            SessionEvent::EngineDown => Self::Status { status: "degraded" },
            SessionEvent::RunStarted(e) => Self::RunStarted(e.clone()),
            SessionEvent::Output(e) => Self::Output(e.clone()),
            SessionEvent::RunFinished(result) => Self::RunFinished(RunFinished::from(&**result)),
            SessionEvent::Presence(p) => Self::Presence {
                participants: p.participants.clone(),
            },
            SessionEvent::Ended(reason) => Self::SessionEnded {
                reason: reason.as_str(),
            },
            SessionEvent::Updates {
                file,
                version,
                updates,
            } => Self::Updates {
                file: file.clone(),
                version: *version,
                updates: updates.clone(),
            },
            SessionEvent::Cursor(e) => Self::Cursor(e.clone()),
            SessionEvent::Notes(text) => Self::Notes { text: text.clone() },
            SessionEvent::Scorecard(card) => Self::Scorecard {
                scorecard: (**card).clone(),
            },
            SessionEvent::Input(e) => Self::Input(e.clone()),
            SessionEvent::Expiry(e) => Self::Expiry(e.clone()),
            SessionEvent::TestsStarted(e) => Self::TestsStarted(e.clone()),
            SessionEvent::Focus(e) => Self::Focus(e.clone()),
            SessionEvent::Environment {
                environment, by, ..
            } => Self::Environment {
                environment: environment.clone(),
                by: *by,
            },
            SessionEvent::TestResult(r) => Self::TestResult((**r).clone()),
            SessionEvent::QuestionTime(c) => Self::QuestionTime(c.clone()),
            // Without a role, the least: what a candidate may see.
            SessionEvent::QuestionChanged { .. } => Self::for_role(event, Role::Candidate),
            // Without a role, the least: what a candidate may see.
            SessionEvent::Interview(_) => Self::for_role(event, Role::Candidate),
            // Without a role, the least: what a candidate may see.
            SessionEvent::TestsFinished(r) => Self::TestsFinished(r.view(Role::Candidate)),
        }
    }
}

impl ServerMessage {
    /// `event` as a socket of `role` gets it (test reports differ by role).
    pub fn for_role(event: &SessionEvent, role: Role) -> Self {
        match event {
            SessionEvent::TestsFinished(r) => Self::TestsFinished(r.view(role)),
            // Candidates and observers see only the questions reached so far.
            SessionEvent::QuestionChanged {
                progress,
                by,
                clock_hidden,
                ..
            } => Self::QuestionChanged {
                template: Box::new(progress.view(role, chrono::Utc::now(), *clock_hidden)),
                by: *by,
            },
            SessionEvent::Interview(i) => Self::Interview {
                interview: i.interview.view(role),
                template: i
                    .template
                    .as_ref()
                    .map(|p| Box::new(p.view(role, chrono::Utc::now(), i.interview.clock_hidden))),
            },
            other => Self::from(other),
        }
    }
}

impl From<&crate::api::ApiError> for ServerMessage {
    fn from(err: &crate::api::ApiError) -> Self {
        Self::Error {
            code: err.code(),
            message: err.to_string(),
            hint: err.hint(),
            retry_after_ms: err.retry_after().map(|d| d.as_millis() as u64),
        }
    }
}

impl ServerMessage {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_have_type_first_and_api_names() {
        let at = chrono::Utc::now();
        let result = crate::session::RunResult {
            by: Role::Candidate,
            summary: crate::session::RunSummary {
                run_id: Uuid::nil(),
                status: crate::session::RunStatus::OutputLimit,
                exit_code: None,
                duration_ms: 5,
                build_ms: Some(0),
                build_cached: true,
                truncated: true,
                started_at: at,
                finished_at: at,
            },
            stdout: "out".into(),
            stderr: String::new(),
        };
        let text = ServerMessage::from(&SessionEvent::RunFinished(Arc::new(result))).to_text();
        assert!(text.starts_with(r#"{"type":"run_finished""#), "{text}");
        assert!(text.contains(r#""status":"output_limit""#), "{text}");
        assert!(text.contains(r#""exit_code":null"#), "{text}");
        assert!(text.contains(r#""build_cached":true"#), "{text}");
        // The summary goes out, not the output nor the times (the socket had them already),
        // nor who started the run (the audit trail's; sockets heard it in `run_started`).
        assert!(
            !text.contains("stdout") && !text.contains("started_at") && !text.contains(r#""by""#),
            "{text}"
        );
        assert_eq!(ServerMessage::Pong.to_text(), r#"{"type":"pong"}"#);
    }
}
