//! Erasure: an ended session's content cleared to a tombstone, once, and the sweep's batches.

use chrono::Duration;

use super::{now, report, session, started_run, update, Place};
use crate::model::{EndReason, RunResult, RunStatus, RunSummary, SessionId, Status};
use std::collections::BTreeMap;

use super::templates::template;
use crate::scorecards::{AuthorId, Scorecard};
use crate::store::{EventRecord, SessionRecord, Store};
use crate::templates::Progress;

fn event(session_id: SessionId, kind: &str) -> EventRecord {
    EventRecord {
        id: uuid::Uuid::new_v4(),
        session_id,
        kind: kind.into(),
        at: now(),
        data: serde_json::json!({"name": "Zoë"}),
    }
}

pub async fn an_ended_session_is_erased_once_to_its_tombstone(place: Place) {
    let store = place.open().await;
    let a = SessionId(uuid::Uuid::new_v4());
    let mut s = session(a);
    s.notes = "secret notes".into();
    store.insert_session(&s).await.expect("insert");
    fill(store.as_ref(), &s).await;

    let erased = event(a, "session.erased");
    assert!(
        !store.erase_session(&a, &erased).await.expect("live"),
        "a live session is not erased"
    );
    assert_eq!(
        store
            .get_session(&a)
            .await
            .expect("get")
            .expect("kept")
            .erased_at,
        None
    );
    store
        .update_session_state(
            &a,
            Status::Stopped,
            None,
            s.last_activity_at,
            Some(EndReason::Stopped),
        )
        .await
        .expect("end");
    assert!(store.erase_session(&a, &erased).await.expect("erase"));
    let again = event(a, "session.erased");
    assert!(
        !store.erase_session(&a, &again).await.expect("again"),
        "erased once: a second erasure (another replica's sweep) changes nothing"
    );

    assert_tombstone(store.as_ref(), &s, &erased).await;
    // Writes of content still on their way from the end land nowhere.
    store.set_notes(&a, "late notes").await.expect("notes");
    store
        .append_updates(&a, &[update(s.created_at)], "late", 2)
        .await
        .expect("late edit");
    store
        .compact_updates(&a, 2, "late base")
        .await
        .expect("compact");
    let files = [(super::path("late.txt"), "late".to_string())].into();
    let versions = [(super::path("late.txt"), 9)].into();
    store
        .set_files(&a, &files, &versions, 99)
        .await
        .expect("files");
    let documents = [("bash".to_string(), "late".to_string())].into();
    store
        .set_environment(&a, "bash", &documents)
        .await
        .expect("switch");
    assert_tombstone(store.as_ref(), &s, &erased).await;
    assert!(
        !store
            .insert_event(&event(a, "participant.left"))
            .await
            .expect("late"),
        "an event recorded after the erasure is not stored"
    );
    assert_eq!(store.events(&a).await.expect("events").len(), 1);
    let unknown = SessionId(uuid::Uuid::new_v4());
    assert!(!store
        .erase_session(&unknown, &event(unknown, "session.erased"))
        .await
        .expect("unknown"));
}

pub async fn the_sweep_finds_ended_sessions_past_the_cutoff_oldest_first(place: Place) {
    let store = place.open().await;
    let t0 = now() - Duration::days(10);
    let mut ids = Vec::new();
    for (days, status) in [
        (3, Status::Stopped),
        (1, Status::Expired),
        (2, Status::Ready),
        (5, Status::Stopped),
        (0, Status::Error),
    ] {
        let id = SessionId(uuid::Uuid::new_v4());
        let mut s = session(id);
        s.status = status;
        s.last_activity_at = t0 + Duration::days(days);
        store.insert_session(&s).await.expect("insert");
        ids.push(id);
    }
    let cutoff = t0 + Duration::days(4);
    assert_eq!(
        store.erasable_sessions(cutoff, 10).await.expect("due"),
        vec![ids[4], ids[1], ids[0]],
        "ended, before the cutoff, oldest activity first; the live one and the newer wait"
    );
    assert_eq!(
        store.erasable_sessions(cutoff, 2).await.expect("a batch"),
        vec![ids[4], ids[1]]
    );
    assert!(store
        .erase_session(&ids[4], &event(ids[4], "session.erased"))
        .await
        .expect("erase"));
    assert_eq!(
        store.erasable_sessions(cutoff, 10).await.expect("due"),
        vec![ids[1], ids[0]],
        "an erased session is not due again"
    );
}

