//! `ApiError`: every failure a client can see, with its status, code and hint. REST answers
//! with `{"error":{"code","message","hint"}}`; the socket sends the same triple.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::scorecards::ScorecardError;
use crate::session::files::FilesError;
use crate::session::{SessionError, StdinError};

/// Every error answer's body: `{"error":{"code","message","hint"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `UNAUTHORIZED`, `SESSION_NOT_FOUND`, `RATE_LIMITED`, …
    #[schema(example = "SESSION_NOT_FOUND")]
    pub code: &'static str,
    pub message: String,
    /// What to do about it.
    pub hint: &'static str,
}

/// A failure as a client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or wrong credentials")]
    Unauthorized,
    #[error("this credential may not do that")]
    Forbidden,
    #[error("no session with that id")]
    SessionNotFound,
    #[error("no such endpoint")]
    NoRoute,
    #[error("no environment named '{0}'")]
    UnknownEnvironment(String),
    #[error("the image of environment '{0}' is not built yet")]
    ImageNotReady(String),
    #[error("{0}")]
    CodeTooLarge(String),
    #[error("{0}")]
    InvalidFilename(String),
    #[error("malformed JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidMessage(String),
    /// A well-formed socket message of a type this server does not know.
    #[error("no message type '{0}'")]
    UnknownMessage(String),
    #[error("a run is already in progress")]
    RunInProgress,
    #[error("nothing is running")]
    NoRun,
    #[error("this session has no question")]
    NoQuestion,
    #[error("no question with that id")]
    QuestionNotFound,
    #[error("this session has no template")]
    NoTemplate,
    #[error("no template with that id")]
    TemplateNotFound,
    #[error("the session has ended")]
    SessionEnded,
    #[error("the session's content was erased")]
    SessionErased,
    #[error("the session is at its maximum lifetime")]
    LifetimeReached,
    #[error("the interview has not started yet")]
    NotStarted,
    #[error("the take-home was submitted; the editor is read-only")]
    Submitted,
    #[error("this take-home's link has expired")]
    LinkExpired,
    #[error("{0}")]
    InterviewState(String),
    #[error("{0}")]
    Stdin(StdinError),
    #[error("{0}")]
    Capacity(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: std::time::Duration,
    },
    #[error("{0}")]
    TooManySockets(crate::session::SocketCap),
    #[error("stdin messages are at most {0} bytes")]
    StdinTooLarge(usize),
    #[error("the request body is too large")]
    BodyTooLarge,
    #[error("send the body as 'Content-Type: application/json'")]
    UnsupportedMediaType,
    #[error("requests from origin '{0}' are not accepted")]
    ForbiddenOrigin(String),
    #[error("this endpoint does not take that method")]
    MethodNotAllowed,
    #[error("the request took too long")]
    Timeout,
    #[error("the request body did not arrive within {0} s")]
    BodyTimeout(f64),
    #[error("the container engine is not available")]
    Unavailable(#[source] anyhow::Error),
    #[error("{0}")]
    Scorecard(crate::scorecards::ScorecardError),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden => "FORBIDDEN",
            Self::SessionNotFound => "SESSION_NOT_FOUND",
            Self::NoRoute => "NOT_FOUND",
            Self::UnknownEnvironment(_) => "UNKNOWN_ENVIRONMENT",
            Self::ImageNotReady(_) => "IMAGE_NOT_READY",
            Self::CodeTooLarge(_) => "CODE_TOO_LARGE",
            Self::InvalidFilename(_) => "INVALID_FILENAME",
            Self::InvalidJson(_) => "INVALID_JSON",
            Self::InvalidArgument(_) => "INVALID_ARGUMENT",
            Self::InvalidMessage(_) => "INVALID_MESSAGE",
            Self::UnknownMessage(_) => "UNKNOWN_MESSAGE",
            Self::RunInProgress => "RUN_IN_PROGRESS",
            Self::NoRun => "NO_RUN",
            Self::NoQuestion => "NO_QUESTION",
            Self::QuestionNotFound => "QUESTION_NOT_FOUND",
            Self::NoTemplate => "NO_TEMPLATE",
            Self::TemplateNotFound => "TEMPLATE_NOT_FOUND",
            Self::SessionEnded => "SESSION_ENDED",
            Self::SessionErased => "SESSION_ERASED",
            Self::LifetimeReached => "LIFETIME_REACHED",
            Self::NotStarted => "NOT_STARTED",
            Self::Submitted => "SUBMITTED",
            Self::LinkExpired => "LINK_EXPIRED",
            Self::InterviewState(_) => "INTERVIEW_STATE",
            Self::Stdin(StdinError::NoRun) => "NO_RUN",
            Self::Stdin(_) => "STDIN_UNAVAILABLE",
            Self::Capacity(_) => "CAPACITY",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::TooManySockets(_) => "TOO_MANY_SOCKETS",
            Self::StdinTooLarge(_) => "STDIN_TOO_LARGE",
            Self::BodyTooLarge => "BODY_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::ForbiddenOrigin(_) => "FORBIDDEN_ORIGIN",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Timeout => "TIMEOUT",
            Self::BodyTimeout(_) => "BODY_TIMEOUT",
            Self::Unavailable(_) => "DOCKER_UNAVAILABLE",
            Self::Scorecard(ScorecardError::Invalid(_)) => "INVALID_ARGUMENT",
            Self::Scorecard(ScorecardError::Submitted) => "SCORECARD_SUBMITTED",
            Self::Scorecard(ScorecardError::Closed(_)) => "SCORECARD_CLOSED",
            Self::Internal(_) => "INTERNAL",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::SessionNotFound
            | Self::NoRoute
            | Self::QuestionNotFound
            | Self::TemplateNotFound => StatusCode::NOT_FOUND,
            Self::UnknownEnvironment(_)
            | Self::InvalidFilename(_)
            | Self::InvalidJson(_)
            | Self::InvalidArgument(_)
            | Self::InvalidMessage(_)
            | Self::UnknownMessage(_) => StatusCode::BAD_REQUEST,
            Self::CodeTooLarge(_) | Self::StdinTooLarge(_) | Self::BodyTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::RateLimited { .. } | Self::TooManySockets(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Capacity(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ForbiddenOrigin(_) => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Timeout | Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::RunInProgress
            | Self::NoRun
            | Self::NoQuestion
            | Self::NoTemplate
            | Self::SessionEnded
            | Self::LifetimeReached
            | Self::NotStarted
            | Self::Submitted
            | Self::InterviewState(_)
            | Self::Stdin(_) => StatusCode::CONFLICT,
            Self::LinkExpired => StatusCode::GONE,
            Self::ImageNotReady(_) | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::SessionErased => StatusCode::GONE,
            Self::Scorecard(ScorecardError::Invalid(_)) => StatusCode::BAD_REQUEST,
            Self::Scorecard(_) => StatusCode::CONFLICT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn hint(&self) -> &'static str {
        match self {
            Self::Unauthorized => "send 'Authorization: Bearer <API key or session token>'",
            Self::Forbidden => "an interviewer token or the API key can do this",
            Self::SessionNotFound => "check the session id; ended sessions stay readable",
            Self::NoRoute => "GET /api/v1/openapi.json (or /docs) lists the endpoints",
            Self::UnknownEnvironment(_) => "GET /api/v1/environments lists the environments",
            Self::ImageNotReady(_) => {
                "the server is building it; GET /api/v1/environments shows 'ready'"
            }
            Self::CodeTooLarge(_) => "send less code; limits.code_limit_bytes sets the limit",
            Self::InvalidFilename(_) => "use relative names such as 'main.py' or 'lib/util.py'",
            Self::InvalidJson(_) => "send a JSON object as /docs describes it",
            Self::InvalidArgument(_) => "see /docs for the accepted values",
            Self::InvalidMessage(_) => "see docs/protocol.md for the message shapes",
            Self::UnknownMessage(_) => "docs/protocol.md lists the message types",
            Self::RunInProgress => {
                "wait for run_finished, send 'kill', or run with \"restart\": true"
            }
            Self::NoRun | Self::Stdin(StdinError::NoRun) => "start a run first",
            Self::NoQuestion => "create the session with \"question\": <question_id> to run tests",
            Self::QuestionNotFound => "GET /api/v1/questions lists the questions",
            Self::NoTemplate => "create the session with \"template\": <template_id>",
            Self::TemplateNotFound => "GET /api/v1/templates lists the templates",
            Self::Stdin(_) => "the program is not reading; wait or kill it",
            Self::SessionEnded => "create a new session",
            Self::SessionErased => {
                "GET /api/v1/sessions/{id} shows its tombstone (ids, times, statuses, erased_at)"
            }
            Self::LifetimeReached => {
                "sessions.max_lifetime_seconds bounds every session; create a new one to go on"
            }
            Self::NotStarted => {
                "the interviewer starts the interview; the page updates when it does"
            }
            Self::Submitted => "the submitted code, tests and replay stay readable",
            Self::LinkExpired => "ask the company for a new link",
            Self::InterviewState(_) => "GET /api/v1/sessions/{id} shows the interview's stage",
            Self::Capacity(_) => "the server is full; try again when sessions have ended",
            Self::RateLimited { .. } => "wait for Retry-After (retry_after_ms on the socket)",
            Self::TooManySockets(_) => "close another tab or socket of this session",
            Self::StdinTooLarge(_) => "send the input in smaller pieces",
            Self::BodyTooLarge => "send less; limits.code_limit_bytes sets the limit",
            Self::UnsupportedMediaType => "add 'Content-Type: application/json'",
            Self::ForbiddenOrigin(_) => {
                "call from the server's own pages, or list your origin in cors_origins"
            }
            Self::MethodNotAllowed => "see /docs for the endpoints and their methods",
            Self::Timeout => "try again; long runs are bounded by limits.run_timeout_seconds",
            Self::BodyTimeout(_) => {
                "send the whole body at once; server.body_read_timeout_seconds sets the deadline"
            }
            Self::Unavailable(_) => "check that Docker runs: GET /api/v1/health",
            Self::Scorecard(ScorecardError::Invalid(_)) => {
                "GET /sessions/{id}/scorecards shows the session's rubric"
            }
            Self::Scorecard(ScorecardError::Submitted) => {
                "a submitted scorecard is final; its author may not change it"
            }
            Self::Scorecard(ScorecardError::Closed(_)) => {
                "scorecards stay readable; sessions.scorecard_window_seconds sets how long they may be written"
            }
            Self::Internal(_) => "try again; the server log has the details",
        }
    }
}

impl ApiError {
    /// When a refused caller may try again (RATE_LIMITED, TOO_MANY_SOCKETS).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            Self::TooManySockets(_) => Some(std::time::Duration::from_secs(5)),
            _ => None,
        }
    }

    /// The error an HTTP status means when a layer (not a handler) refused the request.
    pub fn from_status(status: StatusCode) -> Option<Self> {
        Some(match status {
            StatusCode::PAYLOAD_TOO_LARGE => Self::BodyTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => Self::Timeout,
            StatusCode::NOT_FOUND => Self::NoRoute,
            _ => return None,
        })
    }
}

