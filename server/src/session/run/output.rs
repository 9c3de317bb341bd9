//! A run's output on its way to the participants: counted against the cap (the runner
//! enforces it too; this is the server's own bound), decoded as UTF-8 across chunk
//! boundaries, cut into events of at most [`MAX_EVENT_TEXT`], and kept for the run's record.

use std::sync::Arc;

use uuid::Uuid;

use crate::sandbox::OutputStream;
use crate::session::{Phase, Session, SessionEvent};

/// The most text one `output` event carries, so that what a slow socket has in flight stays
/// small; a larger piece goes out as several events.
pub const MAX_EVENT_TEXT: usize = 16 * 1024;

/// One run's output so far.
pub struct Output {
    session: Arc<Session>,
    run_id: Uuid,
    limit: usize,
    used: usize,
    /// Output was cut at the cap.
    pub truncated: bool,
    /// The step now producing output.
    pub phase: Phase,
    /// When the run was asked for, and when its program first printed.
    pub requested: std::time::Instant,
    /// Kept, not sent: a test case's run (whose output may be a hidden case's).
    pub quiet: bool,
    pub first_output: Option<std::time::Instant>,
    decoders: [Utf8Decoder; 2],
    stdout: String,
    stderr: String,
}

impl Output {
    pub fn new(session: Arc<Session>, run_id: Uuid, limit: usize) -> Self {
        Self {
            session,
            run_id,
            limit,
            used: 0,
            truncated: false,
            phase: Phase::Run,
            requested: std::time::Instant::now(),
            quiet: false,
            first_output: None,
            decoders: Default::default(),
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    /// Counts, decodes and fans out one piece of output. False once over the cap.
    pub fn push(&mut self, stream: OutputStream, data: &[u8]) -> bool {
        if self.phase == Phase::Run && !data.is_empty() {
            self.first_output
                .get_or_insert_with(std::time::Instant::now);
        }
        let take = data.len().min(self.limit - self.used);
        self.used += take;
        let text = self.decoders[stream as usize].push(&data[..take]);
        self.emit(stream, text);
        if take < data.len() {
            self.truncated = true;
            return false;
        }
        true
    }

    /// A message from livecode itself, shown on stderr (not counted against the cap).
    pub fn notice(&mut self, text: &str) {
        self.emit(OutputStream::Stderr, format!("[livecode] {text}\n"));
    }

    /// Flushes what the decoders held back; answers stdout and stderr in full.
    pub fn finish(&mut self) -> (String, String) {
        for stream in [OutputStream::Stdout, OutputStream::Stderr] {
            let rest = self.decoders[stream as usize].finish();
            self.emit(stream, rest);
        }
        (
            std::mem::take(&mut self.stdout),
            std::mem::take(&mut self.stderr),
        )
    }

    fn emit(&mut self, stream: OutputStream, text: String) {
        if text.is_empty() {
            return;
        }
        match stream {
            OutputStream::Stdout => self.stdout.push_str(&text),
            OutputStream::Stderr => self.stderr.push_str(&text),
        }
        if self.quiet {
            return;
        }
        for piece in pieces(&text, MAX_EVENT_TEXT) {
            self.session.publish_run_event(|seq| {
                SessionEvent::Output(crate::session::events::Output {
                    run_id: self.run_id,
                    seq,
                    stream,
                    phase: self.phase,
                    data: piece.to_string(),
                })
            });
        }
    }
}

/// `text` cut into pieces of at most `max` bytes, on character boundaries.
pub fn pieces(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 {
            // One character longer than `max`: it goes whole.
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (piece, after) = rest.split_at(end);
        rest = after;
        Some(piece)
    })
}

/// Turns output bytes into UTF-8 text without splitting a character across chunks; invalid
/// bytes become U+FFFD.
#[derive(Debug, Default)]
struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// Decodes what can be decoded; keeps an incomplete trailing character for later.
    fn push(&mut self, bytes: &[u8]) -> String {
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
    fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        String::from_utf8_lossy(&rest).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_fit_and_keep_characters_whole() {
        let text = "ab🎉cd";
        let got: Vec<&str> = pieces(text, 3).collect();
        assert_eq!(got, vec!["ab", "🎉", "cd"]);
        assert_eq!(got.concat(), text);
        assert_eq!(pieces("", 3).count(), 0);
        assert!(pieces(&"x".repeat(40_000), MAX_EVENT_TEXT).all(|p| p.len() <= MAX_EVENT_TEXT));
    }

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
