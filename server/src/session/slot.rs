//! The run slot: the one piece of exclusive work a session does at a time, a run, a test run
//! (its cases' runs one after another inside it) or a language switch, beside the session's
//! own status. It is taken by [`Slot::try_take`] and freed by [`SlotGuard::release_locked`]
//! (or when the guard is dropped: a switch whose request went away, a task that panicked);
//! nothing else changes what holds it. The session's `executing` is read off it, never stored.
//!
//! Generic over the handle of a run (`run::ActiveRun`), which the slot only keeps and hands
//! back: `run` depends on the slot, not the other way.

use std::sync::Arc;

use uuid::Uuid;

use super::{Session, SessionError, SessionEvent, State, Status};

/// What the slot needs of a run's handle.
pub(super) trait SlotRun {
    fn id(&self) -> Uuid;
}

/// The session's own status and what holds its slot.
#[derive(Debug)]
pub(super) struct Slot<R> {
    /// The status apart from the work: never `executing`.
    base: Status,
    holder: Holder<R>,
}

/// What holds the slot.
#[derive(Debug)]
enum Holder<R> {
    Idle,
    /// A run of the session's own.
    Run(R),
    /// A test run, from its first case to its report.
    Tests {
        id: Uuid,
        /// A participant stopped it: no further case starts.
        stopped: bool,
        /// The case running now.
        case: Option<R>,
    },
    /// A language switch, until the document and the environment have both changed.
    Switch,
}

/// What a caller asks the slot for.
#[derive(Debug, Clone)]
pub(super) enum Claim<R> {
    Run(R),
    /// A test case's run, inside the test run holding the slot.
    Case(R),
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

/// A claim on the slot, not yet guarded: the caller holds the state lock. Wrap it in a
/// [`SlotGuard`] once the lock is released, or give it back by [`Slot::release`] before.
#[must_use = "a claim holds the slot until it is released"]
#[derive(Debug)]
pub(super) struct Taken {
    held: Held,
    /// The status everyone should hear of (after the caller's own event), when the claim
    /// changed it.
    pub status: Option<Status>,
}

impl<R: SlotRun> Slot<R> {
    pub fn new(status: Status) -> Self {
        debug_assert_ne!(status, Status::Executing, "executing follows from the slot");
        Self {
            base: status,
            holder: Holder::Idle,
        }
    }

    /// The session's status, as the API reports it: `executing` while a run or a test run
    /// holds the slot, unless the session has ended meanwhile (ending stops the run, and says
    /// `stopping` while it does).
    pub fn status(&self) -> Status {
        let executes = matches!(self.holder, Holder::Run(_) | Holder::Tests { .. });
        if executes && !self.base.is_ended() {
            Status::Executing
        } else {
            self.base
        }
    }

    /// Sets the session's own status (never `executing`: the slot says that); answers the
    /// status to tell everyone when the one they see changed.
    pub fn set_status(&mut self, status: Status) -> Option<Status> {
        debug_assert_ne!(status, Status::Executing, "executing follows from the slot");
        let before = self.status();
        self.base = status;
        let after = self.status();
        (after != before).then_some(after)
    }

    /// Takes the slot for `claim`: refused with `ENDED` once the session has ended, and with
    /// `RUN_IN_PROGRESS` while anything else holds it (a test case's run takes only the free
    /// case place of its test run).
    pub fn try_take(&mut self, claim: Claim<R>) -> Result<Taken, SessionError> {
        if self.base.is_ended() {
            return Err(SessionError::Ended);
        }
        let before = self.status();
        let held = match (&mut self.holder, claim) {
            (Holder::Idle, Claim::Run(run)) => {
                let held = Held::Run(run.id());
                self.holder = Holder::Run(run);
                held
            }
            (Holder::Idle, Claim::Tests(id)) => {
                self.holder = Holder::Tests {
                    id,
                    stopped: false,
                    case: None,
                };
                Held::Tests(id)
            }
            (Holder::Idle, Claim::Switch) => {
                self.holder = Holder::Switch;
                Held::Switch
            }
            (
                Holder::Tests {
                    case: case @ None, ..
                },
                Claim::Case(run),
            ) => {
                let held = Held::Case(run.id());
                *case = Some(run);
                held
            }
            _ => return Err(SessionError::RunInProgress),
        };
        let after = self.status();
        Ok(Taken {
            held,
            status: (after != before).then_some(after),
        })
    }

