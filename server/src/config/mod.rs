//! Server configuration: the embedded `config/livecode.toml`, then an optional file given with
//! `--config`, then `LIVECODE_*` environment variables. Parsed and validated once, at start-up;
//! the rest of the server reads typed values only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

mod validate;

/// The defaults, with a comment on every setting.
pub const DEFAULTS: &str = include_str!("../../../config/livecode.toml");

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
    pub store: StoreConfig,
    pub docker: DockerConfig,
    pub limits: Limits,
    pub sessions: SessionsConfig,
    pub take_home: TakeHomeConfig,
    pub server: ServerConfig,
    pub sockets: SocketsConfig,
    pub quotas: QuotasConfig,
    pub pool: PoolConfig,
    pub webhooks: WebhooksConfig,
    pub cluster: ClusterConfig,
}

/// Cluster mode (`[cluster]`): on with a PostgreSQL store and an `advertise_url`.
#[derive(Debug, Clone, Deserialize)]
pub struct ClusterConfig {
    /// Where the other replicas reach this one (`http://host:port`); empty: not clustered.
    pub advertise_url: String,
    pub heartbeat_seconds: f64,
    /// A replica not heard for this long has lost its sessions to whoever needs them.
    pub lease_seconds: f64,
    /// How long a drain waits for runs in flight before it hands the sessions over.
    pub drain_seconds: f64,
    /// How often each replica looks for sessions no live replica holds.
    pub janitor_seconds: f64,
}

/// Where sessions are kept (`[store]`): SQLite in `data_dir` when `url` is empty.
#[derive(Clone, Deserialize)]
pub struct StoreConfig {
    /// `postgres://…`, or empty.
    pub url: String,
    pub pool_size: usize,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("StoreConfig")
            .field("url", &if self.url.is_empty() { "" } else { "<set>" })
            .field("pool_size", &self.pool_size)
            .finish()
    }
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
    /// Days an ended session's content is kept before it is erased; 0: forever.
    pub retention_days: f64,
    /// How long after a session's end its scorecards may still be saved and submitted.
    pub scorecard_window_seconds: u64,
}

impl SessionsConfig {
    /// How long an ended session's content is kept; `None`: forever.
    pub fn retention(&self) -> Option<chrono::Duration> {
        (self.retention_days > 0.0).then(|| {
            chrono::Duration::microseconds((self.retention_days * 86_400e6).round() as i64)
        })
    }
}

/// Take-home interviews: their bounds, and when an absent candidate's container goes.
#[derive(Debug, Clone, Deserialize)]
pub struct TakeHomeConfig {
    /// The longest `time_limit_minutes` a take-home may have.
    pub max_time_limit_minutes: u64,
    /// How far ahead a take-home's link may expire (`expires_at`), in days.
    pub max_link_days: u64,
    /// With no candidate socket for this long, a take-home's container is removed (it is made
    /// again, with the files, at the candidate's next visit).
    pub release_after_seconds: f64,
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
mod tests;
