//! The command-line client: `livecode run`, `livecode sessions …`, `livecode watch`, against a
//! server at `--url` (`LIVECODE_URL`) with `--api-key` (`LIVECODE_API_KEY`), over its REST API
//! and session socket, as any integration would.
//!
//! A session `livecode run` creates is its own to end: it is ended with its interviewer token
//! (which may end it in open mode and with an API key alike), after the program ends, after
//! Ctrl+C (which kills the run first) and after an error; an end that fails is reported.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

/// How long one REST call may take, the answer included.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a killed run gets to report its end before the session is ended anyway.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Where the server is, and the key to it.
pub struct Client {
    base: String,
    key: Option<String>,
    /// A session's token, sent instead of the key to that session's routes.
    token: Option<String>,
    http: reqwest::Client,
}

/// Ctrl+C, listened for from the moment this is made: a press while the session is being
/// created is kept, and ends that session as soon as it exists.
pub struct Interrupts {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
    #[cfg(windows)]
    signal: tokio::signal::windows::CtrlC,
}

impl Interrupts {
    /// Installs the handler; from now on Ctrl+C no longer ends the process by itself.
    pub fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        #[cfg(windows)]
        let signal = tokio::signal::windows::ctrl_c()?;
        Ok(Self { signal })
    }

    /// The next press (or one made since the last call).
    pub async fn next(&mut self) {
        self.signal.recv().await;
    }
}

/// How the program of `livecode run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It ended by itself (or by a limit): its exit code, as a shell would give it.
    Exited(i32),
    /// Ctrl+C: the run was killed.
    Interrupted,
}

/// What `livecode run` did: the program's end, and the end of its session.
pub struct RunEnd {
    /// The session it created.
    pub session: String,
    /// The token that ends it, for the message when ending it failed.
    pub interviewer_token: String,
    pub outcome: anyhow::Result<Outcome>,
    /// Ending the session; an error leaves it live until it expires.
    pub cleanup: anyhow::Result<()>,
}

impl RunEnd {
    /// 130 after Ctrl+C; else the program's code, or 1 when the run failed, or when its
    /// session could not be ended and the program's code was 0 (so that a script notices).
    pub fn exit_code(&self) -> i32 {
        match &self.outcome {
            Ok(Outcome::Interrupted) => 130,
            // What a process can exit with; a code out of that range reads as a failure.
            Ok(Outcome::Exited(code)) if *code != 0 => (*code).clamp(1, 255),
            Ok(Outcome::Exited(_)) if self.cleanup.is_ok() => 0,
            _ => 1,
        }
    }
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

    /// `livecode run`: a session of its own for `file`, its output live, the terminal's stdin
    /// (or `stdin`'s file) forwarded; then the session is ended, whatever happened. Errors
    /// only when no session was created.
    pub async fn run(
        &self,
        file: &str,
        env: Option<String>,
        stdin: Option<String>,
        interrupts: &mut Interrupts,
    ) -> anyhow::Result<RunEnd> {
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
        let field = |name: &str| {
            created[name]
                .as_str()
                .map(str::to_string)
                .with_context(|| format!("the server's answer has no {name}: {created}"))
        };
        let session = field("session_id")?;
        let interviewer_token = field("interviewer_token")?;
        let outcome = match field("candidate_token") {
            Ok(token) => self.run_in(&session, &token, stdin, interrupts).await,
            Err(err) => Err(err),
        };
        // A second Ctrl+C gives up on ending the session (which the caller reports).
        let cleanup = tokio::select! {
            ended = self.end_session(&session, &interviewer_token) => ended,
            _ = interrupts.next() => Err(anyhow::anyhow!("interrupted while ending it")),
        };
        Ok(RunEnd {
            session,
            interviewer_token,
            outcome,
            cleanup,
        })
    }

    /// Ends a session with its own interviewer token.
    async fn end_session(&self, id: &str, interviewer_token: &str) -> anyhow::Result<()> {
        self.call_as(
            reqwest::Method::DELETE,
            &format!("/sessions/{id}"),
            None,
            Some(interviewer_token),
        )
        .await
        .map(|_| ())
    }

