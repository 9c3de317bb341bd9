//! Scorecards over REST: every interviewer's, read with the API key or the interviewer token,
//! and one author's saved or submitted. These work after the session ended too (when no
//! socket can connect), until `sessions.scorecard_window_seconds` past its end.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::SessionAccess;
use super::error::{ApiError, ErrorBody};
use super::extract::AppJson;
use super::SessionPath;
use crate::auth::Role;
use crate::scorecards::{AuthorId, Rating, Recommendation, Rubric, Scorecard, ScorecardInput};
use crate::session::Scorecards;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(save))
        .routes(routes!(submit))
}

/// A session's rubric and its interviewers' scorecards (REST, and interviewers' `welcome`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScorecardsView {
    pub rubric: Rubric,
    /// Oldest first, one per author, drafts included.
    pub scorecards: Vec<Scorecard>,
}

impl From<Scorecards> for ScorecardsView {
    fn from(s: Scorecards) -> Self {
        Self {
            rubric: s.rubric,
            scorecards: s.scorecards,
        }
    }
}

/// The session's rubric and every interviewer's scorecard (never candidates or observers).
#[utoipa::path(get, path = "/sessions/{id}/scorecards", tag = "scorecards", params(SessionPath),
    responses(
        (status = 200, body = ScorecardsView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<ScorecardsView>, ApiError> {
    caller.may(Role::keeps_scorecards)?;
    Ok(AppJson(state.sessions.scorecards(&caller.id).await?.into()))
}

/// A session and one author of its scorecards.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct AuthorPath {
    /// The session's id (`SessionAccess` reads it).
    #[allow(dead_code)]
    id: String,
    /// Who writes the scorecard: 1 to 64 characters of `A-Z a-z 0-9 _ - .`, chosen by the
    /// writer (a platform's user id; the page keeps one per browser). Interviewers share one
    /// token, so this is what keeps their scorecards apart.
    author: String,
}

/// A scorecard as its author writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ScorecardBody {
    /// The name the author goes by; when absent, the one the card has (else "Interviewer").
    author_name: Option<String>,
    /// By criterion name (the rubric's); a draft may leave criteria unrated.
    #[serde(default)]
    ratings: BTreeMap<String, Rating>,
    /// The overall comment.
    #[serde(default)]
    comment: String,
    #[serde(default)]
    recommendation: Option<Recommendation>,
}

/// Saves the author's scorecard as a draft (created at the first save); interviewers'
/// sockets hear of it.
#[utoipa::path(put, path = "/sessions/{id}/scorecards/{author}", tag = "scorecards",
    params(AuthorPath),
    request_body = ScorecardBody,
    responses(
        (status = 200, body = Scorecard),
        (status = 400, description = "Not on the session's rubric", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "SCORECARD_SUBMITTED, or SCORECARD_CLOSED (too long after the end)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn save(
    State(state): State<AppState>,
    caller: SessionAccess,
    Path(AuthorPath { author, .. }): Path<AuthorPath>,
    AppJson(body): AppJson<ScorecardBody>,
) -> Result<AppJson<Scorecard>, ApiError> {
    write(&state, caller, &author, body, false).await
}

/// Submits the author's scorecard: every criterion rated and a recommendation given. A
/// submitted scorecard is final; `scorecard.submitted` goes to the events feed and webhooks.
#[utoipa::path(post, path = "/sessions/{id}/scorecards/{author}/submit", tag = "scorecards",
    params(AuthorPath),
    request_body = ScorecardBody,
    responses(
        (status = 200, body = Scorecard),
        (status = 400, description = "Not on the session's rubric, or not whole", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "SCORECARD_SUBMITTED, or SCORECARD_CLOSED (too long after the end)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn submit(
    State(state): State<AppState>,
    caller: SessionAccess,
    Path(AuthorPath { author, .. }): Path<AuthorPath>,
    AppJson(body): AppJson<ScorecardBody>,
) -> Result<AppJson<Scorecard>, ApiError> {
    write(&state, caller, &author, body, true).await
}

async fn write(
    state: &AppState,
    caller: SessionAccess,
    author: &str,
    body: ScorecardBody,
    submit: bool,
) -> Result<AppJson<Scorecard>, ApiError> {
    caller.may(Role::keeps_scorecards)?;
    let author = AuthorId::parse(author).map_err(ApiError::Scorecard)?;
    let content = ScorecardInput {
        ratings: body.ratings,
        comment: body.comment,
        recommendation: body.recommendation,
    };
    let card = state
        .sessions
        .save_scorecard(&caller.id, (author, body.author_name), content, submit)
        .await?;
    Ok(AppJson(card))
}
