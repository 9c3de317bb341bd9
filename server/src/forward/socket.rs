//! A session's socket relayed to its owner: this replica opens the socket to the owner first,
//! and only once the owner accepted it completes the client's upgrade (so a refusal, such as a
//! wrong token, reaches the client as the owner's own answer). Then frames are pumped both
//! ways until either side ends.

use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self as tung, Message};
use tokio_util::sync::CancellationToken;

use super::{peer_unreachable, relayed_headers};
use crate::state::AppState;

/// How long the owner has to accept a relayed socket.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub fn is_upgrade(req: &Request) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Relays the socket `req` asks for to `owner`.
pub async fn relay(state: &AppState, owner: String, req: Request) -> Response {
    let client_addr = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let (mut parts, _body) = req.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{path}", owner.replacen("http", "ws", 1));
    let mut request = match url.into_client_request() {
        Ok(request) => request,
        Err(err) => return peer_unreachable(err),
    };
    // The handshake's own headers are tungstenite's; the rest are the client's.
    let keep = relayed_headers(state, &parts.headers, client_addr.as_deref());
    for (name, value) in &keep {
        if !name.as_str().starts_with("sec-websocket-") {
            request.headers_mut().insert(name, value.clone());
        }
    }
    let connected =
        tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(request)).await;
    let upstream = match connected {
        Ok(Ok((upstream, _))) => upstream,
        Ok(Err(tung::Error::Http(answer))) => return refused(answer),
        Ok(Err(err)) => return peer_unreachable(err),
        Err(_) => return peer_unreachable("timed out"),
    };
    let (tasks, shutdown) = (state.tasks.clone(), state.shutdown.clone());
    upgrade.on_upgrade(move |client| async move {
        tasks.spawn(pump(client, upstream, shutdown));
    })
}

/// The owner refused the socket: its answer, as it gave it.
fn refused(answer: tung::http::Response<Option<Vec<u8>>>) -> Response {
    let (parts, body) = answer.into_parts();
    let mut response = Response::new(Body::from(body.unwrap_or_default()));
    *response.status_mut() = parts.status;
    if let Some(kind) = parts.headers.get(header::CONTENT_TYPE) {
        if let Ok(kind) = HeaderValue::from_bytes(kind.as_bytes()) {
            response.headers_mut().insert(header::CONTENT_TYPE, kind);
        }
    }
    response
}

type Upstream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A close frame telling the client to reconnect (its session is served elsewhere now).
fn reconnect(reason: &'static str) -> ws::Message {
    ws::Message::Close(Some(ws::CloseFrame {
        code: 1012,
        reason: reason.into(),
    }))
}

/// Frames both ways until one side closes; the other is closed then too. The owner lost
/// without a close frame, or this replica shutting down, closes the client with 1012, so
/// that it reconnects (to whichever replica serves the session then).
async fn pump(client: WebSocket, upstream: Upstream, shutdown: CancellationToken) {
    let (mut to_client, mut from_client) = client.split();
    let (mut to_owner, mut from_owner) = upstream.split();
    let up = async {
        while let Some(Ok(message)) = from_client.next().await {
            let closing = matches!(message, ws::Message::Close(_));
            if to_owner.send(to_owner_message(message)).await.is_err() || closing {
                break;
            }
        }
        let _ = to_owner.close().await;
    };
    let down = async {
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => reconnect("server restarting"),
                next = from_owner.next() => match next {
                    Some(Ok(message)) => match to_client_message(message) {
                        Some(message) => message,
                        None => continue,
                    },
                    _ => reconnect("session moved; reconnect"),
                },
            };
            let closing = matches!(message, ws::Message::Close(_));
            if to_client.send(message).await.is_err() || closing {
                break;
            }
        }
    };
    // Either direction ending ends the relay.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

fn to_owner_message(message: ws::Message) -> Message {
    match message {
        ws::Message::Text(text) => Message::Text(text.as_str().into()),
        ws::Message::Binary(data) => Message::Binary(data),
        ws::Message::Ping(data) => Message::Ping(data),
        ws::Message::Pong(data) => Message::Pong(data),
        ws::Message::Close(frame) => Message::Close(frame.map(|f| CloseFrame {
            code: CloseCode::from(f.code),
            reason: f.reason.as_str().into(),
        })),
    }
}

fn to_client_message(message: Message) -> Option<ws::Message> {
    Some(match message {
        Message::Text(text) => ws::Message::Text(text.as_str().into()),
        Message::Binary(data) => ws::Message::Binary(data),
        Message::Ping(data) => ws::Message::Ping(data),
        Message::Pong(data) => ws::Message::Pong(data),
        Message::Close(frame) => ws::Message::Close(frame.map(|f| ws::CloseFrame {
            code: f.code.into(),
            reason: f.reason.as_str().into(),
        })),
        Message::Frame(_) => return None,
    })
}
