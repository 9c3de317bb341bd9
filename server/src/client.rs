//! The command-line client: `livecode run`, `livecode sessions …`, `livecode watch`, against a
//! server at `--url` (`LIVECODE_URL`) with `--api-key` (`LIVECODE_API_KEY`), over its REST API
//! and session socket, as any integration would.

use std::io::Write;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

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
            http: reqwest::Client::new(),
        }
    }

    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token.filter(|t| !t.is_empty());
        self
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base));
        let session_route = path.starts_with("/sessions/");
        if let Some(token) = self.token.as_ref().filter(|_| session_route) {
            req = req.bearer_auth(token);
        } else if let Some(key) = &self.key {
            req = req.bearer_auth(key);
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
            serde_json::from_str(&text)?
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
        let (socket, _) =
            tokio_tungstenite::connect_async(format!("{ws}/api/v1/sessions/{id}/ws?token={token}"))
                .await
                .context("opening the session's socket")?;
        Ok(socket)
    }

    /// `livecode run`: a session of its own for `file`, its output live, the terminal's stdin
    /// (or `stdin`'s file) forwarded; answers the program's exit code.
    pub async fn run(
        &self,
        file: &str,
        env: Option<String>,
        stdin: Option<String>,
    ) -> anyhow::Result<i32> {
        let code = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
        let env = match env {
            Some(env) => env,
            None => self.environment_for(file).await?,
        };
        let created = self
            .call(
                reqwest::Method::POST,
                "/sessions",
                Some(json!({"environment": env, "code": code})),
            )
            .await?;
        let id = created["session_id"]
            .as_str()
            .context("no session id")?
            .to_string();
        let token = created["candidate_token"]
            .as_str()
            .context("no token")?
            .to_string();
        let result = self.run_in(&id, &token, stdin).await;
        let _ = self
            .call(reqwest::Method::DELETE, &format!("/sessions/{id}"), None)
            .await;
        result
    }

    async fn run_in(&self, id: &str, token: &str, stdin: Option<String>) -> anyhow::Result<i32> {
        let mut socket = self.socket(id, token).await?;
        wait_ready(&mut socket).await?;
        socket
            .send(Message::text(json!({"type": "run"}).to_string()))
            .await?;
        let (mut tx, mut rx) = socket.split();
        let (to_socket, mut outgoing) = tokio::sync::mpsc::channel::<Value>(16);
        // The program's stdin: a file's bytes then EOF, or the terminal's as it is typed.
        let feeder = tokio::spawn(async move {
            let mut input: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match stdin {
                Some(path) => Box::new(tokio::fs::File::open(path).await?),
                None => Box::new(tokio::io::stdin()),
            };
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = input.read(&mut buf).await?;
                if n == 0 {
                    let _ = to_socket.send(json!({"type": "stdin_eof"})).await;
                    return anyhow::Ok(());
                }
                let data = String::from_utf8_lossy(&buf[..n]).into_owned();
                if to_socket
                    .send(json!({"type": "stdin", "data": data}))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
            }
        });
        let writer = tokio::spawn(async move {
            while let Some(msg) = outgoing.recv().await {
                if tx.send(Message::text(msg.to_string())).await.is_err() {
                    break;
                }
            }
        });
        let mut started = false;
        let code = loop {
            let Some(frame) = rx.next().await else {
                bail!("the server closed the socket")
            };
            let Message::Text(text) = frame? else {
                continue;
            };
            let msg: Value = serde_json::from_str(&text)?;
            match msg["type"].as_str() {
                Some("run_started") => started = true,
                Some("output") => print_output(&msg),
                Some("run_finished") => break exit_code(&msg),
                // Before the run: it was refused. During it: stdin that came too late (the
                // program had ended), which the run's own end reports.
                Some("error") if !started || msg["code"] != "NO_RUN" => bail!(
                    "{}: {}",
                    msg["code"].as_str().unwrap_or("?"),
                    msg["message"].as_str().unwrap_or("")
                ),
                Some("session_ended") => bail!("the session ended ({})", msg["reason"]),
                _ => {}
            }
        };
        feeder.abort();
        writer.abort();
        Ok(code)
    }

    /// `livecode watch`: follows a session's runs as an observer until it ends.
    pub async fn watch(&self, id: &str, token: &str) -> anyhow::Result<()> {
        let mut socket = self.socket(id, token).await?;
        let mut err = std::io::stderr();
        while let Some(frame) = socket.next().await {
            let Message::Text(text) = frame? else {
                continue;
            };
            let msg: Value = serde_json::from_str(&text)?;
            match msg["type"].as_str() {
                Some("welcome") => writeln!(
                    err,
                    "[watching session {id}: {}]",
                    msg["session"]["status"].as_str().unwrap_or("?")
                )?,
                Some("run_started") => writeln!(
                    err,
                    "[run {} by {}]",
                    msg["run_id"].as_str().unwrap_or(""),
                    msg["by"].as_str().unwrap_or("?")
                )?,
                Some("output") => print_output(&msg),
                Some("run_finished") => writeln!(
                    err,
                    "[{} · exit {} · {} ms]",
                    msg["status"].as_str().unwrap_or("?"),
                    msg["exit_code"],
                    msg["duration_ms"]
                )?,
                Some("session_ended") => {
                    writeln!(
                        err,
                        "[session ended: {}]",
                        msg["reason"].as_str().unwrap_or("?")
                    )?;
                    return Ok(());
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub async fn sessions_list(&self) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, "/sessions", None).await
    }

    pub async fn sessions_create(
        &self,
        env: Option<String>,
        file: Option<String>,
    ) -> anyhow::Result<Value> {
        let mut body = json!({});
        if let Some(env) = env {
            body["environment"] = json!(env);
        }
        if let Some(file) = file {
            body["code"] =
                json!(std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?);
        }
        self.call(reqwest::Method::POST, "/sessions", Some(body))
            .await
    }

    pub async fn sessions_show(&self, id: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, &format!("/sessions/{id}"), None)
            .await
    }

    pub async fn sessions_end(&self, id: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::DELETE, &format!("/sessions/{id}"), None)
            .await
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Until the session's container is ready (`welcome`, then `status` messages).
async fn wait_ready(socket: &mut Socket) -> anyhow::Result<()> {
    while let Some(frame) = socket.next().await {
        let Message::Text(text) = frame? else {
            continue;
        };
        let msg: Value = serde_json::from_str(&text)?;
        let status = match msg["type"].as_str() {
            Some("welcome") => msg["session"]["status"].as_str(),
            Some("status") => msg["status"].as_str(),
            _ => None,
        };
        match status {
            Some("ready") => return Ok(()),
            Some("error" | "stopped" | "expired") => {
                bail!("the session is {}", status.unwrap_or("?"))
            }
            _ => {}
        }
    }
    bail!("the server closed the socket before the session was ready")
}

fn print_output(msg: &Value) {
    let data = msg["data"].as_str().unwrap_or("");
    if msg["stream"] == "stderr" {
        let mut err = std::io::stderr();
        let _ = err.write_all(data.as_bytes());
        let _ = err.flush();
    } else {
        let mut out = std::io::stdout();
        let _ = out.write_all(data.as_bytes());
        let _ = out.flush();
    }
}

/// The program's exit code; for a run that did not exit by itself, the shell's conventions.
fn exit_code(msg: &Value) -> i32 {
    match (msg["status"].as_str(), msg["exit_code"].as_i64()) {
        (Some("completed" | "compile_error"), Some(code)) => code as i32,
        (Some("timeout"), _) => 124,
        (Some("oom" | "killed"), _) => 137,
        _ => 1,
    }
}
