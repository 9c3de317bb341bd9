//! Interview templates: an ordered list of questions (the existing resource), each with an
//! optional suggested time, which is also its limit on the question's clock. And a session's
//! way through one ([`Progress`]): the question now, the furthest reached, when the current
//! one started, and the code each question left behind; what each role may see of it
//! (candidates and observers: only the questions reached so far).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Role;
use crate::scorecards::Rubric;

/// Bounds on a template: every question's code is kept per language while a session lives.
pub const MAX_QUESTIONS: usize = 20;
pub const MAX_NAME_CHARS: usize = 200;
/// A question's suggested time, in minutes: 1 to 8 hours.
pub const MIN_MINUTES: u32 = 1;
pub const MAX_MINUTES: u32 = 480;
/// The warning comes this long before a question's time is up, or at 20% of its time left
/// when that is shorter.
pub const WARNING_SECONDS: i64 = 120;

/// A template as created (`POST /templates`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    pub name: String,
    /// In the order the interview takes them; 1 to [`MAX_QUESTIONS`].
    pub questions: Vec<TemplateQuestion>,
    /// Sessions made from it wait in a lobby until Start, unless `POST /sessions` says
    /// otherwise (a take-home never does). Default false.
    #[serde(default)]
    pub lobby: bool,
    /// What interviewers' scorecards rate in its sessions, unless `POST /sessions` gives one;
    /// none: the standard rubric.
    #[serde(default)]
    pub rubric: Option<Rubric>,
}

/// One question of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateQuestion {
    pub question_id: Uuid,
    /// The suggested time, and the question's limit on the clock (a warning before it runs
    /// out, a notice at it); none: no limit.
    #[serde(default)]
    pub minutes: Option<u32>,
}

/// A stored template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Template {
    pub template_id: Uuid,
    pub name: String,
    pub questions: Vec<TemplateQuestion>,
    #[serde(default)]
    pub lobby: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rubric: Option<Rubric>,
    pub created_at: DateTime<Utc>,
}

impl NewTemplate {
    /// The template, checked in itself (that its questions exist is the caller's to ask).
    pub fn validate(self) -> Result<Template, String> {
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(format!("name must be 1 to {MAX_NAME_CHARS} characters"));
        }
        if self.questions.is_empty() || self.questions.len() > MAX_QUESTIONS {
            return Err(format!(
                "questions must list 1 to {MAX_QUESTIONS} questions"
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, q) in self.questions.iter().enumerate() {
            // A question's code is kept by its id: one question is in a template once.
            if !seen.insert(q.question_id) {
                return Err(format!(
                    "questions[{i}]: question {} is in the template twice",
                    q.question_id
                ));
            }
            if q.minutes
                .is_some_and(|m| !(MIN_MINUTES..=MAX_MINUTES).contains(&m))
            {
                return Err(format!(
                    "questions[{i}].minutes must be {MIN_MINUTES} to {MAX_MINUTES}"
                ));
            }
        }
        if let Some(rubric) = &self.rubric {
            rubric.validate().map_err(|e| format!("rubric: {e}"))?;
        }
        Ok(Template {
            template_id: Uuid::new_v4(),
            name,
            questions: self.questions,
            lobby: self.lobby,
            rubric: self.rubric,
            created_at: Utc::now(),
        })
    }
}

/// One question on a session's way through its template: its title is kept, so that the
/// navigator needs no look-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub question_id: Uuid,
    pub title: String,
    pub minutes: Option<u32>,
}

/// A session's way through its template, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub template_id: Uuid,
    pub name: String,
    pub steps: Vec<Step>,
    /// The question now (an index into `steps`).
    pub current: usize,
    /// The furthest question reached.
    pub reached: usize,
    /// The questions reached so far, the current one among them: what candidates and
    /// observers see (a jump from the first to the third does not show the second). The
    /// interview's Start forgets the lobby's moves: only the question it starts on is reached.
    #[serde(default)]
    pub visited: BTreeSet<usize>,
    /// When the current question became current (or was restarted): its clock.
    pub question_started_at: DateTime<Utc>,
    /// The code each question left, by question and language (the current question's is the
    /// session's document and its other languages' documents).
    #[serde(default)]
    pub codes: BTreeMap<Uuid, BTreeMap<String, String>>,
}

/// Where a question's clock is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionTime {
    /// Little time is left (`warn_at` is past).
    Warning,
    /// The question's time is up.
    TimesUp,
}

impl Progress {
    /// A session's start on `template`, whose questions are titled `titles`, at `now`.
    pub fn new(template: &Template, titles: Vec<String>, now: DateTime<Utc>) -> Self {
        Self {
            template_id: template.template_id,
            name: template.name.clone(),
            steps: template
                .questions
                .iter()
                .zip(titles)
                .map(|(q, title)| Step {
                    question_id: q.question_id,
                    title,
                    minutes: q.minutes,
                })
                .collect(),
            current: 0,
            reached: 0,
            visited: BTreeSet::from([0]),
            question_started_at: now,
            codes: BTreeMap::new(),
        }
    }

