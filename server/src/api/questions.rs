//! `/questions`: interview questions (the API key), and a session's question and test runs.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::{parse_id, SessionAccess};
use super::error::{ApiError, ErrorBody};
use super::extract::{AppJson, Bearer, Caller, Operator, PageQuery, Paged};
use super::SessionPath;
use crate::auth::{Access, Role};
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
    state.questions.create(&question, &created_by).await?;
    Ok((StatusCode::CREATED, AppJson(question)))
}

/// Questions, newest first (in open mode, the caller's own). Hidden cases are counted, not
/// shown, unless the caller holds the API key (read one question with `?session=` and an
/// interviewer's token to see them).
#[utoipa::path(get, path = "/questions", tag = "questions", operation_id = "list_questions",
    params(PageQuery),
    responses(
        (status = 200, body = Vec<QuestionView>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    bearer: Bearer,
    Paged(page): Paged,
) -> Result<AppJson<Vec<QuestionView>>, ApiError> {
    let viewer = if bearer.is_api_key(&state) {
        Access::Operator
    } else {
        Access::Token(Role::Candidate)
    };
    let questions = state.questions.list(&page).await?;
    Ok(AppJson(
        questions.iter().map(|q| q.view(viewer.role())).collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct QuestionPath {
    /// The question's id.
    question_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReadQuery {
    /// A session that uses the question: with one of its tokens as the bearer, the question
    /// as that token's role sees it (an interviewer's: hidden cases in full).
    session: Option<String>,
}

/// A question. Hidden cases in full only for the API key, or for an interviewer token of a
/// session that uses the question (named by `?session=`); anyone else gets them counted
/// (`hidden_cases`, `redacted`). Without the API key or `?session=`, only in open mode.
#[utoipa::path(get, path = "/questions/{question_id}", tag = "questions", operation_id = "get_question",
    params(QuestionPath, ReadQuery),
    responses(
        (status = 200, body = QuestionView),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "A session token of a session that does not use this question (API-key mode)", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn read(
    State(state): State<AppState>,
    bearer: Bearer,
    path: Result<Path<QuestionPath>, axum::extract::rejection::PathRejection>,
    query: Result<Query<ReadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<AppJson<QuestionView>, ApiError> {
    let Ok(Path(path)) = path else {
        return Err(ApiError::QuestionNotFound);
    };
    let Query(query) = query.map_err(|e| ApiError::InvalidArgument(e.body_text()))?;
    let open = state.config.open_mode();
    let viewer = if bearer.is_api_key(&state) {
        Access::Operator
    } else {
        match (&bearer.0, &query.session) {
            (Some(token), Some(session)) => {
                let session = parse_id(session)?;
                let role = state
                    .sessions
                    .role_for_token(&session, token)
                    .await?
                    .ok_or(ApiError::Unauthorized)?;
                let uses = state
                    .sessions
                    .shows_question(&session, &path.question_id, role)
                    .await?;
                match (uses, open) {
                    (true, _) => Access::Token(role),
                    // A token grants nothing on a question its session does not use.
                    (false, true) => Access::Token(Role::Candidate),
                    (false, false) => return Err(ApiError::Forbidden),
                }
            }
            _ if open => Access::Token(Role::Candidate),
            _ => return Err(ApiError::Unauthorized),
        }
    };
    let question = state
        .questions
        .get(&path.question_id)
        .await?
        .ok_or(ApiError::QuestionNotFound)?;
    Ok(AppJson(question.view(viewer.role())))
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
    super::interview::not_in_lobby(&state, &caller).await?;
    let question = state
        .sessions
        .question(&caller.id)
        .await?
        .ok_or(ApiError::NoQuestion)?;
    Ok(AppJson(question.view(caller.role())))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RunTestsQuery {
    /// A question of the session's template, reached so far, by its place (from 0): its
    /// cases run against that question's own code, even when another question is current.
    index: Option<usize>,
}

/// Runs every case of the session's question in its container, one after another, and
/// answers the report when the last is done (sockets see each result as it comes).
#[utoipa::path(post, path = "/sessions/{id}/tests", tag = "questions", operation_id = "run_tests",
    params(SessionPath, RunTestsQuery),
    responses(
        (status = 200, body = TestReportView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "An observer's token", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 400, description = "`index` past the questions reached", body = ErrorBody),
        (status = 409, description = "No question, a run in progress, or the session ended", body = ErrorBody),
        (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn run_tests(
    State(state): State<AppState>,
    caller: SessionAccess,
    query: Result<Query<RunTestsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<AppJson<TestReportView>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::InvalidArgument(e.body_text()))?;
    let by = caller.may(Role::may_run)?;
    let session = caller.live(&state)?;
    let handle = match query.index {
        Some(index) => {
            state
                .sessions
                .run_question_tests(&session, index, by)
                .await?
        }
        None => state.sessions.start_tests(&session, by).await?,
    };
    let report = handle.wait().await.ok_or_else(|| {
        ApiError::Unavailable(anyhow::anyhow!("the server shut down during the test run"))
    })?;
    Ok(AppJson(report.view(caller.role())))
}

#[derive(Debug, Serialize, ToSchema)]
struct TestRuns {
    session_id: SessionId,
    /// How many test runs the session has in all.
    total: usize,
    /// Oldest first, from `offset`. The newest `sessions.runs_kept_in_full` are kept in full;
    /// older ones keep their summary (`summary_only`).
    tests: Vec<TestReportView>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TestsPage {
    /// At most `quotas.list_page_size` (the default).
    limit: Option<usize>,
    /// From the oldest; 0 by default.
    offset: Option<usize>,
    /// Only the test runs of this question (of a session's template).
    question: Option<Uuid>,
}

/// The session's test runs, as the caller may see them, a page at a time (oldest first; a
/// `Link: rel="next"` header while there are more).
#[utoipa::path(get, path = "/sessions/{id}/tests", tag = "questions", operation_id = "test_runs",
    params(SessionPath, TestsPage),
    responses(
        (status = 200, body = TestRuns),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 410, description = "The session's content was erased", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn test_runs(
    State(state): State<AppState>,
    caller: SessionAccess,
    query: Result<Query<TestsPage>, axum::extract::rejection::QueryRejection>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let Query(page) = query.map_err(|e| ApiError::InvalidArgument(e.body_text()))?;
    super::interview::not_in_lobby(&state, &caller).await?;
    let max = state.config.quotas.list_page_size.max(1);
    let limit = page.limit.unwrap_or(max).clamp(1, max);
    let offset = page.offset.unwrap_or(0);
    let (reports, total) = state
        .sessions
        .test_reports(&caller.id, page.question, limit, offset)
        .await?;
    let role = caller.role();
    let mut headers = axum::http::HeaderMap::new();
    if offset + reports.len() < total {
        let question = page
            .question
            .map(|q| format!("&question={q}"))
            .unwrap_or_default();
        let next = format!(
            "</api/v1/sessions/{}/tests?limit={limit}&offset={}{question}>; rel=\"next\"",
            caller.id,
            offset + reports.len()
        );
        headers.insert(
            axum::http::header::LINK,
            next.parse().expect("an ASCII header value"),
        );
    }
    Ok((
        headers,
        AppJson(TestRuns {
            session_id: caller.id,
            total,
            tests: reports.iter().map(|r| r.view(role)).collect(),
        }),
    ))
}
