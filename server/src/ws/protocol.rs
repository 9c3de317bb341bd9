//! What a client may send on the socket (each message with a schema in
//! `/api/v1/socket-schemas.json`): text frames, one JSON object each, `type` first. Parsing
//! tells a malformed message from an unknown one, so the client hears which it sent. What the
//! server sends is `outgoing`'s.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::scorecards::ScorecardInput;

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
    /// Saves this interviewer's scorecard as a draft, under their display name. `author`
    /// keeps interviewers' cards apart (they share a token): the page keeps one per browser.
    SaveScorecard {
        author: String,
        scorecard: ScorecardInput,
    },
    /// As `save_scorecard`, and submits it (final; every criterion rated, a recommendation).
    SubmitScorecard {
        author: String,
        scorecard: ScorecardInput,
    },
    /// Moves the session to question `index` of its template (interviewers).
    SetQuestion {
        index: usize,
    },
    /// Starts an interview waiting in its lobby (interviewers).
    Start,
    /// Hides the interview's clock from the candidate, or shows it again (interviewers).
    Clock {
        hidden: bool,
    },
    /// Hands a take-home in: read-only from then on; its tests run once more.
    Submit,
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

const KNOWN_TYPES: &[&str] = &[
    "auth",
    "set_question",
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
    "save_scorecard",
    "submit_scorecard",
    "start",
    "clock",
    "submit",
];

/// Why a client message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON, not an object, no `type`, or fields of the wrong shape.
    Invalid(String),
    /// A well-formed message of a type this server does not know.
    Unknown(String),
}

impl From<ParseError> for crate::api::ApiError {
    fn from(err: ParseError) -> Self {
        match err {
            ParseError::Invalid(why) => Self::InvalidMessage(why),
            ParseError::Unknown(kind) => Self::UnknownMessage(kind),
        }
    }
}

impl ClientMessage {
    /// Parses one text frame, telling a malformed message from an unknown one.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::ServerMessage;

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
        // A scorecard's fields are checked as the message's own.
        let card = |inner: &str| {
            ClientMessage::parse(&format!(
                r#"{{"type":"save_scorecard","author":"a","scorecard":{inner}}}"#
            ))
        };
        assert!(matches!(
            card(r#"{"comment":"ok"}"#),
            Ok(ClientMessage::SaveScorecard { .. })
        ));
        assert!(matches!(
            card(r#"{"grade":"A"}"#),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            card(r#"{"recommendation":"maybe"}"#),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn refusals_are_api_errors_on_the_wire() {
        let error = |text: &str| {
            let err = ClientMessage::parse(text).expect_err("refused");
            ServerMessage::from(&crate::api::ApiError::from(err)).to_text()
        };
        assert_eq!(
            error(r#"{"type":"dance"}"#),
            r#"{"type":"error","code":"UNKNOWN_MESSAGE","message":"no message type 'dance'","hint":"docs/protocol.md lists the message types"}"#
        );
        assert_eq!(
            error(r#"{"type":7}"#),
            r#"{"type":"error","code":"INVALID_MESSAGE","message":"a message is a JSON object with a string 'type'","hint":"see docs/protocol.md for the message shapes"}"#
        );
    }
}
