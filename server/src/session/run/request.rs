//! What a run request asks for, checked and turned into what the runner needs: the files of
//! the workspace, the file the program is in, the commands and the timeout. Pure: everything
//! comes in as values, so each rule is unit-tested.

use std::collections::BTreeMap;
use std::time::Duration;

use livecode_runner::path::WorkspacePath;
use livecode_runner::protocol::{self, Step};

use super::RunRequest;
use crate::config::Limits;
use crate::environments::Environment;
use crate::session::files::check_files;
use crate::session::SessionError;

/// A run, ready for the runner.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Exactly the workspace of the run: the session's files, its document, the request's.
    pub files: BTreeMap<WorkspacePath, String>,
    /// The file the program is in.
    pub filename: WorkspacePath,
    pub timeout: Duration,
    pub build: Option<Step>,
    pub step: Step,
    /// A digest of everything the build reads: the image, the build command and every file
    /// of the workspace. The runner keeps a build's outputs under it.
    pub build_key: Option<String>,
}

impl Plan {
    /// The runner's request; `run` is numbered by the connection.
    pub fn request(&self, output_limit: usize) -> protocol::RunRequest {
        protocol::RunRequest {
            run: 0,
            files: self
                .files
                .iter()
                .map(|(path, content)| protocol::File {
                    path: path.clone(),
                    content: content.as_bytes().to_vec(),
                })
                .collect(),
            build: self.build.clone(),
            step: self.step.clone(),
            env: Vec::new(),
            output_limit: output_limit as u64,
            build_key: self.build_key.clone(),
        }
    }
}