    /// Gives back a claim not yet wrapped in a guard (a switch that turned out a no-op).
    pub fn release(&mut self, taken: Taken) {
        self.free(taken.held);
    }

    /// Frees `held`; answers the status to tell everyone when it changed. Work that showed
    /// the session `executing` leaves it `ready` (unless it ended meanwhile), as a run always
    /// has: one that started while the container was being made has made it, or failed to
    /// and the next run tries again.
    fn free(&mut self, held: Held) -> Option<Status> {
        let before = self.status();
        let holder = std::mem::replace(&mut self.holder, Holder::Idle);
        self.holder = match (holder, held) {
            (Holder::Run(run), Held::Run(id)) if run.id() == id => Holder::Idle,
            (Holder::Tests { id, .. }, Held::Tests(held)) if id == held => Holder::Idle,
            (Holder::Switch, Held::Switch) => Holder::Idle,
            (Holder::Tests { id, stopped, case }, Held::Case(run))
                if case.as_ref().is_some_and(|r| r.id() == run) =>
            {
                Holder::Tests {
                    id,
                    stopped,
                    case: None,
                }
            }
            // Never: each claim is given back once (a guard is consumed by its release).
            (holder, _) => holder,
        };
        if before == Status::Executing && matches!(self.holder, Holder::Idle) {
            self.base = Status::Ready;
        }
        let after = self.status();
        (after != before).then_some(after)
    }

    /// Anything holds the slot: a run, a test run or a switch.
    pub fn is_busy(&self) -> bool {
        !matches!(self.holder, Holder::Idle)
    }

    /// The run in progress: the session's own, or the case a test run is at.
    pub fn run(&self) -> Option<&R> {
        match &self.holder {
            Holder::Run(run) => Some(run),
            Holder::Tests { case, .. } => case.as_ref(),
            Holder::Idle | Holder::Switch => None,
        }
    }

    /// The session's own run in progress (not a test case's: its input is the case's own).
    pub fn own_run(&self) -> Option<&R> {
        match &self.holder {
            Holder::Run(run) => Some(run),
            _ => None,
        }
    }

    /// What a kill reaches: the run in progress, if any; a test run is marked stopped too (no
    /// further case starts). `NO_RUN` when nothing runs.
    pub fn kill(&mut self) -> Result<Option<&R>, SessionError> {
        match &mut self.holder {
            Holder::Run(run) => Ok(Some(run)),
            Holder::Tests { stopped, case, .. } => {
                *stopped = true;
                Ok(case.as_ref())
            }
            Holder::Idle | Holder::Switch => Err(SessionError::NoRun),
        }
    }

    /// A participant stopped the test run holding the slot.
    pub fn tests_stopped(&self) -> bool {
        matches!(self.holder, Holder::Tests { stopped: true, .. })
    }
}

impl State {
    /// The session's status, as the API reports it.
    pub(super) fn status(&self) -> Status {
        self.slot.status()
    }
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
        state
            .slot
            .free(self.held.take().expect("held until released"))
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            let mut state = self.session.state();
            if let Some(status) = state.slot.free(held) {
                self.session.publish_locked(SessionEvent::Status(status));
            }
        }
    }
}

impl Session {
    /// Sets the session's own status (never `executing`: the slot says that) and tells
    /// everyone when the status they see changes.
    pub(super) fn set_status_locked(&self, state: &mut State, status: Status) {
        if let Some(status) = state.slot.set_status(status) {
            self.publish_locked(SessionEvent::Status(status));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone)]
    struct Run(Uuid);

    impl SlotRun for Run {
        fn id(&self) -> Uuid {
            self.0
        }
    }

    fn claim(kind: &str) -> Claim<Run> {
        match kind {
            "run" => Claim::Run(Run(Uuid::new_v4())),
            "case" => Claim::Case(Run(Uuid::new_v4())),
            "tests" => Claim::Tests(Uuid::new_v4()),
            "switch" => Claim::Switch,
            _ => unreachable!("no claim {kind}"),
        }
    }

