//! A session's events: kept in the store (`GET /sessions/{id}/events`, an audit trail a
//! platform can poll) and POSTed to `webhooks.url` when one is configured: JSON, signed with
//! HMAC-SHA256, retried with backoff, delivered in order by one background task. Recording
//! never waits for either: a run is never slowed by a receiver. One writer task stores the
//! events in the order they were recorded and only then hands them to the webhook, so the
//! trail and the deliveries have one order; a reader waits for what was recorded before it
//! ([`Events::settled`]).
//!
//! Low-value events (participants joining, leaving, changing focus) never hold back the
//! lifecycle ones (runs, test runs, switches, the end): at most [`LOW_QUEUE`] of them wait for
//! delivery at a time, and one past that is not delivered (it stays in the store), so a flood
//! of them delays a lifecycle event by at most that many deliveries. Deliveries keep the
//! order the events were recorded in.
//!
//! The signature: `x-livecode-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>"
//! under webhooks.secret>`; `x-livecode-event` names the type, `x-livecode-delivery` the
//! event's id (the same across retries).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::config::WebhooksConfig;
use crate::model::SessionId;
use crate::store::{EventRecord, Store};

/// Events waiting for delivery at most; past it, one is logged and not delivered (it stays in
/// the store).
const QUEUE: usize = 4096;
/// Low-value events waiting for delivery at most (of the [`QUEUE`]).
pub const LOW_QUEUE: usize = 32;

/// Events a flood may bring, delivered only while few are waiting: a participant's joins,
/// leaves and focus changes.
pub fn low_value(kind: &str) -> bool {
    matches!(
        kind,
        "participant.focus" | "participant.joined" | "participant.left"
    )
}

/// The delivery queue: in order, with a small share for low-value events.
#[derive(Default)]
struct Outbox {
    queue: std::sync::Mutex<OutboxQueue>,
    notify: tokio::sync::Notify,
}

#[derive(Default)]
struct OutboxQueue {
    events: std::collections::VecDeque<EventRecord>,
    /// How many of `events` are low-value.
    low: usize,
    /// Nothing more will come (the writer stopped).
    closed: bool,
    /// An event is out of the queue and being delivered.
    delivering: bool,
    /// Low-value events not delivered since the last log line about them.
    dropped_low: u64,
}

impl Outbox {
    /// Queues `event`; false when its share of the queue is full.
    fn push(&self, event: EventRecord) -> bool {
        let mut q = self.queue.lock().expect("outbox lock poisoned");
        if low_value(&event.kind) {
            if q.low >= LOW_QUEUE {
                q.dropped_low += 1;
                return false;
            }
            q.low += 1;
        } else if q.events.len() - q.low >= QUEUE {
            return false;
        }
        q.events.push_back(event);
        drop(q);
        self.notify.notify_one();
        true
    }

    /// Drops `session`'s waiting events.
    fn forget(&self, session: &SessionId) {
        let mut q = self.queue.lock().expect("outbox lock poisoned");
        q.events.retain(|e| e.session_id != *session);
        q.low = q.events.iter().filter(|e| low_value(&e.kind)).count();
    }

    fn close(&self) {
        self.queue.lock().expect("outbox lock poisoned").closed = true;
        self.notify.notify_one();
    }

    /// The next event to deliver; `None` once closed and empty.
    async fn pop(&self) -> Option<EventRecord> {
        loop {
            {
                let mut q = self.queue.lock().expect("outbox lock poisoned");
                if q.dropped_low > 0 {
                    tracing::warn!(
                        events = q.dropped_low,
                        "webhook: low-value events (joins, leaves, focus) not delivered: too many were waiting"
                    );
                    q.dropped_low = 0;
                }
                q.delivering = false;
                if let Some(event) = q.events.pop_front() {
                    if low_value(&event.kind) {
                        q.low -= 1;
                    }
                    q.delivering = true;
                    return Some(event);
                }
                if q.closed {
                    return None;
                }
            }
            // `notify_one` leaves a permit when nobody waits, so no wake-up is lost here.
            self.notify.notified().await;
        }
    }
}

