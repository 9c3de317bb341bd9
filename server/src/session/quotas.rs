//! Capacity and rate limits on sessions (`[quotas]` in the config): live sessions in total,
//! per API key and per client address, creations per minute per caller, and runs per minute
//! per session. The rates are GCRA limiters from `governor`, keyed by caller or session.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::{SessionError, SessionId};
use crate::auth::Role;
use crate::config::QuotasConfig;

/// Who created a session, for quotas: the API key, or a client address in open mode.
pub const BY_KEY: &str = "key";

/// A caller's sessions, as the quotas count them.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Mine {
    /// Live now.
    pub live: usize,
    /// Created in the last minute, when the store counts them (a cluster); else the
    /// in-process limiter does.
    pub last_minute: Option<usize>,
}

/// The limiters; counts of live sessions come from the registry.
pub(super) struct Quotas {
    config: QuotasConfig,
    creations: Option<DefaultKeyedRateLimiter<String>>,
    runs: Option<DefaultKeyedRateLimiter<SessionId>>,
    /// Sockets opened per session token (a token is one role of one session).
    joins: Option<DefaultKeyedRateLimiter<(SessionId, Role)>>,
}

fn per_minute(n: u32) -> Option<Quota> {
    NonZeroU32::new(n).map(Quota::per_minute)
}

impl Quotas {
    pub fn new(config: &QuotasConfig) -> Self {
        Self {
            config: config.clone(),
            creations: per_minute(config.sessions_per_minute).map(governor::RateLimiter::keyed),
            runs: per_minute(config.runs_per_minute).map(governor::RateLimiter::keyed),
            joins: per_minute(config.joins_per_minute).map(governor::RateLimiter::keyed),
        }
    }

    /// May `created_by` create a session, with `live_total` live sessions here and `mine` of
    /// its own?
    pub fn check_create(
        &self,
        created_by: &str,
        live_total: usize,
        mine: Mine,
    ) -> Result<(), SessionError> {
        let live_mine = mine.live;
        let c = &self.config;
        if c.max_live_sessions > 0 && live_total >= c.max_live_sessions {
            return Err(SessionError::Capacity(format!(
                "the server has {live_total} live sessions, its limit"
            )));
        }
        let cap = if created_by == BY_KEY {
            c.max_live_sessions_per_key
        } else {
            c.max_live_sessions_per_ip
        };
        if cap > 0 && live_mine >= cap {
            return Err(SessionError::RateLimited {
                message: format!(
                    "{live_mine} live sessions were created by {}, the limit; end one first",
                    who(created_by)
                ),
                retry_after: Duration::from_secs(60),
            });
        }
        if let Some(recent) = mine.last_minute {
            // A cluster counts a caller's creations over every replica, in the store.
            let n = c.sessions_per_minute as usize;
            if n > 0 && recent >= n {
                return Err(SessionError::RateLimited {
                    message: format!("{} may create {n} sessions a minute", who(created_by)),
                    retry_after: Duration::from_secs(60),
                });
            }
        } else if let Some(limiter) = &self.creations {
            limiter
                .check_key(&created_by.to_string())
                .map_err(|not_until| SessionError::RateLimited {
                    message: format!(
                        "{} may create {} sessions a minute",
                        who(created_by),
                        c.sessions_per_minute
                    ),
                    retry_after: not_until.wait_time_from(DefaultClock::default().now()),
                })?;
        }
        Ok(())
    }

    /// May `session` start another run now?
    pub fn check_run(&self, session: SessionId) -> Result<(), SessionError> {
        let Some(limiter) = &self.runs else {
            return Ok(());
        };
        limiter
            .check_key(&session)
            .map_err(|not_until| SessionError::RateLimited {
                message: format!(
                    "a session may start {} runs a minute",
                    self.config.runs_per_minute
                ),
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            })
    }

