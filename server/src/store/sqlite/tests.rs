//! The SQLite store against a real database file in a temp dir.
use super::*;
use crate::auth::Role;
use crate::model::{EndReason, RunResult, RunStatus, RunSummary, SessionId, Status};

fn path(p: &str) -> WorkspacePath {
    WorkspacePath::parse(p).expect("valid")
}

fn session(id: SessionId) -> SessionRecord {
    let now = Utc::now();
    SessionRecord {
        id,
        environment: "python".into(),
        label: Some("Jane – loop".into()),
        status: Status::Ready,
        container_id: None,
        candidate_hash: "c".into(),
        interviewer_hash: "i".into(),
        created_at: now,
        last_activity_at: now,
        expires_at: now,
        ended_reason: None,
        initial_document: "print('é🎉')".into(),
        base_version: 0,
        created_by: "ip:127.0.0.1".into(),
        document: "print('é🎉')".into(),
        version: 0,
        notes: String::new(),
        files: [(path("data/in.txt"), "1 2".to_string())].into(),
        documents: [("bash".to_string(), "echo hi\n".to_string())].into(),
        file_versions: [(path("data/in.txt"), 3)].into(),
    }
}

fn update(at: DateTime<Utc>) -> UpdateRecord {
    UpdateRecord {
        version: 0,
        at,
        client_id: "c1".into(),
        changes: serde_json::value::RawValue::from_string(r#"[[11, "x = 1"]]"#.into())
            .expect("json"),
    }
}

fn started_run(session_id: SessionId, started_at: DateTime<Utc>) -> RunRecord {
    RunRecord {
        id: uuid::Uuid::new_v4(),
        session_id,
        by_role: Role::Candidate,
        started_at,
        code: None,
        result: None,
    }
}

#[tokio::test]
async fn sessions_and_runs_survive_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).expect("open");
    let a = SessionId(uuid::Uuid::new_v4());
    let s = session(a);
    store.insert_session(&s).await.expect("insert");
    let update = update(s.created_at);
    store
        .append_updates(&a, std::slice::from_ref(&update), "x = 1", 1)
        .await
        .expect("update");
    // A late write of an older document never wins.
    store
        .append_updates(&a, &[], "stale", 0)
        .await
        .expect("stale");
    store
        .update_session_state(
            &a,
            Status::Stopped,
            Some("c1"),
            s.created_at,
            Some(EndReason::Stopped),
        )
        .await
        .expect("state");
    store
        .insert_run(&started_run(a, s.created_at))
        .await
        .expect("run");
    drop(store);

    let store = SqliteStore::open(dir.path()).expect("reopen");
    let got = store.get_session(&a).await.expect("get").expect("present");
    assert_eq!(got.document, "x = 1");
    assert_eq!(got.version, 1);
    assert_eq!(got.initial_document, "print('é🎉')");
    assert_eq!(store.updates(&a).await.expect("updates"), vec![update]);
    assert_eq!(got.status, Status::Stopped);
    assert_eq!(got.ended_reason, Some(EndReason::Stopped));
    assert_eq!(got.files, s.files);
    assert!(store.live_sessions().await.expect("live").is_empty());
    assert_eq!(store.fail_unfinished_runs().await.expect("fail"), vec![a]);
    assert_eq!(
        store.last_run(&a).await.expect("last").expect("run").status,
        RunStatus::Error
    );
}

#[tokio::test]
async fn sessions_are_listed_by_creator_and_their_history_compacts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).expect("open");
    let a = SessionId(uuid::Uuid::new_v4());
    let s = session(a);
    store.insert_session(&s).await.expect("insert");
    store
        .append_updates(&a, &[update(s.created_at)], "x = 1", 1)
        .await
        .expect("update");
    let page = |created_by: Option<&str>| ListPage {
        created_by: created_by.map(str::to_string),
        limit: 10,
        offset: 0,
    };
    assert_eq!(
        store.list_sessions(&page(None)).await.expect("list").len(),
        1
    );
    assert_eq!(
        store
            .list_sessions(&page(Some("ip:127.0.0.1")))
            .await
            .expect("mine")
            .len(),
        1
    );
    assert!(store
        .list_sessions(&page(Some("key")))
        .await
        .expect("theirs")
        .is_empty());
    // Compaction moves the base forward and drops what it folded in.
    store
        .compact_updates(&a, 1, "x = 1")
        .await
        .expect("compact");
    let got = store.get_session(&a).await.expect("get").expect("present");
    assert_eq!(
        (got.base_version, got.initial_document.as_str()),
        (1, "x = 1")
    );
    assert!(store.updates(&a).await.expect("updates").is_empty());
}

