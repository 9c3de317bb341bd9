//! One socket's life: authenticate (unless the URL did), join, `welcome`, then events out and
//! client messages in until either side ends, the client falls behind or goes silent, or the
//! server shuts down. Generic over the `Sink` and `Stream` of messages, so a unit test drives
//! it with channels, without a server (as axum's `testing-websockets` example does).

use std::fmt::Display;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use uuid::Uuid;

use super::handle::{handle, Client};
use super::outgoing::{EnvironmentInfo, FileDoc, ServerMessage, WelcomeRun};
use super::pacing::{Budget, CursorPacer};
use super::protocol::ClientMessage;
use crate::api::views::SessionView;
use crate::api::ApiError;
use crate::auth::Role;
use crate::interview::Stage;
use crate::session::{held_in_lobby, Lagged, Session, SessionEvent};
use crate::state::AppState;

mod admit;

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

/// What the upgrade learnt before the socket opened.
#[derive(Debug, Clone)]
pub struct Start {
    /// The role of the URL's token; `None`: the first message must be `auth`.
    pub role: Option<Role>,
    pub readonly: bool,
    pub name: String,
    /// What a reconnecting client already has of the run in progress.
    pub after: Option<(Uuid, u64)>,
}

/// Sockets per session and per token.
pub fn caps(state: &AppState) -> (usize, usize) {
    let s = &state.config.sockets;
    (s.max_per_session, s.max_per_token)
}

