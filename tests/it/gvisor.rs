//! gVisor: a server configured `docker.runtime = "runsc"`, against the engine's `runsc`
//! runtime (`scripts/ensure-runsc.sh` installs and registers it). Runs in Python, C, Java,
//! Node and Bash, and the lockdown of `engine` and `limits` checked again under gVisor's
//! kernel (a memory bomb there may cost the container, which the server replaces).
//!
//! Without the runtime these tests fail: CI installs it. Only a human who says so with
//! `LIVECODE_NO_GVISOR=1` skips them (each says it skipped).

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

/// The variable a human sets on a machine without gVisor.
const NO_GVISOR: &str = "LIVECODE_NO_GVISOR";
/// Under gVisor everything is slower (the ptrace platform traps every system call).
const GVISOR_WAIT: Duration = Duration::from_secs(120);

/// A server whose sessions run under `runsc`; `None` (with a note) only when a human said
/// there is no gVisor here. Fails when the engine has no `runsc` runtime.
async fn gvisor_server(
    configure: impl FnOnce(&mut livecode::config::Config),
) -> Option<TestServer> {
    if std::env::var_os(NO_GVISOR).is_some() {
        eprintln!("skipped: {NO_GVISOR} is set (no gVisor on this machine)");
        return None;
    }
    let info = Command::new("docker")
        .args(["info", "--format", "{{json .Runtimes}}"])
        .output()
        .expect("docker info");
    let runtimes = String::from_utf8_lossy(&info.stdout);
    assert!(
        runtimes.contains("\"runsc\""),
        "the engine has no runsc runtime ({runtimes}): run scripts/ensure-runsc.sh, or set {NO_GVISOR}=1 to skip on purpose"
    );
    Some(
        TestServer::start(|c| {
            c.docker.runtime = "runsc".into();
            configure(c);
        })
        .await,
    )
}

