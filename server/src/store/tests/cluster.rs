//! What a cluster asks of the store beyond one server: the webhook's outbox (events not yet
//! delivered) and a caller's sessions counted over every replica.

use super::*;

pub async fn undelivered_events_are_the_outbox_until_marked(place: Place) {
    let store = place.open().await;
    let (a, b) = (
        SessionId(uuid::Uuid::new_v4()),
        SessionId(uuid::Uuid::new_v4()),
    );
    let event = |session_id, kind: &str| EventRecord {
        id: uuid::Uuid::new_v4(),
        session_id,
        kind: kind.into(),
        at: now(),
        data: serde_json::json!({}),
    };
    let trail = [
        event(a, "session.created"),
        event(a, "run.finished"),
        event(a, "session.ended"),
    ];
    for e in &trail {
        store.insert_event(e).await.expect("event");
    }
    store
        .insert_event(&event(b, "session.created"))
        .await
        .expect("b's");
    assert_eq!(store.undelivered_events(&a).await.expect("outbox"), trail);
    store.mark_delivered(&trail[0].id).await.expect("mark");
    store.mark_delivered(&trail[2].id).await.expect("mark");
    assert_eq!(
        store.undelivered_events(&a).await.expect("outbox"),
        [trail[1].clone()],
        "only what was not delivered, in order"
    );
    // Every event stays in the trail, delivered or not.
    assert_eq!(store.events(&a).await.expect("events"), trail);
}

pub async fn a_callers_live_and_recent_sessions_are_counted(place: Place) {
    let store = place.open().await;
    let t0 = now();
    let made = |by: &str, status: Status, minutes_ago: i64| {
        let mut s = session(SessionId(uuid::Uuid::new_v4()));
        s.created_by = by.into();
        s.status = status;
        s.created_at = t0 - chrono::Duration::minutes(minutes_ago);
        s
    };
    for s in [
        made("key", Status::Ready, 0),
        made("key", Status::Executing, 5),
        made("key", Status::Stopped, 0),
        made("key", Status::Expired, 10),
        made("ip:10.0.0.1", Status::Ready, 0),
    ] {
        store.insert_session(&s).await.expect("insert");
    }
    let since = t0 - chrono::Duration::minutes(1);
    assert_eq!(
        store.count_sessions("key", since).await.expect("count"),
        (2, 2)
    );
    assert_eq!(
        store
            .count_sessions("ip:10.0.0.1", since)
            .await
            .expect("count"),
        (1, 1)
    );
    assert_eq!(
        store.count_sessions("nobody", since).await.expect("count"),
        (0, 0)
    );
}
