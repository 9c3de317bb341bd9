//! Questions and test cases: created and listed with the API key, named by a session (whose
//! document starts as the question's starter), run case by case in the session's container
//! from the socket and from REST, stored and listed, with hidden cases reaching candidates
//! only as counts.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

const KEY: &str = "questions-test-key-0123456789abcdef";

/// Adds the two numbers of its line; sleeps on "sleep"; trailing spaces on purpose.
const STARTER: &str = "import time\nline = input()\nif line == 'sleep':\n    time.sleep(30)\na, b = map(int, line.split())\nprint(a + b, end='  \\n')\n";

fn question() -> Value {
    json!({
        "title": "Sum of two",
        "prompt": "Read **two** integers, print their sum.",
        "starters": {"python": STARTER, "bash": "read a b; echo $((a + b))\n"},
        "cases": [
            {"name": "small", "stdin": "1 2\n", "expected": "3\n"},
            {"name": "wrong on purpose", "stdin": "2 2\n", "expected": "5\n"},
            {"name": "exact", "stdin": "1 1\n", "expected": "2\n", "exact": true},
            {"name": "slow", "stdin": "sleep\n", "expected": "0\n", "time_limit_seconds": 1},
            {"name": "hidden-pass", "stdin": "40 2\n", "expected": "42\n", "hidden": true},
            {"name": "hidden-fail", "stdin": "7 7\n", "expected": "SECRET-EXPECTED\n", "hidden": true}
        ]
    })
}

