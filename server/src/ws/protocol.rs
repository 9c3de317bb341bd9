//! The socket's messages (each with a schema in `/api/v1/socket-schemas.json`): text frames,
//! one JSON object each, `type` first. Parsing tells a malformed message from an unknown one,
//! so the client hears which it sent.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::api::views::{RunFinished, SessionView};
use crate::auth::Role;
use crate::collab::Update;
use crate::session::{events, CatchUp, Participant, SessionEvent};

/// What a client may send.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Credentials, when the URL carried none; must be the first message. `after` says what
    /// a reconnecting client already has of the run in progress.
    Auth {
        token: String,
        #[serde(default)]
        after: Option<After>,
    },
    Run {
        #[serde(default)]
        files: Option<BTreeMap<String, String>>,
        #[serde(default)]
        stdin: Option<String>,
        #[serde(default)]
        restart: bool,
    },
    Stdin {
        data: String,
    },
    StdinEof,
    Kill,
    Ping,
    /// Document updates made on `version`.
    // `parse` reads it with `UpdateMessage`, straight from the text: a tagged enum would first
    // copy the change sets into a tree (the derive still describes it, for the schema).
    Update {
        version: u64,
        updates: Vec<ClientUpdate>,
        /// Another file of the workspace than the document (a tab).
        #[serde(default)]
        file: Option<String>,
    },
    /// Every accepted update since `version` (of the document, or of `file`).
    Pull {
        version: u64,
        #[serde(default)]
        file: Option<String>,
    },
    Cursor {
        anchor: u64,
        head: u64,
        #[serde(default)]
        version: u64,
        #[serde(default)]
        file: Option<String>,
    },
    Notes {
        text: String,
    },
    EndSession,
    /// Moves the session's end as far as its maximum lifetime allows.
    Extend,
    /// Runs every test case of the session's question.
    RunTests,
    /// This page gained or lost focus (its tab hidden, its window left).
    Focus {
        focused: bool,
    },
    /// Switches the session to another environment (language).
    SwitchEnvironment {
        environment: String,
    },
}

/// A place in a run's output: the client has every event of `run_id` up to `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct After {
    pub run_id: Uuid,
    pub seq: u64,
}

/// One update as a client sends it; the change set stays the JSON text it was sent as.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientUpdate {
    pub client_id: String,
    /// A CodeMirror change set in its JSON form.
    #[schema(value_type = Vec<serde_json::Value>)]
    pub changes: Box<RawValue>,
}

impl PartialEq for ClientUpdate {
    fn eq(&self, other: &Self) -> bool {
        self.client_id == other.client_id && self.changes.get() == other.changes.get()
    }
}

/// `{"type":"update", ...}`, parsed without building a tree of its change sets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateMessage {
    #[serde(rename = "type")]
    _type: IgnoredAny,
    version: u64,
    updates: Vec<ClientUpdate>,
    #[serde(default)]
    file: Option<String>,
}

/// Just the `type` of a message; everything else is skipped without being kept.
#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
}

pub use crate::session::events::EnvironmentInfo;

const KNOWN_TYPES: &[&str] = &[
    "auth",
    "run",
    "stdin",
    "stdin_eof",
    "kill",
    "ping",
    "update",
    "pull",
    "cursor",
    "notes",
    "end_session",
    "extend",
    "run_tests",
    "focus",
    "switch_environment",
];

/// Why a client message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON, not an object, no `type`, or fields of the wrong shape.
    Invalid(String),
    /// A well-formed message of a type this server does not know.
    Unknown(String),
}

impl ClientMessage {
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let envelope: Envelope = serde_json::from_str(text).map_err(|e| {
            ParseError::Invalid(if e.is_syntax() || e.is_eof() {
                format!("not JSON: {e}")
            } else {
                "a message is a JSON object with a string 'type'".into()
            })
        })?;
        let kind = envelope.kind;
        if !KNOWN_TYPES.contains(&kind.as_ref()) {
            return Err(ParseError::Unknown(kind.chars().take(64).collect()));
        }
        let invalid = |e: serde_json::Error| ParseError::Invalid(format!("'{kind}': {e}"));
        if kind == "update" {
            let m: UpdateMessage = serde_json::from_str(text).map_err(invalid)?;
            return Ok(ClientMessage::Update {
                version: m.version,
                updates: m.updates,
                file: m.file,
            });
        }
        serde_json::from_str(text).map_err(invalid)
    }
}

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
        /// The run in progress, with its output and input so far (after the client's `after`).
        run: Option<Box<WelcomeRun>>,
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
            SessionEvent::Presence(list) => Self::Presence {
                participants: list.clone(),
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
            SessionEvent::Input(e) => Self::Input(e.clone()),
            SessionEvent::Expiry(e) => Self::Expiry(e.clone()),
            SessionEvent::TestsStarted(e) => Self::TestsStarted(e.clone()),
            SessionEvent::Focus(e) => Self::Focus(e.clone()),
            SessionEvent::Environment { environment, by } => Self::Environment {
                environment: environment.clone(),
                by: *by,
            },
            SessionEvent::TestResult(r) => Self::TestResult((**r).clone()),
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

    fn check(input: &str, expect: Result<ClientMessage, ParseError>) {
        assert_eq!(ClientMessage::parse(input), expect, "{input}");
    }

    #[test]
    fn messages_parse() {
        check(r#"{"type":"ping"}"#, Ok(ClientMessage::Ping));
        check(r#"{"type":"kill"}"#, Ok(ClientMessage::Kill));
        check(r#"{"type":"stdin_eof"}"#, Ok(ClientMessage::StdinEof));
        check(
            r#"{"type":"stdin","data":"x\n"}"#,
            Ok(ClientMessage::Stdin { data: "x\n".into() }),
        );
        check(
            r#"{"type":"run","restart":true}"#,
            Ok(ClientMessage::Run {
                files: None,
                stdin: None,
                restart: true,
            }),
        );
        check(
            r#"{"type":"auth","token":"t"}"#,
            Ok(ClientMessage::Auth {
                token: "t".into(),
                after: None,
            }),
        );
        check(
            r#"{"type":"update","version":3,"updates":[{"client_id":"c","changes":[1,[0,"x"]]}]}"#,
            Ok(ClientMessage::Update {
                version: 3,
                file: None,
                updates: vec![ClientUpdate {
                    client_id: "c".into(),
                    changes: RawValue::from_string(r#"[1,[0,"x"]]"#.into()).expect("json"),
                }],
            }),
        );
    }

    #[test]
    fn malformed_and_unknown_are_told_apart() {
        assert!(matches!(
            ClientMessage::parse("not json"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            ClientMessage::parse("[1,2]"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":7}"#),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"stdin"}"#),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"stdin","data":5}"#),
            Err(ParseError::Invalid(_))
        ));
        for bad in [
            r#"{"type":"update","version":1}"#,
            r#"{"type":"update","version":1,"updates":[],"extra":1}"#,
            r#"{"type":"update","version":1,"updates":[{"client_id":"c","changes":[1}]}"#,
        ] {
            assert!(
                matches!(ClientMessage::parse(bad), Err(ParseError::Invalid(_))),
                "{bad}"
            );
        }
        assert_eq!(
            ClientMessage::parse(r#"{"type":"dance"}"#),
            Err(ParseError::Unknown("dance".into()))
        );
    }

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
        // The summary goes out, not the output nor the times (the socket had them already).
        assert!(
            !text.contains("stdout") && !text.contains("started_at"),
            "{text}"
        );
        assert_eq!(ServerMessage::Pong.to_text(), r#"{"type":"pong"}"#);
    }
}
