//! The run in progress as far as it went, kept for sockets that join during it: its
//! [`Transcript`] (output and input, numbered and bounded) and the [`CatchUp`] a socket gets
//! of it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Session, SessionEvent, State};
use crate::auth::Role;

/// The output and input of the run in progress, numbered as they were sent, bounded in bytes
/// (the output cap, plus room for what was typed).
#[derive(Debug)]
pub(super) struct Transcript {
    run_id: Uuid,
    by: Role,
    started_at: DateTime<Utc>,
    events: Vec<Arc<SessionEvent>>,
    bytes: usize,
    limit: usize,
    last_seq: u64,
    /// Something was left out past the bound.
    truncated: bool,
}

/// What a socket that joins during a run needs of it: the run, and its output and input after
/// the point the socket already had.
#[derive(Debug, Clone)]
pub struct CatchUp {
    pub run_id: Uuid,
    pub by: Role,
    pub started_at: DateTime<Utc>,
    pub events: Vec<Arc<SessionEvent>>,
    /// Earlier output or input was not kept (past the transcript's bound).
    pub truncated: bool,
}

impl Transcript {
    /// What a socket gets of the run: after `seq` of it when `after` names this run, else all
    /// of it.
    pub(super) fn catch_up(&self, after: Option<(Uuid, u64)>) -> CatchUp {
        let from = match after {
            Some((run_id, seq)) if run_id == self.run_id => seq,
            _ => 0,
        };
        CatchUp {
            run_id: self.run_id,
            by: self.by,
            started_at: self.started_at,
            events: self
                .events
                .iter()
                .filter(|e| e.seq().is_some_and(|seq| seq > from))
                .cloned()
                .collect(),
            truncated: self.truncated,
        }
    }
}

impl Session {
    /// Starts the transcript of a new run (under the state lock, with its `RunStarted`).
    pub(super) fn begin_transcript(state: &mut State, run_id: Uuid, by: Role, limit: usize) {
        state.transcript = Some(Transcript {
            run_id,
            by,
            started_at: Utc::now(),
            events: Vec::new(),
            bytes: 0,
            limit,
            last_seq: 0,
            truncated: false,
        });
    }

    /// Sends an event of the run in progress, numbered next, and keeps it in the transcript
    /// while there is room. `make` gets the event's `seq`.
    pub(super) fn publish_run_event(&self, make: impl FnOnce(u64) -> SessionEvent) {
        let mut state = self.state();
        let Some(t) = state.transcript.as_mut() else {
            drop(state);
            self.publish(make(0));
            return;
        };
        t.last_seq += 1;
        let event = Arc::new(make(t.last_seq));
        let weight = event.weight();
        if t.bytes + weight <= t.limit {
            t.bytes += weight;
            t.events.push(event.clone());
        } else {
            t.truncated = true;
        }
        self.publish_locked(event);
    }
}
