//! The document authority of a session, in the style of CodeMirror 6's `@codemirror/collab`:
//! clients push updates made on top of a version; the authority applies them in order when the
//! version is current and refuses them otherwise (the client rebases over what it missed and
//! pushes again). It keeps the accepted updates with their time, which is what replay plays.
//!
//! Updates are kept as the JSON text the client sent (validated, never re-parsed into a tree),
//! and their history is bounded in bytes: past `history_limit` the oldest updates are folded
//! into the base document, which replay then starts from.
//!
//! Pure: no I/O, no clock but the one its caller passes in.

pub mod changes;

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;

pub use changes::{ChangeError, ChangeSet};

/// One accepted update, as stored and broadcast.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Update {
    pub client_id: String,
    /// The change set in CodeMirror's JSON form, as the client sent it.
    #[schema(value_type = Vec<serde_json::Value>)]
    pub changes: Box<RawValue>,
    #[serde(skip)]
    pub at: DateTime<Utc>,
}

impl PartialEq for Update {
    fn eq(&self, other: &Self) -> bool {
        (&self.client_id, self.changes.get(), self.at)
            == (&other.client_id, other.changes.get(), other.at)
    }
}

impl Update {
    /// Bytes this update holds, for the history bound.
    pub fn weight(&self) -> usize {
        self.client_id.len() + self.changes.get().len() + 64
    }
}

/// Why updates were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollabError {
    #[error("updates were made on version {got}, the document is at {current}")]
    Stale { got: u64, current: u64 },
    #[error("version {got} is ahead of the document's {current}")]
    Ahead { got: u64, current: u64 },
    #[error("updates before version {base} are no longer kept; reload the document")]
    Compacted { base: u64 },
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error("the document would be {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("a client id is 1 to 64 characters")]
    BadClientId,
    #[error("an update carries no updates")]
    Empty,
}

/// The oldest kept updates were folded into the base: the store drops them too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compaction {
    pub base_version: u64,
    pub base_document: String,
}

/// What a successful push did.
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    /// The version the first accepted update applied to.
    pub first: u64,
    pub accepted: Vec<Arc<Update>>,
    pub compaction: Option<Compaction>,
}

/// The current text, its version, the base the kept history starts from, and that history.
#[derive(Debug, Clone, PartialEq)]
pub struct Authority {
    doc: String,
    base_doc: String,
    base_version: u64,
    updates: VecDeque<Arc<Update>>,
    history_bytes: usize,
    history_limit: usize,
}

impl Authority {
    /// A document at version 0 whose history may hold `history_limit` bytes.
    pub fn new(doc: String, history_limit: usize) -> Self {
        Self::restore(doc.clone(), 0, Vec::new(), doc, history_limit)
    }

    /// A document whose history is known: `doc` is `base_doc` (at `base_version`) with
    /// `updates` applied.
    pub fn restore(
        base_doc: String,
        base_version: u64,
        updates: Vec<Update>,
        doc: String,
        history_limit: usize,
    ) -> Self {
        let history_bytes = updates.iter().map(Update::weight).sum();
        Self {
            doc,
            base_doc,
            base_version,
            updates: updates.into_iter().map(Arc::new).collect(),
            history_bytes,
            history_limit,
        }
    }

    pub fn doc(&self) -> &str {
        &self.doc
    }

    pub fn version(&self) -> u64 {
        self.base_version + self.updates.len() as u64
    }

    /// Applies `incoming` (made on `version`, each on top of the one before) all or nothing.
    pub fn push(
        &mut self,
        version: u64,
        incoming: Vec<(String, Box<RawValue>)>,
        at: DateTime<Utc>,
        limit_bytes: usize,
    ) -> Result<Pushed, CollabError> {
        let current = self.version();
        if version < current {
            return Err(CollabError::Stale {
                got: version,
                current,
            });
        }
        if version > current {
            return Err(CollabError::Ahead {
                got: version,
                current,
            });
        }
        if incoming.is_empty() {
            return Err(CollabError::Empty);
        }
        let mut doc: Option<String> = None;
        let mut accepted = Vec::with_capacity(incoming.len());
        for (client_id, changes) in incoming {
            if client_id.is_empty() || client_id.chars().count() > 64 {
                return Err(CollabError::BadClientId);
            }
            let next =
                ChangeSet::parse(changes.get())?.apply(doc.as_deref().unwrap_or(&self.doc))?;
            if next.len() > limit_bytes {
                return Err(CollabError::TooLarge {
                    size: next.len(),
                    limit: limit_bytes,
                });
            }
            doc = Some(next);
            accepted.push(Arc::new(Update {
                client_id,
                changes,
                at,
            }));
        }
        self.doc = doc.expect("at least one update");
        for update in &accepted {
            self.history_bytes += update.weight();
            self.updates.push_back(update.clone());
        }
        let compaction = self.compact_if_over();
        Ok(Pushed {
            first: current,
            accepted,
            compaction,
        })
    }

