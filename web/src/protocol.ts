// The page's wire shapes. The socket's messages are generated from the server's schemas
// (messages.ts; a union on `type`, so a `switch` narrows each message) and re-exported here
// under the names the page uses; the REST API's shapes that the socket does not share are
// written out below, as API.md describes them.

import type {
  Role,
  RunStatus,
  ServerExpiryMessage,
  ServerInputMessage,
  ServerOutputMessage,
  ServerWelcomeMessage,
  TestReportView,
  Update,
} from "./messages";

export type {
  After,
  CaseResult,
  ClientMessage,
  EnvironmentInfo,
  FileDoc,
  Participant,
  Recommendation,
  ProgressView,
  Role,
  Rubric,
  RunStatus,
  Scorecard,
  ScorecardInput,
  ScorecardsView,
  ServerMessage,
  SessionView,
  Verdict,
} from "./messages";

export type Welcome = ServerWelcomeMessage;

/** A run's output, or what a participant typed into it; `seq` numbers both from 1. */
export type OutputMessage = ServerOutputMessage | ServerInputMessage;

export type ExpiryMessage = ServerExpiryMessage;

/** One document update on the wire: a `ChangeSet.toJSON()` and who made it. */
export type WireUpdate = Update;

/** A test run's report as this participant may see it. */
export type TestReport = TestReportView;

/** `GET /api/v1/environments` items. */
export interface Environment {
  readonly name: string;
  readonly description: string;
  readonly filename: string;
  readonly editor_language: string;
  readonly ready: boolean;
  readonly version?: string | null;
  readonly compiled?: boolean;
  readonly template?: string;
}

/** `POST /api/v1/sessions` answer. */
export interface CreatedSession {
  readonly session_id: string;
  readonly status: string;
  readonly environment: string;
  readonly created_at: string;
  readonly expires_at: string;
  readonly candidate_token: string;
  readonly interviewer_token: string;
  readonly candidate_url: string;
  readonly interviewer_url: string;
  readonly embed_url?: string;
}

/** One stored update of `GET /sessions/{id}/history`. */
export interface HistoryUpdate extends WireUpdate {
  readonly version: number;
  readonly at: string;
}

/** One run of `GET /sessions/{id}/history`. */
export interface HistoryRun {
  readonly run_id: string;
  readonly by: Role;
  readonly started_at: string;
  readonly finished_at: string | null;
  readonly status: RunStatus | null;
  readonly exit_code: number | null;
  readonly duration_ms: number | null;
  readonly build_ms?: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly truncated: boolean;
}

/** One event of a session's audit trail (`GET /sessions/{id}/events`). */
export interface HistoryEvent {
  readonly id: string;
  readonly type: string;
  readonly at: string;
  readonly data: Record<string, unknown> | null;
}

/** `GET /sessions/{id}/history`. */
export interface History {
  readonly initial_document: string;
  readonly version: number;
  readonly updates: HistoryUpdate[];
  readonly runs: HistoryRun[];
  readonly events?: HistoryEvent[];
  readonly tests?: TestReport[];
}

/** The error body every REST failure has. */
export interface ApiErrorBody {
  readonly error: { code: string; message: string; hint?: string };
}

/** A test case of a question (`GET /sessions/{id}/question`). */
export interface TestCase {
  readonly name: string;
  readonly stdin: string;
  readonly expected: string;
  readonly time_limit_seconds: number;
  readonly hidden: boolean;
  readonly exact: boolean;
}

/** `POST /api/v1/questions`: what an operator writes. */
export interface NewQuestion {
  readonly title: string;
  readonly prompt: string;
  readonly starters: Record<string, string>;
  readonly cases: { name: string; stdin: string; expected: string; hidden: boolean }[];
}

/** A question as `GET /api/v1/questions` lists it (the fields the landing page uses). */
export interface QuestionSummary {
  readonly question_id: string;
  readonly title: string;
  readonly created_at: string;
}

/** The session's question as this participant may see it. */
export interface QuestionView {
  readonly question_id: string;
  readonly title: string;
  /** Markdown. */
  readonly prompt: string;
  readonly starters: Record<string, string>;
  /** Hidden cases only for interviewers. */
  readonly cases: TestCase[];
  readonly hidden_cases: number;
}
