//! Sessions: one per interview, each owning one sandbox, a document, its participants and at
//! most one run at a time.
//!
//! # Layout
//! - [`Session`]: identity, credentials (hashed), live state behind a `std::sync::Mutex`, the
//!   transcript of the run in progress, and its subscribers.
//! - `transcript`: that transcript (the run's output and input, numbered and bounded), and
//!   the [`CatchUp`] a socket joining during the run gets of it.
//! - `context`: `Context`, every handle the sessions' work shares (store, config, sandbox,
//!   engine watch, environments, audit trail, tasks, the shutdown flag), each held once; the
//!   registry, the containers, the pool and every session hold the one `Arc` of it.
//! - `journal`: **the one seam for a session's writes.** `Session::publish` records an
//!   event's audit form, then fans it out (so an event is recorded before its live message,
//!   by construction); every store write of a session (its record, state and status, document
//!   updates, files, notes, deadline, language, runs, test reports) is a method there. The
//!   cluster's fencing (an owner epoch checked on every write) goes there and nowhere else.
//! - `registry`: [`SessionRegistry`], the `DashMap` of live sessions: ending them and
//!   shutting down; `create` (checks, quotas, a `Session` from its record), `lookup` (live,
//!   else from the store), `restore` (after a restart) and `expiry` (deadlines, warnings,
//!   extending) add to it.
//! - `container`: `Containers`, which owns containers and nothing else: the warm pool (`pool`),
//!   a session's container and runner (made or claimed, re-opened, replaced, retired, closed
//!   and removed), and `container::watch` (deaths, engine outages).
//! - `cluster`: the sessions' side of a cluster: locating a session, taking one over,
//!   deposing, draining, the heartbeat and janitor loops.
//! - `interview`: the lobby, Start, the clock's visibility, a take-home's first open;
//!   `take_home`: its submission, and the reaper's look at take-homes.
//! - `slot`: the one run, test run or switch a session does at a time, and its `executing`.
//! - `run`: a run: the request checked, sent to the runner, output streamed.
//!   `testing` runs a question's cases; `switch` changes the session's language;
//!   `template` moves between a template's questions, each keeping its code, and their clock.
//! - `collab`: document and file updates, cursors, notes; `presence`: joins, leaves, focus.
//! - `scorecards`: interviewers' scorecards, saved and submitted, live or after the end.
//! - `events`: [`SessionEvent`]; `audit`: its typed audit form; `fanout`: one bounded queue
//!   per subscriber.
//! - `reaper`: ends sessions idle past the TTL or past their lifetime, and sweeps retention;
//!   `erasure`: a session's content erased now or past `sessions.retention_days`; `quotas`:
//!   rates and caps.
//! - `files`: a request's file names parsed into `WorkspacePath`s (at the edge: `api` and
//!   `ws` call it), and the workspace's file count and size.
//!
//! Deliberately absent: wire shapes (`api` and `ws` own them) and Docker (`sandbox` does).
//! Questions are not the registry's: `AppState` has a handle of their own.

mod audit;
mod cluster;
mod collab;
mod container;
mod context;
mod create;
mod erasure;
pub mod events;
mod expiry;
mod fanout;
pub mod files;
mod interview;
mod journal;
mod lookup;
mod pool;
mod presence;
mod quotas;
mod reaper;
mod registry;
mod restore;
mod run;
mod scorecards;
mod slot;
mod switch;
mod take_home;
mod template;
mod testing;
mod transcript;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use livecode_runner::path::WorkspacePath;
use uuid::Uuid;

pub use crate::model::{
    EndReason, Participant, Phase, RunResult, RunStatus, RunSummary, SessionId, SessionSnapshot,
    SocketCap, Status,
};
pub use cluster::{Route, FAILOVER_NOTICE};
pub use collab::{visible_to, EditError, NOTES_LIMIT};
pub use create::{CreatedSession, NewSession};
pub use events::{ExpiryReason, SessionEvent, INPUT_PREVIEW_BYTES};
pub use fanout::{EventReceiver, Lagged};
pub use interview::{check_open, held_in_lobby, visible_in_lobby, TakeHome};
pub use lookup::History;
pub use pool::PoolStatus;
pub use presence::{ParticipantGuard, FOCUS_INTERVAL};
pub use quotas::BY_KEY;
pub use reaper::run_reaper;
pub use registry::SessionRegistry;
pub use run::{RunHandle, RunRequest, StdinError};
pub use scorecards::Scorecards;
pub use testing::TestsHandle;
pub use transcript::CatchUp;

use crate::auth::{self, Role};
use crate::collab::Authority;
use crate::environments::Environment;
use crate::sandbox::{RunnerConn, SandboxId};
use transcript::Transcript;

/// The live sessions, shared by the registry (which owns them) and the container watch.
type LiveMap = Arc<dashmap::DashMap<SessionId, Arc<Session>>>;

