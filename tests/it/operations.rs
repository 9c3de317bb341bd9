//! Operations: `/metrics` scraped after real runs (a server process of its own, so that its
//! counters are this test's alone), JSON log lines that carry each request's id, and the
//! `x-request-id` header both ways.

use serde_json::{json, Value};

use crate::support::*;

/// The value of the sample `name{labels}` in a Prometheus text page.
fn sample(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_real_runs_and_json_logs_carry_request_ids() {
    let home = ServerHome::new();
    let server = home
        .spawn_with(
            &[
                ("LIVECODE_LOG_FORMAT", "json"),
                (
                    "LIVECODE_LOG",
                    "info,tower_http=debug,livecode::session::run=debug",
                ),
            ],
            None,
        )
        .await;
    let api = server.api();
    let session = server.python("print('hi')\n").await;
    api.wait_status(&session.id, &session.candidate, "ready")
        .await;
    // This run's request names its id: the run's own log lines carry it.
    let ok: Value = server
        .http
        .post(format!(
            "http://127.0.0.1:{}/api/v1/sessions/{}/execute",
            server.port, session.id
        ))
        .bearer_auth(&session.candidate)
        .header("x-request-id", "run-request-7")
        .json(&json!({}))
        .send()
        .await
        .expect("execute")
        .json()
        .await
        .expect("json");
    assert_eq!(ok["status"], "completed", "{ok}");
    let failed = api
        .execute(
            &session.id,
            &session.candidate,
            json!({"code": "import sys\nsys.exit(3)\n"}),
        )
        .await;
    assert_eq!(failed["exit_code"], 3, "{failed}");
    let slow = api
        .execute(
            &session.id,
            &session.candidate,
            json!({"code": "import time\ntime.sleep(30)\n", "timeout_seconds": 0.5}),
        )
        .await;
    assert_eq!(slow["status"], "timeout", "{slow}");
    let ws = server.ws_url(&session.id, &format!("?token={}", session.candidate));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws).await.expect("socket");
    // Its welcome: the server is serving it.
    futures_util::StreamExt::next(&mut socket).await;

    let resp = server
        .http
        .get(format!("http://127.0.0.1:{}/metrics", server.port))
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.expect("text");
    let runs = |status: &str| {
        sample(
            &page,
            &format!("livecode_runs_total{{environment=\"python\",status=\"{status}\"}}"),
        )
    };
    assert_eq!(runs("completed"), Some(2.0), "{page}");
    assert_eq!(runs("timeout"), Some(1.0), "{page}");
    assert_eq!(
        sample(
            &page,
            "livecode_run_duration_seconds_count{environment=\"python\"}"
        ),
        Some(3.0),
        "{page}"
    );
    // Only the first run printed: one first byte.
    assert_eq!(
        sample(
            &page,
            "livecode_run_first_byte_seconds_count{environment=\"python\"}"
        ),
        Some(1.0),
        "{page}"
    );
    assert_eq!(sample(&page, "livecode_sockets"), Some(1.0), "{page}");
    assert!(
        sample(&page, "livecode_sessions{status=\"ready\"}").unwrap_or(0.0) >= 1.0,
        "{page}"
    );
    assert!(
        page.contains("livecode_pool_warm{environment=\"python\"}"),
        "{page}"
    );

    // A request id: made when none is sent, echoed when one is, and on the request's log lines.
    let made = server
        .http
        .get(format!("http://127.0.0.1:{}/api/v1/health", server.port))
        .send()
        .await
        .expect("health");
    let id = made.headers()["x-request-id"].to_str().expect("ascii");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let sent = server
        .http
        .get(format!(
            "http://127.0.0.1:{}/api/v1/environments",
            server.port
        ))
        .header("x-request-id", "probe-42")
        .send()
        .await
        .expect("environments");
    assert_eq!(sent.headers()["x-request-id"], "probe-42");

    let text = std::fs::read_to_string(home.log()).expect("the log");
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    assert!(!lines.is_empty(), "the server logged");
    let tagged = lines.iter().any(|l| {
        l["span"]["request_id"] == "probe-42" && l["span"]["path"] == "/api/v1/environments"
    });
    assert!(tagged, "the request's log lines carry its id:\n{text}");
    let run_line = lines
        .iter()
        .find(|l| l["fields"]["message"] == "run finished" && l["fields"]["run"] == ok["run_id"]);
    assert_eq!(
        run_line.map(|l| l["span"]["request_id"].clone()),
        Some(json!("run-request-7")),
        "the run task's lines carry the id of the request that started it:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_api_key_when_there_is_one() {
    let server = TestServer::start(|c| c.api_key = "k".repeat(32)).await;
    let url = format!("http://127.0.0.1:{}/metrics", server.port());
    let anonymous = server.api().http.get(&url).send().await.expect("scrape");
    check_error(anonymous, 401, "UNAUTHORIZED").await;
    let keyed = server
        .api()
        .http
        .get(&url)
        .bearer_auth("k".repeat(32))
        .send()
        .await
        .expect("scrape");
    assert_eq!(keyed.status(), 200);
    assert!(keyed.text().await.expect("text").contains("livecode_"));
}