/// The runtime Docker started `container` with.
fn runtime_of(container: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "-f", "{{.HostConfig.Runtime}}", container])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs `code` as `filename` and waits long enough for gVisor.
async fn run_slow(ws: &mut WsStream, filename: &str, code: &str) -> RunResult {
    send(ws, msg::run(filename, code)).await;
    collect_run_within(ws, GVISOR_WAIT).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_c_java_node_and_bash_run_under_gvisor_and_keep_their_container() {
    let Some(server) = gvisor_server(|_| {}).await else {
        return;
    };
    let api = server.api();
    let programs = [
        ("python", "main.py", "import sys\nprint('hello', sys.version_info[0], input())\n"),
        (
            "c",
            "main.c",
            "#include <stdio.h>\nint main(void) { char s[16]; scanf(\"%15s\", s); printf(\"hello c %s\\n\", s); return 0; }\n",
        ),
        (
            "java",
            "Main.java",
            "public class Main { public static void main(String[] a) { System.out.println(\"hello java \" + new java.util.Scanner(System.in).next()); } }\n",
        ),
        ("bash", "main.sh", "read word\necho hello bash \"$word\"\n"),
        (
            "node",
            "main.js",
            "process.stdin.once('data', d => { console.log('hello node', String(d).trim()); process.exit(0); });\n",
        ),
    ];
    for (environment, filename, code) in programs {
        let session = server
            .session(json!({"environment": environment, "code": code}))
            .await;
        let container = session_container(&api, &session).await;
        assert_eq!(runtime_of(&container), "runsc", "{environment}");
        let mut ws = server.ws(&session.id, &session.candidate).await;
        // Twice: the second run finds the same container, so nothing of the first killed it.
        for round in ["one", "two"] {
            send(
                &mut ws,
                msg::run_with_stdin(filename, code, &format!("{round}\n")),
            )
            .await;
            let run = collect_run_within(&mut ws, GVISOR_WAIT).await;
            run.assert_completed(0);
            assert!(
                run.stdout.starts_with("hello") && run.stdout.trim_end().ends_with(round),
                "{environment}: {}",
                run.describe()
            );
            assert!(
                !run.stderr.contains("[livecode]"),
                "{environment}: no notice of a lost sandbox: {}",
                run.describe()
            );
            assert_eq!(
                session_container(&api, &session).await,
                container,
                "{environment}: the same container serves the session"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lockdown_holds_under_gvisor() {
    let Some(server) = gvisor_server(|_| {}).await else {
        return;
    };
    let session = server.python("").await;
    let api = server.api();
    let container = session_container(&api, &session).await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    // What `engine` and `limits` check under runc, from inside the run, in one program.
    let probe = r#"
import ctypes, errno, json, os, signal, socket
libc = ctypes.CDLL(None, use_errno=True)
def uid_of(pid):
    for line in open(f'/proc/{pid}/status'):
        if line.startswith('Uid:'):
            return line.split()[1]
def attempt(f):
    try:
        f()
        return 'done'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
out = {}
out['kernel'] = open('/proc/version').read()
runners = []
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            if open(f'/proc/{p}/comm').read().strip() == 'livecode-runner' and uid_of(p) == '0':
                runners.append(int(p))
        except OSError:
            pass
out['runners'] = len(runners)
pid = runners[0]
out['kill'] = attempt(lambda: os.kill(pid, signal.SIGKILL))
out['kill_init'] = attempt(lambda: os.kill(1, signal.SIGKILL))
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
out['read_memory'] = attempt(lambda: open(f'/proc/{pid}/mem', 'rb').read(1))
status = {l.split(':')[0]: l.split()[1] for l in open('/proc/self/status') if ':' in l and len(l.split()) > 1}
out['caps'] = [status['CapInh'], status['CapPrm'], status['CapEff']]
out['no_new_privs'] = libc.prctl(39, 0, 0, 0, 0)  # PR_GET_NO_NEW_PRIVS: gVisor's status has no line
out['ids'] = [os.getuid(), os.geteuid(), os.getgid(), os.getegid()]
out['root_mount'] = [l.split()[3].split(',')[0] for l in open('/proc/mounts') if l.split()[1] == '/']
out['write_workspace'] = attempt(lambda: open('/workspace/mine', 'w').write('x'))
out['interfaces'] = sorted(os.listdir('/sys/class/net')) if os.path.isdir('/sys/class/net') else [
    l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]]
def dns():
    socket.getaddrinfo('example.com', 80)
out['dns'] = attempt(dns)
def tcp():
    s = socket.socket()
    s.settimeout(3)
    s.connect(('1.1.1.1', 53))
out['tcp'] = attempt(tcp)
print(json.dumps(out))
"#;
    let run = run_slow(&mut ws, "main.py", probe).await;
    run.assert_completed(0);
    let got: Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {}", run.describe()));
    assert!(
        got["kernel"]
            .as_str()
            .is_some_and(|k| !k.contains(&host_kernel())),
        "the run sees gVisor's kernel, not the host's: {got}"
    );
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
    assert!(
        got["read_memory"] == "EACCES" || got["read_memory"] == "EPERM",
        "{got}"
    );
    let none = "0000000000000000";
    // gVisor's /proc shows no CapAmb line; the three it shows are empty.
    assert_eq!(got["caps"], json!([none, none, none]), "{got}");
    assert_eq!(got["no_new_privs"], 1, "{got}");
    assert_eq!(got["ids"], json!([1000, 1000, 1000, 1000]), "{got}");
    assert_eq!(got["root_mount"], json!(["ro"]), "read-only root: {got}");
    assert_eq!(got["write_workspace"], "done", "{got}");
    assert_eq!(got["interfaces"], json!(["lo"]), "{got}");
    assert_ne!(got["dns"], "done", "{got}");
    assert_ne!(got["tcp"], "done", "{got}");

    // The limits Docker was asked for are on the container.
    let inspect = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.CapAdd}}",
            &container,
        ])
        .output()
        .expect("docker inspect");
    let memory = server.config.limits.memory_mib * 1024 * 1024;
    assert_eq!(
        String::from_utf8_lossy(&inspect.stdout).trim(),
        format!("{memory} true [\"SETUID\",\"SETGID\",\"KILL\"]")
    );

    // A background process, a `nohup` and a double-forked daemon do not outlive their run.
    let leave = "import os, subprocess\nsubprocess.Popen(['sleep', '300'])\nsubprocess.Popen(['nohup', 'sleep', '301'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execvp('sleep', ['sleep', '302'])\n    os._exit(0)\nprint('left')\n";
    run_slow(&mut ws, "main.py", leave)
        .await
        .assert_completed(0);
    let look = "import os\nme = os.getpid()\nleft = []\nfor p in os.listdir('/proc'):\n    if p.isdigit() and int(p) != me:\n        try:\n            st = open(f'/proc/{p}/status').read()\n        except OSError:\n            continue\n        if '\\nUid:\\t1000\\t' in st:\n            left.append(open(f'/proc/{p}/cmdline').read().replace('\\0', ' '))\nprint(left)\n";
    let after = run_slow(&mut ws, "main.py", look).await;
    after.assert_completed(0);
    assert_eq!(after.stdout, "[]\n", "{}", after.describe());
    assert_eq!(session_container(&api, &session).await, container);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_bomb_ends_under_gvisor_and_the_next_run_works() {
    let Some(server) = gvisor_server(|c| c.limits.run_timeout_seconds = 60).await else {
        return;
    };
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    let pids = server.config.limits.pids;

    // Forks until refused, says how far it got and exits; every child sleeps, and the runner
    // kills them when the run ends. The run timeout (60 s) is only a deadline: forking under
    // gVisor on a loaded host is slow.
    let bomb = "import os, time\nn = 1\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(120)\n            os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('refused after', n, e.errno, flush=True)\n";
    let run = run_slow(&mut ws, "main.py", bomb).await;
    // Either the runner's RLIMIT_NPROC refuses the fork past the limit, or the sandbox's
    // kernel runs out of host resources first and the container is lost, which the server
    // reports and repairs. Never more processes than the limit.
    match run.status() {
        "completed" => {
            let reached: i64 = run
                .stdout
                .strip_prefix("refused after ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("the bomb was never refused: {}", run.describe()));
            assert!(
                reached <= pids,
                "{reached} processes with a pids limit of {pids}"
            );
        }
        "error" => assert!(
            run.stderr.contains("the sandbox was lost"),
            "{}",
            run.describe()
        ),
        _ => panic!("{}", run.describe()),
    }

    let next = run_slow(&mut ws, "main.py", "print('alive')\n").await;
    assert_eq!(next.stdout, "alive\n", "{}", next.describe());
    next.assert_completed(0);
    assert_eq!(
        expect_json(server.api().get("/health", None).await, 200).await["status"],
        "ok"
    );
}

/// The host's kernel release, which gVisor does not show.
fn host_kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .expect("osrelease")
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_ends_under_gvisor_and_the_next_run_works() {
    // The run timeout is only a deadline: allocating under gVisor on a loaded host is slow.
    let Some(server) = gvisor_server(|c| c.limits.run_timeout_seconds = 60).await else {
        return;
    };
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let bomb = "chunks = []\nfor i in range(16):\n    chunks.append(b'x' * (64 << 20))\n    print('allocated', (i + 1) * 64, 'MiB', flush=True)\nprint('survived 1 GiB')\n";
    let run = run_slow(&mut ws, "main.py", bomb).await;
    assert!(
        !run.stdout.contains("survived"),
        "1 GiB fit under a {} MiB limit: {}",
        server.config.limits.memory_mib,
        run.describe()
    );
    // gVisor's kernel shares the memory limit with the run: either the run is the one
    // killed (`oom`), or the sandbox goes with it and the server says so and replaces it.
    assert!(
        run.status() == "oom"
            || (run.status() == "error" && run.stderr.contains("the sandbox was lost")),
        "{}",
        run.describe()
    );
    eprintln!("under gVisor a memory bomb ended {}", run.status());

    let next = run_slow(&mut ws, "main.py", "print('alive')\n").await;
    assert_eq!(next.stdout, "alive\n", "{}", next.describe());
    next.assert_completed(0);
}