    /// Past the history bound, folds the oldest updates into the base until half of it is
    /// left (so that compaction is rare), always keeping the newest update.
    fn compact_if_over(&mut self) -> Option<Compaction> {
        if self.history_bytes <= self.history_limit {
            return None;
        }
        while self.history_bytes > self.history_limit / 2 && self.updates.len() > 1 {
            let oldest = self.updates.pop_front().expect("more than one");
            self.history_bytes -= oldest.weight();
            self.base_doc = ChangeSet::parse(oldest.changes.get())
                .and_then(|set| set.apply(&self.base_doc))
                .expect("kept updates applied once, so they apply to the base again");
            self.base_version += 1;
        }
        Some(Compaction {
            base_version: self.base_version,
            base_document: self.base_doc.clone(),
        })
    }

    /// Updates since `version`, for a client catching up: shared, not copied.
    pub fn since(&self, version: u64) -> Result<Vec<Arc<Update>>, CollabError> {
        let current = self.version();
        if version > current {
            return Err(CollabError::Ahead {
                got: version,
                current,
            });
        }
        if version < self.base_version {
            return Err(CollabError::Compacted {
                base: self.base_version,
            });
        }
        let skip = (version - self.base_version) as usize;
        Ok(self.updates.iter().skip(skip).cloned().collect())
    }
}

