//! The socket from the client's side: messages built in one place, frames read with
//! deadlines, and a run as a socket saw it.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::DEFAULT_WAIT;

/// A client socket to `/api/v1/sessions/{id}/ws`.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Client → server messages, built in one place.
pub mod msg {
    use serde_json::{json, Value};

    /// Runs the session's current document.
    pub fn run_document() -> Value {
        json!({"type": "run"})
    }

    /// Runs `code` as `filename`.
    pub fn run(filename: &str, code: &str) -> Value {
        json!({"type": "run", "files": {filename: code}})
    }

    pub fn run_with_stdin(filename: &str, code: &str, stdin: &str) -> Value {
        json!({"type": "run", "files": {filename: code}, "stdin": stdin})
    }

    /// Kills a running program first, then runs `code`.
    pub fn restart(filename: &str, code: &str) -> Value {
        json!({"type": "run", "files": {filename: code}, "restart": true})
    }

    pub fn stdin(data: &str) -> Value {
        json!({"type": "stdin", "data": data})
    }

    pub fn stdin_eof() -> Value {
        json!({"type": "stdin_eof"})
    }

    pub fn kill() -> Value {
        json!({"type": "kill"})
    }

    pub fn ping() -> Value {
        json!({"type": "ping"})
    }

    pub fn auth(token: &str) -> Value {
        json!({"type": "auth", "token": token})
    }
}

pub async fn send(ws: &mut WsStream, message: Value) {
    send_text(ws, &message.to_string()).await;
}

pub async fn send_text(ws: &mut WsStream, text: &str) {
    ws.send(Message::Text(text.to_string().into()))
        .await
        .expect("send a WebSocket frame");
}

/// What the socket gave next.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    /// Why the socket ended (read through `Debug` in failure messages).
    Closed(#[allow(dead_code)] String),
    TimedOut,
}

/// The next text frame as JSON, or why there is none before `deadline`.
pub async fn next_frame(ws: &mut WsStream, deadline: Instant) -> Frame {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => return Frame::TimedOut,
            Ok(None) => return Frame::Closed("stream ended".into()),
            Ok(Some(Err(e))) => return Frame::Closed(format!("error: {e}")),
            Ok(Some(Ok(Message::Text(text)))) => {
                let value = serde_json::from_str(text.as_str()).unwrap_or_else(|e| {
                    panic!("server sent a text frame that is not JSON ({e}): {text}")
                });
                return Frame::Json(value);
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Frame::Closed(format!("close frame {frame:?}"))
            }
            Ok(Some(Ok(_))) => continue, // ping/pong/binary: tungstenite answers pings itself
        }
    }
}

pub async fn next_frame_json(ws: &mut WsStream, waiting_for: &str) -> Value {
    match next_frame(ws, Instant::now() + DEFAULT_WAIT).await {
        Frame::Json(v) => v,
        other => panic!("waiting for {waiting_for}: {other:?}"),
    }
}

/// The next message, whatever its type (within [`DEFAULT_WAIT`]).
pub async fn next_json(ws: &mut WsStream) -> Value {
    next_frame_json(ws, "any message").await
}

/// Skips frames until one of type `ty` arrives (within [`DEFAULT_WAIT`]).
pub async fn next_of_type(ws: &mut WsStream, ty: &str) -> Value {
    next_of_type_within(ws, ty, DEFAULT_WAIT).await
}

/// Skips frames until one of type `ty` arrives; panics with what it saw when `wait` passes
/// or the socket closes.
pub async fn next_of_type_within(ws: &mut WsStream, ty: &str, wait: Duration) -> Value {
    let deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    loop {
        match next_frame(ws, deadline).await {
            Frame::Json(v) if v["type"] == ty => return v,
            Frame::Json(v) => seen.push(v),
            other => panic!(
                "no {ty:?} message within {wait:?} ({other:?}); frames seen:\n{}",
                summarize(&seen)
            ),
        }
    }
}

/// Frames until (and with) the first whose type is `ty`.
pub async fn frames_until(ws: &mut WsStream, ty: &str, wait: Duration) -> Vec<(Instant, Value)> {
    let deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    loop {
        match next_frame(ws, deadline).await {
            Frame::Json(v) => {
                let done = v["type"] == ty;
                seen.push((Instant::now(), v));
                if done {
                    return seen;
                }
            }
            other => {
                let frames: Vec<Value> = seen.into_iter().map(|(_, v)| v).collect();
                panic!(
                    "no {ty:?} message within {wait:?} ({other:?}); frames seen:\n{}",
                    summarize(&frames)
                )
            }
        }
    }
}

