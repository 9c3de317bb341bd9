//! One run at a time per session. A run's files and commands go to the session's runner in
//! one request; its output comes back as it is produced and is fanned out to every
//! participant; stdin, kills and stops go the same way. The runner enforces the timeout, the
//! output cap and the cleanup; this module decides what a run's end means and records it.
//!
//! # Layout
//! - `control`: the session's handle on its run in progress: stdin, kills, stops.
//! - `request`: the request checked and turned into a [`Plan`](request::Plan) (pure).
//! - `output`: counting, decoding and cutting output into events.
//! - `pump`: one run's conversation with the runner.
//!
//! Data flows one way: socket or REST → here → the session's container and runner
//! (`container`) → the sandbox → events.

mod control;
mod output;
mod pump;
mod request;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::container::Containers;
use super::events::{RunFinished, RunStarted};
use super::slot::{Claim, Slot, SlotGuard};
use super::{RunStatus, RunSummary, Session, SessionError, SessionEvent, Status};
use crate::auth::Role;
use crate::store::RunRecord;

pub(super) use control::ActiveRun;
pub use control::StdinError;
use control::{StdinCommand, StopSignal};
pub(super) use control::{StopReason, Stopper};
pub(super) use request::Plan;

/// Stdin messages that may wait for a program that does not read.
const STDIN_QUEUE: usize = 256;
/// What a run's transcript keeps of typed input, beside all of its output.
const TRANSCRIPT_INPUT_BYTES: usize = 256 * 1024;

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
    /// A test case's run: the session hears that something runs (its status), not what;
    /// the run is not the session's last execution, nor a run of its history (its test
    /// report keeps it).
    pub quiet: bool,
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
    /// The build was not run: its outputs came from the container's build cache.
    pub build_cached: bool,
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
                    build_cached: false,
                    stdout: String::new(),
                    stderr: "the server shut down during the run\n".into(),
                    truncated: false,
                });
            }
        }
    }
}

/// Everything a run task carries.
struct RunCtx {
    session: Arc<Session>,
    run_id: Uuid,
    stop: Arc<StopSignal>,
    stdin: Option<mpsc::Receiver<StdinCommand>>,
    plan: Plan,
    output: output::Output,
    /// The request's own code (not the document's), for the history.
    code: Option<String>,
}

/// The run `req` asks for, against the session's files and document as they are now.
pub(super) fn plan_for(
    session: &Session,
    req: &RunRequest,
    limits: &crate::config::Limits,
) -> Result<Plan, SessionError> {
    let (files, document, environment) = {
        let state = session.state();
        (
            state.files.clone(),
            state.doc.doc().to_string(),
            state.environment.clone(),
        )
    };
    request::plan(req, &environment, &files, &document, limits)
}

/// Starts a planned run; refuses with `RUN_IN_PROGRESS` unless `req.restart`, which stops the
/// current run first. The run goes on in the background; the handle waits for it.
pub(super) async fn start(
    containers: &Containers,
    session: &Arc<Session>,
    plan: Plan,
    req: RunRequest,
    by: Role,
) -> Result<RunHandle, SessionError> {
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
    // All of the output, and room for what participants type.
    let transcript_limit = containers.config.limits.output_limit_bytes + TRANSCRIPT_INPUT_BYTES;

    // Take the one run slot, or stop the run holding it when asked to restart.
    let active = ActiveRun {
        id: run_id,
        stdin: stdin_tx,
        stop: stop.clone(),
        done: done_rx.clone(),
    };
    let claim = if req.quiet {
        Claim::Case(active)
    } else {
        Claim::Run(active)
    };
    let taken = loop {
        let holder = {
            let mut state = session.state();
            match state.try_take(claim.clone()) {
                Ok(taken) => {
                    state.last_activity_at = Utc::now();
                    if !req.quiet {
                        Session::begin_transcript(&mut state, run_id, by, transcript_limit);
                        session.emit_locked(SessionEvent::RunStarted(RunStarted { run_id, by }));
                    }
                    // A test case's run says nothing: its test run is already `executing`, and
                    // a status per case would time hidden cases for every socket.
                    if let Some(status) = taken.status {
                        session.emit_locked(SessionEvent::Status(status));
                    }
                    break taken;
                }
                Err(SessionError::RunInProgress) if req.restart => match &state.slot {
                    Slot::Run(run) => run.stopper(),
                    _ => return Err(SessionError::RunInProgress),
                },
                Err(err) => return Err(err),
            }
        };
        holder.stop(StopReason::Restarted).await;
    };
    let slot = SlotGuard::new(session.clone(), taken);

    let mut output = output::Output::new(
        session.clone(),
        run_id,
        containers.config.limits.output_limit_bytes,
    );
    output.quiet = req.quiet;
    let ctx = RunCtx {
        output,
        session: session.clone(),
        run_id,
        stop,
        stdin: Some(stdin_rx),
        plan,
        code: req.code.clone(),
    };
    let c = containers.clone();
    // The run's log lines carry the request's id (REST) or the socket's (run message).
    let span = tracing::Span::current();
    containers.tasks.spawn(tracing::Instrument::instrument(
        async move { run_task(&c, ctx, slot, by, done_tx).await },
        span,
    ));
    Ok(RunHandle {
        run_id,
        done: done_rx,
    })
}

