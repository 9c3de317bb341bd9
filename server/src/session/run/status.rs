//! A run's status from how it ended: the server's own stop, if it asked for one, else the
//! runner's account. Pure.

use livecode_runner::protocol::{End, Finished, Phase as RunnerPhase};

use super::StopReason;
use crate::session::RunStatus;

/// What a stop the server asked for makes of a run.
pub(super) fn stopped_status(reason: StopReason) -> RunStatus {
    match reason {
        StopReason::ServerShutdown => RunStatus::Error,
        StopReason::Killed | StopReason::Restarted | StopReason::SessionEnded => RunStatus::Killed,
    }
}

/// The run's status from the server's own stop (if any) and the runner's account.
pub(super) fn status_of(stopped: Option<StopReason>, f: &Finished) -> RunStatus {
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
