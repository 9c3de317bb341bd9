//! A session's life as a client sees it: create, connect, run, type, execute, watch, delete.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

fn python_template() -> String {
    let text = std::fs::read_to_string(repo_path("environments/python/environment.toml"))
        .expect("environments/python/environment.toml");
    let table: toml::Table = text.parse().expect("environment.toml is TOML");
    table["template"].as_str().expect("template").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_environments_describe_the_server() {
    let server = TestServer::start(|_| {}).await;
    let health = expect_json(server.api().get("/health", None).await, 200).await;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["docker"], "ok", "{health}");
    assert!(health["version"].is_string(), "{health}");

    let envs = expect_json(server.api().get("/environments", None).await, 200).await;
    let python = envs
        .as_array()
        .expect("GET /environments is a list")
        .iter()
        .find(|e| e["name"] == "python")
        .unwrap_or_else(|| panic!("no python environment: {envs}"));
    assert_eq!(python["filename"], "main.py", "{python}");
    assert_eq!(python["editor_language"], "python", "{python}");
    assert_eq!(python["ready"], true, "the image is built: {python}");
    assert!(python["description"].is_string(), "{python}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_run_streams_its_output_and_finishes_completed() {
    let server = TestServer::start(|_| {}).await;
    let code = "print('a')\nprint('b')\n";
    let created = server
        .create_session(json!({"environment": "python", "code": code}))
        .await;
    for key in [
        "session_id",
        "status",
        "environment",
        "created_at",
        "expires_at",
        "candidate_token",
        "interviewer_token",
        "candidate_url",
        "interviewer_url",
    ] {
        assert!(
            created[key].is_string(),
            "POST /sessions: {key} missing: {created}"
        );
    }
    assert_eq!(created["environment"], "python");
    let session = Session::from(created);
    assert_ne!(session.candidate, session.interviewer);

    let (mut ws, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(welcome["role"], "candidate", "{welcome}");
    assert_eq!(welcome["document"], code, "{welcome}");
    assert!(welcome["version"].is_u64(), "{welcome}");
    assert_eq!(
        welcome["session"]["session_id"],
        session.id.as_str(),
        "{welcome}"
    );
    assert!(welcome["participants"].is_array(), "{welcome}");

    // No files: the run uses the server's copy of the document.
    let run = run_message(&mut ws, msg::run_document()).await;
    let started = run.started.as_ref().expect("run_started");
    assert_eq!(started["by"], "candidate", "{started}");
    assert_eq!(run.stdout, "a\nb\n");
    assert_eq!(run.stderr, "");
    run.assert_completed(0);
    assert!(!run.truncated(), "{}", run.finished);
    assert!(run.finished["duration_ms"].is_u64(), "{}", run.finished);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stderr_is_its_own_stream_and_exit_codes_are_reported() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let code = "import sys\nprint('to out')\nprint('to err', file=sys.stderr)\nsys.exit(3)\n";
    let run = run_code(&mut ws, "main.py", code).await;
    assert_eq!(run.stdout, "to out\n");
    assert_eq!(run.stderr, "to err\n");
    run.assert_completed(3);

    let run = run_code(&mut ws, "main.py", "raise ValueError('boom')\n").await;
    assert!(
        run.stderr.contains("ValueError: boom"),
        "stderr: {:?}",
        run.stderr
    );
    run.assert_completed(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_reaches_an_interactive_program() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let code = "name = input('name? ')\nprint('hello', name)\nage = input()\nprint('age', age)\n";
    send(&mut ws, msg::run("main.py", code)).await;
    next_of_type(&mut ws, "run_started").await;
    send(&mut ws, msg::stdin("x\n")).await;
    // The second line is typed only after the program answered the first: that is interactive.
    let mut stdout = stdout_until(&mut ws, "hello x\n").await;
    send(&mut ws, msg::stdin("42\n")).await;
    let run = collect_run(&mut ws).await;
    stdout.push_str(&run.stdout);
    assert_eq!(stdout, "name? hello x\nage 42\n");
    run.assert_completed(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_eof_ends_a_read_to_the_end() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let code = "import sys\ndata = sys.stdin.read()\nprint(len(data), repr(data))\n";
    send(&mut ws, msg::run("main.py", code)).await;
    next_of_type(&mut ws, "run_started").await;
    send(&mut ws, msg::stdin("hello\n")).await;
    send(&mut ws, msg::stdin("world")).await;
    send(&mut ws, msg::stdin_eof()).await;
    let run = collect_run(&mut ws).await;
    assert_eq!(run.stdout, "11 'hello\\nworld'\n");
    run.assert_completed(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_message_may_carry_its_stdin() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let run = run_message(
        &mut ws,
        msg::run_with_stdin("main.py", "print(input()[::-1])\n", "abc\n"),
    )
    .await;
    assert_eq!(run.stdout, "cba\n");
    run.assert_completed(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_run_starts_with_exactly_the_session_files() {
    let server = TestServer::start(|_| {}).await;
    let session = server
        .session(json!({"environment": "python", "code": "", "files": {"data.txt": "session\n"}}))
        .await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    // A run changes a session file, leaves files behind everywhere it may write, and plants
    // a module that would shadow the standard library's.
    let plant = "import os\n\
        open('data.txt', 'w').write('changed')\n\
        open('random.py', 'w').write('def randint(a, b): return 4\\n')\n\
        os.makedirs('deep/er'); open('deep/er/x', 'w').write('x')\n\
        open('/tmp/left', 'w').write('x' * 1000000)\n\
        open(os.path.expanduser('~/.profile'), 'w').write('x')\n\
        open('/dev/shm/seg', 'w').write('x')\n\
        os.chmod('deep', 0)\n";
    let run = run_code(&mut ws, "main.py", plant).await;
    run.assert_completed(0);

    let look = "import os, random\n\
        print(sorted(os.listdir('.')))\n\
        print(open('data.txt').read(), end='')\n\
        print(os.listdir('/tmp'), os.listdir(os.path.expanduser('~')), os.listdir('/dev/shm'))\n\
        print(len({random.randint(1, 10**9) for _ in range(3)}))\n";
    let run = run_code(&mut ws, "main.py", look).await;
    assert_eq!(
        run.stdout, "['data.txt', 'main.py']\nsession\n[] [] []\n3\n",
        "stderr: {}",
        run.stderr
    );
    run.assert_completed(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_files_are_written_beside_the_program() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let files = json!({"main.py": "import helper\nprint(helper.X + 1)\n", "helper.py": "X = 41\n"});
    let run = run_message(&mut ws, json!({"type": "run", "files": files})).await;
    assert_eq!(run.stdout, "42\n", "stderr: {}", run.stderr);
    run.assert_completed(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_the_template_unless_code_is_given() {
    let server = TestServer::start(|_| {}).await;
    let session = server.session(json!({"environment": "python"})).await;
    let (mut ws, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(welcome["document"], python_template(), "{welcome}");

    let run = run_message(&mut ws, msg::run_document()).await;
    assert_eq!(run.stdout, "Hello, livecode!\n");
    run.assert_completed(0);

    // No environment at all: the default one (python).
    let created = server.create_session(json!({})).await;
    assert_eq!(
        created["environment"],
        server.config.default_environment.as_str(),
        "{created}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_session_describes_it_and_its_last_execution() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("print('x')\n").await;
    let api = server.api();

    // Right after POST a session may still be `creating`; then it is `ready`.
    let got = api.get_session(&session.id, &session.candidate).await;
    assert!(
        matches!(got["status"].as_str(), Some("creating" | "ready")),
        "{got}"
    );
    let got = api
        .wait_status(&session.id, &session.candidate, "ready")
        .await;
    assert_eq!(got["session_id"], session.id.as_str(), "{got}");
    assert_eq!(got["environment"], "python", "{got}");
    // The candidate is not told which container serves the session; the interviewer is.
    assert!(got["container_id"].is_null(), "{got}");
    let got = api.get_session(&session.id, &session.interviewer).await;
    assert!(got["container_id"].is_string(), "{got}");
    for key in ["created_at", "last_activity_at", "expires_at"] {
        assert!(got[key].is_string(), "{key}: {got}");
    }
    assert!(got["last_execution"].is_null(), "no run yet: {got}");
    assert!(got["participants"].is_array(), "{got}");
    assert!(
        got.get("candidate_token").is_none(),
        "GET must not hand out tokens: {got}"
    );
    let container = got["container_id"].as_str().expect("a container id");
    assert!(
        container_exists(container),
        "the session's container exists"
    );

    let result = api
        .execute(&session.id, &session.candidate, json!({}))
        .await;
    let got = api.get_session(&session.id, &session.interviewer).await;
    assert!(got["last_execution"].is_object(), "{got}");
    assert_eq!(got["last_execution"]["run_id"], result["run_id"], "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_answers_the_result_and_is_seen_live() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("print('from the document')\n").await;
    let api = server.api();
    let mut ws = server.ws(&session.id, &session.interviewer).await;

    let code = "import sys\nprint('out', input())\nprint('err', file=sys.stderr)\nsys.exit(4)\n";
    let body = json!({"code": code, "stdin": "typed\n"});
    let (result, seen) = tokio::join!(
        api.execute(&session.id, &session.candidate, body),
        collect_run(&mut ws)
    );
    assert_eq!(result["session_id"], session.id.as_str(), "{result}");
    assert_eq!(result["stdout"], "out typed\n", "{result}");
    assert_eq!(result["stderr"], "err\n", "{result}");
    assert_eq!(result["exit_code"], 4, "{result}");
    assert_eq!(result["status"], "completed", "{result}");
    assert_eq!(result["truncated"], false, "{result}");
    let secs = result["execution_time"].as_f64().expect("float");
    assert!(secs > 0.0 && secs < 30.0, "{result}");

    // The socket saw the same run, live.
    assert!(
        seen.started.is_some(),
        "the socket saw no run_started: {:?}",
        seen.events
    );
    assert_eq!(seen.run_id(), result["run_id"].as_str().expect("run_id"));
    assert_eq!(seen.stdout, "out typed\n");
    assert_eq!(seen.stderr, "err\n");
    assert_eq!(seen.exit_code(), Some(4));

    // No code: the document; files and a filename of one's own also work.
    let result = api
        .execute(&session.id, &session.candidate, json!({}))
        .await;
    assert_eq!(result["stdout"], "from the document\n", "{result}");
    let body = json!({
        "filename": "prog.py",
        "code": "from helper import X\nprint(X * 2)\n",
        "files": {"helper.py": "X = 21\n"},
    });
    let result = api.execute(&session.id, &session.interviewer, body).await;
    assert_eq!(result["stdout"], "42\n", "{result}");
    assert_eq!(result["exit_code"], 0, "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_participant_sees_the_same_run() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let (mut candidate, _) = server
        .connect(&session.id, &session.candidate, "&name=Alice")
        .await;
    let (mut interviewer, welcome) = server
        .connect(&session.id, &session.interviewer, "&name=Bob")
        .await;
    assert_eq!(welcome["role"], "interviewer", "{welcome}");
    let participants = welcome["participants"].as_array().expect("participants");
    assert!(
        participants
            .iter()
            .any(|p| p["role"] == "candidate" && p["name"] == "Alice"),
        "the interviewer's welcome lists the connected candidate: {welcome}"
    );
    let (mut observer, welcome) = server
        .connect(&session.id, &session.interviewer, "&readonly=1&name=Carol")
        .await;
    assert_eq!(welcome["role"], "observer", "{welcome}");

    let code = "import sys, time\nfor i in range(5):\n    print('line', i)\n    print('warn', i, file=sys.stderr)\n    time.sleep(0.05)\n";
    send(&mut candidate, msg::run("main.py", code)).await;
    let (a, b, c) = tokio::join!(
        collect_run(&mut candidate),
        collect_run(&mut interviewer),
        collect_run(&mut observer)
    );
    let expected_out: String = (0..5).map(|i| format!("line {i}\n")).collect();
    let expected_err: String = (0..5).map(|i| format!("warn {i}\n")).collect();
    for (who, run) in [("candidate", &a), ("interviewer", &b), ("observer", &c)] {
        let started = run
            .started
            .as_ref()
            .unwrap_or_else(|| panic!("{who} saw no run_started"));
        assert_eq!(started["by"], "candidate", "{who}: {started}");
        assert_eq!(run.run_id(), a.run_id(), "{who} saw another run");
        assert_eq!(run.stdout, expected_out, "{who}");
        assert_eq!(run.stderr, expected_err, "{who}");
        run.assert_completed(0);
    }

    // The other way round: the interviewer runs, the candidate watches.
    send(
        &mut interviewer,
        msg::run("main.py", "print('by the interviewer')\n"),
    )
    .await;
    let (a, b) = tokio::join!(collect_run(&mut candidate), collect_run(&mut interviewer));
    assert_eq!(
        a.started.as_ref().expect("run_started")["by"],
        "interviewer"
    );
    assert_eq!(
        (a.run_id(), a.stdout.as_str()),
        (b.run_id(), "by the interviewer\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_stops_the_session_and_keeps_it_readable() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("print('x')\n").await;
    let api = server.api();
    let mut candidate = server.ws(&session.id, &session.candidate).await;
    let mut interviewer = server.ws(&session.id, &session.interviewer).await;
    let result = api
        .execute(&session.id, &session.candidate, json!({}))
        .await;
    assert_eq!(result["stdout"], "x\n");
    let container = session_container(&api, &session).await;

    let body = expect_json(
        api.delete(&session.path(), Some(&session.interviewer))
            .await,
        200,
    )
    .await;
    assert_eq!(body["session_id"], session.id.as_str(), "{body}");
    assert_eq!(body["status"], "stopped", "{body}");

    for ws in [&mut candidate, &mut interviewer] {
        let ended = next_of_type(ws, "session_ended").await;
        assert_eq!(ended["reason"], "stopped", "{ended}");
    }
    assert!(
        wait_until(Duration::from_secs(10), || !container_exists(&container)).await,
        "the container of a stopped session is removed"
    );
    let got = api.get_session(&session.id, &session.interviewer).await;
    assert_eq!(got["status"], "stopped", "{got}");
    assert_eq!(
        got["last_execution"]["run_id"], result["run_id"],
        "run history stays: {got}"
    );

    let resp = api
        .post(
            &format!("{}/execute", session.path()),
            Some(&session.candidate),
            &json!({}),
        )
        .await;
    check_error(resp, 409, "SESSION_ENDED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_each_environment_run_their_language() {
    let server = TestServer::start(|_| {}).await;
    let cases: [(&str, &str, &str); 3] = [
        ("python", "import sys\nprint(sys.version_info[0])\n", "3\n"),
        (
            "node",
            "console.log([1, 2, 3].map(x => x * 2).join(','))\n",
            "2,4,6\n",
        ),
        ("bash", "x=$((6 * 7))\necho \"$x\"\n", "42\n"),
    ];
    for (env, code, expected) in cases {
        let session = server
            .session(json!({"environment": env, "code": code}))
            .await;
        let result: Value = server
            .api()
            .execute(&session.id, &session.candidate, json!({}))
            .await;
        assert_eq!(result["stdout"], expected, "{env}: {result}");
        assert_eq!(result["exit_code"], 0, "{env}: {result}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_images_are_not_built_when_the_config_says_so() {
    // An environment folder of our own: python, and one whose image nobody has built.
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("nobuild{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    for (folder, source) in [("python", "python"), (name.as_str(), "bash")] {
        let to = dir.path().join(folder);
        std::fs::create_dir_all(&to).expect("mkdir");
        for file in ["Dockerfile", "environment.toml"] {
            let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("environments")
                .join(source)
                .join(file);
            std::fs::copy(from, to.join(file)).expect("copy");
        }
    }
    let started = std::time::Instant::now();
    let server = TestServer::start(|c| {
        c.environments_dir = dir.path().display().to_string();
        c.build_images_on_start = false;
    })
    .await;
    let envs = expect_json(server.api().get("/environments", None).await, 200).await;
    let mine = envs
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["name"] == name.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(mine["ready"], false, "{mine}");
    // Nothing was built, now or in the background.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let image = format!(
        "livecode-env-{name}:{}",
        livecode::environments::images::runner_build()
    );
    let inspected = std::process::Command::new("docker")
        .args(["image", "inspect", &image])
        .output()
        .expect("docker");
    assert!(!inspected.status.success(), "{image} was built");
    assert!(started.elapsed() < Duration::from_secs(30));
    let refused = server
        .api()
        .post("/sessions", None, &json!({"environment": name}))
        .await;
    check_error(refused, 503, "IMAGE_NOT_READY").await;
}

/// The engine goes away (a proxy in front of its socket stops; the shared engine is left
/// alone): creating a session or running code answers 503 at once, health says degraded, and
/// all of it works again when the engine is back.
#[tokio::test(flavor = "multi_thread")]
async fn an_engine_outage_is_a_503_not_a_session_stuck_creating() {
    let proxy = DockerProxy::start();
    let server = TestServer::start(|c| {
        c.docker.host = proxy.host();
        c.server.health_interval_seconds = 0.4;
    })
    .await;
    let session = server.python("print('back')").await;
    server
        .api()
        .wait_status(&session.id, &session.candidate, "ready")
        .await;

    proxy.stop();
    let deadline = std::time::Instant::now() + DEFAULT_WAIT;
    while server.api().get("/health", None).await.status() != 503 {
        assert!(
            std::time::Instant::now() < deadline,
            "health never said the engine is gone"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health = expect_json(server.api().get("/health", None).await, 503).await;
    assert_eq!(health["status"], "degraded", "{health}");
    let created = server
        .api()
        .post("/sessions", None, &json!({"environment": "python"}))
        .await;
    check_error(created, 503, "DOCKER_UNAVAILABLE").await;
    let path = format!("/sessions/{}/execute", session.id);
    let ran = server
        .api()
        .post(&path, Some(&session.candidate), &json!({}))
        .await;
    check_error(ran, 503, "DOCKER_UNAVAILABLE").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    send(&mut ws, msg::run_document()).await;
    check_ws_error(&mut ws, "DOCKER_UNAVAILABLE").await;

    proxy.restart();
    let deadline = std::time::Instant::now() + DEFAULT_WAIT;
    while server.api().get("/health", None).await.status() != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "health never saw the engine back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result = server
        .api()
        .execute(&session.id, &session.candidate, json!({}))
        .await;
    assert_eq!(result["stdout"], "back\n", "{result}");
    server.session(json!({"environment": "bash"})).await;
}
