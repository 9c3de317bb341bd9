//! Who is in a session: participants join within the socket caps and leave with their
//! socket, and their pages' focus is told to interviewers, coalesced. Each join, leave and
//! told focus change is published with its audit form.

use std::sync::Arc;

use chrono::Utc;

use super::events::{Focus, Presence, PresenceChange};
use super::{Participant, Session, SessionEvent, SocketCap, State};
use crate::auth::Role;

impl Session {
    /// Whether a socket with `credential` would be let in now (checked again by `join`).
    pub fn socket_room(&self, credential: Role, caps: (usize, usize)) -> Result<(), SocketCap> {
        Self::room_locked(&self.state(), credential, caps)
    }

    fn room_locked(state: &State, credential: Role, caps: (usize, usize)) -> Result<(), SocketCap> {
        let (per_session, per_token) = caps;
        if state.participants.len() >= per_session {
            return Err(SocketCap::Session(per_session));
        }
        let same = state
            .participants
            .values()
            .filter(|p| p.credential == credential)
            .count();
        if same >= per_token {
            return Err(SocketCap::Token(per_token));
        }
        Ok(())
    }

    /// Adds a participant and tells everyone, within the socket caps (per session, per
    /// token); the guard removes them again.
    pub fn join(
        self: &Arc<Self>,
        role: Role,
        credential: Role,
        name: String,
        caps: (usize, usize),
    ) -> Result<ParticipantGuard, SocketCap> {
        let mut state = self.state();
        Self::room_locked(&state, credential, caps)?;
        let key = state.next_participant;
        state.next_participant += 1;
        state.participants.insert(
            key,
            Participant {
                id: key,
                role,
                name,
                credential,
                focused: true,
            },
        );
        state.last_activity_at = Utc::now();
        let joined = state.participants[&key].clone();
        self.publish_locked(SessionEvent::Presence(Presence {
            participants: state.participants.values().cloned().collect(),
            change: PresenceChange::Joined(joined),
        }));
        drop(state);
        Ok(ParticipantGuard {
            session: self.clone(),
            key,
        })
    }

    /// A participant's page gained or lost focus (a signal interviewers see, never acted on).
    /// Only the candidate's and interviewers' focus is told (an observer's is nobody's
    /// business), and at most one change per participant every [`FOCUS_INTERVAL`]: a change
    /// within it is told at its end if it still holds (the latest state wins), so a page
    /// toggling focus costs the audit trail, the webhooks and the sockets one event per
    /// interval, and the final state is always told.
    pub fn set_focus(self: &Arc<Self>, participant: u64, focused: bool) {
        let mut state = self.state();
        let Some(p) = state.participants.get_mut(&participant) else {
            return;
        };
        if !p.role.focus_is_told() || p.focused == focused {
            return;
        }
        p.focused = focused;
        let now = std::time::Instant::now();
        let told = state.focus_told.entry(participant).or_default();
        if told.pending {
            return;
        }
        match told.at {
            Some(at) if now.duration_since(at) < FOCUS_INTERVAL => {
                told.pending = true;
                let session = Arc::downgrade(self);
                let when = at + FOCUS_INTERVAL;
                tokio::spawn(async move {
                    tokio::time::sleep_until(when.into()).await;
                    if let Some(session) = session.upgrade() {
                        let mut state = session.state();
                        if let Some(told) = state.focus_told.get_mut(&participant) {
                            told.pending = false;
                        }
                        session.tell_focus_locked(&mut state, participant);
                    }
                });
            }
            _ => self.tell_focus_locked(&mut state, participant),
        }
    }

    /// Records and sends `participant`'s focus now, if it differs from what was last told.
    fn tell_focus_locked(&self, state: &mut State, participant: u64) {
        let Some(p) = state.participants.get(&participant) else {
            return;
        };
        let (role, name, focused) = (p.role, p.name.clone(), p.focused);
        let told = state.focus_told.entry(participant).or_default();
        // A new participant starts in focus, as told by its join.
        if told.focused.unwrap_or(true) == focused {
            return;
        }
        told.focused = Some(focused);
        told.at = Some(std::time::Instant::now());
        self.publish_locked(SessionEvent::Focus(Focus {
            participant,
            name,
            role,
            focused,
            at: Utc::now(),
        }));
    }
}

/// Keeps a participant listed while a socket lives.
#[derive(Debug)]
pub struct ParticipantGuard {
    session: Arc<Session>,
    key: u64,
}

impl ParticipantGuard {
    /// This participant's id.
    pub fn id(&self) -> u64 {
        self.key
    }
}

impl Drop for ParticipantGuard {
    fn drop(&mut self) {
        let mut state = self.session.state();
        let Some(gone) = state.participants.remove(&self.key) else {
            return;
        };
        state.focus_told.remove(&self.key);
        self.session
            .publish_locked(SessionEvent::Presence(Presence {
                participants: state.participants.values().cloned().collect(),
                change: PresenceChange::Left(gone),
            }));
    }
}

/// A participant's focus is told at most once per this interval (the latest state wins).
pub const FOCUS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// What was last told of one participant's focus.
#[derive(Debug, Default)]
pub(super) struct FocusTold {
    /// `None`: nothing yet (a participant starts in focus).
    focused: Option<bool>,
    at: Option<std::time::Instant>,
    /// A change within the interval waits to be told at its end.
    pending: bool,
}
