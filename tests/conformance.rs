//! The language conformance suite: for every environment and every property in
//! `tests/conformance/README.md`, one case, run through a real session of the real server
//! against real containers. Cases are discovered from the folders, so adding a language is
//! adding its programs (and its environment). Run alone: `cargo test --test conformance`;
//! one language: `cargo test --test conformance -- python::`.
//!
//! One server serves every case (on its own runtime); each case makes its own session and
//! ends it.
//!
//! Two variables choose what runs: `LIVECODE_CONFORMANCE_RUNTIME` the OCI runtime of the
//! sessions (`runsc`: gVisor; unset or empty: the engine's default) and
//! `LIVECODE_CONFORMANCE_ENVIRONMENTS` the environments, comma-separated (unset: all).
//! `scripts/test.sh` runs python, c, java and node again under `runsc` this way. The server, REST and socket helpers are the integration tests' (`tests/it/support`).

#[path = "it/support/mod.rs"]
#[allow(dead_code, unused_imports)] // the integration tests use more of it
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::runtime::Handle;

use support::{Server as _, TestServer};
/// Compilers on half a core are slow: generous, but a hang still ends.
const CASE_WAIT: Duration = Duration::from_secs(240);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    compiled: bool,
    hello_stdout: String,
    runtime_error_stderr: String,
    #[serde(default)]
    compile_error_stderr: Option<String>,
    #[serde(default)]
    skip: Vec<String>,
}

/// The one server every case talks to.
type Ctx = Arc<TestServer>;

const PROPERTIES: &[&str] = &[
    "hello",
    "version",
    "stdin",
    "unicode",
    "exit_code",
    "runtime_error",
    "compile_error",
    "many_lines",
    "run_files",
    "sum",
    "libraries",
    "entry",
];

/// Properties whose program only some environments have: the ones with libraries, and the
/// ones whose program names its entry (`public class Solution`). `coverage` checks the folders
/// against `environment.toml`.
const OPTIONAL: &[&str] = &["libraries", "entry"];

