//! The session socket: upgrade, authenticate, `welcome`, then events out and commands in until
//! either side ends. Every socket is a tracked task that closes with 1012 on server shutdown.
//!
//! # Layout
//! - `protocol`: [`ClientMessage`], [`ServerMessage`] (the wire shapes).
//! - this file: the upgrade handler and the per-socket loop.

pub mod protocol;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

pub use protocol::{ClientMessage, EnvironmentInfo, ServerMessage};

use crate::api::sessions::{parse_id, SessionView};
use crate::api::ApiError;
use crate::app::AppState;
use crate::auth::Role;
use crate::session::{visible_to, EditError, EndReason, Lagged, RunRequest, Session, SessionEvent};

/// How long a client has to send `auth` when the URL carried no token.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// A send that takes longer than this means the client stopped reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// Close codes beyond RFC 6455's.
mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    pub const RESTART: u16 = 1012;
    pub const TRY_LATER: u16 = 1013;
    /// The client fell too far behind the event stream; reconnect for a fresh `welcome`.
    pub const LAGGED: u16 = 4000;
    pub const UNAUTHORIZED: u16 = 4401;
}

#[derive(Debug, Deserialize)]
pub struct SocketQuery {
    token: Option<String>,
    name: Option<String>,
    #[serde(default)]
    readonly: Option<String>,
    /// With `after_seq`: what a reconnecting client already has of the run in progress (the
    /// same as `after` of the `auth` message).
    after_run: Option<uuid::Uuid>,
    after_seq: Option<u64>,
}

/// `GET /sessions/{id}/ws`: checks what can be checked before upgrading, so a bad token or a
/// full session gets an HTTP error with the error body rather than a socket that closes at once.
pub async fn upgrade(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<SocketQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    if !state.sessions.exists(&id).await? {
        return Err(ApiError::SessionNotFound);
    }
    let role = match &query.token {
        Some(token) => Some(
            state
                .sessions
                .role_for_token(&id, token)
                .await?
                .ok_or(ApiError::Unauthorized)?,
        ),
        None => None,
    };
    let session = state.sessions.get(&id).ok_or(ApiError::SessionEnded)?;
    if let Some(role) = role {
        session
            .socket_room(role, socket_caps(&state))
            .map_err(ApiError::TooManySockets)?;
    }
    let readonly = matches!(query.readonly.as_deref(), Some("1" | "true"));
    let name = clean_name(query.name.as_deref());
    let after = query.after_run.zip(query.after_seq);
    let limit = state.config.socket_message_bytes();
    let tasks = state.tasks.clone();
    Ok(ws
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            tasks
                .spawn(serve(state, session, socket, role, readonly, name, after))
                .await
                .ok();
        })
        .into_response())
}

fn socket_caps(state: &AppState) -> (usize, usize) {
    let s = &state.config.sockets;
    (s.max_per_session, s.max_per_token)
}

fn clean_name(name: Option<&str>) -> String {
    let name: String = name
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(40)
        .collect();
    let name = name.trim();
    if name.is_empty() {
        "anonymous".into()
    } else {
        name.to_string()
    }
}

fn send(msg: ServerMessage) -> Message {
    Message::Text(Utf8Bytes::from(msg.to_text()))
}

/// What one socket may send: messages and bytes per second, each with a one-second burst.
/// Past them the socket's next message waits its turn (TCP pushes back on the client), so an
/// honest client loses nothing and a flooding one only slows itself.
struct Budget {
    messages: Option<DefaultDirectRateLimiter>,
    kib: Option<DefaultDirectRateLimiter>,
}

impl Budget {
    fn new(config: &crate::config::SocketsConfig) -> Self {
        let per_second =
            |n: u32| NonZeroU32::new(n).map(|n| RateLimiter::direct(Quota::per_second(n)));
        Self {
            messages: per_second(config.messages_per_second),
            kib: per_second(config.bytes_per_second.div_ceil(1024)),
        }
    }

