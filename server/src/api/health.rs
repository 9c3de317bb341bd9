//! `GET /health`: 200 while serving with Docker reachable, 503 when it is not. Answers from
//! the engine state the background ping keeps, never by calling Docker itself, and shows the
//! warm pool of each environment that keeps one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::sandbox::EngineHealth;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

#[derive(Debug, Serialize, ToSchema)]
struct Health {
    /// `ok` or `degraded`.
    status: &'static str,
    /// `ok`, or why the engine is unreachable.
    docker: String,
    version: &'static str,
    /// The warm pool of each environment that keeps one.
    pool: Vec<crate::session::PoolStatus>,
}

/// Serving, and whether the container engine answers (from the background ping; this never
/// calls Docker itself).
#[utoipa::path(get, path = "/health", tag = "operations",
    responses(
        (status = 200, description = "Serving, Docker reachable", body = Health),
        (status = 503, description = "Docker unreachable", body = Health),
    ))]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (code, status, docker) = match state.sessions.engine() {
        EngineHealth::Ok(_) => (StatusCode::OK, "ok", "ok".to_string()),
        EngineHealth::Down(why) => (StatusCode::SERVICE_UNAVAILABLE, "degraded", why),
    };
    let health = Health {
        status,
        docker,
        version: env!("CARGO_PKG_VERSION"),
        pool: state.sessions.pool(),
    };
    (code, Json(health))
}
