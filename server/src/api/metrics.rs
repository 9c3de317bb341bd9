//! `GET /metrics`: Prometheus' text format (the API key, or anyone in open mode). The gauges of
//! what is live (sessions by status, the warm pool) are read off the registry at each scrape.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::api::extract::Operator;
use crate::metrics;
use crate::state::AppState;

/// Prometheus' text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses(
        (status = 200, description = "Prometheus text exposition", content_type = "text/plain"),
        (status = 401, body = crate::api::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn serve(_: Operator, State(state): State<AppState>) -> impl IntoResponse {
    let handle = metrics::install();
    let mut by_status = state.sessions.count_by_status();
    for status in crate::model::Status::ALL {
        by_status.entry(status.as_str()).or_default();
    }
    for (status, n) in by_status {
        ::metrics::gauge!("livecode_sessions", "status" => status).set(n as f64);
    }
    for pool in state.sessions.pool() {
        ::metrics::gauge!("livecode_pool_warm", "environment" => pool.environment)
            .set(pool.warm as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
}