    async fn spend(&self, bytes: usize) {
        if let Some(limiter) = &self.messages {
            limiter.until_ready().await;
        }
        if let Some(limiter) = &self.kib {
            let kib = NonZeroU32::new(bytes.div_ceil(1024).max(1) as u32).expect("at least 1");
            // More than a whole burst can never pass: wait for the burst, then let it through.
            if limiter.until_n_ready(kib).await.is_err() {
                limiter.until_ready().await;
            }
        }
    }
}

/// The latest cursor of this socket's participant, sent on at most `cursor_hz` times a second.
struct CursorPacer {
    period: Duration,
    last_sent: Option<Instant>,
    pending: Option<(u64, u64, u64)>,
}

impl CursorPacer {
    fn new(hz: u32) -> Self {
        Self {
            period: Duration::from_secs(1) / hz.max(1),
            last_sent: None,
            pending: None,
        }
    }

    /// Keeps the newest position; true when it may go out now.
    fn offer(&mut self, position: (u64, u64, u64), now: Instant) -> bool {
        self.pending = Some(position);
        self.last_sent.is_none_or(|t| now >= t + self.period)
    }

    /// When a held-back position is due, if one is.
    fn due(&self) -> Option<Instant> {
        self.pending?;
        Some(
            self.last_sent
                .map_or_else(Instant::now, |t| t + self.period),
        )
    }

    fn take(&mut self, now: Instant) -> Option<(u64, u64, u64)> {
        let position = self.pending.take()?;
        self.last_sent = Some(now);
        Some(position)
    }
}

