//! Engine benchmark: runs through the resident runner, against floors measured in the same
//! run on the same machine. Prints figures, asserts nothing. Run with
//! `cargo bench --bench engine` (Docker and the python image must be there).
//!
//! - `run` → first output byte and → `run_finished` for Python `print(1)`, beside a raw
//!   Docker exec of the same program as uid 1000 into the same container, a process
//!   resident in that container spawning it, and the bare interpreter on the host;
//! - runs/s with 1, 8 and 32 sessions looping, beside raw exec on the same containers;
//! - `POST /sessions` → `ready`, with a pool hit and with a miss (a server with no pool);
//! - server RSS and per-container memory with 200 idle sessions;
//! - MB/s of output up to the default output cap, beside raw exec of the same program;
//! - gVisor: first byte and runs/s (1 and 8 sessions) of a second server with
//!   `docker.runtime = "runsc"`, beside this server (runc), in the same run (needs the
//!   engine's `runsc` runtime: `scripts/ensure-runsc.sh`).
//!
//! `LIVECODE_BENCH_ONLY=<part of a section name>` runs only the sections whose name has it
//! (latency, throughput, create, idle, flood, gvisor).

mod support;

use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

use support::{ms, next_of_type, rss_mib, start_server, Server, SpawnedServer, Stats, WsStream};

const PROGRAM: &str = "print(1)";
const ROUNDS: usize = 40;
/// How long each throughput measurement loops.
const LOOP_FOR: Duration = Duration::from_secs(6);
/// What the default output cap is (config/livecode.toml).
const FLOOD_BYTES: usize = 1 << 20;

/// A session with its candidate socket, its document `code`.
struct Bench {
    id: String,
    token: String,
    /// Reads the container, which candidates are not shown.
    interviewer: String,
    ws: WsStream,
}

impl Bench {
    async fn create(server: &SpawnedServer, code: &str) -> Self {
        let session = server.python(code).await;
        let ws = server.ws(&session.id, &session.candidate).await;
        let mut this = Self {
            id: session.id,
            token: session.candidate,
            interviewer: session.interviewer,
            ws,
        };
        this.wait_ready(server).await;
        this
    }

    async fn wait_ready(&mut self, server: &SpawnedServer) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = server.api().get_session(&self.id, &self.token).await;
            if got["status"] == "ready" {
                return;
            }
            assert!(Instant::now() < deadline, "never ready: {got}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn container(&self, server: &SpawnedServer) -> String {
        let got = server.api().get_session(&self.id, &self.interviewer).await;
        got["container_id"].as_str().expect("container").to_string()
    }

    /// Runs the document; answers (first output, run_finished, output bytes).
    async fn run(&mut self) -> (Duration, Duration, usize) {
        let sent = Instant::now();
        self.ws
            .send(Message::text(json!({"type": "run"}).to_string()))
            .await
            .expect("send");
        let (mut first, mut bytes) = (None, 0);
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(60), self.ws.next())
                .await
                .expect("a message in time")
                .expect("open")
                .expect("frame");
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).expect("json");
            match v["type"].as_str() {
                Some("output") => {
                    first.get_or_insert_with(|| sent.elapsed());
                    bytes += v["data"].as_str().map_or(0, str::len);
                }
                Some("run_finished") => {
                    let done = sent.elapsed();
                    return (first.unwrap_or(done), done, bytes);
                }
                Some("error") => panic!("run refused: {v}"),
                _ => {}
            }
        }
    }
}

/// One `docker exec` of `cmd` as uid 1000, as a client of the Docker API runs it (create,
/// start, read, inspect for the exit code); answers (first output, end, output bytes).
async fn raw_exec(docker: &Docker, container: &str, cmd: &[&str]) -> (Duration, Duration, usize) {
    let started = Instant::now();
    let exec = docker
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(cmd.to_vec()),
                user: Some("1000:1000"),
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
    let (mut first, mut bytes) = (None, 0);
    while let Some(chunk) = output.next().await {
        first.get_or_insert_with(|| started.elapsed());
        bytes += chunk.expect("output").into_bytes().len();
    }
    docker.inspect_exec(&exec.id).await.expect("inspect exec");
    let end = started.elapsed();
    (first.unwrap_or(end), end, bytes)
}

