//! Interview questions: a title, a Markdown prompt, starter code per environment and test cases
//! (stdin → expected stdout). What a test run found, and what each role may see of it: hidden
//! cases reach candidates only as counts, interviewers in full.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Role;
use crate::model::RunStatus;

/// Bounds on what one question may hold (it is read into every session that names it).
pub const MAX_CASES: usize = 100;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_PROMPT_BYTES: usize = 64 * 1024;
/// Each case's stdin and expected output.
pub const MAX_CASE_BYTES: usize = 256 * 1024;
/// What a result keeps of a case's stdin, expected and actual output and stderr (so that a
/// report of 100 cases stays well under a socket's queue).
pub const RESULT_OUTPUT_BYTES: usize = 8 * 1024;
/// A case's time limit when it names none, and the most it may name.
pub const DEFAULT_TIME_LIMIT_SECONDS: f64 = 10.0;

/// A question as created (`POST /questions`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQuestion {
    pub title: String,
    /// Markdown, shown beside the editor.
    #[serde(default)]
    pub prompt: String,
    /// Starter code by environment name; a session of that environment starts with it.
    #[serde(default)]
    pub starters: BTreeMap<String, String>,
    #[serde(default)]
    pub cases: Vec<NewCase>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    pub name: String,
    #[serde(default)]
    pub stdin: String,
    pub expected: String,
    /// Seconds; at most `limits.run_timeout_seconds`.
    pub time_limit_seconds: Option<f64>,
    /// Candidates see only whether hidden cases passed, as a count.
    #[serde(default)]
    pub hidden: bool,
    /// Compare byte for byte (by default trailing whitespace on each line, and trailing blank
    /// lines, are ignored).
    #[serde(default)]
    pub exact: bool,
}

/// A stored question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Question {
    pub question_id: Uuid,
    pub title: String,
    pub prompt: String,
    pub starters: BTreeMap<String, String>,
    pub cases: Vec<TestCase>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TestCase {
    pub name: String,
    pub stdin: String,
    pub expected: String,
    pub time_limit_seconds: f64,
    pub hidden: bool,
    pub exact: bool,
}

impl NewQuestion {
    /// The question, checked; `environments` are the names a starter may be for.
    pub fn validate(
        self,
        environments: &[String],
        max_time_limit: f64,
    ) -> Result<Question, String> {
        let title = self.title.trim().to_string();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            return Err(format!("title must be 1 to {MAX_TITLE_CHARS} characters"));
        }
        if self.prompt.len() > MAX_PROMPT_BYTES {
            return Err(format!("prompt is over {MAX_PROMPT_BYTES} bytes"));
        }
        for (env, code) in &self.starters {
            if !environments.contains(env) {
                return Err(format!("starters: no environment named '{env}'"));
            }
            if code.len() > MAX_PROMPT_BYTES {
                return Err(format!("starters.{env} is over {MAX_PROMPT_BYTES} bytes"));
            }
        }
        if self.cases.len() > MAX_CASES {
            return Err(format!("at most {MAX_CASES} cases"));
        }
        let mut names = std::collections::BTreeSet::new();
        let mut cases = Vec::with_capacity(self.cases.len());
        for (i, c) in self.cases.into_iter().enumerate() {
            let name = c.name.trim().to_string();
            if name.is_empty() || name.chars().count() > MAX_TITLE_CHARS {
                return Err(format!(
                    "cases[{i}].name must be 1 to {MAX_TITLE_CHARS} characters"
                ));
            }
            if !names.insert(name.clone()) {
                return Err(format!("cases[{i}]: two cases are named '{name}'"));
            }
            if c.stdin.len() > MAX_CASE_BYTES || c.expected.len() > MAX_CASE_BYTES {
                return Err(format!(
                    "cases[{i}]: stdin and expected are at most {MAX_CASE_BYTES} bytes each"
                ));
            }
            let time_limit = c.time_limit_seconds.unwrap_or(DEFAULT_TIME_LIMIT_SECONDS);
            if !(time_limit.is_finite() && time_limit > 0.0 && time_limit <= max_time_limit) {
                return Err(format!(
                    "cases[{i}].time_limit_seconds must be above 0 and at most {max_time_limit}"
                ));
            }
            cases.push(TestCase {
                name,
                stdin: c.stdin,
                expected: c.expected,
                time_limit_seconds: time_limit,
                hidden: c.hidden,
                exact: c.exact,
            });
        }
        Ok(Question {
            question_id: Uuid::new_v4(),
            title,
            prompt: self.prompt,
            starters: self.starters,
            cases,
            created_at: Utc::now(),
        })
    }
}

