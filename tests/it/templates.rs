//! Templates: created and checked with the API key; a session made from one moves between its
//! questions (socket and REST, interviewers only), each question keeping its own code; a
//! candidate's socket and REST calls get nothing of a question not reached yet (checked frame
//! by frame with marker strings); test reports are kept per question; the trail marks each
//! move; it all survives a restart.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

const KEY: &str = "templates-test-key-0123456789abcdef";

/// What no candidate may see before question 2 is reached.
const UNREACHED: &str = "UNREACHED";
/// What no candidate may see ever (question 2's hidden case).
const HIDDEN: &str = "HIDDEN-EXPECTED";
const FIRST_STARTER: &str = "print('one')\n";
const SECOND_STARTER: &str = "print('UNREACHED-STARTER')\n";

fn first() -> Value {
    json!({
        "title": "First",
        "prompt": "The first question.",
        "starters": {"python": FIRST_STARTER},
        "cases": [{"name": "one", "expected": "one\n"}]
    })
}

fn second() -> Value {
    json!({
        "title": "Second UNREACHED-TITLE",
        "prompt": "UNREACHED-PROMPT",
        "starters": {"python": SECOND_STARTER},
        "cases": [
            {"name": "UNREACHED-CASE", "expected": "UNREACHED-STARTER\n"},
            {"name": "secret", "expected": "HIDDEN-EXPECTED\n", "hidden": true}
        ]
    })
}

async fn post(server: &TestServer, path: &str, bearer: &str, body: Value) -> reqwest::Response {
    server.api().post(path, Some(bearer), &body).await
}

