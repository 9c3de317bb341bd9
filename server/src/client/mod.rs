//! The command-line client: `livecode run`, `livecode sessions …`, `livecode watch`, against a
//! server at `--url` (`LIVECODE_URL`) with `--api-key` (`LIVECODE_API_KEY`), over its REST API
//! and session socket, as any integration would.
//!
//! A session `livecode run` creates is its own to end: it is ended with its interviewer token
//! (which may end it in open mode and with an API key alike), after the program ends, after
//! Ctrl+C (which kills the run first) and after an error; an end that fails is reported.
//!
//! # Layout
//! - `mod.rs`: `Client`, its REST calls and `sessions …`.
//! - `run.rs`: `livecode run`: a session of its own, the terminal forwarded, Ctrl+C.
//! - `watch.rs`: `livecode watch`: a session followed as it happens.
//! - `format.rs`: what the commands print: tables, and lines for runs and tests.

mod format;
mod run;
mod watch;

pub use format::{created_table, ended_line, session_table, sessions_table};
pub use run::{Interrupts, Outcome, RunEnd};

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// How long one REST call may take, the answer included.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the server is, and the key to it.
pub struct Client {
    base: String,
    key: Option<String>,
    /// A session's token, sent instead of the key to that session's routes.
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(url: &str, key: Option<String>) -> Self {
        Self {
            base: url.trim_end_matches('/').to_string(),
            key: key.filter(|k| !k.is_empty()),
            token: None,
            http: reqwest::Client::builder()
                .timeout(CALL_TIMEOUT)
                .connect_timeout(Duration::from_secs(10))
                .build()
                .expect("a client without TLS or proxies builds"),
        }
    }

    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token.filter(|t| !t.is_empty());
        self
    }

    /// A call with the session's token on its routes, else the key.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let session_route = path.starts_with("/sessions/");
        let bearer = self
            .token
            .as_deref()
            .filter(|_| session_route)
            .or(self.key.as_deref());
        self.call_as(method, path, body, bearer).await
    }

    async fn call_as(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base));
        if let Some(bearer) = bearer {
            req = req.bearer_auth(bearer);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("reaching {}", self.base))?;
        let status = resp.status();
        let text = resp.text().await?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .with_context(|| format!("{} answered {status} with no JSON", self.base))?
        };
        if !status.is_success() {
            let err = &value["error"];
            bail!(
                "{} {}: {}",
                status.as_u16(),
                err["code"].as_str().unwrap_or("?"),
                err["message"].as_str().unwrap_or(&text)
            );
        }
        Ok(value)
    }

    /// The environment whose file name ends like `file`'s, when none is named.
    async fn environment_for(&self, file: &str) -> anyhow::Result<String> {
        let envs = self
            .call(reqwest::Method::GET, "/environments", None)
            .await?;
        let ext = std::path::Path::new(file)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        let list = envs.as_array().cloned().unwrap_or_default();
        list.iter()
            .find(|e| {
                e["filename"]
                    .as_str()
                    .and_then(|f| f.rsplit_once('.'))
                    .is_some_and(|(_, x)| x == ext)
            })
            .and_then(|e| e["name"].as_str().map(str::to_string))
            .with_context(|| format!("no environment runs .{ext} files; name one with --env"))
    }

    async fn socket(&self, id: &str, token: &str) -> anyhow::Result<Socket> {
        let ws = self.base.replacen("http", "ws", 1);
        let url = format!("{ws}/api/v1/sessions/{id}/ws?token={token}");
        let (socket, _) = tokio::time::timeout(
            Duration::from_secs(30),
            tokio_tungstenite::connect_async(url),
        )
        .await
        .context("opening the session's socket: no answer in 30 s")?
        .context("opening the session's socket")?;
        Ok(socket)
    }

    /// The sessions this key (or, in open mode, this address) created, newest first.
    pub async fn sessions_list(&self) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, "/sessions", None).await
    }

    /// Creates a session from `new`, reading its files.
    pub async fn sessions_create(&self, new: NewSession) -> anyhow::Result<Value> {
        let mut body = json!({});
        let env = match (new.env, &new.file) {
            (Some(env), _) => Some(env),
            (None, Some(file)) => Some(self.environment_for(file).await?),
            (None, None) => None,
        };
        if let Some(env) = env {
            body["environment"] = json!(env);
        }
        if let Some(file) = new.file {
            body["code"] =
                json!(std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?);
        }
        if !new.add.is_empty() {
            let mut files = serde_json::Map::new();
            for spec in &new.add {
                let (name, path) = workspace_file(spec)?;
                let text =
                    std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
                if files.insert(name.clone(), json!(text)).is_some() {
                    bail!("two files are named {name}; name one with NAME=PATH");
                }
            }
            body["files"] = Value::Object(files);
        }
        if let Some(label) = new.label {
            body["label"] = json!(label);
        }
        if let Some(question) = new.question {
            body["question"] = json!(question);
        }
        if let Some(template) = new.template {
            body["template"] = json!(template);
        }
        if let Some(ttl) = new.ttl_seconds {
            body["ttl_seconds"] = json!(ttl);
        }
        self.call(reqwest::Method::POST, "/sessions", Some(body))
            .await
    }

    pub async fn sessions_show(&self, id: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, &format!("/sessions/{id}"), None)
            .await
    }

    /// Asks the server to drain and stop (`POST /drain`, the API key's).
    pub async fn drain(&self) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, "/drain", None).await
    }

    pub async fn sessions_end(&self, id: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::DELETE, &format!("/sessions/{id}"), None)
            .await
    }
}

/// What `sessions create` sends, from its flags.
#[derive(Debug, Default)]
pub struct NewSession {
    pub env: Option<String>,
    /// The document's file.
    pub file: Option<String>,
    /// More workspace files: `NAME=PATH`, or a path named by its file name.
    pub add: Vec<String>,
    pub label: Option<String>,
    pub question: Option<String>,
    pub template: Option<String>,
    pub ttl_seconds: Option<u64>,
}

/// `NAME=PATH`, or `PATH` under its own file name.
fn workspace_file(spec: &str) -> anyhow::Result<(String, String)> {
    if let Some((name, path)) = spec.split_once('=') {
        if name.is_empty() || path.is_empty() {
            bail!("--add {spec}: give NAME=PATH or a path");
        }
        return Ok((name.to_string(), path.to_string()));
    }
    let name = std::path::Path::new(spec)
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("--add {spec}: no file name"))?;
    Ok((name.to_string(), spec.to_string()))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_files_are_named_by_their_file_name_or_explicitly() {
        assert_eq!(
            workspace_file("data/input.txt").expect("a path"),
            ("input.txt".into(), "data/input.txt".into())
        );
        assert_eq!(
            workspace_file("lib/util.py=src/u.py").expect("NAME=PATH"),
            ("lib/util.py".into(), "src/u.py".into())
        );
        assert!(workspace_file("=x").is_err());
    }
}
