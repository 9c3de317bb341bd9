//! Server configuration: the embedded `config/livecode.toml`, then an optional file given with
//! `--config`, then `LIVECODE_*` environment variables. Parsed and validated once, at start-up;
//! the rest of the server reads typed values only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

/// The defaults, with a comment on every setting.
pub const DEFAULTS: &str = include_str!("../../config/livecode.toml");

/// Everything the server can be told.
/// How log lines are written (`log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    pub data_dir: PathBuf,
    pub api_key: String,
    pub allow_open_mode: bool,
    pub public_url: String,
    pub default_environment: String,
    pub environments_dir: String,
    pub instance: String,
    pub build_images_on_start: bool,
    pub parallel_builds: usize,
    pub read_versions_on_start: bool,
    pub frame_ancestors: Vec<String>,
    pub cors_origins: Vec<String>,
    pub docker: DockerConfig,
    pub limits: Limits,
    pub sessions: SessionsConfig,
    pub server: ServerConfig,
    pub sockets: SocketsConfig,
    pub quotas: QuotasConfig,
    pub pool: PoolConfig,
    pub webhooks: WebhooksConfig,
}

/// Where session events are POSTed (`[webhooks]`).
#[derive(Debug, Clone, Deserialize)]
pub struct WebhooksConfig {
    pub url: String,
    pub secret: String,
    pub max_attempts: u32,
    pub timeout_seconds: u64,
}

/// The warm pool: started containers, runner open, waiting for sessions.
#[derive(Debug, Clone, Deserialize)]
pub struct PoolConfig {
    /// Containers kept for the default environment (unless `sizes` names it).
    pub default_size: usize,
    /// Containers kept per environment, by name; environments not named keep none.
    pub sizes: std::collections::BTreeMap<String, usize>,
    /// All pools together at most.
    pub max_total: usize,
}

/// Connections: how many, and how long a client may take.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerConfig {
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub header_read_timeout_seconds: f64,
    pub body_read_timeout_seconds: f64,
    pub health_interval_seconds: f64,
}

/// What one session socket may cost.
#[derive(Debug, Clone, Deserialize)]
pub struct SocketsConfig {
    pub max_per_session: usize,
    pub max_per_token: usize,
    pub queue_bytes: usize,
    pub messages_per_second: u32,
    pub bytes_per_second: u32,
    pub cursor_hz: u32,
    pub ping_seconds: f64,
    pub idle_timeout_seconds: f64,
}

/// Capacity and rate limits; 0 turns one off.
#[derive(Debug, Clone, Deserialize)]
pub struct QuotasConfig {
    pub max_live_sessions: usize,
    pub max_live_sessions_per_key: usize,
    pub max_live_sessions_per_ip: usize,
    pub sessions_per_minute: u32,
    pub runs_per_minute: u32,
    /// Sockets one token may open on its session per minute (each costs a `welcome`).
    #[serde(default = "default_joins_per_minute")]
    pub joins_per_minute: u32,
    pub list_page_size: usize,
}

fn default_joins_per_minute() -> u32 {
    60
}

/// How to reach the Docker engine and which runtime to ask it for.
#[derive(Debug, Clone, Deserialize)]
pub struct DockerConfig {
    pub host: String,
    pub runtime: String,
}

/// Per-container and per-run limits.
#[derive(Debug, Clone, Deserialize)]
pub struct Limits {
    pub memory_mib: u64,
    pub cpus: f64,
    pub cpu_shares: i64,
    pub pids: i64,
    pub run_timeout_seconds: u64,
    pub build_timeout_seconds: u64,
    pub output_limit_bytes: usize,
    pub code_limit_bytes: usize,
    pub workspace_mib: u64,
    pub tmp_mib: u64,
    pub build_cache_mib: u64,
    pub nofile: u64,
    pub stdin_message_bytes: usize,
}

/// Session lifetimes and fan-out sizing.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionsConfig {
    pub idle_ttl_seconds: u64,
    pub max_lifetime_seconds: u64,
    pub reap_interval_seconds: f64,
    pub event_buffer: usize,
    pub history_limit_bytes: usize,
    pub runs_kept_in_full: usize,
    pub expiry_warning_seconds: u64,
    /// Who may switch a session's language: `everyone` who may run code, or `interviewers`.
    pub language_switch: LanguageSwitch,
}

/// Who may switch a session's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LanguageSwitch {
    Everyone,
    Interviewers,
}

/// A configuration that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

/// A refusal naming what is wrong.
fn bad(what: &str) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid(what.to_string()))
}

impl Config {
    /// The embedded defaults alone (what tests start from).
    pub fn defaults() -> Self {
        Self::from_figment(Figment::from(Toml::string(DEFAULTS)))
            .expect("the embedded defaults are valid (checked by a unit test)")
    }

