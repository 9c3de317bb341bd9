//! The REST API under `/api/v1` (API.md).
//!
//! # Layout
//! - `error`: [`ApiError`], the one error vocabulary of REST and the socket.
//! - `extract`: JSON bodies with our rejections; credentials (`Bearer`, `Operator`).
//! - `access`: what a credential grants on one session (REST and the socket's upgrade).
//! - `views`: what REST and the socket show of a session.
//! - `sessions`, `environments`, `health`: one router each.

pub mod access;
mod environments;
pub mod error;
pub mod extract;
mod health;
mod sessions;
pub mod views;

use axum::Router;

pub use error::ApiError;

use crate::state::AppState;

/// Every REST route, to be nested under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(environments::router())
        .merge(sessions::router())
        .fallback(|| async { ApiError::NoRoute })
}