/// Two questions and a template of them (30 minutes for the first); answers their ids.
async fn template(server: &TestServer) -> (String, String, String) {
    let mut ids = Vec::new();
    for q in [first(), second()] {
        let created = expect_json(post(server, "/questions", KEY, q).await, 201).await;
        ids.push(created["question_id"].as_str().expect("id").to_string());
    }
    let body = json!({"name": "Loop", "questions": [
        {"question_id": ids[0], "minutes": 30}, {"question_id": ids[1]}
    ]});
    let created = expect_json(post(server, "/templates", KEY, body).await, 201).await;
    let id = created["template_id"].as_str().expect("id").to_string();
    (id, ids[0].clone(), ids[1].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_kept_and_checked() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let (id, q1, q2) = template(&server).await;
    let read = expect_json(
        server
            .api()
            .get(&format!("/templates/{id}"), Some(KEY))
            .await,
        200,
    )
    .await;
    assert_eq!(read["name"], "Loop");
    assert_eq!(
        read["questions"][0],
        json!({"question_id": q1, "minutes": 30})
    );
    assert_eq!(read["questions"][1]["minutes"], Value::Null);
    let listed = expect_json(server.api().get("/templates", Some(KEY)).await, 200).await;
    assert_eq!(listed[0]["template_id"], id.as_str());
    // Only the API key.
    check_error(
        server.api().get("/templates", None).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    check_error(
        post(
            &server,
            "/templates",
            "nope",
            json!({"name": "x", "questions": []}),
        )
        .await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    check_error(
        server
            .api()
            .get(&format!("/templates/{}", uuid::Uuid::new_v4()), Some(KEY))
            .await,
        404,
        "TEMPLATE_NOT_FOUND",
    )
    .await;
    // Bad templates are refused with what is wrong.
    let unknown = uuid::Uuid::new_v4();
    for (questions, needle, code) in [
        (json!([]), "1 to 20", "INVALID_ARGUMENT"),
        (
            json!([{"question_id": q1}, {"question_id": unknown}]),
            "questions[1]: no question",
            "INVALID_ARGUMENT",
        ),
        (
            json!([{"question_id": q1}, {"question_id": q1}]),
            "twice",
            "INVALID_ARGUMENT",
        ),
        (
            json!([{"question_id": q2, "minutes": 0}]),
            "minutes",
            "INVALID_ARGUMENT",
        ),
        (
            json!([{"question_id": q2, "extra": 1}]),
            "extra",
            "INVALID_JSON",
        ),
    ] {
        let body = json!({"name": "Bad", "questions": questions});
        let err = check_error(post(&server, "/templates", KEY, body).await, 400, code).await;
        let message = err["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(needle), "{needle}: {err}");
    }
    // A session takes a template or a question, not both; an unknown template is refused.
    for body in [
        json!({"template": id, "question": q1}),
        json!({"template": unknown}),
    ] {
        check_error(
            post(&server, "/sessions", KEY, body).await,
            400,
            "INVALID_ARGUMENT",
        )
        .await;
    }
    // A session without a template cannot move.
    let plain = Session::from(
        server
            .api()
            .create_session_as(Some(KEY), json!({"environment": "python"}))
            .await,
    );
    check_error(
        post(
            &server,
            &format!("/sessions/{}/question", plain.id),
            &plain.interviewer,
            json!({"index": 1}),
        )
        .await,
        409,
        "NO_TEMPLATE",
    )
    .await;
}

/// An update replacing the whole document (of `len` UTF-16 units at `version`) with `text`.
fn update(version: u64, len: usize, text: &str) -> Value {
    json!({"type": "update", "version": version,
        "updates": [{"client_id": "t", "changes": [[len, text]]}]})
}

/// As `update`, sent; waits until the server confirms it.
async fn replace_document(ws: &mut WsStream, version: u64, len: usize, text: &str) {
    send(ws, update(version, len, text)).await;
    next_of_type(ws, "updates").await;
}

/// Every frame until one of type `ty` (included).
async fn frames(ws: &mut WsStream, ty: &str) -> Vec<Value> {
    let got = frames_until(ws, ty, Duration::from_secs(10)).await;
    got.into_iter().map(|(_, f)| f).collect()
}

fn assert_hides(frames: &[Value], markers: &[&str]) {
    for frame in frames {
        let text = frame.to_string();
        for marker in markers {
            assert!(
                !text.contains(marker),
                "{marker} reached the candidate: {text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_sees_only_the_questions_reached_and_each_keeps_its_code() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let (template_id, q1, q2) = template(&server).await;
    let session = Session::from(
        server
            .api()
            .create_session_as(
                Some(KEY),
                json!({"environment": "python", "template": template_id}),
            )
            .await,
    );
    let (mut candidate, welcome) = server.connect(&session.id, &session.candidate, "").await;
    let first_welcome = welcome.clone();
    assert_eq!(welcome["document"], FIRST_STARTER);
    let view = &welcome["template"];
    assert_eq!(
        (view["current"].as_u64(), view["total"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(
        view["questions"].as_array().map(Vec::len),
        Some(1),
        "{view}"
    );
    assert!(
        view["ends_at"].is_string(),
        "the first question has 30 minutes: {view}"
    );
    let (mut interviewer, welcome) = server.connect(&session.id, &session.interviewer, "").await;
    assert_eq!(
        welcome["template"]["questions"][1]["title"],
        "Second UNREACHED-TITLE"
    );
    let mut seen = vec![first_welcome, welcome_of_candidate(&server, &session).await];
    // An observer (an interviewer's link, read-only) sees what a candidate sees.
    let (mut observer, watching) = server
        .connect(&session.id, &session.interviewer, "&readonly=1")
        .await;
    assert_eq!(watching["role"], "observer");
    assert_eq!(
        watching["template"]["questions"].as_array().map(Vec::len),
        Some(1)
    );
    seen.push(watching);

    // The candidate's REST calls: nothing of question 2.
    let as_candidate = |path: String| {
        let (api, token) = (server.api(), session.candidate.clone());
        async move { api.get(&path, Some(&token)).await }
    };
    let reached = as_candidate(format!("/sessions/{}/questions/1", session.id)).await;
    check_error(reached, 404, "QUESTION_NOT_FOUND").await;
    let direct = as_candidate(format!("/questions/{q2}?session={}", session.id)).await;
    check_error(direct, 403, "FORBIDDEN").await;
    for path in ["template", "question", "questions/0", "tests"] {
        let body = as_candidate(format!("/sessions/{}/{path}", session.id)).await;
        seen.push(expect_json(body, 200).await);
    }
    let refused = as_candidate(format!("/sessions/{}/question", session.id)).await;
    assert_eq!(expect_json(refused, 200).await["title"], "First");

    // The candidate writes question 1's code, and may not move; neither may the observer.
    // Every frame either socket got before the move is kept, to be searched.
    let edit = update(0, FIRST_STARTER.len(), "print('mine')\n");
    send(&mut candidate, edit).await;
    seen.extend(frames(&mut candidate, "updates").await);
    for ws in [&mut candidate, &mut observer] {
        send(ws, json!({"type": "set_question", "index": 1})).await;
        let answered = frames(ws, "error").await;
        assert_eq!(
            answered.last().map(|e| &e["code"]),
            Some(&json!("FORBIDDEN"))
        );
        seen.extend(answered);
        send(ws, json!({"type": "ping"})).await;
        seen.extend(frames(ws, "pong").await);
    }
    assert!(seen.len() >= 10, "{seen:?}");
    assert_hides(&seen, &[UNREACHED, HIDDEN]);

    // The interviewer moves to question 2 (REST): everyone follows, the candidate sees it.
    let moved = expect_json(
        post(
            &server,
            &format!("/sessions/{}/question", session.id),
            &session.interviewer,
            json!({"index": 1}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (moved["current"].as_u64(), moved["reached"].as_u64()),
        (Some(1), Some(1))
    );
    let frames: Vec<Value> =
        frames_until(&mut candidate, "question_changed", Duration::from_secs(30))
            .await
            .into_iter()
            .map(|(_, f)| f)
            .collect();
    let changed = frames.last().expect("question_changed");
    let schemas = expect_json(server.api().get("/socket-schemas.json", None).await, 200).await;
    for frame in frames.iter().chain(&seen[..1]) {
        let schema = &schemas["server"][frame["type"].as_str().expect("type")];
        let validator = jsonschema::draft202012::new(schema).expect("a schema");
        assert!(validator.is_valid(frame), "{frame}");
    }
    assert_eq!(
        changed["template"]["questions"][1]["title"],
        "Second UNREACHED-TITLE"
    );
    assert_eq!(changed["by"], "interviewer");
    assert_eq!(
        changed["template"]["ends_at"],
        Value::Null,
        "question 2 has no limit"
    );
    assert!(
        frames.iter().any(|f| f["type"] == "updates"),
        "the document changes live"
    );
    next_of_type(&mut interviewer, "question_changed").await;
    let observed = next_of_type(&mut observer, "question_changed").await;
    assert_eq!(
        observed["template"]["questions"].as_array().map(Vec::len),
        Some(2)
    );
    let (_, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(welcome["document"], SECOND_STARTER);
    let now = expect_json(
        as_candidate(format!("/sessions/{}/question", session.id)).await,
        200,
    )
    .await;
    assert_eq!(now["question_id"], q2.as_str());
    assert_eq!(
        now["cases"].as_array().map(Vec::len),
        Some(1),
        "hidden cases stay hidden"
    );
    assert_hides(&frames, &[HIDDEN]);
    assert_hides(&[now, welcome], &[HIDDEN]);

    // Back to question 1 (the socket): its code comes back; then 2 again: its starter.
    send(
        &mut interviewer,
        json!({"type": "set_question", "index": 0}),
    )
    .await;
    let back = next_of_type(&mut candidate, "question_changed").await;
    assert_eq!(
        (
            back["template"]["current"].as_u64(),
            back["template"]["reached"].as_u64()
        ),
        (Some(0), Some(1))
    );
    let (_, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(welcome["document"], "print('mine')\n");
    send(
        &mut interviewer,
        json!({"type": "set_question", "index": 1}),
    )
    .await;
    next_of_type(&mut candidate, "question_changed").await;
    send(
        &mut interviewer,
        json!({"type": "set_question", "index": 2}),
    )
    .await;
    check_ws_error(&mut interviewer, "INVALID_ARGUMENT").await;

    // Test reports are kept per question: question 2's starter passes its visible case.
    server
        .api()
        .wait_status(&session.id, &session.interviewer, "ready")
        .await;
    let report = expect_json(
        post(
            &server,
            &format!("/sessions/{}/tests", session.id),
            &session.candidate,
            json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(report["question_id"], q2.as_str());
    assert_eq!(report["results"][0]["verdict"], "passed", "{report}");
    assert_hides(&[report], &[HIDDEN]);
    // Question 1's tests run on question 1's own code, though question 2 is current.
    let path = format!("/sessions/{}/tests?index=0", session.id);
    let of_first = expect_json(
        post(&server, &path, &session.candidate, json!({})).await,
        200,
    )
    .await;
    assert_eq!(of_first["question_id"], q1.as_str());
    assert_eq!(of_first["results"][0]["actual"], "mine\n", "{of_first}");
    let path = format!("/sessions/{}/tests?index=2", session.id);
    check_error(
        post(&server, &path, &session.candidate, json!({})).await,
        400,
        "INVALID_ARGUMENT",
    )
    .await;
    for (question, count) in [(&q1, 1), (&q2, 1)] {
        let path = format!("/sessions/{}/tests?question={question}", session.id);
        let listed = expect_json(server.api().get(&path, Some(KEY)).await, 200).await;
        assert_eq!(listed["total"], count, "{listed}");
    }

    // The trail marks each move (and the webhook's feed is the trail).
    let history = server.api().history(&session).await;
    let moves: Vec<(u64, u64)> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "question.changed")
        .map(|e| {
            (
                e["data"]["from"].as_u64().unwrap_or(9),
                e["data"]["to"].as_u64().unwrap_or(9),
            )
        })
        .collect();
    assert_eq!(moves, [(0, 1), (1, 0), (0, 1)], "{history}");
    let created = &history["events"][0];
    assert_eq!(created["type"], "session.created");
    assert_eq!(
        created["data"]["template_id"],
        template_id.as_str(),
        "{created}"
    );
    assert_eq!(created["data"]["question_id"], q1.as_str());
}

/// A fresh candidate socket's welcome, for the frame checks.
async fn welcome_of_candidate(server: &TestServer, session: &Session) -> Value {
    server.connect(&session.id, &session.candidate, "").await.1
}

/// Where the session is in its template, and each question's code, survive a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_way_through_its_template_survives_a_restart() {
    let home = ServerHome::new();
    let mut first_server = home.spawn().await;
    let mut ids = Vec::new();
    for q in [first(), second()] {
        let resp = first_server.api().post("/questions", None, &q).await;
        ids.push(
            expect_json(resp, 201).await["question_id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    let body = json!({"name": "Loop", "questions": [{"question_id": ids[0]}, {"question_id": ids[1], "minutes": 5}]});
    let template = expect_json(
        first_server.api().post("/templates", None, &body).await,
        201,
    )
    .await;
    let session = first_server
        .session(json!({"environment": "python", "template": template["template_id"]}))
        .await;
    let (mut ws, _) = first_server
        .connect(&session.id, &session.candidate, "")
        .await;
    replace_document(&mut ws, 0, FIRST_STARTER.len(), "print('kept')\n").await;
    let path = format!("/sessions/{}/question", session.id);
    let body = json!({"index": 1});
    expect_json(
        first_server
            .api()
            .post(&path, Some(&session.interviewer), &body)
            .await,
        200,
    )
    .await;
    first_server.kill();
    let second_server = home.spawn().await;
    let (_ws, welcome) = second_server
        .connect(&session.id, &session.candidate, "")
        .await;
    let view = &welcome["template"];
    assert_eq!(
        (view["current"].as_u64(), view["reached"].as_u64()),
        (Some(1), Some(1)),
        "{welcome}"
    );
    assert!(
        view["ends_at"].is_string(),
        "question 2's clock, from its stored start"
    );
    assert_eq!(welcome["document"], SECOND_STARTER);
    let body = json!({"index": 0});
    expect_json(
        second_server
            .api()
            .post(&path, Some(&session.interviewer), &body)
            .await,
        200,
    )
    .await;
    let (_ws, welcome) = second_server
        .connect(&session.id, &session.candidate, "")
        .await;
    assert_eq!(
        welcome["document"], "print('kept')\n",
        "question 1's code came back"
    );
}

/// A one-minute question: everyone hears the warning at 20% of its time left and the notice at
/// its end, from the server's clock with nobody doing anything; a page that comes later sees
/// it in its `welcome`, and the trail keeps both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_warns_before_its_time_is_up_and_says_when_it_is() {
    let server = TestServer::start(|c| {
        c.api_key = KEY.into();
        c.sessions.reap_interval_seconds = 0.2;
    })
    .await;
    let created = expect_json(post(&server, "/questions", KEY, first()).await, 201).await;
    let body = json!({"name": "Quick", "questions": [
        {"question_id": created["question_id"], "minutes": 1}
    ]});
    let template = expect_json(post(&server, "/templates", KEY, body).await, 201).await;
    let session = Session::from(
        server
            .api()
            .create_session_as(
                Some(KEY),
                json!({"environment": "python", "template": template["template_id"]}),
            )
            .await,
    );
    let (mut candidate, welcome) = server.connect(&session.id, &session.candidate, "").await;
    let view = &welcome["template"];
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(view[field].as_str().expect("a time")).expect("time")
    };
    assert_eq!(
        (at("ends_at") - at("question_started_at")).num_seconds(),
        60
    );
    assert_eq!(
        (at("ends_at") - at("warn_at")).num_seconds(),
        12,
        "20% of a minute"
    );
    assert_eq!(view["time"], Value::Null);
    let warning =
        next_of_type_within(&mut candidate, "question_time", Duration::from_secs(70)).await;
    assert_eq!(
        (warning["index"].as_u64(), warning["time"].as_str()),
        (Some(0), Some("warning"))
    );
    let heard = chrono::Utc::now();
    assert!(heard >= at("warn_at") && heard < at("ends_at"), "{warning}");
    let up = next_of_type_within(&mut candidate, "question_time", Duration::from_secs(20)).await;
    assert_eq!(up["time"], "times_up");
    assert!(chrono::Utc::now() >= at("ends_at"));
    let (_, later) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(later["template"]["time"], "times_up", "{later}");
    let history = server.api().history(&session).await;
    let times: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "question.time")
        .filter_map(|e| e["data"]["time"].as_str())
        .collect();
    assert_eq!(times, ["warning", "times_up"]);
}

/// A jump past a question does not show it to the candidate; the interview's Start forgets the
/// lobby's moves; a clock hidden from the candidate hides the question's clock too (in the
/// welcome, in moves and in `interview`), while the interviewer keeps it. Frame by frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jump_shows_no_question_between_and_a_hidden_clock_hides_the_questions() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let mut ids = Vec::new();
    for q in [first(), second(), first()] {
        let created = expect_json(post(&server, "/questions", KEY, q).await, 201).await;
        ids.push(created["question_id"].as_str().expect("id").to_string());
    }
    let body = json!({"name": "Jumps", "lobby": true, "questions": [
        {"question_id": ids[0], "minutes": 30}, {"question_id": ids[1]},
        {"question_id": ids[2], "minutes": 30}
    ]});
    let created = expect_json(post(&server, "/templates", KEY, body).await, 201).await;
    let session = Session::from(
        server
            .api()
            .create_session_as(
                Some(KEY),
                json!({"environment": "python", "template": created["template_id"]}),
            )
            .await,
    );
    let path = |rest: &str| format!("/sessions/{}/{rest}", session.id);
    let bearer = session.interviewer.clone();
    // In the lobby, the interviewer looks at every question, then starts on the first.
    for index in [1, 2, 0] {
        let moved = post(&server, &path("question"), &bearer, json!({"index": index})).await;
        expect_json(moved, 200).await;
    }
    let started = post(&server, &path("start"), &bearer, json!({})).await;
    assert_eq!(started.status(), 200);
    let (mut candidate, welcome) = server.connect(&session.id, &session.candidate, "").await;
    assert_eq!(
        welcome["template"]["questions"].as_array().map(Vec::len),
        Some(1),
        "the lobby's moves are forgotten at Start: {}",
        welcome["template"]
    );
    let mut seen = vec![welcome];

    // A jump from the first question to the third shows the candidate nothing of the second.
    let moved = post(&server, &path("question"), &bearer, json!({"index": 2})).await;
    expect_json(moved, 200).await;
    let got = frames(&mut candidate, "question_changed").await;
    let changed = got.last().expect("the move").clone();
    let titles: Vec<&str> = changed["template"]["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .filter_map(|q| q["title"].as_str())
        .collect();
    assert_eq!(titles, ["First", "First"], "{changed}");
    assert!(changed["template"]["ends_at"].is_string(), "{changed}");
    seen.extend(got);
    let between = server
        .api()
        .get(&path("questions/1"), Some(&session.candidate))
        .await;
    check_error(between, 404, "QUESTION_NOT_FOUND").await;

    // The interviewer hides the clock: the question's goes from the candidate's frames too.
    let (mut interviewer, _) = server.connect(&session.id, &session.interviewer, "").await;
    let hidden = server
        .api()
        .put(&path("clock"), Some(&bearer), &json!({"hidden": true}))
        .await;
    assert_eq!(hidden.status(), 200);
    let got = frames(&mut candidate, "interview").await;
    let told = got.last().expect("the change").clone();
    for key in ["ends_at", "warn_at", "question_started_at"] {
        assert!(told["template"][key].is_null(), "{key}: {told}");
    }
    seen.extend(got);
    let theirs = next_of_type(&mut interviewer, "interview").await;
    assert!(theirs["template"]["ends_at"].is_string(), "{theirs}");
    let moved = post(&server, &path("question"), &bearer, json!({"index": 0})).await;
    expect_json(moved, 200).await;
    let got = frames(&mut candidate, "question_changed").await;
    let changed = got.last().expect("the move").clone();
    assert!(changed["template"]["ends_at"].is_null(), "{changed}");
    seen.extend(got);
    let rest = server
        .api()
        .get(&path("template"), Some(&session.candidate))
        .await;
    let rest = expect_json(rest, 200).await;
    assert!(rest["ends_at"].is_null(), "{rest}");
    let theirs = next_of_type(&mut interviewer, "question_changed").await;
    assert!(theirs["template"]["ends_at"].is_string(), "{theirs}");
    assert_hides(&seen, &[UNREACHED, HIDDEN]);
}
