//! One run at a time per session: the run's files and command go into the sandbox in one exec,
//! output is decoded and fanned out as it arrives, and the timeout, the output cap and kills are
//! enforced here. Afterwards no process of the run survives (the runner kills leftovers; a
//! stopped run is killed from outside).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use futures_util::{FutureExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::events::Utf8Decoder;
use super::files::validate_path;
use super::registry::SessionRegistry;
use super::{Phase, RunStatus, RunSummary, Session, SessionError, SessionEvent, Status};
use crate::auth::Role;
use crate::sandbox::{
    ExecSpec, Execution, KillOutcome, OutputChunk, OutputStream, SandboxError, SandboxId,
    WorkspaceFile,
};
use crate::store::RunRecord;

/// Bytes of stdin that may wait for a program that does not read.
const STDIN_QUEUE: usize = 256;
/// After a kill, how long the output may take to end before we stop waiting for it.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(5);
/// Output chunks merged into one event when they are already waiting.
const COALESCE_CHUNKS: usize = 64;
/// The most text one `output` event carries, so that what a slow socket has in flight stays
/// small; a larger piece goes out as several events.
const MAX_EVENT_TEXT: usize = 16 * 1024;

/// What to run.
#[derive(Debug, Default, Clone)]
pub struct RunRequest {
    /// Replaces the document for this run only.
    pub code: Option<String>,
    /// The file `code` goes to (default: the environment's file name).
    pub filename: Option<String>,
    /// Extra files for this run, beside the session's own.
    pub files: Option<BTreeMap<String, String>>,
    /// Sent to the program's stdin as soon as it starts.
    pub stdin: Option<String>,
    /// Close stdin after `stdin` (non-interactive runs).
    pub close_stdin: bool,
    /// At most the configured run timeout.
    pub timeout: Option<Duration>,
    /// Kill a run in progress instead of refusing.
    pub restart: bool,
}

/// How a run ended, with its (capped) output.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_id: Uuid,
    pub status: RunStatus,
    pub exit_code: Option<i64>,
    /// Time of the run itself, build excluded.
    pub duration: Duration,
    /// Time of the build step, for compiled languages.
    pub build_duration: Option<Duration>,
    pub stdout: String,
    pub stderr: String,
    pub truncated: bool,
}

/// A started run: wait for it to end.
#[derive(Debug)]
pub struct RunHandle {
    pub run_id: Uuid,
    done: watch::Receiver<Option<Arc<RunOutcome>>>,
}

impl RunHandle {
    /// Resolves when the run has ended.
    pub async fn wait(mut self) -> Arc<RunOutcome> {
        loop {
            if let Some(outcome) = self.done.borrow_and_update().clone() {
                return outcome;
            }
            if self.done.changed().await.is_err() {
                // The run task is gone without an outcome: only on shutdown.
                return Arc::new(RunOutcome {
                    run_id: self.run_id,
                    status: RunStatus::Error,
                    exit_code: None,
                    duration: Duration::ZERO,
                    build_duration: None,
                    stdout: String::new(),
                    stderr: "the server shut down during the run\n".into(),
                    truncated: false,
                });
            }
        }
    }
}

/// Why stdin could not be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StdinError {
    #[error("nothing is running")]
    NoRun,
    #[error("the program is not reading its input fast enough")]
    Full,
    #[error("the program's input is closed")]
    Closed,
}

/// Why a run was stopped before it ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StopReason {
    Killed,
    Restarted,
    SessionEnded,
    Timeout,
    OutputLimit,
    /// The server is shutting down: the run ends now, with a record, not at its timeout.
    ServerShutdown,
}

#[derive(Debug)]
enum StdinCommand {
    Data(Bytes),
    Eof,
}

#[derive(Debug, Default)]
struct StopSignal {
    reason: Mutex<Option<StopReason>>,
    token: CancellationToken,
}

impl StopSignal {
    /// The first reason wins.
    fn request(&self, reason: StopReason) {
        let mut current = self.reason.lock().expect("stop lock poisoned");
        if current.is_none() {
            *current = Some(reason);
        }
        self.token.cancel();
    }

    fn reason(&self) -> Option<StopReason> {
        *self.reason.lock().expect("stop lock poisoned")
    }
}

/// The session's handle on its run in progress.
#[derive(Debug)]
pub(super) struct ActiveRun {
    pub id: Uuid,
    stdin: mpsc::Sender<StdinCommand>,
    stop: Arc<StopSignal>,
    done: watch::Receiver<Option<Arc<RunOutcome>>>,
}