/// A process resident in the container (started by one exec, kept) that spawns the program
/// for every line it reads: the floor of this design, the container's own cost included.
struct Resident {
    output: std::pin::Pin<
        Box<
            dyn futures_util::Stream<
                    Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
                > + Send,
        >,
    >,
    input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

impl Resident {
    async fn start(docker: &Docker, container: &str) -> Self {
        let exec = docker
            .create_exec(
                container,
                CreateExecOptions {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    cmd: Some(vec![
                        "sh",
                        "-c",
                        "while read -r _; do python3 -c 'print(1)'; done",
                    ]),
                    user: Some("1000:1000"),
                    ..Default::default()
                },
            )
            .await
            .expect("create exec");
        let StartExecResults::Attached { output, input } =
            docker.start_exec(&exec.id, None).await.expect("start exec")
        else {
            panic!("detached exec");
        };
        Self { output, input }
    }

    /// One spawn of the program: the time to its output.
    async fn spawn(&mut self) -> Duration {
        let sent = Instant::now();
        self.input.write_all(b"\n").await.expect("write");
        self.input.flush().await.expect("flush");
        self.output.next().await.expect("output").expect("chunk");
        sent.elapsed()
    }
}

async fn resident_floor(docker: &Docker, container: &str) -> Vec<Duration> {
    let mut resident = Resident::start(docker, container).await;
    for _ in 0..3 {
        resident.spawn().await;
    }
    let mut samples = Vec::new();
    for _ in 0..ROUNDS {
        samples.push(resident.spawn().await);
    }
    samples // dropping its stdin ends its shell
}

/// The bare interpreter on the host: spawn to first byte. Debian's, as in the image (a
/// version manager's shim on PATH would time a shell script too).
fn bare_interpreter() -> Vec<Duration> {
    use std::io::Read;
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| !p.starts_with('/') || std::path::Path::new(p).exists())
        .expect("a python3");
    (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            let mut child = std::process::Command::new(python)
                .args(["-c", PROGRAM])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("python3 on the host");
            let mut stdout = child.stdout.take().expect("stdout");
            let mut byte = [0u8; 1];
            let _ = stdout.read(&mut byte);
            let first = started.elapsed();
            let _ = stdout.read_to_end(&mut Vec::new());
            let _ = child.wait();
            first
        })
        .collect()
}

fn bench_server_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("LIVECODE_QUOTAS__MAX_LIVE_SESSIONS", "400"),
        ("LIVECODE_QUOTAS__MAX_LIVE_SESSIONS_PER_IP", "0"),
        ("LIVECODE_QUOTAS__SESSIONS_PER_MINUTE", "0"),
        ("LIVECODE_QUOTAS__RUNS_PER_MINUTE", "0"),
    ]
}

async fn latency(server: &SpawnedServer, docker: &Docker, rows: &mut Vec<String>) {
    let mut s = Bench::create(server, PROGRAM).await;
    for _ in 0..3 {
        s.run().await;
    }
    let (mut first, mut done) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (f, d, _) = s.run().await;
        first.push(f);
        done.push(d);
    }
    let container = s.container(server).await;
    let (mut raw_first, mut raw_done) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (f, d, _) = raw_exec(docker, &container, &["python3", "-c", PROGRAM]).await;
        raw_first.push(f);
        raw_done.push(d);
    }
    let resident = resident_floor(docker, &container).await;
    let bare = bare_interpreter();
    let (first, done) = (Stats::of(&first), Stats::of(&done));
    let (raw_first, raw_done) = (Stats::of(&raw_first), Stats::of(&raw_done));
    let (resident, bare) = (Stats::of(&resident), Stats::of(&bare));
    println!("latency, Python `{PROGRAM}`, p50 / p95 (n={}):", first.n);
    println!("  livecode run → first output byte   {}", ms(first));
    println!("  livecode run → run_finished        {}", ms(done));
    println!("  raw docker exec → first byte       {}", ms(raw_first));
    println!("  raw docker exec → exit read        {}", ms(raw_done));
    println!("  resident process in the container  {}", ms(resident));
    println!("  bare interpreter on the host       {}", ms(bare));
    rows.push(format!(
        "| `run` → first output byte | {} | raw `docker exec`: {} | **{:.2}×** |",
        ms(first),
        ms(raw_first),
        first.p50 / raw_first.p50
    ));
    rows.push(format!(
        "| `run` → `run_finished` | {} | raw `docker exec` to its exit code: {} | {:.2}× |",
        ms(done),
        ms(raw_done),
        done.p50 / raw_done.p50
    ));
    rows.push(format!(
        "| floor: a process resident in the same container spawning the program | {} | | livecode first byte = {:.2}× it |",
        ms(resident),
        first.p50 / resident.p50
    ));
    rows.push(format!(
        "| floor: the bare interpreter on the host, no container | {} | | {:.2}× |",
        ms(bare),
        first.p50 / bare.p50
    ));
}

