//! The SQLite store against a real database file in a temp dir.
use super::*;
use crate::auth::Role;
use crate::model::{EndReason, RunStatus, SessionId, Status};

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

#[tokio::test]
async fn sessions_and_runs_survive_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).expect("open");
    let a = SessionId(uuid::Uuid::new_v4());
    let s = session(a);
    store.insert_session(&s).await.expect("insert");
    let update = UpdateRecord {
        version: 0,
        at: s.created_at,
        client_id: "c1".into(),
        changes: serde_json::value::RawValue::from_string(r#"[[11, "x = 1"]]"#.into())
            .expect("json"),
    };
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
    let run = RunRecord {
        id: uuid::Uuid::new_v4(),
        session_id: a,
        by_role: Role::Candidate,
        started_at: s.created_at,
        finished_at: None,
        status: None,
        exit_code: None,
        duration_ms: None,
        build_ms: None,
        stdout: String::new(),
        stderr: String::new(),
        truncated: false,
        code: None,
    };
    store.insert_run(&run).await.expect("run");
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
    assert_eq!(store.fail_unfinished_runs().await.expect("fail"), vec![a]);
    assert_eq!(
        store.last_run(&a).await.expect("last").expect("run").status,
        Some(RunStatus::Error)
    );
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
