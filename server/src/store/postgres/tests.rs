//! What only the PostgreSQL store has: versioned migrations shared by replicas, the lease
//! check on every write of a session, and what its text cannot hold.

use std::sync::Mutex;

use tokio_postgres::NoTls;

use super::*;
use crate::auth::Role;
use crate::model::SessionId;
use crate::scorecards::{Rubric, Scorecard};
use crate::store::tests::{now, postgres_url, session, started_run, update, Place};
use crate::store::Lease;

async fn scratch() -> String {
    create_scratch_database(&postgres_url())
        .await
        .expect("create a database in the test cluster")
}

/// The database as the test sees it, beside the store.
async fn psql(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn replicas_starting_at_once_migrate_once_and_a_newer_database_is_refused() {
    let url = scratch().await;
    let (a, b) = tokio::join!(PgStore::connect(&url, 2), PgStore::connect(&url, 2));
    a.expect("the first replica starts");
    b.expect("the second replica starts");
    PgStore::connect(&url, 2)
        .await
        .expect("a later start has nothing to do");
    let db = psql(&url).await;
    let versions: Vec<i32> = db
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("versions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let want: Vec<i32> = (1..=migrate::MIGRATIONS.len() as i32).collect();
    assert_eq!(versions, want, "each migration recorded once");
    db.execute("INSERT INTO schema_migrations (version) VALUES (99)", &[])
        .await
        .expect("as a newer livecode would");
    let err = PgStore::connect(&url, 2)
        .await
        .err()
        .expect("newer schema refused");
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

/// The leases a test says this process holds.
#[derive(Default)]
struct Held(Mutex<Vec<(SessionId, Lease)>>);

impl Leases for Held {
    fn lease(&self, session: &SessionId) -> Option<Lease> {
        let held = self.0.lock().expect("lock");
        held.iter().find(|(id, _)| id == session).map(|(_, l)| *l)
    }
}

impl Held {
    fn hold(&self, session: SessionId, lease: Lease) {
        let mut held = self.0.lock().expect("lock");
        held.retain(|(id, _)| *id != session);
        held.push((session, lease));
    }
}

/// Every kind of write of a session's rows, each answering whether the store took it.
async fn every_write(
    store: &PgStore,
    id: SessionId,
) -> Vec<(&'static str, Result<(), StoreError>)> {
    let created_at = session(id).created_at;
    let later = created_at + chrono::Duration::minutes(1);
    let mut writes = document_writes(store, id, later).await;
    writes.extend(run_and_review_writes(store, id, created_at, later).await);
    writes
}

/// `every_write`'s first half: the session's state, deadline, document, notes and events.
async fn document_writes(
    store: &PgStore,
    id: SessionId,
    later: chrono::DateTime<chrono::Utc>,
) -> Vec<(&'static str, Result<(), StoreError>)> {
    let event = EventRecord {
        id: Uuid::new_v4(),
        session_id: id,
        kind: "participant.joined".into(),
        at: now(),
        data: serde_json::json!({}),
    };
    vec![
        (
            "state",
            store
                .update_session_state(&id, Status::Executing, Some("box"), later, None)
                .await,
        ),
        ("deadline", store.set_deadline(&id, later).await),
        (
            "updates",
            store
                .append_updates(&id, &[update(later)], "x = 1", 1)
                .await,
        ),
        ("notes", store.set_notes(&id, "notes").await),
        ("event", store.insert_event(&event).await.map(|_| ())),
        ("compact", store.compact_updates(&id, 1, "x = 1").await),
    ]
}

/// `every_write`'s second half: runs, files, language, question, tests, and the review.
async fn run_and_review_writes(
    store: &PgStore,
    id: SessionId,
    created_at: chrono::DateTime<chrono::Utc>,
    later: chrono::DateTime<chrono::Utc>,
) -> Vec<(&'static str, Result<(), StoreError>)> {
    let run = started_run(id, created_at);
    let result = RunResult {
        by: Role::Candidate,
        summary: RunSummary {
            run_id: run.id,
            status: crate::model::RunStatus::Completed,
            exit_code: Some(0),
            duration_ms: 1,
            build_ms: None,
            build_cached: false,
            truncated: false,
            started_at: run.started_at,
            finished_at: run.started_at,
        },
        stdout: "out".into(),
        stderr: String::new(),
    };
    let report = TestReport {
        tests_id: Uuid::new_v4(),
        question_id: Uuid::new_v4(),
        by: Role::Candidate,
        started_at: now(),
        finished_at: now(),
        passed: 0,
        total: 0,
        results: vec![],
        summary_only: false,
    };
    let files = BTreeMap::from([(crate::store::tests::path("a.txt"), "a".to_string())]);
    let versions = BTreeMap::from([(crate::store::tests::path("a.txt"), 1)]);
    vec![
        ("run", store.insert_run(&run).await),
        ("finish", store.finish_run(&id, &result, 20).await),
        ("files", store.set_files(&id, &files, &versions, 1).await),
        (
            "switch",
            store.set_environment(&id, "bash", &BTreeMap::new()).await,
        ),
        (
            "question",
            store.set_session_question(&id, &Uuid::new_v4()).await,
        ),
        ("report", store.insert_test_report(&id, &report, 20).await),
        ("rubric", store.set_rubric(&id, &Rubric::standard()).await),
        (
            "scorecard",
            store.put_scorecard(&id, &scorecard(later)).await.map(drop),
        ),
        (
            "interview",
            store
                .set_interview(&id, &crate::interview::Interview::lobby())
                .await,
        ),
    ]
}

/// A draft scorecard, as `every_write` and the review test write it.
fn scorecard(at: chrono::DateTime<chrono::Utc>) -> Scorecard {
    let author = crate::scorecards::AuthorId::parse("ada").expect("an author id");
    Scorecard::write(None, (author, "Ada".into()), Default::default(), false, at)
        .expect("a first draft")
}

/// What the writes above leave in the database: the session's row and every row of it.
async fn rows_of(db: &tokio_postgres::Client, id: SessionId) -> String {
    let row = db
        .query_one(
            "SELECT row_to_json(s)::text
               || (SELECT count(*) FROM updates WHERE session_id = $1)
               || (SELECT count(*) FROM events WHERE session_id = $1)
               || (SELECT count(*) FROM runs WHERE session_id = $1)
               || (SELECT count(*) FROM session_questions WHERE session_id = $1)
               || (SELECT count(*) FROM test_runs WHERE session_id = $1)
               || (SELECT count(*) FROM session_rubrics WHERE session_id = $1)
               || (SELECT count(*) FROM scorecards WHERE session_id = $1)
             FROM sessions s WHERE id = $1",
            &[&id.0],
        )
        .await
        .expect("the session's rows");
    row.get(0)
}

#[tokio::test]
async fn a_write_at_a_lease_taken_over_or_held_elsewhere_is_fenced_and_changes_nothing() {
    let url = scratch().await;
    let held = Arc::new(Held::default());
    let me = Uuid::new_v4();
    let store = PgStore::connect(&url, 2)
        .await
        .expect("connect")
        .with_leases(held.clone());
    let db = psql(&url).await;

    let id = SessionId(Uuid::new_v4());
    held.hold(
        id,
        Lease {
            replica: me,
            epoch: 1,
        },
    );
    store.insert_session(&session(id)).await.expect("insert");
    let lease = db
        .query_one(
            "SELECT replica, epoch FROM session_leases WHERE session_id = $1",
            &[&id.0],
        )
        .await
        .expect("the lease went in with the session");
    assert_eq!((lease.get::<_, Uuid>(0), lease.get::<_, i64>(1)), (me, 1));
    for (write, result) in every_write(&store, id).await {
        result.unwrap_or_else(|e| panic!("{write} at the lease held: {e}"));
    }

    // Another replica takes the session over: the lease moves to epoch 2.
    db.execute(
        "UPDATE session_leases SET epoch = 2 WHERE session_id = $1",
        &[&id.0],
    )
    .await
    .expect("takeover");
    let before = rows_of(&db, id).await;
    for (write, result) in every_write(&store, id).await {
        assert!(
            matches!(result, Err(StoreError::Fenced)),
            "{write}: {result:?}"
        );
    }
    assert_eq!(
        rows_of(&db, id).await,
        before,
        "a fenced write changed nothing"
    );

    // A lease at the right epoch but of another replica, and no lease held here at all.
    held.hold(
        id,
        Lease {
            replica: Uuid::new_v4(),
            epoch: 2,
        },
    );
    for (write, result) in every_write(&store, id).await {
        assert!(
            matches!(result, Err(StoreError::Fenced)),
            "{write}: {result:?}"
        );
    }
    let other = SessionId(Uuid::new_v4());
    store
        .insert_session(&session(other))
        .await
        .expect("a session with no lease held");
    for (write, result) in every_write(&store, other).await {
        assert!(
            matches!(result, Err(StoreError::Fenced)),
            "{write}: {result:?}"
        );
    }
    assert_eq!(rows_of(&db, id).await, before);
}

/// Nobody holds an ended session: its review (scorecards, and the events recorded of them)
/// is written without a lease, while its live rows stay fenced; a live session held
/// elsewhere takes neither.
#[tokio::test]
async fn an_ended_sessions_review_is_written_without_a_lease_and_nothing_else_is() {
    let url = scratch().await;
    let store = PgStore::connect(&url, 2)
        .await
        .expect("connect")
        .with_leases(Arc::new(Held::default()));
    let db = psql(&url).await;
    let (ended, live) = (SessionId(Uuid::new_v4()), SessionId(Uuid::new_v4()));
    for (id, status) in [(ended, Status::Stopped), (live, Status::Ready)] {
        let mut record = session(id);
        record.status = status;
        store
            .insert_session(&record)
            .await
            .expect("no lease to claim");
    }
    let event = |id| EventRecord {
        id: Uuid::new_v4(),
        session_id: id,
        kind: "scorecard.submitted".into(),
        at: now(),
        data: serde_json::json!({}),
    };
    assert!(store
        .put_scorecard(&ended, &scorecard(now()))
        .await
        .expect("review"));
    store.insert_event(&event(ended)).await.expect("its event");
    assert_eq!(store.scorecards(&ended).await.expect("read").len(), 1);
    let fenced = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Fenced));
    assert!(
        fenced(store.set_notes(&ended, "late").await),
        "live rows stay fenced"
    );
    let before = rows_of(&db, live).await;
    assert!(fenced(
        store
            .put_scorecard(&live, &scorecard(now()))
            .await
            .map(drop)
    ));
    assert!(fenced(store.insert_event(&event(live)).await.map(drop)));
    assert_eq!(rows_of(&db, live).await, before);
}

/// Statements one `append_updates` of `updates` updates sends, counted by the store's own
/// counter (`livecode_store_statements_total`), once its statements are prepared.
fn statements_to_append(updates: usize, leases: bool) -> u64 {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let sent = || -> u64 {
        let text = handle.render();
        text.lines()
            .find_map(|l| l.strip_prefix("livecode_store_statements_total{store=\"postgres\"} "))
            .map_or(0, |n| n.parse().expect("a count"))
    };
    // One thread, so that the recorder is the one every statement is counted on.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let held = Arc::new(Held::default());
            let mut store = PgStore::connect(&scratch().await, 1)
                .await
                .expect("connect");
            if leases {
                store = store.with_leases(held.clone());
            }
            let id = SessionId(Uuid::new_v4());
            held.hold(
                id,
                Lease {
                    replica: Uuid::new_v4(),
                    epoch: 1,
                },
            );
            store.insert_session(&session(id)).await.expect("insert");
            let batch = |from: usize| -> Vec<UpdateRecord> {
                (from..from + updates)
                    .map(|v| UpdateRecord {
                        version: v as u64,
                        ..update(now())
                    })
                    .collect()
            };
            store
                .append_updates(&id, &batch(0), "x", updates as u64)
                .await
                .expect("append");
            let before = sent();
            store
                .append_updates(&id, &batch(updates), "xx", 2 * updates as u64)
                .await
                .expect("append");
            sent() - before
        })
    })
}

