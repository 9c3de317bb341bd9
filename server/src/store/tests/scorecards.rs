//! A session's rubric and its scorecards: one per author, a draft until submitted, and a
//! submitted one never overwritten.

use super::*;
use crate::scorecards::{
    AuthorId, Rating, Recommendation, Rubric, Scale, Scorecard, ScorecardInput, ScorecardState,
};

pub async fn scorecards_are_one_per_author_and_a_submitted_one_stays(place: Place) {
    let store = place.open().await;
    let (a, b) = (
        SessionId(uuid::Uuid::new_v4()),
        SessionId(uuid::Uuid::new_v4()),
    );
    store.insert_session(&session(a)).await.expect("insert");
    assert_eq!(store.rubric(&a).await.expect("rubric"), None);
    let mut rubric = Rubric::standard();
    rubric.criteria[0].scale = Scale { min: 0, max: 10 };
    store.set_rubric(&a, &rubric).await.expect("set");

    let card = |who: &str, score: u8, submit: bool, previous: Option<&Scorecard>| {
        let content = ScorecardInput {
            ratings: [(
                "Testing".to_string(),
                Rating {
                    score: Some(score),
                    comment: "tested the empty list — ✓".into(),
                },
            )]
            .into(),
            comment: format!("{who} overall"),
            recommendation: Some(Recommendation::StrongYes),
        };
        let author = (AuthorId::parse(who).expect("id"), format!("{who} name"));
        Scorecard::write(previous, author, content, submit, now()).expect("written")
    };
    let ada = card("ada", 2, false, None);
    assert!(store.put_scorecard(&a, &ada).await.expect("draft"));
    let bob = card("bob", 3, true, None);
    assert!(store.put_scorecard(&a, &bob).await.expect("bob's"));
    let ada_sent = card("ada", 4, true, Some(&ada));
    assert!(store.put_scorecard(&a, &ada_sent).await.expect("sent"));
    // A write over a submitted card is refused whole.
    let late = card("ada", 1, false, None);
    assert!(!store.put_scorecard(&a, &late).await.expect("refused"));

    // A restarted server finds the same.
    drop(store);
    let store = place.open().await;
    assert_eq!(store.rubric(&a).await.expect("rubric"), Some(rubric));
    let got = store.scorecards(&a).await.expect("cards");
    assert_eq!(
        got,
        [ada_sent.clone(), bob],
        "oldest first, Ada's first save kept its start"
    );
    assert_eq!(got[0].state, ScorecardState::Submitted);
    assert_eq!(got[0].created_at, ada.created_at);
    assert!(store.scorecards(&b).await.expect("none").is_empty());
}
