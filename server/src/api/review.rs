//! What interviewers (and the API key) review of a session: its history for replay, its
//! events as webhooks deliver them, and the private notes.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::SessionAccess;
use super::error::{ApiError, ErrorBody};
use super::extract::AppJson;
use super::views::HistoryView;
use super::SessionPath;
use crate::auth::Role;
use crate::session::SessionId;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(history))
        .routes(routes!(events))
        .routes(routes!(read_notes, write_notes))
}

/// Everything needed to replay the session: the first document, every accepted update and
/// every run (interviewers and the API key).
#[utoipa::path(get, path = "/sessions/{id}/history", tag = "sessions", params(SessionPath),
    responses(
        (status = 200, body = HistoryView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 410, description = "The session's content was erased", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn history(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<HistoryView>, ApiError> {
    caller.may(Role::reads_history)?;
    let history = state.sessions.history(&caller.id).await?;
    Ok(AppJson(HistoryView::new(caller.id, history)))
}

#[derive(Debug, Serialize, ToSchema)]
struct Events {
    session_id: SessionId,
    /// Oldest first.
    events: Vec<crate::store::EventRecord>,
}

/// The session's events, as webhooks deliver them (interviewers and the API key). Once the
/// session was erased, its `session.erased` alone.
#[utoipa::path(get, path = "/sessions/{id}/events", tag = "sessions", params(SessionPath),
    responses(
        (status = 200, body = Events),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn events(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<Events>, ApiError> {
    caller.may(Role::reads_history)?;
    let events = state.sessions.events(&caller.id).await?;
    Ok(AppJson(Events {
        session_id: caller.id,
        events,
    }))
}

/// The interviewers' private notes (never shown to candidates or observers).
#[utoipa::path(get, path = "/sessions/{id}/notes", tag = "sessions", params(SessionPath),
    responses(
        (status = 200, body = Notes),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 410, description = "The session's content was erased", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn read_notes(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<Notes>, ApiError> {
    caller.may(Role::keeps_notes)?;
    let id = caller.id;
    let text = state.sessions.notes(&id).await?;
    Ok(AppJson(Notes { text }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Notes {
    text: String,
}

/// Replaces the notes; every interviewer's socket hears of it.
#[utoipa::path(put, path = "/sessions/{id}/notes", tag = "sessions", params(SessionPath),
    request_body = Notes,
    responses(
        (status = 200, body = Notes),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn write_notes(
    State(state): State<AppState>,
    caller: SessionAccess,
    AppJson(body): AppJson<Notes>,
) -> Result<AppJson<Notes>, ApiError> {
    caller.may(Role::keeps_notes)?;
    let session = caller.live(&state)?;
    state
        .sessions
        .set_notes(&session, body.text.clone())
        .await?;
    Ok(AppJson(body))
}