impl ActiveRun {
    pub fn stopper(&self) -> Stopper {
        Stopper {
            stop: self.stop.clone(),
            done: self.done.clone(),
        }
    }
}

/// Stops a run and waits for it to be over.
pub(super) struct Stopper {
    stop: Arc<StopSignal>,
    done: watch::Receiver<Option<Arc<RunOutcome>>>,
}

impl Stopper {
    pub async fn stop(mut self, reason: StopReason) {
        self.stop.request(reason);
        let wait = self.done.wait_for(|outcome| outcome.is_some());
        if tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .is_err()
        {
            tracing::error!("a stopped run did not end within 20 s");
        }
    }
}

impl Session {
    /// Sends bytes to the running program's stdin and shows them to every participant.
    pub fn send_stdin(&self, data: String, participant: u64) -> Result<(), StdinError> {
        let state = self.state();
        let run = state.run.as_ref().ok_or(StdinError::NoRun)?;
        let mut end = data.len().min(super::INPUT_PREVIEW_BYTES);
        while !data.is_char_boundary(end) {
            end -= 1;
        }
        let (preview, truncated) = (data[..end].to_string(), end < data.len());
        run.stdin
            .try_send(StdinCommand::Data(Bytes::from(data)))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StdinError::Full,
                mpsc::error::TrySendError::Closed(_) => StdinError::Closed,
            })?;
        self.emit_locked(SessionEvent::Input {
            run_id: run.id,
            participant,
            data: preview,
            truncated,
        });
        Ok(())
    }

    /// Closes the running program's stdin.
    pub fn close_stdin(&self) -> Result<(), StdinError> {
        let state = self.state();
        let run = state.run.as_ref().ok_or(StdinError::NoRun)?;
        run.stdin
            .try_send(StdinCommand::Eof)
            .map_err(|_| StdinError::Closed)
    }

    /// Asks the running program to stop now; the run reports `killed`.
    pub fn kill_run(&self) -> Result<(), SessionError> {
        let state = self.state();
        let run = state.run.as_ref().ok_or(SessionError::NoRun)?;
        run.stop.request(StopReason::Killed);
        Ok(())
    }

    /// The id of the run in progress, if any.
    pub fn current_run(&self) -> Option<Uuid> {
        self.state().run.as_ref().map(|r| r.id)
    }
}

/// Everything a run task carries.
struct RunCtx {
    session: Arc<Session>,
    run_id: Uuid,
    stop: Arc<StopSignal>,
    stdin: Option<mpsc::Receiver<StdinCommand>>,
    files: Vec<WorkspaceFile>,
    filename: String,
    timeout: Duration,
    phase: Phase,
    build_duration: Option<Duration>,
    run_started: Option<Instant>,
    output_limit: usize,
    output_bytes: usize,
    truncated: bool,
    decoders: [Utf8Decoder; 2],
    stdout: String,
    stderr: String,
}

impl RunCtx {
    /// Counts, caps, decodes and fans out one piece of output. False once over the cap.
    fn output(&mut self, stream: OutputStream, data: &[u8]) -> bool {
        let room = self.output_limit - self.output_bytes;
        let take = data.len().min(room);
        self.output_bytes += take;
        let index = stream as usize;
        let text = self.decoders[index].push(&data[..take]);
        self.emit_text(stream, text);
        if take < data.len() {
            self.truncated = true;
            return false;
        }
        true
    }

    fn emit_text(&mut self, stream: OutputStream, text: String) {
        match stream {
            OutputStream::Stdout => self.stdout.push_str(&text),
            OutputStream::Stderr => self.stderr.push_str(&text),
        }
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let mut end = rest.len().min(MAX_EVENT_TEXT);
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            let (piece, after) = rest.split_at(end);
            self.session.emit_locked(SessionEvent::Output {
                run_id: self.run_id,
                stream,
                phase: self.phase,
                data: piece.to_string(),
            });
            rest = after;
        }
    }

    /// A message from livecode itself, shown on stderr (not counted against the cap).
    fn notice(&mut self, text: &str) {
        self.emit_text(OutputStream::Stderr, format!("[livecode] {text}\n"));
    }
}

/// How one exec ended.
struct ExecEnd {
    stopped: Option<StopReason>,
    /// The build step failed: nothing was run.
    compile_failed: bool,
    exit_code: Option<i64>,
    oom: bool,
    /// The container went away under the run (killed, removed): its end says nothing about
    /// the program.
    lost: bool,
}