/// Does `actual` pass for `expected`? Unless `exact`, each line's trailing whitespace and the
/// trailing blank lines are ignored (a missing final newline is not a failure).
pub fn output_matches(expected: &str, actual: &str, exact: bool) -> bool {
    if exact {
        return expected == actual;
    }
    fn lines(text: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines
    }
    lines(expected) == lines(actual)
}

/// How one case came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    /// It ran to its end and printed something else.
    Failed,
    /// It did not run to its end: timeout, out of memory, killed, an error.
    Error,
    /// The build failed: nothing ran.
    CompileError,
    /// The test run stopped before this case (a failed build, a kill).
    NotRun,
}

/// One case's result, in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseResult {
    /// The case's place in the question.
    pub index: usize,
    pub name: String,
    pub hidden: bool,
    pub verdict: Verdict,
    /// How the program's run ended (absent when it did not run).
    pub status: Option<RunStatus>,
    pub exit_code: Option<i64>,
    pub duration_ms: u64,
    pub stdin: String,
    pub expected: String,
    /// What it printed (at most [`RESULT_OUTPUT_BYTES`]).
    pub actual: String,
    pub stderr: String,
    pub exact: bool,
}

/// A test run: every case of the session's question, run one after another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TestReport {
    pub tests_id: Uuid,
    pub question_id: Uuid,
    pub by: Role,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub passed: usize,
    pub total: usize,
    pub results: Vec<CaseResult>,
    /// Only the summary is kept: an older report (past `sessions.runs_kept_in_full` test runs
    /// of its session) keeps each case's verdict, status and time, not its texts.
    #[serde(default)]
    pub summary_only: bool,
}

impl TestReport {
    /// The report as kept once it is old: each case's verdict, status and time, no texts.
    pub fn summary(mut self) -> Self {
        for r in &mut self.results {
            r.stdin.clear();
            r.expected.clear();
            r.actual.clear();
            r.stderr.clear();
        }
        self.summary_only = true;
        self
    }
}

/// A test run as one role sees it: candidates and observers get the visible cases and a
/// count of the hidden ones.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TestReportView {
    pub tests_id: Uuid,
    pub question_id: Uuid,
    pub by: Role,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub passed: usize,
    pub total: usize,
    pub hidden: HiddenCount,
    /// Every case for interviewers; the visible ones for others.
    pub results: Vec<CaseResult>,
    /// The cases' texts (stdin, expected, actual, stderr) were not kept: an older report.
    pub summary_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct HiddenCount {
    pub passed: usize,
    pub total: usize,
}

impl TestReport {
    /// The report as `role` may see it.
    pub fn view(&self, role: Role) -> TestReportView {
        let hidden: Vec<&CaseResult> = self.results.iter().filter(|r| r.hidden).collect();
        TestReportView {
            tests_id: self.tests_id,
            question_id: self.question_id,
            by: self.by,
            started_at: self.started_at,
            finished_at: self.finished_at,
            passed: self.passed,
            total: self.total,
            hidden: HiddenCount {
                passed: hidden
                    .iter()
                    .filter(|r| r.verdict == Verdict::Passed)
                    .count(),
                total: hidden.len(),
            },
            results: self
                .results
                .iter()
                .filter(|r| role.sees_hidden_cases() || !r.hidden)
                .cloned()
                .collect(),
            summary_only: self.summary_only,
        }
    }
}

/// A question as its reader may see it: hidden cases in full only for the API key and the
/// interviewers of a session that uses it; everyone else gets them counted.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct QuestionView {
    pub question_id: Uuid,
    pub title: String,
    pub prompt: String,
    pub starters: BTreeMap<String, String>,
    /// Every case for interviewers (and the API key); the visible ones for others.
    pub cases: Vec<TestCase>,
    /// How many cases are hidden (whether or not they are in `cases`).
    pub hidden_cases: usize,
    /// True when hidden cases were left out of `cases` for this reader.
    pub redacted: bool,
    pub created_at: DateTime<Utc>,
}

