//! Extractors: JSON bodies that fail with our error shape, and credentials parsed from the
//! `Authorization` header into what they grant.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::auth;
use crate::state::AppState;

/// `Json` whose rejections are [`ApiError`]s.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::CodeTooLarge("the request body is too large".into())
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            other => ApiError::InvalidJson(other.body_text()),
        }
    }
}

/// `application/json`, or a `+json` type, with any parameters.
pub fn is_json_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A JSON body that may be absent: an empty body is `T::default()`.
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: serde::de::DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let json_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(is_json_type);
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::CodeTooLarge("the request body is too large".into())
                } else {
                    ApiError::InvalidJson(e.body_text())
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        // A body must say it is JSON: a cross-site form or `text/plain` fetch cannot.
        if json_type != Some(true) {
            return Err(ApiError::UnsupportedMediaType);
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| ApiError::InvalidJson(e.to_string()))
    }
}

/// The bearer credential of a request, if any (not yet checked against anything).
#[derive(Debug, Clone)]
pub struct Bearer(pub Option<String>);

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(Bearer(None));
        };
        let value = value.to_str().map_err(|_| ApiError::Unauthorized)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(ApiError::Unauthorized)?;
        Ok(Bearer(Some(token.trim().to_string())))
    }
}

impl Bearer {
    /// True when it carries the configured API key.
    pub fn is_api_key(&self, state: &AppState) -> bool {
        self.0
            .as_deref()
            .is_some_and(|t| auth::api_key_matches(t, &state.config.api_key))
    }
}

/// A caller allowed to manage sessions: the API key, or anyone in open mode.
#[derive(Debug)]
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.config.open_mode() {
            return Ok(Operator);
        }
        let bearer = Bearer::from_request_parts(parts, state).await?;
        if bearer.is_api_key(state) {
            Ok(Operator)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// The address of the client at the other end of the connection.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // Set by the accept loop for every connection; absent only for a router driven
        // without a server (then the caller is "unspecified").
        let addr = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        Ok(Self(addr))
    }
}

/// Who is creating or listing sessions, for quotas and the open-mode list: the API key
/// ([`BY_KEY`](crate::session::BY_KEY)), or in open mode the client's address.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Operator::from_request_parts(parts, state).await?;
        if !state.config.open_mode() {
            return Ok(Self(crate::session::BY_KEY.into()));
        }
        let ClientAddr(ip) = ClientAddr::from_request_parts(parts, state).await?;
        // An IPv4 client seen on an IPv6 socket is the same client.
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        Ok(Self(format!("ip:{ip}")))
    }
}

/// `?limit=&offset=` of a list (sessions, questions): at most `quotas.list_page_size`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most `quotas.list_page_size` (the default).
    limit: Option<usize>,
    offset: Option<usize>,
}

/// The page a list request asks for: its query, clamped, and in open mode only what the
/// caller created.
#[derive(Debug)]
pub struct Paged(pub crate::store::ListPage);

impl FromRequestParts<AppState> for Paged {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Caller(caller) = Caller::from_request_parts(parts, state).await?;
        let axum::extract::Query(query) =
            axum::extract::Query::<PageQuery>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::InvalidArgument(e.body_text()))?;
        let max = state.config.quotas.list_page_size.max(1);
        Ok(Self(crate::store::ListPage {
            created_by: state.config.open_mode().then_some(caller),
            limit: query.limit.unwrap_or(max).clamp(1, max),
            offset: query.offset.unwrap_or(0),
        }))
    }
}
