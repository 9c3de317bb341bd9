//! `/sessions`: create, list, read, execute, extend, delete, history, notes.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::access::SessionAccess;
use super::error::ApiError;
use super::extract::{AppJson, Caller, OptionalJson};
use super::views::{HistoryView, SessionView};
use crate::session::{EndReason, NewSession, RunRequest, SessionId};
use crate::state::AppState;
use crate::store::ListPage;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions", post(create).get(list))
        .route("/sessions/{id}", get(read).delete(delete))
        .route("/sessions/{id}/execute", post(execute))
        .route("/sessions/{id}/extend", post(extend))
        .route("/sessions/{id}/history", get(history))
        .route("/sessions/{id}/events", get(events))
        .route("/sessions/{id}/notes", get(read_notes).put(write_notes))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    environment: Option<String>,
    code: Option<String>,
    #[serde(default)]
    files: BTreeMap<String, String>,
    ttl_seconds: Option<u64>,
    label: Option<String>,
}

#[derive(Debug, Serialize)]
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
}

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
    let created = state
        .sessions
        .create(NewSession {
            environment: body.environment,
            code: body.code,
            files: body.files,
            ttl_seconds: body.ttl_seconds,
            label: body.label,
            created_by,
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
            environment: session.environment.name.clone(),
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<usize>,
    offset: Option<usize>,
}

/// `GET /sessions?limit=&offset=`: newest first, a page at a time, with a `Link: rel="next"`
/// header while there may be more. In open mode a caller sees only the sessions it created.
async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::InvalidArgument(e.body_text()))?;
    let max = state.config.quotas.list_page_size.max(1);
    let limit = query.limit.unwrap_or(max).clamp(1, max);
    let offset = query.offset.unwrap_or(0);
    let page = ListPage {
        created_by: state.config.open_mode().then_some(caller),
        limit,
        offset,
    };
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

async fn read(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<SessionView>, ApiError> {
    Ok(AppJson(state.sessions.snapshot(&caller.id).await?.into()))
}

async fn delete(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<serde_json::Value>, ApiError> {
    caller.interviewer()?;
    let id = caller.id;
    if let Some(session) = state.sessions.get(&id) {
        state.sessions.end(&session, EndReason::Stopped).await?;
    }
    let status = state.sessions.snapshot(&id).await?.status;
    Ok(AppJson(
        serde_json::json!({"session_id": id, "status": status.as_str()}),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteBody {
    code: Option<String>,
    filename: Option<String>,
    files: Option<BTreeMap<String, String>>,
    stdin: Option<String>,
    timeout_seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
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
    status: &'static str,
    truncated: bool,
}

async fn execute(
    State(state): State<AppState>,
    caller: SessionAccess,
    OptionalJson(body): OptionalJson<ExecuteBody>,
) -> Result<AppJson<Executed>, ApiError> {
    let (id, by) = (caller.id, caller.runner()?);
    let session = state.sessions.get(&id).ok_or(ApiError::SessionEnded)?;
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
                filename: body.filename,
                files: body.files,
                stdin: body.stdin,
                close_stdin: true,
                timeout,
                restart: false,
            },
            by,
        )
        .await?;
    let outcome = handle.wait().await;
    Ok(AppJson(Executed {
        session_id: id,
        run_id: outcome.run_id,
        stdout: outcome.stdout.clone(),
        stderr: outcome.stderr.clone(),
        exit_code: outcome.exit_code,
        execution_time: outcome.duration.as_secs_f64(),
        build_time: outcome.build_duration.map(|d| d.as_secs_f64()),
        build_cached: outcome.build_cached,
        status: outcome.status.as_str(),
        truncated: outcome.truncated,
    }))
}

#[derive(Debug, Serialize)]
struct Extended {
    session_id: SessionId,
    expires_at: DateTime<Utc>,
}

/// `POST /sessions/{id}/extend`: the session goes on for another idle TTL from now, within its
/// maximum lifetime (the API key, or a token that may run code).
async fn extend(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<Extended>, ApiError> {
    caller.runner()?;
    let session = state
        .sessions
        .get(&caller.id)
        .ok_or(ApiError::SessionEnded)?;
    let expires_at = state.sessions.extend(&session).await?;
    Ok(AppJson(Extended {
        session_id: caller.id,
        expires_at,
    }))
}

async fn history(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<HistoryView>, ApiError> {
    caller.interviewer()?;
    let history = state.sessions.history(&caller.id).await?;
    Ok(AppJson(HistoryView::new(caller.id, history)))
}

/// The session's events, as webhooks deliver them (interviewers and the API key).
async fn events(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<serde_json::Value>, ApiError> {
    caller.interviewer()?;
    let events = state.sessions.events(&caller.id).await?;
    let events: Vec<_> = events.iter().map(crate::webhooks::body).collect();
    Ok(AppJson(
        serde_json::json!({"session_id": caller.id, "events": events}),
    ))
}

async fn read_notes(
    State(state): State<AppState>,
    caller: SessionAccess,
) -> Result<AppJson<serde_json::Value>, ApiError> {
    caller.interviewer()?;
    let id = caller.id;
    let text = state.sessions.notes(&id).await?;
    Ok(AppJson(serde_json::json!({"text": text})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotesBody {
    text: String,
}

async fn write_notes(
    State(state): State<AppState>,
    caller: SessionAccess,
    AppJson(body): AppJson<NotesBody>,
) -> Result<AppJson<serde_json::Value>, ApiError> {
    caller.interviewer()?;
    let id = caller.id;
    let session = state.sessions.get(&id).ok_or(ApiError::SessionEnded)?;
    state
        .sessions
        .set_notes(&session, body.text.clone())
        .await?;
    Ok(AppJson(serde_json::json!({"text": body.text})))
}