impl Question {
    /// The question as `role` may see it (the API key acts as an interviewer).
    pub fn view(&self, role: Role) -> QuestionView {
        let full = role.sees_hidden_cases();
        QuestionView {
            question_id: self.question_id,
            title: self.title.clone(),
            prompt: self.prompt.clone(),
            starters: self.starters.clone(),
            cases: self
                .cases
                .iter()
                .filter(|c| full || !c.hidden)
                .cloned()
                .collect(),
            hidden_cases: self.cases.iter().filter(|c| c.hidden).count(),
            redacted: !full && self.cases.iter().any(|c| c.hidden),
            created_at: self.created_at,
        }
    }
}

/// At most `max` bytes of `text`, cut on a character boundary.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_whitespace_is_ignored_unless_exact() {
        assert!(output_matches("3\n", "3", false));
        assert!(output_matches("a b\nc\n", "a b  \nc\n\n\n", false));
        assert!(output_matches("a\r\nb\r\n", "a\nb\n", false));
        assert!(
            !output_matches("a\nb\n", "a\n b\n", false),
            "leading space counts"
        );
        assert!(
            !output_matches("1\n2\n", "1\n\n2\n", false),
            "inner blank lines count"
        );
        assert!(!output_matches("3\n", "3", true));
        assert!(output_matches("3\n", "3\n", true));
        assert!(!output_matches("4\n", "3\n", false));
    }

    fn question() -> NewQuestion {
        serde_json::from_value(serde_json::json!({
            "title": "Sum",
            "prompt": "Add *two* numbers.",
            "starters": {"python": "print(0)\n"},
            "cases": [
                {"name": "small", "stdin": "1 2\n", "expected": "3\n"},
                {"name": "big", "stdin": "5 5\n", "expected": "10\n", "hidden": true, "time_limit_seconds": 2}
            ]
        }))
        .expect("a question")
    }

    #[test]
    fn questions_are_checked() {
        let envs = vec!["python".to_string()];
        let q = question().validate(&envs, 30.0).expect("valid");
        assert_eq!(q.cases[0].time_limit_seconds, DEFAULT_TIME_LIMIT_SECONDS);
        assert_eq!(q.cases[1].time_limit_seconds, 2.0);
        let mut bad = question();
        bad.starters.insert("cobol".into(), String::new());
        assert!(bad.validate(&envs, 30.0).unwrap_err().contains("cobol"));
        let mut bad = question();
        bad.cases[1].name = "small".into();
        assert!(bad.validate(&envs, 30.0).unwrap_err().contains("two cases"));
        let mut bad = question();
        bad.cases[0].time_limit_seconds = Some(60.0);
        assert!(bad.validate(&envs, 30.0).is_err());
        let mut bad = question();
        bad.title = " ".into();
        assert!(bad.validate(&envs, 30.0).is_err());
    }

    #[test]
    fn hidden_cases_reach_candidates_as_counts_only() {
        let q = question()
            .validate(&["python".into()], 30.0)
            .expect("valid");
        let view = q.view(Role::Candidate);
        assert_eq!(view.cases.len(), 1);
        assert_eq!(view.hidden_cases, 1);
        assert_eq!(q.view(Role::Interviewer).cases.len(), 2);
        assert_eq!(q.view(crate::auth::Access::Operator.role()).cases.len(), 2);
        let result = |index: usize, hidden: bool, verdict| CaseResult {
            index,
            name: format!("case {index}"),
            hidden,
            verdict,
            status: Some(RunStatus::Completed),
            exit_code: Some(0),
            duration_ms: 1,
            stdin: if hidden { "secret stdin" } else { "1 2" }.into(),
            expected: if hidden { "secret" } else { "3" }.into(),
            actual: "x".into(),
            stderr: String::new(),
            exact: false,
        };
        let report = TestReport {
            tests_id: Uuid::nil(),
            question_id: q.question_id,
            by: Role::Candidate,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            passed: 1,
            total: 3,
            results: vec![
                result(0, false, Verdict::Passed),
                result(1, true, Verdict::Failed),
                result(2, true, Verdict::Failed),
            ],
            summary_only: false,
        };
        let candidate = report.view(Role::Candidate);
        assert_eq!(candidate.results.len(), 1);
        assert_eq!(
            candidate.hidden,
            HiddenCount {
                passed: 0,
                total: 2
            }
        );
        let text = serde_json::to_string(&candidate).expect("json");
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(report.view(Role::Interviewer).results.len(), 3);
    }
}
