//! The API's description against the server it describes: every documented route answers
//! with a documented status and a body its schema accepts; the router has no method a path's
//! document does not list, and no route bypasses the documenting macro; every socket message a
//! real session sends (and every one a client sends) matches its own JSON Schema.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

const KEY: &str = "openapi-test-key-0123456789abcdef";

async fn document(server: &TestServer) -> Value {
    let resp = server.api().get("/openapi.json", None).await;
    expect_json(resp, 200).await
}

/// A validator for `schema`, whose `$ref`s point into `doc`'s components.
fn validator(schema: &Value, doc: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root.as_object_mut()
        .expect("a schema object")
        .insert("components".into(), doc["components"].clone());
    jsonschema::draft202012::new(&root)
        .unwrap_or_else(|e| panic!("not a valid JSON Schema ({e}): {schema}"))
}

fn errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_answers_as_documented() {
    let server = TestServer::start(|c| c.api_key = KEY.into()).await;
    let doc = document(&server).await;
    assert_eq!(doc["openapi"], "3.1.0", "OpenAPI 3.1");
    let question_body = json!({
        "title": "Echo",
        "cases": [{"name": "one", "stdin": "", "expected": "documented\n"}]
    });
    let question = expect_json(
        server
            .api()
            .post("/questions", Some(KEY), &question_body)
            .await,
        201,
    )
    .await;
    let question_id = question["question_id"].as_str().expect("id").to_string();
    // The session follows a template of that question: its routes and the question's answer.
    let template_body = json!({"name": "Documented", "questions": [{"question_id": question_id}]});
    let template = expect_json(
        server
            .api()
            .post("/templates", Some(KEY), &template_body)
            .await,
        201,
    )
    .await;
    let template_id = template["template_id"].as_str().expect("id").to_string();
    let session = Session::from(
        server
            .api()
            .create_session_as(
                Some(KEY),
                json!({"environment": "python", "code": "print('documented')\n",
                    "template": template_id}),
            )
            .await,
    );
    server
        .api()
        .wait_status(&session.id, &session.interviewer, "ready")
        .await;
    // Start needs a lobby to start, Submit a take-home its candidate opened.
    let lobby = Session::from(
        server
            .api()
            .create_session_as(Some(KEY), json!({"environment": "python", "lobby": true}))
            .await,
    );
    let take_home = Session::from(
        server
            .api()
            .create_session_as(
                Some(KEY),
                json!({"environment": "python", "mode": "take_home", "time_limit_minutes": 30,
                    "expires_at": chrono::Utc::now() + chrono::Duration::hours(1)}),
            )
            .await,
    );
    let _opened = server.ws(&take_home.id, &take_home.candidate).await;
    // A real asset, named in a page the server serves.
    let base = format!("http://{}", server.addr);
    let landing = server
        .http
        .get(format!("{base}/"))
        .send()
        .await
        .expect("GET /")
        .text()
        .await
        .expect("text");
    let asset = landing
        .split("/assets/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the landing page names an asset")
        .to_string();

    let paths = doc["paths"].as_object().expect("paths");
    let mut operations: Vec<(String, String, Value)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .iter()
                .filter(|(method, _)| {
                    ["get", "post", "put", "delete", "patch"].contains(&method.as_str())
                })
                .map(|(method, op)| (path.clone(), method.clone(), op.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    // Ending the session goes last: the routes before it need it alive.
    operations.sort_by_key(|(path, method, _)| (method == "delete", path.clone()));
    // Draining stops a server: it is asked of one of its own.
    let drained = TestServer::start(|c| c.api_key = KEY.into()).await;
    assert!(operations.len() >= 20, "{} operations", operations.len());
    let ids: BTreeSet<&str> = operations
        .iter()
        .map(|(path, method, op)| {
            let params: Vec<_> = op["parameters"].as_array().into_iter().flatten().collect();
            let names: BTreeSet<_> = params
                .iter()
                .map(|p| format!("{} {}", p["in"], p["name"]))
                .collect();
            assert_eq!(
                names.len(),
                params.len(),
                "{method} {path}: a parameter twice"
            );
            op["operationId"].as_str().expect("an operationId")
        })
        .collect();
    assert_eq!(ids.len(), operations.len(), "operationIds are unique");

    let mut answered = BTreeMap::new();
    for (path, method, op) in &operations {
        let session = match path.as_str() {
            p if p.ends_with("/start") => &lobby,
            p if p.ends_with("/submit") => &take_home,
            _ => &session,
        };
        let url = format!(
            "{}{}",
            match path.ends_with("/drain") {
                true => format!("http://{}", drained.addr),
                false => base.clone(),
            },
            path.replace("{id}", &session.id)
                .replace("{path}", &asset)
                .replace("{question_id}", &question_id)
                .replace("{author}", "documented")
                .replace("{template_id}", &template_id)
                .replace("{index}", "0")
        );
        let status = if path.ends_with("/ws") {
            // The socket's route answers by upgrading.
            let (_ws, welcome) = server.connect(&session.id, &session.interviewer, "").await;
            assert_eq!(welcome["type"], "welcome");
            101
        } else {
            let request = match method.as_str() {
                "get" => server.http.get(&url),
                "delete" => server.http.delete(&url),
                "post" => server.http.post(&url).json(&match path.as_str() {
                    p if p.ends_with("/execute") => json!({"code": "print(6 * 7)\n"}),
                    "/api/v1/questions" => question_body.clone(),
                    "/api/v1/templates" => template_body.clone(),
                    p if p.ends_with("/question") => json!({"index": 0}),
                    p if p.ends_with("/environment") => json!({"environment": "python"}),
                    p if p.ends_with("/submit") => whole_scorecard(),
                    _ => json!({}),
                }),
                "put" => server.http.put(&url).json(&match path.as_str() {
                    p if p.contains("/scorecards/") => json!({"comment": "documented"}),
                    p if p.ends_with("/clock") => json!({"hidden": true}),
                    _ => json!({"text": "documented"}),
                }),
                other => panic!("no request for method {other}"),
            };
            // The session's own routes take its interviewer token, the rest the API key.
            let bearer = if path.contains("{id}") && path.starts_with("/api/") {
                &session.interviewer
            } else {
                KEY
            };
            let resp = request
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let body = resp.bytes().await.expect("body");
            assert!(
                (200..300).contains(&status),
                "{method} {path} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
            let documented = &op["responses"][status.to_string()];
            assert!(
                documented.is_object(),
                "{method} {path} answered {status}, which its document does not list"
            );
            if let Some(schema) = documented["content"]["application/json"]["schema"].as_object() {
                assert!(
                    content_type.starts_with("application/json"),
                    "{method} {path}: {content_type}"
                );
                let value: Value = serde_json::from_slice(&body).expect("a JSON body");
                let v = validator(&Value::Object(schema.clone()), &doc);
                let errs = errors(&v, &value);
                assert!(
                    errs.is_empty(),
                    "{method} {path}: the body does not match its schema: {errs:?}\n{value}"
                );
            }
            status
        };
        assert!(
            op["responses"][status.to_string()].is_object(),
            "{method} {path}: {status} is not documented"
        );
        answered.insert(format!("{method} {path}"), status);
    }

    // The router has no method on a documented path that the document leaves out.
    for (path, item) in paths {
        let url = format!(
            "{base}{}",
            path.replace("{id}", &session.id)
                .replace("{path}", &asset)
                .replace("{question_id}", &question_id)
                .replace("{author}", "documented")
        );
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                continue;
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let resp = server
                .http
                .request(m, &url)
                .bearer_auth(KEY)
                .send()
                .await
                .expect("request");
            assert_eq!(
                resp.status().as_u16(),
                405,
                "{method} {path} is routed but not documented"
            );
        }
    }
    // And a path nobody documented is no route at all.
    check_error(
        server.api().get("/undocumented", Some(KEY)).await,
        404,
        "NOT_FOUND",
    )
    .await;
    // Refusals match the document's error shape: a wrong token, a session that is not there,
    // a body of the wrong type.
    let error_schema = validator(&json!({"$ref": "#/components/schemas/ErrorBody"}), &doc);
    let missing = format!("{base}/api/v1/sessions/{}", uuid::Uuid::new_v4());
    let not_json = server
        .http
        .post(format!("{base}/api/v1/sessions"))
        .bearer_auth(KEY)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(not_json.status().as_u16(), 415);
    assert!(doc["paths"]["/api/v1/sessions"]["post"]["responses"]["415"].is_object());
    for resp in [
        server
            .http
            .get(&missing)
            .bearer_auth("wrong")
            .send()
            .await
            .expect("get"),
        server
            .http
            .get(&missing)
            .bearer_auth(KEY)
            .send()
            .await
            .expect("get"),
        not_json,
    ] {
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.expect("an error body");
        let errs = errors(&error_schema, &body);
        assert!(errs.is_empty(), "{status}: {errs:?} {body}");
    }
    eprintln!("answered: {answered:?}");
}

/// Routes reach the router only through `utoipa_axum::routes!` (which documents them): no
/// `.route(…)`, fallback, plain `Router::new()` or `axum::routing` anywhere in the server.
#[test]
fn no_route_bypasses_the_document() {
    let mut undocumented = Vec::new();
    let mut stack = vec![repo_path("server/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            for (n, line) in text.lines().enumerate() {
                let code = line
                    .split("//")
                    .next()
                    .unwrap_or("")
                    .replace("OpenApiRouter::new(", "");
                if [
                    ".route(",
                    ".route_service(",
                    ".nest_service(",
                    ".fallback(",
                    ".fallback_service(",
                    "routing::",
                    "Router::new(",
                ]
                .iter()
                .any(|p| code.contains(p))
                {
                    undocumented.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "routes added past utoipa_axum::routes! are missing from the document:\n{}",
        undocumented.join("\n")
    );
}

const CLIENT_TYPES: &[&str] = &[
    "auth",
    "run",
    "stdin",
    "stdin_eof",
    "kill",
    "ping",
    "update",
    "pull",
    "cursor",
    "notes",
    "end_session",
    "extend",
    "run_tests",
    "focus",
    "switch_environment",
    "save_scorecard",
    "submit_scorecard",
    "set_question",
    "start",
    "clock",
    "submit",
];

const SERVER_TYPES: &[&str] = &[
    "welcome",
    "status",
    "run_started",
    "output",
    "run_finished",
    "presence",
    "error",
    "session_ended",
    "pong",
    "updates",
    "update_rejected",
    "cursor",
    "notes",
    "input",
    "expiry",
    "tests_started",
    "test_result",
    "tests_finished",
    "focus",
    "environment",
    "scorecard",
    "question_changed",
    "question_time",
    "lobby",
    "interview",
];

/// A whole scorecard of the standard rubric.
fn whole_scorecard() -> Value {
    let rating = |score: u8| json!({"score": score, "comment": ""});
    json!({
        "ratings": {"Problem solving": rating(3), "Code quality": rating(3),
                    "Testing": rating(2), "Communication": rating(4)},
        "comment": "documented",
        "recommendation": "yes",
    })
}

/// Checks `message` against the schema of its direction and type.
fn check_message(schemas: &Value, direction: &str, message: &Value) {
    let kind = message["type"].as_str().expect("a type");
    let schema = &schemas[direction][kind];
    assert!(schema.is_object(), "no {direction} schema for '{kind}'");
    let v = jsonschema::draft202012::new(schema)
        .unwrap_or_else(|e| panic!("the {direction} schema of '{kind}' is invalid: {e}"));
    let errs = errors(&v, message);
    assert!(
        errs.is_empty(),
        "{direction} message '{kind}' does not match its schema: {errs:?}\n{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_message_matches_its_schema() {
    let server = TestServer::start(|_| {}).await;
    let schemas = expect_json(server.api().get("/socket-schemas.json", None).await, 200).await;
    let names = |d: &str| -> BTreeSet<String> {
        schemas[d]
            .as_object()
            .expect("messages")
            .keys()
            .cloned()
            .collect()
    };
    let want = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        names("client"),
        want(CLIENT_TYPES),
        "one schema per client message"
    );
    assert_eq!(
        names("server"),
        want(SERVER_TYPES),
        "one schema per server message"
    );
    for direction in ["client", "server"] {
        for (kind, schema) in schemas[direction].as_object().into_iter().flatten() {
            assert_eq!(
                schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{direction} {kind}"
            );
        }
    }
    // The schemas are not vacuous: a message missing a field, or of the wrong shape, fails.
    let output = jsonschema::draft202012::new(&schemas["server"]["output"]).expect("schema");
    assert!(!output.is_valid(&json!({"type": "output", "data": "x"})));
    let stdin = jsonschema::draft202012::new(&schemas["client"]["stdin"]).expect("schema");
    assert!(!stdin.is_valid(&json!({"type": "stdin", "data": 5})));
    // Fields the server refuses (deny_unknown_fields), the schema refuses too.
    assert!(!stdin.is_valid(&json!({"type": "stdin", "data": "x", "extra": 1})));

    let session = server
        .python("name = input('name? ')\nprint('hello', name)\n")
        .await;
    let (mut interviewer, welcome) = server
        .connect(&session.id, &session.interviewer, "&name=Ines")
        .await;
    check_message(&schemas, "server", &welcome);
    let (mut candidate, welcome) = server
        .connect(&session.id, &session.candidate, "&name=Cara")
        .await;
    check_message(&schemas, "server", &welcome);
    let version = welcome["version"].as_u64().expect("version");
    let length = welcome["document"]
        .as_str()
        .expect("document")
        .encode_utf16()
        .count();

    let sent = [
        json!({"type": "ping"}),
        json!({"type": "cursor", "anchor": 0, "head": 4, "version": version}),
        json!({"type": "update", "version": version,
            "updates": [{"client_id": "c1", "changes": [[0, "# hi\n"], length]}]}),
        json!({"type": "update", "version": version,
            "updates": [{"client_id": "c1", "changes": [[0, "stale"], length]}]}),
        json!({"type": "pull", "version": version}),
        json!({"type": "run", "stdin": null}),
        json!({"type": "stdin", "data": "Ada\n"}),
        json!({"type": "stdin_eof"}),
        json!({"type": "extend"}),
        json!({"type": "dance"}),
    ];
    let mut early = Vec::new();
    for message in &sent {
        if message["type"] != "dance" {
            check_message(&schemas, "client", message);
        }
        send(&mut candidate, message.clone()).await;
        if message["type"] == "run" {
            // What came before the run started (pong, updates, …) is checked below too.
            let before = frames_until(&mut candidate, "run_started", Duration::from_secs(30)).await;
            early.extend(before.into_iter().map(|(_, v)| v));
        }
    }
    send(&mut interviewer, json!({"type": "notes", "text": "good"})).await;
    check_message(
        &schemas,
        "client",
        &json!({"type": "notes", "text": "good"}),
    );
    let scorecard = json!({"type": "save_scorecard", "author": "ines",
        "scorecard": {"ratings": {"Testing": {"score": 2}}}});
    check_message(&schemas, "client", &scorecard);
    send(&mut interviewer, scorecard).await;
    for other in [
        json!({"type": "submit_scorecard", "author": "ines", "scorecard": whole_scorecard()}),
        json!({"type": "kill"}),
        json!({"type": "end_session"}),
        json!({"type": "auth", "token": "t", "after": {"run_id": session.id, "seq": 3}}),
        json!({"type": "run", "files": {"main.py": "print(1)\n"}, "restart": true}),
    ] {
        check_message(&schemas, "client", &other);
    }

    let kinds = [
        "pong",
        "cursor",
        "updates",
        "update_rejected",
        "run_started",
        "output",
        "input",
        "run_finished",
        "presence",
        "notes",
        "scorecard",
        "expiry",
        "error",
    ];
    // Everything both sockets hear until the run ends, then until every kind above has come
    // (some answers may come after the run's end on a slow machine).
    let mut seen = BTreeSet::new();
    let check = |message: &Value, seen: &mut BTreeSet<String>| {
        check_message(&schemas, "server", message);
        seen.insert(message["type"].as_str().unwrap_or("").to_string());
    };
    for ws in [&mut candidate, &mut interviewer] {
        let mut frames: Vec<Value> = std::mem::take(&mut early);
        frames.extend(
            frames_until(ws, "run_finished", Duration::from_secs(30))
                .await
                .into_iter()
                .map(|(_, v)| v),
        );
        for message in &frames {
            check(message, &mut seen);
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !kinds.iter().all(|k| seen.contains(*k)) && std::time::Instant::now() < deadline {
        for ws in [&mut candidate, &mut interviewer] {
            let wait = std::time::Instant::now() + Duration::from_millis(200);
            if let Frame::Json(v) = next_frame(ws, wait).await {
                check(&v, &mut seen);
            }
        }
    }
    send(&mut interviewer, json!({"type": "end_session"})).await;
    let ended = next_of_type(&mut candidate, "session_ended").await;
    check(&ended, &mut seen);
    lobby_messages_match(&server, &schemas, &mut seen).await;
    for kind in kinds
        .into_iter()
        .chain(["session_ended", "lobby", "interview"])
    {
        assert!(
            seen.contains(kind),
            "no '{kind}' message was seen: {seen:?}"
        );
    }
}

/// A lobby's messages both ways: `lobby` to the candidate, `clock` and `start` from the
/// interviewer, `interview` to both; `submit` by its shape.
async fn lobby_messages_match(server: &TestServer, schemas: &Value, seen: &mut BTreeSet<String>) {
    let lobby = Session::from(
        server
            .api()
            .create_session(json!({"environment": "python", "lobby": true}))
            .await,
    );
    let url = server.ws_url(&lobby.id, &format!("?token={}", lobby.candidate));
    let (mut candidate, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("upgrade");
    let mut interviewer = server.ws(&lobby.id, &lobby.interviewer).await;
    let mut check = |message: &Value| {
        check_message(schemas, "server", message);
        seen.insert(message["type"].as_str().unwrap_or("").to_string());
    };
    check(&next_of_type(&mut candidate, "lobby").await);
    for message in [
        json!({"type": "clock", "hidden": true}),
        json!({"type": "start"}),
    ] {
        check_message(schemas, "client", &message);
        send(&mut interviewer, message).await;
        check(&next_of_type(&mut interviewer, "interview").await);
    }
    check(&next_of_type(&mut candidate, "welcome").await);
    check_message(schemas, "client", &json!({"type": "submit"}));
}

/// The document states the bounds the server enforces, from the server's own config, and the
/// server refuses what is outside them: `ttl_seconds` above the maximum, too many files, a
/// timeout out of range. The socket route without an upgrade answers in the error shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_states_the_bounds_the_server_enforces() {
    let server = TestServer::start(|c| {
        c.sessions.max_lifetime_seconds = 3600;
        c.limits.run_timeout_seconds = 7;
    })
    .await;
    let doc = document(&server).await;
    let schemas = &doc["components"]["schemas"];
    let ttl = &schemas["CreateBody"]["properties"]["ttl_seconds"];
    assert_eq!(ttl["minimum"], 1, "{ttl}");
    assert_eq!(ttl["maximum"], 3600, "{ttl}");
    assert_eq!(
        schemas["CreateBody"]["properties"]["label"]["maxLength"],
        200
    );
    assert_eq!(
        schemas["CreateBody"]["properties"]["files"]["maxProperties"],
        64
    );
    let timeout = &schemas["ExecuteBody"]["properties"]["timeout_seconds"];
    assert_eq!(timeout["maximum"], 7, "{timeout}");
    assert_eq!(timeout["exclusiveMinimum"], 0, "{timeout}");

    // At the bounds: accepted. Past them: 400 in the error shape.
    let at = server
        .api()
        .post(
            "/sessions",
            None,
            &json!({"environment": "bash", "ttl_seconds": 3600}),
        )
        .await;
    let at = expect_json(at, 201).await;
    let past = server
        .api()
        .post(
            "/sessions",
            None,
            &json!({"environment": "bash", "ttl_seconds": 3601}),
        )
        .await;
    check_error(past, 400, "INVALID_ARGUMENT").await;
    let label = server
        .api()
        .post(
            "/sessions",
            None,
            &json!({"environment": "bash", "label": "x".repeat(201)}),
        )
        .await;
    check_error(label, 400, "INVALID_ARGUMENT").await;
    let files: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("f{i}.txt"), json!(""))).collect();
    let many = server
        .api()
        .post(
            "/sessions",
            None,
            &json!({"environment": "bash", "files": files}),
        )
        .await;
    check_error(many, 400, "INVALID_ARGUMENT").await;
    let session = Session::from(at);
    let path = format!("/sessions/{}/execute", session.id);
    let long = server
        .api()
        .post(
            &path,
            Some(&session.candidate),
            &json!({"timeout_seconds": 7.5}),
        )
        .await;
    check_error(long, 400, "INVALID_ARGUMENT").await;

    // The socket route, asked without an upgrade.
    let plain = server
        .api()
        .get(
            &format!("/sessions/{}/ws", session.id),
            Some(&session.candidate),
        )
        .await;
    check_error(plain, 400, "INVALID_ARGUMENT").await;
}
