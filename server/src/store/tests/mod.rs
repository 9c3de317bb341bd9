//! The store tests, run once on each store with the same assertions: SQLite in a temp dir,
//! PostgreSQL in a database of its own in the cluster `LIVECODE_TEST_POSTGRES_URL` names
//! (`eval "$(bash scripts/test-postgres.sh start)"` starts one).

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use livecode_runner::path::WorkspacePath;

use super::*;
use crate::auth::Role;
use crate::model::{EndReason, RunResult, RunStatus, RunSummary, SessionId, Status};

/// Where one test's store lives; opened again, it is what a restarted server finds.
pub enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Place {
    pub fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().expect("tempdir"))
    }

    /// A new database in the test cluster.
    pub async fn postgres() -> Self {
        Self::Postgres(
            create_scratch_database(&postgres_url())
                .await
                .expect("create a database in the test cluster"),
        )
    }

    pub async fn open(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(dir) => Arc::new(SqliteStore::open(dir.path()).expect("open")),
            Self::Postgres(url) => Arc::new(PgStore::connect(url, 4).await.expect("connect")),
        }
    }
}

/// The test cluster's URL; a test on PostgreSQL fails without it, never skips.
pub fn postgres_url() -> String {
    std::env::var("LIVECODE_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "LIVECODE_TEST_POSTGRES_URL is not set: run `eval \"$(bash scripts/test-postgres.sh start)\"` \
             first (it starts a throwaway PostgreSQL cluster on loopback)"
        )
    })
}

/// Each test once per store: `store::tests::sqlite::NAME` and `store::tests::postgres::NAME`.
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Place::sqlite()).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Place::postgres().await).await
            })*
        }
    };
}

mod cluster;
mod erasure;
mod interviews;
mod kept;
mod scorecards;
mod templates;
pub use cluster::*;
pub use erasure::*;
pub use interviews::*;
pub use kept::*;
pub use scorecards::*;
pub use templates::*;

on_both_stores!(
    sessions_and_runs_survive_reopening,
    sessions_are_listed_by_creator_and_their_history_compacts,
    a_finished_run_reads_back_as_its_result,
    older_writes_of_the_document_and_files_never_land,
    old_runs_keep_the_start_of_their_output,
    old_test_reports_keep_their_summary_and_pages_count_from_the_oldest,
    events_and_questions_read_back_in_order,
    undelivered_events_are_the_outbox_until_marked,
    a_callers_live_and_recent_sessions_are_counted,
    an_ended_session_is_erased_once_to_its_tombstone,
    the_sweep_finds_ended_sessions_past_the_cutoff_oldest_first,
    scorecards_are_one_per_author_and_a_submitted_one_stays,
    templates_and_a_sessions_way_through_one_read_back,
    test_reports_are_listed_per_question,
    an_interview_reads_back_as_it_was_last_written,
);

/// Now, as a store keeps it (to the microsecond).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn path(p: &str) -> WorkspacePath {
    WorkspacePath::parse(p).expect("valid")
}

pub fn session(id: SessionId) -> SessionRecord {
    let now = now();
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
        erased_at: None,
    }
}

pub fn update(at: DateTime<Utc>) -> UpdateRecord {
    UpdateRecord {
        version: 0,
        at,
        client_id: "c1".into(),
        changes: serde_json::value::RawValue::from_string(r#"[[11, "x = 1"]]"#.into())
            .expect("json"),
    }
}

pub fn started_run(session_id: SessionId, started_at: DateTime<Utc>) -> RunRecord {
    RunRecord {
        id: uuid::Uuid::new_v4(),
        session_id,
        by_role: Role::Candidate,
        started_at,
        code: None,
        result: None,
    }
}

async fn sessions_and_runs_survive_reopening(place: Place) {
    let store = place.open().await;
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

    let store = place.open().await;
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

async fn sessions_are_listed_by_creator_and_their_history_compacts(place: Place) {
    let store = place.open().await;
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

async fn a_finished_run_reads_back_as_its_result(place: Place) {
    let store = place.open().await;
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
