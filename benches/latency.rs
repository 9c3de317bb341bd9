//! Latency benchmark: prints figures, asserts nothing. Run with `cargo bench --bench latency`
//! (Docker and the python image must be there, as for the tests).
//!
//! Measures, against the real server in this process and a real Docker engine:
//! - `POST /sessions` → the session is `ready` (its container runs);
//! - `run` sent on the socket → first `output` byte back, for a Python one-liner.
//!
//! And, in the same run, two baselines that time the same program without livecode:
//! - `docker exec` into a running container (what a warm container costs at the CLI);
//! - `docker run --rm` of a fresh container (what a cold container per run costs).

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

const ROUNDS: usize = 20;

#[tokio::main]
async fn main() {
    let instance = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = livecode::config::Config::defaults();
    config.data_dir = data.path().to_path_buf();
    config.instance = instance.clone();
    config.build_images_on_start = false;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(livecode::run(config, listener, shutdown.clone()));
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1");
    let deadline = Instant::now() + Duration::from_secs(60);
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut to_ready = Vec::new();
    let mut first_byte = Vec::new();
    let mut whole_run = Vec::new();
    let mut first_run = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let created: Value = http
            .post(format!("{base}/sessions"))
            .json(&json!({"environment": "python", "code": "print('x')"}))
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("json");
        let id = created["session_id"].as_str().expect("id").to_string();
        let token = created["candidate_token"]
            .as_str()
            .expect("token")
            .to_string();
        let url = format!("ws://{addr}/api/v1/sessions/{id}/ws?token={token}");
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("socket");
        let mut ready = false;
        while !ready {
            let msg = next_json(&mut ws).await;
            ready = match msg["type"].as_str() {
                Some("welcome") => msg["session"]["status"] == "ready",
                Some("status") => msg["status"] == "ready",
                _ => false,
            };
        }
        to_ready.push(started.elapsed());

        // The first run of a fresh container and a later one, apart.
        for attempt in 0..2 {
            let sent = Instant::now();
            ws.send(Message::text(json!({"type": "run"}).to_string()))
                .await
                .expect("send");
            let mut first = None;
            loop {
                let msg = next_json(&mut ws).await;
                match msg["type"].as_str() {
                    Some("output") if first.is_none() => first = Some(sent.elapsed()),
                    Some("run_finished") => break,
                    _ => {}
                }
            }
            let first = first.expect("output before run_finished");
            if attempt == 0 {
                first_run.push(first);
            } else {
                first_byte.push(first);
                whole_run.push(sent.elapsed());
            }
        }
        http.delete(format!("{base}/sessions/{id}"))
            .bearer_auth(created["interviewer_token"].as_str().expect("token"))
            .send()
            .await
            .expect("delete");
    }
    shutdown.cancel();
    let _ = server.await;

    let warm = baseline_exec();
    let cold = baseline_run();
    println!("livecode latency, {ROUNDS} sessions, Python `print('x')` (median / p90):");
    report("POST /sessions → ready", &mut to_ready);
    report("run → first output (fresh session)", &mut first_run);
    report("run → first output byte", &mut first_byte);
    report("run → run_finished", &mut whole_run);
    println!("baselines measured now, same program, no livecode:");
    report("docker exec (warm container, CLI)", &mut warm.clone());
    report("docker run --rm (cold container)", &mut cold.clone());
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("docker rm -f $(docker ps -aq --filter label=livecode.instance={instance}) >/dev/null 2>&1"))
        .status();
}

async fn next_json<S>(ws: &mut S) -> Value
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("a message within 30 s")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(text) = msg {
            return serde_json::from_str(&text).expect("json");
        }
    }
}

fn baseline_exec() -> Vec<Duration> {
    let name = format!("livecode-bench-{}", uuid::Uuid::new_v4().simple());
    let ok = Command::new("docker")
        .args([
            "run",
            "-d",
            "--rm",
            "--name",
            &name,
            "--network",
            "none",
            "livecode-env-python",
            "sleep",
            "300",
        ])
        .output()
        .expect("docker run")
        .status
        .success();
    assert!(ok, "could not start the baseline container");
    let times = (0..ROUNDS)
        .map(|_| time(&["exec", &name, "python3", "-c", "print('x')"]))
        .collect();
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    times
}

fn baseline_run() -> Vec<Duration> {
    (0..ROUNDS / 2)
        .map(|_| {
            time(&[
                "run",
                "--rm",
                "--network",
                "none",
                "livecode-env-python",
                "python3",
                "-c",
                "print('x')",
            ])
        })
        .collect()
}

fn time(args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(out.status.success(), "docker {args:?} failed");
    started.elapsed()
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "  {what:<38} {:>7.1} ms / {:>7.1} ms   (n={})",
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.9).as_secs_f64() * 1e3,
        samples.len()
    );
}
