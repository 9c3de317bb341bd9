//! A session outlives its container. One removed, paused or killed mid-run from outside, or
//! one its runner cannot clear, is replaced, and the session goes on in the new one; one that
//! died while the engine was unreachable is replaced once the engine is back, and what the
//! outage left is removed. (Containers a restarted server adopts are `restart`'s.)

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;
use crate::workspace::{completed, CHECK};

/// Waits until the session is ready in a container other than `old`; returns the new one.
async fn replaced(api: &Api<'_>, session: &Session, old: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = api.get_session(&session.id, &session.interviewer).await;
        match now["container_id"].as_str() {
            Some(id) if id != old && now["status"] == "ready" => return id.to_string(),
            _ => {}
        }
        assert!(Instant::now() < deadline, "never replaced: {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_dies_under_a_live_session_is_replaced() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("print('still here')").await;
    let api = server.api();
    let old = session_container(&api, &session).await;
    let mut ws = server.ws(&session.id, &session.candidate).await;

    // Killed from outside, as an operator or the kernel might.
    docker_output(&["rm", "-f", &old]);

    // The server notices by itself (no run needed) and makes a new one.
    let new = replaced(&api, &session, &old).await;
    assert!(container_exists(&new));
    assert!(!container_exists(&old));
    send(&mut ws, msg::run_document()).await;
    let run = collect_run(&mut ws).await;
    assert_eq!(run.stdout, "still here\n", "{}", run.finished);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_container_is_replaced_and_the_session_goes_on() {
    let server = TestServer::start(|_| {}).await;
    let session = server.python("print('served')").await;
    let api = server.api();
    let old = session_container(&api, &session).await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    run_message(&mut ws, msg::run_document())
        .await
        .assert_completed(0);

    // A paused container runs nothing, its runner included: it is as good as dead.
    docker_output(&["pause", &old]);
    let new = replaced(&api, &session, &old).await;
    assert!(
        wait_until(Duration::from_secs(10), || !container_exists(&old)).await,
        "the paused container is removed"
    );
    let run = run_message(&mut ws, msg::run_document()).await;
    assert_eq!(run.stdout, "served\n", "{}", run.describe());
    assert_eq!(session_container(&api, &session).await, new);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_killed_mid_run_ends_the_run_as_error_with_a_notice() {
    let server = TestServer::start(|_| {}).await;
    let session = server
        .python("import time\nprint('go', flush=True)\ntime.sleep(30)\n")
        .await;
    let api = server.api();
    let container = session_container(&api, &session).await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    send(&mut ws, msg::run_document()).await;
    stdout_until(&mut ws, "go").await;
    docker_output(&["kill", &container]);
    let run = collect_run(&mut ws).await;
    assert_eq!(run.status(), "error", "{}", run.describe());
    assert!(
        run.stderr.contains("sandbox was lost"),
        "{}",
        run.describe()
    );
    // And the session heals: the next run works in a new container.
    replaced(&api, &session, &container).await;
    send(
        &mut ws,
        json!({"type": "run", "files": {"main.py": "print('again')"}}),
    )
    .await;
    let again = collect_run(&mut ws).await;
    assert_eq!(again.stdout, "again\n", "{}", again.describe());
}

/// `script` run by `sh` in the container as root: what no run can do.
fn as_root(container: &str, script: &str) -> bool {
    std::process::Command::new("docker")
        .args(["exec", "-u", "0", container, "sh", "-c", script])
        .status()
        .expect("docker exec")
        .success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_that_cannot_be_cleared_is_replaced_and_runs_go_on() {
    let server = TestServer::start(|_| {}).await;
    let api = server.api();
    let session = server.python("print('hello')\n").await;
    let (id, token) = (&session.id, &session.candidate);
    let old = session_container(&api, &session).await;
    completed(&api.execute(id, token, json!({})).await);

    // Root's file in the sticky /tmp: the runner, acting as the run's uid, cannot remove it,
    // so the cleanup after the next run fails.
    assert!(as_root(&old, "echo stuck > /tmp/root-owned"));
    let run = api.execute(id, token, json!({})).await;
    completed(&run);
    assert_eq!(run["stdout"], "hello\n", "{run}");
    assert!(
        run["stderr"]
            .as_str()
            .unwrap_or("")
            .contains("could not be cleared"),
        "the run says its sandbox goes: {run}"
    );

    // The session heals by itself: a new container, the old one removed.
    let healed = wait_until(Duration::from_secs(60), || !container_exists(&old)).await;
    assert!(healed, "the broken container was not removed");
    let new = session_container(&api, &session).await;
    assert_ne!(new, old, "the session has a new container");
    for bearer in [&session.interviewer, token] {
        let next = api.execute(id, bearer, json!({"code": CHECK})).await;
        completed(&next);
        assert_eq!(next["stdout"], "clean\n", "{next}");
        assert_eq!(next["stderr"], "", "{next}");
    }

    // A runner that finds its sandbox dirty when it starts (the server lost its stream) fails
    // the run before anything of it ran: the run goes to a new container instead.
    assert!(as_root(
        &new,
        "echo stuck > /tmp/root-owned; \
         for p in /proc/[0-9]*; do [ \"$(cat $p/comm)\" = livecode-runner ] && kill -9 ${p#/proc/}; done; true"
    ));
    // Its stdin (and EOF), already on its way to the broken runner, goes along with it.
    let run = api
        .execute(
            id,
            token,
            json!({"code": "import sys\nprint(input())\nprint(len(sys.stdin.read()))\n",
                   "stdin": "retried\n"}),
        )
        .await;
    completed(&run);
    assert_eq!(run["stdout"], "retried\n0\n", "{run}");
    let healed = wait_until(Duration::from_secs(60), || !container_exists(&new)).await;
    assert!(healed, "the second broken container was not removed");
    let next = api.execute(id, token, json!({"code": CHECK})).await;
    completed(&next);
    assert_eq!(next["stdout"], "clean\n", "{next}");
}

/// Containers that die while the engine is unreachable are found and replaced when it is
/// back; sockets hear `degraded` and then the session's status again. Prints how long the
/// last of several sessions took to be ready again.
#[tokio::test(flavor = "multi_thread")]
async fn after_an_outage_dead_containers_are_replaced_and_sockets_told() {
    const SESSIONS: usize = 4;
    let proxy = DockerProxy::start();
    let server = TestServer::start(|c| {
        c.docker.host = proxy.host();
        c.server.health_interval_seconds = 0.4;
    })
    .await;
    let mut live = Vec::new();
    for i in 0..SESSIONS {
        let session = server.python(&format!("print('healed {i}')")).await;
        let old = session_container(&server.api(), &session).await;
        let ws = server.ws(&session.id, &session.candidate).await;
        live.push((session, old, ws));
    }

    proxy.stop();
    for (_, old, ws) in live.iter_mut() {
        let degraded = next_of_type_within(ws, "status", Duration::from_secs(30)).await;
        assert_eq!(degraded["status"], "degraded", "{degraded}");
        // The container dies while the server cannot see the engine (so it hears no event).
        docker_output(&["rm", "-f", old.as_str()]);
    }

    let started = Instant::now();
    proxy.restart();
    for (_, _, ws) in live.iter_mut() {
        let deadline = Instant::now() + DEFAULT_WAIT;
        loop {
            let status = next_of_type_within(ws, "status", DEFAULT_WAIT).await;
            if status["status"] == "ready" {
                break;
            }
            assert!(Instant::now() < deadline, "never ready again");
        }
    }
    println!(
        "engine back → all {SESSIONS} sessions (each container dead) ready again in {:?}",
        started.elapsed()
    );
    for (i, (session, old, ws)) in live.iter_mut().enumerate() {
        let now = server
            .api()
            .get_session(&session.id, &session.interviewer)
            .await;
        assert_ne!(now["container_id"], old.as_str(), "{now}");
        send(ws, msg::run_document()).await;
        let run = collect_run(ws).await;
        assert_eq!(run.stdout, format!("healed {i}\n"), "{}", run.describe());
    }
}

/// The engine goes away (a proxy in front of its socket stops): the server notices at the
/// first failed engine call, long before its next background ping; a language switch is
/// refused with 503; a container the outage left (made by a call whose answer was lost) is
/// removed as soon as the engine is back, not at the next start.
#[tokio::test(flavor = "multi_thread")]
async fn an_engine_outage_refuses_switches_and_leaves_no_container_behind() {
    let proxy = DockerProxy::start();
    // Pings 20 s apart: only a failed call can tell the server of the outage sooner.
    let server = TestServer::start(|c| {
        c.docker.host = proxy.host();
        c.server.health_interval_seconds = 20.0;
    })
    .await;
    let kept = server.python("print('kept')").await;
    server
        .api()
        .wait_status(&kept.id, &kept.candidate, "ready")
        .await;
    let kept_container = session_container(&server.api(), &kept).await;

    proxy.stop();
    let started = Instant::now();
    // A run is the first call to find the engine gone (or the exit watch's stream is).
    let _ = server
        .api()
        .post(
            &format!("/sessions/{}/execute", kept.id),
            Some(&kept.candidate),
            &json!({}),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.api().get("/health", None).await.status() != 503 {
        assert!(
            Instant::now() < deadline,
            "the outage was not noticed before the next ping"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "outage noticed after {:?} (pings every 20 s)",
        started.elapsed()
    );
    let switched = server
        .api()
        .post(
            &format!("/sessions/{}/environment", kept.id),
            Some(&kept.interviewer),
            &json!({"environment": "bash"}),
        )
        .await;
    check_error(switched, 503, "DOCKER_UNAVAILABLE").await;
    // A creation whose answer the outage cut off: the engine made a container of this
    // instance that no session or pool holds.
    let image = docker_output(&["inspect", "-f", "{{.Image}}", &kept_container]);
    let instance = format!("livecode.instance={}", server.config.instance);
    let leftover = docker_output(&[
        "run",
        "-d",
        "--label",
        "livecode.managed=true",
        "--label",
        &instance,
        "--label",
        "livecode.environment=python",
        "--entrypoint",
        "sleep",
        &image,
        "600",
    ]);
    // Older than the engine's return by more than the server's margin for containers in the
    // making (dates are in whole seconds).
    tokio::time::sleep(Duration::from_secs(4)).await;
    proxy.restart();
    let back = Instant::now();
    let gone = wait_until(DEFAULT_WAIT, || !container_exists(&leftover)).await;
    println!(
        "engine back → the outage's leftover removed in {:?}",
        back.elapsed()
    );
    assert!(gone, "the container the outage left is still there");
    assert!(
        container_exists(&kept_container),
        "a live session's container stays"
    );
    let now = server.api().get_session(&kept.id, &kept.candidate).await;
    assert_eq!(now["environment"], "python", "{now}");
    let result = server
        .api()
        .execute(&kept.id, &kept.candidate, json!({}))
        .await;
    assert_eq!(result["stdout"], "kept\n", "{result}");
}
