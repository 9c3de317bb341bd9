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
//! - `status`: what the runner's account and the server's stop make of a run's status.
//!
//! Data flows one way: socket or REST → here → the session's container and runner
//! (`container`) → the sandbox → events.

mod control;
mod output;
mod pump;
mod request;
mod status;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use livecode_runner::path::WorkspacePath;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::container::Containers;
use super::events::RunStarted;
use super::slot::{Claim, SlotGuard, Taken};
use super::{RunResult, RunStatus, RunSummary, Session, SessionError, SessionEvent, Status};
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
    pub filename: Option<WorkspacePath>,
    /// Extra files for this run, beside the session's own.
    pub files: Option<BTreeMap<WorkspacePath, String>>,
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

/// A started run: wait for it to end.
#[derive(Debug)]
pub struct RunHandle {
    pub run_id: Uuid,
    by: Role,
    started_at: DateTime<Utc>,
    done: watch::Receiver<Option<Arc<RunResult>>>,
}

impl RunHandle {
    /// Resolves when the run has ended.
    pub async fn wait(mut self) -> Arc<RunResult> {
        loop {
            if let Some(result) = self.done.borrow_and_update().clone() {
                return result;
            }
            if self.done.changed().await.is_err() {
                // The run task is gone without a result: only on shutdown.
                return Arc::new(RunResult {
                    by: self.by,
                    summary: summary_of(self.run_id, self.started_at, RunStatus::Error),
                    stdout: String::new(),
                    stderr: "the server shut down during the run\n".into(),
                });
            }
        }
    }
}

/// Everything a run task carries.
struct RunCtx {
    session: Arc<Session>,
    run_id: Uuid,
    by: Role,
    started_at: DateTime<Utc>,
    stop: Arc<StopSignal>,
    stdin: Option<mpsc::Receiver<StdinCommand>>,
    plan: Plan,
    output: output::Output,
    /// The request's own code (not the document's), for the history.
    code: Option<String>,
}

impl RunCtx {
    /// The run's summary when nothing is known of its end but `status`.
    fn summary(&self, status: RunStatus) -> RunSummary {
        summary_of(self.run_id, self.started_at, status)
    }

    /// The run's result, once its end is known: the output flushed, and when it ended.
    fn result(&mut self, mut summary: RunSummary) -> RunResult {
        let (stdout, stderr) = self.output.finish();
        summary.finished_at = Utc::now();
        summary.truncated |= self.output.truncated;
        RunResult {
            by: self.by,
            summary,
            stdout,
            stderr,
        }
    }
}

/// A summary of a run of which nothing is known but `status` (it could not start, was cut
/// short, or its task is gone): ending now.
fn summary_of(run_id: Uuid, started_at: DateTime<Utc>, status: RunStatus) -> RunSummary {
    RunSummary {
        run_id,
        status,
        exit_code: None,
        duration_ms: 0,
        build_ms: None,
        build_cached: false,
        truncated: false,
        started_at,
        finished_at: Utc::now(),
    }
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
    mut req: RunRequest,
    by: Role,
) -> Result<RunHandle, SessionError> {
    let (stdin_tx, stdin_rx) = stdin_queue(req.stdin.take(), req.close_stdin);
    let stop = Arc::new(StopSignal::default());
    let (done_tx, done_rx) = watch::channel(None);
    let run_id = Uuid::new_v4();
    let active = ActiveRun {
        id: run_id,
        stdin: stdin_tx,
        stop: stop.clone(),
        done: done_rx.clone(),
    };
    let limit = session.ctx.config.limits.output_limit_bytes;
    // All of the output, and room for what participants type.
    let taken = take_slot(session, active, &req, by, limit + TRANSCRIPT_INPUT_BYTES).await?;
    let slot = SlotGuard::new(session.clone(), taken);
    let mut output = output::Output::new(session.clone(), run_id, limit);
    output.quiet = req.quiet;
    let ctx = RunCtx {
        output,
        session: session.clone(),
        run_id,
        by,
        started_at: Utc::now(),
        stop,
        stdin: Some(stdin_rx),
        plan,
        code: req.code,
    };
    let handle = RunHandle {
        run_id,
        by,
        started_at: ctx.started_at,
        done: done_rx,
    };
    let c = containers.clone();
    // The run's log lines carry the request's id (REST) or the socket's (run message).
    let span = tracing::Span::current();
    session.ctx.tasks.spawn(tracing::Instrument::instrument(
        async move { run_task(&c, ctx, slot, done_tx).await },
        span,
    ));
    Ok(handle)
}

/// The run's stdin queue, holding what the request sends at once.
fn stdin_queue(
    data: Option<String>,
    close: bool,
) -> (mpsc::Sender<StdinCommand>, mpsc::Receiver<StdinCommand>) {
    let (tx, rx) = mpsc::channel(STDIN_QUEUE);
    if let Some(data) = data.filter(|d| !d.is_empty()) {
        tx.try_send(StdinCommand::Data(Bytes::from(data)))
            .expect("fresh channel has room");
    }
    if close {
        tx.try_send(StdinCommand::Eof)
            .expect("fresh channel has room");
    }
    (tx, rx)
}

