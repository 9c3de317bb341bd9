//! What happens in a session, fanned out to every participant in order. Each subscriber has
//! its own queue of shared events, bounded in bytes and in events: a socket that falls further
//! behind than that is told so and closed (it reconnects to a fresh `welcome`), so a slow or
//! stalled client holds at most its bound, however much the session sends.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};

use serde::Serialize;
use tokio::sync::Notify;

use uuid::Uuid;

use super::{EndReason, Participant, Phase, RunResult, Status};
use crate::auth::Role;
use crate::collab::Update;
use crate::sandbox::OutputStream;

/// One event of a session. The events that reach sockets as they are carry their payload as
/// a struct of its own, which the socket's message wraps unchanged (one conversion, no field
/// copied by hand).
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    Status(Status),
    /// The container engine stopped answering: the session cannot run code until it is back
    /// (then a `Status` with the session's own status follows).
    EngineDown,
    RunStarted(RunStarted),
    Output(Output),
    /// A run ended: its result, as the store keeps it (sockets see its summary).
    RunFinished(Arc<RunResult>),
    Presence(Vec<Participant>),
    Ended(EndReason),
    /// Accepted document updates; the first applies to `version`.
    Updates {
        /// Another file of the workspace than the document.
        file: Option<String>,
        version: u64,
        updates: Vec<Arc<Update>>,
    },
    Cursor(Cursor),
    Input(Input),
    /// The interviewers' private notes changed (never shown to other roles).
    Notes(String),
    Expiry(Expiry),
    /// A test run began: the session's question's cases, run one after another.
    TestsStarted(TestsStarted),
    /// One case is done (a hidden one is seen by interviewers only).
    TestResult(Arc<crate::questions::CaseResult>),
    /// Every case is done; each role sees its view of the report.
    TestsFinished(Arc<crate::questions::TestReport>),
    /// A participant's page gained or lost focus (interviewers only).
    Focus(Focus),
    /// The session switched language (its document and container follow).
    Environment {
        environment: EnvironmentInfo,
        by: Role,
    },
}

/// An environment as `welcome` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EnvironmentInfo {
    pub name: String,
    pub description: String,
    pub filename: String,
    pub editor_language: String,
    pub version: Option<String>,
}

impl EnvironmentInfo {
    pub fn of(env: &crate::environments::Environment) -> Self {
        Self {
            name: env.name.clone(),
            description: env.settings.description.clone(),
            filename: env.settings.filename.clone(),
            editor_language: env.settings.editor_language.clone(),
            version: env.version(),
        }
    }
}

/// A participant's page gained or lost focus.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Focus {
    pub participant: u64,
    pub name: String,
    pub role: Role,
    /// False: the tab was hidden or the window lost focus.
    pub focused: bool,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A test run began.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TestsStarted {
    pub tests_id: Uuid,
    pub by: Role,
    /// Every case, hidden ones included.
    pub total: usize,
}

/// A run started.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunStarted {
    pub run_id: Uuid,
    pub by: Role,
}

/// A piece of a run's output; `seq` numbers the run's output and input from 1.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Output {
    pub run_id: Uuid,
    pub seq: u64,
    pub stream: OutputStream,
    pub phase: Phase,
    pub data: String,
}

/// A participant's selection.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Cursor {
    pub participant: u64,
    pub name: String,
    pub role: Role,
    pub anchor: u64,
    pub head: u64,
    pub version: u64,
    /// In another file of the workspace than the document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A participant typed into the running program's stdin (so everyone sees the answers): at
/// most [`INPUT_PREVIEW_BYTES`] of it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Input {
    pub run_id: Uuid,
    /// In the same numbering as the run's output.
    pub seq: u64,
    pub participant: u64,
    pub data: String,
    /// More was typed than `data` shows.
    pub truncated: bool,
}

/// When the session ends now: `warning` ahead of the end (within
/// `sessions.expiry_warning_seconds`), or not after it was extended.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Expiry {
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub warning: bool,
    pub reason: ExpiryReason,
    /// `extend` would move the end (it cannot past the session's maximum lifetime).
    pub can_extend: bool,
}

/// What ends a session that nothing more happens in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExpiryReason {
    /// No activity for the idle TTL.
    Idle,
    /// Its lifetime is over.
    Lifetime,
}

