//! What each store keeps of a session's later life: only newer writes, the start of old
//! runs' output, old test reports' summaries, events and questions in order.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{now, path, session, started_run, update, Place};
use crate::auth::Role;
use crate::model::{EndReason, RunResult, RunStatus, RunSummary, SessionId, Status};
use crate::questions::{CaseResult, Question, TestReport, Verdict};
use crate::store::{EventRecord, ListPage, RunRecord};

pub async fn older_writes_of_the_document_and_files_never_land(place: Place) {
    let store = place.open().await;
    let a = SessionId(uuid::Uuid::new_v4());
    let s = session(a);
    store.insert_session(&s).await.expect("insert");
    assert_eq!(
        store.get_session(&a).await.expect("get"),
        Some(s.clone()),
        "a session reads back as it was stored"
    );
    // Updates land once; the document only moves forward.
    let mut first = update(s.created_at);
    store
        .append_updates(&a, std::slice::from_ref(&first), "three", 3)
        .await
        .expect("forward");
    let mut again = update(s.created_at);
    again.client_id = "c2".into();
    first.version = 1;
    store
        .append_updates(&a, &[again, first.clone()], "two", 2)
        .await
        .expect("late");
    let got = store.get_session(&a).await.expect("get").expect("present");
    assert_eq!((got.document.as_str(), got.version), ("three", 3));
    let clients: Vec<(u64, String)> = store
        .updates(&a)
        .await
        .expect("updates")
        .into_iter()
        .map(|u| (u.version, u.client_id))
        .collect();
    assert_eq!(clients, vec![(0, "c1".into()), (1, "c1".into())]);

    // Files: a write whose rev is not above the stored one is dropped.
    let files = |text: &str| BTreeMap::from([(path("data/in.txt"), text.to_string())]);
    let versions = |v: u64| BTreeMap::from([(path("data/in.txt"), v)]);
    for (text, version, rev) in [("new", 5, 2), ("older", 4, 1), ("same rev", 6, 2)] {
        store
            .set_files(&a, &files(text), &versions(version), rev)
            .await
            .expect("files");
    }
    let got = store.get_session(&a).await.expect("get").expect("present");
    assert_eq!((got.files, got.file_versions), (files("new"), versions(5)));

    // The rest of a session's life, and an end reason that later writes keep.
    let later = s.created_at + chrono::Duration::minutes(30);
    store.set_notes(&a, "strong hire").await.expect("notes");
    store.set_deadline(&a, later).await.expect("deadline");
    let documents = BTreeMap::from([("python".to_string(), "print(1)".to_string())]);
    store
        .set_environment(&a, "bash", &documents)
        .await
        .expect("switch");
    for (status, reason) in [
        (Status::Stopped, Some(EndReason::Stopped)),
        (Status::Stopped, None),
    ] {
        store
            .update_session_state(&a, status, Some("box"), later, reason)
            .await
            .expect("state");
    }
    let got = store.get_session(&a).await.expect("get").expect("present");
    assert_eq!(got.notes, "strong hire");
    assert_eq!((got.expires_at, got.last_activity_at), (later, later));
    assert_eq!(
        (got.environment.as_str(), got.documents),
        ("bash", documents)
    );
    assert_eq!(got.container_id.as_deref(), Some("box"));
    assert_eq!(got.ended_reason, Some(EndReason::Stopped));
}

pub fn finished(run: &RunRecord, stdout: String, stderr: String) -> RunResult {
    RunResult {
        by: run.by_role,
        summary: RunSummary {
            run_id: run.id,
            status: RunStatus::Completed,
            exit_code: Some(0),
            duration_ms: 7,
            build_ms: None,
            build_cached: false,
            truncated: false,
            started_at: run.started_at,
            finished_at: run.started_at,
        },
        stdout,
        stderr,
    }
}

pub async fn old_runs_keep_the_start_of_their_output(place: Place) {
    let store = place.open().await;
    let a = SessionId(uuid::Uuid::new_v4());
    let s = session(a);
    store.insert_session(&s).await.expect("insert");
    // Characters, not bytes: each é is two bytes.
    let long = "é".repeat(2000);
    for i in 0..3 {
        let mut run = started_run(a, s.created_at + chrono::Duration::seconds(i));
        run.code = Some("x".repeat(1500));
        store.insert_run(&run).await.expect("run");
        let result = finished(&run, long.clone(), "e".repeat(1100));
        store.finish_run(&a, &result, 2).await.expect("finish");
    }
    let runs = store.runs(&a).await.expect("runs");
    let kept: Vec<(usize, usize, usize, bool)> = runs
        .iter()
        .map(|r| {
            let result = r.result.as_ref().expect("finished");
            (
                result.stdout.chars().count(),
                result.stderr.len(),
                r.code.as_deref().map_or(0, |c| c.len()),
                result.summary.truncated,
            )
        })
        .collect();
    assert_eq!(
        kept,
        vec![
            (1024, 1024, 1024, true),
            (2000, 1100, 1500, false),
            (2000, 1100, 1500, false)
        ],
        "the run moved out of the newest two is cut, the others are whole"
    );
    assert_eq!(
        store.last_run(&a).await.expect("last").map(|r| r.run_id),
        Some(runs[2].id)
    );
}

