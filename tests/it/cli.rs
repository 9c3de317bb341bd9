//! The command-line client, the binary itself against a real server: `livecode run` with an
//! interactive program (each answer typed only after its prompt arrived), its exit code, and
//! `sessions` and `watch`.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::support::*;

fn cli(server: &TestServer) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_livecode"));
    cmd.env(
        "LIVECODE_URL",
        format!("http://127.0.0.1:{}", server.port()),
    )
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livecode_sessions_and_watch_follow_a_session() {
    let server = TestServer::start(|_| {}).await;
    let created = cli(&server)
        .args(["sessions", "create", "--env", "python"])
        .output()
        .await
        .expect("create");
    assert!(created.status.success(), "{created:?}");
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).expect("json");
    let id = created["session_id"].as_str().expect("id").to_string();
    let token = created["interviewer_token"]
        .as_str()
        .expect("token")
        .to_string();

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
    let api = server.api();
    api.wait_status(&id, &token, "ready").await;
    let ran = api
        .execute(&id, &token, serde_json::json!({"code": "print(6 * 7)"}))
        .await;
    assert_eq!(ran["stdout"], "42\n");
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
    assert!(rest.contains("[completed · exit 0"), "{rest}");
    assert!(rest.contains("[session ended: stopped]"), "{rest}");

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