impl SessionEvent {
    /// The place in its run's numbering of output and input, for those events.
    pub fn seq(&self) -> Option<u64> {
        match self {
            SessionEvent::Output(Output { seq, .. }) | SessionEvent::Input(Input { seq, .. }) => {
                Some(*seq)
            }
            _ => None,
        }
    }

    /// Roughly the bytes this event holds (and costs each socket to send).
    pub fn weight(&self) -> usize {
        const BASE: usize = 64;
        BASE + match self {
            SessionEvent::Output(Output { data, .. }) | SessionEvent::Input(Input { data, .. }) => {
                data.len()
            }
            SessionEvent::Notes(text) => text.len(),
            SessionEvent::Updates { updates, .. } => updates.iter().map(|u| u.weight()).sum(),
            SessionEvent::Presence(list) => list.iter().map(|p| p.name.len() + BASE).sum(),
            SessionEvent::Cursor(c) => c.name.len(),
            SessionEvent::TestResult(r) => r.actual.len() + r.expected.len() + r.stderr.len(),
            SessionEvent::TestsFinished(r) => r
                .results
                .iter()
                .map(|r| BASE + r.actual.len() + r.expected.len() + r.stderr.len())
                .sum(),
            SessionEvent::Focus(f) => f.name.len(),
            SessionEvent::Environment { .. } => BASE,
            SessionEvent::TestsStarted(_)
            | SessionEvent::Status(_)
            | SessionEvent::Expiry(_)
            | SessionEvent::EngineDown
            | SessionEvent::RunStarted(_)
            | SessionEvent::RunFinished(_)
            | SessionEvent::Ended(_) => 0,
        }
    }
}

/// The most of one stdin message that is echoed to participants.
pub const INPUT_PREVIEW_BYTES: usize = 1024;

/// The sending side, owned by the session: one queue per subscriber.
#[derive(Debug)]
pub struct EventSender {
    shared: Arc<Fanout>,
}

#[derive(Debug)]
struct Fanout {
    subscribers: Mutex<Vec<Arc<Subscriber>>>,
    max_bytes: usize,
    max_events: usize,
}

#[derive(Debug, Default)]
struct Subscriber {
    queue: Mutex<Queue>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<Arc<SessionEvent>>,
    bytes: usize,
    /// Fell behind past the bound: the queue was dropped and the receiver is told so.
    lagged: bool,
}

/// One participant's receiving side; unsubscribes when dropped.
#[derive(Debug)]
pub struct EventReceiver {
    subscriber: Arc<Subscriber>,
    fanout: Weak<Fanout>,
}

/// The receiver fell further behind than its bound allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("fell behind the session's events")]
pub struct Lagged;

impl EventSender {
    /// A fan-out whose subscribers may each hold `max_bytes` and `max_events` unsent.
    pub fn new(max_bytes: usize, max_events: usize) -> Self {
        Self {
            shared: Arc::new(Fanout {
                subscribers: Mutex::new(Vec::new()),
                max_bytes,
                max_events,
            }),
        }
    }

    pub fn subscribe(&self) -> EventReceiver {
        let subscriber = Arc::new(Subscriber::default());
        self.shared
            .subscribers
            .lock()
            .expect("fan-out lock poisoned")
            .push(subscriber.clone());
        EventReceiver {
            subscriber,
            fanout: Arc::downgrade(&self.shared),
        }
    }

    /// Queues `event` for every subscriber; one pushed past its bound is marked lagged and its
    /// queue dropped at once, so its memory is freed now rather than when its socket closes.
    pub fn send(&self, event: Arc<SessionEvent>) {
        let weight = event.weight();
        let subscribers = self
            .shared
            .subscribers
            .lock()
            .expect("fan-out lock poisoned");
        for subscriber in subscribers.iter() {
            let mut queue = subscriber.queue.lock().expect("queue lock poisoned");
            if queue.lagged {
                continue;
            }
            queue.events.push_back(event.clone());
            queue.bytes += weight;
            if queue.bytes > self.shared.max_bytes || queue.events.len() > self.shared.max_events {
                queue.lagged = true;
                queue.events = VecDeque::new();
                queue.bytes = 0;
            }
            drop(queue);
            subscriber.notify.notify_one();
        }
    }

