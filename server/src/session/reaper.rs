//! Ends sessions idle past `idle_ttl` or older than their lifetime, and warns their sockets
//! ahead of the end; erases the content of sessions past `sessions.retention_days`.
//! ahead of the end; submits take-homes at their limit and releases their containers while
//! their candidates are away (`take_home`).

use std::time::Duration;

use chrono::Utc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::{EndReason, SessionRegistry};

/// Looks for expired sessions every `every` until `shutdown`.
pub async fn run_reaper(sessions: SessionRegistry, every: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        sessions.forget_idle_quotas();
        let now = Utc::now();
        sessions.warn_expiring(now);
        sessions.tell_question_times(now);
        // Deciding is pure; ending awaits Docker, so no map guard is held meanwhile.
        for session in sessions.expired(now) {
            if let Err(err) = sessions.end(&session, EndReason::Expired).await {
                tracing::warn!(session = %session.id, %err, "could not end expired session");
            }
        }
        sessions.sweep_retention(now).await;
        sessions.take_homes(now).await;
    }
}