/// Stores content of every kind for session `s`: an edit, a finished run, a test report and
/// an event.
async fn fill(store: &dyn Store, s: &SessionRecord) {
    store
        .append_updates(&s.id, &[update(s.created_at)], "x = 1", 1)
        .await
        .expect("update");
    let run = started_run(s.id, s.created_at);
    store.insert_run(&run).await.expect("run");
    let summary = RunSummary {
        run_id: run.id,
        status: RunStatus::Completed,
        exit_code: Some(0),
        duration_ms: 1,
        build_ms: None,
        build_cached: false,
        truncated: false,
        started_at: run.started_at,
        finished_at: now(),
    };
    let result = RunResult {
        by: run.by_role,
        summary,
        stdout: "out".into(),
        stderr: String::new(),
    };
    store.finish_run(&s.id, &result, 20).await.expect("finish");
    store
        .insert_test_report(&s.id, &report(uuid::Uuid::new_v4(), s.created_at), 20)
        .await
        .expect("report");
    assert!(store
        .insert_event(&event(s.id, "participant.joined"))
        .await
        .expect("event"));
    let author = AuthorId::parse("ada").expect("an author id");
    let card = Scorecard::write(
        None,
        (author, "Ada".into()),
        Default::default(),
        false,
        now(),
    )
    .expect("a draft");
    assert!(store.put_scorecard(&s.id, &card).await.expect("scorecard"));
    let mut progress = Progress::new(
        &template(&[uuid::Uuid::new_v4()]),
        vec!["Sum".into()],
        now(),
    );
    let code = BTreeMap::from([("python".to_string(), "secret = 1".to_string())]);
    progress.codes.insert(progress.steps[0].question_id, code);
    store
        .set_session_template(&s.id, &progress)
        .await
        .expect("progress");
}

/// `s` erased by `erased`: its tombstone's fields kept, its content gone.
async fn assert_tombstone(store: &dyn Store, s: &SessionRecord, erased: &EventRecord) {
    let t = store
        .get_session(&s.id)
        .await
        .expect("get")
        .expect("the tombstone");
    assert_eq!(
        (
            t.id,
            t.status,
            t.ended_reason,
            t.created_at,
            t.environment.as_str()
        ),
        (
            s.id,
            Status::Stopped,
            Some(EndReason::Stopped),
            s.created_at,
            "python"
        )
    );
    assert_eq!((t.version, t.erased_at), (1, Some(erased.at)));
    assert_eq!(t.label, None, "a label may name the candidate");
    assert_eq!(
        t.created_by, "ip:erased",
        "an open-mode creator's address goes"
    );
    assert_eq!(
        (
            t.document.as_str(),
            t.initial_document.as_str(),
            t.notes.as_str()
        ),
        ("", "", "")
    );
    assert!(t.files.is_empty() && t.documents.is_empty() && t.file_versions.is_empty());
    assert!(store.updates(&s.id).await.expect("updates").is_empty());
    assert!(store
        .scorecards(&s.id)
        .await
        .expect("scorecards")
        .is_empty());
    let progress = store.session_template(&s.id).await.expect("progress");
    assert!(
        progress.is_some_and(|p| p.codes.is_empty()),
        "each question's code goes, where the session was stays"
    );
    assert!(store.runs(&s.id).await.expect("runs").is_empty());
    assert_eq!(store.last_run(&s.id).await.expect("last"), None);
    assert_eq!(
        store
            .test_reports(&s.id, None, 10, 0)
            .await
            .expect("reports"),
        (vec![], 0)
    );
    assert_eq!(
        store.events(&s.id).await.expect("events"),
        vec![erased.clone()],
        "the trail holds the erasure alone"
    );
    assert_eq!(
        store.undelivered_events(&s.id).await.expect("outbox"),
        vec![erased.clone()]
    );
}
