//! `/sessions`: create, list, read, execute, extend, switch the language, delete (what
//! interviewers review of a session is `review`'s).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::SessionAccess;
use super::error::{ApiError, ErrorBody};
use super::extract::{AppJson, Caller, OptionalJson, PageQuery, Paged};
use super::interview::take_home;
use super::views::SessionView;
use super::SessionPath;
use crate::auth::Role;
use crate::scorecards::Rubric;
use crate::session::files::{parse_files, parse_name};
use crate::session::{EndReason, NewSession, RunRequest, SessionId};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read, delete))
        .routes(routes!(execute))
        .routes(routes!(extend))
        .routes(routes!(switch_environment))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    /// An environment's name (`GET /environments`); the configured default when absent.
    environment: Option<String>,
    /// The first document; the environment's template when absent.
    code: Option<String>,
    /// More files of the workspace, by relative name.
    #[serde(default)]
    files: BTreeMap<String, String>,
    /// The session's lifetime, 1 to `sessions.max_lifetime_seconds` (400 above it).
    ttl_seconds: Option<u64>,
    /// Free text for the operator's own use, at most 200 characters.
    label: Option<String>,
    /// A question (`POST /questions`): its starter code for the environment when `code` is
    /// absent, and its test cases for **Run tests**.
    question: Option<Uuid>,
    /// What interviewers' scorecards rate; without one, the standard rubric (four criteria,
    /// each 1 to 4: problem solving, code quality, testing, communication).
    rubric: Option<Rubric>,
    /// A template (`POST /templates`), instead of `question`: the interview moves through
    /// its questions in order, starting at the first.
    template: Option<Uuid>,
    /// Waits in a lobby until the interviewer's Start (`POST /sessions/{id}/start`): the
    /// candidate sees nothing of the code or the question before it. Default false.
    lobby: Option<bool>,
    /// `live` (the default) or `take_home`: the candidate alone, on a clock from their first
    /// open, submitted at `time_limit_minutes` or at their Submit.
    mode: Option<crate::interview::Mode>,
    /// A take-home's time from the candidate's first open, in minutes (fractions allowed),
    /// at most `take_home.max_time_limit_minutes`.
    time_limit_minutes: Option<f64>,
    /// A take-home's link works until then (in the future, at most `take_home.max_link_days`
    /// ahead).
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Created {
    session_id: SessionId,
    status: &'static str,
    environment: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    candidate_token: String,
    interviewer_token: String,
    candidate_url: String,
    interviewer_url: String,
    embed_url: String,
    /// Where the interview is (`waiting` with a lobby or for a take-home's first open).
    interview: crate::interview::InterviewView,
}

