//! The command-line client, the binary itself against a real server: `livecode run` with an
//! interactive program (each answer typed only after its prompt arrived), its exit code, the
//! session it ends afterwards (open mode) and on Ctrl+C (API-key mode); `sessions` as tables and
//! as JSON, and `watch`. And the README's quick start, run as a newcomer pastes it.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::support::*;

const KEY: &str = "cli-test-key-0123456789abcdef0123";

fn cli(server: &TestServer) -> Command {
    cli_at(server.port())
}

/// The client binary, pointed at the server on `port`.
fn cli_at(port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_livecode"));
    cmd.env("LIVECODE_URL", format!("http://127.0.0.1:{port}"))
        .env_remove("LIVECODE_API_KEY")
        .env("LIVECODE_LOG", "warn")
        .kill_on_drop(true);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livecode_run_is_interactive_and_exits_with_the_programs_code() {
    // The run waits for typed answers: on a loaded machine the default 10 s could end it first.
    let server = TestServer::start(|c| c.limits.run_timeout_seconds = 60).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let program = dir.path().join("ask.py");
    std::fs::write(
        &program,
        "import sys\nprint('name?', flush=True)\nname = input()\nprint('hi', name, flush=True)\n\
         more = input()\nprint('bye', more)\nprint('to stderr', file=sys.stderr)\nsys.exit(5)\n",
    )
    .expect("write");
    let mut child = cli(&server)
        .arg("run")
        .arg(&program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the livecode binary");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // What the client said on stderr, for a failure's message.
    let mut errors = child.stderr.take().expect("stderr");
    let mut next = async || {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("a line in time")
            .expect("read");
        match line {
            Some(line) => line,
            None => {
                let mut said = String::new();
                let _ = tokio::io::AsyncReadExt::read_to_string(&mut errors, &mut said).await;
                panic!("the client's output ended early; it said: {said}")
            }
        }
    };
    // The prompt arrives before any answer is typed: output is live, stdin interactive.
    assert_eq!(next().await, "name?");
    stdin.write_all(b"ada\n").await.expect("type");
    assert_eq!(next().await, "hi ada");
    stdin.write_all(b"later\n").await.expect("type");
    drop(stdin);
    assert_eq!(next().await, "bye later");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits")
        .expect("status");
    assert_eq!(status.code(), Some(5), "the program's exit code");
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut errors, &mut stderr)
        .await
        .expect("stderr");
    assert!(
        stderr.contains("to stderr"),
        "stderr goes to stderr: {stderr}"
    );
}

/// The instance's containers (running or not): with no warm pool, exactly its sessions'.
fn containers_of(server: &TestServer) -> Vec<String> {
    docker_ps(
        &[&format!(
            "label=livecode.instance={}",
            server.config.instance
        )],
        true,
    )
}

/// Waits until none of the server's sessions is live and none of its containers is left
/// (`bearer`: the API key, or none in open mode, which lists this address's sessions).
async fn assert_nothing_left(server: &TestServer, bearer: Option<&str>) -> Vec<Value> {
    let listed = expect_json(server.api().get("/sessions", bearer).await, 200).await;
    let sessions = listed.as_array().cloned().unwrap_or_default();
    for session in &sessions {
        let status = session["status"].as_str().unwrap_or("?");
        assert!(
            matches!(status, "stopped" | "stopping"),
            "a session the CLI made is still live: {session}"
        );
    }
    let gone = wait_until(Duration::from_secs(60), || containers_of(server).is_empty()).await;
    assert!(gone, "containers left behind: {:?}", containers_of(server));
    sessions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livecode_run_ends_its_session_in_open_mode() {
    // No warm pool, so that every container of this instance is a session's.
    let server = TestServer::start(|c| c.pool.default_size = 0).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let program = dir.path().join("sum.py");
    std::fs::write(&program, "print(sum(map(int, input().split())))\n").expect("write");
    let input = dir.path().join("input.txt");
    std::fs::write(&input, "40 2\n").expect("write");
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        cli(&server)
            .arg("run")
            .arg(&program)
            .arg("--stdin")
            .arg(&input)
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("livecode run ends")
    .expect("the livecode binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
    assert!(!stderr.contains("could not end"), "{stderr}");

    let sessions = assert_nothing_left(&server, None).await;
    assert_eq!(sessions.len(), 1, "one session, ended: {sessions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_kills_the_run_ends_the_session_and_exits_130() {
    let server = TestServer::start(|c| {
        c.api_key = KEY.into();
        c.pool.default_size = 0;
        c.limits.run_timeout_seconds = 120;
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let program = dir.path().join("forever.py");
    std::fs::write(
        &program,
        "import time\nprint('running', flush=True)\nwhile True:\n    time.sleep(1)\n",
    )
    .expect("write");
    let mut child = cli(&server)
        .env("LIVECODE_API_KEY", KEY)
        .arg("run")
        .arg(&program)
        .stdin(Stdio::piped()) // held open: the program could wait for it
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the livecode binary");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(90), lines.next_line())
        .await
        .expect("the program's first line in time")
        .expect("read");
    assert_eq!(first.as_deref(), Some("running"));

    // The program runs now, with no end of its own: Ctrl+C.
    let pid = child.id().expect("a pid").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("livecode run exits after Ctrl+C")
        .expect("status");
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .await
        .expect("stderr");
    assert_eq!(status.code(), Some(130), "stderr: {stderr}");
    assert!(stderr.contains("interrupted; session"), "{stderr}");
    assert!(!stderr.contains("could not end"), "{stderr}");

    let sessions = assert_nothing_left(&server, Some(KEY)).await;
    assert_eq!(sessions.len(), 1, "one session, ended: {sessions:?}");
    let id = sessions[0]["session_id"].as_str().expect("id");
    let shown = server.api().get_session(id, KEY).await;
    assert_eq!(
        shown["last_execution"]["status"], "killed",
        "the run was killed: {shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_livecode_run_cannot_end_is_reported_with_the_command_that_ends_it() {
    let home = ServerHome::new();
    let mut server = home.spawn().await;
    let program = home.path().join("forever.py");
    std::fs::write(
        &program,
        "import time\nprint('running', flush=True)\nwhile True:\n    time.sleep(1)\n",
    )
    .expect("write");
    let mut child = cli_at(server.port)
        .arg("run")
        .arg(&program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the livecode binary");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(90), lines.next_line())
        .await
        .expect("the program's first line in time")
        .expect("read");
    assert_eq!(first.as_deref(), Some("running"));

    // The server dies under the run: the socket closes, and ending the session cannot work.
    server.kill();
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("livecode run exits")
        .expect("status");
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .await
        .expect("stderr");
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("could not end session"), "{stderr}");
    let command = stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("livecode sessions end "))
        .unwrap_or_else(|| panic!("the command that ends it: {stderr}"));
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let id = args[2].to_string();

    // What it said holds: the session is still live, and the command it printed ends it.
    let server = home.spawn().await;
    let token = args[4];
    let live = server.api().get_session(&id, token).await;
    assert!(
        !matches!(live["status"].as_str(), Some("stopped" | "expired")),
        "{live}"
    );
    let ended = cli_at(server.port).args(&args).output().await.expect("end");
    assert!(ended.status.success(), "{ended:?}");
    assert_eq!(
        server.api().get_session(&id, token).await["status"],
        "stopped"
    );
}

/// Adds the two numbers of its line.
const STARTER: &str = "a, b = map(int, input().split())\nprint(a + b)\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livecode_sessions_and_watch_follow_a_session() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let question = expect_json(
        server
            .api()
            .post(
                "/questions",
                Some(KEY),
                &json!({"title": "Sum", "prompt": "Print a + b.",
                    "starters": {"python": STARTER},
                    "cases": [{"name": "small", "stdin": "1 2\n", "expected": "3\n"},
                              {"name": "large", "stdin": "40 2\n", "expected": "42\n", "hidden": true}]}),
            )
            .await,
        201,
    )
    .await;
    let question_id = question["question_id"].as_str().expect("id");
    let dir = tempfile::tempdir().expect("tempdir");
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "numbers: 1 2\n").expect("write");
    let with_key = || {
        let mut cmd = cli(&server);
        cmd.env("LIVECODE_API_KEY", KEY);
        cmd
    };

    // Created with a question, a label and a file, as JSON for scripts.
    let created = with_key()
        .args([
            "sessions",
            "create",
            "--env",
            "python",
            "--question",
            question_id,
        ])
        .args(["--label", "onsite 3", "--add"])
        .arg(format!("data/notes.txt={}", notes.display()))
        .arg("--json")
        .output()
        .await
        .expect("create");
    assert!(created.status.success(), "{created:?}");
    let created: Value = serde_json::from_slice(&created.stdout).expect("json");
    let session = Session::from(created);
    let (id, token) = (session.id.clone(), session.interviewer.clone());

    // A table, for people: the links say which one to share.
    let table = with_key()
        .args(["sessions", "create", "--env", "python", "--label", "second"])
        .output()
        .await
        .expect("create");
    assert!(table.status.success(), "{table:?}");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("session "), "{table}");
    assert!(table.contains("(share this)"), "{table}");
    assert!(table.contains("(private)"), "{table}");
    let second = table
        .lines()
        .find_map(|l| l.strip_prefix("session "))
        .expect("the session line")
        .trim()
        .to_string();
    let ended = with_key()
        .args(["sessions", "end", &second])
        .output()
        .await
        .expect("end");
    assert!(ended.status.success(), "{ended:?}");
    assert_eq!(
        String::from_utf8_lossy(&ended.stdout),
        format!("session {second}: stopped\n")
    );

    let list = with_key()
        .args(["sessions", "list"])
        .output()
        .await
        .expect("list");
    assert!(list.status.success(), "{list:?}");
    let list = String::from_utf8_lossy(&list.stdout);
    let mut rows = list.lines();
    let header = rows.next().expect("a header");
    for column in ["SESSION", "STATUS", "ENVIRONMENT", "EXPIRES", "LABEL"] {
        assert!(header.contains(column), "{list}");
    }
    let row = rows
        .clone()
        .find(|r| r.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} is listed: {list}"));
    assert!(row.contains("python") && row.ends_with("onsite 3"), "{row}");
    let row = rows
        .find(|r| r.starts_with(&second))
        .unwrap_or_else(|| panic!("{second} is listed: {list}"));
    assert!(row.contains("stopped"), "{row}");
    let list = with_key()
        .args(["sessions", "list", "--json"])
        .output()
        .await
        .expect("list");
    let list: Value = serde_json::from_slice(&list.stdout).expect("json");
    let listed = list
        .as_array()
        .and_then(|l| l.iter().find(|s| s["session_id"] == id.as_str()))
        .expect("listed");
    assert_eq!(listed["label"], "onsite 3");

    let mut watch = cli(&server)
        .args(["watch", &id, "--token", &token])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch");
    let mut notes = BufReader::new(watch.stderr.take().expect("stderr")).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), notes.next_line())
        .await
        .expect("watching in time")
        .expect("read")
        .expect("a line");
    assert!(first.starts_with("[watching session"), "{first}");
    server
        .api()
        .wait_status(&id, &session.candidate, "ready")
        .await;

    let shown = cli(&server)
        .args(["sessions", "show", &id, "--token", &token])
        .output()
        .await
        .expect("show");
    assert!(shown.status.success(), "{shown:?}");
    let shown = String::from_utf8_lossy(&shown.stdout);
    let field = |name: &str| {
        shown
            .lines()
            .find_map(|l| l.strip_prefix(name).filter(|rest| rest.starts_with("  ")))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {name} in: {shown}"))
            .to_string()
    };
    assert_eq!(field("label"), "onsite 3");
    assert_eq!(field("status"), "ready");
    assert_eq!(field("environment"), "python");

    // The candidate runs the question's starter and types its input, then runs the tests.
    let (mut candidate, welcome) = server.connect(&id, &session.candidate, "&name=Ada").await;
    assert_eq!(welcome["document"], STARTER, "the question's starter");
    assert!(
        welcome["files"].to_string().contains("data/notes.txt"),
        "the added file: {}",
        welcome["files"]
    );
    send(&mut candidate, msg::run_document()).await;
    next_of_type(&mut candidate, "run_started").await;
    send(&mut candidate, msg::stdin("20 22\n")).await;
    let run = collect_run(&mut candidate).await;
    run.assert_completed(0);
    assert_eq!(run.stdout, "42\n");
    send(&mut candidate, json!({"type": "run_tests"})).await;
    next_of_type_within(&mut candidate, "tests_finished", Duration::from_secs(90)).await;

    let ended = cli(&server)
        .args(["sessions", "end", &id, "--token", &token])
        .output()
        .await
        .expect("end");
    assert!(ended.status.success(), "{ended:?}");
    let done = tokio::time::timeout(Duration::from_secs(30), watch.wait_with_output())
        .await
        .expect("watch ends with the session")
        .expect("output");
    assert_eq!(
        String::from_utf8_lossy(&done.stdout),
        "42\n",
        "the run's output, live"
    );
    let mut rest = String::new();
    while let Ok(Some(line)) = notes.next_line().await {
        rest.push_str(&line);
        rest.push('\n');
    }
    for expected in [
        "[run ",
        "[stdin from Ada] \"20 22\\n\"",
        "[completed · exit 0",
        "[tests: 2 cases, by candidate]",
        "[test 1 small: passed",
        "[test 2 large (hidden): passed",
        "[tests: 2 of 2 passed]",
        "[session ended: stopped]",
    ] {
        assert!(rest.contains(expected), "{expected} in: {rest}");
    }

    let unknown = cli(&server)
        .args([
            "sessions",
            "show",
            "00000000-0000-0000-0000-000000000000",
            "--token",
            "x",
        ])
        .output()
        .await
        .expect("show");
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("401")
            || String::from_utf8_lossy(&unknown.stderr).contains("404"),
        "{unknown:?}"
    );
}

