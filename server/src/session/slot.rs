//! The run slot: the one piece of exclusive work a session does at a time, a run, a test run
//! (its cases' runs one after another inside it) or a language switch. It is taken by
//! [`State::try_take`] and freed by [`SlotGuard::release_locked`] (or when the guard is
//! dropped: a switch whose request went away, a task that panicked); nothing else writes it.
//! The session's `executing` status is read off it, never stored.

use std::sync::Arc;

use uuid::Uuid;

use super::run::ActiveRun;
use super::{Session, SessionError, SessionEvent, State, Status};

/// What holds the slot.
#[derive(Debug, Default)]
pub(super) enum Slot {
    #[default]
    Idle,
    /// A run of the session's own.
    Run(ActiveRun),
    /// A test run, from its first case to its report.
    Tests {
        id: Uuid,
        /// A participant stopped it: no further case starts.
        stopped: bool,
        /// The case running now.
        case: Option<ActiveRun>,
    },
    /// A language switch, until the document and the environment have both changed.
    Switch,
}

/// What a caller asks the slot for.
#[derive(Debug, Clone)]
pub(super) enum Claim {
    Run(ActiveRun),
    /// A test case's run, inside the test run holding the slot.
    Case(ActiveRun),
    Tests(Uuid),
    Switch,
}

/// What a claim holds, given back to free it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Run(Uuid),
    Case(Uuid),
    Tests(Uuid),
    Switch,
}

impl Slot {
    /// Takes the slot for `claim`, or refuses with `RUN_IN_PROGRESS` while anything else
    /// holds it (a test case's run takes only the free case place of its test run).
    fn try_take(&mut self, claim: Claim) -> Result<Held, SessionError> {
        let held = match (&mut *self, claim) {
            (Slot::Idle, Claim::Run(run)) => {
                let held = Held::Run(run.id);
                *self = Slot::Run(run);
                held
            }
            (Slot::Idle, Claim::Tests(id)) => {
                *self = Slot::Tests {
                    id,
                    stopped: false,
                    case: None,
                };
                Held::Tests(id)
            }
            (Slot::Idle, Claim::Switch) => {
                *self = Slot::Switch;
                Held::Switch
            }
            (
                Slot::Tests {
                    case: case @ None, ..
                },
                Claim::Case(run),
            ) => {
                let held = Held::Case(run.id);
                *case = Some(run);
                held
            }
            _ => return Err(SessionError::RunInProgress),
        };
        Ok(held)
    }

    /// Frees what `held` holds; false when it held nothing of it.
    fn release(&mut self, held: Held) -> bool {
        match (&mut *self, held) {
            (Slot::Run(run), Held::Run(id)) if run.id == id => *self = Slot::Idle,
            (Slot::Tests { id, .. }, Held::Tests(held)) if *id == held => *self = Slot::Idle,
            (Slot::Switch, Held::Switch) => *self = Slot::Idle,
            (Slot::Tests { case, .. }, Held::Case(id))
                if case.as_ref().is_some_and(|run| run.id == id) =>
            {
                *case = None
            }
            _ => return false,
        }
        true
    }

    /// A run or a test run: the session shows `executing`.
    fn executes(&self) -> bool {
        matches!(self, Slot::Run(_) | Slot::Tests { .. })
    }

    /// The run in progress: the session's own, or the case a test run is at.
    pub fn run(&self) -> Option<&ActiveRun> {
        match self {
            Slot::Run(run) => Some(run),
            Slot::Tests { case, .. } => case.as_ref(),
            Slot::Idle | Slot::Switch => None,
        }
    }

    /// A participant stopped the test run holding the slot.
    pub fn tests_stopped(&self) -> bool {
        matches!(self, Slot::Tests { stopped: true, .. })
    }
}

/// The status the session shows: `executing` while a run or a test run holds the slot, unless
/// it has ended meanwhile (ending stops the run, and says `stopping` while it does).
fn status(base: Status, slot: &Slot) -> Status {
    if slot.executes() && !base.is_ended() {
        Status::Executing
    } else {
        base
    }
}

impl State {
    /// The session's status, as the API reports it.
    pub(super) fn status(&self) -> Status {
        status(self.base_status, &self.slot)
    }

    /// Takes the slot for `claim` (under the state lock); refused with `ENDED` once the session
    /// has ended, else as [`Slot::try_take`] says. Wrap what it answers in a [`SlotGuard`]
    /// once the lock is released, or give it back with [`State::release`] before.
    pub(super) fn try_take(&mut self, claim: Claim) -> Result<Taken, SessionError> {
        if self.base_status.is_ended() {
            return Err(SessionError::Ended);
        }
        let before = self.status();
        let held = self.slot.try_take(claim)?;
        let after = self.status();
        Ok(Taken {
            held,
            status: (after != before).then_some(after),
        })
    }

    /// Gives back a claim not yet wrapped in a guard (a switch that turned out a no-op).
    pub(super) fn release(&mut self, taken: Taken) {
        self.free(taken.held);
    }