#[tokio::test]
async fn a_finished_run_reads_back_as_its_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).expect("open");
    let a = SessionId(uuid::Uuid::new_v4());
    let s = session(a);
    store.insert_session(&s).await.expect("insert");
    let mut run = started_run(a, s.created_at);
    run.code = Some("print(1)".into());
    store.insert_run(&run).await.expect("run");
    assert_eq!(store.runs(&a).await.expect("runs"), vec![run.clone()]);
    assert_eq!(
        store.last_run(&a).await.expect("last"),
        None,
        "not finished"
    );
    let result = RunResult {
        by: Role::Candidate,
        summary: RunSummary {
            run_id: run.id,
            status: RunStatus::Completed,
            exit_code: Some(0),
            duration_ms: 12,
            // A build that ran within a millisecond: the flag is stored, not guessed.
            build_ms: Some(0),
            build_cached: false,
            truncated: false,
            started_at: s.created_at,
            finished_at: s.created_at + chrono::Duration::milliseconds(400),
        },
        stdout: "1\n".into(),
        stderr: "é🎉\n".into(),
    };
    store.finish_run(&a, &result, 10).await.expect("finish");
    run.result = Some(result.clone());
    assert_eq!(store.runs(&a).await.expect("runs"), vec![run]);
    assert_eq!(
        store.last_run(&a).await.expect("last"),
        Some(result.summary)
    );
}

#[tokio::test]
async fn runs_stored_before_the_cache_flag_read_it_off_their_build_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).expect("open");
    let a = SessionId(uuid::Uuid::new_v4());
    let s = session(a);
    store.insert_session(&s).await.expect("insert");
    let mut ids = Vec::new();
    for (i, build_ms) in [Some(0), Some(340), None].into_iter().enumerate() {
        // Apart in time: runs read back in the order they started.
        let run = started_run(a, s.created_at + chrono::Duration::seconds(i as i64));
        store.insert_run(&run).await.expect("run");
        let summary = RunSummary {
            run_id: run.id,
            status: RunStatus::Completed,
            exit_code: Some(0),
            duration_ms: 5,
            build_ms,
            build_cached: false,
            truncated: false,
            started_at: run.started_at,
            finished_at: run.started_at,
        };
        let result = RunResult {
            by: Role::Candidate,
            summary,
            stdout: String::new(),
            stderr: String::new(),
        };
        store.finish_run(&a, &result, 10).await.expect("finish");
        ids.push(run.id);
    }
    drop(store);
    // Back to the schema before migration 8, as a database written by an older livecode.
    let conn = Connection::open(dir.path().join("livecode.db")).expect("open");
    conn.execute_batch("ALTER TABLE runs DROP COLUMN build_cached; PRAGMA user_version = 7;")
        .expect("downgrade");
    drop(conn);

    let store = SqliteStore::open(dir.path()).expect("migrate");
    let cached: Vec<(uuid::Uuid, bool)> = store
        .runs(&a)
        .await
        .expect("runs")
        .into_iter()
        .map(|r| (r.id, r.result.expect("finished").summary.build_cached))
        .collect();
    let want: Vec<(uuid::Uuid, bool)> = ids.into_iter().zip([true, false, false]).collect();
    assert_eq!(cached, want, "0 ms was the cache's");
}

#[test]
fn migrations_run_once_and_a_newer_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SqliteStore::open(dir.path()).expect("first open migrates"));
    drop(SqliteStore::open(dir.path()).expect("second open has nothing to do"));
    let conn = Connection::open(dir.path().join("livecode.db")).expect("open");
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("pragma");
    assert_eq!(version, MIGRATIONS.len());
    conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(conn);
    let err = SqliteStore::open(dir.path())
        .err()
        .expect("newer schema refused");
    assert!(err.to_string().contains("schema version 99"), "{err}");
}