/// Where events go. Cheap to clone.
#[derive(Clone)]
pub struct Events {
    writes: mpsc::UnboundedSender<Write>,
    /// The delivery queue, when a webhook is configured.
    outbox: Option<Arc<Outbox>>,
}

/// What the writer task is asked.
enum Write {
    Event(EventRecord),
    /// Answered once everything recorded before it is stored.
    Settled(oneshot::Sender<()>),
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("webhook", &self.outbox.is_some())
            .finish()
    }
}

impl Events {
    /// Starts the writer task, and the delivery task when a URL is configured.
    pub fn new(store: Arc<dyn Store>, config: &WebhooksConfig) -> Self {
        let deliveries = (!config.url.is_empty()).then(|| {
            let outbox = Arc::new(Outbox::default());
            tokio::spawn(deliver(config.clone(), outbox.clone(), store.clone()));
            outbox
        });
        // Unbounded: events come from what participants do (joins, runs, switches), each
        // already rate-limited or bounded by the socket caps.
        let (writes, rx) = mpsc::unbounded_channel();
        tokio::spawn(write(store, rx, deliveries.clone()));
        Self {
            writes,
            outbox: deliveries,
        }
    }

    /// Queues a session's stored events that were not delivered (its last owner was lost
    /// before it could), ahead of any the session records from now on. Low-value ones are
    /// left: they were never promised.
    pub fn resume(&self, undelivered: Vec<EventRecord>) {
        let Some(outbox) = &self.outbox else {
            return;
        };
        let queued: std::collections::HashSet<Uuid> = {
            let q = outbox.queue.lock().expect("outbox lock poisoned");
            q.events.iter().map(|e| e.id).collect()
        };
        // Not twice: a session this replica held before may still have some queued here.
        let fresh = undelivered
            .into_iter()
            .filter(|e| !low_value(&e.kind) && !queued.contains(&e.id));
        for event in fresh {
            if !outbox.push(event) {
                tracing::warn!("webhook queue full: a resumed event was not delivered");
            }
        }
    }

    /// Records `kind` with `data` for `session`, in the store and to the webhook. Callers
    /// record before they tell the participants, so whoever reads the trail on hearing of
    /// the event finds it there.
    pub fn record(&self, session: SessionId, kind: &str, data: Value) {
        let event = EventRecord {
            id: Uuid::new_v4(),
            session_id: session,
            kind: kind.to_string(),
            at: Utc::now(),
            data,
        };
        if self.writes.send(Write::Event(event)).is_err() {
            tracing::error!(%session, kind, "the event writer is gone: event not stored");
        }
    }

    /// Queues `erased`, a session's `session.erased` its erasure stored, for delivery, in
    /// place of the session's events still waiting: those carry what was erased, and the
    /// platform that erases a session wants none of it sent afterwards. One being delivered
    /// at this moment finishes.
    pub fn erased(&self, erased: EventRecord) {
        let Some(outbox) = &self.outbox else {
            return;
        };
        outbox.forget(&erased.session_id);
        if !outbox.push(erased) {
            tracing::warn!("webhook queue full: session.erased not delivered");
        }
    }

