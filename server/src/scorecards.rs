//! Scorecards: a session's [`Rubric`] (criteria, each on a bounded scale) and each
//! interviewer's [`Scorecard`] against it (a rating and a comment per criterion, an overall
//! comment and [`Recommendation`]), checked here once, before anything is stored. A scorecard
//! is a draft until it is submitted; a submitted one never changes.
//!
//! Interviewers share one token, so a scorecard's author is not the credential: it is an
//! [`AuthorId`] the writer brings (the page keeps one per browser; a platform passes its own
//! user id), with a display name beside it. Anyone holding the interviewer token could write
//! under another author's id, as they could edit the notes: the token is the trust boundary,
//! the author id only keeps interviewers' cards apart.
//!
//! It does not decide who may see scorecards (`Role::keeps_scorecards`) nor until when they
//! may be written (`sessions.scorecard_window_seconds`, in `session`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Criteria a rubric has at most.
pub const MAX_CRITERIA: usize = 20;
/// Authors a session takes scorecards from (author ids are the writer's to choose: bounded).
pub const MAX_AUTHORS: usize = 20;
/// Characters of a criterion's name at most.
pub const NAME_CHARS: usize = 100;
/// Characters of a criterion's description, or of an author's display name, at most.
pub const DESCRIPTION_CHARS: usize = 1000;
/// Characters of one comment at most.
pub const COMMENT_CHARS: usize = 10_000;
/// The highest a scale may reach.
pub const MAX_SCALE: u8 = 10;

/// What interviewers rate a candidate on: 1 to 20 criteria with unique names.
// Checked by `validate` where it enters (a session's creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rubric {
    /// In the order the page shows them; names are unique.
    pub criteria: Vec<Criterion>,
}

/// One thing a candidate is rated on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Unique in its rubric; ratings name their criterion by it.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub scale: Scale,
}

/// The whole numbers a criterion is rated in, both ends included (`0 <= min < max <= 10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    pub min: u8,
    pub max: u8,
}

impl Rubric {
    /// The rubric of a session created without one: four criteria, each rated 1 to 4.
    pub fn standard() -> Self {
        let criterion = |name: &str, description: &str| Criterion {
            name: name.into(),
            description: Some(description.into()),
            scale: Scale { min: 1, max: 4 },
        };
        Rubric {
            criteria: vec![
                criterion(
                    "Problem solving",
                    "Understands the problem, finds an approach, handles the edge cases.",
                ),
                criterion("Code quality", "Readable, well-structured, idiomatic code."),
                criterion("Testing", "Checks the code works, with cases that matter."),
                criterion(
                    "Communication",
                    "Explains their thinking, asks, takes hints.",
                ),
            ],
        }
    }

    /// Whether this rubric can be used: 1 to [`MAX_CRITERIA`] criteria with unique, non-empty
    /// names and scales within bounds.
    pub fn validate(&self) -> Result<(), ScorecardError> {
        if self.criteria.is_empty() || self.criteria.len() > MAX_CRITERIA {
            return invalid(format!(
                "a rubric has 1 to {MAX_CRITERIA} criteria; this one has {}",
                self.criteria.len()
            ));
        }
        for (i, c) in self.criteria.iter().enumerate() {
            let name = c.name.trim();
            if name.is_empty() || c.name.chars().count() > NAME_CHARS || name != c.name {
                return invalid(format!(
                    "criterion {i}: a name is 1 to {NAME_CHARS} characters, without spaces around it"
                ));
            }
            if self.criteria[..i].iter().any(|o| o.name == c.name) {
                return invalid(format!("criterion {i}: '{}' is named twice", c.name));
            }
            if c.description.as_ref().map_or(0, |d| d.chars().count()) > DESCRIPTION_CHARS {
                return invalid(format!(
                    "criterion '{}': a description is at most {DESCRIPTION_CHARS} characters",
                    c.name
                ));
            }
            let Scale { min, max } = c.scale;
            if min >= max || max > MAX_SCALE {
                return invalid(format!(
                    "criterion '{}': a scale is 0 <= min < max <= {MAX_SCALE}; this one is {min} to {max}",
                    c.name
                ));
            }
        }
        Ok(())
    }

