// The socket's and the REST API's wire shapes, mirroring server/src/ws/protocol.rs and
// docs/protocol.md. A union on `type`, so a `switch` narrows each message.

export type Role = "candidate" | "interviewer" | "observer";

export type RunStatus = "completed" | "timeout" | "oom" | "killed" | "output_limit" | "compile_error" | "error";

export type EndReason = "expired" | "stopped" | "error";

/** A connected participant, as `welcome` and `presence` list them. */
export interface Participant {
  readonly id: number;
  readonly role: Role;
  readonly name: string;
}

/** A session as `GET /sessions/{id}` and `welcome` show it. */
export interface SessionView {
  readonly session_id: string;
  readonly status: string;
  readonly environment: string;
  readonly label?: string | null;
  readonly created_at: string;
  readonly last_activity_at?: string;
  readonly expires_at: string;
  readonly participants?: Participant[];
  readonly last_execution?: {
    readonly run_id: string;
    readonly status: RunStatus;
    readonly exit_code: number | null;
    readonly duration_ms: number;
    readonly build_ms?: number | null;
    readonly build_cached?: boolean;
    readonly truncated: boolean;
    readonly started_at?: string;
  } | null;
}

/** The environment of a session, as `welcome` describes it. */
export interface EnvironmentInfo {
  readonly name: string;
  readonly description: string;
  readonly filename: string;
  readonly editor_language: string;
  readonly version?: string | null;
}

/** One document update on the wire: a `ChangeSet.toJSON()` and who made it. */
export interface WireUpdate {
  readonly client_id: string;
  readonly changes: unknown;
}

/** What a reconnecting page already has of the run in progress. */
export interface After {
  readonly run_id: string;
  readonly seq: number;
}

export type ClientMessage =
  | { type: "auth"; token: string; after?: After }
  | { type: "run"; restart?: boolean; stdin?: string }
  | { type: "stdin"; data: string }
  | { type: "stdin_eof" }
  | { type: "kill" }
  | { type: "ping" }
  | { type: "update"; version: number; updates: WireUpdate[]; file?: string }
  | { type: "pull"; version: number; file?: string }
  | { type: "cursor"; anchor: number; head: number; version: number; file?: string }
  | { type: "notes"; text: string }
  | { type: "end_session" }
  | { type: "extend" }
  | { type: "run_tests" }
  | { type: "focus"; focused: boolean }
  | { type: "switch_environment"; environment: string };

/** A run's output, or what a participant typed into it; `seq` numbers both from 1. */
export type OutputMessage =
  | { type: "output"; run_id: string; seq: number; stream: "stdout" | "stderr"; phase?: "build" | "run"; data: string }
  | { type: "input"; run_id: string; seq: number; participant: number; data: string; truncated?: boolean };

/** The run in progress, as `welcome` carries it. */
export interface WelcomeRun {
  readonly run_id: string;
  readonly by: Role;
  readonly started_at: string;
  readonly events: OutputMessage[];
  readonly truncated: boolean;
}

/** When the session ends: ahead of it (`warning`), or after it was extended. */
export interface ExpiryMessage {
  readonly type: "expiry";
  readonly expires_at: string;
  readonly warning: boolean;
  readonly reason: "idle" | "lifetime";
  readonly can_extend: boolean;
}

export type ServerMessage =
  | {
      type: "welcome";
      session: SessionView;
      role: Role;
      document: string;
      version: number;
      participants: Participant[];
      participant: number;
      environment: EnvironmentInfo;
      /** This page may switch the session's language. */
      can_switch?: boolean;
      /** The workspace's other files, edited together (tabs). */
      files?: { name: string; document: string; version: number }[];
      notes?: string;
      run: WelcomeRun | null;
    }
  | { type: "status"; status: string }
  | { type: "run_started"; run_id: string; by: Role }
  | OutputMessage
  | ExpiryMessage
  | {
      type: "run_finished";
      run_id: string;
      exit_code: number | null;
      status: RunStatus;
      duration_ms: number;
      build_ms?: number | null;
      /** The build did not run: the program was unchanged, its build came from the cache. */
      build_cached?: boolean;
      truncated: boolean;
    }
  | { type: "presence"; participants: Participant[] }
  | { type: "error"; code: string; message: string; hint?: string }
  | { type: "session_ended"; reason: EndReason }
  | { type: "pong" }
  | { type: "updates"; version: number; updates: WireUpdate[]; file?: string }
  | { type: "update_rejected"; version: number; file?: string }
  | {
      type: "cursor";
      participant: number;
      name: string;
      role: Role;
      anchor: number;
      head: number;
      version: number;
      file?: string;
    }
  | { type: "notes"; text: string }
  | { type: "tests_started"; tests_id: string; by: Role; total: number }
  | ({ type: "test_result" } & CaseResult)
  | ({ type: "tests_finished" } & TestReport)
  | { type: "focus"; participant: number; name: string; role: Role; focused: boolean; at: string }
  | { type: "environment"; environment: EnvironmentInfo; by: Role };

export type Welcome = Extract<ServerMessage, { type: "welcome" }>;

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

export type Verdict = "passed" | "failed" | "error" | "compile_error" | "not_run";

export interface CaseResult {
  readonly index: number;
  readonly name: string;
  readonly hidden: boolean;
  readonly verdict: Verdict;
  readonly status: RunStatus | null;
  readonly exit_code: number | null;
  readonly duration_ms: number;
  readonly stdin: string;
  readonly expected: string;
  readonly actual: string;
  readonly stderr: string;
  readonly exact: boolean;
}

/** A test run's report as this participant may see it. */
export interface TestReport {
  readonly tests_id: string;
  readonly question_id: string;
  readonly by: Role;
  readonly started_at: string;
  readonly finished_at: string;
  readonly passed: number;
  readonly total: number;
  readonly hidden: { passed: number; total: number };
  readonly results: CaseResult[];
}
