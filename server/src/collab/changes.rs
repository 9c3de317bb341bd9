//! CodeMirror 6 change sets in their JSON form (`ChangeSet.toJSON()`), applied to a `String`
//! with positions in UTF-16 code units, as the browser counts them.
//!
//! The JSON is an array of parts: a number `n` keeps `n` units; `[n]` deletes `n` units;
//! `[n, line, line, ...]` replaces `n` units with the lines joined by `\n`.
//!
//! Only the canonical form CodeMirror itself produces is accepted: no zero-length part, no two
//! neighbouring keeps, deletions or insertions (CodeMirror merges those), and at least one
//! part that changes something. That bounds a change set by the document it applies to, so a
//! client cannot make the server hold megabytes for an edit that changes nothing. Parsing
//! streams straight from the JSON text (no `Value` tree) and stops at the first bad part.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};

/// One part of a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Keep(usize),
    Replace { delete: usize, insert: String },
}

impl Part {
    /// Why this part may not follow `before`, if it may not.
    fn redundant_after(&self, before: Option<&Part>) -> Option<&'static str> {
        use Part::*;
        match (before, self) {
            (_, Keep(0)) => Some("a part keeps nothing"),
            (_, Replace { delete: 0, insert }) if insert.is_empty() => {
                Some("a part replaces nothing with nothing")
            }
            (Some(Keep(_)), Keep(_)) => Some("two neighbouring parts both keep"),
            (Some(Replace { insert: a, .. }), Replace { insert: b, .. })
                if a.is_empty() && b.is_empty() =>
            {
                Some("two neighbouring parts both delete")
            }
            (Some(Replace { delete: 0, .. }), Replace { delete: 0, .. }) => {
                Some("two neighbouring parts both insert at one place")
            }
            _ => None,
        }
    }
}

/// A parsed, canonical change set that changes something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    parts: Vec<Part>,
}

/// Why a change set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("a change set is a JSON array of numbers and [length, ...lines] arrays")]
    Malformed,
    #[error("the change set is not in CodeMirror's canonical form: {0}")]
    Redundant(&'static str),
    #[error("the change set changes nothing")]
    NoOp,
    #[error("the change set covers {covers} UTF-16 units but the document has {actual}")]
    LengthMismatch { covers: usize, actual: usize },
    #[error("the change set splits a character in two")]
    SplitsCharacter,
}

/// Length of `text` in UTF-16 code units.
pub fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

impl ChangeSet {
    /// Parses the JSON text of a change set, refusing any that is not canonical.
    pub fn parse(json: &str) -> Result<Self, ChangeError> {
        let mut refusal = None;
        let mut de = serde_json::Deserializer::from_str(json);
        let parsed = Seed(&mut refusal)
            .deserialize(&mut de)
            .and_then(|parts| de.end().map(|()| parts));
        match (parsed, refusal) {
            (_, Some(err)) => Err(err),
            (Ok(parts), None) => Ok(Self { parts }),
            (Err(_), None) => Err(ChangeError::Malformed),
        }
    }

    /// The length, in UTF-16 units, of the document this change set applies to.
    pub fn len_before(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Keep(n) => *n,
                Part::Replace { delete, .. } => *delete,
            })
            .sum()
    }

    /// Applies the change set to `doc`; refuses one made for a document of another length.
    pub fn apply(&self, doc: &str) -> Result<String, ChangeError> {
        let actual = utf16_len(doc);
        let covers = self.len_before();
        if covers != actual {
            return Err(ChangeError::LengthMismatch { covers, actual });
        }
        let mut out = String::with_capacity(doc.len());
        let mut rest = doc;
        for part in &self.parts {
            match part {
                Part::Keep(n) => {
                    let (kept, after) = split_utf16(rest, *n)?;
                    out.push_str(kept);
                    rest = after;
                }
                Part::Replace { delete, insert } => {
                    let (_, after) = split_utf16(rest, *delete)?;
                    out.push_str(insert);
                    rest = after;
                }
            }
        }
        debug_assert!(rest.is_empty(), "lengths were checked");
        Ok(out)
    }
}

/// Deserializes the parts, recording why a change set is refused in the slot it carries.
struct Seed<'a>(&'a mut Option<ChangeError>);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Vec<Part>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Vec<Part>, D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Vec<Part>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a change set")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Part>, A::Error> {
        let mut parts: Vec<Part> = Vec::new();
        while let Some(part) = seq.next_element_seed(PartSeed)? {
            if let Some(why) = part.redundant_after(parts.last()) {
                *self.0 = Some(ChangeError::Redundant(why));
                return Err(de::Error::custom(why));
            }
            parts.push(part);
        }
        if parts.iter().all(|p| matches!(p, Part::Keep(_))) {
            *self.0 = Some(ChangeError::NoOp);
            return Err(de::Error::custom("no-op"));
        }
        Ok(parts)
    }
}

/// One part: a number, or `[length, ...lines]`.
struct PartSeed;