    /// How many subscribers there are.
    pub fn receiver_count(&self) -> usize {
        self.shared
            .subscribers
            .lock()
            .expect("fan-out lock poisoned")
            .len()
    }
}

impl EventReceiver {
    /// The next event, in order; `Lagged` once this receiver fell too far behind.
    pub async fn recv(&mut self) -> Result<Arc<SessionEvent>, Lagged> {
        loop {
            {
                let mut queue = self.subscriber.queue.lock().expect("queue lock poisoned");
                if queue.lagged {
                    return Err(Lagged);
                }
                if let Some(event) = queue.events.pop_front() {
                    queue.bytes -= event.weight();
                    return Ok(event);
                }
            }
            // `notify_one` leaves a permit when nobody waits, so no wake-up is lost here.
            self.subscriber.notify.notified().await;
        }
    }

    /// Bytes waiting for this receiver.
    pub fn queued_bytes(&self) -> usize {
        self.subscriber
            .queue
            .lock()
            .expect("queue lock poisoned")
            .bytes
    }
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        if let Some(fanout) = self.fanout.upgrade() {
            fanout
                .subscribers
                .lock()
                .expect("fan-out lock poisoned")
                .retain(|s| !Arc::ptr_eq(s, &self.subscriber));
        }
    }
}

/// Turns output bytes into UTF-8 text without splitting a character across chunks; invalid
/// bytes become U+FFFD.
#[derive(Debug, Default)]
pub struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// Decodes what can be decoded; keeps an incomplete trailing character for later.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::with_capacity(self.pending.len());
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    out.push_str(std::str::from_utf8(valid).expect("checked valid"));
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        // An incomplete character at the end: wait for its other bytes.
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        out
    }

    /// Whatever is left at the end of the stream.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        String::from_utf8_lossy(&rest).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(data: &str) -> Arc<SessionEvent> {
        Arc::new(SessionEvent::Output(Output {
            run_id: uuid::Uuid::nil(),
            seq: 1,
            stream: OutputStream::Stdout,
            phase: Phase::Run,
            data: data.into(),
        }))
    }

    #[tokio::test]
    async fn events_arrive_in_order_and_a_stalled_receiver_is_cut_off_by_bytes() {
        let sender = EventSender::new(10_000, 1000);
        let mut fast = sender.subscribe();
        let slow = sender.subscribe();
        for i in 0..100 {
            sender.send(output(&format!("{i:>100}")));
            let got = fast.recv().await.expect("fast keeps up");
            assert!(matches!(&*got, SessionEvent::Output(o) if o.data.trim() == i.to_string()));
        }
        assert_eq!(fast.queued_bytes(), 0);
        // The slow one held at most its bound, and was dropped past it.
        assert_eq!(slow.queued_bytes(), 0);
        let mut slow = slow;
        assert_eq!(slow.recv().await, Err(Lagged));
        drop(slow);
        assert_eq!(sender.receiver_count(), 1);
    }

    #[tokio::test]
    async fn the_event_count_is_bounded_too() {
        let sender = EventSender::new(usize::MAX, 4);
        let mut r = sender.subscribe();
        for _ in 0..4 {
            sender.send(Arc::new(SessionEvent::Status(Status::Ready)));
        }
        assert!(r.recv().await.is_ok());
        for _ in 0..2 {
            sender.send(Arc::new(SessionEvent::Status(Status::Ready)));
        }
        assert_eq!(r.recv().await, Err(Lagged));
    }

    #[test]
    fn characters_split_across_chunks_survive() {
        let text = "héllo — привет — 你好 — 🎉";
        let bytes = text.as_bytes();
        for split in 0..bytes.len() {
            let mut d = Utf8Decoder::default();
            let mut out = d.push(&bytes[..split]);
            out.push_str(&d.push(&bytes[split..]));
            out.push_str(&d.finish());
            assert_eq!(out, text, "split at {split}");
        }
    }

    #[test]
    fn invalid_bytes_are_replaced() {
        let mut d = Utf8Decoder::default();
        assert_eq!(d.push(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(d.push(b"\xe2\x82"), "");
        assert_eq!(d.finish(), "\u{fffd}");
    }
}