    async fn run_in(
        &self,
        id: &str,
        token: &str,
        stdin: Option<String>,
        interrupts: &mut Interrupts,
    ) -> anyhow::Result<Outcome> {
        let mut socket = tokio::select! {
            socket = self.socket(id, token) => socket?,
            _ = interrupts.next() => return Ok(Outcome::Interrupted),
        };
        tokio::select! {
            ready = wait_ready(&mut socket) => ready?,
            _ = interrupts.next() => return Ok(Outcome::Interrupted),
        }
        socket
            .send(Message::text(json!({"type": "run"}).to_string()))
            .await?;
        let (mut tx, mut rx) = socket.split();
        let (to_socket, mut outgoing) = tokio::sync::mpsc::channel::<Value>(16);
        let control = to_socket.clone();
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
        // After Ctrl+C: when the killed run must have reported its end.
        let mut killed_by: Option<tokio::time::Instant> = None;
        let outcome = loop {
            let frame = tokio::select! {
                frame = rx.next() => frame,
                _ = interrupts.next() => {
                    if killed_by.is_some() {
                        break Ok(Outcome::Interrupted); // pressed again: don't wait
                    }
                    // The kill goes after the run message on the same socket, so it reaches the
                    // run even when it is pressed before `run_started`.
                    let _ = control.send(json!({"type": "kill"})).await;
                    killed_by = Some(tokio::time::Instant::now() + KILL_WAIT);
                    continue;
                }
                _ = sleep_until(killed_by) => break Ok(Outcome::Interrupted),
            };
            let Some(frame) = frame else {
                break Err(anyhow::anyhow!("the server closed the socket"));
            };
            let text = match frame {
                Ok(Message::Text(text)) => text,
                Ok(_) => continue,
                Err(err) => break Err(err.into()),
            };
            let msg: Value = match serde_json::from_str(&text) {
                Ok(msg) => msg,
                Err(err) => break Err(err.into()),
            };
            match msg["type"].as_str() {
                Some("run_started") => started = true,
                Some("output") => print_output(&msg),
                Some("run_finished") if killed_by.is_some() => break Ok(Outcome::Interrupted),
                Some("run_finished") => break Ok(Outcome::Exited(exit_code(&msg))),
                // After Ctrl+C, whatever the kill met (no run yet, or one just ended).
                Some("error") if killed_by.is_some() => break Ok(Outcome::Interrupted),
                // Before the run: it was refused. During it: stdin that came too late (the
                // program had ended, or closed its input), which the run's own end reports.
                Some("error")
                    if !started
                        || !matches!(
                            msg["code"].as_str(),
                            Some("NO_RUN" | "STDIN_UNAVAILABLE")
                        ) =>
                {
                    break Err(anyhow::anyhow!(
                        "{}: {}",
                        msg["code"].as_str().unwrap_or("?"),
                        msg["message"].as_str().unwrap_or("")
                    ))
                }
                Some("session_ended") => {
                    break Err(anyhow::anyhow!("the session ended ({})", msg["reason"]))
                }
                _ => {}
            }
        };
        feeder.abort();
        writer.abort();
        outcome
    }

