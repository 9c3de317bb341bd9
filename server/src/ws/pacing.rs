//! What one socket may cost: its budget of messages and bytes per second, and the pacing of
//! its participant's cursor.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// What one socket may send: messages and bytes per second, each with a one-second burst.
/// Past them the socket's next message waits its turn (TCP pushes back on the client), so an
/// honest client loses nothing and a flooding one only slows itself.
pub struct Budget {
    messages: Option<DefaultDirectRateLimiter>,
    kib: Option<DefaultDirectRateLimiter>,
}

impl Budget {
    pub fn new(config: &crate::config::SocketsConfig) -> Self {
        let per_second =
            |n: u32| NonZeroU32::new(n).map(|n| RateLimiter::direct(Quota::per_second(n)));
        Self {
            messages: per_second(config.messages_per_second),
            kib: per_second(config.bytes_per_second.div_ceil(1024)),
        }
    }

    pub async fn spend(&self, bytes: usize) {
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
pub struct CursorPacer {
    period: Duration,
    last_sent: Option<Instant>,
    pending: Option<(u64, u64, u64)>,
}

impl CursorPacer {
    pub fn new(hz: u32) -> Self {
        Self {
            period: Duration::from_secs(1) / hz.max(1),
            last_sent: None,
            pending: None,
        }
    }

    /// Keeps the newest position; true when it may go out now.
    pub fn offer(&mut self, position: (u64, u64, u64), now: Instant) -> bool {
        self.pending = Some(position);
        self.last_sent.is_none_or(|t| now >= t + self.period)
    }

    /// When a held-back position is due, if one is.
    pub fn due(&self) -> Option<Instant> {
        self.pending?;
        Some(
            self.last_sent
                .map_or_else(Instant::now, |t| t + self.period),
        )
    }

    pub fn take(&mut self, now: Instant) -> Option<(u64, u64, u64)> {
        let position = self.pending.take()?;
        self.last_sent = Some(now);
        Some(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_go_out_at_most_at_the_pace_and_the_latest_wins() {
        let mut pacer = CursorPacer::new(10);
        let t0 = Instant::now();
        assert!(pacer.offer((1, 1, 0), t0), "the first goes at once");
        assert_eq!(pacer.take(t0), Some((1, 1, 0)));
        assert!(!pacer.offer((2, 2, 0), t0 + Duration::from_millis(10)));
        assert!(!pacer.offer((3, 3, 0), t0 + Duration::from_millis(20)));
        assert_eq!(pacer.due(), Some(t0 + Duration::from_millis(100)));
        assert_eq!(pacer.take(t0 + Duration::from_millis(100)), Some((3, 3, 0)));
        assert_eq!(pacer.due(), None);
    }
}
