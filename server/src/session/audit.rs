//! An event's audit form: what a session's trail keeps (`GET /sessions/{id}/events`) and the
//! webhook delivers, typed; [`SessionEvent::audit`](super::SessionEvent::audit) makes it.

use serde::Serialize;
use uuid::Uuid;

use super::{EndReason, Participant, RunStatus, Status};
use chrono::{DateTime, Utc};

use crate::auth::Role;
use crate::interview::{Mode, SubmittedBy};
use crate::questions::Verdict;
use crate::scorecards::{Scorecard, ScorecardState};

/// An event's audit form: what the trail keeps (`GET /sessions/{id}/events`) and the webhook
/// delivers, as its [`kind`](Audit::kind) and its `data` (docs/protocol.md lists them).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Audit {
    /// Recorded with the session's record, before anyone can hear of the session.
    Created {
        environment: String,
        label: Option<String>,
        question_id: Option<Uuid>,
        /// The template it follows (its `question_id` is the template's first).
        #[serde(skip_serializing_if = "Option::is_none")]
        template_id: Option<Uuid>,
        /// "api_key", or "open_mode".
        created_by: &'static str,
    },
    Joined(Who),
    Left(Who),
    Focus {
        participant: u64,
        role: Role,
        name: String,
        focused: bool,
    },
    Environment {
        from: String,
        to: String,
        by: Role,
    },
    /// The session moved to question `to` of its template.
    QuestionChanged {
        from: usize,
        to: usize,
        question_id: Uuid,
        by: Role,
    },
    /// Question `index`'s clock reached its warning or its end.
    QuestionTime {
        index: usize,
        question_id: Uuid,
        time: crate::templates::QuestionTime,
    },
    RunFinished {
        run_id: Uuid,
        by: Role,
        status: RunStatus,
        exit_code: Option<i64>,
        duration_ms: u64,
        build_ms: Option<u64>,
        build_cached: bool,
        truncated: bool,
    },
    TestsFinished {
        tests_id: Uuid,
        question_id: Uuid,
        by: Role,
        passed: usize,
        total: usize,
        cases: Vec<CaseAudit>,
    },
    Ended {
        reason: EndReason,
    },
    /// The session's content was erased: the tombstone's fields and why, nothing of the
    /// content.
    Erased {
        /// "request" (`DELETE …?erase=true`), or "retention".
        reason: &'static str,
        status: Status,
        ended_reason: Option<EndReason>,
    },
    /// An interviewer's scorecard, whole, as submitted.
    ScorecardSubmitted(Box<Scorecard>),
    /// The interview's clock started: Start, or a take-home's first open.
    Started {
        mode: Mode,
        by: Role,
        started_at: Option<DateTime<Utc>>,
    },
    /// The clock was hidden from the candidate, or shown again.
    Clock {
        hidden: bool,
    },
    /// A take-home was handed in, and its tests ran once more (their reports are stored).
    Submitted {
        by: SubmittedBy,
        started_at: Option<DateTime<Utc>>,
        submitted_at: Option<DateTime<Utc>>,
        tests: Vec<SubmittedTests>,
    },
}

/// One question's test run at a submission, as the trail keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubmittedTests {
    pub tests_id: Uuid,
    pub question_id: Uuid,
    pub passed: usize,
    pub total: usize,
}

/// A participant, as the trail names them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Who {
    pub participant: u64,
    pub role: Role,
    pub name: String,
}

impl Who {
    pub fn of(p: &Participant) -> Self {
        Self {
            participant: p.id,
            role: p.role,
            name: p.name.clone(),
        }
    }
}

/// One case of a test run, as the trail keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseAudit {
    pub name: String,
    pub hidden: bool,
    pub verdict: Verdict,
}

