//! One run's conversation with the session's runner: the request goes out, events come back
//! until the run's `Finished`; stdin goes out as the program takes it (a window of bytes in
//! flight), a stop goes out as a `Kill`. What the runner reports, and what the server asked
//! for, decide the run's status.

use std::time::Duration;

use livecode_runner::protocol::{End, Finished, Phase as RunnerPhase, Request};
use livecode_runner::{CLEAN_WITHIN, KILL_WAIT};

use super::{RunCtx, StdinCommand, StopReason};
use crate::sandbox::{RunEvent, RunEvents, RunnerError};
use crate::session::container::{runner_error, Containers, Ready};
use crate::session::{Phase, RunStatus, SessionError};

/// Bytes of stdin sent to the runner and not yet written to the program; past it, stdin waits
/// in the session's queue (which tells a flooding client when it is full).
const STDIN_WINDOW: u64 = 256 * 1024;
/// Beyond the run's own limits, how long the runner may take to answer before the sandbox
/// counts as stuck (paused, or its runner wedged): what the runner may spend stopping the
/// run's processes and clearing the sandbox before it reports the end, and a margin.
const GRACE: Duration = KILL_WAIT
    .saturating_add(CLEAN_WITHIN)
    .saturating_add(Duration::from_secs(5));

/// How a run ended, as the session records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::session) struct Ended {
    pub status: RunStatus,
    pub exit_code: Option<i64>,
    pub run_ms: Option<u64>,
    pub build_ms: Option<u64>,
    /// The build's outputs came from the runner's cache.
    pub build_cached: bool,
    /// The runner cut the output at the cap.
    pub truncated: bool,
}

impl Ended {
    pub fn error() -> Self {
        Self {
            status: RunStatus::Error,
            exit_code: None,
            run_ms: None,
            build_ms: None,
            build_cached: false,
            truncated: false,
        }
    }
}

/// Why events stopped before the run's `Finished`.
enum Cut {
    /// The stream ended: the runner exited or the container went away.
    Stream,
    /// Nothing came back in time.
    Hung,
    Refused(String),
}

/// How following a run went.
enum Followed {
    Ended(Ended),
    /// The runner could not clear its sandbox before the run, so nothing of it ran: the
    /// container is being replaced and the run may go to the new one, with the stdin it had
    /// already been sent (at most the stdin window and one message: nothing consumed it).
    Broken(Vec<StdinCommand>),
    /// The stream ended before the runner said anything of the run (it had died just before
    /// the run was sent): nothing of it ran, and it may go to the runner opened again.
    Unheard(Vec<StdinCommand>),
}

/// Sends the run to the session's runner (re-opening it once if its stream had closed, and
/// once more on a new container if the runner could not clear the old one) and follows it to
/// its end.
pub(super) async fn drive(c: &Containers, ctx: &mut RunCtx) -> Result<Ended, SessionError> {
    let (mut reopened, mut replaced) = (false, false);
    let mut resend = Vec::new();
    loop {
        let ready = c.runner(&ctx.session).await?;
        if ready.replaced {
            ctx.output
                .notice("the sandbox had stopped and was re-created");
        }
        let limit = ctx.session.ctx.config.limits.output_limit_bytes;
        match ready.runner.start(ctx.plan.request(limit)).await {
            Ok(events) => match follow(
                c,
                ctx,
                &ready,
                events,
                std::mem::take(&mut resend),
                !reopened,
            )
            .await
            {
                Followed::Ended(ended) => return Ok(ended),
                Followed::Broken(sent) if !replaced => {
                    replaced = true;
                    resend = sent;
                    ctx.output.notice(
                        "the sandbox could not be cleared after an earlier run; it was replaced and the session's files put back",
                    );
                }
                Followed::Broken(_) => return Ok(Ended::error()),
                Followed::Unheard(sent) => {
                    reopened = true;
                    resend = sent;
                }
            },
            Err(RunnerError::Closed) if !reopened => {
                c.drop_runner(&ctx.session, &ready.runner);
                reopened = true;
            }
            Err(err) => return Err(runner_error(err)),
        }
    }
}

