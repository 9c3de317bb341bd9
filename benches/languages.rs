//! Languages benchmark: each environment's hello world (its template) through the release
//! server, beside its own toolchain started bare in the same container in the same run.
//! Prints figures, asserts nothing. Run with `cargo bench --bench languages` (Docker and the
//! images must be there); `LIVECODE_BENCH_ONLY=go,kotlin` picks environments.
//!
//! Per environment, p50 / p95 over [`ROUNDS`]:
//! - first build: each round's program is new to the build cache (a file `round.txt` that
//!   differs), as an edited program is; `build_time` of `execute`, which the runner measures;
//! - unchanged re-run: the same request again, the build cache's hit;
//! - the bare compiler: the environment's build command run in a loop by one `docker exec`
//!   into the same container as uid 1000 (timed inside by `date`; no daemon), the workspace
//!   and `/tmp` emptied before each build as the runner empties them;
//! - run: `execution_time` of the cached re-runs, beside the run command looped the same way.
//!
//! The session comes from the warm pool, and the bench waits for the container's resident
//! compiler (if any) to warm up, as a candidate's first Run finds it after the page loads.

mod support;

use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;
use serde_json::{json, Value};

use livecode::environments::{Environment, Environments};
use support::{start_server, Server, SpawnedServer, Stats};

const ROUNDS: usize = 7;
/// Between two runs, and between two bare runs.
const PAUSE: Duration = Duration::from_millis(200);
/// How long a container's resident compiler may take to warm before the bench starts.
const DAEMON_WARMUP: Duration = Duration::from_secs(40);

fn show(s: Option<Stats>) -> String {
    s.map_or("–".into(), |s| format!("{:.0} / {:.0} ms", s.p50, s.p95))
}

fn ratio(a: Option<Stats>, b: Option<Stats>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.p50 > 0.0 => format!("{:.2}×", a.p50 / b.p50),
        _ => "–".into(),
    }
}

struct Figures {
    name: String,
    first_build: Vec<f64>,
    cached_build: Vec<f64>,
    cache_hits: usize,
    run: Vec<f64>,
    bare_build: Vec<f64>,
    bare_run: Vec<f64>,
}