/// The README's quick start, the `sh` blocks between its `quickstart` markers, run by `bash`
/// as written against a server on a free port: only `:8080` is rewritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_quick_start_runs_as_written() {
    let readme = std::fs::read_to_string(repo_path("README.md")).expect("README.md");
    let (start, end) = ("<!-- quickstart:start -->", "<!-- quickstart:end -->");
    let block = readme
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(block, _)| block)
        .expect("the README marks its quick start");
    // Every `sh` block, in order, as one session of a terminal.
    let script: String = block
        .split("```sh\n")
        .skip(1)
        .map(|rest| rest.split_once("```").expect("a closed block").0)
        .collect();
    assert!(!script.is_empty(), "sh blocks in the quick start");
    assert!(script.contains("localhost:8080"), "{script}");

    let server = TestServer::start(|_| {}).await;
    let script = script.replace(":8080", &format!(":{}", server.port()));
    // `set -e` as a careful reader would notice a failed step; `pipefail` too.
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        Command::new("bash")
            .args(["-eu", "-o", "pipefail", "-c", &script])
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("the quick start ends")
    .expect("bash");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "the quick start failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    // What its comments promise.
    assert!(stdout.contains(r#""stdout":"olleh\n""#), "{stdout}");
    assert!(stdout.contains(r#""status":"completed""#), "{stdout}");
    assert!(stdout.contains(r#""status":"stopped""#), "{stdout}");
    let listed = expect_json(server.api().get("/sessions", None).await, 200).await;
    assert!(
        listed
            .as_array()
            .is_some_and(|l| l.len() == 1 && l[0]["status"] == "stopped"),
        "the quick start ends its session: {listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livecode_drain_stops_a_server_with_its_key_and_nobody_else_may() {
    let mut server = SpawnedServer::start(&[("LIVECODE_API_KEY", KEY)], None).await;
    let session = server
        .api()
        .create_session_as(Some(KEY), json!({"environment": "python"}))
        .await;
    assert!(session["session_id"].is_string(), "{session}");

    let wrong = cli_at(server.port)
        .args(["drain", "--api-key", "not-the-key"])
        .output()
        .await
        .expect("livecode drain");
    assert!(!wrong.status.success(), "a wrong key drained the server");
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("UNAUTHORIZED"),
        "{wrong:?}"
    );
    assert!(server.alive(), "a refused drain stopped the server");

    let drained = cli_at(server.port)
        .args(["drain", "--api-key", KEY])
        .output()
        .await
        .expect("livecode drain");
    assert!(drained.status.success(), "{drained:?}");
    let answer: Value = serde_json::from_slice(&drained.stdout).expect("JSON");
    assert_eq!(answer, json!({"draining": true, "hands_over": false}));
    assert!(
        server.wait_exit(Duration::from_secs(30)).await,
        "the drained server did not exit 0\n{}",
        server.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_in_open_mode_cannot_be_drained_over_http() {
    let server = TestServer::start(|_| {}).await;
    let refused = server.api().post("/drain", None, &json!({})).await;
    check_error(refused, 403, "FORBIDDEN").await;
    // Still serving.
    let health = server.api().get("/health", None).await;
    assert_eq!(health.status(), 200);
}
