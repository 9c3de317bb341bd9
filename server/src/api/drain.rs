//! `POST /drain`: what SIGTERM does, asked over HTTP (`livecode drain`). In a cluster the
//! replica stops taking sessions, lets runs in flight finish (up to `cluster.drain_seconds`),
//! hands its sessions to the other replicas, and exits; a single server stops its runs,
//! records them and exits (its sessions come back at its next start).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::Bearer;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(drain))
}

#[derive(Debug, Serialize, ToSchema)]
struct Draining {
    /// Always true: the server is draining, and exits when it is done.
    draining: bool,
    /// Whether the sessions go to other replicas (cluster mode) or wait for this server's
    /// next start.
    hands_over: bool,
}

/// Drains this server and stops it. Needs the API key; a server in open mode has none, so
/// nobody may drain it over HTTP (SIGTERM does).
#[utoipa::path(post, path = "/drain", tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Draining; the server exits when done", body = Draining),
        (status = 401, description = "Not the API key", body = ErrorBody),
        (status = 403, description = "Open mode: no API key to drain with", body = ErrorBody),
    ))]
async fn drain(
    State(state): State<AppState>,
    bearer: Bearer,
) -> Result<(StatusCode, Json<Draining>), ApiError> {
    if state.config.open_mode() {
        return Err(ApiError::Forbidden);
    }
    if !bearer.is_api_key(&state) {
        return Err(ApiError::Unauthorized);
    }
    tracing::info!("drain asked over HTTP");
    state.stop.cancel();
    Ok((
        StatusCode::ACCEPTED,
        Json(Draining {
            draining: true,
            hands_over: state.sessions.cluster().is_some(),
        }),
    ))
}
