//! A socket's admission: its `auth` message when the URL carried no token, then joining the
//! session within its join rate and socket caps; a refused client is told why, then closed.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use uuid::Uuid;

use super::{caps, close, close_frame, text, Start};
use crate::api::ApiError;
use crate::auth::Role;
use crate::session::Session;
use crate::state::AppState;
use crate::ws::handle::Client;
use crate::ws::outgoing::ServerMessage;
use crate::ws::protocol::ClientMessage;

/// How long a client has to send `auth` when the URL carried no token.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// Authenticates (unless the URL did) and joins the session within its socket caps; the
/// guard keeps the participant listed. `None`: refused, and the client told why.
pub(super) async fn admit<S, R, E>(
    session: &Arc<Session>,
    state: &AppState,
    sink: &mut S,
    stream: &mut R,
    start: Start,
) -> Option<(
    Client,
    Option<(Uuid, u64)>,
    crate::session::ParticipantGuard,
)>
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    let mut after = start.after;
    let credential = match start.role {
        Some(role) => role,
        None => match authenticate(session, stream).await {
            Some((role, resume)) => {
                after = resume.or(after);
                role
            }
            None => {
                let _ = sink
                    .send(text(ServerMessage::from(&ApiError::Unauthorized)))
                    .await;
                let _ = sink
                    .send(close_frame(close::UNAUTHORIZED, "unauthorized"))
                    .await;
                return None;
            }
        },
    };
    let role = if start.readonly {
        Role::Observer
    } else {
        credential
    };
    // Someone who gave no name is shown as what they are ("Candidate"), on cursors too.
    let name = if start.name.is_empty() {
        role.label().to_string()
    } else {
        start.name
    };
    // Each socket costs a `welcome`: a token's reconnect loop is bounded by a rate.
    if let Err(err) = state.sessions.check_join(session.id, credential) {
        let _ = sink
            .send(text(ServerMessage::from(&ApiError::from(err))))
            .await;
        let _ = sink
            .send(close_frame(close::TRY_LATER, "too many joins"))
            .await;
        return None;
    }
    match session.join(role, credential, name, caps(state)) {
        Ok(guard) => {
            let me = Client {
                role,
                participant: guard.id(),
                lobby: false,
            };
            Some((me, after, guard))
        }
        Err(cap) => {
            let _ = sink
                .send(text(ServerMessage::from(&ApiError::TooManySockets(cap))))
                .await;
            let _ = sink
                .send(close_frame(close::TRY_LATER, "too many sockets"))
                .await;
            None
        }
    }
}

/// The role the first message's `auth` earns, and what it already has of the run.
async fn authenticate<R, E>(
    session: &Session,
    stream: &mut R,
) -> Option<(Role, Option<(Uuid, u64)>)>
where
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    let first = tokio::time::timeout(AUTH_TIMEOUT, stream.next())
        .await
        .ok()??
        .ok()?;
    let Message::Text(frame) = first else {
        return None;
    };
    match ClientMessage::parse(frame.as_str()) {
        Ok(ClientMessage::Auth { token, after }) => session
            .role_for_token(&token)
            .map(|role| (role, after.map(|a| (a.run_id, a.seq)))),
        _ => None,
    }
}
