//! `GET /health`: 200 while serving with Docker reachable, 503 when it is not. Answers from
//! the engine state the background ping keeps, never by calling Docker itself, and shows the
//! warm pool of each environment that keeps one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::sandbox::EngineHealth;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let version = env!("CARGO_PKG_VERSION");
    let pool = state.sessions.pool();
    match state.sessions.engine() {
        EngineHealth::Ok(_) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "docker": "ok", "version": version, "pool": pool})),
        ),
        EngineHealth::Down(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "degraded", "docker": why, "version": version, "pool": pool})),
        ),
    }
}
