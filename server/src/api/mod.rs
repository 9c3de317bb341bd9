//! The REST API under `/api/v1` (API.md).
//!
//! # Layout
//! - `error`: [`ApiError`], the one error vocabulary of REST and the socket.
//! - `extract`: JSON bodies with our rejections; credentials (`Bearer`, `Operator`).
//! - `sessions`, `environments`, `health`: one router each.

mod environments;
pub mod error;
pub mod extract;
mod health;
pub mod sessions;

use axum::Router;

pub use error::ApiError;

use crate::app::AppState;

/// Every REST route, to be nested under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(environments::router())
        .merge(sessions::router())
        .fallback(|| async { ApiError::NoRoute })
}