/// Why a session operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no environment named '{0}'")]
    UnknownEnvironment(String),
    #[error("the image of environment '{0}' is not built yet")]
    ImageNotReady(String),
    #[error("no session with that id")]
    NotFound,
    #[error("the session has ended")]
    Ended,
    /// Its content was erased; only its tombstone is left (410).
    #[error("the session's content was erased")]
    Erased,
    #[error("the session is at its maximum lifetime")]
    LifetimeReached,
    #[error("a run is already in progress")]
    RunInProgress,
    #[error("nothing is running")]
    NoRun,
    #[error("this session has no question")]
    NoQuestion,
    #[error("this session has no template")]
    NoTemplate,
    /// Held in the lobby: the interviewer has not started the interview.
    #[error("the interview has not started yet")]
    NotStarted,
    /// A take-home was handed in: read-only.
    #[error("the take-home was submitted; the editor is read-only")]
    Submitted,
    #[error("this take-home's link has expired")]
    LinkExpired,
    /// The interview is not where the request needs it (already started, not a take-home…).
    #[error("{0}")]
    Interview(String),
    #[error(transparent)]
    Files(#[from] files::FilesError),
    #[error("{0}")]
    InvalidArgument(String),
    /// A server-wide limit is reached (503).
    #[error("{0}")]
    Capacity(String),
    /// A caller's quota or rate is used up (429).
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: std::time::Duration,
    },
    #[error("the container engine is not available")]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error(transparent)]
    Scorecard(#[from] crate::scorecards::ScorecardError),
    #[error("internal error")]
    Store(#[from] crate::store::StoreError),
}

/// Live state; touched without awaiting, so a `std::sync::Mutex` (never held across `.await`).
#[derive(Debug)]
struct State {
    container: Option<SandboxId>,
    /// The container's runner while its stream is open; opened at the first run after an
    /// adoption.
    runner: Option<Arc<RunnerConn>>,
    last_activity_at: DateTime<Utc>,
    doc: Authority,
    notes: String,
    /// The workspace's other files as they are now (what runs get beside the document).
    files: BTreeMap<WorkspacePath, String>,
    /// Each of those files, edited together like the document (tabs in the page); their
    /// accepted updates are kept in memory for pulls, their text in `files`.
    file_docs: BTreeMap<WorkspacePath, Authority>,
    participants: BTreeMap<u64, Participant>,
    /// What was last told of each participant's focus, and when (focus is coalesced).
    focus_told: BTreeMap<u64, presence::FocusTold>,
    next_participant: u64,
    last_execution: Option<RunSummary>,
    /// The session's status, and the one run, test run or switch in progress.
    slot: slot::Slot<run::ActiveRun>,
    /// The run in progress as far as it went: what a late or returning socket catches up on.
    transcript: Option<Transcript>,
    /// The hard end: creation plus the session's lifetime (`extend` moves it, within
    /// `sessions.max_lifetime_seconds`).
    deadline: DateTime<Utc>,
    /// The warning sent for the session's coming end: each end is announced once, and a
    /// socket that joins after it hears it too.
    warning: Option<Arc<SessionEvent>>,
    /// The session's language now (a switch changes it, and its container).
    environment: Arc<Environment>,
    /// The documents of the languages it switched away from, by environment name.
    documents: BTreeMap<String, String>,
    /// Its way through its template, when it was created from one (`template`).
    template: Option<crate::templates::Progress>,
    /// The current question's clock as last told: question, its start, and where it was.
    question_told: Option<(usize, DateTime<Utc>, crate::templates::QuestionTime)>,
    /// Where the interview is (waiting, live, submitted) and its clock; stored.
    interview: crate::interview::Interview,
    /// Since when no candidate socket is connected (a take-home's container goes after
    /// `take_home.release_after_seconds` of it); the reaper keeps it.
    candidate_away_since: Option<DateTime<Utc>>,
}

impl State {
    /// When the session ends if nothing more happens: idle past the TTL (once the interview
    /// started, live interviews only), or at its deadline.
    fn ends_at(&self, idle_ttl: chrono::Duration) -> DateTime<Utc> {
        if self.interview.idle_ttl_applies() {
            expiry(self.last_activity_at, idle_ttl, self.deadline)
        } else {
            self.deadline
        }
    }
}

/// One interview session.
#[derive(Debug)]
pub struct Session {
    pub id: SessionId,
    pub label: Option<String>,
    /// Who created it: "key", or "ip:<address>" in open mode (quotas, open-mode listing).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    candidate_hash: String,
    interviewer_hash: String,
    /// Its participants' queues; sent to only by `publish`.
    events: fanout::EventSender,
    /// The handles every session shares (its writes go through `journal`).
    ctx: Arc<context::Context>,
    state: Mutex<State>,
    /// Serializes container creation and removal for this session.
    lifecycle: tokio::sync::Mutex<()>,
    /// Cancelled when the session left this replica for another (cluster mode: its lease was
    /// lost, or handed over by a drain): its sockets close so that clients reconnect there.
    pub moved: tokio_util::sync::CancellationToken,
    /// Serializes edits that are stored before anyone hears of them (cluster mode), so that
    /// they are told in the order they were accepted.
    edits: tokio::sync::Mutex<()>,
}

impl Session {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("session state lock poisoned")
    }

    /// The role a token grants here, if any.
    pub fn role_for_token(&self, token: &str) -> Option<Role> {
        auth::role_for_token(token, &self.interviewer_hash, &self.candidate_hash)
    }

    pub fn status(&self) -> Status {
        self.state().status()
    }

    /// The session's environment now.
    pub fn environment(&self) -> Arc<Environment> {
        self.state().environment.clone()
    }

    /// The document and its version.
    pub fn document(&self) -> (String, u64) {
        let state = self.state();
        (state.doc.doc().to_string(), state.doc.version())
    }

    /// Records activity now (it postpones the idle TTL).
    pub fn touch(&self) {
        self.state().last_activity_at = Utc::now();
    }

    pub fn last_activity_at(&self) -> DateTime<Utc> {
        self.state().last_activity_at
    }

    pub fn snapshot(&self, idle_ttl: chrono::Duration) -> SessionSnapshot {
        self.snapshot_locked(&self.state(), idle_ttl)
    }

    fn snapshot_locked(&self, state: &State, idle_ttl: chrono::Duration) -> SessionSnapshot {
        SessionSnapshot {
            id: self.id,
            status: state.status(),
            environment: state.environment.name.clone(),
            label: self.label.clone(),
            container_id: state.container.as_ref().map(|c| c.0.clone()),
            created_at: self.created_at,
            last_activity_at: state.last_activity_at,
            expires_at: state.ends_at(idle_ttl),
            last_execution: state.last_execution.clone(),
            participants: state.participants.values().cloned().collect(),
            erased_at: None,
            interview: state.interview.clone(),
        }
    }

    /// Subscribes to events together with a consistent snapshot: nothing sent after the
    /// snapshot is missed, nothing before it is repeated (all under one hold of the state
    /// lock, which every event is sent under). With a run in progress, its output and input
    /// come too: after `seq` of it when `after` names that run, else all of it.
    pub fn subscribe(
        &self,
        idle_ttl: chrono::Duration,
        after: Option<(Uuid, u64)>,
    ) -> Subscription {
        let state = self.state();
        let snapshot = self.snapshot_locked(&state, idle_ttl);
        let events = self.events.subscribe();
        let run = state.transcript.as_ref().map(|t| t.catch_up(after));
        let warning = state.warning.clone().filter(
            |w| matches!(&**w, SessionEvent::Expiry(e) if e.expires_at == snapshot.expires_at),
        );
        Subscription {
            snapshot,
            document: state.doc.doc().to_string(),
            version: state.doc.version(),
            files: state
                .file_docs
                .iter()
                .map(|(name, doc)| (name.clone(), doc.doc().to_string(), doc.version()))
                .collect(),
            run,
            warning,
            template: state.template.as_ref().map(|p| p.outline()),
            interview: state.interview.clone(),
            events,
        }
    }
}