    /// May the token of `role` on `session` open another socket now? Each one costs a
    /// `welcome` (the document and every file), so a reconnect loop is bounded here.
    pub fn check_join(&self, session: SessionId, role: Role) -> Result<(), SessionError> {
        let Some(limiter) = &self.joins else {
            return Ok(());
        };
        limiter
            .check_key(&(session, role))
            .map_err(|not_until| SessionError::RateLimited {
                message: format!(
                    "one token may open {} sockets a minute on its session",
                    self.config.joins_per_minute
                ),
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            })
    }

    /// Forgets keys whose limits have fully recovered (so the maps don't grow forever).
    pub fn forget_idle(&self) {
        if let Some(l) = &self.creations {
            l.retain_recent();
        }
        if let Some(l) = &self.runs {
            l.retain_recent();
        }
        if let Some(l) = &self.joins {
            l.retain_recent();
        }
    }
}

fn who(created_by: &str) -> String {
    match created_by.strip_prefix("ip:") {
        Some(address) => format!("client {address}"),
        None => "the API key".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> QuotasConfig {
        QuotasConfig {
            max_live_sessions: 10,
            max_live_sessions_per_key: 0,
            max_live_sessions_per_ip: 3,
            sessions_per_minute: 5,
            runs_per_minute: 2,
            joins_per_minute: 3,
            list_page_size: 100,
        }
    }

    fn live(n: usize) -> Mine {
        Mine {
            live: n,
            last_minute: None,
        }
    }

    #[test]
    fn capacity_quota_and_rate_are_told_apart() {
        let q = Quotas::new(&config());
        assert!(matches!(
            q.check_create("ip:1.2.3.4", 10, live(0)),
            Err(SessionError::Capacity(_))
        ));
        assert!(matches!(
            q.check_create("ip:1.2.3.4", 5, live(3)),
            Err(SessionError::RateLimited { .. })
        ));
        // The key has no per-caller cap here, only the rate.
        for _ in 0..5 {
            q.check_create(BY_KEY, 5, live(9)).expect("within the rate");
        }
        match q.check_create(BY_KEY, 5, live(9)) {
            Err(SessionError::RateLimited { retry_after, .. }) => {
                assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(12))
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        // Another caller has its own budget.
        q.check_create("ip:5.6.7.8", 5, live(0))
            .expect("own budget");
    }

    #[test]
    fn a_cluster_counts_the_rate_from_the_store() {
        let q = Quotas::new(&config());
        let counted = |n| Mine {
            live: 0,
            last_minute: Some(n),
        };
        // The process's own limiter is not used: the store's count decides, every time.
        for _ in 0..10 {
            q.check_create(BY_KEY, 0, counted(4)).expect("4 of 5");
        }
        assert!(matches!(
            q.check_create(BY_KEY, 0, counted(5)),
            Err(SessionError::RateLimited { .. })
        ));
    }

    #[test]
    fn runs_are_limited_per_session() {
        let q = Quotas::new(&config());
        let (a, b) = (
            SessionId(uuid::Uuid::new_v4()),
            SessionId(uuid::Uuid::new_v4()),
        );
        q.check_run(a).expect("first");
        q.check_run(a).expect("second");
        assert!(q.check_run(a).is_err());
        q.check_run(b).expect("other session");
        let off = Quotas::new(&QuotasConfig {
            runs_per_minute: 0,
            ..config()
        });
        for _ in 0..100 {
            off.check_run(a).expect("0 turns it off");
        }
    }

    #[test]
    fn joins_are_limited_per_token() {
        let q = Quotas::new(&config());
        let a = SessionId(uuid::Uuid::new_v4());
        for _ in 0..3 {
            q.check_join(a, Role::Candidate).expect("within the burst");
        }
        assert!(matches!(
            q.check_join(a, Role::Candidate),
            Err(SessionError::RateLimited { .. })
        ));
        q.check_join(a, Role::Interviewer)
            .expect("the other token has its own");
    }
}
