//! `GET /health`: 200 while serving with Docker reachable, 503 when it is not. Answers from
//! the engine state the background ping keeps, never by calling Docker itself.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::sandbox::EngineHealth;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let version = env!("CARGO_PKG_VERSION");
    let engine = state.sessions.engine();
    match engine {
        EngineHealth::Ok(_) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "docker": "ok", "version": version})),
        ),
        EngineHealth::Down(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "degraded", "docker": why, "version": version})),
        ),
    }
}
