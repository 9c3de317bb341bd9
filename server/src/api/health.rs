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

use super::extract::Bearer;
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
    /// In cluster mode: this replica, its peers, and the sessions it owns.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterHealth>,
}

#[derive(Debug, Serialize, ToSchema)]
struct ClusterHealth {
    /// This replica's id (new at every start).
    replica: uuid::Uuid,
    /// Where the other replicas reach it (the API key only; empty otherwise).
    url: String,
    /// Sessions whose lease it holds.
    sessions: usize,
    /// Taking no new sessions, handing its own over.
    draining: bool,
    /// Every replica the database knows, this one included, with their addresses: shown to
    /// the API key only (internal addresses never reach anyone else); empty otherwise, or
    /// when the database did not answer.
    peers: Vec<crate::cluster::Peer>,
}

async fn cluster_health(state: &AppState, operator: bool) -> Option<ClusterHealth> {
    let cluster = state.sessions.cluster()?;
    let peers = if operator {
        cluster.peers().await.unwrap_or_else(|err| {
            tracing::warn!(%err, "health: could not list the replicas");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    Some(ClusterHealth {
        replica: cluster.id,
        url: if operator {
            cluster.url.clone()
        } else {
            String::new()
        },
        sessions: cluster.owned(),
        draining: cluster.is_draining(),
        peers,
    })
}

/// Serving, and whether the container engine answers (from the background ping; this never
/// calls Docker itself).
#[utoipa::path(get, path = "/health", tag = "operations",
    responses(
        (status = 200, description = "Serving, Docker reachable", body = Health),
        (status = 503, description = "Docker unreachable", body = Health),
    ))]
async fn health(State(state): State<AppState>, bearer: Bearer) -> (StatusCode, Json<Health>) {
    let (code, status, docker) = match state.sessions.engine() {
        EngineHealth::Ok(_) => (StatusCode::OK, "ok", "ok".to_string()),
        EngineHealth::Down(why) => (StatusCode::SERVICE_UNAVAILABLE, "degraded", why),
    };
    let health = Health {
        status,
        docker,
        version: env!("CARGO_PKG_VERSION"),
        pool: state.sessions.pool(),
        cluster: cluster_health(&state, bearer.is_api_key(&state)).await,
    };
    (code, Json(health))
}
