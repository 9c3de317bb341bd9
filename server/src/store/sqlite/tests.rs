//! What only the SQLite store has: its file, and its migrations from older livecodes.
use super::*;
use crate::auth::Role;
use crate::model::{RunResult, RunStatus, RunSummary, SessionId};
use crate::store::tests::{session, started_run};

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
    // Back to the schema before migration 8 (and 9 and 13, which came after it), as a
    // database written by an older livecode.
    let conn = Connection::open(dir.path().join("livecode.db")).expect("open");
    conn.execute_batch(
        "ALTER TABLE events DROP COLUMN delivered; ALTER TABLE runs DROP COLUMN build_cached;
         DROP INDEX sessions_erasable; ALTER TABLE sessions DROP COLUMN erased_at;
         PRAGMA user_version = 7;",
    )
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