async fn run_task(
    c: &Containers,
    mut ctx: RunCtx,
    slot: SlotGuard,
    by: Role,
    done: watch::Sender<Option<Arc<RunOutcome>>>,
) {
    let session = ctx.session.clone();
    let started_at = Utc::now();
    let mut record = RunRecord {
        id: ctx.run_id,
        session_id: session.id,
        by_role: by,
        started_at,
        finished_at: None,
        status: None,
        exit_code: None,
        duration_ms: None,
        build_ms: None,
        stdout: String::new(),
        stderr: String::new(),
        truncated: false,
        code: ctx.code.take(),
    };
    let quiet = ctx.output.quiet;
    if !quiet {
        if let Err(err) = c.store.insert_run(&record).await {
            tracing::error!(session = %session.id, %err, "could not store the run");
        }
    }

    let ended = match pump::drive(c, &mut ctx).await {
        Ok(ended) => ended,
        Err(err) => {
            tracing::warn!(session = %session.id, run = %ctx.run_id, %err, "run failed");
            ctx.output
                .notice(&format!("the run could not be started: {err}"));
            pump::Ended::error()
        }
    };
    let (stdout, stderr) = ctx.output.finish();
    let finished_at = Utc::now();
    let duration = Duration::from_millis(ended.run_ms.unwrap_or(0));
    let outcome = Arc::new(RunOutcome {
        run_id: ctx.run_id,
        status: ended.status,
        exit_code: ended.exit_code,
        duration,
        build_duration: ended.build_ms.map(Duration::from_millis),
        build_cached: ended.build_cached,
        stdout,
        stderr,
        truncated: ctx.output.truncated || ended.truncated,
    });
    // Stored (and its event recorded) before anyone hears of the end, so whoever reads the
    // history on `run_finished` (or on the answer of `POST /execute`) finds the run there.
    if !quiet {
        record.finished_at = Some(finished_at);
        record.status = Some(ended.status);
        record.exit_code = ended.exit_code;
        record.duration_ms = Some(outcome.duration.as_millis() as u64);
        record.build_ms = ended.build_ms;
        record.stdout = outcome.stdout.clone();
        record.stderr = outcome.stderr.clone();
        record.truncated = outcome.truncated;
        if let Err(err) = c
            .store
            .finish_run(&record, c.config.sessions.runs_kept_in_full)
            .await
        {
            tracing::error!(session = %session.id, %err, "could not store the run's result");
        }
        c.events.record(
            session.id,
            "run.finished",
            serde_json::json!({
                "run_id": outcome.run_id,
                "by": by.as_str(),
                "status": outcome.status.as_str(),
                "exit_code": outcome.exit_code,
                "duration_ms": outcome.duration.as_millis() as u64,
                "build_ms": ended.build_ms,
                "build_cached": outcome.build_cached,
                "truncated": outcome.truncated,
            }),
        );
    }
    let session_status = finished(
        &session,
        slot,
        &outcome,
        ended.build_ms,
        (started_at, finished_at),
        quiet,
    );
    tracing::debug!(
        session = %session.id,
        run = %outcome.run_id,
        status = outcome.status.as_str(),
        ms = outcome.duration.as_millis() as u64,
        "run finished"
    );
    crate::metrics::run_finished(
        &session.environment().name,
        outcome.status.as_str(),
        ctx.output.first_output.map(|t| t - ctx.output.requested),
        outcome.duration,
        outcome.build_cached,
    );
    let _ = done.send(Some(outcome.clone()));
    if quiet {
        // The test run persists the session's status when it is done.
        return;
    }

    if !session_status.is_ended() {
        c.persist_state(&session, session_status, None).await;
    }
}

/// The run is over: frees the slot and tells everyone, under the state lock; answers the
/// session's status after it. A quiet run only frees the slot (its test run goes on).
fn finished(
    session: &Session,
    slot: SlotGuard,
    outcome: &RunOutcome,
    build_ms: Option<u64>,
    (started_at, finished_at): (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
    quiet: bool,
) -> Status {
    let duration_ms = outcome.duration.as_millis() as u64;
    let mut state = session.state();
    // Free the slot before telling anyone, so a `run` sent on seeing `run_finished` is never
    // refused.
    let status = slot.release_locked(&mut state);
    state.last_activity_at = finished_at;
    if quiet {
        return state.status();
    }
    state.transcript = None;
    state.last_execution = Some(RunSummary {
        run_id: outcome.run_id,
        status: outcome.status,
        exit_code: outcome.exit_code,
        duration_ms,
        build_ms,
        build_cached: outcome.build_cached,
        truncated: outcome.truncated,
        started_at,
        finished_at,
    });
    session.emit_locked(SessionEvent::RunFinished(RunFinished {
        run_id: outcome.run_id,
        exit_code: outcome.exit_code,
        status: outcome.status,
        duration_ms,
        build_ms,
        build_cached: outcome.build_cached,
        truncated: outcome.truncated,
    }));
    if let Some(status) = status {
        session.emit_locked(SessionEvent::Status(status));
    }
    state.status()
}

/// The stored form of a finished run, back as a summary.
pub(super) fn summary_from_record(record: RunRecord) -> Option<RunSummary> {
    let status = record.status?;
    Some(RunSummary {
        run_id: record.id,
        status,
        exit_code: record.exit_code,
        duration_ms: record.duration_ms.unwrap_or(0),
        build_ms: record.build_ms,
        // Not stored: a build that ran takes at least a millisecond.
        build_cached: record.build_ms == Some(0),
        truncated: record.truncated,
        started_at: record.started_at,
        finished_at: record.finished_at?,
    })
}
