//! One run's conversation with the session's runner: the request goes out, events come back
//! until the run's `Finished`; stdin goes out as the program takes it (a window of bytes in
//! flight), a stop goes out as a `Kill`. What the runner reports, and what the server asked
//! for, decide the run's status.

use std::collections::VecDeque;
use std::time::Duration;

use livecode_runner::protocol::{End, Finished, Phase as RunnerPhase, Request};
use livecode_runner::{CLEAN_WITHIN, KILL_WAIT};
use tokio::sync::mpsc;

use super::status::{status_of, stopped_status};
use super::{RunCtx, StdinCommand, StopReason};
use crate::sandbox::{RunEvent, RunEvents, RunnerError};
use crate::session::container::{runner_error, Containers, Ready};
use crate::session::{Phase, RunStatus, RunSummary, SessionError};

/// Bytes of stdin sent to the runner and not yet written to the program; past it, stdin waits
/// in the session's queue (which tells a flooding client when it is full).
const STDIN_WINDOW: u64 = 256 * 1024;
/// Beyond the run's own limits, how long the runner may take to answer before the sandbox
/// counts as stuck (paused, or its runner wedged): what the runner may spend stopping the
/// run's processes and clearing the sandbox before it reports the end, and a margin.
const GRACE: Duration = KILL_WAIT
    .saturating_add(CLEAN_WITHIN)
    .saturating_add(Duration::from_secs(5));

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
    Ended(RunSummary),
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
pub(super) async fn drive(c: &Containers, ctx: &mut RunCtx) -> Result<RunSummary, SessionError> {
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
                Followed::Broken(_) => return Ok(ctx.summary(RunStatus::Error)),
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

/// What following a run keeps between its events.
struct Following {
    /// The session's queue of stdin for the run.
    stdin: Option<mpsc::Receiver<StdinCommand>>,
    /// What an earlier attempt had sent, to send again first.
    resend: VecDeque<StdinCommand>,
    /// Until the runner starts a step, what goes out is kept, for a retry on a new container.
    sent: Option<Vec<StdinCommand>>,
    /// The runner said something of the run.
    heard: bool,
    /// Stdin bytes sent and not yet written to the program.
    in_flight: u64,
    stdin_open: bool,
    /// The server's stop, once asked for.
    stopped: Option<StopReason>,
}

/// What one of the run's events makes of the following.
enum Step {
    Go,
    Done(Followed),
    Cut(Cut),
}

impl Following {
    /// Whether more stdin may go out now.
    fn wants_stdin(&self) -> bool {
        self.stdin_open && self.in_flight < STDIN_WINDOW
    }

    /// The next stdin to send: what an earlier attempt had sent first, then the session's
    /// queue.
    async fn next_stdin(&mut self) -> Option<StdinCommand> {
        if let Some(cmd) = self.resend.pop_front() {
            return Some(cmd);
        }
        match &mut self.stdin {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Sends one stdin command (or notes the queue's end); an error is the stream's end.
    async fn send_stdin(
        &mut self,
        ready: &Ready,
        run: u64,
        cmd: Option<StdinCommand>,
    ) -> Result<(), RunnerError> {
        if let (Some(sent), Some(cmd)) = (self.sent.as_mut(), cmd.as_ref()) {
            sent.push(cmd.clone());
        }
        match cmd {
            Some(StdinCommand::Data(data)) => {
                self.in_flight += data.len() as u64;
                let data = data.to_vec();
                ready.runner.send(&Request::Stdin { run, data }).await
            }
            Some(StdinCommand::Eof) => {
                self.stdin_open = false;
                ready.runner.send(&Request::StdinEof { run }).await
            }
            None => {
                self.stdin_open = false;
                Ok(())
            }
        }
    }

    /// Gives the stdin queue back to the run, for another attempt with what was sent.
    fn give_back(&mut self, ctx: &mut RunCtx) -> Vec<StdinCommand> {
        ctx.stdin = self.stdin.take();
        self.sent.take().unwrap_or_default()
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
    let run = events.run;
    let mut f = Following {
        stdin: ctx.stdin.take(),
        resend: resend.into(),
        sent: Some(Vec::new()),
        heard: false,
        in_flight: 0,
        stdin_open: true,
        stopped: None,
    };
    let build = ctx.plan.build.as_ref();
    let limits =
        ctx.plan.timeout + build.map_or(Duration::ZERO, |b| Duration::from_millis(b.timeout_ms));
    let backstop = tokio::time::sleep(limits + GRACE);
    tokio::pin!(backstop);
    let cut = loop {
        tokio::select! {
            biased;
            _ = ctx.stop.token.cancelled(), if f.stopped.is_none() => {
                let reason = ctx.stop.reason().unwrap_or(StopReason::Killed);
                f.stopped = Some(reason);
                if reason == StopReason::ServerShutdown {
                    ctx.output.notice("the server is restarting: the run was stopped");
                }
                if ready.runner.send(&Request::Kill { run }).await.is_err() {
                    break Cut::Stream;
                }
                backstop.as_mut().reset(tokio::time::Instant::now() + GRACE);
            }
            event = events.next() => match on_event(c, ctx, ready, &mut f, event, retry_unheard).await {
                Step::Go => {}
                Step::Done(followed) => return followed,
                Step::Cut(cut) => break cut,
            },
            cmd = f.next_stdin(), if f.wants_stdin() => {
                if f.send_stdin(ready, run, cmd).await.is_err() {
                    break Cut::Stream;
                }
            }
            _ = &mut backstop => break Cut::Hung,
        }
    };
    Followed::Ended(cut_short(c, ctx, ready, f.stopped, cut).await)
}

/// What one event of the run (`None`: its stream ended) makes of it.
async fn on_event(
    c: &Containers,
    ctx: &mut RunCtx,
    ready: &Ready,
    f: &mut Following,
    event: Option<RunEvent>,
    retry_unheard: bool,
) -> Step {
    let stopped = f.stopped;
    match event {
        None if !f.heard && retry_unheard && stopped.is_none() => {
            c.drop_runner(&ctx.session, &ready.runner);
            ready.runner.close().await;
            Step::Done(Followed::Unheard(f.give_back(ctx)))
        }
        None => Step::Cut(Cut::Stream),
        Some(RunEvent::Started(phase)) => {
            f.sent = None;
            f.heard = true;
            ctx.output.phase = match phase {
                RunnerPhase::Build => Phase::Build,
                RunnerPhase::Run => Phase::Run,
            };
            Step::Go
        }
        // Once stopped, what was still in flight is dropped.
        Some(RunEvent::Output { stream, data, .. }) if stopped.is_none() => {
            ctx.output.push(stream, &data);
            Step::Go
        }
        Some(RunEvent::Output { .. }) => Step::Go,
        Some(RunEvent::StdinConsumed(n)) => {
            f.in_flight = f.in_flight.saturating_sub(n);
            Step::Go
        }
        Some(RunEvent::Finished(finished)) => {
            let Some(why) = &finished.broken else {
                return Step::Done(Followed::Ended(ended(ctx, stopped, &finished)));
            };
            // Whatever the run did, its container goes: no run is sent to it again.
            c.retire(&ctx.session, &ready.container, why).await;
            let nothing_ran = finished.end == End::Failed
                && finished.build_ms.is_none()
                && finished.run_ms.is_none();
            if nothing_ran && stopped.is_none() {
                return Step::Done(Followed::Broken(f.give_back(ctx)));
            }
            ctx.output.notice("the sandbox could not be cleared after the run; a new one is being made and the session's files will be put back");
            Step::Done(Followed::Ended(ended(ctx, stopped, &finished)))
        }
        Some(RunEvent::Refused(why)) => Step::Cut(Cut::Refused(why)),
    }
}

/// The run's events stopped before its `Finished`: says why to the participants, drops a
/// runner that can no longer be trusted, and ends the run as the server's stop (if any) says.
async fn cut_short(
    c: &Containers,
    ctx: &mut RunCtx,
    ready: &Ready,
    stopped: Option<StopReason>,
    cut: Cut,
) -> RunSummary {
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
    ctx.summary(match stopped {
        Some(reason) => stopped_status(reason),
        None => RunStatus::Error,
    })
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

fn ended(ctx: &mut RunCtx, stopped: Option<StopReason>, f: &Finished) -> RunSummary {
    if f.end == End::Failed {
        ctx.output
            .notice(&format!("the run could not be started: {}", f.message));
    } else if !f.message.is_empty() {
        tracing::warn!(session = %ctx.session.id, message = %f.message, "the runner had trouble");
        ctx.output.notice(&f.message);
    }
    RunSummary {
        // A code only for a program that ended by itself.
        exit_code: (stopped.is_none() && f.end == End::Exited)
            .then(|| {
                f.exit_code
                    .map(i64::from)
                    .or(f.signal.map(|s| 128 + i64::from(s)))
            })
            .flatten(),
        duration_ms: f.run_ms.unwrap_or(0),
        build_ms: f.build_ms,
        build_cached: f.build_cached,
        truncated: f.truncated,
        ..ctx.summary(status_of(stopped, f))
    }
}