pub fn report(question_id: uuid::Uuid, at: DateTime<Utc>) -> TestReport {
    TestReport {
        tests_id: uuid::Uuid::new_v4(),
        question_id,
        by: Role::Interviewer,
        started_at: at,
        finished_at: at,
        passed: 1,
        total: 1,
        results: vec![CaseResult {
            index: 0,
            name: "adds".into(),
            hidden: false,
            verdict: Verdict::Passed,
            status: Some(RunStatus::Completed),
            exit_code: Some(0),
            duration_ms: 3,
            stdin: "1 2".into(),
            expected: "3".into(),
            actual: "3\n".into(),
            stderr: "é🎉".into(),
            exact: false,
        }],
        summary_only: false,
    }
}

pub async fn old_test_reports_keep_their_summary_and_pages_count_from_the_oldest(place: Place) {
    let store = place.open().await;
    let a = SessionId(uuid::Uuid::new_v4());
    let s = session(a);
    store.insert_session(&s).await.expect("insert");
    let question = uuid::Uuid::new_v4();
    let reports: Vec<TestReport> = (0..3).map(|_| report(question, s.created_at)).collect();
    for r in &reports {
        store.insert_test_report(&a, r, 2).await.expect("report");
    }
    let (page, total) = store.test_reports(&a, None, 2, 0).await.expect("page");
    assert_eq!(total, 3);
    assert_eq!(
        page,
        vec![reports[0].clone().summary(), reports[1].clone()],
        "the oldest keeps its summary only"
    );
    let (page, total) = store.test_reports(&a, None, 2, 2).await.expect("last page");
    assert_eq!((page, total), (vec![reports[2].clone()], 3));
    let other = SessionId(uuid::Uuid::new_v4());
    assert_eq!(
        store.test_reports(&other, None, 2, 0).await.expect("none"),
        (vec![], 0)
    );
}

pub async fn events_and_questions_read_back_in_order(place: Place) {
    let store = place.open().await;
    let (a, b) = (
        SessionId(uuid::Uuid::new_v4()),
        SessionId(uuid::Uuid::new_v4()),
    );
    let event = |session_id, kind: &str, n: u64| EventRecord {
        id: uuid::Uuid::new_v4(),
        session_id,
        kind: kind.into(),
        at: now(),
        data: serde_json::json!({"participant": n, "name": "Zoë", "nested": {"b": [1, 2], "a": null}}),
    };
    let trail = vec![
        event(a, "session.created", 0),
        event(a, "participant.joined", 1),
        event(a, "participant.left", 1),
    ];
    store
        .insert_event(&event(b, "session.created", 0))
        .await
        .expect("b");
    for e in &trail {
        store.insert_event(e).await.expect("event");
    }
    assert_eq!(store.events(&a).await.expect("events"), trail);

    let question = |title: &str| Question {
        question_id: uuid::Uuid::new_v4(),
        title: title.into(),
        prompt: "Add **two** numbers".into(),
        starters: BTreeMap::from([("python".to_string(), "a, b = 1, 2\n".to_string())]),
        cases: vec![crate::questions::TestCase {
            name: "adds".into(),
            stdin: "1 2".into(),
            expected: "3".into(),
            time_limit_seconds: 2.5,
            hidden: true,
            exact: false,
        }],
        created_at: Utc::now(),
    };
    let qs = [question("one"), question("two"), question("three")];
    for (q, by) in qs.iter().zip(["key", "ip:127.0.0.1", "key"]) {
        store.insert_question(q, by).await.expect("question");
    }
    let page = |created_by: Option<&str>, limit, offset| ListPage {
        created_by: created_by.map(str::to_string),
        limit,
        offset,
    };
    let titles = |list: Vec<Question>| list.into_iter().map(|q| q.title).collect::<Vec<_>>();
    let newest = store.list_questions(&page(None, 2, 0)).await.expect("list");
    assert_eq!(titles(newest), ["three", "two"]);
    let keys = store
        .list_questions(&page(Some("key"), 10, 1))
        .await
        .expect("list");
    assert_eq!(titles(keys), ["one"]);
    assert_eq!(
        store.get_question(&qs[1].question_id).await.expect("get"),
        Some(qs[1].clone())
    );
    store.insert_session(&session(a)).await.expect("session");
    assert_eq!(store.session_question(&a).await.expect("none yet"), None);
    for q in &qs[..2] {
        store
            .set_session_question(&a, &q.question_id)
            .await
            .expect("set");
    }
    assert_eq!(
        store.session_question(&a).await.expect("question"),
        Some(qs[1].question_id)
    );
}
