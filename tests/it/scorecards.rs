//! Scorecards: each interviewer's own (kept apart by the author id they bring, under their
//! display name), saved and submitted over the socket and REST, checked against the session's
//! rubric, written after the end until the window closes, `scorecard.submitted` in the events
//! feed and to webhooks, and never a frame of them on a candidate's (or observer's) socket.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::support::*;

const KEY: &str = "scorecards-api-key";
const MARKER: &str = "SCORECARD-MARKER-7f3a";

/// A whole scorecard of the standard rubric.
fn whole(comment: &str, recommendation: &str) -> Value {
    let rating = |score: u8| json!({"score": score, "comment": comment});
    json!({
        "ratings": {
            "Problem solving": rating(4),
            "Code quality": rating(3),
            "Testing": rating(2),
            "Communication": rating(4),
        },
        "comment": comment,
        "recommendation": recommendation,
    })
}

async fn keyed_session(server: &TestServer, body: Value) -> Session {
    let api = server.api();
    Session::from(api.create_session_as(Some(KEY), body).await)
}

/// The types of the events in the session's feed.
async fn event_kinds(api: &Api<'_>, id: &str) -> Vec<Value> {
    let events = expect_json(
        api.get(&format!("/sessions/{id}/events"), Some(KEY)).await,
        200,
    )
    .await;
    events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "scorecard.submitted")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_interviewer_keeps_their_own_and_no_frame_of_them_reaches_a_candidate() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let api = server.api();
    let session = keyed_session(&server, json!({"environment": "python"})).await;
    let id = &session.id;
    let (mut cand, welcome) = server.connect(id, &session.candidate, "&name=Cy").await;
    assert!(welcome.get("scorecards").is_none(), "{welcome}");
    let (mut observer, welcome) = server
        .connect(id, &session.interviewer, "&readonly=1&name=Olga")
        .await;
    assert!(welcome.get("scorecards").is_none(), "{welcome}");
    let (mut ada, welcome) = server.connect(id, &session.interviewer, "&name=Ada").await;
    let rubric = &welcome["scorecards"]["rubric"]["criteria"];
    assert_eq!(rubric.as_array().map(Vec::len), Some(4), "{welcome}");
    assert_eq!(welcome["scorecards"]["scorecards"], json!([]));
    let mut bob = server.ws(id, &session.interviewer).await;

    // Ada saves a draft; every interviewer hears it, under her name.
    let draft = json!({"ratings": {"Testing": {"score": 2, "comment": MARKER}}});
    send(
        &mut ada,
        json!({"type": "save_scorecard", "author": "ada-browser", "scorecard": draft}),
    )
    .await;
    for ws in [&mut ada, &mut bob] {
        let told = next_of_type(ws, "scorecard").await;
        let card = &told["scorecard"];
        assert_eq!(
            (&card["author_id"], &card["author_name"], &card["state"]),
            (&json!("ada-browser"), &json!("Ada"), &json!("draft")),
            "{told}"
        );
        assert_eq!(card["ratings"]["Testing"]["comment"], MARKER);
    }
    // Bob submits his own: Ada's stays hers, a draft.
    send(
        &mut bob,
        json!({"type": "submit_scorecard", "author": "bob-browser",
               "scorecard": whole(&format!("{MARKER} bob"), "strong_yes")}),
    )
    .await;
    let told = next_of_type(&mut ada, "scorecard").await;
    assert_eq!(told["scorecard"]["state"], "submitted", "{told}");
    assert_eq!(
        told["scorecard"]["author_name"], "Interviewer",
        "no name given"
    );

    // Neither the candidate nor an observer may write one.
    for ws in [&mut cand, &mut observer] {
        send(
            ws,
            json!({"type": "save_scorecard", "author": "x", "scorecard": {}}),
        )
        .await;
        check_ws_error(ws, "FORBIDDEN").await;
    }
    // Frame by frame: nothing of a scorecard on the candidate's socket or the observer's,
    // up to a ping sent after every scorecard was told.
    for (who, ws) in [("candidate", &mut cand), ("observer", &mut observer)] {
        send(ws, msg::ping()).await;
        let frames = frames_until(ws, "pong", Duration::from_secs(10)).await;
        for (_, frame) in &frames {
            let text = frame.to_string();
            assert!(
                !text.contains(MARKER) && !text.contains("scorecard"),
                "the {who} saw a scorecard: {text}"
            );
        }
    }

    // REST: the API key and the interviewer token read both; the candidate's cannot.
    let path = format!("/sessions/{id}/scorecards");
    for bearer in [KEY, session.interviewer.as_str()] {
        let got = expect_json(api.get(&path, Some(bearer)).await, 200).await;
        let cards = got["scorecards"].as_array().expect("cards");
        let authors: Vec<_> = cards
            .iter()
            .map(|c| (&c["author_id"], &c["state"]))
            .collect();
        assert_eq!(
            authors,
            [
                (&json!("ada-browser"), &json!("draft")),
                (&json!("bob-browser"), &json!("submitted"))
            ]
        );
    }
    let refused = api.get(&path, Some(&session.candidate)).await;
    let body = check_error(refused, 403, "FORBIDDEN").await;
    assert!(!body.to_string().contains(MARKER));
    let refused = api
        .put(&format!("{path}/cy"), Some(&session.candidate), &json!({}))
        .await;
    check_error(refused, 403, "FORBIDDEN").await;

    // A late interviewer's welcome carries both; the feed has Bob's submission only.
    let (_late, welcome) = server.connect(id, &session.interviewer, "").await;
    assert_eq!(
        welcome["scorecards"]["scorecards"].as_array().map(Vec::len),
        Some(2)
    );
    let submitted = event_kinds(&api, id).await;
    assert_eq!(submitted.len(), 1, "{submitted:?}");
    assert_eq!(submitted[0]["data"]["author_id"], "bob-browser");
    assert_eq!(submitted[0]["data"]["recommendation"], "strong_yes");
}

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, Value)>>>);

