//! Names and sizes of the files a request puts into `/workspace`: parsed once here, so the
//! sandbox only ever sees safe relative paths.

use std::collections::BTreeMap;

/// Most files one request may carry.
pub const MAX_FILES: usize = 64;
const MAX_DEPTH: usize = 8;
const MAX_COMPONENT: usize = 128;

/// Why a file name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("file name is empty")]
    Empty,
    #[error("'{0}' is absolute; file names are relative to the workspace")]
    Absolute(String),
    #[error("'{0}' leaves the workspace or names a directory ('.', '..', or an empty part)")]
    Escapes(String),
    #[error("'{0}' has a control character or a backslash")]
    BadCharacter(String),
    #[error("'{0}' is too long or too deep")]
    TooLong(String),
}

/// Accepts `a.py` or `lib/util.py`; refuses absolute paths, `..`, `.`, empty parts,
/// backslashes, control characters and overlong names.
pub fn validate_path(path: &str) -> Result<(), PathError> {
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
    Ok(())
}

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

/// Why a set of files is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("{size} bytes of code and files; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("{0} files; the limit is {MAX_FILES}")]
    TooMany(usize),
}

/// Checks every name, the file count and the total size.
pub fn validate_files(files: &BTreeMap<String, String>, limit: usize) -> Result<(), FilesError> {
    if files.len() > MAX_FILES {
        return Err(FilesError::TooMany(files.len()));
    }
    for path in files.keys() {
        validate_path(path)?;
    }
    let size: usize = files.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > limit {
        return Err(FilesError::TooLarge { size, limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(validate_path(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(validate_path(""), Err(PathError::Empty));
        assert!(matches!(
            validate_path("/etc/passwd"),
            Err(PathError::Absolute(_))
        ));
        for p in ["../x", "a/../../x", "./a", "a//b", "a/", ".", ".."] {
            assert!(
                matches!(validate_path(p), Err(PathError::Escapes(_))),
                "{p}"
            );
        }
        for p in ["a\\b", "a\0b", "a\nb"] {
            assert!(
                matches!(validate_path(p), Err(PathError::BadCharacter(_))),
                "{p:?}"
            );
        }
        assert!(matches!(
            validate_path(&"a/".repeat(9)),
            Err(PathError::TooLong(_)) | Err(PathError::Escapes(_))
        ));
        assert!(matches!(
            validate_path(&"x".repeat(200)),
            Err(PathError::TooLong(_))
        ));
    }

    #[test]
    fn size_and_count_are_limited() {
        let files: BTreeMap<String, String> = [("a.py".to_string(), "x".repeat(100))].into();
        assert_eq!(validate_files(&files, 1000), Ok(()));
        assert!(matches!(
            validate_files(&files, 50),
            Err(FilesError::TooLarge { .. })
        ));
        let many: BTreeMap<String, String> = (0..=MAX_FILES)
            .map(|i| (format!("f{i}"), String::new()))
            .collect();
        assert!(matches!(
            validate_files(&many, 1 << 20),
            Err(FilesError::TooMany(_))
        ));
    }

    use proptest::prelude::*;

    const LONG_PART: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

    /// Names built from the pieces that make paths dangerous.
    fn risky_name() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("a"),
                Just("é"),
                Just("🎉"),
                Just("."),
                Just(".."),
                Just("/"),
                Just("\\"),
                Just("\0"),
                Just("\n"),
                Just(" "),
                Just("~"),
                Just("$(id)"),
                Just(";"),
                Just(LONG_PART),
            ],
            0..12,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        /// Whatever is accepted stays inside the workspace when joined to it, and follows
        /// every rule the sandbox relies on.
        #[test]
        fn accepted_names_never_leave_the_workspace(name in risky_name()) {
            if validate_path(&name).is_ok() {
                prop_assert!(!name.is_empty() && !name.starts_with('/'));
                prop_assert!(!name.chars().any(|c| c.is_control() || c == '\\'));
                let parts: Vec<&str> = name.split('/').collect();
                prop_assert!(parts.len() <= MAX_DEPTH);
                prop_assert!(parts.iter().all(|p| !p.is_empty() && *p != "." && *p != ".." && p.len() <= MAX_COMPONENT));
                // Lexically normalized, the joined path is still under /workspace.
                let joined = std::path::Path::new("/workspace").join(&name);
                let mut depth = 0i32;
                for c in joined.components().skip(2) {
                    match c {
                        std::path::Component::Normal(_) => depth += 1,
                        _ => depth -= 1,
                    }
                    prop_assert!(depth >= 0, "{name:?} climbs out");
                }
            }
        }

        /// Plain relative names of ordinary characters are always accepted.
        #[test]
        fn ordinary_names_are_accepted(parts in proptest::collection::vec("[a-zA-Z0-9_.-]{1,20}", 1..8)) {
            let name = parts.join("/");
            let ordinary = parts.iter().all(|p| p != "." && p != "..");
            prop_assert_eq!(validate_path(&name).is_ok(), ordinary, "{}", name);
        }
    }
}