/// Turns `\r\n` and lone `\r` into `\n`, as CodeMirror does with the text it loads.
pub fn normalize_newlines(text: &str) -> String {
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collab::changes::tests::{boundaries, canonical as edit_json};
    use proptest::prelude::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_string()).expect("valid JSON")
    }

    fn type_at(
        a: &mut Authority,
        version: u64,
        client: &str,
        changes: &str,
    ) -> Result<u64, CollabError> {
        a.push(
            version,
            vec![(client.to_string(), raw(changes))],
            Utc::now(),
            1 << 20,
        )
        .map(|p| p.first)
    }

    #[test]
    fn updates_apply_in_order_and_versions_count_them() {
        let mut a = Authority::new("ab".into(), 1 << 20);
        assert_eq!(type_at(&mut a, 0, "x", r#"[2, [0, "c"]]"#), Ok(0));
        assert_eq!(type_at(&mut a, 1, "y", r#"[[0, "🎉"], 3]"#), Ok(1));
        assert_eq!(a.doc(), "🎉abc");
        assert_eq!(a.version(), 2);
        assert_eq!(a.since(1).expect("known").len(), 1);
    }

    #[test]
    fn stale_ahead_and_empty_pushes_change_nothing() {
        let mut a = Authority::new("ab".into(), 1 << 20);
        type_at(&mut a, 0, "x", r#"[2, [0, "c"]]"#).expect("current");
        assert_eq!(
            type_at(&mut a, 0, "y", r#"[2, [0, "d"]]"#),
            Err(CollabError::Stale { got: 0, current: 1 })
        );
        assert!(matches!(
            type_at(&mut a, 5, "y", "[[3]]"),
            Err(CollabError::Ahead { .. })
        ));
        assert_eq!(
            a.push(1, vec![], Utc::now(), 1 << 20),
            Err(CollabError::Empty)
        );
        assert_eq!(
            type_at(&mut a, 1, "y", "[3]"),
            Err(CollabError::Change(ChangeError::NoOp))
        );
        assert_eq!((a.doc(), a.version()), ("abc", 1));
        assert!(a.since(9).is_err());
    }

    #[test]
    fn a_bad_update_in_a_batch_rejects_the_whole_batch() {
        let mut a = Authority::new("ab".into(), 1 << 20);
        let batch = vec![
            ("x".to_string(), raw(r#"[2, [0, "c"]]"#)),
            ("x".to_string(), raw("[[2]]")),
        ];
        assert!(a.push(0, batch, Utc::now(), 1 << 20).is_err());
        assert_eq!((a.doc(), a.version()), ("ab", 0));
    }

    #[test]
    fn size_limit_holds() {
        let mut a = Authority::new(String::new(), 1 << 20);
        let changes = format!(r#"[[0, "{}"]]"#, "x".repeat(20));
        let err = a.push(0, vec![("x".into(), raw(&changes))], Utc::now(), 10);
        assert!(matches!(err, Err(CollabError::TooLarge { .. })));
    }

    #[test]
    fn history_is_bounded_and_the_base_moves_forward() {
        let mut a = Authority::new(String::new(), 4096);
        let mut compactions = 0;
        for i in 0..500u64 {
            let len = a.doc().len();
            let changes = if len == 0 {
                r#"[[0, "x"]]"#.to_string()
            } else {
                format!(r#"[{len}, [0, "x"]]"#)
            };
            let pushed = a
                .push(i, vec![("c".into(), raw(&changes))], Utc::now(), 1 << 20)
                .expect("push");
            if let Some(c) = pushed.compaction {
                compactions += 1;
                assert_eq!(c.base_document, "x".repeat(c.base_version as usize));
            }
            assert!(a.history_bytes <= 4096, "history {} bytes", a.history_bytes);
        }
        assert!(compactions > 0);
        assert_eq!(a.doc(), "x".repeat(500));
        assert!(matches!(a.since(0), Err(CollabError::Compacted { .. })));
        let kept = a.since(a.base_version).expect("kept");
        assert_eq!(kept.len() as u64, 500 - a.base_version);
    }

    #[test]
    fn newlines_are_normalized() {
        assert_eq!(normalize_newlines("a\r\nb\rc\n"), "a\nb\nc\n");
    }

    /// A client of the authority: its copy, the version it has seen, and an edit it wants to
    /// make (as offsets into its copy, re-made on the new text when it was refused).
    #[derive(Debug, Clone)]
    struct Peer {
        doc: String,
        version: u64,
    }

    fn units(text: &str) -> Vec<u16> {
        text.encode_utf16().collect()
    }

    /// A character boundary near `pick` (in UTF-16 units) of `text`.
    fn boundary(text: &str, pick: usize) -> usize {
        let at = boundaries(text);
        at[pick % at.len()]
    }

    fn piece() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("a"),
                Just("🎉"),
                Just("é"),
                Just("\r\n"),
                Just("\n"),
                Just("")
            ],
            0..4,
        )
        .prop_map(|p| p.concat())
    }

    /// Applies what `peer` missed; false when it is too far behind and must reload.
    fn catch_up(server: &Authority, peer: &mut Peer) -> bool {
        match server.since(peer.version) {
            Ok(missed) => {
                for update in missed {
                    peer.doc = ChangeSet::parse(update.changes.get())
                        .and_then(|set| set.apply(&peer.doc))
                        .expect("kept updates apply");
                    peer.version += 1;
                }
                true
            }
            Err(_) => {
                // Too far behind: reload, as a reconnecting page does.
                peer.doc = server.doc().to_string();
                peer.version = server.version();
                false
            }
        }
    }

    proptest! {
        /// Peers editing at once, each on whatever version it has seen, always end with the
        /// server's copy: a refused push catches up on what it missed and edits again.
        #[test]
        fn concurrent_edits_converge(
            steps in proptest::collection::vec((0usize..3, any::<bool>(), 0usize..40, 0usize..40, piece()), 1..60)
        ) {
            let mut server = Authority::new("start🎉\n".into(), 2048);
            let mut peers = vec![Peer { doc: server.doc().to_string(), version: 0 }; 3];
            for (who, sync, a, b, insert) in steps {
                let peer = &mut peers[who];
                if sync {
                    catch_up(&server, peer);
                    prop_assert_eq!(&peer.doc, server.doc());
                    continue;
                }
                loop {
                    let (x, y) = (boundary(&peer.doc, a), boundary(&peer.doc, b));
                    let (from, to) = (x.min(y), x.max(y));
                    if from == to && insert.is_empty() {
                        break;
                    }
                    let json = edit_json(units(&peer.doc).len(), from, to, &insert);
                    match server.push(peer.version, vec![(format!("p{who}"), raw(&json))], Utc::now(), 1 << 20) {
                        Ok(pushed) => {
                            prop_assert_eq!(pushed.first, peer.version);
                            peer.doc = ChangeSet::parse(&json).and_then(|s| s.apply(&peer.doc)).expect("applies");
                            peer.version += 1;
                            prop_assert_eq!(&peer.doc, server.doc());
                            break;
                        }
                        Err(CollabError::Stale { .. }) => { catch_up(&server, peer); }
                        Err(other) => prop_assert!(false, "unexpected {}", other),
                    }
                }
            }
            for peer in peers.iter_mut() {
                catch_up(&server, peer);
                prop_assert_eq!(&peer.doc, server.doc());
                prop_assert_eq!(peer.version, server.version());
            }
        }
    }
}
