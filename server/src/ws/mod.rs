//! The session socket: upgrade, authenticate, `welcome`, then events out and commands in until
//! either side ends. Every socket is a tracked task that closes with 1012 on server shutdown.
//!
//! # Layout
//! - `protocol`: [`ClientMessage`] and its parsing; `outgoing`: [`ServerMessage`]; `schemas`:
//!   both as JSON Schemas.
//! - this file: the upgrade handler (the route is mounted in `app`).
//! - `socket`: the per-socket loop, generic over any `Sink` and `Stream` of messages (so unit
//!   tests drive it with channels); `socket/admit`: its `auth` and its joining the session.
//! - `handle`: what one client message does.
//! - `pacing`: the socket's budget and its cursor pacing.

mod handle;
pub mod outgoing;
mod pacing;
pub mod protocol;
pub mod schemas;
mod socket;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;

pub use outgoing::{EnvironmentInfo, ServerMessage};
pub use protocol::ClientMessage;

use crate::api::access::SocketAccess;
use crate::api::ApiError;
use crate::state::AppState;

/// What the upgrade's URL may say besides the token (which `SocketAccess` reads).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SocketQuery {
    /// The name others see (cursors, presence).
    name: Option<String>,
    /// An interviewer watching without being seen to edit: joins as an observer.
    #[serde(default)]
    readonly: Option<String>,
    /// With `after_seq`: what a reconnecting client already has of the run in progress (the
    /// same as `after` of the `auth` message).
    after_run: Option<uuid::Uuid>,
    after_seq: Option<u64>,
}

/// The session's socket. What can be checked is checked before upgrading, so a bad token or a
/// full session gets an HTTP error with the error body rather than a socket that closes at once.
#[utoipa::path(get, path = "/sessions/{id}/ws", tag = "socket", operation_id = "socket",
    description = "Upgrades to the session's WebSocket. Text frames, one JSON object each, `type` first: \
the `ClientMessage` and `ServerMessage` components, and one schema per message at `/api/v1/socket-schemas.json`.",
    params(
        crate::api::SessionPath,
        ("token" = Option<String>, Query, description = "A session token; without it, the first message is `auth`"),
        SocketQuery,
    ),
    responses(
        (status = 101, description = "Switching to the socket"),
        (status = 400, description = "Not a WebSocket upgrade request", body = crate::api::error::ErrorBody),
        (status = 401, body = crate::api::error::ErrorBody),
        (status = 404, body = crate::api::error::ErrorBody),
        (status = 409, description = "The session ended", body = crate::api::error::ErrorBody),
        (status = 429, description = "Too many sockets", body = crate::api::error::ErrorBody),
    ))]
pub async fn upgrade(
    State(state): State<AppState>,
    access: SocketAccess,
    Query(query): Query<SocketQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // axum's rejection is plain text; the route answers in the error shape like any other.
    let ws = ws.map_err(|rejection| {
        ApiError::InvalidArgument(format!(
            "this route upgrades to a WebSocket: {}",
            rejection.body_text()
        ))
    })?;
    let session = state
        .sessions
        .get(&access.id)
        .ok_or(ApiError::SessionEnded)?;
    if let Some(role) = access.role {
        session
            .socket_room(role, socket::caps(&state))
            .map_err(ApiError::TooManySockets)?;
    }
    let start = socket::Start {
        role: access.role,
        readonly: matches!(query.readonly.as_deref(), Some("1" | "true")),
        name: clean_name(query.name.as_deref()),
        after: query.after_run.zip(query.after_seq),
    };
    let limit = state.config.socket_message_bytes();
    let tasks = state.tasks.clone();
    // The socket's lines, and its runs', carry the upgrade request's id.
    let span = tracing::Span::current();
    Ok(ws
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            let _open = crate::metrics::SocketGauge::open();
            let (sink, stream) = socket.split();
            tasks
                .spawn(tracing::Instrument::instrument(
                    socket::serve(state, session, sink, stream, start),
                    span,
                ))
                .await
                .ok();
        })
        .into_response())
}

/// A display name as others see it: no control characters, 40 at most (empty: the socket
/// names its participant by role when it joins).
fn clean_name(name: Option<&str>) -> String {
    let name: String = name
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(40)
        .collect();
    name.trim().to_string()
}
