//! What each store keeps of a session's interview: its stage, mode and clock's times, written
//! whole and read back as last written, across a reopening.

use super::{now, session, Place};
use crate::interview::{Interview, Stage};
use crate::model::SessionId;

pub async fn an_interview_reads_back_as_it_was_last_written(place: Place) {
    let store = place.open().await;
    let a = SessionId(uuid::Uuid::new_v4());
    store.insert_session(&session(a)).await.expect("insert");
    assert_eq!(store.interview(&a).await.expect("read"), None, "none yet");
    let t0 = now();
    let mut interview = Interview::take_home(5400, t0 + chrono::Duration::days(3));
    store.set_interview(&a, &interview).await.expect("made");
    assert_eq!(
        store.interview(&a).await.expect("read"),
        Some(interview.clone())
    );
    // Opened, then submitted with the clock hidden: every field is rewritten.
    interview.stage = Stage::Submitted;
    interview.started_at = Some(t0);
    interview.submitted_at = Some(t0 + chrono::Duration::minutes(90));
    interview.clock_hidden = true;
    store
        .set_interview(&a, &interview)
        .await
        .expect("submitted");
    drop(store);
    let store = place.open().await;
    assert_eq!(store.interview(&a).await.expect("read"), Some(interview));
    let other = SessionId(uuid::Uuid::new_v4());
    assert_eq!(store.interview(&other).await.expect("read"), None);
}