async fn serve(
    state: AppState,
    session: Arc<Session>,
    socket: WebSocket,
    role: Option<Role>,
    readonly: bool,
    name: String,
    mut after: Option<(uuid::Uuid, u64)>,
) {
    let (mut sink, mut stream) = socket.split();

    let credential = match role {
        Some(role) => role,
        None => match authenticate(&session, &mut stream).await {
            Some((role, resume)) => {
                after = resume.or(after);
                role
            }
            None => {
                let err = ApiError::Unauthorized;
                let _ = sink.send(send(ServerMessage::from(&err))).await;
                let _ = sink
                    .send(close_frame(close::UNAUTHORIZED, "unauthorized"))
                    .await;
                return;
            }
        },
    };
    let role = if readonly { Role::Observer } else { credential };

    let participant = match session.join(role, credential, name, socket_caps(&state)) {
        Ok(guard) => guard,
        Err(cap) => {
            let err = ApiError::TooManySockets(cap);
            let _ = sink.send(send(ServerMessage::from(&err))).await;
            let _ = sink
                .send(close_frame(close::TRY_LATER, "too many sockets"))
                .await;
            return;
        }
    };
    let me = Client {
        role,
        participant: participant.id(),
    };
    let idle_ttl = state.sessions.idle_ttl();
    let start = session.subscribe(idle_ttl, after);
    let (snapshot, mut events) = (start.snapshot, start.events);
    let participants = snapshot.participants.clone();
    let env = &session.environment;
    let welcome = ServerMessage::Welcome {
        session: Box::new(SessionView::from(snapshot)),
        role,
        document: start.document,
        version: start.version,
        participants,
        participant: me.participant,
        environment: EnvironmentInfo {
            name: env.name.clone(),
            description: env.settings.description.clone(),
            filename: env.settings.filename.clone(),
            editor_language: env.settings.editor_language.clone(),
            version: env.version(),
        },
        notes: (role == Role::Interviewer).then(|| session.notes()),
        run: start.run.map(protocol::WelcomeRun::new),
    };
    if sink.send(send(welcome)).await.is_err() {
        return;
    }
    // The session's end was announced before this socket came: it hears it now.
    if let Some(warning) = start.warning {
        if sink
            .send(send(ServerMessage::from(&*warning)))
            .await
            .is_err()
        {
            return;
        }
    }

    let config = &state.config.sockets;
    let budget = Budget::new(config);
    let mut cursors = CursorPacer::new(config.cursor_hz);
    let idle_timeout = Duration::from_secs_f64(config.idle_timeout_seconds);
    let mut ping = tokio::time::interval(Duration::from_secs_f64(config.ping_seconds));
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await; // the first tick is immediate
    let mut heard = Instant::now();
    let shutdown = state.shutdown.clone();
    loop {
        let cursor_due = cursors.due();
        // Biased: events already queued for this socket go out before its next message is
        // handled, so an answer (e.g. `update_rejected`) never overtakes an event emitted
        // before it (the `updates` that made the client stale).
        let outgoing: Vec<Message> = tokio::select! {
            biased;
            _ = shutdown.cancelled() => {
                let _ = sink.send(close_frame(close::RESTART, "server restarting")).await;
                return;
            }
            event = events.recv() => match event {
                Ok(event) if !me.sees(&event) => Vec::new(),
                Ok(event) => {
                    let ended = matches!(*event, SessionEvent::Ended(_));
                    let mut out = vec![send(ServerMessage::from(&*event))];
                    if ended {
                        out.push(close_frame(close::NORMAL, "session ended"));
                    }
                    out
                }
                Err(Lagged) => {
                    tracing::info!(session = %session.id, "socket fell behind; closing it");
                    vec![close_frame(close::LAGGED, "fell behind; reconnect")]
                }
            },
            _ = tokio::time::sleep_until(cursor_due.unwrap_or_else(Instant::now).into()), if cursor_due.is_some() => {
                if let Some((anchor, head, version)) = cursors.take(Instant::now()) {
                    session.cursor(me.participant, anchor, head, version);
                }
                Vec::new()
            }
            _ = ping.tick() => {
                if heard.elapsed() > idle_timeout {
                    vec![close_frame(close::GOING_AWAY, "idle: nothing heard from the client")]
                } else {
                    vec![Message::Ping(Default::default())]
                }
            }
            incoming = stream.next() => {
                heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        budget.spend(text.len()).await;
                        match ClientMessage::parse(text.as_str()) {
                            Ok(ClientMessage::Cursor { anchor, head, version }) => {
                                // Observers may point at code too; a cursor changes nothing.
                                let now = Instant::now();
                                if cursors.offer((anchor, head, version), now) {
                                    if let Some((anchor, head, version)) = cursors.take(now) {
                                        session.cursor(me.participant, anchor, head, version);
                                    }
                                }
                                session.touch();
                                Vec::new()
                            }
                            parsed => handle(&state, &session, me, parsed)
                                .await
                                .map(|m| vec![send(m)])
                                .unwrap_or_default(),
                        }
                    }
                    Some(Ok(Message::Binary(data))) => {
                        budget.spend(data.len()).await;
                        vec![send(invalid("binary frames are not part of the protocol"))]
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Vec::new(),
                    Some(Ok(Message::Close(_))) | None => return,
                    Some(Err(err)) => {
                        // tungstenite refuses a frame over the size limit with a capacity error;
                        // say so with 1009 instead of dropping the connection bare.
                        if err.to_string().contains("Space limit exceeded") {
                            let reason = format!("message too big: the limit is {} bytes", state.config.socket_message_bytes());
                            let _ = tokio::time::timeout(
                                SEND_TIMEOUT,
                                sink.send(Message::Close(Some(CloseFrame { code: close::TOO_BIG, reason: reason.into() }))),
                            )
                            .await;
                        }
                        return;
                    }
                }
            }
        };
        for message in outgoing {
            let closing = matches!(message, Message::Close(_));
            match tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await {
                Ok(Ok(())) if !closing => {}
                _ => return,
            }
        }
    }
}

async fn authenticate(
    session: &Session,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
) -> Option<(Role, Option<(uuid::Uuid, u64)>)> {
    let first = tokio::time::timeout(AUTH_TIMEOUT, stream.next())
        .await
        .ok()??
        .ok()?;
    let Message::Text(text) = first else {
        return None;
    };
    match ClientMessage::parse(text.as_str()) {
        Ok(ClientMessage::Auth { token, after }) => session
            .role_for_token(&token)
            .map(|role| (role, after.map(|a| (a.run_id, a.seq)))),
        _ => None,
    }
}

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

fn invalid(message: &str) -> ServerMessage {
    ServerMessage::Error {
        code: "INVALID_MESSAGE",
        message: message.to_string(),
        hint: "send JSON objects with a 'type' as documented in docs/protocol.md",
        retry_after_ms: None,
    }
}

