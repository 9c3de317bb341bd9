//! When sessions end: their deadline and idle TTL, the warning their sockets hear ahead of
//! the end, extending them within their maximum lifetime, and which ones the reaper ends now.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::events::Expiry;
use super::registry::SessionRegistry;
use super::{ExpiryReason, Session, SessionError, SessionEvent};

impl SessionRegistry {
    /// Moves a session's end: activity now, and its deadline out to an idle TTL from now,
    /// never past creation plus `sessions.max_lifetime_seconds` (`LifetimeReached` when the end
    /// cannot move). Everyone hears the new end.
    pub async fn extend(&self, session: &Arc<Session>) -> Result<DateTime<Utc>, SessionError> {
        let now = Utc::now();
        let idle_ttl = self.idle_ttl();
        let cap = session.created_at
            + chrono::Duration::from_std(self.shared.ctx.config.max_lifetime()).expect("fits");
        let (expires_at, moved) = {
            let mut state = session.state();
            if state.status().is_ended() {
                return Err(SessionError::Ended);
            }
            let was = state.ends_at(idle_ttl);
            state.last_activity_at = now;
            let before = state.deadline;
            let (deadline, expires_at) = extended(now, idle_ttl, before, cap);
            if expires_at <= was {
                return Err(SessionError::LifetimeReached);
            }
            state.deadline = deadline;
            state.warning = None;
            session.publish_locked(SessionEvent::Expiry(Expiry {
                expires_at,
                warning: false,
                reason: expiry_reason(now, idle_ttl, deadline),
                can_extend: extended(now, idle_ttl, deadline, cap).1 > expires_at,
            }));
            (
                expires_at,
                (state.deadline != before).then_some(state.deadline),
            )
        };
        if let Some(deadline) = moved {
            session.store_deadline(deadline).await?;
        }
        session.persist_state(session.status(), None).await;
        Ok(expires_at)
    }

    /// Tells the sockets of every session that ends within `sessions.expiry_warning_seconds`
    /// of `now` when and why, once for each end.
    pub fn warn_expiring(&self, now: DateTime<Utc>) {
        let config = &self.shared.ctx.config;
        let warning = config.sessions.expiry_warning_seconds;
        if warning == 0 {
            return;
        }
        let (idle_ttl, window) = (self.idle_ttl(), chrono::Duration::seconds(warning as i64));
        let cap = chrono::Duration::from_std(config.max_lifetime()).expect("fits");
        for entry in self.shared.sessions.iter() {
            let session = entry.value();
            let mut state = session.state();
            if state.status().is_ended() {
                continue;
            }
            let expires_at = state.ends_at(idle_ttl);
            let warned = state.warning.as_ref().is_some_and(
                |w| matches!(&**w, SessionEvent::Expiry(e) if e.expires_at == expires_at),
            );
            if expires_at - now > window || warned {
                continue;
            }
            let (_, later) = extended(now, idle_ttl, state.deadline, session.created_at + cap);
            let event = Arc::new(SessionEvent::Expiry(Expiry {
                expires_at,
                warning: true,
                reason: expiry_reason(state.last_activity_at, idle_ttl, state.deadline),
                can_extend: later > expires_at,
            }));
            state.warning = Some(event.clone());
            session.publish_locked(event);
        }
    }

    /// Sessions past their [`expiry`](super::expiry) at `now`, with no run in progress.
    pub fn expired(&self, now: DateTime<Utc>) -> Vec<Arc<Session>> {
        let idle_ttl = self.idle_ttl();
        self.shared
            .sessions
            .iter()
            .filter(|entry| {
                let s = entry.value();
                let state = s.state();
                !state.status().is_ended()
                    && state.slot.run().is_none()
                    && now >= state.ends_at(idle_ttl)
            })
            .map(|entry| entry.value().clone())
            .collect()
    }
}

/// What `extend` at `now` makes of a session's deadline: an idle TTL from now at least, never
/// past `cap`; answers the new deadline and the session's new end.
fn extended(
    now: DateTime<Utc>,
    idle_ttl: chrono::Duration,
    deadline: DateTime<Utc>,
    cap: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let deadline = deadline.max((now + idle_ttl).min(cap));
    (deadline, super::expiry(now, idle_ttl, deadline))
}

/// Whether a session whose last activity was at `last_activity` ends for idleness or for its
/// lifetime.
fn expiry_reason(
    last_activity: DateTime<Utc>,
    idle_ttl: chrono::Duration,
    deadline: DateTime<Utc>,
) -> ExpiryReason {
    if last_activity + idle_ttl < deadline {
        ExpiryReason::Idle
    } else {
        ExpiryReason::Lifetime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extending_moves_the_deadline_an_idle_ttl_out_within_the_lifetime() {
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .expect("time")
            .to_utc();
        let min = chrono::Duration::minutes;
        // A 20-minute session, idle TTL 30 min, lifetime 4 h: 30 more minutes from now.
        let (deadline, end) = extended(t0 + min(18), min(30), t0 + min(20), t0 + min(240));
        assert_eq!((deadline, end), (t0 + min(48), t0 + min(48)));
        // Near the lifetime: only up to it.
        let (deadline, end) = extended(t0 + min(230), min(30), t0 + min(235), t0 + min(240));
        assert_eq!((deadline, end), (t0 + min(240), t0 + min(240)));
        // A deadline further out than an idle TTL stays.
        assert_eq!(
            extended(t0, min(30), t0 + min(120), t0 + min(240)).0,
            t0 + min(120)
        );
        assert_eq!(
            expiry_reason(t0, min(30), t0 + min(120)),
            ExpiryReason::Idle
        );
        assert_eq!(
            expiry_reason(t0 + min(100), min(30), t0 + min(120)),
            ExpiryReason::Lifetime
        );
    }
}