/// A socket's start: the session as it is, the run in progress, and every event after.
#[derive(Debug)]
pub struct Subscription {
    pub snapshot: SessionSnapshot,
    pub document: String,
    pub version: u64,
    pub run: Option<CatchUp>,
    /// The `expiry` warning for the session's coming end, if one was sent.
    pub warning: Option<Arc<SessionEvent>>,
    /// Its way through its template, if it has one (each role sees its view of it).
    pub template: Option<crate::templates::Progress>,
    /// The other files: name, text, version.
    pub files: Vec<(WorkspacePath, String, u64)>,
    /// The interview as it was at the snapshot (a socket held in its lobby gets none of the
    /// above, and a fresh start once it starts).
    pub interview: crate::interview::Interview,
    pub events: EventReceiver,
}

/// When a session ends if nothing more happens: idle past the TTL, or at its deadline.
pub fn expiry(
    last_activity: DateTime<Utc>,
    idle_ttl: chrono::Duration,
    deadline: DateTime<Utc>,
) -> DateTime<Utc> {
    (last_activity + idle_ttl).min(deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_the_idle_ttl_or_the_deadline_whichever_comes_first() {
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .expect("time")
            .to_utc();
        let minutes = chrono::Duration::minutes;
        // Idle TTL first.
        assert_eq!(expiry(t0, minutes(30), t0 + minutes(240)), t0 + minutes(30));
        // Activity keeps postponing it, never past the deadline.
        assert_eq!(
            expiry(t0 + minutes(225), minutes(30), t0 + minutes(240)),
            t0 + minutes(240)
        );
    }
}