    fn criterion(&self, name: &str) -> Option<&Criterion> {
        self.criteria.iter().find(|c| c.name == name)
    }
}

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recommendation {
    StrongNo,
    No,
    Yes,
    StrongYes,
}

/// One criterion's rating: a score on its scale (none yet in a draft) and a comment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    #[serde(default)]
    pub score: Option<u8>,
    #[serde(default)]
    pub comment: String,
}

/// What an interviewer writes on a scorecard (to save it as a draft, or to submit it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScorecardInput {
    /// By criterion name; criteria not named here are not rated yet.
    #[serde(default)]
    pub ratings: BTreeMap<String, Rating>,
    /// The overall comment.
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub recommendation: Option<Recommendation>,
}

impl ScorecardInput {
    /// Whether this fits `rubric`: every rating names a criterion and is on its scale, the
    /// comments are within bounds. To submit, every criterion is scored and the
    /// recommendation given.
    pub fn check(&self, rubric: &Rubric, submit: bool) -> Result<(), ScorecardError> {
        for (name, rating) in &self.ratings {
            let Some(criterion) = rubric.criterion(name) else {
                return invalid(format!(
                    "no criterion named '{}' in this session's rubric",
                    name.chars().take(NAME_CHARS).collect::<String>()
                ));
            };
            let Scale { min, max } = criterion.scale;
            if let Some(score) = rating.score.filter(|s| !(min..=max).contains(s)) {
                return invalid(format!(
                    "'{name}' is rated {min} to {max}; {score} is outside that"
                ));
            }
            over_long(&format!("the comment on '{name}'"), &rating.comment)?;
        }
        over_long("the overall comment", &self.comment)?;
        if submit {
            let unscored = rubric
                .criteria
                .iter()
                .find(|c| self.ratings.get(&c.name).and_then(|r| r.score).is_none());
            if let Some(c) = unscored {
                return invalid(format!("rate '{}' before submitting", c.name));
            }
            if self.recommendation.is_none() {
                return invalid("give a recommendation before submitting".into());
            }
        }
        Ok(())
    }
}

/// Who wrote a scorecard: 1 to 64 characters of `A-Z a-z 0-9 _ - .`, chosen by the writer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(transparent)]
pub struct AuthorId(String);

impl AuthorId {
    pub fn parse(raw: &str) -> Result<Self, ScorecardError> {
        let fits = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
        if raw.is_empty() || raw.len() > 64 || !raw.chars().all(fits) {
            return invalid("an author id is 1 to 64 characters of A-Z a-z 0-9 _ - .".into());
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a scorecard may still change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScorecardState {
    Draft,
    Submitted,
}

impl ScorecardState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Submitted]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One interviewer's scorecard, as stored and shown to interviewers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Scorecard {
    pub author_id: AuthorId,
    /// The display name the author wrote under (the last one they saved with).
    pub author_name: String,
    /// By criterion name.
    pub ratings: BTreeMap<String, Rating>,
    /// The overall comment.
    pub comment: String,
    pub recommendation: Option<Recommendation>,
    pub state: ScorecardState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
}

impl Scorecard {
    /// `previous` (this author's card so far, if any) with `content` written at `now`: a draft,
    /// or submitted when `submit`. A submitted card is refused. `content` is checked already.
    pub fn write(
        previous: Option<&Scorecard>,
        (author_id, author_name): (AuthorId, String),
        content: ScorecardInput,
        submit: bool,
        now: DateTime<Utc>,
    ) -> Result<Self, ScorecardError> {
        if previous.is_some_and(|p| p.state == ScorecardState::Submitted) {
            return Err(ScorecardError::Submitted);
        }
        Ok(Self {
            author_id,
            author_name: author_name.chars().take(DESCRIPTION_CHARS).collect(),
            ratings: content.ratings,
            comment: content.comment,
            recommendation: content.recommendation,
            state: match submit {
                true => ScorecardState::Submitted,
                false => ScorecardState::Draft,
            },
            created_at: previous.map_or(now, |p| p.created_at),
            updated_at: now,
            submitted_at: submit.then_some(now),
        })
    }
}

impl Scorecard {
    /// What its author wrote on it (as the store keeps it, in one column).
    pub fn content(&self) -> ScorecardInput {
        ScorecardInput {
            ratings: self.ratings.clone(),
            comment: self.comment.clone(),
            recommendation: self.recommendation,
        }
    }
}

/// A scorecard or rubric refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScorecardError {
    #[error("{0}")]
    Invalid(String),
    #[error("this scorecard is submitted; it cannot change")]
    Submitted,
    #[error("scorecards of this session closed at {0} (sessions.scorecard_window_seconds after its end)")]
    Closed(DateTime<Utc>),
}

