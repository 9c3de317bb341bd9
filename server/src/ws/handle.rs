//! What one client message does (cursors are paced by the socket loop): one match over the
//! message, each arm asking [`Role`]'s policy whether the sender may.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::outgoing::ServerMessage;
use super::protocol::{ClientMessage, ClientUpdate, ParseError};
use crate::api::access::allow;
use crate::api::ApiError;
use crate::auth::Role;
use crate::interview::SubmittedBy;
use crate::scorecards::{AuthorId, ScorecardInput};
use crate::session::files::parse_files;
use crate::session::{
    visible_in_lobby, visible_to, EditError, EndReason, RunRequest, Session, SessionEvent,
};
use crate::state::AppState;

/// Who is on the other end of a socket.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub role: Role,
    pub participant: u64,
    /// Held in the session's lobby: it hears only that the session waits
    /// ([`visible_in_lobby`]) and may send nothing but pings, until the Start.
    pub lobby: bool,
}

impl Client {
    /// Notes only for interviewers; one's own cursor is not echoed.
    pub fn sees(&self, event: &SessionEvent) -> bool {
        if self.lobby && !visible_in_lobby(event) {
            return false;
        }
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
    let answer = match parsed {
        Ok(message) => respond(state, session, me, message).await,
        Err(err) => Err(err.into()),
    };
    answer.unwrap_or_else(|err| {
        if matches!(err, ApiError::Internal(_) | ApiError::Unavailable(_)) {
            // Detail to the log; the client gets the code.
            tracing::error!(session = %session.id, error = ?err, "socket request failed");
        }
        Some(ServerMessage::from(&err))
    })
}

/// What one message does. `Some` is an answer for the sender alone; most messages are answered
/// by the events they cause, which every socket gets.
async fn respond(
    state: &AppState,
    session: &Arc<Session>,
    me: Client,
    message: ClientMessage,
) -> Result<Option<ServerMessage>, ApiError> {
    let sessions = &state.sessions;
    if me.lobby && !matches!(message, ClientMessage::Ping | ClientMessage::Focus { .. }) {
        return Err(ApiError::NotStarted);
    }
    match message {
        // A page that pings is a participant who is there: that is activity.
        ClientMessage::Ping => {
            session.touch();
            return Ok(Some(ServerMessage::Pong));
        }
        ClientMessage::Auth { .. } => {
            return Err(ApiError::InvalidMessage("already authenticated".into()))
        }
        ClientMessage::Pull { version, file } => return pull(session, file, version).map(Some),
        ClientMessage::Update {
            version,
            updates,
            file,
        } => return update(state, session, me, (file, version), updates).await,
        ClientMessage::Cursor { .. } => {} // paced by the socket loop
        ClientMessage::Focus { focused } => session.set_focus(me.participant, focused),
        ClientMessage::Run {
            files,
            stdin,
            restart,
        } => run(state, session, me, files, stdin, restart).await?,
        ClientMessage::Stdin { data } => stdin(state, session, me, data)?,
        ClientMessage::StdinEof => {
            me.may(Role::may_run)?;
            session.close_stdin().map_err(ApiError::Stdin)?;
        }
        ClientMessage::Kill => {
            me.may(Role::may_run)?;
            session.kill_run()?;
        }
        ClientMessage::Notes { text } => {
            me.may(Role::keeps_notes)?;
            sessions.set_notes(session, text).await?;
        }
        ClientMessage::EndSession => {
            me.may(Role::may_end)?;
            sessions.end(session, EndReason::Stopped).await?;
        }
        ClientMessage::SwitchEnvironment { environment } => {
            me.may(|r| r.may_switch(state.config.sessions.language_switch))?;
            sessions
                .switch_environment(session, &environment, me.role)
                .await?;
        }
        ClientMessage::RunTests => {
            me.may(Role::may_run)?;
            sessions.start_tests(session, me.role).await?;
        }
        ClientMessage::Extend => {
            me.may(Role::may_extend)?;
            sessions.extend(session).await?;
        }
        message @ (ClientMessage::SetQuestion { .. }
        | ClientMessage::SaveScorecard { .. }
        | ClientMessage::SubmitScorecard { .. }
        | ClientMessage::Start
        | ClientMessage::Clock { .. }
        | ClientMessage::Submit) => return interview(state, session, me, message).await,
    }
    Ok(None)
}

/// The interview's messages: a template's questions, the lobby's Start, the clock, a
/// take-home's submission, and interviewers' scorecards.
async fn interview(
    state: &AppState,
    session: &Arc<Session>,
    me: Client,
    message: ClientMessage,
) -> Result<Option<ServerMessage>, ApiError> {
    let sessions = &state.sessions;
    match message {
        ClientMessage::SetQuestion { index } => {
            let take_home = session.interview().mode == crate::interview::Mode::TakeHome;
            me.may(|r| r.may_set_question(take_home))?;
            sessions.set_question(session, index, me.role).await?;
        }
        ClientMessage::SaveScorecard { author, scorecard } => {
            return save_scorecard(state, session, me, (author, scorecard), false).await;
        }
        ClientMessage::SubmitScorecard { author, scorecard } => {
            return save_scorecard(state, session, me, (author, scorecard), true).await;
        }
        ClientMessage::Start => {
            me.may(Role::may_start)?;
            sessions.start(session, me.role).await?;
        }
        ClientMessage::Clock { hidden } => {
            me.may(Role::may_start)?;
            sessions.set_clock_hidden(session, hidden).await?;
        }
        ClientMessage::Submit => {
            me.may(Role::may_submit)?;
            sessions.submit(session, SubmittedBy::of(me.role)).await?;
        }
        _ => unreachable!("`respond` hands over only the interview's messages"),
    }
    Ok(None)
}

/// Saves (or submits) the sender's scorecard under their display name; the sender hears it
/// back with every interviewer, as `scorecard`.
async fn save_scorecard(
    state: &AppState,
    session: &Session,
    me: Client,
    (author, content): (String, ScorecardInput),
    submit: bool,
) -> Result<Option<ServerMessage>, ApiError> {
    me.may(Role::keeps_scorecards)?;
    let author = AuthorId::parse(&author).map_err(ApiError::Scorecard)?;
    let name = session.participant_name(me.participant);
    state
        .sessions
        .save_scorecard(&session.id, (author, name), content, submit)
        .await?;
    Ok(None)
}

/// Every accepted update of the document (or of `file`) since `version`.
fn pull(session: &Session, file: Option<String>, version: u64) -> Result<ServerMessage, ApiError> {
    // Whatever the reason, a pull the server cannot answer is a bad message.
    let updates = session
        .updates_since(file.as_deref(), version)
        .map_err(|err| ApiError::InvalidMessage(err.to_string()))?;
    Ok(ServerMessage::Updates {
        file,
        version,
        updates,
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
    me.may(Role::may_run)?;
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
    session.check_open(me.role)?;
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