/// The OCI runtime sessions run under (see the module's doc).
const RUNTIME_VAR: &str = "LIVECODE_CONFORMANCE_RUNTIME";
/// The environments to run, comma-separated (see the module's doc).
const ENVIRONMENTS_VAR: &str = "LIVECODE_CONFORMANCE_ENVIRONMENTS";

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let ctx = if args.list {
        None
    } else {
        Some(Arc::new(runtime.block_on(start_server())))
    };

    let mut trials = vec![Trial::test("coverage::every_environment_has_programs", {
        let root = root.clone();
        move || coverage(&root)
    })];
    let chosen: Option<Vec<String>> = std::env::var(ENVIRONMENTS_VAR)
        .ok()
        .map(|list| list.split(',').map(|e| e.trim().to_string()).collect());
    let found = discover(&root);
    if let Some(chosen) = &chosen {
        // A name that matches no environment would pass by running nothing.
        for name in chosen {
            assert!(
                found.iter().any(|(env, _)| env == name),
                "{ENVIRONMENTS_VAR} names '{name}', which has no conformance folder"
            );
        }
    }
    for (env, expect) in found {
        if chosen.as_ref().is_some_and(|c| !c.contains(&env)) {
            continue;
        }
        for property in PROPERTIES {
            let name = format!("{env}::{property}");
            let ignored = expect.skip.iter().any(|s| s == property)
                || (*property == "compile_error" && !expect.compiled)
                || (OPTIONAL.contains(property) && !root.join(&env).join(property).exists());
            let (ctx, env, expect, dir) =
                (ctx.clone(), env.clone(), expect.clone(), root.join(&env));
            let handle = runtime.handle().clone();
            let trial = Trial::test(name, move || {
                let ctx = ctx.expect("a server outside --list");
                run_case(&handle, &ctx, &env, property, &expect, &dir)
            });
            trials.push(trial.with_ignored_flag(ignored));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // The server stops and its containers go (its instance label) with the last handle.
    runtime.block_on(async move { drop(ctx) });
    drop(runtime);
    conclusion.exit_code()
}

fn discover(root: &Path) -> Vec<(String, Expect)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).expect("tests/conformance exists") {
        let path = entry.expect("entry").path();
        if !path.is_dir() {
            continue;
        }
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(path.join("expect.toml"))
            .unwrap_or_else(|e| panic!("{name}/expect.toml: {e}"));
        let expect: Expect =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{name}/expect.toml: {e}"));
        out.push((name, expect));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every environment the server ships has a conformance folder, and every folder an environment.
fn coverage(root: &Path) -> Result<(), Failed> {
    let envs = livecode::environments::Environments::load("").map_err(|e| e.to_string())?;
    let folders: Vec<String> = discover(root).into_iter().map(|(n, _)| n).collect();
    let names = envs.names();
    if names != folders {
        return Err(format!("environments {names:?} but conformance folders {folders:?}").into());
    }
    for env in envs.iter() {
        let has = |file: &str| root.join(&env.name).join(file).exists();
        let listed = !env.settings.libraries.is_empty();
        if has("libraries") != listed {
            return Err(format!(
                "{}: libraries {:?} in environment.toml, but a `libraries` program: {}",
                env.name,
                env.settings.libraries,
                has("libraries")
            )
            .into());
        }
        let named = !env.settings.entry_patterns.is_empty();
        if has("entry") != named {
            return Err(format!(
                "{}: entry_patterns {:?}, but an `entry` program: {}",
                env.name,
                env.settings.entry_patterns,
                has("entry")
            )
            .into());
        }
    }
    Ok(())
}

async fn start_server() -> TestServer {
    let runtime = std::env::var(RUNTIME_VAR).unwrap_or_default();
    TestServer::start(|config| {
        config.docker.runtime = runtime;
        // The version property reads what the server reads off the images at start-up.
        config.read_versions_on_start = true;
        // One client runs every case, each in a session of its own, as fast as it can: the
        // per-client quotas that keep one anonymous client from filling a server would stop
        // it.
        config.quotas.max_live_sessions_per_ip = 0;
        config.quotas.sessions_per_minute = 0;
        config.quotas.runs_per_minute = 0;
    })
    .await
}

fn run_case(
    handle: &Handle,
    ctx: &Ctx,
    env: &str,
    property: &str,
    expect: &Expect,
    dir: &Path,
) -> Result<(), Failed> {
    let program = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| Failed::from(format!("{env}/{name}: {e}")))
    };
    handle.block_on(async {
        tokio::time::timeout(CASE_WAIT, async {
            match property {
                "version" => return check_version(ctx, env).await,
                "compile_error" if !expect.compiled => unreachable!("ignored"),
                _ => {}
            }
            let session = Session::create(ctx, env).await?;
            let result = match property {
                "hello" => {
                    let r = session.execute(json!({})).await?;
                    r.completed(0)?;
                    r.stdout_is(&expect.hello_stdout)
                }
                "stdin" => session.interactive_stdin(&program("stdin")?).await,
                "unicode" => {
                    let r = session
                        .execute(json!({"code": program("unicode")?}))
                        .await?;
                    r.completed(0)?;
                    r.stdout_is("héllo — привет — 你好 — 🎉\n")
                }
                "exit_code" => session
                    .execute(json!({"code": program("exit_code")?}))
                    .await?
                    .completed(3),
                "runtime_error" => {
                    let r = session
                        .execute(json!({"code": program("runtime_error")?}))
                        .await?;
                    r.status_is("completed")?;
                    if r.exit_code() == Some(0) {
                        return Err(format!("exit code 0 for a runtime error: {}", r.0).into());
                    }
                    r.stderr_has(&expect.runtime_error_stderr)
                }
                "compile_error" => {
                    let r = session
                        .execute(json!({"code": program("compile_error")?}))
                        .await?;
                    r.status_is("compile_error")?;
                    if r.exit_code() == Some(0) {
                        return Err(format!("exit code 0 for a compile error: {}", r.0).into());
                    }
                    let needle = expect
                        .compile_error_stderr
                        .as_deref()
                        .ok_or("no compile_error_stderr")?;
                    r.stderr_has(needle)?;
                    if r.0["execution_time"].as_f64() != Some(0.0)
                        || r.0["build_time"].as_f64().is_none()
                    {
                        return Err(format!(
                            "the run should not start after a failed build: {}",
                            r.0
                        )
                        .into());
                    }
                    Ok(())
                }
                "many_lines" => {
                    let r = session
                        .execute(json!({"code": program("many_lines")?}))
                        .await?;
                    r.completed(0)?;
                    let want: String = (1..=10_000).map(|i| format!("{i}\n")).collect();
                    r.stdout_is(&want)
                }
                "run_files" => {
                    // What a run writes is gone for the next run...
                    session
                        .execute(json!({"code": program("write_file")?}))
                        .await?
                        .completed(0)?;
                    let r = session
                        .execute(json!({"code": program("read_file")?}))
                        .await?;
                    let out = r.0["stdout"].as_str().unwrap_or_default();
                    if out.contains("persisted 42") {
                        return Err(
                            format!("a later run read what an earlier one wrote: {}", r.0).into(),
                        );
                    }
                    // ...while a file the request names is there.
                    let r = session
                        .execute(json!({
                            "code": program("read_file")?,
                            "files": {"data.txt": "persisted 42\n"},
                        }))
                        .await?;
                    r.completed(0)?;
                    let out = r.0["stdout"].as_str().unwrap_or_default();
                    if out.trim_end_matches('\n') != "persisted 42" {
                        return Err(format!("read back {out:?}, wanted \"persisted 42\"").into());
                    }
                    Ok(())
                }
                "sum" => {
                    // Numbers over several lines, some on one, a blank line, one past 32 bits.
                    let r = session
                        .execute(json!({
                            "code": program("sum")?,
                            "stdin": "3 -1\n10\n\n1000000000000 7\n",
                        }))
                        .await?;
                    r.completed(0)?;
                    r.stdout_is("1000000000019\n")
                }
                "libraries" => {
                    let r = session
                        .execute(json!({"code": program("libraries")?}))
                        .await?;
                    r.completed(0)?;
                    r.stdout_is("1 2 3\n")
                }
                "entry" => {
                    // As written elsewhere (`public class Solution`, `module Solution`),
                    // with no file name given.
                    let r = session.execute(json!({"code": program("entry")?})).await?;
                    r.completed(0)?;
                    r.stdout_is("entry 42\n")
                }
                other => Err(format!("unknown property {other}").into()),
            };
            session.end().await;
            result
        })
        .await
        .map_err(|_| Failed::from(format!("{env}::{property} took longer than {CASE_WAIT:?}")))?
    })
}

