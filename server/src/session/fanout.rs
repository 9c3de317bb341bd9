//! Fan-out: each subscriber has its own queue of shared events, bounded in bytes and in
//! events: a socket that falls further behind than that is told so and closed (it reconnects
//! to a fresh `welcome`), so a slow or stalled client holds at most its bound, however much
//! the session sends. Only `journal`'s `publish` sends.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;

use super::events::SessionEvent;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Phase, Status};
    use crate::sandbox::OutputStream;
    use crate::session::events::Output;

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
        let subscribers = sender.shared.subscribers.lock().expect("lock").len();
        assert_eq!(subscribers, 1);
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
}
