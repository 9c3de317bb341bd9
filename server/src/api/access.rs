//! Who is asking about one session: the extractors that turn a path's id and a credential
//! into what it grants there, for REST ([`SessionAccess`], `Authorization: Bearer`) and for the
//! socket's upgrade ([`SocketAccess`], `?token=` or none yet). 404 before 401, so a wrong token
//! tells nothing about a session it could not know of anyway (ids are UUIDv4).

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::Bearer;
use crate::auth::{Access, Role};
use crate::session::{Session, SessionId};
use crate::state::AppState;

/// A request about one session: its id (from the path) and what the caller's credential
/// grants there. 404 for an unknown or malformed id, 401 for a missing or wrong credential.
#[derive(Debug, Clone, Copy)]
pub struct SessionAccess {
    pub id: SessionId,
    pub access: Access,
}

impl FromRequestParts<AppState> for SessionAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let id = existing_session(parts, state).await?;
        let bearer = Bearer::from_request_parts(parts, state).await?;
        let access = if bearer.is_api_key(state) {
            Access::Operator
        } else {
            let token = bearer.0.as_deref().ok_or(ApiError::Unauthorized)?;
            Access::Token(role_of(state, &id, token).await?)
        };
        Ok(Self { id, access })
    }
}

/// A socket upgrade: the session, and the role of the `?token=` it came with. Without one,
/// the token comes in the socket's first message (which keeps it out of URLs).
#[derive(Debug, Clone, Copy)]
pub struct SocketAccess {
    pub id: SessionId,
    pub role: Option<Role>,
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequestParts<AppState> for SocketAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let id = existing_session(parts, state).await?;
        let Query(query) = Query::<TokenQuery>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::InvalidArgument(e.body_text()))?;
        let role = match &query.token {
            Some(token) => Some(role_of(state, &id, token).await?),
            None => None,
        };
        Ok(Self { id, role })
    }
}

/// The session the path's `{id}` names, live or ended; 404 when there is none.
async fn existing_session(parts: &mut Parts, state: &AppState) -> Result<SessionId, ApiError> {
    // By name: a path may name more than the session (a scorecard's author, a question's
    // index).
    let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::SessionNotFound)?;
    let raw = params
        .iter()
        .find_map(|(name, value)| (name == "id").then_some(value))
        .ok_or(ApiError::SessionNotFound)?;
    let id = parse_id(raw)?;
    if !state.sessions.exists(&id).await? {
        return Err(ApiError::SessionNotFound);
    }
    Ok(id)
}

/// The role a session token grants on session `id`; 401 for any other string.
async fn role_of(state: &AppState, id: &SessionId, token: &str) -> Result<Role, ApiError> {
    state
        .sessions
        .role_for_token(id, token)
        .await?
        .ok_or(ApiError::Unauthorized)
}

impl SessionAccess {
    /// The role the caller acts as (the API key: an interviewer's).
    pub fn role(&self) -> Role {
        self.access.role()
    }

    /// The caller's role if it `may` do something ([`Role`]'s policy); `Forbidden` if not.
    pub fn may(&self, may: impl FnOnce(Role) -> bool) -> Result<Role, ApiError> {
        allow(self.role(), may)
    }

    /// The session, live here (what acts on it needs it live); `SESSION_ENDED` if it is not.
    pub fn live(&self, state: &AppState) -> Result<Arc<Session>, ApiError> {
        state.sessions.get(&self.id).ok_or(ApiError::SessionEnded)
    }
}

/// `role` if it `may` do something ([`Role`]'s policy); `Forbidden` if not.
pub fn allow(role: Role, may: impl FnOnce(Role) -> bool) -> Result<Role, ApiError> {
    if may(role) {
        Ok(role)
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Parses a session id; a malformed one is simply not found.
pub fn parse_id(raw: &str) -> Result<SessionId, ApiError> {
    raw.parse().map_err(|_| ApiError::SessionNotFound)
}
