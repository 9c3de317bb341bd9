//! `GET /health`: 200 while serving with Docker reachable, 503 when it is not.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let version = env!("CARGO_PKG_VERSION");
    match state.sandbox.ping().await {
        Ok(_) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "docker": "ok", "version": version})),
        ),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "degraded", "docker": err.to_string(), "version": version})),
        ),
    }
}
