//! Cluster mode's edge: a request or socket for a session another live replica owns is
//! relayed to that owner, HTTP and WebSocket alike, so any replica answers any request and
//! the owner's address never reaches a client (browsers' sockets do not follow redirects).
//! A session nobody live holds is taken over here first (`SessionRegistry::locate`).
//!
//! The relayed request keeps its `Host` and `Origin`, so the owner's own checks see what this
//! replica saw; `x-livecode-forwarded` marks it, and a marked request is never relayed again.

mod socket;

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;
use crate::model::SessionId;
use crate::session::{Route, SessionError};
use crate::state::AppState;

/// Marks a request one replica relays to another.
pub const FORWARDED: HeaderName = HeaderName::from_static("x-livecode-forwarded");

/// Headers of one hop, never relayed (RFC 9110 §7.6.1), and the length the body sets again.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The session a path is about, for the session routes of the API.
fn session_of(path: &str) -> Option<SessionId> {
    let rest = path.strip_prefix("/api/v1/sessions/")?;
    let id = rest.split('/').next()?;
    id.parse::<uuid::Uuid>().ok().map(SessionId)
}

/// The middleware: serves here, or relays to the session's owner.
pub async fn to_owner(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.sessions.cluster().is_none() {
        return next.run(req).await;
    }
    let Some(id) = session_of(req.uri().path()) else {
        let creates = req.method() == axum::http::Method::POST
            && req.uri().path().trim_end_matches('/') == "/api/v1/sessions"
            && !req.headers().contains_key(FORWARDED);
        return match new_session_elsewhere(&state, creates).await {
            Some(peer) => relay(&state, &peer, req).await,
            None => next.run(req).await,
        };
    };
    let may_forward = !req.headers().contains_key(FORWARDED);
    match state.sessions.locate(&id, may_forward).await {
        Ok(Route::Local) => next.run(req).await,
        Ok(Route::Forward(owner)) if socket::is_upgrade(&req) => {
            socket::relay(&state, owner, req).await
        }
        Ok(Route::Forward(owner)) => relay(&state, &owner, req).await,
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// A draining replica makes no session: a creation goes to a live peer that takes them.
async fn new_session_elsewhere(state: &AppState, creates: bool) -> Option<String> {
    let cluster = state.sessions.cluster()?;
    if !creates || !cluster.is_draining() {
        return None;
    }
    cluster.any_peer().await.ok().flatten()
}

/// One client for every relay: connections to the peers are kept and reused.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            // Below a replica's own keep-alive (its header read timeout, 10 s by default), so
            // a request never goes out on a connection the peer is closing.
            .pool_idle_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the relay's HTTP client")
    })
}

/// The request's headers as relayed: one hop's dropped, the relay's mark and the client's
/// address added.
fn relayed_headers(state: &AppState, from: &HeaderMap, client: Option<&str>) -> HeaderMap {
    let mut headers = from.clone();
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::CONTENT_LENGTH);
    if let Some(cluster) = state.sessions.cluster() {
        if let Ok(me) = HeaderValue::from_str(&cluster.id.to_string()) {
            headers.insert(FORWARDED, me);
        }
    }
    if let Some(addr) = client.and_then(|a| HeaderValue::from_str(a).ok()) {
        headers.append(HeaderName::from_static("x-forwarded-for"), addr);
    }
    headers
}

fn peer_unreachable(err: impl std::fmt::Display) -> Response {
    tracing::warn!(%err, "could not relay to the session's server");
    ApiError::from(SessionError::Capacity(
        "the session's server is not answering; try again".into(),
    ))
    .into_response()
}

/// Relays an HTTP request to `owner` and streams its answer back.
async fn relay(state: &AppState, owner: &str, req: Request) -> Response {
    let client_addr = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let (parts, body) = req.into_parts();
    let target = format!(
        "{owner}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    // The body was read (and bounded) by the layers before this one.
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(err) => return peer_unreachable(err),
    };
    let answer = client()
        .request(parts.method, target)
        .headers(relayed_headers(
            state,
            &parts.headers,
            client_addr.as_deref(),
        ))
        .body(body)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) => return peer_unreachable(err),
    };
    let mut response = Response::builder().status(answer.status());
    if let Some(headers) = response.headers_mut() {
        for (name, value) in answer.headers() {
            if !HOP_BY_HOP.contains(name) {
                headers.append(name, value.clone());
            }
        }
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(peer_unreachable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_session_paths_name_a_session() {
        let id = uuid::Uuid::new_v4();
        for path in [
            format!("/api/v1/sessions/{id}"),
            format!("/api/v1/sessions/{id}/ws"),
            format!("/api/v1/sessions/{id}/execute"),
        ] {
            assert_eq!(session_of(&path), Some(SessionId(id)), "{path}");
        }
        for path in [
            "/api/v1/sessions".to_string(),
            "/api/v1/sessions/".to_string(),
            "/api/v1/sessions/not-a-uuid/ws".to_string(),
            format!("/s/{id}"),
            "/api/v1/health".to_string(),
        ] {
            assert_eq!(session_of(&path), None, "{path}");
        }
    }
}
