//! `livecode run`: a session of its own for one file, its output live, the terminal's stdin
//! forwarded; the session is ended with its own token whatever happened, Ctrl+C included.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

use super::{Client, Socket};

/// How long a killed run gets to report its end before the session is ended anyway.
const KILL_WAIT: Duration = Duration::from_secs(10);

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
        let (mut tx, rx) = socket.split();
        let (to_socket, mut outgoing) = tokio::sync::mpsc::channel::<Value>(16);
        let control = to_socket.clone();
        let feeder = tokio::spawn(feed_stdin(stdin, to_socket));
        let writer = tokio::spawn(async move {
            while let Some(msg) = outgoing.recv().await {
                if tx.send(Message::text(msg.to_string())).await.is_err() {
                    break;
                }
            }
        });
        let outcome = follow(rx, interrupts, &control).await;
        feeder.abort();
        writer.abort();
        outcome
    }
}

/// The program's stdin: a file's bytes then EOF, or the terminal's as it is typed.
async fn feed_stdin(
    stdin: Option<String>,
    to_socket: tokio::sync::mpsc::Sender<Value>,
) -> anyhow::Result<()> {
    let mut input: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match stdin {
        Some(path) => Box::new(tokio::fs::File::open(path).await?),
        None => Box::new(tokio::io::stdin()),
    };
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending = Vec::new();
    loop {
        let n = input.read(&mut buf).await?;
        if n == 0 {
            if !pending.is_empty() {
                let data = String::from_utf8_lossy(&pending).into_owned();
                let _ = to_socket.send(json!({"type": "stdin", "data": data})).await;
            }
            let _ = to_socket.send(json!({"type": "stdin_eof"})).await;
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
        let data = take_text(&mut pending);
        if data.is_empty() {
            continue;
        }
        if to_socket
            .send(json!({"type": "stdin", "data": data}))
            .await
            .is_err()
        {
            return Ok(());
        }
    }
}

/// The run's messages until it ends: output printed as it comes, Ctrl+C turned into a kill
/// (and a second one into giving up at once).
async fn follow(
    mut rx: futures_util::stream::SplitStream<Socket>,
    interrupts: &mut Interrupts,
    control: &tokio::sync::mpsc::Sender<Value>,
) -> anyhow::Result<Outcome> {
    let mut started = false;
    // After Ctrl+C: when the killed run must have reported its end.
    let mut killed_by: Option<tokio::time::Instant> = None;
    loop {
        let frame = tokio::select! {
            frame = rx.next() => frame,
            _ = interrupts.next() => {
                if killed_by.is_some() {
                    return Ok(Outcome::Interrupted); // pressed again: don't wait
                }
                // The kill goes after the run message on the same socket, so it reaches the
                // run even when it is pressed before `run_started`.
                let _ = control.send(json!({"type": "kill"})).await;
                killed_by = Some(tokio::time::Instant::now() + KILL_WAIT);
                continue;
            }
            _ = sleep_until(killed_by) => return Ok(Outcome::Interrupted),
        };
        let Some(frame) = frame else {
            bail!("the server closed the socket");
        };
        let text = match frame? {
            Message::Text(text) => text,
            _ => continue,
        };
        let msg: Value = serde_json::from_str(&text)?;
        if msg["type"] == "run_started" {
            started = true;
        }
        if let Some(end) = ended(&msg, started, killed_by.is_some()) {
            return end;
        }
    }
}

/// What one message means for the run: output is printed; `Some` when it ended it.
fn ended(msg: &Value, started: bool, killed: bool) -> Option<anyhow::Result<Outcome>> {
    match msg["type"].as_str() {
        Some("output") => print_output(msg),
        Some("run_finished") if killed => return Some(Ok(Outcome::Interrupted)),
        Some("run_finished") => return Some(Ok(Outcome::Exited(exit_code(msg)))),
        // After Ctrl+C, whatever the kill met (no run yet, or one just ended).
        Some("error") if killed => return Some(Ok(Outcome::Interrupted)),
        // Before the run: it was refused. During it: stdin that came too late (the program
        // had ended, or closed its input), which the run's own end reports.
        Some("error")
            if !started
                || !matches!(msg["code"].as_str(), Some("NO_RUN" | "STDIN_UNAVAILABLE")) =>
        {
            return Some(Err(anyhow::anyhow!(
                "{}: {}",
                msg["code"].as_str().unwrap_or("?"),
                msg["message"].as_str().unwrap_or("")
            )))
        }
        Some("session_ended") => {
            return Some(Err(anyhow::anyhow!(
                "the session ended ({})",
                msg["reason"]
            )))
        }
        _ => {}
    }
    None
}

/// Sleeps until `at`; never, without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

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

/// The text of `bytes` up to a character a later read may complete, which stays in `bytes`
/// (a read can end inside a character); bytes that can never be UTF-8 become U+FFFD.
fn take_text(bytes: &mut Vec<u8>) -> String {
    let keep = match std::str::from_utf8(bytes) {
        Ok(_) => 0,
        // An incomplete character at the end: at most 3 bytes wait for the next read.
        Err(e) if e.error_len().is_none() => bytes.len() - e.valid_up_to(),
        Err(_) => {
            // Invalid inside: convert all but a possibly incomplete tail.
            let tail = bytes.len().saturating_sub(3);
            match std::str::from_utf8(&bytes[tail..]) {
                Err(e) if e.error_len().is_none() => bytes.len() - tail - e.valid_up_to(),
                _ => 0,
            }
        }
    };
    let rest = bytes.split_off(bytes.len() - keep);
    let text = String::from_utf8_lossy(bytes).into_owned();
    *bytes = rest;
    text
}

/// Writes an `output` message to stdout or stderr, as the program did.
pub(super) fn print_output(msg: &Value) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_read_inside_a_character_waits_for_the_rest() {
        let text = "añ€😀";
        let bytes = text.as_bytes();
        for cut in 0..=bytes.len() {
            let mut pending = bytes[..cut].to_vec();
            let first = take_text(&mut pending);
            pending.extend_from_slice(&bytes[cut..]);
            let second = take_text(&mut pending);
            assert_eq!(format!("{first}{second}"), text, "cut at {cut}");
            assert!(pending.is_empty());
        }
        let mut invalid = vec![b'a', 0xff, b'b', 0xe2, 0x82];
        assert_eq!(take_text(&mut invalid), "a\u{fffd}b");
        assert_eq!(invalid, vec![0xe2, 0x82]);
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
}