impl SessionRegistry {
    /// On server shutdown: stops every run in progress and waits until each is recorded, so
    /// none is left to its timeout or cut off unrecorded. Sessions and containers stay.
    pub async fn stop_runs_for_shutdown(&self) {
        let stoppers: Vec<Stopper> = self
            .shared
            .sessions
            .iter()
            .filter_map(|entry| entry.value().state().run.as_ref().map(|r| r.stopper()))
            .collect();
        if stoppers.is_empty() {
            return;
        }
        tracing::info!(
            runs = stoppers.len(),
            "stopping runs in progress for shutdown"
        );
        futures_util::future::join_all(
            stoppers
                .into_iter()
                .map(|s| s.stop(StopReason::ServerShutdown)),
        )
        .await;
    }

    /// Starts a run; refuses with `RUN_IN_PROGRESS` unless `restart`, which kills the current
    /// run first. The run goes on in the background; the handle waits for it.
    pub async fn start_run(
        &self,
        session: &Arc<Session>,
        req: RunRequest,
        by: Role,
    ) -> Result<RunHandle, SessionError> {
        let config = self.config();
        let max_timeout = config.run_timeout();
        let timeout = match req.timeout {
            Some(t) if t.is_zero() || t > max_timeout => {
                return Err(SessionError::InvalidArgument(format!(
                    "timeout_seconds must be between 1 and {}",
                    max_timeout.as_secs()
                )))
            }
            Some(t) => t,
            None => max_timeout,
        };
        let env = &session.environment;
        let filename = req
            .filename
            .clone()
            .unwrap_or_else(|| env.settings.filename.clone());
        validate_path(&filename).map_err(super::files::FilesError::from)?;

        let mut files = {
            let state = session.state();
            let mut files = state.files.clone();
            files.insert(env.settings.filename.clone(), state.doc.doc().to_string());
            files
        };
        if let Some(code) = req.code {
            files.insert(filename.clone(), code);
        }
        if let Some(extra) = req.files {
            files.extend(extra);
        }
        self.check_files(&files)?;
        self.engine_up()?;
        self.shared.quotas.check_run(session.id)?;

        let (stdin_tx, stdin_rx) = mpsc::channel(STDIN_QUEUE);
        if let Some(data) = req.stdin.filter(|d| !d.is_empty()) {
            stdin_tx
                .try_send(StdinCommand::Data(Bytes::from(data)))
                .expect("fresh channel has room");
        }
        if req.close_stdin {
            stdin_tx
                .try_send(StdinCommand::Eof)
                .expect("fresh channel has room");
        }
        let stop = Arc::new(StopSignal::default());
        let (done_tx, done_rx) = watch::channel(None);
        let run_id = Uuid::new_v4();

        // Take the one run slot, or stop the run holding it when asked to restart.
        loop {
            let holder = {
                let mut state = session.state();
                if state.status.is_ended() {
                    return Err(SessionError::Ended);
                }
                match &state.run {
                    Some(_) if !req.restart => return Err(SessionError::RunInProgress),
                    Some(run) => Some(run.stopper()),
                    None => {
                        state.run = Some(ActiveRun {
                            id: run_id,
                            stdin: stdin_tx.clone(),
                            stop: stop.clone(),
                            done: done_rx.clone(),
                        });
                        state.last_activity_at = Utc::now();
                        session.emit_locked(SessionEvent::RunStarted { run_id, by });
                        state.status = Status::Executing;
                        session.emit_locked(SessionEvent::Status(Status::Executing));
                        None
                    }
                }
            };
            match holder {
                Some(stopper) => stopper.stop(StopReason::Restarted).await,
                None => break,
            }
        }

        let ctx = RunCtx {
            session: session.clone(),
            run_id,
            stop,
            stdin: Some(stdin_rx),
            files: files
                .into_iter()
                .map(|(path, content)| WorkspaceFile {
                    path,
                    content: Bytes::from(content),
                })
                .collect(),
            filename,
            timeout,
            phase: Phase::Run,
            build_duration: None,
            run_started: None,
            output_limit: config.limits.output_limit_bytes,
            output_bytes: 0,
            truncated: false,
            decoders: Default::default(),
            stdout: String::new(),
            stderr: String::new(),
        };
        let this = self.clone();
        self.shared
            .tasks
            .spawn(async move { this.run_task(ctx, by, done_tx).await });
        Ok(RunHandle {
            run_id,
            done: done_rx,
        })
    }