    /// Defaults, then `file` if given, then `LIVECODE_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::Invalid(format!(
                    "no config file at {}",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        // `LIVECODE_CONFIG` and `LIVECODE_LOG` belong to the CLI, not to this struct.
        figment = figment.merge(
            Env::prefixed("LIVECODE_")
                .ignore(&["config", "log"])
                .split("__"),
        );
        Self::from_figment(figment)
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.api_key.is_empty() && !self.allow_open_mode {
            return bad("api_key is empty and allow_open_mode is false: set LIVECODE_API_KEY (or allow open mode)");
        }
        if !self.webhooks.url.is_empty() && self.webhooks.secret.is_empty() {
            return bad("webhooks.url is set but webhooks.secret is empty: receivers could not check the signature");
        }
        if self.webhooks.max_attempts == 0 || self.webhooks.timeout_seconds == 0 {
            return bad("webhooks.max_attempts and webhooks.timeout_seconds must be positive");
        }
        self.validate_limits()?;
        self.validate_sessions()?;
        self.validate_connections()?;
        self.validate_names()
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
        if s.event_buffer < 16 {
            return bad("sessions.event_buffer must be at least 16");
        }
        if s.runs_kept_in_full == 0 {
            return bad("sessions.runs_kept_in_full must be at least 1");
        }
        if s.history_limit_bytes < 64 * 1024 {
            return bad("sessions.history_limit_bytes must be at least 65536");
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

    /// True when no API key is set: anyone may create sessions.
    pub fn open_mode(&self) -> bool {
        self.api_key.is_empty()
    }

    /// Where links handed out in API answers point.
    pub fn base_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_string()
        }
    }

    pub fn idle_ttl(&self) -> Duration {
        Duration::from_secs(self.sessions.idle_ttl_seconds)
    }

    pub fn max_lifetime(&self) -> Duration {
        Duration::from_secs(self.sessions.max_lifetime_seconds)
    }

    pub fn reap_interval(&self) -> Duration {
        Duration::from_secs_f64(self.sessions.reap_interval_seconds)
    }

    pub fn health_interval(&self) -> Duration {
        Duration::from_secs_f64(self.server.health_interval_seconds)
    }

    pub fn run_timeout(&self) -> Duration {
        Duration::from_secs(self.limits.run_timeout_seconds)
    }

    /// The largest socket frame a client may send: room for the largest program in an update,
    /// JSON-escaped, and the rest of the message.
    pub fn socket_message_bytes(&self) -> usize {
        self.limits.code_limit_bytes * 2 + 64 * 1024
    }

    /// The origin (`scheme://host[:port]`) of `public_url`, when it is set.
    pub fn public_origin(&self) -> Option<String> {
        url_origin(&self.public_url)
    }
}

/// `scheme://host[:port]` of an http(s) URL, lower-cased; `None` for anything else.
pub fn url_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

#[cfg(test)]
// figment::Jail fixes the closure's error type; it is large, and only tests use it.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_values() {
        let c = Config::defaults();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert!(c.open_mode());
        assert_eq!(c.limits.memory_mib, 256);
        assert_eq!(c.limits.cpus, 0.5);
        assert_eq!(c.limits.pids, 64);
        assert_eq!(c.limits.run_timeout_seconds, 10);
        assert_eq!(c.limits.output_limit_bytes, 1 << 20);
        assert_eq!(c.limits.code_limit_bytes, 256 << 10);
        assert_eq!(c.sessions.idle_ttl_seconds, 30 * 60);
        assert_eq!(c.sessions.max_lifetime_seconds, 4 * 3600);
        assert_eq!(c.quotas.max_live_sessions_per_ip, 20);
        assert!(c.cors_origins.is_empty());
    }

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(
            url_origin("https://A.example.com:8443/x?y").as_deref(),
            Some("https://a.example.com:8443")
        );
        assert_eq!(
            url_origin("http://localhost:8080").as_deref(),
            Some("http://localhost:8080")
        );
        assert_eq!(url_origin("ftp://x"), None);
        assert_eq!(url_origin("https://"), None);
        assert_eq!(url_origin("https://u@evil"), None);
    }

    #[test]
    fn environment_variables_override_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "extra.toml",
                "api_key = \"from-file\"\n[limits]\npids = 99\n",
            )?;
            jail.set_env("LIVECODE_API_KEY", "from-env");
            jail.set_env("LIVECODE_LIMITS__MEMORY_MIB", "512");
            let c = Config::load(Some(Path::new("extra.toml"))).expect("valid");
            assert_eq!(c.api_key, "from-env");
            assert_eq!(c.limits.pids, 99);
            assert_eq!(c.limits.memory_mib, 512);
            assert!(!c.open_mode());
            Ok(())
        });
    }

    #[test]
    fn invalid_values_are_refused_with_the_key_named() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LIVECODE_LIMITS__PIDS", "2");
            let err = Config::load(None).expect_err("pids too low");
            assert!(err.to_string().contains("limits.pids"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/livecode.toml"))).expect_err("missing");
        assert!(err.to_string().contains("no config file"), "{err}");
    }
}
