//! Templates, a session's way through one, and test reports kept per question.

use super::*;
use crate::templates::{NewTemplate, Progress};

pub fn template(questions: &[uuid::Uuid]) -> crate::templates::Template {
    let questions: Vec<_> = questions
        .iter()
        .map(|q| serde_json::json!({"question_id": q, "minutes": 10}))
        .collect();
    let new: NewTemplate =
        serde_json::from_value(serde_json::json!({"name": "Loop é", "questions": questions}))
            .expect("a template");
    let mut t = new.validate().expect("valid");
    t.created_at = now();
    t
}

pub async fn templates_and_a_sessions_way_through_one_read_back(place: Place) {
    let store = place.open().await;
    let (q1, q2) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let (a, b) = (template(&[q1, q2]), template(&[q2]));
    store.insert_template(&a, "key").await.expect("insert");
    store
        .insert_template(&b, "ip:10.0.0.1")
        .await
        .expect("insert");
    assert_eq!(
        store.get_template(&a.template_id).await.expect("get"),
        Some(a.clone())
    );
    assert_eq!(store.get_template(&q1).await.expect("get"), None);
    let all = ListPage {
        created_by: None,
        limit: 10,
        offset: 0,
    };
    assert_eq!(
        store.list_templates(&all).await.expect("list"),
        vec![b.clone(), a.clone()]
    );
    let mine = ListPage {
        created_by: Some("key".into()),
        ..all
    };
    assert_eq!(
        store.list_templates(&mine).await.expect("list"),
        vec![a.clone()]
    );

    let id = SessionId(uuid::Uuid::new_v4());
    store.insert_session(&session(id)).await.expect("session");
    assert_eq!(store.session_template(&id).await.expect("none"), None);
    let mut progress = Progress::new(&a, vec!["One".into(), "Two é".into()], now());
    store
        .set_session_template(&id, &progress)
        .await
        .expect("set");
    assert_eq!(
        store.session_question(&id).await.expect("question"),
        Some(q1)
    );
    progress.codes.insert(
        q1,
        [("python".to_string(), "print('🎉')\n".to_string())].into(),
    );
    progress.move_to(1, now()).expect("there");
    store
        .set_session_template(&id, &progress)
        .await
        .expect("moved");
    // Opened again: what a restarted server or a takeover finds.
    let store = place.open().await;
    assert_eq!(
        store.session_template(&id).await.expect("read"),
        Some(progress)
    );
    assert_eq!(
        store.session_question(&id).await.expect("question"),
        Some(q2),
        "the current question moves with the template's"
    );
}

pub async fn test_reports_are_listed_per_question(place: Place) {
    let store = place.open().await;
    let id = SessionId(uuid::Uuid::new_v4());
    let s = session(id);
    store.insert_session(&s).await.expect("session");
    let (q1, q2) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let reports: Vec<_> = [q1, q2, q1]
        .into_iter()
        .map(|q| super::kept::report(q, s.created_at))
        .collect();
    for r in &reports {
        store.insert_test_report(&id, r, 10).await.expect("report");
    }
    let (of_q1, total) = store.test_reports(&id, Some(q1), 10, 0).await.expect("q1");
    assert_eq!(
        (of_q1, total),
        (vec![reports[0].clone(), reports[2].clone()], 2)
    );
    let (of_q2, total) = store.test_reports(&id, Some(q2), 10, 0).await.expect("q2");
    assert_eq!((of_q2, total), (vec![reports[1].clone()], 1));
    let (page, total) = store.test_reports(&id, Some(q1), 1, 1).await.expect("page");
    assert_eq!((page, total), (vec![reports[2].clone()], 2));
    assert_eq!(
        store.test_reports(&id, None, 10, 0).await.expect("all").1,
        3
    );
}