    /// All but the codes kept: what views and events need.
    pub fn outline(&self) -> Self {
        Self {
            template_id: self.template_id,
            name: self.name.clone(),
            steps: self.steps.clone(),
            current: self.current,
            reached: self.reached,
            visited: self.visited.clone(),
            question_started_at: self.question_started_at,
            codes: BTreeMap::new(),
        }
    }

    pub fn current_step(&self) -> &Step {
        &self.steps[self.current]
    }

    /// Moves to question `index`, whose clock starts `now`; `InvalidArgument`'s text when
    /// there is none.
    pub fn move_to(&mut self, index: usize, now: DateTime<Utc>) -> Result<(), String> {
        if index >= self.steps.len() {
            return Err(format!(
                "index must be below {} (the template's questions)",
                self.steps.len()
            ));
        }
        self.current = index;
        self.reached = self.reached.max(index);
        self.visited.insert(index);
        self.question_started_at = now;
        Ok(())
    }

    /// The interview starts on the current question: what the lobby's moves reached is
    /// forgotten, so candidates see only this one.
    pub fn start_here(&mut self, now: DateTime<Utc>) {
        self.reached = self.current;
        self.visited = BTreeSet::from([self.current]);
        self.question_started_at = now;
    }

    /// Whether question `index` was reached so far.
    pub fn was_reached(&self, index: usize) -> bool {
        self.visited.contains(&index)
    }

    /// When the current question's time is up, if it has a limit.
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        let minutes = self.current_step().minutes?;
        Some(self.question_started_at + chrono::Duration::minutes(minutes.into()))
    }

    /// When the warning for the current question comes: 2 minutes before its end, or at 20%
    /// of its time left when that is shorter.
    pub fn warn_at(&self) -> Option<DateTime<Utc>> {
        let ends_at = self.ends_at()?;
        let limit = (ends_at - self.question_started_at).num_seconds();
        Some(ends_at - chrono::Duration::seconds(WARNING_SECONDS.min(limit / 5)))
    }

    /// Where the current question's clock is at `now`.
    pub fn time(&self, now: DateTime<Utc>) -> Option<QuestionTime> {
        match (self.warn_at(), self.ends_at()) {
            (_, Some(end)) if now >= end => Some(QuestionTime::TimesUp),
            (Some(warn), _) if now >= warn => Some(QuestionTime::Warning),
            _ => None,
        }
    }

    /// Whether `role` may see question `index` (title, prompt, starters, cases).
    pub fn shows(&self, index: usize, role: Role) -> bool {
        index < self.steps.len() && (self.was_reached(index) || role.sees_unreached_questions())
    }

    /// What `role` sees of the session's way at `now`: every question for interviewers, the
    /// ones reached so far for others.
    /// With the interview's clock hidden from `role` (`clock_hidden`), the question's clock
    /// is left out too: its start is the interview's, and its end would tell the time.
    pub fn view(&self, role: Role, now: DateTime<Utc>, clock_hidden: bool) -> ProgressView {
        let clock = !clock_hidden || role.sees_hidden_clock();
        ProgressView {
            template_id: self.template_id,
            name: self.name.clone(),
            current: self.current,
            reached: self.reached,
            total: self.steps.len(),
            questions: self
                .steps
                .iter()
                .enumerate()
                .filter(|(i, _)| self.shows(*i, role))
                .map(|(index, s)| StepView {
                    index,
                    question_id: s.question_id,
                    title: s.title.clone(),
                    minutes: s.minutes,
                })
                .collect(),
            question_started_at: clock.then_some(self.question_started_at),
            ends_at: self.ends_at().filter(|_| clock),
            warn_at: self.warn_at().filter(|_| clock),
            time: self.time(now).filter(|_| clock),
        }
    }
}

/// A session's way through its template as one role sees it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProgressView {
    pub template_id: Uuid,
    pub name: String,
    /// The question now (an index into the template).
    pub current: usize,
    /// The furthest question reached so far.
    pub reached: usize,
    /// How many questions the template has.
    pub total: usize,
    /// Every question for interviewers; those reached so far for others.
    pub questions: Vec<StepView>,
    /// When the current question became current: its clock, from the server's stored time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question_started_at: Option<DateTime<Utc>>,
    /// When its time is up (absent: no limit).
    pub ends_at: Option<DateTime<Utc>>,
    /// When the warning comes (absent: no limit).
    pub warn_at: Option<DateTime<Utc>>,
    /// Where its clock is now (absent: running, or no limit).
    pub time: Option<QuestionTime>,
}