fn text(msg: ServerMessage) -> Message {
    Message::Text(Utf8Bytes::from(msg.to_text()))
}

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// Serves one socket until it ends.
pub async fn serve<S, R, E>(
    state: AppState,
    session: Arc<Session>,
    mut sink: S,
    mut stream: R,
    start: Start,
) where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    let Some((mut me, after, _participant)) =
        admit::admit(&session, &state, &mut sink, &mut stream, start).await
    else {
        return;
    };
    // A take-home's candidate opening it starts its clock (before the welcome tells it).
    if let Err(err) = state.sessions.arrive(&session, me.role).await {
        let _ = sink
            .send(text(ServerMessage::from(&ApiError::from(err))))
            .await;
        let _ = sink.send(close_frame(close::NORMAL, "refused")).await;
        return;
    }
    let Some(mut events) = welcome(&state, &session, &mut me, after, &mut sink).await else {
        return;
    };

    let mut socket = Socket::new(&state, &session, me);
    let mut ping =
        tokio::time::interval(Duration::from_secs_f64(state.config.sockets.ping_seconds));
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await; // the first tick is immediate
    let shutdown = state.shutdown.clone();
    let moved = session.moved.clone();
    loop {
        let cursor_due = socket.cursors.due();
        // Biased: events already queued for this socket go out before its next message is
        // handled, so an answer (e.g. `update_rejected`) never overtakes an event emitted
        // before it (the `updates` that made the client stale).
        let outgoing: Vec<Message> = tokio::select! {
            biased;
            _ = shutdown.cancelled() => vec![close_frame(close::RESTART, "server restarting")],
            // Its client reconnects, and reaches the session's new server.
            _ = moved.cancelled() => vec![close_frame(close::RESTART, "session moved; reconnect")],
            event = events.recv() => {
                if socket.me.lobby && starts(&event) {
                    // Out of the lobby: a fresh start, as a reconnect would get.
                    match welcome(&state, &session, &mut socket.me, None, &mut sink).await {
                        Some(fresh) => events = fresh,
                        None => return,
                    }
                    continue;
                }
                socket.event(event)
            }
            _ = tokio::time::sleep_until(cursor_due.unwrap_or_else(Instant::now).into()), if cursor_due.is_some() => {
                socket.send_cursor(Instant::now());
                Vec::new()
            }
            _ = ping.tick() => socket.ping(),
            incoming = stream.next() => match socket.incoming(incoming).await {
                Some(out) => out,
                None => return,
            },
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

/// A socket after its `welcome`: who it is, what it may still send, when it was last heard.
struct Socket<'a> {
    state: &'a AppState,
    session: &'a Arc<Session>,
    me: Client,
    budget: Budget,
    cursors: CursorPacer,
    /// The file the latest cursor is in (none: the document).
    cursor_file: Option<String>,
    idle_timeout: Duration,
    heard: Instant,
}

impl<'a> Socket<'a> {
    fn new(state: &'a AppState, session: &'a Arc<Session>, me: Client) -> Self {
        let config = &state.config.sockets;
        Self {
            state,
            session,
            me,
            budget: Budget::new(config),
            cursors: CursorPacer::new(config.cursor_hz),
            cursor_file: None,
            idle_timeout: Duration::from_secs_f64(config.idle_timeout_seconds),
            heard: Instant::now(),
        }
    }

    /// An event of the session, as this socket's client sees it.
    fn event(&self, event: Result<Arc<SessionEvent>, Lagged>) -> Vec<Message> {
        match event {
            Ok(event) if !self.me.sees(&event) => Vec::new(),
            Ok(event) => {
                let mut out = vec![text(ServerMessage::for_role(&event, self.me.role))];
                if matches!(*event, SessionEvent::Ended(_)) {
                    out.push(close_frame(close::NORMAL, "session ended"));
                }
                out
            }
            Err(Lagged) => {
                tracing::info!(session = %self.session.id, "socket fell behind; closing it");
                vec![close_frame(close::LAGGED, "fell behind; reconnect")]
            }
        }
    }

    /// The ping tick: a ping, or the end of a client silent past the idle timeout.
    fn ping(&self) -> Vec<Message> {
        if self.heard.elapsed() > self.idle_timeout {
            vec![close_frame(
                close::GOING_AWAY,
                "idle: nothing heard from the client",
            )]
        } else {
            vec![Message::Ping(Default::default())]
        }
    }

    /// Sends the held-back cursor position if one is due.
    fn send_cursor(&mut self, now: Instant) {
        if let Some((anchor, head, version)) = self.cursors.take(now) {
            self.session.cursor(
                self.me.participant,
                (anchor, head, version),
                self.cursor_file.clone(),
            );
        }
    }

    /// What the client sent; `None` when the socket is over.
    async fn incoming<E: Display>(
        &mut self,
        incoming: Option<Result<Message, E>>,
    ) -> Option<Vec<Message>> {
        self.heard = Instant::now();
        Some(match incoming? {
            Ok(Message::Text(frame)) => {
                self.budget.spend(frame.len()).await;
                match ClientMessage::parse(frame.as_str()) {
                    Ok(ClientMessage::Cursor {
                        anchor,
                        head,
                        version,
                        file,
                    }) => {
                        // Observers may point at code too; a cursor changes nothing. One
                        // held in the lobby is not told.
                        if self.me.lobby {
                            return Some(Vec::new());
                        }
                        let now = Instant::now();
                        self.cursor_file = file;
                        if self.cursors.offer((anchor, head, version), now) {
                            self.send_cursor(now);
                        }
                        self.session.touch();
                        Vec::new()
                    }
                    parsed => handle(self.state, self.session, self.me, parsed)
                        .await
                        .map(|m| vec![text(m)])
                        .unwrap_or_default(),
                }
            }
            Ok(Message::Binary(data)) => {
                self.budget.spend(data.len()).await;
                let err =
                    ApiError::InvalidMessage("binary frames are not part of the protocol".into());
                vec![text(ServerMessage::from(&err))]
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => Vec::new(),
            Ok(Message::Close(_)) => return None,
            // tungstenite refuses a frame over the size limit with a capacity error; say so
            // with 1009 instead of dropping the connection bare.
            Err(err) if err.to_string().contains("Space limit exceeded") => {
                let limit = self.state.config.socket_message_bytes();
                let reason = format!("message too big: the limit is {limit} bytes");
                vec![Message::Close(Some(CloseFrame {
                    code: close::TOO_BIG,
                    reason: reason.into(),
                }))]
            }
            Err(_) => return None,
        })
    }
}

/// The session's interview started: a socket held in its lobby gets its `welcome` now.
fn starts(event: &Result<Arc<SessionEvent>, Lagged>) -> bool {
    matches!(event.as_deref(), Ok(SessionEvent::Interview(i)) if i.interview.stage != Stage::Waiting)
}

/// Subscribes and sends `welcome` (and an expiry warning sent before this socket came), or
/// `lobby` to a socket held in the session's lobby (`me.lobby` says which); `None` when the
/// client is already gone.
async fn welcome<S: Sink<Message> + Unpin>(
    state: &AppState,
    session: &Session,
    me: &mut Client,
    after: Option<(Uuid, u64)>,
    sink: &mut S,
) -> Option<crate::session::EventReceiver> {
    let start = session
        .subscribe_told(state.sessions.idle_ttl(), after)
        .await;
    let participants = start.snapshot.participants.clone();
    // Decided on the subscription's own snapshot: a Start after it is in its events.
    me.lobby = held_in_lobby(&start.interview, me.role);
    if me.lobby {
        let lobby = ServerMessage::Lobby {
            session: Box::new(SessionView::from(start.snapshot).for_role(me.role)),
            role: me.role,
            participants,
            participant: me.participant,
        };
        sink.send(text(lobby)).await.ok()?;
        return Some(start.events);
    }
    // Read after subscribing: a card saved since is in the store or comes as an event.
    let scorecards = match me.role.keeps_scorecards() {
        true => match state.sessions.scorecards(&session.id).await {
            Ok(cards) => Some(cards.into()),
            Err(err) => {
                // No welcome without them: the page reconnects to a fresh one.
                tracing::error!(session = %session.id, %err, "could not read the scorecards");
                return None;
            }
        },
        false => None,
    };
    let env = &session.environment();
    let hidden = start.interview.clock_hidden;
    let welcome = ServerMessage::Welcome {
        session: Box::new(SessionView::from(start.snapshot).for_role(me.role)),
        role: me.role,
        document: start.document,
        version: start.version,
        participants,
        participant: me.participant,
        environment: EnvironmentInfo::of(env),
        files: start
            .files
            .into_iter()
            .map(|(name, document, version)| FileDoc {
                name: name.to_string(),
                document,
                version,
            })
            .collect(),
        can_switch: me.role.may_switch(state.config.sessions.language_switch),
        notes: me.role.keeps_notes().then(|| session.notes()),
        scorecards,
        run: start.run.map(|r| Box::new(WelcomeRun::new(r))),
        template: start
            .template
            .map(|p| Box::new(p.view(me.role, chrono::Utc::now(), hidden))),
    };
    sink.send(text(welcome)).await.ok()?;
    if let Some(warning) = start.warning {
        sink.send(text(ServerMessage::from(&*warning))).await.ok()?;
    }
    Some(start.events)
}

#[cfg(test)]
mod tests;
