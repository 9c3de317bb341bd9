//! What a hostile or careless program cannot do: exhaust processes, memory, output, disk,
//! reach the network, or outweigh the server for the CPU; and after each, the session and the
//! server go on.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

/// Bombs may take the timeout plus the server's clean-up (which may restart the container).
const BOMB_WAIT: Duration = Duration::from_secs(60);

/// The run after `before` (a bomb, a flood) prints normally.
async fn assert_next_run_prints(
    ws: &mut WsStream,
    before: &RunResult,
    filename: &str,
    code: &str,
    expected: &str,
) {
    let run = run_code(ws, filename, code).await;
    assert_eq!(
        (run.stdout.as_str(), run.status(), run.exit_code()),
        (expected, "completed", Some(0)),
        "the run after:\n{}\nthe run before:\n{}",
        run.describe(),
        before.describe()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bash_fork_bomb_ends_and_the_next_run_works() {
    let server = TestServer::start(|c| c.limits.run_timeout_seconds = 5).await;
    let session = server.bash("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    send(&mut ws, msg::run("main.sh", ":(){ :|:& };:\n")).await;
    let run = collect_run_within(&mut ws, BOMB_WAIT).await;
    assert!(run.started.is_some(), "{:?}", run.events);

    assert_next_run_prints(&mut ws, &run, "main.sh", "echo alive\n", "alive\n").await;
    assert_eq!(
        expect_json(server.api().get("/health", None).await, 200).await["status"],
        "ok"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_fork_loop_ends_and_the_next_run_works() {
    let server = TestServer::start(|c| c.limits.run_timeout_seconds = 5).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let bomb =
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n";
    send(&mut ws, msg::run("main.py", bomb)).await;
    let run = collect_run_within(&mut ws, BOMB_WAIT).await;
    assert!(run.started.is_some(), "{:?}", run.events);

    assert_next_run_prints(&mut ws, &run, "main.py", "print('alive')\n", "alive\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_is_reported_as_oom() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let bomb = "chunks = []\nfor i in range(16):\n    chunks.append(b'x' * (64 << 20))\n    print('allocated', (i + 1) * 64, 'MiB', flush=True)\nprint('survived 1 GiB')\n";
    send(&mut ws, msg::run("main.py", bomb)).await;
    let run = collect_run_within(&mut ws, BOMB_WAIT).await;
    assert!(
        !run.stdout.contains("survived"),
        "1 GiB fit under a {} MiB limit?",
        server.config.limits.memory_mib
    );
    assert_eq!(run.status(), "oom", "{}", run.describe());

    assert_next_run_prints(&mut ws, &run, "main.py", "print('alive')\n", "alive\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_flood_is_cut_at_the_limit_and_memory_stays_bounded() {
    let server = TestServer::start(|_| {}).await;
    let limit = server.config.limits.output_limit_bytes;
    let timeout_secs = server.config.limits.run_timeout_seconds;
    let margin = 64 * 1024;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    run_code(&mut ws, "main.py", "print('warm')\n")
        .await
        .assert_completed(0);
    let rss_before = vm_rss_bytes();
    let max_growth = 100 * 1024 * 1024;

    // Flood 1, over the socket, on stdout.
    let flood = "import sys\nline = 'x' * 4095 + '\\n'\nwhile True:\n    sys.stdout.write(line)\n";
    send(&mut ws, msg::run("main.py", flood)).await;
    let run = collect_run_within(&mut ws, Duration::from_secs(60)).await;
    assert_eq!(run.status(), "output_limit", "{}", run.describe());
    assert!(run.truncated(), "{}", run.finished);
    assert!(
        run.duration_ms() < timeout_secs * 1000,
        "the flood was stopped only after {} ms (run timeout {timeout_secs} s)",
        run.duration_ms()
    );
    let received = run.stdout.len() + run.stderr.len();
    assert!(
        received <= limit + margin,
        "received {received} bytes with a limit of {limit}"
    );
    assert!(
        received >= limit / 2,
        "received only {received} bytes of a {limit}-byte allowance"
    );
    let rss_after_one = vm_rss_bytes();

    // Flood 2, over REST, on stderr; the socket sees it too.
    let flood = "import sys\nline = 'y' * 4095 + '\\n'\nwhile True:\n    sys.stderr.write(line)\n";
    let api = server.api();
    let (result, seen) = tokio::join!(
        api.execute(&session.id, &session.candidate, json!({"code": flood})),
        collect_run_within(&mut ws, Duration::from_secs(60))
    );
    assert_eq!(result["status"], "output_limit", "{}", short(&result));
    assert_eq!(result["truncated"], true, "{}", short(&result));
    let received = result["stdout"].as_str().expect("stdout").len()
        + result["stderr"].as_str().expect("stderr").len();
    assert!(
        received <= limit + margin,
        "execute returned {received} bytes with a limit of {limit}"
    );
    assert_eq!(seen.run_id(), result["run_id"].as_str().expect("run_id"));
    assert_eq!(seen.status(), "output_limit", "{}", seen.describe());
    let received = seen.stdout.len() + seen.stderr.len();
    assert!(
        received <= limit + margin,
        "the socket received {received} bytes with a limit of {limit}"
    );
    let secs = result["execution_time"].as_f64().expect("execution_time");
    assert!(
        secs < timeout_secs as f64,
        "the flood was stopped only after {secs} s (run timeout {timeout_secs} s): {}",
        seen.describe()
    );
    let rss_after_two = vm_rss_bytes();

    let mib = |b: u64| b / (1024 * 1024);
    for (what, rss) in [("first", rss_after_one), ("second", rss_after_two)] {
        assert!(
            rss.saturating_sub(rss_before) < max_growth,
            "RSS grew from {} MiB to {} MiB after the {what} flood",
            mib(rss_before),
            mib(rss)
        );
    }

    assert_next_run_prints(&mut ws, &seen, "main.py", "print('alive')\n", "alive\n").await;
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.len() > 400 {
        format!("{}… ({} bytes)", &s[..400], s.len())
    } else {
        s
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yes_is_cut_at_the_output_limit() {
    let server = TestServer::start(|c| c.limits.output_limit_bytes = 64 * 1024).await;
    let session = server.bash("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    send(&mut ws, msg::run("main.sh", "yes\n")).await;
    let run = collect_run(&mut ws).await;
    assert_eq!(run.status(), "output_limit", "{}", run.finished);
    assert!(run.truncated());
    assert!(
        run.stdout.len() <= 64 * 1024 + 16 * 1024,
        "received {} bytes",
        run.stdout.len()
    );
    assert!(
        run.stdout.starts_with("y\ny\n"),
        "{:?}",
        &run.stdout[..run.stdout.len().min(20)]
    );

    assert_next_run_prints(&mut ws, &run, "main.sh", "echo alive\n", "alive\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filling_the_workspace_fails_inside_and_harms_nothing_outside() {
    let server = TestServer::start(|_| {}).await;
    let session = server.bash("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let fill = "head -c 1073741824 /dev/zero > /workspace/big && echo wrote-1GiB\n";
    send(&mut ws, msg::run("main.sh", fill)).await;
    let run = collect_run_within(&mut ws, Duration::from_secs(60)).await;
    assert!(
        !run.stdout.contains("wrote-1GiB"),
        "1 GiB fit in /workspace: {}",
        run.finished
    );
    assert!(
        run.exit_code() != Some(0) || !run.stderr.is_empty(),
        "the write must fail visibly: {} stderr {:?}",
        run.finished,
        run.stderr
    );
    assert_eq!(
        expect_json(server.api().get("/health", None).await, 200).await["status"],
        "ok"
    );

    assert_next_run_prints(&mut ws, &run, "main.sh", "echo alive\n", "alive\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_has_no_network_but_its_own_loopback() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    // Only loopback addresses are ever tried. The server's own port on 127.0.0.1 is open on
    // the host; inside the container 127.0.0.1 is the container's, where nothing listens.
    let code = format!(
        r#"import os, socket
print("interfaces:", " ".join(sorted(os.listdir("/sys/class/net"))))
try:
    socket.getaddrinfo("example.com", 80)
    print("dns: resolved")
except OSError as e:
    print("dns: failed")
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("127.0.0.1", {port}))
    print("tcp: connected")
except OSError as e:
    print("tcp: failed")
"#,
        port = server.port()
    );
    let run = run_code(&mut ws, "main.py", &code).await;
    assert_eq!(
        run.stdout, "interfaces: lo\ndns: failed\ntcp: failed\n",
        "stderr: {}",
        run.stderr
    );
    run.assert_completed(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn session_containers_weigh_less_than_the_server_under_contention() {
    let server = TestServer::start(|c| c.limits.cpu_shares = 300).await;
    let session = server.python("").await;
    server
        .api()
        .wait_status(&session.id, &session.candidate, "ready")
        .await;
    let container = session_container(&server.api(), &session).await;
    let shares = docker_output(&["inspect", "-f", "{{.HostConfig.CpuShares}}", &container]);
    assert_eq!(shares, "300");
    let defaults = livecode::config::Config::defaults();
    assert!(
        defaults.limits.cpu_shares < 1024,
        "below Docker's default weight: {}",
        defaults.limits.cpu_shares
    );
}
