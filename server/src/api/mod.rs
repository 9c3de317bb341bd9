//! The REST API under `/api/v1` (described by `GET /api/v1/openapi.json` and `/docs`).
//!
//! # Layout
//! - `error`: [`ApiError`], the one error vocabulary of REST and the socket.
//! - `extract`: JSON bodies with our rejections; credentials (`Bearer`, `Operator`).
//! - `access`: what a credential grants on one session (REST and the socket's upgrade).
//! - `views`: what REST and the socket show of a session.
//! - `sessions`, `review` (history, events, notes), `scorecards`, `interview` (start, clock,
//!   submit; the take-home a creation asks for), `questions`, `templates` (and a session's
//!   moves between their questions), `environments`, `health`, `drain`: one router each, every
//!   route documented by its handler's `#[utoipa::path]`.
//! - `openapi`: the document those make, and the socket messages' schemas.

pub mod access;
mod drain;
mod environments;
pub mod error;
pub mod extract;
mod health;
mod interview;
pub mod metrics;
pub mod openapi;
mod questions;
mod review;
pub mod scorecards;
mod sessions;
mod templates;
pub mod views;

use utoipa_axum::router::OpenApiRouter;

pub use error::ApiError;

use crate::state::AppState;

/// Every REST route, to be nested under `/api/v1` (an unknown path there answers NO_ROUTE
/// through `app`'s error shaping).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .merge(drain::router())
        .merge(environments::router())
        .merge(sessions::router())
        .merge(review::router())
        .merge(scorecards::router())
        .merge(interview::router())
        .merge(questions::router())
        .merge(templates::router())
        .merge(openapi::router())
}

/// The `{id}` of every `/sessions/{id}/…` route, for the document (the handlers read it with
/// `SessionAccess`).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // only its description is used
pub struct SessionPath {
    /// The session's id.
    id: uuid::Uuid,
}