#[test]
fn appending_updates_costs_the_same_few_statements_however_many() {
    for updates in [1, 10] {
        // BEGIN, the updates' INSERT, the document's UPDATE, COMMIT; and the lease check.
        assert_eq!(statements_to_append(updates, false), 4, "{updates} updates");
        assert_eq!(
            statements_to_append(updates, true),
            5,
            "{updates} updates, leases"
        );
    }
}

/// NUL, which PostgreSQL's text cannot hold, is kept as U+FFFD: a program may print it.
#[tokio::test]
async fn nul_in_output_and_documents_is_kept_as_a_replacement_character() {
    let store = Place::postgres().await.open().await;
    let id = SessionId(Uuid::new_v4());
    let mut s = session(id);
    s.document = "a\0b".into();
    s.files = BTreeMap::from([(crate::store::tests::path("in.txt"), "\0".to_string())]);
    store.insert_session(&s).await.expect("insert");
    let got = store.get_session(&id).await.expect("get").expect("present");
    assert_eq!(got.document, "a\u{fffd}b");
    assert_eq!(
        got.files.values().next().map(String::as_str),
        Some("\u{fffd}")
    );
    let run = started_run(id, s.created_at);
    store.insert_run(&run).await.expect("run");
    let mut result = crate::store::tests::finished(&run, "\0\0".into(), String::new());
    result.summary.exit_code = Some(0);
    store
        .finish_run(&id, &result, 20)
        .await
        .expect("a run that printed NUL is stored");
    let runs = store.runs(&id).await.expect("runs");
    let stdout = runs[0].result.as_ref().map(|r| r.stdout.as_str());
    assert_eq!(stdout, Some("\u{fffd}\u{fffd}"));
}