/// Checks `req` against the limits and builds the run: `session_files` and `document` are
/// the session's own (the document goes into the environment's file name).
pub fn plan(
    req: &RunRequest,
    env: &Environment,
    session_files: &BTreeMap<WorkspacePath, String>,
    document: &str,
    limits: &Limits,
) -> Result<Plan, SessionError> {
    let max_timeout = Duration::from_secs(limits.run_timeout_seconds);
    let timeout = match req.timeout {
        Some(t) if t.is_zero() || t > max_timeout => {
            return Err(SessionError::InvalidArgument(format!(
                "timeout_seconds must be between 1 and {}",
                max_timeout.as_secs()
            )))
        }
        Some(t) => t,
        None => max_timeout,
    };
    // The document goes where its own content asks (Java: a file named after its public
    // class); the request's code, where the request says or its content asks.
    let mut files = session_files.clone();
    files.insert(env.program(document, None).filename, document.to_string());
    let program = env.program(
        req.code.as_deref().unwrap_or(document),
        req.filename.as_ref(),
    );
    if let Some(code) = &req.code {
        files.insert(program.filename.clone(), code.clone());
    }
    if let Some(extra) = &req.files {
        files.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    check_files(&files, limits.code_limit_bytes)?;

    let build_timeout = env
        .settings
        .build_timeout_seconds
        .unwrap_or(limits.build_timeout_seconds);
    let build = env.build_command(&program).map(|command| Step {
        command,
        timeout_ms: build_timeout * 1000,
    });
    Ok(Plan {
        build_key: build
            .as_ref()
            .map(|b| build_key(&env.image_id().unwrap_or_default(), &b.command, &files)),
        build,
        step: Step {
            command: env.run_command(&program),
            timeout_ms: timeout.as_millis() as u64,
        },
        files,
        filename: program.filename,
        timeout,
    })
}

/// Lengths before every field, so no two different builds can read the same.
fn build_key(image: &str, command: &str, files: &BTreeMap<WorkspacePath, String>) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field(image.as_bytes());
    field(command.as_bytes());
    for (path, content) in files {
        field(path.as_str().as_bytes());
        field(content.as_bytes());
    }
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::environments::Environments;

    fn env(name: &str) -> std::sync::Arc<Environment> {
        Environments::load("")
            .expect("embedded environments")
            .get(name)
            .expect("known")
            .clone()
    }

    fn path(p: &str) -> WorkspacePath {
        WorkspacePath::parse(p).expect("valid")
    }

    fn check(req: RunRequest, env_name: &str) -> Result<Plan, SessionError> {
        let files = BTreeMap::from([(path("data.txt"), "42\n".to_string())]);
        plan(
            &req,
            &env(env_name),
            &files,
            "print('doc')",
            &Config::defaults().limits,
        )
    }

    #[test]
    fn the_document_and_session_files_make_the_workspace() {
        let p = check(RunRequest::default(), "python").expect("plan");
        assert_eq!(p.filename, "main.py");
        assert_eq!(p.timeout, Duration::from_secs(10));
        assert_eq!(p.step.command, "python3 /workspace/main.py");
        assert_eq!(p.step.timeout_ms, 10_000);
        assert!(p.build.is_none());
        assert_eq!(
            p.files,
            BTreeMap::from([
                (path("data.txt"), "42\n".to_string()),
                (path("main.py"), "print('doc')".to_string()),
            ])
        );
    }

    #[test]
    fn code_and_files_of_the_request_win_for_this_run() {
        let req = RunRequest {
            code: Some("print(2)".into()),
            filename: Some(path("other.py")),
            files: Some(BTreeMap::from([(path("data.txt"), "7".into())])),
            ..Default::default()
        };
        let p = check(req, "python").expect("plan");
        assert_eq!(p.files["other.py"], "print(2)");
        assert_eq!(p.files["main.py"], "print('doc')");
        assert_eq!(p.files["data.txt"], "7");
        assert_eq!(p.step.command, "python3 /workspace/other.py");
    }

    #[test]
    fn a_java_document_is_saved_under_its_public_class() {
        let req = RunRequest::default();
        let files = BTreeMap::new();
        let doc = "public class Solution { public static void main(String[] a) {} }";
        let p = plan(&req, &env("java"), &files, doc, &Config::defaults().limits).expect("plan");
        assert_eq!(p.filename, "Solution.java");
        assert_eq!(p.files.keys().collect::<Vec<_>>(), ["Solution.java"]);
        assert!(p.step.command.ends_with(" Solution"), "{:?}", p.step);
        assert!(
            p.build
                .expect("java builds")
                .command
                .contains("/workspace/Solution.java"),
            "the build compiles the named file"
        );
    }

    #[test]
    fn compiled_languages_get_a_build_step_with_its_own_timeout() {
        let p = check(RunRequest::default(), "c").expect("plan");
        let build = p.build.expect("c builds");
        assert!(build.command.contains("/workspace/main.c"), "{build:?}");
        assert_eq!(build.timeout_ms, 60_000);
    }

    #[test]
    fn builds_are_keyed_by_everything_they_read() {
        let key = |doc: &str, files: &[(&str, &str)]| {
            let files = files
                .iter()
                .map(|(k, v)| (path(k), v.to_string()))
                .collect();
            let p = plan(
                &RunRequest::default(),
                &env("c"),
                &files,
                doc,
                &Config::defaults().limits,
            )
            .expect("plan");
            p.build_key.expect("c builds")
        };
        let base = key("int main(){}", &[]);
        assert_eq!(base.len(), 64);
        assert_eq!(
            base,
            key("int main(){}", &[]),
            "the same inputs, the same key"
        );
        assert_ne!(base, key("int main(){ }", &[]));
        assert_ne!(
            base,
            key("int main(){}", &[("h.h", "")]),
            "an #include may read it"
        );
        assert!(check(RunRequest::default(), "python")
            .expect("plan")
            .build_key
            .is_none());
    }

    #[test]
    fn bad_requests_are_refused() {
        for timeout in [Duration::ZERO, Duration::from_secs(11)] {
            let req = RunRequest {
                timeout: Some(timeout),
                ..Default::default()
            };
            assert!(matches!(
                check(req, "python"),
                Err(SessionError::InvalidArgument(_))
            ));
        }
        // A bad file name never reaches a plan: the request's edge refuses to parse it.
        assert!(matches!(
            crate::session::files::parse_name("../etc/passwd").map_err(SessionError::from),
            Err(SessionError::Files(_))
        ));
        let req = RunRequest {
            code: Some("x".repeat(300 * 1024)),
            ..Default::default()
        };
        assert!(matches!(check(req, "python"), Err(SessionError::Files(_))));
    }
}
