//! What one client message does (cursors are paced by the socket loop): one match over the
//! message, each arm checking what the sender's role may do.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::protocol::{ClientMessage, ParseError, ServerMessage};
use crate::api::ApiError;
use crate::auth::Role;
use crate::session::files::parse_files;
use crate::session::{visible_to, EditError, EndReason, RunRequest, Session, SessionEvent};
use crate::state::AppState;

/// Who is on the other end of a socket.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub role: Role,
    pub participant: u64,
}

impl Client {
    /// Notes only for interviewers; one's own cursor is not echoed.
    pub fn sees(&self, event: &SessionEvent) -> bool {
        match event {
            SessionEvent::Cursor(c) => c.participant != self.participant,
            other => visible_to(other, self.role),
        }
    }

    fn may_write(&self) -> Result<(), ApiError> {
        if self.role.can_write() {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    fn interviewer(&self) -> Result<(), ApiError> {
        if self.role == Role::Interviewer {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

pub fn invalid(message: &str) -> ServerMessage {
    ServerMessage::Error {
        code: "INVALID_MESSAGE",
        message: message.to_string(),
        hint: "send JSON objects with a 'type' as documented in docs/protocol.md",
        retry_after_ms: None,
    }
}

/// Handles one client message; returns what to answer this client alone.
pub async fn handle(
    state: &AppState,
    session: &Arc<Session>,
    me: Client,
    parsed: Result<ClientMessage, ParseError>,
) -> Option<ServerMessage> {
    let message = match parsed {
        Ok(m) => m,
        Err(ParseError::Invalid(why)) => return Some(invalid(&why)),
        Err(ParseError::Unknown(kind)) => {
            return Some(ServerMessage::Error {
                code: "UNKNOWN_MESSAGE",
                message: format!("no message type '{kind}'"),
                hint: "see docs/protocol.md for the message types",
                retry_after_ms: None,
            })
        }
    };
    let sessions = &state.sessions;
    let result: Result<(), ApiError> = match message {
        // A page that pings is a participant who is there: that is activity.
        ClientMessage::Ping => {
            session.touch();
            return Some(ServerMessage::Pong);
        }
        ClientMessage::Auth { .. } => return Some(invalid("already authenticated")),
        ClientMessage::Pull { version, file } => {
            return Some(match session.updates_since(file.as_deref(), version) {
                Ok(updates) => ServerMessage::Updates {
                    file,
                    version,
                    updates,
                },
                Err(err) => invalid(&err.to_string()),
            })
        }
        ClientMessage::Cursor { .. } => return None, // paced by the socket loop
        ClientMessage::Run {
            files,
            stdin,
            restart,
        } => run(state, session, me, files, stdin, restart).await,
        ClientMessage::Stdin { data } => stdin(state, session, me, data),
        ClientMessage::StdinEof => me
            .may_write()
            .and_then(|()| session.close_stdin().map_err(ApiError::Stdin)),
        ClientMessage::Kill => me
            .may_write()
            .and_then(|()| session.kill_run().map_err(ApiError::from)),
        ClientMessage::Update {
            version,
            updates,
            file,
        } => match update(state, session, me, (file, version), updates).await {
            Ok(Some(rejected)) => return Some(rejected),
            other => other.map(|_| ()),
        },
        ClientMessage::Notes { text } => match me.interviewer() {
            Ok(()) => sessions.set_notes(session, text).await.map_err(Into::into),
            Err(err) => Err(err),
        },
        ClientMessage::EndSession => match me.interviewer() {
            Ok(()) => sessions
                .end(session, EndReason::Stopped)
                .await
                .map_err(Into::into),
            Err(err) => Err(err),
        },
        ClientMessage::Focus { focused } => {
            session.set_focus(me.participant, focused);
            return None;
        }
        ClientMessage::SwitchEnvironment { environment } => {
            match crate::api::access::may_switch(&state.config, me.role) {
                Ok(()) => sessions
                    .switch_environment(session, &environment, me.role)
                    .await
                    .map_err(Into::into),
                Err(err) => Err(err),
            }
        }
        ClientMessage::RunTests => match me.may_write() {
            Ok(()) => sessions
                .start_tests(session, me.role)
                .await
                .map(|_| ())
                .map_err(Into::into),
            Err(err) => Err(err),
        },
        ClientMessage::Extend => match me.may_write() {
            Ok(()) => sessions
                .extend(session)
                .await
                .map(|_| ())
                .map_err(Into::into),
            Err(err) => Err(err),
        },
    };
    result.err().map(|err| {
        if matches!(err, ApiError::Internal(_) | ApiError::Unavailable(_)) {
            // Detail to the log; the client gets the code.
            tracing::error!(session = %session.id, error = ?err, "socket request failed");
        }
        ServerMessage::from(&err)
    })
}

/// Starts a run with `files` beside the session's own; their names are parsed once the sender
/// may run at all.
async fn run(
    state: &AppState,
    session: &Arc<Session>,
    me: Client,
    files: Option<BTreeMap<String, String>>,
    stdin: Option<String>,
    restart: bool,
) -> Result<(), ApiError> {
    me.may_write()?;
    let req = RunRequest {
        files: files.map(parse_files).transpose()?,
        stdin,
        restart,
        ..Default::default()
    };
    session.touch();
    state.sessions.start_run(session, req, me.role).await?;
    Ok(())
}

fn stdin(state: &AppState, session: &Session, me: Client, data: String) -> Result<(), ApiError> {
    me.may_write()?;
    let limit = state.config.limits.stdin_message_bytes;
    if data.len() > limit {
        return Err(ApiError::StdinTooLarge(limit));
    }
    session.touch();
    session
        .send_stdin(data, me.participant)
        .map_err(ApiError::Stdin)
}

/// Applies an edit; `Some` is the answer to a client whose version was stale.
async fn update(
    state: &AppState,
    session: &Arc<Session>,
    me: Client,
    (file, version): (Option<String>, u64),
    updates: Vec<super::protocol::ClientUpdate>,
) -> Result<Option<ServerMessage>, ApiError> {
    me.may_write()?;
    let updates = updates
        .into_iter()
        .map(|u| (u.client_id, u.changes))
        .collect();
    match state
        .sessions
        .push_file_updates(session, file.as_deref(), version, updates)
        .await
    {
        Err(EditError::Stale { current }) => Ok(Some(ServerMessage::UpdateRejected {
            file,
            version: current,
        })),
        other => other.map(|()| None).map_err(ApiError::from),
    }
}
