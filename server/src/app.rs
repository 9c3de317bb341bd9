//! [`AppState`] and the router: the one place routes and layers are assembled.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::Router;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::environments::Environments;
use crate::sandbox::Sandbox;
use crate::session::SessionRegistry;

/// Everything a handler may reach. Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub sessions: SessionRegistry,
    pub sandbox: Arc<dyn Sandbox>,
    pub environments: Arc<Environments>,
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    // Room for the largest accepted program, JSON-escaped, plus the rest of the body.
    let body_limit = state.config.limits.code_limit_bytes * 6 + 64 * 1024;
    Router::new()
        .nest("/api/v1", crate::api::router())
        .merge(crate::web::router())
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(TraceLayer::new_for_http())
        // Requests don't hang forever; `execute` is bounded by the run timeout well below this.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(state.config.limits.run_timeout_seconds + 120),
        ))
        .with_state(state)
}