/// One question in the navigator.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StepView {
    pub index: usize,
    pub question_id: Uuid,
    pub title: String,
    pub minutes: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(questions: serde_json::Value) -> NewTemplate {
        serde_json::from_value(serde_json::json!({"name": "Loop", "questions": questions}))
            .expect("a template")
    }

    #[test]
    fn templates_are_checked() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let ok = new(serde_json::json!([{"question_id": a, "minutes": 20}, {"question_id": b}]));
        assert_eq!(ok.validate().expect("valid").questions.len(), 2);
        let err = |t: NewTemplate| t.validate().unwrap_err();
        assert!(err(new(serde_json::json!([]))).contains("1 to 20"));
        let many: Vec<_> = (0..21)
            .map(|_| serde_json::json!({"question_id": Uuid::new_v4()}))
            .collect();
        assert!(err(new(serde_json::json!(many))).contains("1 to 20"));
        assert!(err(new(
            serde_json::json!([{"question_id": a}, {"question_id": a}])
        ))
        .contains("questions[1]"));
        assert!(
            err(new(serde_json::json!([{"question_id": a, "minutes": 0}])))
                .contains("questions[0].minutes")
        );
        assert!(
            err(new(serde_json::json!([{"question_id": a, "minutes": 481}]))).contains("minutes")
        );
        let mut blank = new(serde_json::json!([{"question_id": a}]));
        blank.name = "  ".into();
        assert!(err(blank).contains("name"));
    }

    fn progress(minutes: [Option<u32>; 3]) -> Progress {
        let template = Template {
            template_id: Uuid::nil(),
            name: "Loop".into(),
            lobby: false,
            rubric: None,
            questions: minutes
                .iter()
                .map(|&minutes| TemplateQuestion {
                    question_id: Uuid::new_v4(),
                    minutes,
                })
                .collect(),
            created_at: Utc::now(),
        };
        let titles = vec!["One".into(), "Two".into(), "Three".into()];
        Progress::new(&template, titles, Utc::now())
    }

    #[test]
    fn candidates_see_only_the_questions_reached() {
        let mut p = progress([None, None, None]);
        let now = Utc::now();
        let titles = |p: &Progress, role| -> Vec<String> {
            p.view(role, now, false)
                .questions
                .into_iter()
                .map(|s| s.title)
                .collect()
        };
        assert_eq!(titles(&p, Role::Candidate), ["One"]);
        assert_eq!(titles(&p, Role::Observer), ["One"]);
        assert_eq!(titles(&p, Role::Interviewer), ["One", "Two", "Three"]);
        p.move_to(2, now).expect("there");
        p.move_to(0, now).expect("back");
        assert_eq!((p.current, p.reached), (0, 2));
        // A jump from the first to the third does not show the second.
        assert_eq!(titles(&p, Role::Candidate), ["One", "Three"]);
        assert!(p.move_to(3, now).is_err());
        assert!(!p.shows(3, Role::Interviewer));
        // Start forgets the lobby's moves: only the question it starts on is reached.
        p.move_to(1, now).expect("there");
        p.start_here(now);
        assert_eq!(titles(&p, Role::Candidate), ["Two"]);
        assert_eq!(titles(&p, Role::Interviewer), ["One", "Two", "Three"]);
    }

    #[test]
    fn a_hidden_clock_hides_the_questions_clock_from_the_candidate() {
        let p = progress([Some(30), None, None]);
        let now = Utc::now();
        let candidate = p.view(Role::Candidate, now, true);
        assert_eq!(
            (
                candidate.question_started_at,
                candidate.ends_at,
                candidate.warn_at
            ),
            (None, None, None)
        );
        let interviewer = p.view(Role::Interviewer, now, true);
        assert_eq!(interviewer.ends_at, p.ends_at());
        assert!(interviewer.question_started_at.is_some());
        assert_eq!(p.view(Role::Candidate, now, false).ends_at, p.ends_at());
    }

    #[test]
    fn a_question_warns_before_its_time_is_up() {
        let mut p = progress([Some(30), Some(5), None]);
        let t0 = p.question_started_at;
        let min = chrono::Duration::minutes;
        assert_eq!(p.ends_at(), Some(t0 + min(30)));
        assert_eq!(p.warn_at(), Some(t0 + min(28)));
        assert_eq!(p.time(t0 + min(27)), None);
        assert_eq!(p.time(t0 + min(28)), Some(QuestionTime::Warning));
        assert_eq!(p.time(t0 + min(30)), Some(QuestionTime::TimesUp));
        // A 5-minute question warns at one minute left (20%), its clock restarting with it.
        p.move_to(1, t0 + min(40)).expect("there");
        assert_eq!(p.warn_at(), Some(t0 + min(44)));
        assert_eq!(p.time(t0 + min(43)), None);
        p.move_to(2, t0 + min(50)).expect("there");
        assert_eq!((p.ends_at(), p.time(t0 + min(500))), (None, None));
    }
}
