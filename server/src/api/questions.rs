//! `/questions`: interview questions (the API key), and a session's question and test runs.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::SessionAccess;
use super::error::{ApiError, ErrorBody};
use super::extract::{AppJson, Caller, Operator, PageQuery, Paged};
use super::SessionPath;
use crate::questions::{NewQuestion, Question, QuestionView, TestReportView};
use crate::session::SessionId;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read))
        .routes(routes!(session_question))
        .routes(routes!(run_tests, test_runs))
}

/// Keeps a question: title, Markdown prompt, starter code per environment, test cases.
#[utoipa::path(post, path = "/questions", tag = "questions", operation_id = "create_question",
    request_body = NewQuestion,
    responses(
        (status = 201, body = Question),
        (status = 400, description = "A field out of bounds, an unknown environment", body = ErrorBody),
        (status = 401, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn create(
    State(state): State<AppState>,
    _: Operator,
    Caller(created_by): Caller,
    AppJson(body): AppJson<NewQuestion>,
) -> Result<(StatusCode, AppJson<Question>), ApiError> {
    let names: Vec<String> = state.environments.iter().map(|e| e.name.clone()).collect();
    let max = state.config.limits.run_timeout_seconds as f64;
    let question = body
        .validate(&names, max)
        .map_err(ApiError::InvalidArgument)?;
    state
        .sessions
        .create_question(&question, &created_by)
        .await?;
    Ok((StatusCode::CREATED, AppJson(question)))
}

/// Questions, newest first (in open mode, the caller's own).
#[utoipa::path(get, path = "/questions", tag = "questions", operation_id = "list_questions",
    params(PageQuery),
    responses(
        (status = 200, body = Vec<Question>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    Paged(page): Paged,
) -> Result<AppJson<Vec<Question>>, ApiError> {
    Ok(AppJson(state.sessions.list_questions(&page).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct QuestionPath {
    /// The question's id.
    question_id: Uuid,
}

/// A question in full, hidden cases included.
#[utoipa::path(get, path = "/questions/{question_id}", tag = "questions", operation_id = "get_question",
    params(QuestionPath),
    responses(
        (status = 200, body = Question),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn read(
    State(state): State<AppState>,
    _: Operator,
    path: Result<Path<QuestionPath>, axum::extract::rejection::PathRejection>,
) -> Result<AppJson<Question>, ApiError> {
    let Ok(Path(path)) = path else {
        return Err(ApiError::QuestionNotFound);
    };
    state
        .sessions
        .get_question(&path.question_id)
        .await?
        .map(AppJson)
        .ok_or(ApiError::QuestionNotFound)
}

/// The session's question as the caller may see it: hidden cases only counted for candidates
/// and observers.
#[utoipa::path(get, path = "/sessions/{id}/question", tag = "questions", operation_id = "session_question",
    params(SessionPath),
    responses(
        (status = 200, body = QuestionView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The session has no question", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn session_question(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<QuestionView>, ApiError> {
    let question = state
        .sessions
        .question(&caller.id)
        .await?
        .ok_or(ApiError::NoQuestion)?;
    Ok(AppJson(question.view(Some(caller.viewer()))))
}

/// Runs every case of the session's question in its container, one after another, and
/// answers the report when the last is done (sockets see each result as it comes).
#[utoipa::path(post, path = "/sessions/{id}/tests", tag = "questions", operation_id = "run_tests",
    params(SessionPath),
    responses(
        (status = 200, body = TestReportView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "An observer's token", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "No question, a run in progress, or the session ended", body = ErrorBody),
        (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn run_tests(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<TestReportView>, ApiError> {
    let by = caller.runner()?;
    let session = state
        .sessions
        .get(&caller.id)
        .ok_or(ApiError::SessionEnded)?;
    let handle = state.sessions.start_tests(&session, by).await?;
    let report = handle.wait().await.ok_or_else(|| {
        ApiError::Unavailable(anyhow::anyhow!("the server shut down during the test run"))
    })?;
    Ok(AppJson(report.view(caller.viewer())))
}

#[derive(Debug, Serialize, ToSchema)]
struct TestRuns {
    session_id: SessionId,
    /// Oldest first.
    tests: Vec<TestReportView>,
}

/// The session's test runs, as the caller may see them.
#[utoipa::path(get, path = "/sessions/{id}/tests", tag = "questions", operation_id = "test_runs",
    params(SessionPath),
    responses(
        (status = 200, body = TestRuns),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn test_runs(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<TestRuns>, ApiError> {
    let reports = state.sessions.test_reports(&caller.id).await?;
    let role = caller.viewer();
    Ok(AppJson(TestRuns {
        session_id: caller.id,
        tests: reports.iter().map(|r| r.view(role)).collect(),
    }))
}
