//! What happens in a session, fanned out to every participant in order. The channel is a
//! bounded broadcast: a socket that falls more than `event_buffer` events behind is told so and
//! closed (it reconnects to a fresh `welcome`), so a slow client can't grow the server's memory.

use std::sync::Arc;

use uuid::Uuid;

use super::{EndReason, Participant, Phase, RunStatus, Status};
use crate::auth::Role;
use crate::collab::Update;
use crate::sandbox::OutputStream;

/// One event of a session.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    Status(Status),
    RunStarted {
        run_id: Uuid,
        by: Role,
    },
    Output {
        run_id: Uuid,
        stream: OutputStream,
        phase: Phase,
        data: String,
    },
    RunFinished {
        run_id: Uuid,
        exit_code: Option<i64>,
        status: RunStatus,
        duration_ms: u64,
        build_ms: Option<u64>,
        truncated: bool,
    },
    Presence(Vec<Participant>),
    Ended(EndReason),
    /// Accepted document updates; the first applies to `version`.
    Updates {
        version: u64,
        updates: Vec<Arc<Update>>,
    },
    /// A participant's selection.
    Cursor {
        participant: u64,
        name: String,
        role: Role,
        anchor: u64,
        head: u64,
        version: u64,
    },
    /// A participant typed into the running program's stdin (so everyone sees the answers).
    Input {
        run_id: Uuid,
        participant: u64,
        data: String,
    },
    /// The interviewers' private notes changed (never shown to other roles).
    Notes(String),
}

/// The sending side, owned by the session.
pub type EventSender = tokio::sync::broadcast::Sender<Arc<SessionEvent>>;
/// One participant's receiving side.
pub type EventReceiver = tokio::sync::broadcast::Receiver<Arc<SessionEvent>>;

/// Turns output bytes into UTF-8 text without splitting a character across chunks; invalid
/// bytes become U+FFFD.
#[derive(Debug, Default)]
pub struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// Decodes what can be decoded; keeps an incomplete trailing character for later.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::with_capacity(self.pending.len());
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    out.push_str(std::str::from_utf8(valid).expect("checked valid"));
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        // An incomplete character at the end: wait for its other bytes.
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        out
    }

    /// Whatever is left at the end of the stream.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        String::from_utf8_lossy(&rest).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_split_across_chunks_survive() {
        let text = "héllo — привет — 你好 — 🎉";
        let bytes = text.as_bytes();
        for split in 0..bytes.len() {
            let mut d = Utf8Decoder::default();
            let mut out = d.push(&bytes[..split]);
            out.push_str(&d.push(&bytes[split..]));
            out.push_str(&d.finish());
            assert_eq!(out, text, "split at {split}");
        }
    }

    #[test]
    fn invalid_bytes_are_replaced() {
        let mut d = Utf8Decoder::default();
        assert_eq!(d.push(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(d.push(b"\xe2\x82"), "");
        assert_eq!(d.finish(), "\u{fffd}");
    }
}