    /// `livecode watch`: follows a session as it happens until it ends: runs and their output,
    /// what participants type into a running program, test runs and their results.
    pub async fn watch(&self, id: &str, token: &str) -> anyhow::Result<()> {
        let mut socket = self.socket(id, token).await?;
        let mut names = HashMap::new();
        let mut err = std::io::stderr();
        while let Some(frame) = socket.next().await {
            let Message::Text(text) = frame? else {
                continue;
            };
            let msg: Value = serde_json::from_str(&text)?;
            match msg["type"].as_str() {
                Some("welcome") => {
                    learn_names(&mut names, &msg["participants"]);
                    writeln!(
                        err,
                        "[watching session {id}: {}]",
                        msg["session"]["status"].as_str().unwrap_or("?")
                    )?
                }
                Some("presence") => learn_names(&mut names, &msg["participants"]),
                Some("output") => print_output(&msg),
                Some("session_ended") => {
                    writeln!(
                        err,
                        "[session ended: {}]",
                        msg["reason"].as_str().unwrap_or("?")
                    )?;
                    return Ok(());
                }
                _ => {
                    if let Some(note) = watch_note(&msg, &names) {
                        writeln!(err, "{note}")?;
                    }
                }
            }
        }
        Ok(())
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

/// Sleeps until `at`; never, without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
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

/// Participants' names by id, from `welcome` and `presence`.
fn learn_names(names: &mut HashMap<u64, String>, participants: &Value) {
    for p in participants.as_array().into_iter().flatten() {
        if let (Some(id), Some(name)) = (p["id"].as_u64(), p["name"].as_str()) {
            names.insert(id, name.to_string());
        }
    }
}

/// The line `watch` writes on stderr for a message of the session (none for most).
fn watch_note(msg: &Value, names: &HashMap<u64, String>) -> Option<String> {
    let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
    Some(match msg["type"].as_str()? {
        "run_started" => format!("[run {} by {}]", s(&msg["run_id"]), s(&msg["by"])),
        "run_finished" => format!(
            "[{} · exit {} · {} ms]",
            s(&msg["status"]),
            msg["exit_code"],
            msg["duration_ms"]
        ),
        "input" => {
            let who = msg["participant"]
                .as_u64()
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_else(|| "someone".into());
            let data = msg["data"].as_str().unwrap_or("");
            let more = if msg["truncated"] == true { " …" } else { "" };
            format!("[stdin from {who}] {}{more}", quoted(data))
        }
        "tests_started" => format!("[tests: {} cases, by {}]", msg["total"], s(&msg["by"])),
        "test_result" => {
            let number = msg["index"].as_u64().map_or(0, |i| i + 1);
            let hidden = if msg["hidden"] == true {
                " (hidden)"
            } else {
                ""
            };
            let mut line = format!(
                "[test {number} {}{hidden}: {} · {} ms",
                s(&msg["name"]),
                s(&msg["verdict"]),
                msg["duration_ms"]
            );
            if msg["verdict"] == "failed" {
                line.push_str(&format!(
                    " · expected {}, got {}",
                    quoted(msg["expected"].as_str().unwrap_or("")),
                    quoted(msg["actual"].as_str().unwrap_or(""))
                ));
            }
            line.push(']');
            line
        }
        "tests_finished" => format!("[tests: {} of {} passed]", msg["passed"], msg["total"]),
        _ => return None,
    })
}

/// Text as a short quoted string on one line (`\n` shown as such), cut at 60 characters.
fn quoted(text: &str) -> String {
    const MAX: usize = 60;
    let escaped: String = text.escape_debug().collect();
    if escaped.chars().count() <= MAX {
        format!("\"{escaped}\"")
    } else {
        let cut: String = escaped.chars().take(MAX).collect();
        format!("\"{cut}\"…")
    }
}

/// Columns padded to their widest cell, two spaces apart; the last column is not padded.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.into_iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `name  value` lines, the values aligned.
fn fields(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

/// A timestamp of the API as `2026-12-07 16:20:05 UTC`.
fn when(v: &Value) -> String {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        })
        .unwrap_or_else(|| "–".into())
}

/// How long until `v` from `now`: `in 29m 55s`; `–` when it has passed or is missing.
fn until(v: &Value, now: DateTime<Utc>) -> String {
    let Some(at) = v
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    else {
        return "–".into();
    };
    let secs = (at.with_timezone(&Utc) - now).num_seconds();
    if secs <= 0 {
        return "–".into();
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("in {h}h {m}m")
    } else if m > 0 {
        format!("in {m}m {s}s")
    } else {
        format!("in {s}s")
    }
}

fn is_live(session: &Value) -> bool {
    matches!(
        session["status"].as_str(),
        Some("creating" | "ready" | "executing")
    )
}

fn text_or_dash(v: &Value) -> String {
    match v.as_str() {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "–".into(),
    }
}

/// A run summary as `completed · exit 0 · 21 ms`.
fn run_summary(run: &Value) -> String {
    if run.is_null() {
        return "–".into();
    }
    let mut out = run["status"].as_str().unwrap_or("?").to_string();
    if let Some(code) = run["exit_code"].as_i64() {
        out.push_str(&format!(" · exit {code}"));
    }
    out.push_str(&format!(" · {} ms", run["duration_ms"]));
    out
}

/// `sessions list` as a table, newest first as the server answers.
pub fn sessions_table(list: &Value, now: DateTime<Utc>) -> String {
    let sessions = list.as_array().cloned().unwrap_or_default();
    if sessions.is_empty() {
        return "no sessions\n".into();
    }
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                text_or_dash(&s["session_id"]),
                text_or_dash(&s["status"]),
                text_or_dash(&s["environment"]),
                when(&s["created_at"]),
                if is_live(s) {
                    until(&s["expires_at"], now)
                } else {
                    "–".into()
                },
                s["participants"].as_array().map_or(0, Vec::len).to_string(),
                run_summary(&s["last_execution"]),
                text_or_dash(&s["label"]),
            ]
        })
        .collect();
    table(
        &[
            "SESSION",
            "STATUS",
            "ENVIRONMENT",
            "CREATED",
            "EXPIRES",
            "PEOPLE",
            "LAST RUN",
            "LABEL",
        ],
        &rows,
    )
}

