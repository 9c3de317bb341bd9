//! A test run: every case of the session's question, one after another, each a quiet run in
//! the session's container (the same engine as any run: the build cache makes every case after
//! the first skip the build). The run slot is held from the first case to the report; each
//! case's result goes out as it is known, the report at the end, and the report is stored.
//! Hidden cases run after the visible ones, and sockets that may not see them hear nothing of
//! them until the report's count (not even a status), so only the run's total time is left
//! to tell anything about them (docs/protocol.md).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use uuid::Uuid;

use super::container::Containers;
use super::events::TestsStarted;
use super::run::{self, RunRequest};
use super::slot::{Claim, SlotGuard};
use super::{RunStatus, Session, SessionError, SessionEvent};
use crate::auth::Role;
use crate::questions::{
    clip, output_matches, CaseResult, Question, TestCase, TestReport, Verdict, RESULT_OUTPUT_BYTES,
};

/// A started test run: wait for its report.
#[derive(Debug)]
pub struct TestsHandle {
    pub tests_id: Uuid,
    done: watch::Receiver<Option<Arc<TestReport>>>,
}

impl TestsHandle {
    /// The report, once every case is done; `None` if the server shut down first.
    pub async fn wait(mut self) -> Option<Arc<TestReport>> {
        loop {
            if let Some(report) = self.done.borrow_and_update().clone() {
                return Some(report);
            }
            self.done.changed().await.ok()?;
        }
    }
}

/// Takes the run slot for a test run of `question` against `code` (`None`: the document as
/// it is now) and starts it in the background.
pub(super) fn start(
    c: &Containers,
    session: &Arc<Session>,
    question: Question,
    code: Option<String>,
    by: Role,
) -> Result<TestsHandle, SessionError> {
    let tests_id = Uuid::new_v4();
    // The code as it is now is what every case runs (edits during the run change nothing).
    let (taken, code) = {
        let mut state = session.state();
        let taken = state.slot.try_take(Claim::Tests(tests_id))?;
        state.last_activity_at = Utc::now();
        session.publish_locked(SessionEvent::TestsStarted(TestsStarted {
            tests_id,
            by,
            total: question.cases.len(),
        }));
        if let Some(status) = taken.status {
            session.publish_locked(SessionEvent::Status(status));
        }
        (taken, code.unwrap_or_else(|| state.doc.doc().to_string()))
    };
    let slot = SlotGuard::new(session.clone(), taken);
    let (done_tx, done_rx) = watch::channel(None);
    let (c2, session2) = (c.clone(), session.clone());
    let span = tracing::Span::current();
    session.ctx.tasks.spawn(tracing::Instrument::instrument(
        async move {
            let report = run_all(&c2, &session2, slot, &question, tests_id, by, code).await;
            let _ = done_tx.send(Some(report));
        },
        span,
    ));
    Ok(TestsHandle {
        tests_id,
        done: done_rx,
    })
}

async fn run_all(
    c: &Containers,
    session: &Arc<Session>,
    slot: SlotGuard,
    question: &Question,
    tests_id: Uuid,
    by: Role,
    code: String,
) -> Arc<TestReport> {
    let started_at = Utc::now();
    let mut results = run_cases(c, session, question, &code, by).await;
    // The report lists the cases in the question's order.
    results.sort_by_key(|r| r.index);
    let report = Arc::new(TestReport {
        tests_id,
        question_id: question.question_id,
        by,
        started_at,
        finished_at: Utc::now(),
        passed: results
            .iter()
            .filter(|r| r.verdict == Verdict::Passed)
            .count(),
        total: results.len(),
        results,
        summary_only: false,
    });
    // Stored before it is announced, so a page loaded on `tests_finished` finds it.
    session.store_test_report(&report).await;
    let status = {
        let mut state = session.state();
        let status = slot.release_locked(&mut state);
        state.last_activity_at = Utc::now();
        session.publish_locked(SessionEvent::TestsFinished(report.clone()));
        if let Some(status) = status {
            session.publish_locked(SessionEvent::Status(status));
        }
        state.status()
    };
    if !status.is_ended() {
        session.persist_state(status, None).await;
    }
    report
}