impl From<SessionError> for ApiError {
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::UnknownEnvironment(name) => Self::UnknownEnvironment(name),
            SessionError::ImageNotReady(name) => Self::ImageNotReady(name),
            SessionError::NotFound => Self::SessionNotFound,
            SessionError::Ended => Self::SessionEnded,
            SessionError::Erased => Self::SessionErased,
            SessionError::LifetimeReached => Self::LifetimeReached,
            SessionError::RunInProgress => Self::RunInProgress,
            SessionError::NoRun => Self::NoRun,
            SessionError::NoQuestion => Self::NoQuestion,
            SessionError::NoTemplate => Self::NoTemplate,
            SessionError::NotStarted => Self::NotStarted,
            SessionError::Submitted => Self::Submitted,
            SessionError::LinkExpired => Self::LinkExpired,
            SessionError::Interview(m) => Self::InterviewState(m),
            SessionError::Files(e) => e.into(),
            SessionError::InvalidArgument(m) => Self::InvalidArgument(m),
            SessionError::Capacity(m) => Self::Capacity(m),
            SessionError::RateLimited {
                message,
                retry_after,
            } => Self::RateLimited {
                message,
                retry_after,
            },
            SessionError::Scorecard(e) => Self::Scorecard(e),
            SessionError::Sandbox(e) => Self::Unavailable(e.into()),
            SessionError::Store(e) => Self::Internal(e.into()),
        }
    }
}

impl From<FilesError> for ApiError {
    fn from(err: FilesError) -> Self {
        match err {
            FilesError::Path(e) => Self::InvalidFilename(e.to_string()),
            e @ FilesError::TooLarge { .. } => Self::CodeTooLarge(e.to_string()),
            e @ FilesError::TooMany(_) => Self::InvalidArgument(e.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        Self::Internal(err.into())
    }
}

impl From<crate::session::EditError> for ApiError {
    fn from(err: crate::session::EditError) -> Self {
        use crate::session::EditError;
        match err {
            EditError::Stale { .. } | EditError::Invalid(_) => {
                Self::InvalidMessage(err.to_string())
            }
            EditError::TooLarge(m) => Self::CodeTooLarge(m),
            EditError::Ended => Self::SessionEnded,
            EditError::Store(detail) => Self::Internal(anyhow::anyhow!(detail)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self, Self::Unavailable(_) | Self::Internal(_)) {
            // Detail to the log, not the client.
            tracing::error!(error = ?self, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                hint: self.hint(),
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(wait) = self.retry_after() {
            // Whole seconds, rounded up: a client that waits that long is let in.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs.max(1)),
            );
        }
        response
    }
}
