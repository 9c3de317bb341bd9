//! A session's events: kept in the store (`GET /sessions/{id}/events`, an audit trail a
//! platform can poll) and POSTed to `webhooks.url` when one is configured: JSON, signed with
//! HMAC-SHA256, retried with backoff, delivered in order by one background task. Recording
//! never waits for either: a run is never slowed by a receiver. One writer task stores the
//! events in the order they were recorded and only then hands them to the webhook, so the
//! trail and the deliveries have one order; a reader waits for what was recorded before it
//! ([`Events::settled`]).
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
use crate::session::SessionId;
use crate::store::{EventRecord, Store};

/// Events waiting for delivery at most; past it, one is logged and not delivered (it stays in
/// the store).
const QUEUE: usize = 4096;

/// Where events go. Cheap to clone.
#[derive(Clone)]
pub struct Events {
    writes: mpsc::UnboundedSender<Write>,
    webhook: bool,
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
            .field("webhook", &self.webhook)
            .finish()
    }
}

impl Events {
    /// Starts the writer task, and the delivery task when a URL is configured.
    pub fn new(store: Arc<dyn Store>, config: &WebhooksConfig) -> Self {
        let deliveries = (!config.url.is_empty()).then(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(deliver(config.clone(), rx));
            tx
        });
        // Unbounded: events come from what participants do (joins, runs, switches), each
        // already rate-limited or bounded by the socket caps.
        let (writes, rx) = mpsc::unbounded_channel();
        let webhook = deliveries.is_some();
        tokio::spawn(write(store, rx, deliveries));
        Self { writes, webhook }
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
    deliveries: Option<mpsc::Sender<EventRecord>>,
) {
    while let Some(write) = rx.recv().await {
        let event = match write {
            Write::Event(event) => event,
            Write::Settled(done) => {
                let _ = done.send(());
                continue;
            }
        };
        if let Err(err) = store.insert_event(&event).await {
            tracing::error!(session = %event.session_id, %err, "could not store an event");
        }
        if let Some(tx) = &deliveries {
            let (session, kind) = (event.session_id, event.kind.clone());
            if tx.try_send(event).is_err() {
                tracing::warn!(%session, kind, "webhook queue full: event not delivered");
            }
        }
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

async fn deliver(config: WebhooksConfig, mut rx: mpsc::Receiver<EventRecord>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(config.timeout_seconds))
        .build()
        .expect("an HTTP client");
    while let Some(event) = rx.recv().await {
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
    }
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // Computed independently: python3 -c "import hmac; hmac.new(b'secret', ...)".
        assert_eq!(
            signature("secret", 1700000000, br#"{"a":1}"#),
            "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }
}