/// The WebSocket error boundary: the next `error` message has `code`, a message and a hint.
pub async fn check_ws_error(ws: &mut WsStream, code: &str) -> Value {
    let error = next_of_type(ws, "error").await;
    assert_eq!(
        error["code"], code,
        "expected a WebSocket error {code}: {error}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "WebSocket error without a message: {error}"
    );
    assert!(
        error["hint"].is_string(),
        "WebSocket error without a hint: {error}"
    );
    error
}

/// `ping` is answered by `pong`: the socket still works.
pub async fn check_pong(ws: &mut WsStream) {
    send(ws, msg::ping()).await;
    next_of_type_within(ws, "pong", Duration::from_secs(10)).await;
}

/// Reads `output` messages until the stdout seen so far contains `needle` (chunks are not
/// lines: a line may arrive in pieces); returns that stdout.
pub async fn stdout_until(ws: &mut WsStream, needle: &str) -> String {
    let mut stdout = String::new();
    while !stdout.contains(needle) {
        let out = next_of_type(ws, "output").await;
        if out["stream"] == "stdout" {
            stdout.push_str(out["data"].as_str().expect("output.data"));
        }
    }
    stdout
}

/// One run as a socket saw it, from `run_started` (if it came after the collection began) to
/// `run_finished`. `stdout`/`stderr` are the `data` of every `output` concatenated per stream:
/// chunks are not lines.
#[derive(Debug)]
pub struct RunResult {
    pub started: Option<Value>,
    pub stdout: String,
    pub stderr: String,
    pub finished: Value,
    pub events: Vec<(Instant, Value)>,
}

impl RunResult {
    /// The stdout of one phase alone (`build` or `run`).
    #[allow(dead_code)] // the conformance suite's
    pub fn stdout_of_phase(&self, phase: &str) -> String {
        self.events
            .iter()
            .map(|(_, v)| v)
            .filter(|v| v["type"] == "output" && v["stream"] == "stdout" && v["phase"] == phase)
            .filter_map(|v| v["data"].as_str())
            .collect()
    }

    pub fn run_id(&self) -> &str {
        self.finished["run_id"]
            .as_str()
            .expect("run_finished.run_id")
    }

    pub fn status(&self) -> &str {
        self.finished["status"]
            .as_str()
            .expect("run_finished.status")
    }

    pub fn exit_code(&self) -> Option<i64> {
        self.finished["exit_code"].as_i64()
    }

    pub fn duration_ms(&self) -> u64 {
        self.finished["duration_ms"]
            .as_u64()
            .expect("run_finished.duration_ms")
    }

    pub fn truncated(&self) -> bool {
        self.finished["truncated"]
            .as_bool()
            .expect("run_finished.truncated")
    }

    pub fn finished_at(&self) -> Instant {
        self.events
            .last()
            .expect("run_finished is the last event")
            .0
    }

    /// When the first `output` of `stream` arrived.
    pub fn first_output_at(&self, stream: &str) -> Option<Instant> {
        self.events
            .iter()
            .find(|(_, e)| e["type"] == "output" && e["stream"] == stream)
            .map(|(at, _)| *at)
    }

    /// Asserts a normal end: status `completed` with `exit_code`.
    pub fn assert_completed(&self, exit_code: i64) {
        assert_eq!(
            (self.status(), self.exit_code()),
            ("completed", Some(exit_code)),
            "{}",
            self.describe()
        );
    }

    /// The run in a few lines, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "run_finished: {}\nstdout: {:?}\nstderr: {:?}",
            self.finished,
            clip(&self.stdout, 600),
            clip(&self.stderr, 600)
        )
    }
}

/// Collects one run (within [`DEFAULT_WAIT`]).
pub async fn collect_run(ws: &mut WsStream) -> RunResult {
    collect_run_within(ws, DEFAULT_WAIT).await
}