    /// Frees `held`; answers the status to tell everyone when it changed. Work that showed
    /// the session `executing` leaves it `ready` (unless it ended meanwhile), as a run always
    /// has: one that started while the container was being made has made it, or failed to
    /// and the next run tries again.
    fn free(&mut self, held: Held) -> Option<Status> {
        let before = self.status();
        // Never false: each claim is given back once (a guard is consumed by its release).
        if !self.slot.release(held) {
            return None;
        }
        if before == Status::Executing && matches!(self.slot, Slot::Idle) {
            self.base_status = Status::Ready;
        }
        let after = self.status();
        (after != before).then_some(after)
    }
}

/// A claim on the slot, not yet guarded: the caller holds the state lock.
#[must_use = "a claim holds the slot until it is released"]
#[derive(Debug)]
pub(super) struct Taken {
    held: Held,
    /// The status everyone should hear of (after the caller's own event), when the claim
    /// changed it.
    pub status: Option<Status>,
}

/// Holds the slot until it is released: under the state lock by
/// [`release_locked`](Self::release_locked), in order with what the release tells; else when
/// dropped (never while the dropping thread holds the state lock).
#[derive(Debug)]
pub(super) struct SlotGuard {
    session: Arc<Session>,
    held: Option<Held>,
}

impl SlotGuard {
    pub fn new(session: Arc<Session>, taken: Taken) -> Self {
        Self {
            session,
            held: Some(taken.held),
        }
    }

    /// Frees the slot under the caller's hold of the state lock; answers the status to tell
    /// everyone, when it changed (the caller sends it after its own event).
    pub fn release_locked(mut self, state: &mut State) -> Option<Status> {
        state.free(self.held.take().expect("held until released"))
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            let mut state = self.session.state();
            if let Some(status) = state.free(held) {
                self.session.emit_locked(SessionEvent::Status(status));
            }
        }
    }
}

impl Session {
    /// Sets the session's own status (never `executing`: the slot says that) and tells
    /// everyone when the status they see changes.
    pub(super) fn set_status_locked(&self, state: &mut State, status: Status) {
        debug_assert_ne!(status, Status::Executing, "executing follows from the slot");
        let before = state.status();
        state.base_status = status;
        let after = state.status();
        if after != before {
            self.emit_locked(SessionEvent::Status(after));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(kind: &str) -> Claim {
        match kind {
            "run" => Claim::Run(ActiveRun::detached(Uuid::new_v4())),
            "case" => Claim::Case(ActiveRun::detached(Uuid::new_v4())),
            "tests" => Claim::Tests(Uuid::new_v4()),
            "switch" => Claim::Switch,
            _ => unreachable!("no claim {kind}"),
        }
    }

    #[test]
    fn a_run_a_test_run_and_a_switch_exclude_each_other_and_free_the_slot_when_done() {
        let kinds = ["run", "tests", "switch"];
        for first in kinds {
            for second in kinds {
                let mut slot = Slot::default();
                let held = slot.try_take(claim(first)).expect("an idle slot is taken");
                assert!(
                    matches!(
                        slot.try_take(claim(second)),
                        Err(SessionError::RunInProgress)
                    ),
                    "{second} while {first} holds the slot"
                );
                assert!(slot.release(held), "{first} ends");
                assert!(matches!(slot, Slot::Idle), "free after {first}");
                let held = slot.try_take(claim(second)).expect("free again");
                assert!(slot.release(held));
                assert!(matches!(slot, Slot::Idle), "free after {second}");
            }
        }
    }

    #[test]
    fn a_test_run_takes_its_cases_one_at_a_time_and_only_it_does() {
        let mut slot = Slot::default();
        assert!(
            slot.try_take(claim("case")).is_err(),
            "no test run to be a case of"
        );
        let tests = slot.try_take(claim("tests")).expect("tests");
        for _ in 0..2 {
            let case = slot.try_take(claim("case")).expect("a case");
            assert!(slot.run().is_some(), "the case is the run in progress");
            assert!(slot.try_take(claim("case")).is_err(), "one case at a time");
            for other in ["run", "tests", "switch"] {
                assert!(
                    slot.try_take(claim(other)).is_err(),
                    "{other} during a case"
                );
            }
            assert!(slot.release(case));
            assert!(slot.run().is_none());
            assert!(matches!(slot, Slot::Tests { .. }), "held between cases");
        }
        assert!(
            !slot.release(Held::Tests(Uuid::new_v4())),
            "another test run's"
        );
        assert!(slot.release(tests));
        assert!(matches!(slot, Slot::Idle));
    }

    #[test]
    fn executing_is_read_off_the_slot_until_the_session_ends() {
        for (kind, executes) in [("run", true), ("tests", true), ("switch", false)] {
            let mut slot = Slot::default();
            let held = slot.try_take(claim(kind)).expect("taken");
            for base in [Status::Creating, Status::Ready] {
                let want = if executes { Status::Executing } else { base };
                assert_eq!(status(base, &slot), want, "{kind} over {base:?}");
            }
            assert_eq!(status(Status::Stopping, &slot), Status::Stopping, "{kind}");
            assert!(slot.release(held));
            assert_eq!(status(Status::Ready, &slot), Status::Ready, "after {kind}");
        }
    }
}
