//! What one client message does (cursors are paced by the socket loop): one match over the
//! message, each arm checking what the sender's role may do.

use std::sync::Arc;

use super::outgoing::ServerMessage;
use super::protocol::{ClientMessage, ClientUpdate, ParseError};
use crate::api::access::allow;
use crate::api::ApiError;
use crate::auth::Role;
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

    /// `Forbidden` unless this client's role `may` ([`Role`]'s policy).
    fn may(&self, may: impl FnOnce(Role) -> bool) -> Result<(), ApiError> {
        allow(self.role, may).map(drop)
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
        Err(err) => return Some(ServerMessage::from(&ApiError::from(err))),
    };
    let sessions = &state.sessions;
    let result: Result<(), ApiError> = match message {
        // A page that pings is a participant who is there: that is activity.
        ClientMessage::Ping => {
            session.touch();
            return Some(ServerMessage::Pong);
        }
        ClientMessage::Auth { .. } => Err(ApiError::InvalidMessage("already authenticated".into())),
        ClientMessage::Pull { version, file } => {
            match session.updates_since(file.as_deref(), version) {
                Ok(updates) => {
                    return Some(ServerMessage::Updates {
                        file,
                        version,
                        updates,
                    })
                }
                // Whatever the reason, a pull the server cannot answer is a bad message.
                Err(err) => Err(ApiError::InvalidMessage(err.to_string())),
            }
        }
        ClientMessage::Cursor { .. } => return None, // paced by the socket loop
        ClientMessage::Run {
            files,
            stdin,
            restart,
        } => {
            let req = RunRequest {
                files,
                stdin,
                restart,
                ..Default::default()
            };
            run(state, session, me, req).await
        }
        ClientMessage::Stdin { data } => stdin(state, session, me, data),
        ClientMessage::StdinEof => me
            .may(Role::may_run)
            .and_then(|()| session.close_stdin().map_err(ApiError::Stdin)),
        ClientMessage::Kill => me
            .may(Role::may_run)
            .and_then(|()| session.kill_run().map_err(ApiError::from)),
        ClientMessage::Update {
            version,
            updates,
            file,
        } => match update(state, session, me, (file, version), updates).await {
            Ok(Some(rejected)) => return Some(rejected),
            other => other.map(|_| ()),
        },
        ClientMessage::Notes { text } => match me.may(Role::keeps_notes) {
            Ok(()) => sessions.set_notes(session, text).await.map_err(Into::into),
            Err(err) => Err(err),
        },
        ClientMessage::EndSession => match me.may(Role::may_end) {
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
            match me.may(|r| r.may_switch(state.config.sessions.language_switch)) {
                Ok(()) => sessions
                    .switch_environment(session, &environment, me.role)
                    .await
                    .map_err(Into::into),
                Err(err) => Err(err),
            }
        }
        ClientMessage::RunTests => match me.may(Role::may_run) {
            Ok(()) => sessions
                .start_tests(session, me.role)
                .await
                .map(|_| ())
                .map_err(Into::into),
            Err(err) => Err(err),
        },
        ClientMessage::Extend => match me.may(Role::may_extend) {
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

async fn run(
    state: &AppState,
    session: &Arc<Session>,
    me: Client,
    req: RunRequest,
) -> Result<(), ApiError> {
    me.may(Role::may_run)?;
    session.touch();
    state.sessions.start_run(session, req, me.role).await?;
    Ok(())
}

fn stdin(state: &AppState, session: &Session, me: Client, data: String) -> Result<(), ApiError> {
    me.may(Role::may_run)?;
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
    updates: Vec<ClientUpdate>,
) -> Result<Option<ServerMessage>, ApiError> {
    me.may(Role::may_edit)?;
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
