//! The names of a workspace's files. One rule, here: the server parses every file name a
//! request carries into a [`WorkspacePath`], and the runner decodes the paths of its frames
//! into the same type, so the two cannot disagree on what may be written into `/workspace`.
//!
//! Std only: this file is compiled into the runner by Debian's `rustc` with no crates.

use std::borrow::Borrow;
use std::fmt;

/// Most parts (directories and the file's own name) a path has.
pub const MAX_DEPTH: usize = 8;
/// Longest part, in bytes.
pub const MAX_COMPONENT: usize = 128;

/// A file's place in the workspace, such as `main.py` or `lib/util.py`: relative, with no
/// `.`, `..` or empty parts, no control character or backslash, at most [`MAX_DEPTH`] parts
/// of at most [`MAX_COMPONENT`] bytes each. Joined to the workspace, it stays inside it.
///
/// Ordered, compared and hashed as its text, and it borrows as `str`, so maps keyed by it
/// are looked up by plain names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkspacePath(String);

/// Why a file name is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    Empty,
    Absolute(String),
    Escapes(String),
    BadCharacter(String),
    TooLong(String),
}

impl WorkspacePath {
    /// Accepts `a.py` or `lib/util.py`; refuses absolute paths, `..`, `.`, empty parts,
    /// backslashes, control characters and overlong names.
    pub fn parse(path: &str) -> Result<Self, PathError> {
        if path.is_empty() {
            return Err(PathError::Empty);
        }
        if path.starts_with('/') {
            return Err(PathError::Absolute(shown(path)));
        }
        if path.chars().any(|c| c.is_control() || c == '\\') {
            return Err(PathError::BadCharacter(shown(path)));
        }
        let parts: Vec<&str> = path.split('/').collect();
        if parts.len() > MAX_DEPTH || parts.iter().any(|p| p.len() > MAX_COMPONENT) {
            return Err(PathError::TooLong(shown(path)));
        }
        if parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == "..")
        {
            return Err(PathError::Escapes(shown(path)));
        }
        Ok(Self(path.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The directories the file is in, outermost first, then its own name; never empty.
    pub fn parts(&self) -> std::str::Split<'_, char> {
        self.0.split('/')
    }
}

impl fmt::Display for WorkspacePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for WorkspacePath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for WorkspacePath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for WorkspacePath {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for WorkspacePath {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "file name is empty"),
            Self::Absolute(p) => {
                write!(
                    f,
                    "'{p}' is absolute; file names are relative to the workspace"
                )
            }
            Self::Escapes(p) => write!(
                f,
                "'{p}' leaves the workspace or names a directory ('.', '..', or an empty part)"
            ),
            Self::BadCharacter(p) => write!(f, "'{p}' has a control character or a backslash"),
            Self::TooLong(p) => write!(f, "'{p}' is too long or too deep"),
        }
    }
}

impl std::error::Error for PathError {}

/// A name as it may appear in an error message: printable and short.
fn shown(path: &str) -> String {
    let clean: String = path
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if clean.chars().count() > 80 {
        format!("{}…", clean.chars().take(80).collect::<String>())
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(p: &str) -> Result<WorkspacePath, PathError> {
        WorkspacePath::parse(p)
    }

    #[test]
    fn good_names_pass() {
        for p in [
            "main.py",
            "lib/util.py",
            "a b.txt",
            "données.csv",
            ".hidden",
            "x..y",
        ] {
            assert_eq!(parse(p).as_ref().map(WorkspacePath::as_str), Ok(p), "{p}");
        }
        let nested = parse("lib/a.py").expect("valid");
        assert_eq!(nested.parts().collect::<Vec<_>>(), ["lib", "a.py"]);
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(parse(""), Err(PathError::Empty));
        assert!(matches!(parse("/etc/passwd"), Err(PathError::Absolute(_))));
        for p in ["../x", "a/../../x", "./a", "a//b", "a/", ".", ".."] {
            assert!(matches!(parse(p), Err(PathError::Escapes(_))), "{p}");
        }
        for p in ["a\\b", "a\0b", "a\nb"] {
            assert!(matches!(parse(p), Err(PathError::BadCharacter(_))), "{p:?}");
        }
        assert!(matches!(
            parse(&"a/".repeat(9)),
            Err(PathError::TooLong(_)) | Err(PathError::Escapes(_))
        ));
        assert!(matches!(
            parse(&"x".repeat(200)),
            Err(PathError::TooLong(_))
        ));
    }

    #[test]
    fn errors_show_the_name_printable_and_short() {
        assert_eq!(
            parse("a\0b").expect_err("refused").to_string(),
            "'a?b' has a control character or a backslash"
        );
        let long = parse(&format!("/{}", "x".repeat(100))).expect_err("refused");
        assert_eq!(
            long.to_string(),
            format!(
                "'/{}…' is absolute; file names are relative to the workspace",
                "x".repeat(79)
            )
        );
    }

    /// The runner's own check (before the rule was shared) refused these: it still does.
    #[test]
    fn paths_stay_in_the_workspace() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\0b",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