/// A webhook receiver on a free port that takes every delivery.
async fn receiver() -> (String, Received) {
    let got = Received::default();
    let store = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let store = store.clone();
            async move {
                let body = serde_json::from_str(&body).expect("a JSON body");
                store.0.lock().unwrap().push((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// REST, live and after the end: the rubric is checked, a submitted card is final, writes go
/// on after the end (no socket can connect then) until the window closes, and each
/// submission is a `scorecard.submitted` to the webhook.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_checks_the_rubric_and_writes_after_the_end_until_the_window_closes() {
    const WINDOW: u64 = 4;
    let (url, got) = receiver().await;
    let server = TestServer::start(|c| {
        c.api_key = KEY.into();
        c.webhooks.url = url;
        c.webhooks.secret = "a webhook secret".into();
        c.sessions.scorecard_window_seconds = WINDOW;
    })
    .await;
    let api = server.api();
    let bad = json!({"criteria": [{"name": "Design", "scale": {"min": 3, "max": 2}}]});
    let refused = api
        .post("/sessions", Some(KEY), &json!({"rubric": bad}))
        .await;
    check_error(refused, 400, "INVALID_ARGUMENT").await;
    let rubric = json!({"criteria": [
        {"name": "Design", "description": "Shapes the code well", "scale": {"min": 0, "max": 2}},
        {"name": "Speed", "scale": {"min": 1, "max": 5}},
    ]});
    let session = keyed_session(&server, json!({"rubric": rubric})).await;
    let path = format!("/sessions/{}/scorecards", session.id);
    let got_rubric = expect_json(api.get(&path, Some(KEY)).await, 200).await;
    assert_eq!(got_rubric["rubric"], rubric);

    let put = |author: &str, body: Value| {
        let api = server.api();
        let path = format!("{path}/{author}");
        async move { api.put(&path, Some(KEY), &body).await }
    };
    let submit = |author: &str, body: Value| {
        let api = server.api();
        let path = format!("{path}/{author}/submit");
        async move { api.post(&path, Some(KEY), &body).await }
    };
    for (why, resp) in [
        (
            "no such criterion",
            put("ada", json!({"ratings": {"Typing": {"score": 1}}})).await,
        ),
        (
            "off the scale",
            put("ada", json!({"ratings": {"Design": {"score": 3}}})).await,
        ),
        ("a bad author id", put("ada%20lovelace", json!({})).await),
        (
            "unrated",
            submit(
                "ada",
                json!({"ratings": {"Design": {"score": 1}}, "recommendation": "yes"}),
            )
            .await,
        ),
        (
            "no recommendation",
            submit(
                "ada",
                json!({"ratings": {"Design": {"score": 1}, "Speed": {"score": 5}}}),
            )
            .await,
        ),
    ] {
        let body = check_error(resp, 400, "INVALID_ARGUMENT").await;
        assert!(body["error"]["message"].is_string(), "{why}: {body}");
    }
    let whole = json!({"author_name": "Ada", "ratings": {"Design": {"score": 0}, "Speed": {"score": 5}},
                       "comment": MARKER, "recommendation": "no"});
    let card = expect_json(submit("ada", whole.clone()).await, 200).await;
    assert_eq!(
        (&card["state"], &card["author_name"]),
        (&json!("submitted"), &json!("Ada"))
    );
    check_error(put("ada", whole.clone()).await, 409, "SCORECARD_SUBMITTED").await;

    // The end: no socket can connect, REST still writes.
    let resp = api
        .delete(&format!("/sessions/{}", session.id), Some(KEY))
        .await;
    assert!(resp.status().is_success());
    let draft = expect_json(put("bob", json!({"comment": "after the end"})).await, 200).await;
    assert_eq!(draft["state"], "draft");
    let late = json!({"author_name": "Bob", "ratings": {"Design": {"score": 2}, "Speed": {"score": 1}},
                      "recommendation": "strong_no"});
    expect_json(submit("bob", late).await, 200).await;
    let listed = expect_json(api.get(&path, Some(KEY)).await, 200).await;
    assert_eq!(listed["scorecards"].as_array().map(Vec::len), Some(2));
    let submitted = event_kinds(&api, &session.id).await;
    let authors: Vec<_> = submitted
        .iter()
        .map(|e| e["data"]["author_id"].clone())
        .collect();
    assert_eq!(
        authors,
        [json!("ada"), json!("bob")],
        "in the feed, live and after the end"
    );

    // Both reach the webhook, signed as every event is.
    let both = wait_until(Duration::from_secs(30), || {
        got.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b)| b["type"] == "scorecard.submitted")
            .count()
            == 2
    })
    .await;
    assert!(
        both,
        "webhooks: {:?}",
        got.0
            .lock()
            .unwrap()
            .iter()
            .map(|r| &r.1)
            .collect::<Vec<_>>()
    );
    let received = got.0.lock().unwrap().clone();
    let ada_hook = received
        .iter()
        .find(|(_, b)| b["type"] == "scorecard.submitted" && b["data"]["author_id"] == "ada")
        .expect("Ada's submission delivered");
    assert_eq!(ada_hook.0["x-livecode-event"], "scorecard.submitted");
    assert_eq!(ada_hook.1["data"]["comment"], MARKER);

    // Past the window: refused, and still readable.
    tokio::time::sleep(Duration::from_secs(WINDOW + 1)).await;
    let closed = check_error(put("carol", json!({})).await, 409, "SCORECARD_CLOSED").await;
    assert!(
        closed["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("closed at")),
        "{closed}"
    );
    expect_json(api.get(&path, Some(KEY)).await, 200).await;
}

/// A killed server comes back with the rubric and the cards; the restored session takes a
/// submission (keeping the draft's start and its author's name) and tells its sockets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rubric_and_scorecards_survive_a_killed_server() {
    let home = ServerHome::new();
    let mut first = home.spawn().await;
    let rubric = json!({"criteria": [{"name": "Design", "scale": {"min": 1, "max": 3}}]});
    let session = first
        .session(json!({"environment": "python", "rubric": rubric}))
        .await;
    let (path, token) = (
        format!("/sessions/{}/scorecards", session.id),
        &session.interviewer,
    );
    let draft = json!({"author_name": "Ada", "comment": MARKER,
                       "ratings": {"Design": {"score": 2}}});
    let api = first.api();
    expect_json(
        api.put(&format!("{path}/ada"), Some(token), &draft).await,
        200,
    )
    .await;
    first.kill();

    let second = home.spawn().await;
    let api = second.api();
    let kept = expect_json(api.get(&path, Some(token)).await, 200).await;
    assert_eq!(kept["rubric"], rubric);
    let card = &kept["scorecards"][0];
    assert_eq!(
        (&card["comment"], &card["state"]),
        (&json!(MARKER), &json!("draft"))
    );
    let mut ws = second.ws(&session.id, token).await;
    let whole = json!({"ratings": {"Design": {"score": 3}}, "recommendation": "yes"});
    let sent = expect_json(
        api.post(&format!("{path}/ada/submit"), Some(token), &whole)
            .await,
        200,
    )
    .await;
    assert_eq!(sent["created_at"], card["created_at"]);
    assert_eq!(sent["author_name"], "Ada", "the name it had");
    let told = next_of_type(&mut ws, "scorecard").await;
    assert_eq!(told["scorecard"]["state"], "submitted", "{told}");
}
