//! The document authority of a session, in the style of CodeMirror 6's `@codemirror/collab`:
//! clients push updates made on top of a version; the authority applies them in order when the
//! version is current and refuses them otherwise (the client rebases over what it missed and
//! pushes again). It keeps every accepted update with its time, which is what replay plays.
//!
//! Pure: no I/O, no clock but the one its caller passes in.

pub mod changes;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

pub use changes::{ChangeError, ChangeSet};

/// One accepted update, as stored and broadcast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Update {
    pub client_id: String,
    /// The change set in CodeMirror's JSON form, as the client sent it.
    pub changes: Value,
    #[serde(skip)]
    pub at: DateTime<Utc>,
}

/// Why updates were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollabError {
    #[error("updates were made on version {got}, the document is at {current}")]
    Stale { got: u64, current: u64 },
    #[error("version {got} is ahead of the document's {current}")]
    Ahead { got: u64, current: u64 },
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error("the document would be {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("a client id is 1 to 64 characters")]
    BadClientId,
}

/// The current text, its version, and every update since version 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Authority {
    doc: String,
    updates: Vec<Update>,
}

impl Authority {
    /// A document at version 0.
    pub fn new(doc: String) -> Self {
        Self {
            doc,
            updates: Vec::new(),
        }
    }

    /// A document whose history is known: `doc` is the result of `updates`.
    pub fn restore(doc: String, updates: Vec<Update>) -> Self {
        Self { doc, updates }
    }

    pub fn doc(&self) -> &str {
        &self.doc
    }

    pub fn version(&self) -> u64 {
        self.updates.len() as u64
    }

    /// Applies `incoming` (made on `version`, each on top of the one before) all or nothing.
    /// Returns the version the first accepted update applied to.
    pub fn push(
        &mut self,
        version: u64,
        incoming: Vec<(String, Value)>,
        at: DateTime<Utc>,
        limit_bytes: usize,
    ) -> Result<u64, CollabError> {
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
        let mut doc = self.doc.clone();
        let mut accepted = Vec::with_capacity(incoming.len());
        for (client_id, changes) in incoming {
            if client_id.is_empty() || client_id.chars().count() > 64 {
                return Err(CollabError::BadClientId);
            }
            doc = ChangeSet::from_json(&changes)?.apply(&doc)?;
            accepted.push(Update {
                client_id,
                changes,
                at,
            });
        }
        if doc.len() > limit_bytes {
            return Err(CollabError::TooLarge {
                size: doc.len(),
                limit: limit_bytes,
            });
        }
        self.doc = doc;
        self.updates.extend(accepted);
        Ok(current)
    }

    /// Updates since `version`, for a client catching up.
    pub fn since(&self, version: u64) -> Result<&[Update], CollabError> {
        let current = self.version();
        if version > current {
            return Err(CollabError::Ahead {
                got: version,
                current,
            });
        }
        Ok(&self.updates[version as usize..])
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
    use serde_json::json;

    /// A client in the vocabulary of CodeMirror's collab tests: the version it has seen and the
    /// changes it has not had confirmed.
    fn type_at(
        a: &mut Authority,
        version: u64,
        client: &str,
        changes: Value,
    ) -> Result<u64, CollabError> {
        a.push(
            version,
            vec![(client.to_string(), changes)],
            Utc::now(),
            1 << 20,
        )
    }

    #[test]
    fn updates_apply_in_order_and_versions_count_them() {
        let mut a = Authority::new("ab".into());
        assert_eq!(type_at(&mut a, 0, "x", json!([2, [0, "c"]])), Ok(0));
        assert_eq!(type_at(&mut a, 1, "y", json!([[0, "🎉"], 3])), Ok(1));
        assert_eq!(a.doc(), "🎉abc");
        assert_eq!(a.version(), 2);
        assert_eq!(a.since(1).expect("known").len(), 1);
    }

    #[test]
    fn stale_and_ahead_pushes_change_nothing() {
        let mut a = Authority::new("ab".into());
        type_at(&mut a, 0, "x", json!([2, [0, "c"]])).expect("current");
        assert_eq!(
            type_at(&mut a, 0, "y", json!([2, [0, "d"]])),
            Err(CollabError::Stale { got: 0, current: 1 })
        );
        assert!(matches!(
            type_at(&mut a, 5, "y", json!([3])),
            Err(CollabError::Ahead { .. })
        ));
        assert_eq!(a.doc(), "abc");
        assert!(a.since(9).is_err());
    }

    #[test]
    fn a_bad_update_in_a_batch_rejects_the_whole_batch() {
        let mut a = Authority::new("ab".into());
        let batch = vec![
            ("x".to_string(), json!([2, [0, "c"]])),
            ("x".to_string(), json!([2])),
        ];
        assert!(a.push(0, batch, Utc::now(), 1 << 20).is_err());
        assert_eq!((a.doc(), a.version()), ("ab", 0));
    }

    #[test]
    fn size_limit_holds() {
        let mut a = Authority::new(String::new());
        let err = a.push(
            0,
            vec![("x".into(), json!([[0, "x".repeat(20)]]))],
            Utc::now(),
            10,
        );
        assert!(matches!(err, Err(CollabError::TooLarge { .. })));
    }

    #[test]
    fn newlines_are_normalized() {
        assert_eq!(normalize_newlines("a\r\nb\rc\n"), "a\nb\nc\n");
    }
}
