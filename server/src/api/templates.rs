//! `/templates`: interview templates (the API key), and a templated session's way through its
//! questions: where it is, moving it, and the questions reached so far.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::SessionAccess;
use super::error::{ApiError, ErrorBody};
use super::extract::{AppJson, Caller, Operator, PageQuery, Paged};
use super::SessionPath;
use crate::questions::QuestionView;
use crate::state::AppState;
use crate::templates::{NewTemplate, ProgressView, Template};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read))
        .routes(routes!(progress))
        .routes(routes!(set_question))
        .routes(routes!(reached_question))
}

/// Keeps a template: a name and its questions in order, each with an optional suggested time
/// in minutes (also the question's limit on the clock). Every question must exist.
#[utoipa::path(post, path = "/templates", tag = "templates", operation_id = "create_template",
    request_body = NewTemplate,
    responses(
        (status = 201, body = Template),
        (status = 400, description = "No questions or too many, one twice, minutes out of range, an unknown question", body = ErrorBody),
        (status = 401, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn create(
    State(state): State<AppState>,
    _: Operator,
    Caller(created_by): Caller,
    AppJson(body): AppJson<NewTemplate>,
) -> Result<(StatusCode, AppJson<Template>), ApiError> {
    let template = body.validate().map_err(ApiError::InvalidArgument)?;
    for (i, q) in template.questions.iter().enumerate() {
        if state.questions.get(&q.question_id).await?.is_none() {
            return Err(ApiError::InvalidArgument(format!(
                "questions[{i}]: no question with id {}",
                q.question_id
            )));
        }
    }
    state
        .questions
        .create_template(&template, &created_by)
        .await?;
    Ok((StatusCode::CREATED, AppJson(template)))
}

/// Templates, newest first (in open mode, the caller's own).
#[utoipa::path(get, path = "/templates", tag = "templates", operation_id = "list_templates",
    params(PageQuery),
    responses(
        (status = 200, body = Vec<Template>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    _: Operator,
    Paged(page): Paged,
) -> Result<AppJson<Vec<Template>>, ApiError> {
    Ok(AppJson(state.questions.templates(&page).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct TemplatePath {
    /// The template's id.
    template_id: Uuid,
}

/// A template.
#[utoipa::path(get, path = "/templates/{template_id}", tag = "templates", operation_id = "get_template",
    params(TemplatePath),
    responses(
        (status = 200, body = Template),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn read(
    State(state): State<AppState>,
    _: Operator,
    path: Result<Path<TemplatePath>, axum::extract::rejection::PathRejection>,
) -> Result<AppJson<Template>, ApiError> {
    let Ok(Path(path)) = path else {
        return Err(ApiError::TemplateNotFound);
    };
    let template = state.questions.template(&path.template_id).await?;
    Ok(AppJson(template.ok_or(ApiError::TemplateNotFound)?))
}

/// The session's way through its template as the caller may see it: every question for
/// interviewers (and the API key), those reached so far for candidates and observers; the
/// current question's clock.
#[utoipa::path(get, path = "/sessions/{id}/template", tag = "templates", operation_id = "session_template",
    params(SessionPath),
    responses(
        (status = 200, body = ProgressView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The session has no template", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn progress(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<ProgressView>, ApiError> {
    super::interview::not_in_lobby(&state, &caller).await?;
    let progress = state
        .sessions
        .template(&caller.id)
        .await?
        .ok_or(ApiError::NoTemplate)?;
    let hidden = state.sessions.interview(&caller.id).await?.clock_hidden;
    Ok(AppJson(progress.view(caller.role(), Utc::now(), hidden)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SetQuestionBody {
    /// The question's place in the template, from 0.
    index: usize,
}

/// Moves the session to question `index` of its template (the interviewer's Next, Previous or
/// go-to): its code comes back (or its starter, the first time), its clock starts, candidates
/// see it from now on. Everyone's page follows live (`question_changed`).
#[utoipa::path(post, path = "/sessions/{id}/question", tag = "templates", operation_id = "set_question",
    params(SessionPath),
    request_body = SetQuestionBody,
    responses(
        (status = 200, description = "Where the session is now", body = ProgressView),
        (status = 400, description = "No such index", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an interviewer's token", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "No template, a run in progress, or the session ended", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn set_question(
    State(state): State<AppState>,
    caller: SessionAccess,
    AppJson(body): AppJson<SetQuestionBody>,
) -> Result<AppJson<ProgressView>, ApiError> {
    let session = caller.live(&state)?;
    let take_home = session.interview().mode == crate::interview::Mode::TakeHome;
    let by = caller.may(|r| r.may_set_question(take_home))?;
    state
        .sessions
        .set_question(&session, body.index, by)
        .await?;
    let progress = session.template().ok_or(ApiError::NoTemplate)?;
    let hidden = state.sessions.interview(&caller.id).await?.clock_hidden;
    Ok(AppJson(progress.view(caller.role(), Utc::now(), hidden)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // `id` is read by `SessionAccess`
struct IndexPath {
    /// The session's id.
    id: Uuid,
    /// The question's place in the template, from 0.
    index: usize,
}

/// Question `index` of the session's template as the caller may see it: candidates and
/// observers only once it was reached (with hidden cases counted, not shown).
#[utoipa::path(get, path = "/sessions/{id}/questions/{index}", tag = "templates", operation_id = "session_template_question",
    params(IndexPath),
    responses(
        (status = 200, body = QuestionView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such session, or no such question for this caller (not reached yet)", body = ErrorBody),
        (status = 409, description = "The session has no template", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn reached_question(
    State(state): State<AppState>,
    caller: SessionAccess,
    path: Result<Path<IndexPath>, axum::extract::rejection::PathRejection>,
) -> Result<AppJson<QuestionView>, ApiError> {
    let Ok(Path(path)) = path else {
        return Err(ApiError::QuestionNotFound);
    };
    super::interview::not_in_lobby(&state, &caller).await?;
    let question = state
        .sessions
        .template_question_for(&caller.id, path.index, caller.role())
        .await?
        .ok_or(ApiError::QuestionNotFound)?;
    Ok(AppJson(question.view(caller.role())))
}