    async fn run_task(
        &self,
        mut ctx: RunCtx,
        by: Role,
        done: watch::Sender<Option<Arc<RunOutcome>>>,
    ) {
        let session = ctx.session.clone();
        let started_at = Utc::now();
        let mut record = RunRecord {
            id: ctx.run_id.to_string(),
            session_id: session.id.to_string(),
            by_role: by.as_str().into(),
            started_at,
            finished_at: None,
            status: None,
            exit_code: None,
            duration_ms: None,
            build_ms: None,
            stdout: String::new(),
            stderr: String::new(),
            truncated: false,
        };
        if let Err(err) = self.shared.store.insert_run(&record).await {
            tracing::error!(session = %session.id, %err, "could not store the run");
        }

        let (status, exit_code) = match self.drive(&mut ctx).await {
            Ok(end) => (
                status_of(&end),
                end.exit_code.filter(|_| end.stopped.is_none()),
            ),
            Err(err) => {
                tracing::warn!(session = %session.id, run = %ctx.run_id, %err, "run failed");
                // What the sandbox said is the candidate's business when it is about their
                // files or program; anything else stays in the log.
                let why = match &err {
                    SessionError::Sandbox(
                        e @ (SandboxError::Workspace(_) | SandboxError::ExecFailed(_)),
                    ) => e.to_string(),
                    other => other.to_string(),
                };
                ctx.notice(&format!("the run could not be started: {why}"));
                (RunStatus::Error, None)
            }
        };
        let duration = ctx.run_started.map(|t| t.elapsed()).unwrap_or_default();
        let build_ms = ctx.build_duration.map(|d| d.as_millis() as u64);
        for stream in [OutputStream::Stdout, OutputStream::Stderr] {
            let rest = ctx.decoders[stream as usize].finish();
            ctx.emit_text(stream, rest);
        }
        let finished_at = Utc::now();
        let outcome = Arc::new(RunOutcome {
            run_id: ctx.run_id,
            status,
            exit_code,
            duration,
            build_duration: ctx.build_duration,
            stdout: std::mem::take(&mut ctx.stdout),
            stderr: std::mem::take(&mut ctx.stderr),
            truncated: ctx.truncated,
        });
        let duration_ms = duration.as_millis() as u64;
        let session_status = {
            let mut state = session.state();
            // Free the slot before telling anyone, so a `run` sent on seeing `run_finished`
            // is never refused.
            state.run = None;
            state.last_activity_at = finished_at;
            state.last_execution = Some(RunSummary {
                run_id: ctx.run_id,
                status,
                exit_code,
                duration_ms,
                build_ms,
                truncated: outcome.truncated,
                started_at,
                finished_at,
            });
            session.emit_locked(SessionEvent::RunFinished {
                run_id: ctx.run_id,
                exit_code,
                status,
                duration_ms,
                build_ms,
                truncated: outcome.truncated,
            });
            if state.status == Status::Executing {
                state.status = Status::Ready;
                session.emit_locked(SessionEvent::Status(Status::Ready));
            }
            state.status
        };
        let _ = done.send(Some(outcome.clone()));

        record.finished_at = Some(finished_at);
        record.status = Some(status.as_str().into());
        record.exit_code = exit_code;
        record.duration_ms = Some(duration_ms);
        record.build_ms = build_ms;
        record.stdout = outcome.stdout.clone();
        record.stderr = outcome.stderr.clone();
        record.truncated = outcome.truncated;
        if let Err(err) = self
            .shared
            .store
            .finish_run(&record, self.config().sessions.runs_kept_in_full)
            .await
        {
            tracing::error!(session = %session.id, %err, "could not store the run's result");
        }
        if !session_status.is_ended() {
            self.persist_state(&session, session_status, None).await;
        }
    }