/// `sessions create`'s answer: the links, which says which one to share.
pub fn created_table(created: &Value, now: DateTime<Utc>) -> String {
    fields(&[
        ("session", text_or_dash(&created["session_id"])),
        ("environment", text_or_dash(&created["environment"])),
        ("status", text_or_dash(&created["status"])),
        (
            "expires",
            format!(
                "{} ({} if idle)",
                when(&created["expires_at"]),
                until(&created["expires_at"], now)
            ),
        ),
        (
            "candidate",
            format!("{}  (share this)", text_or_dash(&created["candidate_url"])),
        ),
        (
            "interviewer",
            format!("{}  (private)", text_or_dash(&created["interviewer_url"])),
        ),
        ("embed", text_or_dash(&created["embed_url"])),
        ("candidate token", text_or_dash(&created["candidate_token"])),
        (
            "interviewer token",
            text_or_dash(&created["interviewer_token"]),
        ),
    ])
}

/// `sessions show`'s answer.
pub fn session_table(session: &Value, now: DateTime<Utc>) -> String {
    let people: Vec<String> = session["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{} ({})",
                text_or_dash(&p["name"]),
                text_or_dash(&p["role"])
            )
        })
        .collect();
    let expires = if is_live(session) {
        format!(
            "{} ({})",
            when(&session["expires_at"]),
            until(&session["expires_at"], now)
        )
    } else {
        "–".into()
    };
    let last_run = &session["last_execution"];
    let last_run = if last_run.is_null() {
        "–".into()
    } else {
        format!(
            "{}, at {}",
            run_summary(last_run),
            when(&last_run["finished_at"])
        )
    };
    fields(&[
        ("session", text_or_dash(&session["session_id"])),
        ("status", text_or_dash(&session["status"])),
        ("environment", text_or_dash(&session["environment"])),
        ("label", text_or_dash(&session["label"])),
        ("created", when(&session["created_at"])),
        ("last activity", when(&session["last_activity_at"])),
        ("expires", expires),
        (
            "participants",
            if people.is_empty() {
                "none".into()
            } else {
                people.join(", ")
            },
        ),
        ("last run", last_run),
    ])
}