    /// Waits until the webhook's queue is empty and nothing is being delivered, at most
    /// `wait` (a drain, before its sessions go to other replicas).
    pub async fn delivered(&self, wait: Duration) {
        let Some(outbox) = &self.outbox else {
            return;
        };
        let _ = tokio::time::timeout(wait, async {
            loop {
                {
                    let q = outbox.queue.lock().expect("outbox lock poisoned");
                    if q.events.is_empty() && !q.delivering {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }

    /// Waits until every event recorded before this call is stored.
    pub async fn settled(&self) {
        let (tx, rx) = oneshot::channel();
        if self.writes.send(Write::Settled(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

async fn write(
    store: Arc<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<Write>,
    deliveries: Option<Arc<Outbox>>,
) {
    while let Some(write) = rx.recv().await {
        let event = match write {
            Write::Event(event) => event,
            Write::Settled(done) => {
                let _ = done.send(());
                continue;
            }
        };
        match store.insert_event(&event).await {
            Ok(true) => {}
            // Its session was erased: what it tells goes nowhere, not even to the webhook.
            Ok(false) => continue,
            // A replica that lost the session tells nobody of it: its new owner does.
            Err(crate::store::StoreError::Fenced) => continue,
            Err(err) => {
                tracing::error!(session = %event.session_id, %err, "could not store an event")
            }
        }
        if let Some(outbox) = &deliveries {
            let (session, kind) = (event.session_id, event.kind.clone());
            let low = low_value(&kind);
            if !outbox.push(event) && !low {
                tracing::warn!(%session, kind, "webhook queue full: event not delivered");
            }
        }
    }
    if let Some(outbox) = &deliveries {
        outbox.close();
    }
}

/// The body a receiver gets.
pub fn body(event: &EventRecord) -> Value {
    serde_json::to_value(event).expect("events always serialize")
}

/// `t=…,v1=…` for `body` sent at `t`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn deliver(config: WebhooksConfig, outbox: Arc<Outbox>, store: Arc<dyn Store>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(config.timeout_seconds))
        .build()
        .expect("an HTTP client");
    while let Some(event) = outbox.pop().await {
        let body = body(&event).to_string();
        let mut backoff = Duration::from_millis(500);
        for attempt in 1..=config.max_attempts {
            let t = Utc::now().timestamp();
            let sent = http
                .post(&config.url)
                .header("content-type", "application/json")
                .header("x-livecode-event", &event.kind)
                .header("x-livecode-delivery", event.id.to_string())
                .header(
                    "x-livecode-signature",
                    signature(&config.secret, t, body.as_bytes()),
                )
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().is_success() => break,
                Ok(resp) => {
                    tracing::warn!(event = %event.id, attempt, status = %resp.status(), "webhook refused")
                }
                Err(err) => tracing::warn!(event = %event.id, attempt, %err, "webhook unreachable"),
            }
            if attempt < config.max_attempts {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
        // Delivered or given up: either way a takeover must not send it again.
        if let Err(err) = store.mark_delivered(&event.id).await {
            tracing::warn!(event = %event.id, %err, "could not mark an event delivered");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str) -> EventRecord {
        EventRecord {
            id: Uuid::new_v4(),
            session_id: SessionId(Uuid::nil()),
            kind: kind.into(),
            at: Utc::now(),
            data: Value::Null,
        }
    }

    #[tokio::test]
    async fn a_flood_of_low_value_events_never_crowds_out_lifecycle_ones() {
        let outbox = Outbox::default();
        for _ in 0..10_000 {
            outbox.push(event("participant.focus"));
        }
        assert!(outbox.push(event("run.finished")));
        assert!(outbox.push(event("session.ended")));
        outbox.close();
        let mut kinds = Vec::new();
        while let Some(e) = outbox.pop().await {
            kinds.push(e.kind);
        }
        // In order: the few low-value events that fit, then the lifecycle ones.
        assert_eq!(kinds.len(), LOW_QUEUE + 2);
        assert_eq!(kinds[LOW_QUEUE..], ["run.finished", "session.ended"]);
    }

    #[tokio::test]
    async fn an_erased_sessions_waiting_events_give_way_to_its_erasure() {
        let outbox = Outbox::default();
        let mut other = event("run.finished");
        other.session_id = SessionId(Uuid::new_v4());
        for e in [
            event("participant.joined"),
            other.clone(),
            event("run.finished"),
        ] {
            outbox.push(e);
        }
        outbox.forget(&SessionId(Uuid::nil()));
        assert!(outbox.push(event("session.erased")));
        for _ in 0..LOW_QUEUE {
            assert!(
                outbox.push(event("participant.focus")),
                "the low share is free again"
            );
        }
        outbox.close();
        let mut left = Vec::new();
        while let Some(e) = outbox.pop().await {
            left.push((e.session_id, e.kind));
        }
        assert_eq!(
            left[..2],
            [
                (other.session_id, "run.finished".to_string()),
                (SessionId(Uuid::nil()), "session.erased".to_string()),
            ]
        );
        assert_eq!(left.len(), 2 + LOW_QUEUE);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // Computed independently: python3 -c "import hmac; hmac.new(b'secret', ...)".
        assert_eq!(
            signature("secret", 1700000000, br#"{"a":1}"#),
            "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }
}