    fn idle(slot: &Slot<Run>) -> bool {
        matches!(slot.holder, Holder::Idle)
    }

    #[test]
    fn a_run_a_test_run_and_a_switch_exclude_each_other_and_free_the_slot_when_done() {
        let kinds = ["run", "tests", "switch"];
        for first in kinds {
            for second in kinds {
                let mut slot = Slot::new(Status::Ready);
                let taken = slot.try_take(claim(first)).expect("an idle slot is taken");
                assert!(
                    matches!(
                        slot.try_take(claim(second)),
                        Err(SessionError::RunInProgress)
                    ),
                    "{second} while {first} holds the slot"
                );
                slot.release(taken);
                assert!(idle(&slot), "free after {first}");
                let taken = slot.try_take(claim(second)).expect("free again");
                slot.release(taken);
                assert!(idle(&slot), "free after {second}");
            }
        }
    }

    #[test]
    fn a_test_run_takes_its_cases_one_at_a_time_and_only_it_does() {
        let mut slot = Slot::new(Status::Ready);
        assert!(
            slot.try_take(claim("case")).is_err(),
            "no test run to be a case of"
        );
        let tests = slot.try_take(claim("tests")).expect("tests");
        for _ in 0..2 {
            let case = slot.try_take(claim("case")).expect("a case");
            assert!(slot.run().is_some(), "the case is the run in progress");
            assert!(slot.own_run().is_none(), "not the session's own run");
            assert!(slot.try_take(claim("case")).is_err(), "one case at a time");
            for other in ["run", "tests", "switch"] {
                assert!(
                    slot.try_take(claim(other)).is_err(),
                    "{other} during a case"
                );
            }
            slot.release(case);
            assert!(slot.run().is_none());
            assert!(
                matches!(slot.holder, Holder::Tests { .. }),
                "held between cases"
            );
        }
        assert!(!slot.tests_stopped());
        assert!(slot.kill().expect("a test run").is_none(), "between cases");
        assert!(slot.tests_stopped(), "no further case starts");
        assert_eq!(
            slot.free(Held::Tests(Uuid::new_v4())),
            None,
            "another test run's"
        );
        assert!(matches!(slot.holder, Holder::Tests { .. }));
        slot.release(tests);
        assert!(idle(&slot));
        assert!(matches!(slot.kill(), Err(SessionError::NoRun)));
    }

    #[test]
    fn executing_is_read_off_the_slot_and_a_finished_run_leaves_the_session_ready() {
        for (kind, executes) in [("run", true), ("tests", true), ("switch", false)] {
            for base in [Status::Creating, Status::Ready] {
                let mut slot = Slot::new(base);
                let taken = slot.try_take(claim(kind)).expect("taken");
                let want = if executes { Status::Executing } else { base };
                assert_eq!(slot.status(), want, "{kind} over {base:?}");
                assert_eq!(taken.status, executes.then_some(want), "{kind} tells");
                // The container comes (or goes) under a run: nobody hears of it until the end.
                let other = if base == Status::Ready {
                    Status::Creating
                } else {
                    Status::Ready
                };
                assert_eq!(slot.set_status(other).is_some(), !executes, "{kind}");
                slot.release(taken);
                let after = if executes { Status::Ready } else { other };
                assert_eq!(slot.status(), after, "after {kind} over {base:?}");
            }
        }
    }

    #[test]
    fn an_ended_session_takes_nothing_and_stays_ended() {
        let mut slot = Slot::new(Status::Ready);
        let taken = slot.try_take(claim("run")).expect("taken");
        assert_eq!(slot.set_status(Status::Stopping), Some(Status::Stopping));
        assert_eq!(slot.status(), Status::Stopping, "not executing once ending");
        for kind in ["run", "tests", "switch"] {
            assert!(matches!(
                slot.try_take(claim(kind)),
                Err(SessionError::Ended)
            ));
        }
        slot.release(taken);
        assert_eq!(slot.status(), Status::Stopping);
    }
}
