//! The session's handle on its run in progress: the stdin queue, the stop signal (the first
//! reason wins) and the wait for the run's end; what participants do to a run (type into it,
//! close its input, kill it) goes through here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::session::events::Input;
use crate::session::slot::SlotRun;
use crate::session::{RunResult, Session, SessionError, SessionEvent};

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
pub(in crate::session) enum StopReason {
    Killed,
    Restarted,
    SessionEnded,
    /// The server is shutting down: the run ends now, with a record, not at its timeout.
    ServerShutdown,
}

#[derive(Debug, Clone)]
pub(super) enum StdinCommand {
    Data(Bytes),
    Eof,
}

#[derive(Debug, Default)]
pub(super) struct StopSignal {
    reason: Mutex<Option<StopReason>>,
    pub token: CancellationToken,
}

impl StopSignal {
    /// The first reason wins.
    pub fn request(&self, reason: StopReason) {
        let mut current = self.reason.lock().expect("stop lock poisoned");
        if current.is_none() {
            *current = Some(reason);
        }
        self.token.cancel();
    }

    pub fn reason(&self) -> Option<StopReason> {
        *self.reason.lock().expect("stop lock poisoned")
    }
}

/// The session's handle on its run in progress.
#[derive(Debug, Clone)]
pub(in crate::session) struct ActiveRun {
    pub id: Uuid,
    pub(super) stdin: mpsc::Sender<StdinCommand>,
    pub(super) stop: Arc<StopSignal>,
    pub done: watch::Receiver<Option<Arc<RunResult>>>,
}

impl SlotRun for ActiveRun {
    fn id(&self) -> Uuid {
        self.id
    }
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
pub(in crate::session) struct Stopper {
    stop: Arc<StopSignal>,
    done: watch::Receiver<Option<Arc<RunResult>>>,
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
        let mut end = data.len().min(crate::session::INPUT_PREVIEW_BYTES);
        while !data.is_char_boundary(end) {
            end -= 1;
        }
        let (preview, truncated) = (data[..end].to_string(), end < data.len());
        let run_id = {
            let state = self.state();
            // A test case's input is the case's own.
            let run = state.slot.own_run().ok_or(StdinError::NoRun)?;
            run.stdin
                .try_send(StdinCommand::Data(Bytes::from(data)))
                .map_err(|e| match e {
                    mpsc::error::TrySendError::Full(_) => StdinError::Full,
                    mpsc::error::TrySendError::Closed(_) => StdinError::Closed,
                })?;
            run.id
        };
        self.publish_run_event(|seq| {
            SessionEvent::Input(Input {
                run_id,
                seq,
                participant,
                data: preview,
                truncated,
            })
        });
        Ok(())
    }

    /// Closes the running program's stdin.
    pub fn close_stdin(&self) -> Result<(), StdinError> {
        let state = self.state();
        let run = state.slot.own_run().ok_or(StdinError::NoRun)?;
        run.stdin
            .try_send(StdinCommand::Eof)
            .map_err(|_| StdinError::Closed)
    }

    /// Asks the running program to stop now; the run reports `killed`.
    pub fn kill_run(&self) -> Result<(), SessionError> {
        // A test run stops with the case running, or before the next one.
        if let Some(run) = self.state().slot.kill()? {
            run.stop.request(StopReason::Killed);
        }
        Ok(())
    }
}
