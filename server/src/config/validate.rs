//! What a configuration must satisfy before the server starts: each bound with the message an
//! operator reads.

use super::{url_origin, Config, ConfigError};

/// A century: beyond it a retention is "forever" anyway, and its duration stays in range.
const MAX_RETENTION_DAYS: f64 = 36_500.0;

fn bad(what: &str) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid(what.to_string()))
}

impl Config {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.api_key.is_empty() && !self.allow_open_mode {
            return bad("api_key is empty and allow_open_mode is false: set LIVECODE_API_KEY (or allow open mode)");
        }
        if !self.webhooks.url.is_empty() && self.webhooks.secret.is_empty() {
            return bad("webhooks.url is set but webhooks.secret is empty: receivers could not check the signature");
        }
        if self.webhooks.max_attempts == 0 || self.webhooks.timeout_seconds == 0 {
            return bad("webhooks.max_attempts and webhooks.timeout_seconds must be positive");
        }
        self.validate_store()?;
        self.validate_cluster()?;
        self.validate_limits()?;
        self.validate_sessions()?;
        self.validate_connections()?;
        self.validate_names()
    }

    fn validate_store(&self) -> Result<(), ConfigError> {
        let store = &self.store;
        if store.pool_size == 0 {
            return bad("store.pool_size must be at least 1");
        }
        if store.url.is_empty() {
            return Ok(());
        }
        if !(store.url.starts_with("postgres://") || store.url.starts_with("postgresql://")) {
            return bad("store.url must be empty (SQLite in data_dir) or a PostgreSQL URL such as postgres://user:password@host:5432/livecode");
        }
        // The parser's messages name options, never their values (the password among them).
        let config = store
            .url
            .parse::<tokio_postgres::Config>()
            .map_err(|e| ConfigError::Invalid(format!("store.url: {e}")))?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return bad("store.url asks for sslmode=require, but livecode connects without TLS (use a loopback or private network)");
        }
        Ok(())
    }

    fn validate_cluster(&self) -> Result<(), ConfigError> {
        let c = &self.cluster;
        if !(c.heartbeat_seconds > 0.0 && c.janitor_seconds > 0.0 && c.drain_seconds >= 0.0) {
            return bad("cluster.heartbeat_seconds and janitor_seconds must be positive, drain_seconds not negative");
        }
        // A lease must outlive a few missed heartbeats, or a slow beat deposes its owner.
        if c.lease_seconds < 2.0 * c.heartbeat_seconds {
            return bad("cluster.lease_seconds must be at least twice cluster.heartbeat_seconds");
        }
        if c.advertise_url.is_empty() {
            return Ok(());
        }
        if self.store.url.is_empty() {
            return bad("cluster.advertise_url is set but store.url is empty: a cluster keeps its sessions in PostgreSQL (set LIVECODE_STORE__URL)");
        }
        let scheme_ok =
            c.advertise_url.starts_with("http://") || c.advertise_url.starts_with("https://");
        let has_host = c
            .advertise_url
            .split("://")
            .nth(1)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
        if !scheme_ok || !has_host {
            return bad("cluster.advertise_url must be http://HOST:PORT (where the other replicas reach this one), with no path");
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        if l.memory_mib < 16 {
            return bad("limits.memory_mib must be at least 16");
        }
        if !(l.cpus > 0.0 && l.cpus <= 64.0) {
            return bad("limits.cpus must be above 0 and at most 64");
        }
        if !(2..=262_144).contains(&l.cpu_shares) {
            return bad("limits.cpu_shares must be between 2 and 262144");
        }
        if l.pids < 8 {
            return bad("limits.pids must be at least 8");
        }
        if l.run_timeout_seconds == 0 || l.build_timeout_seconds == 0 {
            return bad(
                "limits.run_timeout_seconds and limits.build_timeout_seconds must be at least 1",
            );
        }
        if l.output_limit_bytes == 0 || l.code_limit_bytes == 0 {
            return bad("limits.output_limit_bytes and limits.code_limit_bytes must be positive");
        }
        if l.workspace_mib == 0 || l.tmp_mib == 0 {
            return bad("limits.workspace_mib and limits.tmp_mib must be positive");
        }
        if l.stdin_message_bytes == 0 {
            return bad("limits.stdin_message_bytes must be positive");
        }
        if self.parallel_builds == 0 {
            return bad("parallel_builds must be at least 1");
        }
        Ok(())
    }

    fn validate_sessions(&self) -> Result<(), ConfigError> {
        let s = &self.sessions;
        if s.idle_ttl_seconds == 0 || s.max_lifetime_seconds == 0 {
            return bad(
                "sessions.idle_ttl_seconds and sessions.max_lifetime_seconds must be positive",
            );
        }
        if s.reap_interval_seconds.is_nan() || s.reap_interval_seconds < 0.05 {
            return bad("sessions.reap_interval_seconds must be at least 0.05");
        }
        if !(0.0..=MAX_RETENTION_DAYS).contains(&s.retention_days) {
            return bad("sessions.retention_days must be between 0 (keep forever) and 36500");
        }
        if s.event_buffer < 16 {
            return bad("sessions.event_buffer must be at least 16");
        }
        if s.runs_kept_in_full == 0 {
            return bad("sessions.runs_kept_in_full must be at least 1");
        }
        if s.history_limit_bytes < 64 * 1024 {
            return bad("sessions.history_limit_bytes must be at least 65536");
        }
        if s.scorecard_window_seconds == 0 || s.scorecard_window_seconds > 366 * 86_400 {
            return bad("sessions.scorecard_window_seconds must be 1 to 31622400 (366 days)");
        }
        let t = &self.take_home;
        if t.max_time_limit_minutes == 0 || t.max_link_days == 0 || t.max_link_days > 366 {
            return bad("take_home.max_time_limit_minutes must be positive and take_home.max_link_days 1 to 366");
        }
        if t.release_after_seconds.is_nan() || t.release_after_seconds < 0.1 {
            return bad("take_home.release_after_seconds must be at least 0.1");
        }
        Ok(())
    }

    fn validate_connections(&self) -> Result<(), ConfigError> {
        let (server, sockets) = (&self.server, &self.sockets);
        if server.max_connections < 16 {
            return bad("server.max_connections must be at least 16");
        }
        if server.header_read_timeout_seconds.is_nan() || server.header_read_timeout_seconds < 0.1 {
            return bad("server.header_read_timeout_seconds must be at least 0.1");
        }
        if server.body_read_timeout_seconds.is_nan() || server.body_read_timeout_seconds < 0.1 {
            return bad("server.body_read_timeout_seconds must be at least 0.1");
        }
        if server.health_interval_seconds.is_nan() || server.health_interval_seconds < 0.1 {
            return bad("server.health_interval_seconds must be at least 0.1");
        }
        if sockets.max_per_session == 0 || sockets.max_per_token == 0 {
            return bad("sockets.max_per_session and sockets.max_per_token must be at least 1");
        }
        if sockets.queue_bytes < self.socket_message_bytes() {
            return bad("sockets.queue_bytes must hold at least one message of the largest size");
        }
        if sockets.cursor_hz == 0 {
            return bad("sockets.cursor_hz must be at least 1");
        }
        if sockets.ping_seconds.is_nan()
            || sockets.ping_seconds < 0.1
            || sockets.idle_timeout_seconds.is_nan()
            || sockets.idle_timeout_seconds <= sockets.ping_seconds
        {
            return bad(
                "sockets.ping_seconds must be at least 0.1 and below sockets.idle_timeout_seconds",
            );
        }
        Ok(())
    }

    fn validate_names(&self) -> Result<(), ConfigError> {
        for origin in &self.cors_origins {
            if origin != "*" && url_origin(origin).as_deref() != Some(origin.trim_end_matches('/'))
            {
                return Err(ConfigError::Invalid(format!(
                    "cors_origins: '{origin}' is not an origin such as https://platform.example.com"
                )));
            }
        }
        if self.instance.is_empty()
            || !self
                .instance
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad("instance must be non-empty letters, digits, '-' or '_'");
        }
        for origin in &self.frame_ancestors {
            if origin.contains([';', ',', '\'', '"']) || origin.chars().any(char::is_whitespace) {
                return Err(ConfigError::Invalid(format!(
                    "frame_ancestors: '{origin}' is not an origin"
                )));
            }
        }
        Ok(())
    }
}