    /// Builds (if the language compiles) and runs, re-creating the container once if it died.
    async fn drive(&self, ctx: &mut RunCtx) -> Result<ExecEnd, SessionError> {
        let session = ctx.session.clone();
        let env = session.environment.clone();
        let run_command = env.run_command(&ctx.filename);
        let build_command = env.build_command(&ctx.filename);
        let build_timeout = Duration::from_secs(
            env.settings
                .build_timeout_seconds
                .unwrap_or(self.config().limits.build_timeout_seconds),
        );

        let mut retried = false;
        loop {
            let container = self.ensure_container(&session).await?;
            let result = async {
                let mut files = ctx.files.clone();
                if let Some(build) = &build_command {
                    ctx.phase = Phase::Build;
                    let spec = ExecSpec {
                        files: std::mem::take(&mut files),
                        command: build.clone(),
                        env: Default::default(),
                    };
                    let started = Instant::now();
                    let exec = self.sandbox().exec(&container, spec).await?;
                    let deadline = tokio::time::Instant::now() + build_timeout;
                    let end = self.pump(ctx, &container, exec, deadline, false).await;
                    ctx.build_duration = Some(started.elapsed());
                    if end.stopped.is_some() {
                        return Ok(end);
                    }
                    if end.exit_code != Some(0) {
                        return Ok(ExecEnd {
                            compile_failed: true,
                            ..end
                        });
                    }
                }
                ctx.phase = Phase::Run;
                let spec = ExecSpec {
                    files,
                    command: run_command.clone(),
                    env: Default::default(),
                };
                ctx.run_started = Some(Instant::now());
                let exec = self.sandbox().exec(&container, spec).await?;
                let deadline = tokio::time::Instant::now() + ctx.timeout;
                Ok(self.pump(ctx, &container, exec, deadline, true).await)
            }
            .await;
            match result {
                // The program never started (e.g. every pid taken by what an earlier run left):
                // clear the sandbox and try once more; nothing of the program ran, so no effect
                // happens twice.
                Err(SandboxError::ExecFailed(why)) if !retried => {
                    tracing::warn!(session = %session.id, %why, "the runner could not start; clearing the sandbox");
                    let cleared = self.sandbox().kill_run_processes(&container).await;
                    self.report_kill(ctx, cleared);
                    retried = true;
                }
                Err(err) if !retried && SessionRegistry::container_gone(&err) => {
                    tracing::warn!(session = %session.id, %err, "container is gone; making a new one");
                    self.forget_container(&session, &container).await;
                    ctx.notice("the sandbox had stopped and was re-created; files written by earlier runs are gone");
                    retried = true;
                }
                Err(err) => return Err(SessionError::Sandbox(err)),
                Ok(end) => return Ok(end),
            }
        }
    }

    /// Streams one exec's output until it ends, enforcing the deadline, the output cap and stop
    /// requests; forwards stdin when `interactive`.
    async fn pump(
        &self,
        ctx: &mut RunCtx,
        container: &SandboxId,
        exec: Execution,
        deadline: tokio::time::Instant,
        interactive: bool,
    ) -> ExecEnd {
        let Execution {
            output,
            mut stdin,
            exit,
        } = exec;
        // The build step gets no stdin: what was typed waits in the queue for the program.
        let queued = if interactive { ctx.stdin.take() } else { None };
        let writer = match queued {
            Some(mut rx) => Some(tokio::spawn(async move {
                while let Some(command) = rx.recv().await {
                    let ok = match command {
                        StdinCommand::Data(bytes) => {
                            stdin.write_all(&bytes).await.is_ok() && stdin.flush().await.is_ok()
                        }
                        StdinCommand::Eof => {
                            let _ = stdin.shutdown().await;
                            false
                        }
                    };
                    if !ok {
                        break;
                    }
                }
                // Keep the pipe open until the run ends: dropping it would send EOF.
                std::future::pending::<()>().await;
            })),
            None => {
                let _ = stdin.shutdown().await;
                None
            }
        };

        let mut output = output.ready_chunks(COALESCE_CHUNKS);
        let mut stopped: Option<StopReason> = None;
        // The kill runs beside the loop, which keeps draining output: Docker 20.10 does not
        // finish any exec of a container while another exec's output sits unread.
        let mut kill = futures_util::future::Fuse::terminated();
        let mut killed = false;
        let drain = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(drain);
        let timeout = tokio::time::sleep_until(deadline);
        tokio::pin!(timeout);
        loop {
            let reason = tokio::select! {
                biased;
                _ = ctx.stop.token.cancelled(), if stopped.is_none() => {
                    ctx.stop.reason().unwrap_or(StopReason::Killed)
                }
                _ = &mut timeout, if stopped.is_none() => StopReason::Timeout,
                result = &mut kill => {
                    killed = true;
                    self.report_kill(ctx, result);
                    continue;
                }
                _ = &mut drain, if stopped.is_some() => {
                    tracing::warn!(session = %ctx.session.id, "output did not end after the kill");
                    break;
                }
                batch = output.next() => {
                    let Some(batch) = batch else { break };
                    if stopped.is_some() {
                        continue; // stopping: discard what was still in flight
                    }
                    match self.take_output(ctx, batch) {
                        Ok(true) => continue,
                        Ok(false) => StopReason::OutputLimit,
                        Err(err) => {
                            tracing::warn!(session = %ctx.session.id, %err, "output stream failed");
                            break;
                        }
                    }
                }
            };
            stopped = Some(reason);
            ctx.stop.request(reason);
            if reason == StopReason::ServerShutdown {
                ctx.notice("the server is restarting: the run was stopped");
            }
            kill = self.sandbox().kill_run_processes(container).fuse();
            drain
                .as_mut()
                .reset(tokio::time::Instant::now() + DRAIN_AFTER_KILL);
        }
        if stopped.is_some() && !killed {
            match tokio::time::timeout(DRAIN_AFTER_KILL, &mut kill).await {
                Ok(result) => self.report_kill(ctx, result),
                Err(_) => {
                    tracing::warn!(session = %ctx.session.id, "the kill did not finish in time")
                }
            }
        }
        if let Some(writer) = writer {
            writer.abort();
        }
        let exit = tokio::time::timeout(Duration::from_secs(10), exit).await;
        let (exit_code, oom) = match exit {
            Ok(Ok(status)) => (status.code, status.oom),
            Ok(Err(err)) => {
                tracing::warn!(session = %ctx.session.id, %err, "could not read the exit code");
                (None, false)
            }
            Err(_) => (None, false),
        };
        let stopped = stopped.or_else(|| ctx.stop.reason());
        // A SIGKILL nobody here sent, or no exit code at all: was it the container that went?
        let lost = stopped.is_none()
            && !oom
            && matches!(exit_code, None | Some(137))
            && !matches!(self.sandbox().is_running(container).await, Ok(true));
        if lost {
            ctx.notice("the sandbox was lost during the run (killed or removed); a new one is being made and the session's files will be put back");
        }
        ExecEnd {
            compile_failed: false,
            stopped,
            exit_code,
            oom,
            lost,
        }
    }

