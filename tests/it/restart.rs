//! A server killed outright (SIGKILL) and started again on the same data dir keeps its
//! sessions, tokens and documents, adopts their containers and removes its own orphans.

use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_comes_back_with_its_sessions() {
    let home = ServerHome::new();
    let mut first = home.spawn().await;
    let code = "print('before and after')\n";
    let session = first.python(code).await;
    let (mut ws, welcome) = first.connect(&session.id, &session.candidate, "").await;
    assert_eq!(welcome["document"], code, "{welcome}");
    let run = run_message(&mut ws, msg::run_document()).await;
    assert_eq!(run.stdout, "before and after\n", "{}", first.log_text());
    let container = session_container(&first.api(), &session).await;

    // A container of this instance that belongs to no session: an orphan to reap at start-up.
    let orphan = Command::new("docker")
        .args([
            "run",
            "-d",
            "--network",
            "none",
            "--label",
            "livecode.managed=true",
        ])
        .args(["--label", &format!("livecode.instance={}", home.instance())])
        .args(["--label", "livecode.environment=bash"])
        .arg(format!(
            "livecode-env-bash:{}",
            livecode::environments::images::runner_build()
        ))
        .args(["sleep", "infinity"])
        .output()
        .expect("docker run");
    assert!(
        orphan.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&orphan.stderr)
    );
    let orphan = String::from_utf8_lossy(&orphan.stdout).trim().to_string();

    first.kill();
    // The socket notices the server is gone (no promise of a goodbye after SIGKILL).
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while ws.next().await.is_some() {}
    })
    .await;

    let second = home.spawn().await;
    assert!(
        wait_until(Duration::from_secs(15), || !container_exists(&orphan)).await,
        "the orphan container {orphan} of this instance was not removed at start-up\n{}",
        second.log_text()
    );
    let running = docker_ps(&[&format!("id={container}")], false);
    assert_eq!(
        running.len(),
        1,
        "the session's container is adopted, not removed: {running:?}"
    );

    let got = expect_json(
        second
            .api()
            .get(
                &format!("/sessions/{}", session.id),
                Some(&session.interviewer),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(got["session_id"], session.id.as_str(), "{got}");
    assert_eq!(got["status"], "ready", "{got}");
    assert_eq!(got["container_id"], container.as_str(), "{got}");
    assert_eq!(
        got["last_execution"]["run_id"],
        run.run_id(),
        "the run history survived: {got}"
    );

    let (mut ws, welcome) = second.connect(&session.id, &session.candidate, "").await;
    assert_eq!(welcome["document"], code, "{welcome}");
    assert_eq!(welcome["role"], "candidate", "{welcome}");
    let run = run_message(&mut ws, msg::run_document()).await;
    assert_eq!(run.stdout, "before and after\n", "{}", second.log_text());
    run.assert_completed(0);
    // The runner was re-opened in the adopted container, and the old one is gone.
    let runners = Command::new("docker")
        .args([
            "exec",
            &container,
            "sh",
            "-c",
            "grep -l '^livecode-runner$' /proc/[0-9]*/comm",
        ])
        .output()
        .expect("docker exec");
    let runners = String::from_utf8_lossy(&runners.stdout).lines().count();
    assert_eq!(runners, 1, "one runner in the container");

    // The interviewer's token survived as well.
    let (_ws, welcome) = second.connect(&session.id, &session.interviewer, "").await;
    assert_eq!(welcome["role"], "interviewer", "{welcome}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_mid_run_leaves_no_program_running() {
    let home = ServerHome::new();
    let mut first = home.spawn().await;
    let code = "print('spinning', flush=True)\nwhile True:\n    pass\n";
    let session = first.python(code).await;
    let (mut ws, _) = first.connect(&session.id, &session.candidate, "").await;
    send(&mut ws, msg::run_document()).await;
    stdout_until(&mut ws, "spinning").await;
    let container = first
        .api()
        .get_session(&session.id, &session.interviewer)
        .await["container_id"]
        .as_str()
        .expect("container")
        .to_string();
    let spinning = || {
        let top = Command::new("docker")
            .args(["top", &container, "-o", "pid,uid,args"])
            .output()
            .expect("docker top");
        String::from_utf8_lossy(&top.stdout).contains("python3")
    };
    assert!(spinning(), "the program runs");
    first.kill();
    // The runner's stream ends with the server, and the runner stops the program then, not
    // at the next start.
    assert!(
        wait_until(Duration::from_secs(60), || !spinning()).await,
        "the program outlived the server"
    );

    let second = home.spawn().await;
    // The cut-short run is on record as an error with a notice; the session works.
    let history = second.api().history(&session).await;
    let last = &history["runs"][0];
    assert_eq!(last["status"], "error", "{history}");
    assert!(
        last["stderr"]
            .as_str()
            .unwrap_or("")
            .contains("server stopped"),
        "{history}"
    );
    let (mut ws, _) = second.connect(&session.id, &session.candidate, "").await;
    send(
        &mut ws,
        json!({"type": "run", "files": {"main.py": "print('after')"}}),
    )
    .await;
    let run = collect_run(&mut ws).await;
    assert_eq!(run.stdout, "after\n", "{}", run.describe());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_closes_sockets_records_runs_and_the_next_start_adopts_them() {
    let home = ServerHome::new();
    let mut first = home.spawn().await;
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let code =
            "import time\nfor i in range(1000):\n    print(i, flush=True)\n    time.sleep(0.05)\n";
        let session = first.python(code).await;
        let (mut ws, _) = first.connect(&session.id, &session.candidate, "").await;
        let (watcher, _) = first.connect(&session.id, &session.interviewer, "").await;
        send(&mut ws, msg::run_document()).await;
        // The newline too: unbuffered Python writes "3" and "\n" separately, and the stop
        // drops what comes after it.
        stdout_until(&mut ws, "3\n").await;
        let container = first
            .api()
            .get_session(&session.id, &session.interviewer)
            .await["container_id"]
            .as_str()
            .expect("container")
            .to_string();
        sessions.push((session, ws, watcher, container));
    }
    let started = std::time::Instant::now();
    assert!(
        first.terminate(Duration::from_secs(40)).await,
        "a clean exit\n{}",
        first.log_text()
    );
    println!(
        "SIGTERM with 3 runs streaming: exited in {:?}",
        started.elapsed()
    );
    for (_, ws, watcher, _) in sessions.iter_mut() {
        for socket in [ws, watcher] {
            let code = loop {
                match socket.next().await {
                    Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => {
                        break frame.map(|f| u16::from(f.code))
                    }
                    Some(Ok(_)) => continue,
                    other => panic!("no close frame: {other:?}"),
                }
            };
            assert_eq!(code, Some(1012));
        }
    }
    let second = home.spawn().await;
    for (session, _, _, container) in &sessions {
        let history = second.api().history(session).await;
        let run = &history["runs"][0];
        assert_eq!(run["status"], "error", "{history}");
        assert!(
            run["stderr"].as_str().unwrap_or("").contains("restarting"),
            "{history}"
        );
        assert!(
            run["stdout"].as_str().unwrap_or("").contains("3\n"),
            "output up to the stop is kept: {history}"
        );
        let now = second
            .api()
            .get_session(&session.id, &session.interviewer)
            .await;
        assert_eq!(
            now["container_id"],
            container.as_str(),
            "adopted, not replaced: {now}"
        );
        assert_eq!(now["status"], "ready", "{now}");
    }
}

/// A history folded by its bound comes back after a restart: the same document and version,
/// and edits go on from there.
#[tokio::test(flavor = "multi_thread")]
async fn a_folded_history_survives_a_restart() {
    let home = ServerHome::new();
    let env = [
        ("LIVECODE_SESSIONS__HISTORY_LIMIT_BYTES", "65536"),
        ("LIVECODE_SOCKETS__MESSAGES_PER_SECOND", "0"),
        ("LIVECODE_SOCKETS__BYTES_PER_SECOND", "0"),
    ];
    let mut first = home.spawn_with(&env, None).await;
    let session = first.python("").await;
    let (mut ws, _) = first.connect(&session.id, &session.candidate, "").await;
    let mut len = 0;
    for version in 0..150u64 {
        let text = format!("{version:>1000}");
        let changes = if len == 0 {
            json!([[0, text]])
        } else {
            json!([[len, text]])
        };
        send(
            &mut ws,
            json!({"type": "update", "version": version,
            "updates": [{"client_id": "me", "changes": changes}]}),
        )
        .await;
        next_of_type(&mut ws, "updates").await;
        len = 1000;
    }
    // Updates are stored (and folded) just after they are echoed: wait until the last is,
    // and the history holds still.
    let mut before = first.api().history(&session).await;
    for _ in 0..100 {
        let held = |h: &serde_json::Value| {
            h["base_version"].as_u64().unwrap_or(0)
                + h["updates"].as_array().map_or(0, |u| u.len() as u64)
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let again = first.api().history(&session).await;
        if held(&before) == 150 && again == before {
            break;
        }
        before = again;
    }
    assert!(before["base_version"].as_u64().expect("base") > 0, "folded");
    first.kill();

    let second = home.spawn_with(&env, None).await;
    let (mut ws, welcome) = second.connect(&session.id, &session.candidate, "").await;
    assert_eq!(welcome["version"], 150);
    assert_eq!(welcome["document"].as_str().map(str::trim), Some("149"));
    let after = second.api().history(&session).await;
    assert_eq!(after["base_version"], before["base_version"]);
    assert_eq!(after["initial_document"], before["initial_document"]);
    assert_eq!(after["updates"], before["updates"]);
    send(
        &mut ws,
        json!({"type": "update", "version": 150,
        "updates": [{"client_id": "me", "changes": [[1000, "print('on')"]]}]}),
    )
    .await;
    let got = next_of_type(&mut ws, "updates").await;
    assert_eq!(got["version"], 150, "{got}");
    send(&mut ws, msg::run_document()).await;
    let run = collect_run(&mut ws).await;
    assert_eq!(run.stdout, "on\n", "{}", run.describe());
}

/// A file's edits and version survive a restart: a page that had them reconnects to the same
/// version and text (and a file created with CRLF line breaks is edited as `\n` text).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_files_version_and_text_survive_a_restart() {
    let home = ServerHome::new();
    let mut first = home.spawn().await;
    let session = first
        .session(json!({"environment": "python", "code": "print(1)\n",
                "files": {"notes.txt": "one\r\ntwo\r\n"}}))
        .await;
    let (mut ws, welcome) = first.connect(&session.id, &session.candidate, "").await;
    assert_eq!(welcome["files"][0]["document"], "one\ntwo\n", "{welcome}");
    for version in 0..3u64 {
        // Appends "x" at the end, one update per version.
        let len = 8 + version;
        send(
            &mut ws,
            json!({"type": "update", "version": version, "file": "notes.txt",
                "updates": [{"client_id": "c", "changes": [len, [0, "x"]]}]}),
        )
        .await;
        let confirmed = next_of_type(&mut ws, "updates").await;
        assert_eq!(confirmed["version"], version, "{confirmed}");
    }
    // The store writes the files in the background of the edit: wait until it has.
    let db = home.store_db().await;
    let files_rev = format!("SELECT files_rev FROM sessions WHERE id = '{}'", session.id);
    let at_3 = |rev: Option<&str>| rev.and_then(|r| r.parse::<i64>().ok()) >= Some(3);
    assert!(
        db.wait_for(&files_rev, Duration::from_secs(30), at_3).await,
        "the file's edits were not stored\n{}",
        first.log_text()
    );
    drop(db);
    first.kill();
    let second = home.spawn().await;
    let (_ws, welcome) = second.connect(&session.id, &session.candidate, "").await;
    assert_eq!(
        welcome["files"],
        json!([{"name": "notes.txt", "document": "one\ntwo\nxxx", "version": 3}]),
        "{}",
        second.log_text()
    );
}

/// A store that names another language's container (a crash in the middle of a language
/// switch can leave one) does not get that container adopted: each session comes back in a
/// container of its own language.
#[tokio::test(flavor = "multi_thread")]
async fn a_container_of_another_language_is_not_adopted() {
    let home = ServerHome::new();
    let mut first = home.spawn().await;
    let python = first.python("print('py', 6 * 7)").await;
    let node = first
        .session(json!({"environment": "node", "code": "console.log('js', 6 * 7)"}))
        .await;
    let python_box = session_container(&first.api(), &python).await;
    let node_box = session_container(&first.api(), &node).await;
    first.kill();

    let db = home.store_db().await;
    for (session, other) in [(&python, &node_box), (&node, &python_box)] {
        let changed = db
            .execute(&format!(
                "UPDATE sessions SET container_id = '{other}' WHERE id = '{}'",
                session.id
            ))
            .await;
        assert_eq!(changed, 1, "swap the containers");
    }
    drop(db);

    let second = home.spawn().await;
    for (session, wrong, expected) in [
        (&python, &node_box, "py 42\n"),
        (&node, &python_box, "js 42\n"),
    ] {
        let now = session_container(&second.api(), session).await;
        assert_ne!(&now, wrong, "another language's container was adopted");
        let (mut ws, _) = second.connect(&session.id, &session.candidate, "").await;
        let run = run_message(&mut ws, msg::run_document()).await;
        assert_eq!(run.stdout, expected, "{}", run.describe());
    }
    // Each served a session: removed, not handed to the warm pool for another one.
    for old in [&python_box, &node_box] {
        assert!(
            wait_until(Duration::from_secs(30), || !container_exists(old)).await,
            "the container {old} a session named is still there\n{}",
            second.log_text()
        );
    }
}
