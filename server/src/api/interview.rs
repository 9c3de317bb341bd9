//! `/sessions/{id}/start`, `/clock` and `/submit`: the interview around a session (its lobby's
//! Start, its clock's visibility, a take-home's submission), [`not_in_lobby`], what REST
//! asks before showing a session's code or question, and [`take_home`], what a session's
//! creation asks for of one.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::SessionAccess;
use super::error::{ApiError, ErrorBody};
use super::extract::AppJson;
use super::SessionPath;
use crate::auth::Role;
use crate::interview::{InterviewView, Mode, SubmittedBy};
use crate::session::{held_in_lobby, TakeHome};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(clock))
        .routes(routes!(submit))
}

/// `NOT_STARTED` for a caller held in the session's lobby (the candidate before Start): REST
/// shows them nothing of the session's code, question or runs either.
pub async fn not_in_lobby(state: &AppState, caller: &SessionAccess) -> Result<(), ApiError> {
    let interview = state.sessions.interview(&caller.id).await?;
    if held_in_lobby(&interview, caller.role()) {
        return Err(ApiError::NotStarted);
    }
    Ok(())
}

/// The take-home a session's creation asks for (`mode`, `time_limit_minutes`, `expires_at`),
/// checked for its fields' presence (their values are the session's to check).
pub fn take_home(
    mode: Option<Mode>,
    time_limit_minutes: Option<f64>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<Option<TakeHome>, ApiError> {
    let missing = |m: &str| Err(ApiError::InvalidArgument(m.to_string()));
    match (mode.unwrap_or_default(), time_limit_minutes, expires_at) {
        (Mode::Live, None, None) => Ok(None),
        (Mode::Live, _, _) => {
            missing("time_limit_minutes and expires_at are for \"mode\": \"take_home\" only")
        }
        (Mode::TakeHome, Some(time_limit_minutes), Some(expires_at)) => Ok(Some(TakeHome {
            time_limit_minutes,
            expires_at,
        })),
        (Mode::TakeHome, _, _) => missing("a take-home needs time_limit_minutes and expires_at"),
    }
}

/// Starts an interview waiting in its lobby: the clock starts, the candidate's page gets the
/// session, and the idle TTL counts from now (an interviewer token or the API key).
#[utoipa::path(post, path = "/sessions/{id}/start", tag = "interviews", operation_id = "start_interview",
    params(SessionPath),
    responses(
        (status = 200, description = "The interview, started", body = InterviewView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Started already, a take-home, or the session ended", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn start(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<InterviewView>, ApiError> {
    let by = caller.may(Role::may_start)?;
    let session = caller.live(&state)?;
    let interview = state.sessions.start(&session, by).await?;
    Ok(AppJson(interview.view(caller.role())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    /// True hides the interview's clock from the candidate; false shows it again.
    hidden: bool,
}

/// Hides the interview's clock from the candidate, or shows it again (an interviewer token or
/// the API key). The candidate's page and frames then carry no clock.
#[utoipa::path(put, path = "/sessions/{id}/clock", tag = "interviews", operation_id = "set_clock",
    params(SessionPath),
    request_body = ClockBody,
    responses(
        (status = 200, description = "The interview", body = InterviewView),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The session ended", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn clock(
    State(state): State<AppState>,
    caller: SessionAccess,
    AppJson(body): AppJson<ClockBody>,
) -> Result<AppJson<InterviewView>, ApiError> {
    caller.may(Role::may_start)?;
    let session = caller.live(&state)?;
    let interview = state
        .sessions
        .set_clock_hidden(&session, body.hidden)
        .await?;
    Ok(AppJson(interview.view(caller.role())))
}

/// Hands a take-home in (its candidate's token, an interviewer's, or the API key): read-only
/// from then on; the question's tests run once more and their report is stored; answers once
/// they did. `session.submitted` goes to the events feed and the webhook.
#[utoipa::path(post, path = "/sessions/{id}/submit", tag = "interviews", operation_id = "submit_take_home",
    params(SessionPath),
    responses(
        (status = 200, description = "Submitted; the reports are in GET /sessions/{id}/tests", body = InterviewView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "An observer's token", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not a take-home, not opened yet, submitted already, or ended", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn submit(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<InterviewView>, ApiError> {
    let role = caller.may(Role::may_submit)?;
    let session = caller.live(&state)?;
    let interview = state
        .sessions
        .submit(&session, SubmittedBy::of(role))
        .await?;
    Ok(AppJson(interview.view(caller.role())))
}