async fn check_version(ctx: &Ctx, env: &str) -> Result<(), Failed> {
    // Versions are read off the images in the background after start-up.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = support::expect_json(ctx.api().get("/environments", None).await, 200).await;
        let item = list
            .as_array()
            .and_then(|l| l.iter().find(|e| e["name"] == env))
            .ok_or_else(|| format!("{env} is not listed"))?
            .clone();
        if item["ready"] != true {
            return Err(format!("{env}'s image is not ready: {item}").into());
        }
        if let Some(v) = item["version"].as_str() {
            if livecode::environments::short_version(v).is_none() {
                return Err(format!("{env}'s version {v:?} has no number in it").into());
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{env}'s version was never read: {item}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A case's session on the shared server.
struct Session<'a> {
    ctx: &'a TestServer,
    created: support::Session,
}

struct Executed(Value);

impl Executed {
    fn exit_code(&self) -> Option<i64> {
        self.0["exit_code"].as_i64()
    }

    fn status_is(&self, status: &str) -> Result<(), Failed> {
        if self.0["status"] != status {
            return Err(
                format!("status {} (wanted {status}): {}", self.0["status"], self.0).into(),
            );
        }
        Ok(())
    }

    fn completed(&self, code: i64) -> Result<(), Failed> {
        self.status_is("completed")?;
        if self.exit_code() != Some(code) {
            return Err(format!(
                "exit code {:?} (wanted {code}): {}",
                self.exit_code(),
                self.0
            )
            .into());
        }
        Ok(())
    }

    fn stdout_is(&self, want: &str) -> Result<(), Failed> {
        let got = self.0["stdout"].as_str().unwrap_or_default();
        if got != want {
            let cut = |s: &str| s.chars().take(300).collect::<String>();
            return Err(format!(
                "stdout {:?}… wanted {:?}… (stderr {:?})",
                cut(got),
                cut(want),
                self.0["stderr"]
            )
            .into());
        }
        Ok(())
    }

    fn stderr_has(&self, needle: &str) -> Result<(), Failed> {
        let got = self.0["stderr"].as_str().unwrap_or_default();
        if !got.contains(needle) {
            return Err(format!("stderr {got:?} lacks {needle:?}").into());
        }
        Ok(())
    }
}

impl<'a> Session<'a> {
    async fn create(ctx: &'a TestServer, env: &str) -> Result<Session<'a>, Failed> {
        let resp = ctx
            .api()
            .post("/sessions", None, &json!({"environment": env}))
            .await;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if status != 201 {
            return Err(format!("creating a {env} session: {status} {body}").into());
        }
        Ok(Session {
            ctx,
            created: support::Session::from(body),
        })
    }

    async fn execute(&self, body: Value) -> Result<Executed, Failed> {
        let s = &self.created;
        Ok(Executed(
            self.ctx.api().execute(&s.id, &s.candidate, body).await,
        ))
    }

    /// Runs over the socket and types two lines one at a time, as a candidate would.
    async fn interactive_stdin(&self, code: &str) -> Result<(), Failed> {
        let s = &self.created;
        let (mut ws, welcome) = self.ctx.connect(&s.id, &s.candidate, "").await;
        let filename = welcome["environment"]["filename"]
            .as_str()
            .ok_or("no filename in welcome")?
            .to_string();
        let files: BTreeMap<String, String> = [(filename, code.to_string())].into();
        support::send(&mut ws, json!({"type": "run", "files": files})).await;
        support::next_of_type(&mut ws, "run_started").await;
        // Build first (if any): typing goes in once the program is running.
        support::send(&mut ws, support::msg::stdin("first line\n")).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        support::send(&mut ws, support::msg::stdin("second line\n")).await;
        // End of input, as Ctrl-D would: some programs read to the end before answering.
        support::send(&mut ws, support::msg::stdin_eof()).await;
        let run = support::collect_run_within(&mut ws, CASE_WAIT).await;
        if run.status() != "completed" || run.exit_code() != Some(0) {
            return Err(format!("run finished {} (stderr {:?})", run.finished, run.stderr).into());
        }
        let stdout = run.stdout_of_phase("run");
        if stdout != "second line\nfirst line\n" {
            return Err(format!("stdout {stdout:?} (stderr {:?})", run.stderr).into());
        }
        Ok(())
    }

    async fn end(&self) {
        let s = &self.created;
        self.ctx.api().delete(&s.path(), Some(&s.interviewer)).await;
    }
}