/// CPU time the whole host has spent so far (every core, all but idle and iowait).
fn host_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4) // idle, iowait
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// CPU time by command name (`comm`) of every process now, in ticks of 10 ms. Processes that
/// ended in between are missed, so this shows long-lived ones (dockerd, the runner, the
/// server), which is what it is for.
fn cpu_by_command() -> std::collections::HashMap<String, u64> {
    let mut out = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ... utime stime are fields 14 and 15.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let ticks: u64 = fields
            .get(11..13)
            .map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
        *out.entry(comm).or_default() += ticks;
    }
    out
}

/// Where the host's CPU went between two readings, per run, the biggest first.
fn cpu_breakdown(before: &std::collections::HashMap<String, u64>, runs: usize) -> String {
    let after = cpu_by_command();
    let mut used: Vec<(String, f64)> = after
        .into_iter()
        .map(|(comm, ticks)| {
            let delta = ticks.saturating_sub(before.get(&comm).copied().unwrap_or(0));
            (comm, delta as f64 * 10.0 / runs.max(1) as f64)
        })
        .filter(|(_, ms)| *ms >= 0.1)
        .collect();
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    used.iter()
        .take(6)
        .map(|(comm, ms)| format!("{comm} {ms:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A throughput measurement: runs per second, one run's time, host CPU per run.
struct Rate {
    per_second: f64,
    run: Stats,
    cpu_ms: f64,
    /// The long-lived processes that used it, in ms per run.
    breakdown: String,
}

/// Readings taken before a loop.
struct Start {
    at: Instant,
    cpu: Duration,
    by_command: std::collections::HashMap<String, u64>,
}

fn start() -> Start {
    Start {
        at: Instant::now(),
        cpu: host_cpu(),
        by_command: cpu_by_command(),
    }
}

fn rate(runs: Vec<Vec<Duration>>, start: Start) -> Rate {
    let elapsed = start.at.elapsed().as_secs_f64();
    let cpu = host_cpu().saturating_sub(start.cpu);
    let all: Vec<Duration> = runs.into_iter().flatten().collect();
    Rate {
        per_second: all.len() as f64 / elapsed,
        cpu_ms: cpu.as_secs_f64() * 1e3 / all.len().max(1) as f64,
        breakdown: cpu_breakdown(&start.by_command, all.len()),
        run: Stats::of(&all),
    }
}

/// Runs per second with every session looping for [`LOOP_FOR`].
async fn loop_livecode(sessions: &mut [Bench]) -> Rate {
    let deadline = Instant::now() + LOOP_FOR;
    let begun = start();
    let per: Vec<Vec<Duration>> =
        futures_util::future::join_all(sessions.iter_mut().map(|s| async move {
            let mut took = Vec::new();
            while Instant::now() < deadline {
                took.push(s.run().await.1);
            }
            took
        }))
        .await;
    rate(per, begun)
}

async fn loop_raw(docker: &Docker, containers: &[String]) -> Rate {
    let deadline = Instant::now() + LOOP_FOR;
    let begun = start();
    let per: Vec<Vec<Duration>> =
        futures_util::future::join_all(containers.iter().map(|c| async move {
            let mut took = Vec::new();
            while Instant::now() < deadline {
                took.push(raw_exec(docker, c, &["python3", "-c", PROGRAM]).await.1);
            }
            took
        }))
        .await;
    rate(per, begun)
}

/// The floor of throughput: resident processes in the same containers, each spawning the
/// program in a loop.
async fn loop_resident(docker: &Docker, containers: &[String]) -> Rate {
    let mut residents = Vec::new();
    for c in containers {
        residents.push(Resident::start(docker, c).await);
    }
    let deadline = Instant::now() + LOOP_FOR;
    let begun = start();
    let per: Vec<Vec<Duration>> =
        futures_util::future::join_all(residents.iter_mut().map(|r| async move {
            let mut took = Vec::new();
            while Instant::now() < deadline {
                took.push(r.spawn().await);
            }
            took
        }))
        .await;
    rate(per, begun)
}

async fn throughput(server: &SpawnedServer, docker: &Docker, rows: &mut Vec<String>) {
    let mut sessions = Vec::new();
    for _ in 0..32 {
        sessions.push(Bench::create(server, PROGRAM).await);
    }
    let mut containers = Vec::new();
    for s in &mut sessions {
        s.run().await; // opens every runner
        containers.push(s.container(server).await);
    }
    println!("throughput, Python `{PROGRAM}`, every session looping for {LOOP_FOR:?}:");
    for n in [1, 8, 32] {
        let ours = loop_livecode(&mut sessions[..n]).await;
        let raw = loop_raw(docker, &containers[..n]).await;
        let floor = loop_resident(docker, &containers[..n]).await;
        println!(
            "  {n:>2} sessions: livecode {:>6.1} runs/s (a run {}, {:.0} ms host CPU each), raw exec {:>6.1} runs/s (a run {}, {:.0} ms), resident floor {:>6.1} runs/s (a run {}, {:.0} ms)",
            ours.per_second,
            ms(ours.run),
            ours.cpu_ms,
            raw.per_second,
            ms(raw.run),
            raw.cpu_ms,
            floor.per_second,
            ms(floor.run),
            floor.cpu_ms
        );
        println!(
            "      host CPU per run by process: livecode: {}; raw exec: {}; floor: {}",
            ours.breakdown, raw.breakdown, floor.breakdown
        );
        rows.push(format!(
            "| runs/s, {n} session{} looping | {:.0} runs/s (a run {}; {:.0} ms of host CPU) | raw exec on the same containers: {:.0} runs/s (a run {}; {:.0} ms of host CPU); resident floor: {:.0} runs/s ({:.0} ms) | **{:.1}×** raw |",
            if n == 1 { "" } else { "s" },
            ours.per_second,
            ms(ours.run),
            ours.cpu_ms,
            raw.per_second,
            ms(raw.run),
            raw.cpu_ms,
            floor.per_second,
            floor.cpu_ms,
            ours.per_second / raw.per_second
        ));
    }
}

/// `POST /sessions` → the socket's welcome (or a later status) says `ready`.
async fn create_to_ready(server: &SpawnedServer) -> (Duration, bool) {
    let started = Instant::now();
    let session = server.python(PROGRAM).await;
    let (mut ws, welcome) = server.connect(&session.id, &session.candidate, "").await;
    let hit = welcome["session"]["status"] == "ready";
    if !hit {
        while next_of_type(&mut ws, "status").await["status"] != "ready" {}
    }
    let took = started.elapsed();
    let _ = server
        .http
        .delete(server.api().url(&session.path()))
        .send()
        .await;
    (took, hit)
}

async fn pool_warm(server: &SpawnedServer) -> u64 {
    let health: Value = server
        .http
        .get(server.api().url("/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    health["pool"]
        .as_array()
        .and_then(|l| l.iter().find(|p| p["environment"] == "python"))
        .and_then(|p| p["warm"].as_u64())
        .unwrap_or(0)
}

async fn create(server: &SpawnedServer, rows: &mut Vec<String>) {
    let mut hits = Vec::new();
    for _ in 0..20 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while pool_warm(server).await == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (took, hit) = create_to_ready(server).await;
        if hit {
            hits.push(took);
        }
    }
    let bin = env!("CARGO_BIN_EXE_livecode");
    let mut env = bench_server_env();
    env.push(("LIVECODE_POOL__DEFAULT_SIZE", "0"));
    let no_pool = start_server(bin, &env, None).await;
    let mut misses = Vec::new();
    for _ in 0..20 {
        misses.push(create_to_ready(&no_pool).await.0);
    }
    drop(no_pool);
    let (hit, miss) = (Stats::of(&hits), Stats::of(&misses));
    println!("create → ready (POST /sessions → the socket says ready), p50 / p95:");
    println!("  pool hit    {} (n={})", ms(hit), hit.n);
    println!("  pool miss   {} (n={})", ms(miss), miss.n);
    rows.push(format!(
        "| `POST /sessions` → `ready`, pool hit | {} | a miss (a new container and its runner): {} | **{:.2}×** |",
        ms(hit),
        ms(miss),
        hit.p50 / miss.p50
    ));
}

/// Memory of a container's cgroup (v1 or v2), in MiB.
fn container_mib(id: &str) -> Option<f64> {
    let paths = [
        format!("/sys/fs/cgroup/memory/docker/{id}/memory.usage_in_bytes"),
        format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/memory.current"),
    ];
    paths.iter().find_map(|p| {
        let text = std::fs::read_to_string(p).ok()?;
        Some(text.trim().parse::<f64>().ok()? / (1024.0 * 1024.0))
    })
}

fn host_available_mib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

async fn idle(rows: &mut Vec<String>) {
    const SESSIONS: usize = 200;
    let bin = env!("CARGO_BIN_EXE_livecode");
    let server = start_server(bin, &bench_server_env(), None).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_before, host_before) = (rss_mib(&server), host_available_mib());
    let server_ref = &server;
    let made: Vec<(String, String)> = futures_util::stream::iter(0..SESSIONS)
        .map(|_| async move {
            let mut s = Bench::create(server_ref, PROGRAM).await;
            s.run().await; // a session that has run once: its runner is open
            (s.id.clone(), s.container(server_ref).await)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_after, host_after) = (rss_mib(&server), host_available_mib());
    let mut per: Vec<f64> = made.iter().filter_map(|(_, c)| container_mib(c)).collect();
    per.sort_by(f64::total_cmp);
    let mean = per.iter().sum::<f64>() / per.len().max(1) as f64;
    let p95 = per.get(per.len() * 95 / 100).copied().unwrap_or(f64::NAN);
    let host_per = (host_before - host_after) / SESSIONS as f64;
    println!("{SESSIONS} idle sessions (each has run once; sockets closed):");
    println!("  server RSS {rss_after:.1} MiB (idle server before: {rss_before:.1} MiB)");
    println!(
        "  per container: cgroup memory {mean:.2} MiB mean, {p95:.2} MiB p95 (n={}); host memory {host_per:.1} MiB",
        per.len()
    );
    rows.push(format!(
        "| server RSS with {SESSIONS} idle sessions | {rss_after:.1} MiB | the idle server before them: {rss_before:.1} MiB | +{:.2} MiB a session |",
        (rss_after - rss_before) / SESSIONS as f64
    ));
    rows.push(format!(
        "| memory of one idle session's container | {mean:.2} MiB in its cgroup (p95 {p95:.2}) | host memory each, dockerd and shim included: {host_per:.1} MiB | |"
    ));
}

async fn flood(server: &SpawnedServer, docker: &Docker, rows: &mut Vec<String>) {
    let program = format!("import sys; sys.stdout.buffer.write(b'x' * {FLOOD_BYTES})");
    let mut s = Bench::create(server, &program).await;
    let container = s.container(server).await;
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let (first, done, bytes) = s.run().await;
        if bytes != FLOOD_BYTES {
            eprintln!("warning: {bytes} of {FLOOD_BYTES} bytes arrived");
        }
        ours.push(bytes as f64 / (done - first).as_secs_f64() / 1e6);
        let (first, done, bytes) = raw_exec(docker, &container, &["python3", "-c", &program]).await;
        raw.push(bytes as f64 / (done - first).as_secs_f64() / 1e6);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ours, raw) = (median(&mut ours), median(&mut raw));
    println!(
        "output flood of {FLOOD_BYTES} bytes (the default cap), first byte to end, median of 10:"
    );
    println!("  livecode {ours:.0} MB/s, raw docker exec {raw:.0} MB/s");
    rows.push(format!(
        "| output up to the cap ({} MiB), first byte to the end | {ours:.0} MB/s, to every socket | raw `docker exec`: {raw:.0} MB/s | {:.2}× |",
        FLOOD_BYTES >> 20,
        ours / raw
    ));
}

/// gVisor beside runc: a second server with `docker.runtime = "runsc"`, the same program,
/// the same measurements, one after the other in this run.
async fn gvisor(runc: &SpawnedServer, rows: &mut Vec<String>) {
    let mut env = bench_server_env();
    env.push(("LIVECODE_DOCKER__RUNTIME", "runsc"));
    let runsc = start_server(env!("CARGO_BIN_EXE_livecode"), &env, None).await;
    let mut measured = Vec::new();
    for (name, server) in [("runc", runc), ("runsc", &runsc)] {
        let mut sessions = Vec::new();
        for _ in 0..8 {
            sessions.push(Bench::create(server, PROGRAM).await);
        }
        for s in &mut sessions {
            for _ in 0..3 {
                s.run().await;
            }
        }
        let mut first = Vec::new();
        for _ in 0..ROUNDS {
            first.push(sessions[0].run().await.0);
        }
        let one = loop_livecode(&mut sessions[..1]).await;
        let eight = loop_livecode(&mut sessions[..]).await;
        println!(
            "{name}: first byte {}, 1 session {:.1} runs/s ({:.0} ms host CPU each), 8 sessions {:.1} runs/s ({:.0} ms)",
            ms(Stats::of(&first)),
            one.per_second,
            one.cpu_ms,
            eight.per_second,
            eight.cpu_ms
        );
        measured.push((Stats::of(&first), one, eight));
    }
    let (runc, runsc) = (&measured[0], &measured[1]);
    rows.push(format!(
        "| gVisor (`runsc`): `run` → first output byte | {} | runc, same server build: {} | {:.2}× |",
        ms(runsc.0),
        ms(runc.0),
        runsc.0.p50 / runc.0.p50
    ));
    for (label, ours, base) in [
        ("1 session", &runsc.1, &runc.1),
        ("8 sessions", &runsc.2, &runc.2),
    ] {
        rows.push(format!(
            "| gVisor (`runsc`): runs/s, {label} looping | {:.1} runs/s (a run {}; {:.0} ms of host CPU) | runc: {:.1} runs/s (a run {}; {:.0} ms) | {:.2}× |",
            ours.per_second,
            ms(ours.run),
            ours.cpu_ms,
            base.per_second,
            ms(base.run),
            base.cpu_ms,
            ours.per_second / base.per_second
        ));
    }
}

#[tokio::main]
async fn main() {
    let only = std::env::var("LIVECODE_BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || name.contains(only.as_str());
    let bin = env!("CARGO_BIN_EXE_livecode");
    let mut env = bench_server_env();
    env.push(("LIVECODE_POOL__DEFAULT_SIZE", "4"));
    let server = start_server(bin, &env, None).await;
    let docker = Docker::connect_with_defaults()
        .expect("docker")
        .negotiate_version()
        .await
        .expect("docker version");
    let mut rows = Vec::new();
    if wanted("latency") {
        latency(&server, &docker, &mut rows).await;
    }
    if wanted("throughput") {
        throughput(&server, &docker, &mut rows).await;
    }
    if wanted("create") {
        create(&server, &mut rows).await;
    }
    if wanted("flood") {
        flood(&server, &docker, &mut rows).await;
    }
    if wanted("gvisor") {
        gvisor(&server, &mut rows).await;
    }
    drop(server);
    if wanted("idle") {
        idle(&mut rows).await;
    }
    println!();
    println!("| what (p50 / p95) | livecode | baseline, same run | ratio |");
    println!("|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}