/// Runs the question's cases one after another, each result told as it is known; after a
/// stop, a failed build or a case the session could not run, the rest are not run. Answers
/// the results in the order they ran.
async fn run_cases(
    c: &Containers,
    session: &Arc<Session>,
    question: &Question,
    code: &str,
    by: Role,
) -> Vec<CaseResult> {
    let mut results = Vec::with_capacity(question.cases.len());
    let mut stop: Option<&'static str> = None;
    // Visible cases first, then the hidden ones: candidates hear nothing between the last
    // visible result and the report, so no gap between results times a hidden case.
    let order = question
        .cases
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.hidden)
        .chain(question.cases.iter().enumerate().filter(|(_, c)| c.hidden));
    for (index, case) in order {
        if stop.is_none() {
            if session
                .ctx
                .stopping
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                stop = Some("the server is shutting down");
            } else if session.state().slot.tests_stopped() {
                stop = Some("the test run was stopped");
            }
        }
        let result = match stop {
            Some(why) => not_run(index, case, why),
            None => {
                let result = run_case(c, session, index, case, code, by).await;
                stop = match result.verdict {
                    Verdict::CompileError => Some("the build failed"),
                    _ if result.status == Some(RunStatus::Killed) => {
                        Some("the test run was stopped")
                    }
                    Verdict::NotRun => Some("the session could not run it"),
                    _ => None,
                };
                result
            }
        };
        let result = Arc::new(result);
        session.publish(SessionEvent::TestResult(result.clone()));
        results.push(Arc::unwrap_or_clone(result));
    }
    results
}

async fn run_case(
    c: &Containers,
    session: &Arc<Session>,
    index: usize,
    case: &TestCase,
    code: &str,
    by: Role,
) -> CaseResult {
    let req = RunRequest {
        code: Some(code.to_string()),
        stdin: Some(case.stdin.clone()),
        close_stdin: true,
        timeout: Some(Duration::from_secs_f64(case.time_limit_seconds)),
        quiet: true,
        ..Default::default()
    };
    let started = match run::plan_for(session, &req, &session.ctx.config.limits) {
        Ok(plan) => run::start(c, session, plan, req, by).await,
        Err(err) => Err(err),
    };
    let result = match started {
        Ok(handle) => handle.wait().await,
        Err(err) => {
            tracing::info!(session = %session.id, %err, "a test case could not run");
            return not_run(index, case, "the session could not run it");
        }
    };
    let summary = &result.summary;
    let verdict = match summary.status {
        RunStatus::Completed if summary.exit_code == Some(0) => {
            if output_matches(&case.expected, &result.stdout, case.exact) {
                Verdict::Passed
            } else {
                Verdict::Failed
            }
        }
        RunStatus::CompileError => Verdict::CompileError,
        _ => Verdict::Error,
    };
    CaseResult {
        index,
        name: case.name.clone(),
        hidden: case.hidden,
        verdict,
        status: Some(summary.status),
        exit_code: summary.exit_code,
        duration_ms: summary.duration_ms,
        stdin: clip(&case.stdin, RESULT_OUTPUT_BYTES),
        expected: clip(&case.expected, RESULT_OUTPUT_BYTES),
        actual: clip(&result.stdout, RESULT_OUTPUT_BYTES),
        stderr: clip(&result.stderr, RESULT_OUTPUT_BYTES),
        exact: case.exact,
    }
}

fn not_run(index: usize, case: &TestCase, why: &str) -> CaseResult {
    CaseResult {
        index,
        name: case.name.clone(),
        hidden: case.hidden,
        verdict: Verdict::NotRun,
        status: None,
        exit_code: None,
        duration_ms: 0,
        stdin: clip(&case.stdin, RESULT_OUTPUT_BYTES),
        expected: clip(&case.expected, RESULT_OUTPUT_BYTES),
        actual: String::new(),
        stderr: format!("not run: {why}\n"),
        exact: case.exact,
    }
}