impl Audit {
    /// The event's type, as the trail and the webhook's `x-livecode-event` name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Audit::Created { .. } => "session.created",
            Audit::Joined(_) => "participant.joined",
            Audit::Left(_) => "participant.left",
            Audit::Focus { .. } => "participant.focus",
            Audit::Environment { .. } => "session.environment",
            Audit::QuestionChanged { .. } => "question.changed",
            Audit::QuestionTime { .. } => "question.time",
            Audit::RunFinished { .. } => "run.finished",
            Audit::TestsFinished { .. } => "tests.finished",
            Audit::Ended { .. } => "session.ended",
            Audit::Erased { .. } => "session.erased",
            Audit::ScorecardSubmitted(_) => "scorecard.submitted",
            Audit::Started { .. } => "session.started",
            Audit::Clock { .. } => "session.clock",
            Audit::Submitted { .. } => "session.submitted",
        }
    }

    /// A scorecard's audit form: only a submitted one is recorded (drafts change too often,
    /// and are nobody's business yet).
    pub fn of_scorecard(card: &Scorecard) -> Option<Self> {
        (card.state == ScorecardState::Submitted)
            .then(|| Audit::ScorecardSubmitted(Box::new(card.clone())))
    }

    /// The event's data, as stored and delivered.
    pub fn data(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("an audit form serializes")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::questions::{CaseResult, TestReport};
    use crate::session::events::{EnvironmentInfo, Focus, Presence, PresenceChange};
    use crate::session::{RunResult, RunSummary};
    use crate::session::{SessionEvent, Status};

    fn check(event: &SessionEvent, kind: &str, data: serde_json::Value) {
        let audit = event.audit().expect("an audited event");
        assert_eq!((audit.kind(), audit.data()), (kind, data), "{event:?}");
    }

    /// Joins, leaves and focus changes, as docs/protocol.md lists them.
    #[test]
    fn participants_are_recorded_by_id_role_and_name() {
        let ada = Participant {
            id: 3,
            role: Role::Candidate,
            name: "Ada".into(),
            credential: Role::Candidate,
            focused: true,
        };
        let who = json!({"participant": 3, "role": "candidate", "name": "Ada"});
        for (change, kind) in [
            (PresenceChange::Joined(ada.clone()), "participant.joined"),
            (PresenceChange::Left(ada.clone()), "participant.left"),
        ] {
            let participants = vec![ada.clone()];
            let event = SessionEvent::Presence(Presence {
                participants,
                change,
            });
            check(&event, kind, who.clone());
        }
        let focus = SessionEvent::Focus(Focus {
            participant: 3,
            name: "Ada".into(),
            role: Role::Candidate,
            focused: false,
            at: chrono::Utc::now(),
        });
        let data = json!({"participant": 3, "role": "candidate", "name": "Ada", "focused": false});
        check(&focus, "participant.focus", data);
        // What only sockets hear has no audit form.
        assert_eq!(SessionEvent::Status(Status::Ready).audit(), None);
        assert_eq!(SessionEvent::Notes("private".into()).audit(), None);
    }

    /// Switches and runs, as docs/protocol.md lists them.
    #[test]
    fn switches_and_runs_are_recorded_in_the_documented_shapes() {
        let environment = SessionEvent::Environment {
            environment: EnvironmentInfo {
                name: "java".into(),
                description: String::new(),
                filename: "Main.java".into(),
                editor_language: "java".into(),
                version: None,
            },
            by: Role::Interviewer,
            from: "python".into(),
        };
        let data = json!({"from": "python", "to": "java", "by": "interviewer"});
        check(&environment, "session.environment", data);
        let run_id = Uuid::new_v4();
        let at = chrono::Utc::now();
        let finished = SessionEvent::RunFinished(Arc::new(RunResult {
            by: Role::Candidate,
            summary: RunSummary {
                run_id,
                exit_code: Some(1),
                status: RunStatus::OutputLimit,
                duration_ms: 12,
                build_ms: None,
                build_cached: false,
                truncated: true,
                started_at: at,
                finished_at: at,
            },
            // The output is the store's, never the trail's.
            stdout: "out".into(),
            stderr: "err".into(),
        }));
        let data = json!({
            "run_id": run_id, "by": "candidate", "status": "output_limit", "exit_code": 1,
            "duration_ms": 12, "build_ms": null, "build_cached": false, "truncated": true,
        });
        check(&finished, "run.finished", data);
    }

    /// A template's moves and its question's clock.
    #[test]
    fn question_moves_and_times_are_recorded_in_the_documented_shapes() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let template = crate::templates::Template {
            template_id: Uuid::new_v4(),
            name: "Loop".into(),
            lobby: false,
            rubric: None,
            questions: [a, b]
                .map(|question_id| crate::templates::TemplateQuestion {
                    question_id,
                    minutes: Some(10),
                })
                .into(),
            created_at: chrono::Utc::now(),
        };
        let now = chrono::Utc::now();
        let mut progress =
            crate::templates::Progress::new(&template, vec!["A".into(), "B".into()], now);
        progress.move_to(1, now).expect("there");
        let moved = SessionEvent::QuestionChanged {
            progress: Arc::new(progress),
            from: 0,
            by: Role::Interviewer,
            clock_hidden: false,
        };
        let data = json!({"from": 0, "to": 1, "question_id": b, "by": "interviewer"});
        check(&moved, "question.changed", data);
        let up = SessionEvent::QuestionTime(crate::session::events::QuestionClock {
            index: 1,
            time: crate::templates::QuestionTime::TimesUp,
            ends_at: now,
            question_id: b,
            clock_hidden: false,
        });
        let data = json!({"index": 1, "question_id": b, "time": "times_up"});
        check(&up, "question.time", data);
    }

    /// Test runs, the end and creation.
    #[test]
    fn test_runs_ends_and_creation_are_recorded_in_the_documented_shapes() {
        let (tests_id, question_id) = (Uuid::new_v4(), Uuid::new_v4());
        let report = SessionEvent::TestsFinished(Arc::new(TestReport {
            tests_id,
            question_id,
            by: Role::Interviewer,
            started_at: chrono::Utc::now(),
            finished_at: chrono::Utc::now(),
            passed: 0,
            total: 1,
            results: vec![CaseResult {
                index: 0,
                name: "sums".into(),
                hidden: true,
                verdict: Verdict::CompileError,
                status: None,
                exit_code: None,
                duration_ms: 0,
                stdin: String::new(),
                expected: String::new(),
                actual: String::new(),
                stderr: String::new(),
                exact: false,
            }],
            summary_only: false,
        }));
        let data = json!({
            "tests_id": tests_id, "question_id": question_id, "by": "interviewer", "passed": 0,
            "total": 1, "cases": [{"name": "sums", "hidden": true, "verdict": "compile_error"}],
        });
        check(&report, "tests.finished", data);
        let ended = SessionEvent::Ended(EndReason::Expired);
        check(&ended, "session.ended", json!({"reason": "expired"}));
        let created = Audit::Created {
            environment: "python".into(),
            label: None,
            question_id: Some(question_id),
            template_id: None,
            created_by: "open_mode",
        };
        let data = json!({
            "environment": "python", "label": null, "question_id": question_id,
            "created_by": "open_mode",
        });
        assert_eq!((created.kind(), created.data()), ("session.created", data));
    }
}