/// `sessions end`'s answer.
pub fn ended_line(ended: &Value) -> String {
    format!(
        "session {}: {}\n",
        text_or_dash(&ended["session_id"]),
        text_or_dash(&ended["status"])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T16:00:00Z")
            .expect("a time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_table_aligns_its_columns_and_shows_what_is_missing_as_a_dash() {
        let list = json!([
            {"session_id": "a1", "status": "ready", "environment": "python",
             "created_at": "2026-12-07T15:59:00Z", "expires_at": "2026-12-07T16:29:30Z",
             "participants": [{"id": 1, "name": "Ada", "role": "candidate"}],
             "last_execution": {"status": "completed", "exit_code": 0, "duration_ms": 21},
             "label": "onsite"},
            {"session_id": "b2", "status": "stopped", "environment": "go",
             "created_at": "2026-12-07T15:00:00Z", "expires_at": "2026-12-07T15:30:00Z",
             "participants": [], "last_execution": null, "label": null}
        ]);
        assert_eq!(
            sessions_table(&list, now()),
            "SESSION  STATUS   ENVIRONMENT  CREATED                  EXPIRES     PEOPLE  LAST RUN                    LABEL\n\
             a1       ready    python       2026-12-07 15:59:00 UTC  in 29m 30s  1       completed · exit 0 · 21 ms  onsite\n\
             b2       stopped  go           2026-12-07 15:00:00 UTC  –           0       –                           –\n"
        );
        assert_eq!(sessions_table(&json!([]), now()), "no sessions\n");
    }

    #[test]
    fn created_says_which_link_to_share() {
        let created = json!({"session_id": "a1", "environment": "python", "status": "creating",
            "expires_at": "2026-12-07T16:30:00Z", "candidate_url": "http://h/s/a1#token=c",
            "interviewer_url": "http://h/s/a1#token=i", "embed_url": "http://h/embed/a1#token=i",
            "candidate_token": "c", "interviewer_token": "i"});
        let text = created_table(&created, now());
        assert!(
            text.contains("candidate          http://h/s/a1#token=c  (share this)\n"),
            "{text}"
        );
        assert!(
            text.contains("interviewer        http://h/s/a1#token=i  (private)\n"),
            "{text}"
        );
        assert!(
            text.contains("expires            2026-12-07 16:30:00 UTC (in 30m 0s if idle)\n"),
            "{text}"
        );
    }

    #[test]
    fn watch_notes_show_typed_stdin_and_test_results() {
        let names = HashMap::from([(3, "Ada".to_string())]);
        let note = |m: Value| watch_note(&m, &names);
        assert_eq!(
            note(json!({"type": "input", "participant": 3, "data": "42\n", "truncated": false})),
            Some("[stdin from Ada] \"42\\n\"".into())
        );
        assert_eq!(
            note(json!({"type": "tests_started", "total": 2, "by": "interviewer"})),
            Some("[tests: 2 cases, by interviewer]".into())
        );
        assert_eq!(
            note(
                json!({"type": "test_result", "index": 1, "name": "large", "hidden": true,
                "verdict": "failed", "duration_ms": 12, "expected": "42\n", "actual": "41\n"})
            ),
            Some(
                "[test 2 large (hidden): failed · 12 ms · expected \"42\\n\", got \"41\\n\"]"
                    .into()
            )
        );
        assert_eq!(
            note(json!({"type": "tests_finished", "passed": 1, "total": 2})),
            Some("[tests: 1 of 2 passed]".into())
        );
        assert_eq!(note(json!({"type": "cursor"})), None);
    }

    #[test]
    fn exit_codes_say_what_happened_to_the_run_and_its_session() {
        let end = |outcome: anyhow::Result<Outcome>, cleanup: anyhow::Result<()>| RunEnd {
            session: "s".into(),
            interviewer_token: "t".into(),
            outcome,
            cleanup,
        };
        assert_eq!(end(Ok(Outcome::Exited(5)), Ok(())).exit_code(), 5);
        assert_eq!(end(Ok(Outcome::Exited(0)), Ok(())).exit_code(), 0);
        assert_eq!(
            end(Ok(Outcome::Exited(0)), Err(anyhow::anyhow!("401"))).exit_code(),
            1
        );
        assert_eq!(
            end(Ok(Outcome::Exited(3)), Err(anyhow::anyhow!("401"))).exit_code(),
            3
        );
        assert_eq!(
            end(Ok(Outcome::Interrupted), Err(anyhow::anyhow!("x"))).exit_code(),
            130
        );
        assert_eq!(end(Err(anyhow::anyhow!("closed")), Ok(())).exit_code(), 1);
        assert_eq!(end(Ok(Outcome::Exited(-1)), Ok(())).exit_code(), 1);
    }

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