async fn post_json(
    server: &TestServer,
    path: &str,
    bearer: &str,
    body: &Value,
) -> reqwest::Response {
    server.api().post(path, Some(bearer), body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_are_kept_and_checked() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let created = expect_json(
        post_json(&server, "/questions", KEY, &question()).await,
        201,
    )
    .await;
    let id = created["question_id"].as_str().expect("an id").to_string();
    assert_eq!(created["cases"][3]["time_limit_seconds"], 1.0);
    assert_eq!(
        created["cases"][0]["time_limit_seconds"], 10.0,
        "the default"
    );
    // Only the API key.
    check_error(
        post_json(&server, "/questions", "nope", &question()).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    check_error(
        server.api().get("/questions", None).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    let listed = expect_json(server.api().get("/questions", Some(KEY)).await, 200).await;
    assert_eq!(listed[0]["question_id"], id.as_str());
    let read = expect_json(
        server
            .api()
            .get(&format!("/questions/{id}"), Some(KEY))
            .await,
        200,
    )
    .await;
    // The API key reads every case.
    assert_eq!(read["cases"], created["cases"]);
    assert_eq!(read["title"], created["title"]);
    assert_eq!(
        (read["hidden_cases"].as_u64(), read["redacted"].as_bool()),
        (Some(2), Some(false))
    );
    check_error(
        server
            .api()
            .get(&format!("/questions/{}", uuid::Uuid::new_v4()), Some(KEY))
            .await,
        404,
        "QUESTION_NOT_FOUND",
    )
    .await;
    check_error(
        server.api().get("/questions/not-a-uuid", Some(KEY)).await,
        404,
        "QUESTION_NOT_FOUND",
    )
    .await;
    // Bad questions are refused with what is wrong.
    for (change, needle, code) in [
        (json!({"title": ""}), "title", "INVALID_ARGUMENT"),
        (
            json!({"starters": {"cobol": ""}}),
            "cobol",
            "INVALID_ARGUMENT",
        ),
        (
            json!({"cases": [{"name": "a", "expected": ""}, {"name": "a", "expected": ""}]}),
            "two cases",
            "INVALID_ARGUMENT",
        ),
        (
            json!({"cases": [{"name": "a", "expected": "", "time_limit_seconds": 0}]}),
            "time_limit",
            "INVALID_ARGUMENT",
        ),
        (
            json!({"cases": [{"name": "a", "expected": "", "surprise": 1}]}),
            "surprise",
            "INVALID_JSON",
        ),
    ] {
        let mut body = question();
        for (k, v) in change.as_object().expect("object") {
            body[k] = v.clone();
        }
        let err = check_error(
            post_json(&server, "/questions", KEY, &body).await,
            400,
            code,
        )
        .await;
        let message = err["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(needle), "{needle}: {err}");
    }
    // A session naming an unknown question is refused; one without a question has no tests.
    let unknown = json!({"environment": "python", "question": uuid::Uuid::new_v4()});
    check_error(
        post_json(&server, "/sessions", KEY, &unknown).await,
        400,
        "INVALID_ARGUMENT",
    )
    .await;
    let plain = Session::from(
        server
            .api()
            .create_session_as(Some(KEY), json!({"environment": "python"}))
            .await,
    );
    check_error(
        post_json(
            &server,
            &format!("/sessions/{}/tests", plain.id),
            &plain.candidate,
            &json!({}),
        )
        .await,
        409,
        "NO_QUESTION",
    )
    .await;
    check_error(
        server
            .api()
            .get(
                &format!("/sessions/{}/question", plain.id),
                Some(&plain.candidate),
            )
            .await,
        409,
        "NO_QUESTION",
    )
    .await;
}

/// Every frame a socket gets until `tests_finished`.
async fn until_tests_finished(ws: &mut WsStream) -> Vec<Value> {
    frames_until(ws, "tests_finished", Duration::from_secs(90))
        .await
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_runs_show_candidates_counts_and_interviewers_everything() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let created = expect_json(
        post_json(&server, "/questions", KEY, &question()).await,
        201,
    )
    .await;
    let question_id = created["question_id"].as_str().expect("id").to_string();
    let session = Session::from(
        server
            .api()
            .create_session_as(
                Some(KEY),
                json!({"environment": "python", "question": question_id}),
            )
            .await,
    );
    let (mut candidate, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(
        welcome["document"], STARTER,
        "the document starts as the starter"
    );
    let mut interviewer = server.ws(&session.id, &session.interviewer).await;

    // What each role is shown of the question.
    let seen = |token: String| {
        let api = server.api();
        let path = format!("/sessions/{}/question", session.id);
        async move { expect_json(api.get(&path, Some(&token)).await, 200).await }
    };
    let as_candidate = seen(session.candidate.clone()).await;
    assert_eq!(as_candidate["title"], "Sum of two");
    assert_eq!(as_candidate["cases"].as_array().map(Vec::len), Some(4));
    assert_eq!(as_candidate["hidden_cases"], 2);
    assert!(!as_candidate.to_string().contains("SECRET-EXPECTED"));
    let as_interviewer = seen(session.interviewer.clone()).await;
    assert_eq!(as_interviewer["cases"].as_array().map(Vec::len), Some(6));

    send(&mut candidate, json!({"type": "run_tests"})).await;
    let started = next_of_type(&mut candidate, "tests_started").await;
    assert_eq!(started["total"], 6);
    assert_eq!(started["by"], "candidate");
    // One run at a time: the test run holds the slot.
    send(&mut interviewer, json!({"type": "run"})).await;
    let refused = next_of_type(&mut interviewer, "error").await;
    assert_eq!(refused["code"], "RUN_IN_PROGRESS", "{refused}");
    let candidate_frames = until_tests_finished(&mut candidate).await;
    let interviewer_frames = until_tests_finished(&mut interviewer).await;

    // Every frame matches its documented schema (the test messages among them).
    let schemas = expect_json(server.api().get("/socket-schemas.json", None).await, 200).await;
    for frame in candidate_frames.iter().chain(&interviewer_frames) {
        let schema = &schemas["server"][frame["type"].as_str().expect("type")];
        let validator = jsonschema::draft202012::new(schema).expect("a schema");
        let errors: Vec<String> = validator
            .iter_errors(frame)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}: {frame}");
    }
    let results = |frames: &[Value]| -> Vec<Value> {
        frames
            .iter()
            .filter(|f| f["type"] == "test_result")
            .cloned()
            .collect()
    };
    // The candidate heard the four visible cases, one by one, and nothing of the hidden ones.
    let seen_by_candidate = results(&candidate_frames);
    let names: Vec<&str> = seen_by_candidate
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["small", "wrong on purpose", "exact", "slow"]);
    let verdicts: Vec<&str> = seen_by_candidate
        .iter()
        .filter_map(|r| r["verdict"].as_str())
        .collect();
    // "exact" fails: the program prints trailing spaces, which only an exact case counts.
    assert_eq!(verdicts, ["passed", "failed", "failed", "error"]);
    assert_eq!(seen_by_candidate[3]["status"], "timeout");
    assert_eq!(seen_by_candidate[1]["actual"], "4  \n");
    for frame in &candidate_frames {
        let text = frame.to_string();
        assert!(
            !text.contains("SECRET-EXPECTED") && !text.contains("hidden-"),
            "{text}"
        );
    }
    // No run of its own: the cases' output is not streamed.
    assert!(candidate_frames
        .iter()
        .all(|f| f["type"] != "output" && f["type"] != "run_started"));
    let report = candidate_frames.last().expect("tests_finished");
    assert_eq!(
        (report["passed"].as_u64(), report["total"].as_u64()),
        (Some(2), Some(6))
    );
    assert_eq!(report["hidden"], json!({"passed": 1, "total": 2}));
    assert_eq!(report["results"].as_array().map(Vec::len), Some(4));

    // The interviewer heard every case, hidden ones in full.
    let seen_by_interviewer = results(&interviewer_frames);
    assert_eq!(seen_by_interviewer.len(), 6);
    assert_eq!(seen_by_interviewer[5]["name"], "hidden-fail");
    assert_eq!(seen_by_interviewer[5]["verdict"], "failed");
    assert_eq!(seen_by_interviewer[5]["expected"], "SECRET-EXPECTED\n");
    assert_eq!(seen_by_interviewer[5]["actual"], "14  \n");
    let full = interviewer_frames.last().expect("tests_finished");
    assert_eq!(full["results"].as_array().map(Vec::len), Some(6));
    assert_eq!(full["tests_id"], report["tests_id"]);

    // The same from REST, waited for; then both runs are listed, each as its reader may see.
    let by_rest = expect_json(
        post_json(
            &server,
            &format!("/sessions/{}/tests", session.id),
            &session.interviewer,
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(by_rest["by"], "interviewer");
    assert_eq!(by_rest["passed"], 2);
    assert_eq!(by_rest["results"].as_array().map(Vec::len), Some(6));
    let listed = expect_json(
        server
            .api()
            .get(
                &format!("/sessions/{}/tests", session.id),
                Some(&session.candidate),
            )
            .await,
        200,
    )
    .await;
    let tests = listed["tests"].as_array().expect("tests");
    assert_eq!(tests.len(), 2);
    assert!(tests
        .iter()
        .all(|t| t["results"].as_array().map(Vec::len) == Some(4)));
    assert!(!listed.to_string().contains("SECRET-EXPECTED"));
    let listed = expect_json(
        server
            .api()
            .get(&format!("/sessions/{}/tests", session.id), Some(KEY))
            .await,
        200,
    )
    .await;
    assert_eq!(
        listed["tests"][0]["results"].as_array().map(Vec::len),
        Some(6)
    );

    // The audit trail has both test runs, with counts.
    let events = expect_json(
        server
            .api()
            .get(
                &format!("/sessions/{}/events", session.id),
                Some(&session.interviewer),
            )
            .await,
        200,
    )
    .await;
    let finished: Vec<&Value> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "tests.finished")
        .collect();
    assert_eq!(finished.len(), 2, "{events}");
    assert_eq!(finished[0]["data"]["passed"], 2);
    assert_eq!(finished[0]["data"]["total"], 6);
    assert!(events["events"]
        .as_array()
        .expect("events")
        .iter()
        .all(|e| e["type"] != "run.finished"));

    // After the test run the session runs code again, and its last run is not a test case.
    let run = run_code(&mut candidate, "main.py", "print('after')\n").await;
    run.assert_completed(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_build_fails_every_case_without_running_them() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let body = json!({
        "title": "C sum",
        "starters": {"c": "int main(void) { return syntax error }\n"},
        "cases": [
            {"name": "one", "stdin": "1 2\n", "expected": "3\n"},
            {"name": "two", "stdin": "2 2\n", "expected": "4\n"}
        ]
    });
    let created = expect_json(post_json(&server, "/questions", KEY, &body).await, 201).await;
    let session = Session::from(
        server
            .api()
            .create_session_as(
                Some(KEY),
                json!({"environment": "c", "question": created["question_id"]}),
            )
            .await,
    );
    let report = expect_json(
        post_json(
            &server,
            &format!("/sessions/{}/tests", session.id),
            &session.candidate,
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(report["results"][0]["verdict"], "compile_error", "{report}");
    assert!(
        report["results"][0]["stderr"]
            .as_str()
            .unwrap_or("")
            .contains("error"),
        "{report}"
    );
    assert_eq!(report["results"][1]["verdict"], "not_run", "{report}");
    assert_eq!(report["passed"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_stops_a_test_run_and_stdin_cannot_reach_its_cases() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let slow: Vec<Value> = (0..4)
        .map(|i| json!({"name": format!("slow {i}"), "stdin": "sleep\n", "expected": "0\n", "time_limit_seconds": 2}))
        .collect();
    let body = json!({"title": "Slow", "starters": {"python": STARTER}, "cases": slow});
    let created = expect_json(post_json(&server, "/questions", KEY, &body).await, 201).await;
    let session = Session::from(
        server
            .api()
            .create_session_as(
                Some(KEY),
                json!({"environment": "python", "question": created["question_id"]}),
            )
            .await,
    );
    let mut cand = server.ws(&session.id, &session.candidate).await;
    send(&mut cand, json!({"type": "run_tests"})).await;
    next_of_type(&mut cand, "tests_started").await;
    // What a participant types does not reach a case.
    send(&mut cand, json!({"type": "stdin", "data": "1 2\n"})).await;
    check_ws_error(&mut cand, "NO_RUN").await;
    next_of_type(&mut cand, "test_result").await;
    send(&mut cand, json!({"type": "kill"})).await;
    let report = next_of_type_within(&mut cand, "tests_finished", Duration::from_secs(30)).await;
    let verdicts: Vec<&str> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["verdict"].as_str())
        .collect();
    assert_eq!(verdicts.len(), 4, "{report}");
    assert_eq!(verdicts[3], "not_run", "the test run stopped: {report}");
    assert!(
        verdicts.iter().filter(|v| **v == "not_run").count() >= 2,
        "{report}"
    );
    // The session runs code again.
    let run = run_code(&mut cand, "main.py", "print('free')\n").await;
    run.assert_completed(0);
}

/// Whether a question as read shows its hidden cases: the secret in full, or only the count.
fn shows_hidden(read: &Value) -> bool {
    assert_eq!(read["hidden_cases"], 2, "{read}");
    let text = read.to_string();
    let full = text.contains("SECRET-EXPECTED") && text.contains("hidden-pass");
    assert_eq!(read["redacted"], !full, "{read}");
    assert_eq!(
        read["cases"].as_array().map(Vec::len),
        Some(if full { 6 } else { 4 }),
        "{read}"
    );
    full
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_cases_are_read_only_with_the_key_or_an_interviewer_token_of_a_session_using_them() {
    // Open mode: anyone may create questions and sessions, but not read hidden cases.
    let open = TestServer::start(|_| {}).await;
    let created = expect_json(open.api().post("/questions", None, &question()).await, 201).await;
    let id = created["question_id"].as_str().expect("id").to_string();
    let session = Session::from(
        open.api()
            .create_session(json!({"environment": "python", "question": id}))
            .await,
    );
    let other = Session::from(
        open.api()
            .create_session(json!({"environment": "python"}))
            .await,
    );
    let read = |bearer: Option<String>, query: String| {
        let api = open.api();
        let path = format!("/questions/{id}{query}");
        async move { api.get(&path, bearer.as_deref()).await }
    };
    let with_session = format!("?session={}", session.id);
    // The attack: the candidate learns the question's id from its session, then asks with
    // no credential.
    let view = expect_json(
        open.api()
            .get(
                &format!("/sessions/{}/question", session.id),
                Some(&session.candidate),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(view["question_id"], id.as_str());
    assert!(!shows_hidden(
        &expect_json(read(None, String::new()).await, 200).await
    ));
    let listed = expect_json(open.api().get("/questions", None).await, 200).await;
    assert!(!shows_hidden(&listed[0]));
    assert!(!shows_hidden(
        &expect_json(
            read(Some(session.candidate.clone()), with_session.clone()).await,
            200
        )
        .await
    ));
    // An interviewer of another session (that does not use the question) gets no more.
    assert!(!shows_hidden(
        &expect_json(
            read(
                Some(other.interviewer.clone()),
                format!("?session={}", other.id)
            )
            .await,
            200
        )
        .await
    ));
    // A token of the session, presented for it: the interviewer's reads everything.
    assert!(shows_hidden(
        &expect_json(
            read(Some(session.interviewer.clone()), with_session.clone()).await,
            200
        )
        .await
    ));
    // A wrong token, or a malformed query, is refused in the error shape.
    check_error(
        read(Some("nope".into()), with_session.clone()).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    check_error(
        read(None, "?sesion=1".into()).await,
        400,
        "INVALID_ARGUMENT",
    )
    .await;
    check_error(
        read(Some(session.interviewer.clone()), "?session=nope".into()).await,
        404,
        "SESSION_NOT_FOUND",
    )
    .await;
    drop(open);

    // API-key mode: the key, or a session's token for it; nothing without a credential.
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let created = expect_json(
        post_json(&server, "/questions", KEY, &question()).await,
        201,
    )
    .await;
    let id = created["question_id"].as_str().expect("id").to_string();
    let session = Session::from(
        server
            .api()
            .create_session_as(Some(KEY), json!({"environment": "python", "question": id}))
            .await,
    );
    let other = Session::from(
        server
            .api()
            .create_session_as(Some(KEY), json!({"environment": "python"}))
            .await,
    );
    let path = format!("/questions/{id}");
    let for_session = format!("{path}?session={}", session.id);
    check_error(server.api().get(&path, None).await, 401, "UNAUTHORIZED").await;
    check_error(
        server.api().get(&path, Some(&session.interviewer)).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert!(shows_hidden(
        &expect_json(server.api().get(&path, Some(KEY)).await, 200).await
    ));
    let listed = expect_json(server.api().get("/questions", Some(KEY)).await, 200).await;
    assert!(shows_hidden(&listed[0]));
    assert!(shows_hidden(
        &expect_json(
            server
                .api()
                .get(&for_session, Some(&session.interviewer))
                .await,
            200
        )
        .await
    ));
    assert!(!shows_hidden(
        &expect_json(
            server
                .api()
                .get(&for_session, Some(&session.candidate))
                .await,
            200
        )
        .await
    ));
    check_error(
        server
            .api()
            .get(
                &format!("{path}?session={}", other.id),
                Some(&other.interviewer),
            )
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_cases_run_last_and_reach_candidates_only_as_the_final_count() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    // Hidden cases between the visible ones, each taking a while on purpose (a program that
    // sleeps on its input is the timing attack).
    let body = json!({
        "title": "Echo",
        "starters": {"python": "import time\nline = input()\nif line.startswith('nap'):\n    time.sleep(0.7)\nprint(line)\n"},
        "cases": [
            {"name": "first", "stdin": "a\n", "expected": "a\n"},
            {"name": "hidden-one", "stdin": "nap-SECRET-1\n", "expected": "nap-SECRET-1\n", "hidden": true},
            {"name": "second", "stdin": "b\n", "expected": "b\n"},
            {"name": "hidden-two", "stdin": "nap-SECRET-2\n", "expected": "wrong\n", "hidden": true},
            {"name": "third", "stdin": "c\n", "expected": "c\n"}
        ]
    });
    let created = expect_json(post_json(&server, "/questions", KEY, &body).await, 201).await;
    let session = Session::from(
        server
            .api()
            .create_session_as(
                Some(KEY),
                json!({"environment": "python", "question": created["question_id"]}),
            )
            .await,
    );
    let (mut candidate, _) = server.connect(&session.id, &session.candidate, "").await;
    let (mut interviewer, _) = server.connect(&session.id, &session.interviewer, "").await;
    send(&mut candidate, json!({"type": "run_tests"})).await;
    next_of_type(&mut candidate, "tests_started").await;
    let candidate_frames = until_tests_finished(&mut candidate).await;
    let interviewer_frames = until_tests_finished(&mut interviewer).await;

    // The candidate: the test run's status, the three visible results, the report. Nothing
    // at all while the hidden cases ran (no result, no status, no timing of one case).
    let kinds: Vec<String> = candidate_frames
        .iter()
        .map(|f| match f["type"].as_str() {
            Some("test_result") => format!("test_result {}", f["name"].as_str().unwrap_or("")),
            Some("status") => format!("status {}", f["status"].as_str().unwrap_or("")),
            other => other.unwrap_or("?").to_string(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "status executing",
            "test_result first",
            "test_result second",
            "test_result third",
            "tests_finished"
        ],
        "{candidate_frames:?}"
    );
    let report = candidate_frames.last().expect("report");
    assert_eq!(report["hidden"], json!({"passed": 1, "total": 2}));
    assert_eq!(report["passed"], 4);
    assert!(!report.to_string().contains("SECRET"), "{report}");

    // The interviewer: every result, the hidden ones after the visible ones; the report in
    // the question's order.
    let order: Vec<&str> = interviewer_frames
        .iter()
        .filter(|f| f["type"] == "test_result")
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(
        order,
        ["first", "second", "third", "hidden-one", "hidden-two"]
    );
    let full = interviewer_frames.last().expect("report");
    let listed: Vec<&str> = full["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        listed,
        ["first", "hidden-one", "second", "hidden-two", "third"]
    );
    assert_eq!(full["results"][3]["verdict"], "failed");
}

/// Test reports are kept as runs are (`sessions.runs_kept_in_full`): older ones keep only
/// their summary, and `GET /sessions/{id}/tests` pages them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_test_reports_keep_their_summary_and_are_paged() {
    let server = TestServer::start(|c| {
        c.api_key = KEY.into();
        c.sessions.runs_kept_in_full = 2;
    })
    .await;
    let created = expect_json(
        post_json(&server, "/questions", KEY, &question()).await,
        201,
    )
    .await;
    let session = Session::from(
        server
            .api()
            .create_session_as(
                Some(KEY),
                json!({"environment": "bash", "question": created["question_id"]}),
            )
            .await,
    );
    let path = format!("/sessions/{}/tests", session.id);
    for _ in 0..4 {
        let report = expect_json(
            post_json(&server, &path, &session.interviewer, &json!({})).await,
            200,
        )
        .await;
        assert_eq!(report["summary_only"], false);
        assert_eq!(report["results"][0]["actual"], "3\n", "{report}");
    }
    let all = expect_json(server.api().get(&path, Some(KEY)).await, 200).await;
    assert_eq!(all["total"], 4);
    let tests = all["tests"].as_array().expect("tests");
    let summaries: Vec<bool> = tests.iter().map(|t| t["summary_only"] == true).collect();
    assert_eq!(
        summaries,
        [true, true, false, false],
        "the two newest in full"
    );
    // A summary keeps each case's verdict and time, not its texts.
    let old = &tests[0];
    assert_eq!(old["passed"], tests[3]["passed"]);
    assert_eq!(old["results"].as_array().map(Vec::len), Some(6));
    assert_eq!(old["results"][0]["verdict"], "passed");
    assert_eq!(old["results"][0]["actual"], "");
    assert_eq!(old["results"][5]["expected"], "");
    assert_eq!(tests[3]["results"][5]["expected"], "SECRET-EXPECTED\n");
    println!(
        "4 test runs of 6 cases, 2 kept in full: GET /tests is {} B",
        all.to_string().len()
    );

    // A page: `Link` to the next while there are more.
    let resp = server
        .api()
        .get(
            &format!("{path}?limit=1&offset=1"),
            Some(&session.candidate),
        )
        .await;
    let link = resp
        .headers()
        .get("link")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let page = expect_json(resp, 200).await;
    assert_eq!(page["tests"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["tests"][0]["tests_id"], tests[1]["tests_id"]);
    assert!(
        link.contains("offset=2") && link.contains("rel=\"next\""),
        "{link}"
    );
    let last = server
        .api()
        .get(&format!("{path}?offset=3"), Some(&session.candidate))
        .await;
    assert!(
        last.headers().get("link").is_none(),
        "no page after the last"
    );
    let last = expect_json(last, 200).await;
    assert_eq!(last["tests"].as_array().map(Vec::len), Some(1));
    check_error(
        server
            .api()
            .get(&format!("{path}?limit=many"), Some(&session.candidate))
            .await,
        400,
        "INVALID_ARGUMENT",
    )
    .await;
    // History carries them too, as kept.
    let history = server.api().history(&session).await;
    let kept: Vec<bool> = history["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| t["summary_only"] == true)
        .collect();
    assert_eq!(kept, [true, true, false, false]);
}
