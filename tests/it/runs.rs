//! How runs behave in time: output streams as produced, a timeout or a kill ends a run, one
//! run at a time, and nothing a run started outlives it.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

/// Python that lists processes of uid 1000 that are not this program or its ancestors (the
/// runner that exec'd it). There is no `ps` in the images, so it walks /proc.
const LEFTOVER_PROCESSES_PY: &str = r#"
import os

def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields

mine = set()
pid = os.getpid()
while pid > 1:
    mine.add(pid)
    pid = int(status(pid)["PPid"])
left = []
for entry in os.listdir("/proc"):
    if not entry.isdigit() or int(entry) in mine:
        continue
    try:
        s = status(entry)
    except OSError:
        continue
    if s["Uid"].split()[0] == "1000":
        left.append(f"{entry}:{s['Name']}")
print("leftover:", " ".join(sorted(left)) or "none")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_streams_as_it_is_produced() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let code =
        "import time\nfor i in range(10):\n    print('line', i, flush=True)\n    time.sleep(0.2)\n";
    let run = run_code(&mut ws, "main.py", code).await;
    let expected: String = (0..10).map(|i| format!("line {i}\n")).collect();
    assert_eq!(run.stdout, expected);
    run.assert_completed(0);

    let first = run.first_output_at("stdout").expect("some stdout");
    let lead = run.finished_at() - first;
    assert!(
        lead >= Duration::from_secs(1),
        "the first line arrived only {lead:?} before run_finished: output is not streamed"
    );
    assert!(
        run.duration_ms() >= 1800,
        "ten 200 ms sleeps: {}",
        run.finished
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_ends_with_timeout_at_the_limit() {
    let server = TestServer::start(|c| c.limits.run_timeout_seconds = 2).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    // Timed from a ready container: making one is not the run's time.
    server
        .api()
        .wait_status(&session.id, &session.candidate, "ready")
        .await;

    let sent = Instant::now();
    let run = run_code(&mut ws, "main.py", "while True:\n    pass\n").await;
    let waited = sent.elapsed();
    assert_eq!(run.status(), "timeout", "{}", run.finished);
    assert_eq!(
        run.finished["exit_code"],
        serde_json::Value::Null,
        "{}",
        run.finished
    );
    let ms = run.duration_ms();
    assert!(
        (2000..5000).contains(&ms),
        "duration_ms {ms} for a 2 s limit: {}",
        run.finished
    );
    assert!(
        waited < Duration::from_secs(8),
        "the run took {waited:?} end to end"
    );

    // The session goes on.
    let run = run_code(&mut ws, "main.py", "print('after')\n").await;
    assert_eq!(run.stdout, "after\n");
    run.assert_completed(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_honours_a_shorter_timeout() {
    let server = TestServer::start(|c| c.limits.run_timeout_seconds = 8).await;
    // bash starts in milliseconds even on a loaded machine, so "start" is out well before 2 s.
    let session = server.bash("").await;
    let body = json!({"code": "echo start\nwhile :; do :; done\n", "timeout_seconds": 2});
    let result = server
        .api()
        .execute(&session.id, &session.candidate, body)
        .await;
    assert_eq!(result["status"], "timeout", "{result}");
    assert!(result["exit_code"].is_null(), "{result}");
    assert_eq!(
        result["stdout"], "start\n",
        "output before the timeout is kept: {result}"
    );
    let secs = result["execution_time"].as_f64().expect("float");
    assert!(
        (2.0..6.0).contains(&secs),
        "execution_time {secs} for timeout_seconds 2 (limit 8): {result}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_a_running_program_at_once() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    send(
        &mut ws,
        msg::run(
            "main.py",
            "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n",
        ),
    )
    .await;
    assert_eq!(stdout_until(&mut ws, "sleeping\n").await, "sleeping\n");
    let killed_at = Instant::now();
    send(&mut ws, msg::kill()).await;
    let run = collect_run(&mut ws).await;
    let took = run.finished_at() - killed_at;
    assert_eq!(run.status(), "killed", "{}", run.finished);
    assert!(run.finished["exit_code"].is_null(), "{}", run.finished);
    assert!(
        took < Duration::from_millis(1500),
        "run_finished came {took:?} after kill"
    );

    let run = run_code(&mut ws, "main.py", "print('next')\n").await;
    assert_eq!(run.stdout, "next\n");
    run.assert_completed(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_at_a_time() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    let mut other = server.ws(&session.id, &session.interviewer).await;

    send(
        &mut ws,
        msg::run(
            "main.py",
            "import time\nprint('first', flush=True)\ntime.sleep(60)\n",
        ),
    )
    .await;
    let started = next_of_type(&mut ws, "run_started").await;

    // From the same socket, another socket, and REST: all refused while it runs.
    send(&mut ws, msg::run("main.py", "print('second')\n")).await;
    check_ws_error(&mut ws, "RUN_IN_PROGRESS").await;
    send(&mut other, msg::run("main.py", "print('third')\n")).await;
    check_ws_error(&mut other, "RUN_IN_PROGRESS").await;
    let resp = server
        .api()
        .post(
            &format!("{}/execute", session.path()),
            Some(&session.candidate),
            &json!({"code": "print(4)"}),
        )
        .await;
    check_error(resp, 409, "RUN_IN_PROGRESS").await;

    // The first run was not disturbed.
    send(&mut ws, msg::kill()).await;
    let run = collect_run(&mut ws).await;
    assert_eq!(run.run_id(), started["run_id"].as_str().expect("run_id"));
    assert_eq!(run.status(), "killed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_restart_kills_the_running_one_and_starts_anew() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    send(
        &mut ws,
        msg::run(
            "main.py",
            "import time\nprint('first', flush=True)\ntime.sleep(60)\n",
        ),
    )
    .await;
    let first = next_of_type(&mut ws, "run_started").await;
    let first_id = first["run_id"].as_str().expect("run_id").to_string();
    stdout_until(&mut ws, "first\n").await;

    let sent = Instant::now();
    send(&mut ws, msg::restart("main.py", "print('second')\n")).await;
    let mut first_finished = None;
    let mut second_id = None;
    let mut second_out = String::new();
    let second_finished = loop {
        let frame = next_json(&mut ws).await;
        match frame["type"].as_str() {
            Some("run_finished") if frame["run_id"] == first_id.as_str() => {
                first_finished = Some(frame)
            }
            Some("run_finished") => break frame,
            Some("run_started") => {
                assert!(
                    first_finished.is_some(),
                    "the new run started before the old one finished: {frame}"
                );
                second_id = Some(frame["run_id"].as_str().expect("run_id").to_string())
            }
            Some("output") if frame["run_id"] != first_id.as_str() => {
                second_out.push_str(frame["data"].as_str().expect("data"))
            }
            Some("error") => panic!("restart was refused: {frame}"),
            _ => {}
        }
    };
    let first_finished = first_finished.expect("the first run reports run_finished");
    assert_eq!(first_finished["status"], "killed", "{first_finished}");
    let second_id = second_id.expect("the second run reports run_started");
    assert_ne!(second_id, first_id);
    assert_eq!(
        second_finished["run_id"],
        second_id.as_str(),
        "{second_finished}"
    );
    assert_eq!(second_out, "second\n");
    assert_eq!(second_finished["status"], "completed", "{second_finished}");
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "restart took {:?}",
        sent.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_processes_do_not_outlive_their_run() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let run = run_code(&mut ws, "main.py", LEFTOVER_PROCESSES_PY).await;
    assert_eq!(
        run.stdout, "leftover: none\n",
        "a fresh session runs nothing: {}",
        run.stderr
    );

    let spawner = r#"
import os, subprocess
os.system("sleep 300 &")
os.system("nohup sleep 301 > /dev/null 2>&1 &")
os.system("(sleep 2; echo late > /workspace/late.txt) > /dev/null 2>&1 &")
subprocess.Popen(["sleep", "302"], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.closerange(0, 3)
        import time
        time.sleep(300)
    os._exit(0)
print("spawned")
"#;
    let run = run_code(&mut ws, "main.py", spawner).await;
    assert_eq!(run.stdout, "spawned\n", "stderr: {}", run.stderr);
    run.assert_completed(0);

    let checker = format!("{LEFTOVER_PROCESSES_PY}\nimport os, time\ntime.sleep(3)\nprint('marker:', os.path.exists('/workspace/late.txt'))\n");
    let run = run_code(&mut ws, "main.py", &checker).await;
    assert_eq!(
        run.stdout, "leftover: none\nmarker: False\n",
        "stderr: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_jobs_of_a_bash_run_do_not_outlive_it() {
    let server = TestServer::start(|_| {}).await;
    let session = server.bash("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    let spawner = "sleep 300 &\nnohup sleep 301 >/dev/null 2>&1 &\n(sleep 2; echo late > /workspace/late.txt) >/dev/null 2>&1 &\ndisown -a\necho spawned\n";
    let run = run_code(&mut ws, "main.sh", spawner).await;
    assert_eq!(run.stdout, "spawned\n", "stderr: {}", run.stderr);

    // Builtins only while scanning, so the scan starts no process of its own.
    let checker = r#"
mine=" "
p=$$
while [ "$p" -gt 1 ]; do
  mine="$mine$p "
  ppid=
  while read -r key value _; do
    [ "$key" = "PPid:" ] && ppid=$value
  done < "/proc/$p/status"
  p=$ppid
done
left=
for dir in /proc/[0-9]*; do
  pid=${dir#/proc/}
  case "$mine" in *" $pid "*) continue ;; esac
  uid= name=
  { while read -r key value _; do
      case "$key" in Uid:) uid=$value ;; Name:) name=$value ;; esac
    done < "$dir/status"; } 2>/dev/null
  [ "$uid" = 1000 ] && left="$left $pid:$name"
done
echo "leftover:${left:- none}"
sleep 3
if [ -e /workspace/late.txt ]; then echo "marker: yes"; else echo "marker: no"; fi
"#;
    let run = run_code(&mut ws, "main.sh", checker).await;
    assert_eq!(
        run.stdout, "leftover: none\nmarker: no\n",
        "stderr: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn file_names_reach_commands_as_data_not_shell_text() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("").await;
    for name in ["x;id>&2;.py", "a b.py", "it's $(id).py"] {
        let result = server
            .api()
            .execute(
                &session.id,
                &session.candidate,
                json!({"code": "import sys; print(sys.argv[0].rsplit('/', 1)[1])", "filename": name}),
            )
            .await;
        assert_eq!(result["status"], "completed", "{name}: {result}");
        assert_eq!(result["stdout"], format!("{name}\n"), "{name}: {result}");
        assert!(
            !result["stderr"].as_str().unwrap_or("").contains("uid="),
            "{name} ran as shell text: {result}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_run_output_is_bounded_per_session() {
    let server = TestServer::start(|c| c.sessions.runs_kept_in_full = 2).await;
    let session = server.python("print('x' * 3000)").await;
    for _ in 0..4 {
        let result = server
            .api()
            .execute(&session.id, &session.candidate, json!({}))
            .await;
        assert_eq!(result["stdout"].as_str().map(str::len), Some(3001));
    }
    let history = server.api().history(&session).await;
    let runs = history["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 4, "every run is still listed");
    let kept: Vec<(usize, bool)> = runs
        .iter()
        .map(|r| {
            (
                r["stdout"].as_str().map_or(0, str::len),
                r["truncated"] == true,
            )
        })
        .collect();
    // The two older runs keep the first 1,024 characters; the newest two everything.
    assert_eq!(
        kept,
        vec![(1024, true), (1024, true), (3001, false), (3001, false)]
    );
    assert!(runs.iter().all(|r| r["status"] == "completed"));
}

/// A run cannot plant code that Python runs before the next run's program: user site
/// directories (HOME is shared between runs) are switched off.
#[tokio::test(flavor = "multi_thread")]
async fn a_planted_user_site_does_not_run_in_later_runs() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("print('FAIL: 2 + 2 =', 2 + 2 + 1)").await;
    let plant = r#"
import os, site
os.makedirs(site.getusersitepackages(), exist_ok=True)
open(os.path.join(site.getusersitepackages(), 'usercustomize.py'), 'w').write(
    "import builtins\nbuiltins.print = lambda *a, **k: None\nimport sys\nsys.stdout.write('ALL TESTS PASSED')\n")
print('planted')
"#;
    let planted = server
        .api()
        .execute(&session.id, &session.candidate, json!({"code": plant}))
        .await;
    assert_eq!(planted["stdout"], "planted\n", "{planted}");
    let after = server
        .api()
        .execute(&session.id, &session.interviewer, json!({}))
        .await;
    assert_eq!(after["stdout"], "FAIL: 2 + 2 = 5\n", "{after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn files_that_cannot_be_written_are_an_error_not_a_completed_run() {
    let server = TestServer::start(|c| {
        c.limits.workspace_mib = 1;
        c.limits.code_limit_bytes = 4 << 20;
    })
    .await;
    let session = server.python("print('small')").await;
    let big = "x".repeat(3 << 20);
    let result = server
        .api()
        .execute(
            &session.id,
            &session.candidate,
            json!({"files": {"big.txt": big}}),
        )
        .await;
    assert_eq!(
        result["status"],
        "error",
        "{}",
        clip(&result.to_string(), 400)
    );
    assert!(
        result["stderr"]
            .as_str()
            .unwrap_or("")
            .contains("could not be written"),
        "{}",
        clip(&result.to_string(), 400)
    );
    // With the reason, for the candidate to read (the disk is full, or the file too large).
    let stderr = result["stderr"].as_str().unwrap_or("");
    let reason = stderr.split("workspace: ").nth(1).unwrap_or("").trim();
    assert!(
        reason.contains("no space left in the workspace")
            || reason.contains("file too large for the workspace"),
        "{stderr}"
    );
}