async fn execute(server: &SpawnedServer, id: &str, token: &str, body: &Value) -> Value {
    // The container's CPU quota refills between runs (both sides pause as long): a run that
    // follows another at once would be throttled by the quota its predecessor spent.
    tokio::time::sleep(PAUSE).await;
    let got: Value = server
        .http
        .post(server.api().url(&format!("/sessions/{id}/execute")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("execute")
        .json()
        .await
        .expect("json");
    assert!(
        got["status"] == "completed" && got["exit_code"] == 0,
        "the template did not run: {got}"
    );
    got
}

async fn session(server: &SpawnedServer, env: &Environment) -> (String, String, String) {
    let session = server.session(json!({"environment": env.name})).await;
    let (id, token) = (session.id, session.candidate);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // The interviewer's view: candidates are not shown the container.
        let got = server.api().get_session(&id, &session.interviewer).await;
        if got["status"] == "ready" {
            let container = got["container_id"].as_str().expect("container").to_string();
            return (id, token, container);
        }
        assert!(Instant::now() < deadline, "never ready: {got}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Output of one `docker exec` of `sh -c script` as uid 1000, with `env`.
async fn exec(docker: &Docker, container: &str, script: &str, env: Vec<String>) -> String {
    let exec = docker
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(vec!["sh".to_string(), "-c".into(), script.into()]),
                env: Some(env),
                user: Some("1000:1000".into()),
                working_dir: Some("/workspace".into()),
                ..Default::default()
            },
        )
        .await
        .expect("create exec");
    let StartExecResults::Attached { mut output, .. } =
        docker.start_exec(&exec.id, None).await.expect("start exec")
    else {
        panic!("detached exec");
    };
    let mut text = String::new();
    while let Some(chunk) = output.next().await {
        text.push_str(&String::from_utf8_lossy(
            &chunk.expect("output").into_bytes(),
        ));
    }
    text
}

/// The toolchain bare: the build (without its daemon) and the run, looped inside the
/// container, each timed by `date` around it. Answers (build ms, run ms).
async fn bare(docker: &Docker, container: &str, env: &Environment) -> (Vec<f64>, Vec<f64>) {
    let code = env.template();
    let program = env.program(&code, None);
    let build = env.build_command(&program).unwrap_or_default();
    let run = env.run_command(&program);
    let script = r#"
        printf '%s' "$CODE" > "/workspace/$FILE"
        i=0
        while [ -n "$BUILD" ] && [ $i -lt $N ]; do
            # As each run starts: only the program in the workspace, an empty /tmp.
            find /workspace -mindepth 1 ! -name "$FILE" -delete 2>/dev/null
            find /tmp -mindepth 1 -delete 2>/dev/null
            t=$(date +%s%N); eval "$BUILD" </dev/null >/dev/null 2>&1 || echo "build failed"
            echo "b $(( $(date +%s%N) - t ))"; i=$((i + 1)); sleep 0.2
        done
        i=0
        while [ $i -lt $N ]; do
            t=$(date +%s%N); eval "$RUN" </dev/null >/dev/null 2>&1 || echo "run failed"
            echo "r $(( $(date +%s%N) - t ))"; i=$((i + 1)); sleep 0.2
        done
    "#;
    // As the runner's run environment has it (runner/src/streams.rs).
    let vars = vec![
        format!("CODE={code}"),
        format!("FILE={}", program.filename),
        format!("BUILD={build}"),
        format!("RUN={run}"),
        format!("N={ROUNDS}"),
        "HOME=/tmp".into(),
        "LANG=C.UTF-8".into(),
        "PYTHONDONTWRITEBYTECODE=1".into(),
        "LIVECODE_NO_DAEMON=1".into(),
    ];
    let text = exec(docker, container, script, vars).await;
    assert!(
        !text.contains("failed"),
        "{}: bare toolchain: {text}",
        env.name
    );
    let pick = |tag: &str| -> Vec<f64> {
        text.lines()
            .filter_map(|l| l.strip_prefix(tag))
            .filter_map(|ns| ns.trim().parse::<f64>().ok())
            .map(|ns| ns / 1e6)
            .collect()
    };
    (pick("b "), pick("r "))
}

async fn daemon_ready(docker: &Docker, container: &str) {
    let deadline = Instant::now() + DAEMON_WARMUP;
    while Instant::now() < deadline {
        let out = exec(
            docker,
            container,
            "[ -S /run/livecode/compiler.sock ] && echo up",
            vec![],
        )
        .await;
        if out.contains("up") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("  (the resident compiler was not warm after {DAEMON_WARMUP:?})");
}

async fn bench(server: &SpawnedServer, docker: &Docker, env: &Environment) -> Figures {
    let (id, token, container) = session(server, env).await;
    if env.settings.daemon.is_some() {
        daemon_ready(docker, &container).await;
    }
    let code = env.template();
    let mut figures = Figures {
        name: env.name.clone(),
        first_build: vec![],
        cached_build: vec![],
        cache_hits: 0,
        run: vec![],
        bare_build: vec![],
        bare_run: vec![],
    };
    let seconds = |v: &Value, k: &str| v[k].as_f64().map(|s| s * 1e3);
    for round in 0..ROUNDS {
        let body = json!({"code": code, "files": {"round.txt": format!("{round}\n")}});
        let first = execute(server, &id, &token, &body).await;
        figures.first_build.extend(seconds(&first, "build_time"));
        let again = execute(server, &id, &token, &body).await;
        figures.cached_build.extend(seconds(&again, "build_time"));
        figures.cache_hits += usize::from(again["build_cached"] == true);
        figures.run.extend(seconds(&again, "execution_time"));
    }
    let (bare_build, bare_run) = bare(docker, &container, env).await;
    figures.bare_build = bare_build;
    figures.bare_run = bare_run;
    let _ = server
        .http
        .delete(server.api().url(&format!("/sessions/{id}")))
        .bearer_auth(&token)
        .send()
        .await;
    figures
}

#[tokio::main]
async fn main() {
    let only = std::env::var("LIVECODE_BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|o| o.trim() == name);
    let environments = Environments::load("").expect("the embedded environments");
    let docker = Docker::connect_with_defaults()
        .expect("docker")
        .negotiate_version()
        .await
        .expect("docker version");
    let env = [
        ("LIVECODE_POOL__DEFAULT_SIZE", "1"),
        ("LIVECODE_QUOTAS__RUNS_PER_MINUTE", "0"),
        ("LIVECODE_QUOTAS__SESSIONS_PER_MINUTE", "0"),
    ];
    let server = start_server(env!("CARGO_BIN_EXE_livecode"), &env, None).await;
    let mut all = Vec::new();
    for env in environments.iter().filter(|e| wanted(&e.name)) {
        println!("{} ...", env.name);
        all.push(bench(&server, &docker, env).await);
    }
    drop(server);
    println!();
    println!("| environment | first build | unchanged re-run (cache hits) | bare compiler, same container | first build ÷ bare | run | bare run, same container | run ÷ bare |");
    println!("|---|---|---|---|---|---|---|---|");
    for f in all {
        let (first, bare_build) = (Stats::of_ms(&f.first_build), Stats::of_ms(&f.bare_build));
        let (run, bare_run) = (Stats::of_ms(&f.run), Stats::of_ms(&f.bare_run));
        let cached = if f.cached_build.is_empty() {
            "–".to_string()
        } else {
            format!(
                "{} ({}/{ROUNDS})",
                show(Stats::of_ms(&f.cached_build)),
                f.cache_hits
            )
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            f.name,
            show(first),
            cached,
            show(bare_build),
            ratio(first, bare_build),
            show(run),
            show(bare_run),
            ratio(run, bare_run),
        );
    }
}