/// Creates a session and starts its container; answers with its two tokens and links.
#[utoipa::path(post, path = "/sessions", tag = "sessions", operation_id = "create_session",
    request_body(content = CreateBody, description = "Optional: an empty body takes the defaults"),
    responses(
        (status = 201, description = "Created", body = Created),
        (status = 400, description = "Unknown environment, bad file name or argument", body = ErrorBody),
        (status = 401, description = "No or wrong API key", body = ErrorBody),
        (status = 413, description = "Code too large", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "At capacity, image not built, or Docker unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn create(
    State(state): State<AppState>,
    Caller(created_by): Caller,
    OptionalJson(body): OptionalJson<CreateBody>,
) -> Result<(StatusCode, AppJson<Created>), ApiError> {
    if body.label.as_ref().is_some_and(|l| l.chars().count() > 200) {
        return Err(ApiError::InvalidArgument(
            "label is longer than 200 characters".into(),
        ));
    }
    let take_home = take_home(body.mode, body.time_limit_minutes, body.expires_at)?;
    let created = state
        .sessions
        .create(NewSession {
            environment: body.environment,
            code: body.code,
            files: parse_files(body.files)?,
            ttl_seconds: body.ttl_seconds,
            label: body.label,
            question: body.question,
            template: body.template,
            lobby: body.lobby,
            take_home,
            created_by,
            rubric: body.rubric,
        })
        .await?;
    let session = &created.session;
    let snapshot = session.snapshot(state.sessions.idle_ttl());
    let base = state.config.base_url();
    Ok((
        StatusCode::CREATED,
        AppJson(Created {
            session_id: session.id,
            status: snapshot.status.as_str(),
            interview: snapshot.interview.view(Role::Interviewer),
            environment: session.environment().name.clone(),
            created_at: session.created_at,
            expires_at: snapshot.expires_at,
            candidate_url: format!("{base}/s/{}#token={}", session.id, created.candidate_token),
            interviewer_url: format!(
                "{base}/s/{}#token={}",
                session.id, created.interviewer_token
            ),
            embed_url: format!(
                "{base}/embed/{}#token={}",
                session.id, created.interviewer_token
            ),
            candidate_token: created.candidate_token,
            interviewer_token: created.interviewer_token,
        }),
    ))
}

/// Sessions, newest first, a page at a time (`?limit=&offset=`), with a `Link: rel="next"`
/// header while there may be more. In open mode a caller sees only the sessions it created.
#[utoipa::path(get, path = "/sessions", tag = "sessions", operation_id = "list_sessions", params(PageQuery),
    responses(
        (status = 200, description = "Newest first", body = Vec<SessionView>,
            headers(("link" = String, description = "`<…>; rel=\"next\"` while there may be more"))),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No or wrong API key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list(
    State(state): State<AppState>,
    Paged(page): Paged,
) -> Result<impl IntoResponse, ApiError> {
    let (limit, offset) = (page.limit, page.offset);
    let list = state.sessions.list(&page).await?;
    let mut headers = axum::http::HeaderMap::new();
    if list.len() == limit {
        let next = format!(
            "</api/v1/sessions?limit={limit}&offset={}>; rel=\"next\"",
            offset + limit
        );
        headers.insert(
            axum::http::header::LINK,
            next.parse().expect("an ASCII header value"),
        );
    }
    let views: Vec<SessionView> = list.into_iter().map(SessionView::from).collect();
    Ok((headers, AppJson(views)))
}

/// A session: its status, participants and last run (any of its tokens, or the API key).
#[utoipa::path(get, path = "/sessions/{id}", tag = "sessions", operation_id = "get_session", params(SessionPath),
    responses(
        (status = 200, body = SessionView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn read(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<SessionView>, ApiError> {
    let view = SessionView::from(state.sessions.snapshot(&caller.id).await?);
    Ok(AppJson(view.for_role(caller.role())))
}

#[derive(Debug, Serialize, ToSchema)]
struct Ended {
    session_id: SessionId,
    status: crate::session::Status,
    /// With `erase=true`: when the content was erased (the first erasure's time).
    #[serde(skip_serializing_if = "Option::is_none")]
    erased_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeleteQuery {
    /// Also erase the session's content (code, files, output, input, history, notes, test
    /// reports, events), keeping a tombstone: the API key only. Its content endpoints answer
    /// 410 `SESSION_ERASED` afterwards. Erasing an erased session changes nothing.
    #[serde(default)]
    erase: bool,
}

/// Ends the session now (an interviewer token or the API key); what was written is kept,
/// unless `erase=true` (the API key): then it is erased too, live or ended, and
/// `session.erased` goes to the events feed and webhooks (docs/retention.md).
#[utoipa::path(delete, path = "/sessions/{id}", tag = "sessions", operation_id = "end_session", params(SessionPath, DeleteQuery),
    responses(
        (status = 200, body = Ended),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not allowed (erasure takes the API key)", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn delete(
    State(state): State<AppState>,
    caller: SessionAccess,
    query: Result<axum::extract::Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<AppJson<Ended>, ApiError> {
    let axum::extract::Query(query) =
        query.map_err(|e| ApiError::InvalidArgument(e.body_text()))?;
    caller.may(Role::may_end)?;
    let id = caller.id;
    if query.erase {
        if !caller.access.may_erase() {
            return Err(ApiError::Forbidden);
        }
        let tombstone = state.sessions.erase(&id).await?;
        return Ok(AppJson(Ended {
            session_id: id,
            status: tombstone.status,
            erased_at: tombstone.erased_at,
        }));
    }
    if let Some(session) = state.sessions.get(&id) {
        state.sessions.end(&session, EndReason::Stopped).await?;
    }
    let status = state.sessions.snapshot(&id).await?.status;
    Ok(AppJson(Ended {
        session_id: id,
        status,
        erased_at: None,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ExecuteBody {
    /// The program; the session's document when absent.
    code: Option<String>,
    filename: Option<String>,
    files: Option<BTreeMap<String, String>>,
    /// All of the program's input; stdin is closed after it.
    stdin: Option<String>,
    /// At most `limits.run_timeout_seconds`.
    timeout_seconds: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Executed {
    session_id: SessionId,
    run_id: Uuid,
    stdout: String,
    stderr: String,
    exit_code: Option<i64>,
    execution_time: f64,
    /// Seconds the build step took (compiled languages), apart from `execution_time`.
    build_time: Option<f64>,
    /// The build did not run: an unchanged program's outputs came from the build cache.
    build_cached: bool,
    status: crate::session::RunStatus,
    truncated: bool,
}

/// Runs a program in the session's container and answers when it ends (the socket streams
/// the same run live to everyone in the session).
#[utoipa::path(post, path = "/sessions/{id}/execute", tag = "sessions", params(SessionPath),
    request_body(content = ExecuteBody, description = "Optional: runs the session's files as they are"),
    responses(
        (status = 200, description = "The run ended (whatever its status)", body = Executed),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "An observer's token", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A run is in progress, or the session ended", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn execute(
    State(state): State<AppState>,
    caller: SessionAccess,
    OptionalJson(body): OptionalJson<ExecuteBody>,
) -> Result<AppJson<Executed>, ApiError> {
    let (id, by) = (caller.id, caller.may(Role::may_run)?);
    let session = caller.live(&state)?;
    let timeout = match body.timeout_seconds {
        Some(t) if !(t.is_finite() && t > 0.0) => {
            return Err(ApiError::InvalidArgument(
                "timeout_seconds must be a positive number".into(),
            ))
        }
        Some(t) => Some(Duration::from_secs_f64(t.min(1e6))),
        None => None,
    };
    let handle = state
        .sessions
        .start_run(
            &session,
            RunRequest {
                code: body.code,
                filename: body.filename.as_deref().map(parse_name).transpose()?,
                files: body.files.map(parse_files).transpose()?,
                stdin: body.stdin,
                close_stdin: true,
                timeout,
                restart: false,
                quiet: false,
            },
            by,
        )
        .await?;
    let result = handle.wait().await;
    let (summary, seconds) = (&result.summary, |ms| {
        Duration::from_millis(ms).as_secs_f64()
    });
    Ok(AppJson(Executed {
        session_id: id,
        run_id: summary.run_id,
        stdout: result.stdout.clone(),
        stderr: result.stderr.clone(),
        exit_code: summary.exit_code,
        execution_time: seconds(summary.duration_ms),
        build_time: summary.build_ms.map(seconds),
        build_cached: summary.build_cached,
        status: summary.status,
        truncated: summary.truncated,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
struct Extended {
    session_id: SessionId,
    expires_at: DateTime<Utc>,
}

/// Moves the session's end: it goes on for another idle TTL from now, within its
/// maximum lifetime (the API key, or a token that may run code).
#[utoipa::path(post, path = "/sessions/{id}/extend", tag = "sessions", params(SessionPath),
    responses(
        (status = 200, body = Extended),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Ended, or at its maximum lifetime", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn extend(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<Extended>, ApiError> {
    caller.may(Role::may_extend)?;
    let session = caller.live(&state)?;
    let expires_at = state.sessions.extend(&session).await?;
    Ok(AppJson(Extended {
        session_id: caller.id,
        expires_at,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SwitchBody {
    /// An environment's name (`GET /environments`).
    environment: String,
}

/// Switches the session to another language: its container changes (from the warm pool when
/// there is one) and its document becomes that language's own (kept from an earlier switch,
/// the question's starter, or the template); everyone sees it live. Who may: `sessions.
/// language_switch` (everyone who may run code, or interviewers only; the API key always).
#[utoipa::path(post, path = "/sessions/{id}/environment", tag = "sessions", operation_id = "switch_environment",
    params(SessionPath),
    request_body = SwitchBody,
    responses(
        (status = 200, description = "The session, now in the environment", body = SessionView),
        (status = 400, description = "Unknown environment", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A run in progress, or the session ended", body = ErrorBody),
        (status = 503, description = "The image is not built", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn switch_environment(
    State(state): State<AppState>,
    caller: SessionAccess,
    AppJson(body): AppJson<SwitchBody>,
) -> Result<AppJson<SessionView>, ApiError> {
    let by = caller.may(|r| r.may_switch(state.config.sessions.language_switch))?;
    let session = caller.live(&state)?;
    state
        .sessions
        .switch_environment(&session, &body.environment, by)
        .await?;
    let view = SessionView::from(state.sessions.snapshot(&caller.id).await?);
    Ok(AppJson(view.for_role(caller.role())))
}
