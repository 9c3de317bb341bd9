//! Idle sessions end on their own: clients are told, the container goes, the record stays.

use std::time::Duration;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_expires_and_loses_its_container() {
    let server = TestServer::start(|c| {
        c.sessions.idle_ttl_seconds = 2;
        c.sessions.reap_interval_seconds = 0.2;
    })
    .await;
    let session = server.python("print('x')\n").await;
    server
        .api()
        .wait_status(&session.id, &session.candidate, "ready")
        .await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    let container = session_container(&server.api(), &session).await;
    assert!(
        container_exists(&container),
        "the session has its container"
    );

    let ended = next_of_type_within(&mut ws, "session_ended", Duration::from_secs(60)).await;
    assert_eq!(ended["reason"], "expired", "{ended}");
    assert!(
        wait_until(Duration::from_secs(10), || !container_exists(&container)).await,
        "the expired session's container {container} is still there"
    );
    let got = server
        .api()
        .get_session(&session.id, &session.interviewer)
        .await;
    assert_eq!(got["status"], "expired", "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_who_is_there_keeps_the_session_alive() {
    let server = TestServer::start(|c| {
        c.sessions.idle_ttl_seconds = 2;
        c.sessions.reap_interval_seconds = 0.2;
    })
    .await;
    let session = server.python("").await;
    let mut ws = server.ws(&session.id, &session.candidate).await;
    // Reading the problem: no edit, no run, only the page's pings, for three TTLs.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(6) {
        send(&mut ws, msg::ping()).await;
        check_pong(&mut ws).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let got = server
        .api()
        .get_session(&session.id, &session.interviewer)
        .await;
    assert_eq!(got["status"], "ready", "{got}");
}