    fn report_kill(&self, ctx: &mut RunCtx, result: Result<KillOutcome, SandboxError>) {
        match result {
            Ok(KillOutcome::Killed) => {}
            Ok(KillOutcome::Restarted) => ctx.notice(
                "the sandbox had to be restarted to stop the program; files written by earlier runs are gone",
            ),
            Err(err) => tracing::warn!(session = %ctx.session.id, %err, "could not kill the run"),
        }
    }

    /// Takes a batch of chunks that were ready together, merging neighbours of one stream.
    fn take_output(
        &self,
        ctx: &mut RunCtx,
        batch: Vec<Result<OutputChunk, SandboxError>>,
    ) -> Result<bool, SandboxError> {
        let mut current: Option<(OutputStream, Vec<u8>)> = None;
        for item in batch {
            let chunk = item?;
            match &mut current {
                Some((stream, buf)) if *stream == chunk.stream => {
                    buf.extend_from_slice(&chunk.data)
                }
                _ => {
                    if let Some((stream, buf)) = current.take() {
                        if !ctx.output(stream, &buf) {
                            return Ok(false);
                        }
                    }
                    current = Some((chunk.stream, chunk.data.to_vec()));
                }
            }
        }
        Ok(match current {
            Some((stream, buf)) => ctx.output(stream, &buf),
            None => true,
        })
    }
}

fn status_of(end: &ExecEnd) -> RunStatus {
    match end.stopped {
        Some(StopReason::Timeout) => RunStatus::Timeout,
        Some(StopReason::OutputLimit) => RunStatus::OutputLimit,
        Some(StopReason::ServerShutdown) => RunStatus::Error,
        Some(StopReason::Killed | StopReason::Restarted | StopReason::SessionEnded) => {
            RunStatus::Killed
        }
        None if end.lost => RunStatus::Error,
        None if end.oom => RunStatus::Oom,
        None if end.compile_failed => RunStatus::CompileError,
        None => RunStatus::Completed,
    }
}

/// The stored form of a finished run, back as a summary.
pub(super) fn summary_from_record(record: RunRecord) -> Option<RunSummary> {
    let status = serde_json::from_value(serde_json::Value::String(record.status?)).ok()?;
    Some(RunSummary {
        run_id: Uuid::parse_str(&record.id).ok()?,
        status,
        exit_code: record.exit_code,
        duration_ms: record.duration_ms.unwrap_or(0),
        build_ms: record.build_ms,
        truncated: record.truncated,
        started_at: record.started_at,
        finished_at: record.finished_at?,
    })
}
