//! CodeMirror 6 change sets in their JSON form (`ChangeSet.toJSON()`), applied to a `String`
//! with positions in UTF-16 code units, as the browser counts them.
//!
//! The JSON is an array of parts: a number `n` keeps `n` units; `[n]` deletes `n` units;
//! `[n, line, line, ...]` replaces `n` units with the lines joined by `\n`.

use serde_json::Value;

/// One part of a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Keep(usize),
    Replace { delete: usize, insert: String },
}

/// A parsed change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    parts: Vec<Part>,
}

/// Why a change set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("a change set is a JSON array of numbers and [length, ...lines] arrays")]
    Malformed,
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
    pub fn from_json(value: &Value) -> Result<Self, ChangeError> {
        let items = value.as_array().ok_or(ChangeError::Malformed)?;
        let length = |v: &Value| v.as_u64().map(|n| n as usize).ok_or(ChangeError::Malformed);
        let mut parts = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::Number(_) => parts.push(Part::Keep(length(item)?)),
                Value::Array(a) if !a.is_empty() => {
                    let delete = length(&a[0])?;
                    let lines = a[1..]
                        .iter()
                        .map(|l| l.as_str().ok_or(ChangeError::Malformed))
                        .collect::<Result<Vec<_>, _>>()?;
                    parts.push(Part::Replace {
                        delete,
                        insert: lines.join("\n"),
                    });
                }
                _ => return Err(ChangeError::Malformed),
            }
        }
        Ok(Self { parts })
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
mod tests {
    use super::*;
    use serde_json::json;

    fn check(doc: &str, changes: Value, expect: Result<&str, ChangeError>) {
        let result = ChangeSet::from_json(&changes).and_then(|c| c.apply(doc));
        assert_eq!(result.as_deref().map_err(Clone::clone), expect, "{changes}");
    }

    #[test]
    fn inserts_deletes_and_replaces() {
        check("hello", json!([5, [0, " world"]]), Ok("hello world"));
        check("hello", json!([[1, "J"], 4]), Ok("Jello"));
        check("hello", json!([1, [3], 1]), Ok("ho"));
        check("", json!([[0, "a", "b"]]), Ok("a\nb"));
        check("a\nb", json!([1, [1, ""], 1]), Ok("ab"));
    }

    #[test]
    fn positions_are_utf16_units() {
        // 🎉 is two UTF-16 units; é is one; 你 is one.
        check("🎉x", json!([2, [1, "y"]]), Ok("🎉y"));
        check("é你🎉", json!([2, [2, "!"]]), Ok("é你!"));
        check("🎉", json!([1, [1]]), Err(ChangeError::SplitsCharacter));
    }

    #[test]
    fn wrong_lengths_and_shapes_are_refused() {
        check(
            "abc",
            json!([2]),
            Err(ChangeError::LengthMismatch {
                covers: 2,
                actual: 3,
            }),
        );
        check(
            "abc",
            json!([4]),
            Err(ChangeError::LengthMismatch {
                covers: 4,
                actual: 3,
            }),
        );
        check("abc", json!({"a": 1}), Err(ChangeError::Malformed));
        check("abc", json!([[]]), Err(ChangeError::Malformed));
        check("abc", json!([[3, 7]]), Err(ChangeError::Malformed));
        check("abc", json!([-1]), Err(ChangeError::Malformed));
    }
}