impl<'de> DeserializeSeed<'de> for PartSeed {
    type Value = Part;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Part, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PartSeed {
    type Value = Part;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a length or [length, ...lines]")
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Part, E> {
        usize::try_from(n)
            .map(Part::Keep)
            .map_err(|_| E::custom("length out of range"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Part, A::Error> {
        let delete: u64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("a replacement starts with its length"))?;
        let delete = usize::try_from(delete).map_err(|_| de::Error::custom("length"))?;
        let mut insert = String::new();
        let mut first = true;
        while let Some(line) = seq.next_element::<String>()? {
            if !first {
                insert.push('\n');
            }
            insert.push_str(&line);
            first = false;
        }
        Ok(Part::Replace { delete, insert })
    }
}

/// Splits `text` after `units` UTF-16 code units.
fn split_utf16(text: &str, units: usize) -> Result<(&str, &str), ChangeError> {
    let mut counted = 0;
    for (index, c) in text.char_indices() {
        if counted == units {
            return Ok(text.split_at(index));
        }
        counted += c.len_utf16();
        if counted > units {
            return Err(ChangeError::SplitsCharacter);
        }
    }
    if counted == units {
        Ok((text, ""))
    } else {
        Err(ChangeError::LengthMismatch {
            covers: units,
            actual: counted,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(doc: &str, changes: &str, expect: Result<&str, ChangeError>) {
        let result = ChangeSet::parse(changes).and_then(|c| c.apply(doc));
        assert_eq!(result.as_deref().map_err(Clone::clone), expect, "{changes}");
    }

    #[test]
    fn inserts_deletes_and_replaces() {
        check("hello", r#"[5, [0, " world"]]"#, Ok("hello world"));
        check("hello", r#"[[1, "J"], 4]"#, Ok("Jello"));
        check("hello", "[1, [3], 1]", Ok("ho"));
        check("", r#"[[0, "a", "b"]]"#, Ok("a\nb"));
        check("a\nb", r#"[1, [1, ""], 1]"#, Ok("ab"));
    }

    #[test]
    fn positions_are_utf16_units() {
        // 🎉 is two UTF-16 units; é is one; 你 is one.
        check("🎉x", r#"[2, [1, "y"]]"#, Ok("🎉y"));
        check("é你🎉", r#"[2, [2, "!"]]"#, Ok("é你!"));
        check("🎉", "[1, [1]]", Err(ChangeError::SplitsCharacter));
    }

    #[test]
    fn wrong_lengths_and_shapes_are_refused() {
        let mismatch = |covers, actual| Err(ChangeError::LengthMismatch { covers, actual });
        check("abc", "[[2]]", mismatch(2, 3));
        check("abc", "[[4]]", mismatch(4, 3));
        for bad in [
            r#"{"a": 1}"#,
            "[[]]",
            "[[3, 7]]",
            "[-1]",
            "[1.5]",
            "[[1]] trailing",
            "not json",
            r#"["x"]"#,
        ] {
            check("abc", bad, Err(ChangeError::Malformed));
        }
    }

    #[test]
    fn no_op_and_redundant_sets_are_refused() {
        check("abc", "[3]", Err(ChangeError::NoOp));
        check("", "[]", Err(ChangeError::NoOp));
        for redundant in [
            "[0, [3]]",
            r#"[[0, ""], [3]]"#,
            "[1, 2, [0, \"x\"]]",
            "[[1], [2]]",
            r#"[[0, "a"], [0, "b"], 3]"#,
        ] {
            assert!(
                matches!(ChangeSet::parse(redundant), Err(ChangeError::Redundant(_))),
                "{redundant}"
            );
        }
        // The attack that found this: thousands of zero keeps and then the length.
        let flood = format!("[{}3]", "0,".repeat(100_000));
        assert!(matches!(
            ChangeSet::parse(&flood),
            Err(ChangeError::Redundant(_))
        ));
    }

    /// What CodeMirror would send for replacing `from..to` (UTF-16 units) of a document of
    /// `len` units with `insert`.
    pub(crate) fn canonical(len: usize, from: usize, to: usize, insert: &str) -> String {
        let mut parts = Vec::new();
        if from > 0 {
            parts.push(from.to_string());
        }
        let lines: Vec<String> = insert
            .split('\n')
            .map(|l| serde_json::to_string(l).expect("string"))
            .collect();
        parts.push(if insert.is_empty() {
            format!("[{}]", to - from)
        } else {
            format!("[{},{}]", to - from, lines.join(","))
        });
        if to < len {
            parts.push((len - to).to_string());
        }
        format!("[{}]", parts.join(","))
    }

    /// UTF-16 offsets of character boundaries in `text`.
    pub(crate) fn boundaries(text: &str) -> Vec<usize> {
        let mut at = vec![0];
        let mut n = 0;
        for c in text.chars() {
            n += c.len_utf16();
            at.push(n);
        }
        at
    }

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("a"),
                Just("é"),
                Just("你"),
                Just("🎉"),
                Just("\n"),
                Just("\r\n"),
                Just(" "),
            ],
            0..12,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        /// Every edit CodeMirror can make applies exactly; with emoji, CRLF and empty texts.
        #[test]
        fn canonical_edits_apply(doc in text(), insert in text(), a in 0usize..64, b in 0usize..64) {
            let at = boundaries(&doc);
            let (from, to) = (at[a % at.len()], at[b % at.len()]);
            let (from, to) = (from.min(to), from.max(to));
            prop_assume!(from != to || !insert.is_empty());
            let set = ChangeSet::parse(&canonical(utf16_len(&doc), from, to, &insert))
                .expect("canonical sets parse");
            let units: Vec<u16> = doc.encode_utf16().collect();
            let mut expect: Vec<u16> = units[..from].to_vec();
            expect.extend(insert.encode_utf16());
            expect.extend(&units[to..]);
            prop_assert_eq!(set.apply(&doc).expect("applies"), String::from_utf16(&expect).expect("utf16"));
        }

        /// A set that keeps everything, in any number of pieces, is refused.
        #[test]
        fn keeping_only_is_refused(pieces in proptest::collection::vec(0usize..5, 0..20)) {
            let json = format!("[{}]", pieces.iter().map(usize::to_string).collect::<Vec<_>>().join(","));
            prop_assert!(ChangeSet::parse(&json).is_err());
        }
    }
}