/// The next stdin to send: what an earlier attempt had sent first, then the session's queue.
async fn next_stdin(
    resend: &mut std::collections::VecDeque<StdinCommand>,
    rx: &mut Option<tokio::sync::mpsc::Receiver<StdinCommand>>,
) -> Option<StdinCommand> {
    if let Some(cmd) = resend.pop_front() {
        return Some(cmd);
    }
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn follow(
    c: &Containers,
    ctx: &mut RunCtx,
    ready: &Ready,
    mut events: RunEvents,
    resend: Vec<StdinCommand>,
    retry_unheard: bool,
) -> Followed {
    let runner = &ready.runner;
    let run = events.run;
    let mut stdin = ctx.stdin.take();
    let mut resend = std::collections::VecDeque::from(resend);
    // Until the runner starts a step, what goes out is kept, for a retry on a new container.
    let mut sent: Option<Vec<StdinCommand>> = Some(Vec::new());
    let mut heard = false;
    let (mut in_flight, mut stdin_open) = (0u64, true);
    let mut stopped: Option<StopReason> = None;
    let limits = ctx.plan.timeout
        + ctx
            .plan
            .build
            .as_ref()
            .map_or(Duration::ZERO, |b| Duration::from_millis(b.timeout_ms));
    let backstop = tokio::time::sleep(limits + GRACE);
    tokio::pin!(backstop);
    let cut = loop {
        tokio::select! {
            biased;
            _ = ctx.stop.token.cancelled(), if stopped.is_none() => {
                let reason = ctx.stop.reason().unwrap_or(StopReason::Killed);
                stopped = Some(reason);
                if reason == StopReason::ServerShutdown {
                    ctx.output.notice("the server is restarting: the run was stopped");
                }
                if runner.send(&Request::Kill { run }).await.is_err() {
                    break Some(Cut::Stream);
                }
                backstop.as_mut().reset(tokio::time::Instant::now() + GRACE);
            }
            event = events.next() => match event {
                None if !heard && retry_unheard && stopped.is_none() => {
                    c.drop_runner(&ctx.session, runner);
                    runner.close().await;
                    ctx.stdin = stdin;
                    return Followed::Unheard(sent.unwrap_or_default());
                }
                None => break Some(Cut::Stream),
                Some(RunEvent::Started(phase)) => {
                    sent = None;
                    heard = true;
                    ctx.output.phase = match phase {
                        RunnerPhase::Build => Phase::Build,
                        RunnerPhase::Run => Phase::Run,
                    };
                }
                // Once stopped, what was still in flight is dropped.
                Some(RunEvent::Output { stream, data, .. }) if stopped.is_none() => {
                    ctx.output.push(stream, &data);
                }
                Some(RunEvent::Output { .. }) => {}
                Some(RunEvent::StdinConsumed(n)) => in_flight = in_flight.saturating_sub(n),
                Some(RunEvent::Finished(f)) => {
                    let Some(why) = &f.broken else {
                        return Followed::Ended(ended(ctx, stopped, &f));
                    };
                    // Whatever the run did, its container goes: no run is sent to it again.
                    c.retire(&ctx.session, &ready.container, why).await;
                    let nothing_ran =
                        f.end == End::Failed && f.build_ms.is_none() && f.run_ms.is_none();
                    if nothing_ran && stopped.is_none() {
                        ctx.stdin = stdin;
                        return Followed::Broken(sent.unwrap_or_default());
                    }
                    ctx.output.notice("the sandbox could not be cleared after the run; a new one is being made and the session's files will be put back");
                    return Followed::Ended(ended(ctx, stopped, &f));
                }
                Some(RunEvent::Refused(why)) => break Some(Cut::Refused(why)),
            },
            cmd = next_stdin(&mut resend, &mut stdin), if stdin_open && in_flight < STDIN_WINDOW => {
                if let (Some(sent), Some(cmd)) = (sent.as_mut(), cmd.as_ref()) {
                    sent.push(cmd.clone());
                }
                let result = match cmd {
                    Some(StdinCommand::Data(data)) => {
                        in_flight += data.len() as u64;
                        runner.send(&Request::Stdin { run, data: data.to_vec() }).await
                    }
                    Some(StdinCommand::Eof) => {
                        stdin_open = false;
                        runner.send(&Request::StdinEof { run }).await
                    }
                    None => {
                        stdin_open = false;
                        Ok(())
                    }
                };
                if result.is_err() {
                    break Some(Cut::Stream);
                }
            }
            _ = &mut backstop => break Some(Cut::Hung),
        }
    };
    Followed::Ended(
        cut_short(
            c,
            ctx,
            ready,
            stopped,
            cut.expect("the loop only breaks with a cut"),
        )
        .await,
    )
}

/// The run's events stopped before its `Finished`: says why to the participants, drops a
/// runner that can no longer be trusted, and ends the run as the server's stop (if any) says.
async fn cut_short(
    c: &Containers,
    ctx: &mut RunCtx,
    ready: &Ready,
    stopped: Option<StopReason>,
    cut: Cut,
) -> Ended {
    let runner = &ready.runner;
    let session = &ctx.session;
    match cut {
        Cut::Refused(why) => {
            tracing::error!(session = %session.id, %why, "the runner refused a run");
            ctx.output
                .notice(&format!("the sandbox refused the run: {why}"));
        }
        Cut::Stream | Cut::Hung => {
            c.drop_runner(session, runner);
            runner.close().await;
            let running = still_running(c, &ready.container).await;
            if stopped == Some(StopReason::SessionEnded) {
                // The session's container goes with it: nothing to tell.
            } else if !running {
                ctx.output.notice("the sandbox was lost during the run (killed, removed or paused); a new one is being made and the session's files will be put back");
            } else {
                tracing::warn!(session = %session.id, "the runner's stream ended during a run");
                ctx.output
                    .notice("the sandbox's runner stopped during the run; it is started again for the next run");
            }
        }
    }
    Ended {
        status: match stopped {
            Some(reason) => stopped_status(reason),
            None => RunStatus::Error,
        },
        ..Ended::error()
    }
}

/// Whether the container outlived the runner's stream. A container being killed takes a
/// moment to show as stopped, after its processes (the runner among them) are already gone.
async fn still_running(c: &Containers, container: &crate::sandbox::SandboxId) -> bool {
    for _ in 0..5 {
        if !c.is_running(container).await {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    true
}

/// What a stop the server asked for makes of a run.
fn stopped_status(reason: StopReason) -> RunStatus {
    match reason {
        StopReason::ServerShutdown => RunStatus::Error,
        StopReason::Killed | StopReason::Restarted | StopReason::SessionEnded => RunStatus::Killed,
    }
}

fn ended(ctx: &mut RunCtx, stopped: Option<StopReason>, f: &Finished) -> Ended {
    if f.end == End::Failed {
        ctx.output
            .notice(&format!("the run could not be started: {}", f.message));
    } else if !f.message.is_empty() {
        tracing::warn!(session = %ctx.session.id, message = %f.message, "the runner had trouble");
        ctx.output.notice(&f.message);
    }
    let status = status_of(stopped, f);
    Ended {
        status,
        // A code only for a program that ended by itself.
        exit_code: (stopped.is_none() && f.end == End::Exited)
            .then(|| {
                f.exit_code
                    .map(i64::from)
                    .or(f.signal.map(|s| 128 + i64::from(s)))
            })
            .flatten(),
        run_ms: f.run_ms,
        build_ms: f.build_ms,
        build_cached: f.build_cached,
        truncated: f.truncated,
    }
}

/// The run's status from the server's own stop (if any) and the runner's account.
fn status_of(stopped: Option<StopReason>, f: &Finished) -> RunStatus {
    if let Some(reason) = stopped {
        return stopped_status(reason);
    }
    match f.end {
        End::Timeout => RunStatus::Timeout,
        End::OutputLimit => RunStatus::OutputLimit,
        End::Killed => RunStatus::Killed,
        End::Failed => RunStatus::Error,
        End::Exited if f.oom => RunStatus::Oom,
        End::Exited if f.phase == RunnerPhase::Build && f.exit_code != Some(0) => {
            RunStatus::CompileError
        }
        End::Exited => RunStatus::Completed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(end: End, phase: RunnerPhase, exit_code: Option<i32>, oom: bool) -> Finished {
        Finished {
            run: 1,
            end,
            phase,
            exit_code,
            signal: None,
            oom,
            build_ms: None,
            run_ms: Some(5),
            truncated: false,
            message: String::new(),
            build_cached: false,
            broken: None,
        }
    }

    #[test]
    fn statuses_follow_the_runner_unless_the_server_stopped_the_run() {
        use RunnerPhase::*;
        let cases = [
            (
                None,
                finished(End::Exited, Run, Some(3), false),
                RunStatus::Completed,
            ),
            (None, finished(End::Exited, Run, None, true), RunStatus::Oom),
            (
                None,
                finished(End::Exited, Build, Some(1), false),
                RunStatus::CompileError,
            ),
            (
                None,
                finished(End::Exited, Build, Some(0), false),
                RunStatus::Completed,
            ),
            (
                None,
                finished(End::Timeout, Build, None, false),
                RunStatus::Timeout,
            ),
            (
                None,
                finished(End::OutputLimit, Run, None, false),
                RunStatus::OutputLimit,
            ),
            (
                None,
                finished(End::Failed, Run, None, false),
                RunStatus::Error,
            ),
            (
                Some(StopReason::Killed),
                finished(End::Killed, Run, None, false),
                RunStatus::Killed,
            ),
            (
                Some(StopReason::ServerShutdown),
                finished(End::Killed, Run, None, true),
                RunStatus::Error,
            ),
        ];
        for (stopped, f, want) in cases {
            assert_eq!(status_of(stopped, &f), want, "{stopped:?} {f:?}");
        }
    }
}