/// Takes the run slot for `active` (a test case's place in its test run when `req.quiet`),
/// first stopping the run holding it when `req.restart`; tells everyone the run started.
async fn take_slot(
    session: &Arc<Session>,
    active: ActiveRun,
    req: &RunRequest,
    by: Role,
    transcript_limit: usize,
) -> Result<Taken, SessionError> {
    let run_id = active.id;
    let claim = if req.quiet {
        Claim::Case(active)
    } else {
        Claim::Run(active)
    };
    loop {
        let holder = {
            let mut state = session.state();
            match state.slot.try_take(claim.clone()) {
                Ok(taken) => {
                    state.last_activity_at = Utc::now();
                    if !req.quiet {
                        Session::begin_transcript(&mut state, run_id, by, transcript_limit);
                        session.publish_locked(SessionEvent::RunStarted(RunStarted { run_id, by }));
                    }
                    // A test case's run says nothing: its test run is already `executing`, and
                    // a status per case would time hidden cases for every socket.
                    if let Some(status) = taken.status {
                        session.publish_locked(SessionEvent::Status(status));
                    }
                    return Ok(taken);
                }
                Err(SessionError::RunInProgress) if req.restart => match state.slot.own_run() {
                    Some(run) => run.stopper(),
                    None => return Err(SessionError::RunInProgress),
                },
                Err(err) => return Err(err),
            }
        };
        holder.stop(StopReason::Restarted).await;
    }
}

async fn run_task(
    c: &Containers,
    mut ctx: RunCtx,
    slot: SlotGuard,
    done: watch::Sender<Option<Arc<RunResult>>>,
) {
    let session = ctx.session.clone();
    let quiet = ctx.output.quiet;
    if !quiet {
        let record = RunRecord {
            id: ctx.run_id,
            session_id: session.id,
            by_role: ctx.by,
            started_at: ctx.started_at,
            code: ctx.code.take(),
            result: None,
        };
        session.store_run(&record).await;
    }
    let summary = match pump::drive(c, &mut ctx).await {
        Ok(summary) => summary,
        Err(err) => {
            tracing::warn!(session = %session.id, run = %ctx.run_id, %err, "run failed");
            ctx.output
                .notice(&format!("the run could not be started: {err}"));
            ctx.summary(RunStatus::Error)
        }
    };
    let result = Arc::new(ctx.result(summary));
    // Stored before anyone hears of the end (its event is recorded as it is published), so
    // whoever reads the history on `run_finished` (or on the answer of `POST /execute`) finds
    // the run there.
    if !quiet {
        session.store_run_result(&result).await;
    }
    // In a cluster its audit event is stored before it is told too: the webhook's outbox
    // must survive the loss of this replica right after.
    let stored = !quiet && session.stores_before_telling();
    let event = SessionEvent::RunFinished(result.clone());
    if stored {
        session.record_stored(&event).await;
    }
    let session_status = finished(&session, slot, event, quiet, stored);
    let summary = &result.summary;
    tracing::debug!(
        session = %session.id,
        run = %summary.run_id,
        status = summary.status.as_str(),
        ms = summary.duration_ms,
        "run finished"
    );
    crate::metrics::run_finished(
        &session.environment().name,
        summary.status.as_str(),
        ctx.output.first_output.map(|t| t - ctx.output.requested),
        Duration::from_millis(summary.duration_ms),
        summary.build_cached,
    );
    let _ = done.send(Some(result));
    if quiet {
        // The test run persists the session's status when it is done.
        return;
    }
    if !session_status.is_ended() {
        session.persist_state(session_status, None).await;
    }
}

/// The run is over: frees the slot and tells everyone (the audit trail first), under the
/// state lock; answers the session's status after it. A quiet run only frees the slot (its test run goes on).
fn finished(
    session: &Session,
    slot: SlotGuard,
    event: SessionEvent,
    quiet: bool,
    recorded: bool,
) -> Status {
    let SessionEvent::RunFinished(result) = &event else {
        unreachable!("a run's end")
    };
    let mut state = session.state();
    // Free the slot before telling anyone, so a `run` sent on seeing `run_finished` is never
    // refused.
    let status = slot.release_locked(&mut state);
    state.last_activity_at = result.summary.finished_at;
    if quiet {
        return state.status();
    }
    state.transcript = None;
    state.last_execution = Some(result.summary.clone());
    if recorded {
        session.tell_locked(event);
    } else {
        session.publish_locked(event);
    }
    if let Some(status) = status {
        session.publish_locked(SessionEvent::Status(status));
    }
    state.status()
}