fn invalid<T>(message: String) -> Result<T, ScorecardError> {
    Err(ScorecardError::Invalid(message))
}

fn over_long(what: &str, text: &str) -> Result<(), ScorecardError> {
    match text.chars().count() > COMMENT_CHARS {
        true => invalid(format!("{what} is over {COMMENT_CHARS} characters")),
        false => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rated(pairs: &[(&str, u8)]) -> ScorecardInput {
        ScorecardInput {
            ratings: pairs
                .iter()
                .map(|(n, s)| {
                    (
                        n.to_string(),
                        Rating {
                            score: Some(*s),
                            comment: String::new(),
                        },
                    )
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_standard_rubric_is_valid() {
        Rubric::standard().validate().expect("valid");
    }

    #[test]
    fn rubrics_are_refused_with_the_reason() {
        let mut r = Rubric::standard();
        r.criteria[1].name = r.criteria[0].name.clone();
        assert!(matches!(r.validate(), Err(ScorecardError::Invalid(m)) if m.contains("twice")));
        let mut r = Rubric::standard();
        r.criteria[0].scale = Scale { min: 3, max: 3 };
        assert!(matches!(r.validate(), Err(ScorecardError::Invalid(m)) if m.contains("scale")));
        let mut r = Rubric::standard();
        r.criteria[0].scale.max = MAX_SCALE + 1;
        assert!(r.validate().is_err());
        assert!(Rubric { criteria: vec![] }.validate().is_err());
        let mut r = Rubric::standard();
        r.criteria[0].name = " padded".into();
        assert!(r.validate().is_err());
    }

    #[test]
    fn a_draft_may_be_partial_but_a_submission_is_whole() {
        let rubric = Rubric::standard();
        let partial = rated(&[("Testing", 2)]);
        partial.check(&rubric, false).expect("a partial draft");
        assert!(partial.check(&rubric, true).is_err());
        let mut whole = rated(&[
            ("Problem solving", 4),
            ("Code quality", 3),
            ("Testing", 1),
            ("Communication", 2),
        ]);
        assert!(whole.check(&rubric, true).is_err(), "no recommendation yet");
        whole.recommendation = Some(Recommendation::Yes);
        whole.check(&rubric, true).expect("whole");
    }

    #[test]
    fn ratings_stay_on_their_scale_and_name_a_criterion() {
        let rubric = Rubric::standard();
        assert!(rated(&[("Testing", 5)]).check(&rubric, false).is_err());
        assert!(rated(&[("Testing", 0)]).check(&rubric, false).is_err());
        assert!(rated(&[("Typing speed", 2)]).check(&rubric, false).is_err());
        let long = ScorecardInput {
            comment: "x".repeat(COMMENT_CHARS + 1),
            ..Default::default()
        };
        assert!(long.check(&rubric, false).is_err());
    }

    #[test]
    fn a_submitted_card_does_not_change_and_keeps_its_start() {
        let (t0, t1) = (Utc::now(), Utc::now() + chrono::Duration::seconds(5));
        let author = || (AuthorId::parse("a-1").expect("id"), "Ada".to_string());
        let draft = Scorecard::write(None, author(), rated(&[]), false, t0).expect("draft");
        let done = Scorecard::write(Some(&draft), author(), rated(&[]), true, t1).expect("sent");
        assert_eq!((done.created_at, done.submitted_at), (t0, Some(t1)));
        assert_eq!(
            Scorecard::write(Some(&done), author(), rated(&[]), false, t1),
            Err(ScorecardError::Submitted)
        );
    }

    #[test]
    fn author_ids_are_short_and_plain() {
        assert!(AuthorId::parse("b7f3c2e1-4a").is_ok());
        for bad in ["", "a b", "é", &"x".repeat(65)] {
            assert!(AuthorId::parse(bad).is_err(), "{bad}");
        }
    }
}