/// Reads until `run_finished`, concatenating `output` per stream. An `error` message on the
/// way fails the test (a run was expected, not a refusal).
pub async fn collect_run_within(ws: &mut WsStream, wait: Duration) -> RunResult {
    let deadline = Instant::now() + wait;
    let mut events: Vec<(Instant, Value)> = Vec::new();
    let (mut started, mut stdout, mut stderr) = (None::<Value>, String::new(), String::new());
    loop {
        let frame = match next_frame(ws, deadline).await {
            Frame::Json(v) => v,
            other => {
                let frames: Vec<Value> = events.into_iter().map(|(_, v)| v).collect();
                panic!(
                    "run did not finish within {wait:?} ({other:?}); stdout so far {:?}; frames:\n{}",
                    clip(&stdout, 300),
                    summarize(&frames)
                );
            }
        };
        let run_id_matches = |frame: &Value, started: &Option<Value>| match started {
            Some(s) => frame["run_id"] == s["run_id"],
            None => true,
        };
        match frame["type"].as_str() {
            Some("run_started") => {
                assert!(
                    started.is_none(),
                    "two run_started before a run_finished: {frame}"
                );
                assert!(
                    frame["run_id"].is_string(),
                    "run_started without run_id: {frame}"
                );
                started = Some(frame.clone());
            }
            Some("output") => {
                assert!(
                    run_id_matches(&frame, &started),
                    "output of another run: {frame} (started {started:?})"
                );
                let data = frame["data"]
                    .as_str()
                    .unwrap_or_else(|| panic!("output without data: {frame}"));
                match frame["stream"].as_str() {
                    Some("stdout") => stdout.push_str(data),
                    Some("stderr") => stderr.push_str(data),
                    _ => panic!("output with an unknown stream: {frame}"),
                }
            }
            Some("run_finished") => {
                assert!(
                    run_id_matches(&frame, &started),
                    "run_finished of another run: {frame} (started {started:?})"
                );
                events.push((Instant::now(), frame.clone()));
                return RunResult {
                    started,
                    stdout,
                    stderr,
                    finished: frame,
                    events,
                };
            }
            Some("error") => panic!("error message while a run was expected: {frame}"),
            _ => {}
        }
        events.push((Instant::now(), frame));
    }
}

/// Sends `message` and collects the run it starts.
pub async fn run_message(ws: &mut WsStream, message: Value) -> RunResult {
    send(ws, message).await;
    let run = collect_run(ws).await;
    assert!(
        run.started.is_some(),
        "run_finished came without run_started: {:?}",
        run.events
    );
    run
}

/// Runs `code` as `filename` and collects the run.
pub async fn run_code(ws: &mut WsStream, filename: &str, code: &str) -> RunResult {
    run_message(ws, msg::run(filename, code)).await
}

fn summarize(frames: &[Value]) -> String {
    let skipped = frames.len().saturating_sub(40);
    let mut out = String::new();
    if skipped > 0 {
        out.push_str(&format!("  ... {skipped} earlier frames\n"));
    }
    for frame in &frames[skipped..] {
        let text = frame.to_string();
        out.push_str("  ");
        out.push_str(&clip(&text, 240));
        out.push('\n');
    }
    out
}

/// `text`, cut to at most `max` bytes for a failure message.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…({} bytes)", &text[..cut], text.len())
}

pub fn describe_ws_error(e: tokio_tungstenite::tungstenite::Error) -> String {
    match e {
        tokio_tungstenite::tungstenite::Error::Http(resp) => {
            let body = resp
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            format!("HTTP {}: {body}", resp.status())
        }
        other => other.to_string(),
    }
}

/// Opens a socket at `url` and reads its first message, which must be `welcome`; says why
/// not otherwise (the upgrade refused, the socket closed or silent).
pub async fn open_socket(url: &str) -> Result<(WsStream, Value), String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.map_err(|e| {
        format!(
            "WebSocket upgrade at {url} failed: {}",
            describe_ws_error(e)
        )
    })?;
    match next_frame(&mut ws, Instant::now() + DEFAULT_WAIT).await {
        Frame::Json(welcome) if welcome["type"] == "welcome" => Ok((ws, welcome)),
        Frame::Json(other) => Err(format!("the first message must be welcome: {other}")),
        other => Err(format!("waiting for welcome at {url}: {other:?}")),
    }
}

/// Tries an upgrade that should be refused, from a page of `origin` if given; returns the
/// HTTP status and the JSON body.
pub async fn refused_upgrade(url: &str, origin: Option<&str>) -> (u16, Value) {
    let mut request = url.into_client_request().expect("a WebSocket request");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("an origin header"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((mut ws, _)) => {
            let first = next_frame(&mut ws, Instant::now() + Duration::from_secs(5)).await;
            panic!("upgrade at {url} should have been refused; the socket said {first:?}")
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let status = resp.status().as_u16();
            let body = resp.body().clone().unwrap_or_default();
            let json = serde_json::from_slice(&body).unwrap_or_else(|e| {
                panic!(
                    "refusal body is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(&body)
                )
            });
            (status, json)
        }
        Err(other) => panic!("upgrade at {url} failed without an HTTP answer: {other}"),
    }
}
