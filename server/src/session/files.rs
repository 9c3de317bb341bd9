//! The files a request puts into `/workspace`: their names parsed here, at the edge, into
//! [`WorkspacePath`]s (the runner decodes the same type, so the sandbox only ever sees safe
//! relative paths), and their count and size bounded.

use std::collections::BTreeMap;

use livecode_runner::path::{PathError, WorkspacePath};

/// Most files one request may carry.
pub const MAX_FILES: usize = 64;

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

/// A request's files, by parsed name. Counted first, so an oversized request is refused
/// before any of its names is read.
pub fn parse_files(
    files: BTreeMap<String, String>,
) -> Result<BTreeMap<WorkspacePath, String>, FilesError> {
    if files.len() > MAX_FILES {
        return Err(FilesError::TooMany(files.len()));
    }
    files
        .into_iter()
        .map(|(name, text)| Ok((WorkspacePath::parse(&name)?, text)))
        .collect()
}

/// A request's file name, parsed.
pub fn parse_name(name: &str) -> Result<WorkspacePath, FilesError> {
    Ok(WorkspacePath::parse(name)?)
}

/// Checks a workspace's file count and total size, names included.
pub fn check_files(
    files: &BTreeMap<WorkspacePath, String>,
    limit: usize,
) -> Result<(), FilesError> {
    if files.len() > MAX_FILES {
        return Err(FilesError::TooMany(files.len()));
    }
    let size = files_bytes(files);
    if size > limit {
        return Err(FilesError::TooLarge { size, limit });
    }
    Ok(())
}

/// Bytes files take in a run's workspace, names included.
pub fn files_bytes(files: &BTreeMap<WorkspacePath, String>) -> usize {
    files.iter().map(|(k, v)| k.as_str().len() + v.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use livecode_runner::path::{MAX_COMPONENT, MAX_DEPTH};
    use livecode_runner::protocol::{self, DecodeError, Request, Step};

    fn one(name: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(name.to_string(), String::new())])
    }

    #[test]
    fn names_are_parsed_and_refusals_told() {
        let parsed = parse_files(one("lib/util.py")).expect("a good name");
        assert_eq!(parsed.keys().collect::<Vec<_>>(), ["lib/util.py"]);
        assert_eq!(
            parse_files(one("../x")),
            Err(FilesError::Path(PathError::Escapes("../x".into())))
        );
        assert_eq!(parse_name(""), Err(FilesError::Path(PathError::Empty)));
        assert_eq!(
            FilesError::from(PathError::Absolute("/etc/passwd".into())).to_string(),
            "'/etc/passwd' is absolute; file names are relative to the workspace"
        );
    }

    #[test]
    fn size_and_count_are_limited() {
        let files = parse_files([("a.py".to_string(), "x".repeat(100))].into()).expect("valid");
        assert_eq!(check_files(&files, 1000), Ok(()));
        assert!(matches!(
            check_files(&files, 50),
            Err(FilesError::TooLarge { .. })
        ));
        let many: BTreeMap<String, String> = (0..=MAX_FILES)
            .map(|i| (format!("f{i}"), String::new()))
            .collect();
        // Too many is told before a bad name among them.
        let mut bad = many.clone();
        bad.insert("../x".into(), String::new());
        assert!(matches!(parse_files(bad), Err(FilesError::TooMany(_))));
        let many = parse_files(many.into_iter().skip(1).collect()).expect("at the limit");
        let mut over = many.clone();
        over.insert(parse_name("one-more").expect("valid"), String::new());
        assert_eq!(check_files(&many, 1 << 20), Ok(()));
        assert!(matches!(
            check_files(&over, 1 << 20),
            Err(FilesError::TooMany(_))
        ));
    }

    /// The body of a runner frame carrying one file named `name`, whatever it is: the frame
    /// of a valid path with that path's bytes replaced, as a server that did not parse the
    /// name would send it. (Were the layout to move, accepted names would stop decoding and
    /// the property below would fail.)
    fn run_body_with_path(name: &str) -> Vec<u8> {
        let valid = |path: &str| {
            Request::Run(protocol::RunRequest {
                run: 1,
                files: vec![protocol::File {
                    path: WorkspacePath::parse(path).expect("valid"),
                    content: b"x".to_vec(),
                }],
                build: None,
                step: Step {
                    command: "true".into(),
                    timeout_ms: 1,
                },
                env: Vec::new(),
                output_limit: 1,
                build_key: None,
            })
            .encode()[4..]
                .to_vec()
        };
        // Kind (1 byte), run (8), file count (4), then the path: its length (4) and bytes.
        let (head, placeholder) = (13, "p");
        let body = valid(placeholder);
        let tail = &body[head + 4 + placeholder.len()..];
        let mut out = body[..head].to_vec();
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(tail);
        out
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
            if parse_files(one(&name)).is_ok() {
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
            prop_assert_eq!(parse_files(one(&name)).is_ok(), ordinary, "{}", name);
        }

        /// The server's edge and the runner's decoder agree on every name: what a request
        /// may name, a frame carries unchanged; what it may not, the runner refuses.
        #[test]
        fn the_runner_decodes_what_the_server_accepts(name in risky_name()) {
            let decoded = Request::decode(&run_body_with_path(&name));
            match parse_files(one(&name)) {
                Ok(files) => {
                    let Ok(Request::Run(run)) = decoded else {
                        return Err(TestCaseError::fail(format!("{name:?}: {decoded:?}")));
                    };
                    prop_assert_eq!(files.keys().next(), Some(&run.files[0].path));
                }
                Err(_) => prop_assert_eq!(decoded, Err(DecodeError("bad file path"))),
            }
        }
    }
}