/// Who is on the other end of a socket.
#[derive(Debug, Clone, Copy)]
struct Client {
    role: Role,
    participant: u64,
}

impl Client {
    /// Notes only for interviewers; one's own cursor is not echoed.
    fn sees(&self, event: &SessionEvent) -> bool {
        match event {
            SessionEvent::Cursor { participant, .. } => *participant != self.participant,
            other => visible_to(other, self.role),
        }
    }
}

/// Handles one client message (cursors are paced by the loop); returns what to answer this
/// client alone.
async fn handle(
    state: &AppState,
    session: &Arc<Session>,
    me: Client,
    parsed: Result<ClientMessage, protocol::ParseError>,
) -> Option<ServerMessage> {
    let message = match parsed {
        Ok(m) => m,
        Err(protocol::ParseError::Invalid(why)) => return Some(invalid(&why)),
        Err(protocol::ParseError::Unknown(kind)) => {
            return Some(ServerMessage::Error {
                code: "UNKNOWN_MESSAGE",
                message: format!("no message type '{kind}'"),
                hint: "see docs/protocol.md for the message types",
                retry_after_ms: None,
            })
        }
    };
    let role = me.role;
    match message {
        // A page that pings is a participant who is there: that is activity.
        ClientMessage::Ping => {
            session.touch();
            return Some(ServerMessage::Pong);
        }
        ClientMessage::Auth { .. } => return Some(invalid("already authenticated")),
        ClientMessage::Pull { version } => {
            return Some(match session.updates_since(version) {
                Ok(updates) => ServerMessage::Updates { version, updates },
                Err(err) => invalid(&err.to_string()),
            })
        }
        ClientMessage::Cursor { .. } => return None, // paced by the socket loop
        _ if !role.can_write() => return Some(ServerMessage::from(&ApiError::Forbidden)),
        ClientMessage::Notes { .. } | ClientMessage::EndSession if role != Role::Interviewer => {
            return Some(ServerMessage::from(&ApiError::Forbidden))
        }
        _ => {}
    }
    session.touch();
    let result: Result<(), ApiError> = match message {
        ClientMessage::Run {
            files,
            stdin,
            restart,
        } => state
            .sessions
            .start_run(
                session,
                RunRequest {
                    files,
                    stdin,
                    restart,
                    ..Default::default()
                },
                role,
            )
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        ClientMessage::Stdin { data } if data.len() > state.config.limits.stdin_message_bytes => {
            Err(ApiError::StdinTooLarge(
                state.config.limits.stdin_message_bytes,
            ))
        }
        ClientMessage::Stdin { data } => session
            .send_stdin(data, me.participant)
            .map_err(ApiError::Stdin),
        ClientMessage::StdinEof => session.close_stdin().map_err(ApiError::Stdin),
        ClientMessage::Kill => session.kill_run().map_err(ApiError::from),
        ClientMessage::Update { version, updates } => {
            let updates = updates
                .into_iter()
                .map(|u| (u.client_id, u.changes))
                .collect();
            match state.sessions.push_updates(session, version, updates).await {
                Err(EditError::Stale { current }) => {
                    return Some(ServerMessage::UpdateRejected { version: current })
                }
                other => other.map_err(ApiError::from),
            }
        }
        ClientMessage::Notes { text } => state
            .sessions
            .set_notes(session, text)
            .await
            .map_err(ApiError::from),
        ClientMessage::EndSession => state
            .sessions
            .end(session, EndReason::Stopped)
            .await
            .map_err(ApiError::from),
        ClientMessage::Extend => state
            .sessions
            .extend(session)
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        ClientMessage::Ping
        | ClientMessage::Auth { .. }
        | ClientMessage::Pull { .. }
        | ClientMessage::Cursor { .. } => unreachable!("answered above"),
    };
    result.err().map(|err| {
        if matches!(err, ApiError::Internal(_) | ApiError::Unavailable(_)) {
            // Detail to the log; the client gets the code.
            tracing::error!(session = %session.id, error = ?err, "socket request failed");
        }
        ServerMessage::from(&err)
    })
}
