//! The engine: one runner per session container carries every run. What a run may not do to
//! it, what survives a fork bomb, a symlink planted for the next run, and the warm pool.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

/// The warm pool of `environment` as `GET /health` shows it.
async fn pool_of(api: &Api<'_>, environment: &str) -> Value {
    let health = expect_json(api.get("/health", None).await, 200).await;
    health["pool"]
        .as_array()
        .and_then(|list| list.iter().find(|p| p["environment"] == environment))
        .cloned()
        .unwrap_or_else(|| panic!("no pool for {environment}: {health}"))
}

/// Waits until `environment`'s pool has `warm` containers ready.
async fn wait_warm(api: &Api<'_>, environment: &str, warm: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let pool = pool_of(api, environment).await;
        if pool["warm"].as_u64() == Some(warm) {
            return pool;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pool never had {warm} warm: {pool}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Processes of the run's uid (1000) in a container, from outside.
fn run_processes(container: &str) -> Vec<String> {
    let top = Command::new("docker")
        .args(["top", container, "-o", "uid,pid,args"])
        .output()
        .expect("docker top");
    String::from_utf8_lossy(&top.stdout)
        .lines()
        .skip(1)
        .filter(|l| l.split_whitespace().next() == Some("1000"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_bomb_is_cleared_without_a_container_restart() {
    let server = TestServer::start(|c| c.limits.run_timeout_seconds = 3).await;
    let session = server.python("").await;
    let api = server.api();
    let mut ws = server.ws(&session.id, &session.candidate).await;
    let container = session_container(&api, &session).await;

    // Forks until the pids limit is full, and keeps trying until the timeout.
    let bomb = "import os, time\nprint('forking', flush=True)\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.001)\n";
    let run = run_code(&mut ws, "main.py", bomb).await;
    assert_eq!(run.status(), "timeout", "{}", run.describe());
    assert!(run.stdout.starts_with("forking\n"), "{}", run.describe());

    let after = run_code(&mut ws, "main.py", "print('alive')\n").await;
    assert_eq!(after.stdout, "alive\n", "{}", after.describe());
    after.assert_completed(0);
    for r in [&run, &after] {
        assert!(
            !r.stderr.contains("[livecode]"),
            "no notice of a restarted sandbox: {}",
            r.describe()
        );
    }
    assert_eq!(
        session_container(&api, &session).await,
        container,
        "the same container serves the session"
    );
    assert!(
        run_processes(&container).is_empty(),
        "nothing of the bomb is left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_can_neither_signal_trace_nor_write_to_the_runner() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let api = server.api();
    let mut ws = server.ws(&session.id, &session.candidate).await;
    let container = session_container(&api, &session).await;

    let attack = r#"
import ctypes, errno, json, os, signal
libc = ctypes.CDLL(None, use_errno=True)
def uid_of(pid):
    for line in open(f'/proc/{pid}/status'):
        if line.startswith('Uid:'):
            return line.split()[1]
runners = []
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            if open(f'/proc/{p}/comm').read().strip() == 'livecode-runner' and uid_of(p) == '0':
                runners.append(int(p))
        except OSError:
            pass
out = {'runners': len(runners)}
pid = runners[0]
def attempt(f):
    try:
        f()
        return 'done'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
out['kill'] = attempt(lambda: os.kill(pid, signal.SIGKILL))
out['kill_init'] = attempt(lambda: os.kill(1, signal.SIGKILL))
# Every thread of the runner, the one that acts as the run's uid included.
tgkill = {'x86_64': 234, 'aarch64': 131}[os.uname().machine]
sent = denied = 0
for tid in range(pid, pid + 256):
    if libc.syscall(tgkill, pid, tid, signal.SIGKILL) == 0:
        sent += 1
    elif ctypes.get_errno() == errno.EPERM:
        denied += 1
out['tgkill_sent'], out['tgkill_denied'] = sent, denied
ret = libc.ptrace(16, pid, None, None)
out['ptrace'] = 'done' if ret == 0 else errno.errorcode[ctypes.get_errno()]
out['write_stream'] = attempt(lambda: open(f'/proc/{pid}/fd/1', 'wb').write(b'\xff' * 8))
out['read_memory'] = attempt(lambda: open(f'/proc/{pid}/mem', 'rb').read(1))
status = {l.split(':')[0]: l.split()[1] for l in open('/proc/self/status') if ':' in l and len(l.split()) > 1}
out['caps'] = [status['CapInh'], status['CapPrm'], status['CapEff'], status['CapAmb']]
out['no_new_privs'] = status['NoNewPrivs']
out['uid'] = os.getuid()
print(json.dumps(out))
"#;
    let run = run_code(&mut ws, "main.py", attack).await;
    run.assert_completed(0);
    let got: Value = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| {
        panic!("{e}: {}", run.describe());
    });
    assert_eq!(got["runners"], 1, "one runner per container: {got}");
    assert_eq!(got["kill"], "EPERM", "{got}");
    assert_eq!(got["kill_init"], "EPERM", "{got}");
    assert_eq!(
        got["tgkill_sent"], 0,
        "no thread of the runner took a signal: {got}"
    );
    assert!(
        got["tgkill_denied"].as_u64().unwrap_or(0) >= 3,
        "the runner's threads were there to try: {got}"
    );
    assert_eq!(got["ptrace"], "EPERM", "{got}");
    for key in ["write_stream", "read_memory"] {
        assert!(
            got[key] == "EACCES" || got[key] == "EPERM",
            "{key} must be refused: {got}"
        );
    }
    let none = "0000000000000000";
    assert_eq!(
        got["caps"],
        json!([none, none, none, none]),
        "a run has no capabilities"
    );
    assert_eq!(got["no_new_privs"], "1", "{got}");
    assert_eq!(got["uid"], 1000, "{got}");

    // The runner is unharmed: the next run goes through it, in the same container.
    let after = run_code(&mut ws, "main.py", "print('still served')\n").await;
    assert_eq!(after.stdout, "still served\n", "{}", after.describe());
    assert_eq!(session_container(&api, &session).await, container);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_planted_by_one_run_is_not_followed_by_the_next() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let plant = "import os\nos.symlink('/tmp/planted', 'extra.txt')\nos.symlink('/tmp', 'lib')\n";
    run_code(&mut ws, "main.py", plant)
        .await
        .assert_completed(0);

    let files = json!({
        "main.py": "import os\nprint(os.path.islink('extra.txt'), open('extra.txt').read(), os.path.islink('lib'), open('lib/a.txt').read(), os.path.exists('/tmp/planted'), os.listdir('/tmp'))\n",
        "extra.txt": "hello",
        "lib/a.txt": "in lib",
    });
    let run = run_message(&mut ws, json!({"type": "run", "files": files})).await;
    assert_eq!(
        run.stdout,
        "False hello False in lib False []\n",
        "{}",
        run.describe()
    );
    run.assert_completed(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_hit_is_ready_at_once_and_a_miss_works_too() {
    let server = TestServer::start(|c| c.pool.default_size = 1).await;
    let api = server.api();
    let before = wait_warm(&api, "python", 1).await;
    assert_eq!(before["target"], 1, "{before}");

    // A hit: the answer itself says ready, with a container.
    let created = server
        .create_session(json!({"environment": "python", "code": "print('hit')"}))
        .await;
    assert_eq!(created["status"], "ready", "{created}");
    let hit = Session::from(created);
    let got = api.get_session(&hit.id, &hit.interviewer).await;
    assert!(got["container_id"].is_string(), "{got}");

    // Straight after, the pool is empty: a miss, which makes its own container.
    let created = server
        .create_session(json!({"environment": "python", "code": "print('miss')"}))
        .await;
    assert_eq!(created["status"], "creating", "{created}");
    let miss = Session::from(created);

    for (session, want) in [(&hit, "hit\n"), (&miss, "miss\n")] {
        let result = api
            .execute(&session.id, &session.candidate, json!({}))
            .await;
        assert_eq!(result["stdout"], want, "{result}");
        assert_eq!(result["status"], "completed", "{result}");
    }
    let hit_container = session_container(&api, &hit).await;
    assert_ne!(hit_container, session_container(&api, &miss).await);

    // The pool refills in the background, and counted both.
    let after = wait_warm(&api, "python", 1).await;
    assert_eq!(
        (after["hits"].as_u64(), after["misses"].as_u64()),
        (Some(1), Some(1)),
        "{after}"
    );
    // An environment without a pool is a miss every time, and works.
    let bash = server.bash("echo no pool").await;
    let result = api.execute(&bash.id, &bash.candidate, json!({})).await;
    assert_eq!(result["stdout"], "no pool\n", "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_containers_are_adopted_at_start_up() {
    let home = ServerHome::new();
    let env = [("LIVECODE_POOL__DEFAULT_SIZE", "2")];
    let mut first = home.spawn_with(&env, None).await;
    wait_warm(&first.api(), "python", 2).await;
    let label = format!("label=livecode.instance={}", home.instance());
    let pooled = docker_ps(&[&label], false);
    assert_eq!(pooled.len(), 2, "{pooled:?}");
    first.kill();

    let second = home.spawn_with(&env, None).await;
    wait_warm(&second.api(), "python", 2).await;
    let mut now = docker_ps(&[&label], false);
    let mut was = pooled.clone();
    now.sort();
    was.sort();
    assert_eq!(
        now,
        was,
        "the same containers, adopted\n{}",
        second.log_text()
    );

    let created = second.python("print('adopted')").await;
    let result = second
        .api()
        .execute(&created.id, &created.candidate, json!({}))
        .await;
    assert_eq!(result["stdout"], "adopted\n", "{result}");
    assert!(pooled.contains(&session_container(&second.api(), &created).await));
}
