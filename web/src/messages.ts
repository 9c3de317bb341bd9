// Generated from the server's socket schemas (/api/v1/socket-schemas.json); do not edit.
// `npm run protocol` writes it again; test/protocol.test.mjs fails when it differs.

/**
 * What the page may send.
 */
export type ClientMessage =
  | ClientAuthMessage
  | ClientClockMessage
  | ClientCursorMessage
  | ClientEndSessionMessage
  | ClientExtendMessage
  | ClientFocusMessage
  | ClientKillMessage
  | ClientNotesMessage
  | ClientPingMessage
  | ClientPullMessage
  | ClientRunMessage
  | ClientRunTestsMessage
  | ClientSaveScorecardMessage
  | ClientSetQuestionMessage
  | ClientStartMessage
  | ClientStdinMessage
  | ClientStdinEofMessage
  | ClientSubmitMessage
  | ClientSubmitScorecardMessage
  | ClientSwitchEnvironmentMessage
  | ClientUpdateMessage;
/**
 * The overall verdict.
 */
export type Recommendation = "strong_no" | "no" | "yes" | "strong_yes";
/**
 * What the server sends.
 */
export type ServerMessage =
  | ServerCursorMessage
  | ServerEnvironmentMessage
  | ServerErrorMessage
  | ServerExpiryMessage
  | ServerFocusMessage
  | ServerInputMessage
  | ServerInterviewMessage
  | ServerLobbyMessage
  | ServerNotesMessage
  | ServerOutputMessage
  | ServerPongMessage
  | ServerPresenceMessage
  | ServerQuestionChangedMessage
  | ServerQuestionTimeMessage
  | ServerRunFinishedMessage
  | ServerRunStartedMessage
  | ServerScorecardMessage
  | ServerSessionEndedMessage
  | ServerStatusMessage
  | ServerTestResultMessage
  | ServerTestsFinishedMessage
  | ServerTestsStartedMessage
  | ServerUpdateRejectedMessage
  | ServerUpdatesMessage
  | ServerWelcomeMessage;
export type ServerCursorMessage = Cursor & {
  type: "cursor";
};
/**
 * What a credential lets its holder do in a session.
 */
export type Role = "candidate" | "interviewer" | "observer";
/**
 * When the session ends: ahead of it (`warning`), and again once it was extended.
 */
export type ServerExpiryMessage = Expiry & {
  type: "expiry";
};
/**
 * What ends a session that nothing more happens in.
 */
export type ExpiryReason = "idle" | "lifetime";
/**
 * A participant's page gained or lost focus (interviewers only).
 */
export type ServerFocusMessage = Focus & {
  type: "focus";
};
/**
 * What a participant typed into the running program.
 */
export type ServerInputMessage = Input & {
  type: "input";
};
/**
 * A live interview (everyone together), or a take-home (the candidate alone, on a clock).
 */
export type Mode = "live" | "take_home";
/**
 * Where the interview is.
 */
export type Stage = "waiting" | "live" | "submitted";
/**
 * Where a question's clock is.
 */
export type QuestionTime = "warning" | "times_up";
/**
 * How a run ended (the API's run `status`).
 */
export type RunStatus = "completed" | "timeout" | "oom" | "killed" | "output_limit" | "compile_error" | "error";
/**
 * A session's id.
 */
export type SessionId = string;
/**
 * Where a session is in its life (the API's session `status`).
 */
export type Status = "creating" | "ready" | "executing" | "stopping" | "stopped" | "expired" | "error";
export type ServerOutputMessage = Output & {
  type: "output";
};
/**
 * Which step of a run produced output.
 */
export type Phase = "build" | "run";
/**
 * Which output stream a chunk came from.
 */
export type OutputStream = "stdout" | "stderr";
/**
 * The current question's clock reached its warning, or its end.
 */
export type ServerQuestionTimeMessage = QuestionClock & {
  type: "question_time";
};
export type ServerRunFinishedMessage = RunFinished & {
  type: "run_finished";
};
export type ServerRunStartedMessage = RunStarted & {
  type: "run_started";
};
/**
 * Who wrote a scorecard: 1 to 64 characters of `A-Z a-z 0-9 _ - .`, chosen by the writer.
 */
export type AuthorId = string;
/**
 * Whether a scorecard may still change.
 */
export type ScorecardState = "draft" | "submitted";
/**
 * One case's result (hidden cases: interviewers only).
 */
export type ServerTestResultMessage = CaseResult & {
  type: "test_result";
};
/**
 * How one case came out.
 */
export type Verdict = "passed" | "failed" | "error" | "compile_error" | "not_run";
/**
 * The test run's report, as the receiving role may see it.
 */
export type ServerTestsFinishedMessage = TestReportView & {
  type: "tests_finished";
};
/**
 * A test run of the session's question began.
 */
export type ServerTestsStartedMessage = TestsStarted & {
  type: "tests_started";
};

/**
 * The socket's messages, by direction.
 */
export interface Socket {
  client: ClientMessage;
  server: ServerMessage;
}
/**
 * Credentials, when the URL carried none; must be the first message. `after` says what
 * a reconnecting client already has of the run in progress.
 */
export interface ClientAuthMessage {
  after?: After | null;
  token: string;
  type: "auth";
}
/**
 * A place in a run's output: the client has every event of `run_id` up to `seq`.
 */
export interface After {
  run_id: string;
  seq: number;
}
/**
 * Hides the interview's clock from the candidate, or shows it again (interviewers).
 */
export interface ClientClockMessage {
  hidden: boolean;
  type: "clock";
}
export interface ClientCursorMessage {
  anchor: number;
  file?: string | null;
  head: number;
  type: "cursor";
  version?: number;
}
export interface ClientEndSessionMessage {
  type: "end_session";
}
/**
 * Moves the session's end as far as its maximum lifetime allows.
 */
export interface ClientExtendMessage {
  type: "extend";
}
/**
 * This page gained or lost focus (its tab hidden, its window left).
 */
export interface ClientFocusMessage {
  focused: boolean;
  type: "focus";
}
export interface ClientKillMessage {
  type: "kill";
}
export interface ClientNotesMessage {
  text: string;
  type: "notes";
}
export interface ClientPingMessage {
  type: "ping";
}
/**
 * Every accepted update since `version` (of the document, or of `file`).
 */
export interface ClientPullMessage {
  file?: string | null;
  type: "pull";
  version: number;
}
export interface ClientRunMessage {
  files?: {
    [k: string]: string;
  } | null;
  restart?: boolean;
  stdin?: string | null;
  type: "run";
}
/**
 * Runs every test case of the session's question.
 */
export interface ClientRunTestsMessage {
  type: "run_tests";
}
/**
 * Saves this interviewer's scorecard as a draft, under their display name. `author`
 * keeps interviewers' cards apart (they share a token): the page keeps one per browser.
 */
export interface ClientSaveScorecardMessage {
  author: string;
  scorecard: ScorecardInput;
  type: "save_scorecard";
}
/**
 * What an interviewer writes on a scorecard (to save it as a draft, or to submit it).
 */
export interface ScorecardInput {
  /**
   * The overall comment.
   */
  comment?: string;
  /**
   * By criterion name; criteria not named here are not rated yet.
   */
  ratings?: {
    [k: string]: Rating;
  };
  recommendation?: Recommendation | null;
}
/**
 * One criterion's rating: a score on its scale (none yet in a draft) and a comment.
 */
export interface Rating {
  comment?: string;
  score?: number | null;
}
/**
 * Moves the session to question `index` of its template (interviewers).
 */
export interface ClientSetQuestionMessage {
  index: number;
  type: "set_question";
}
/**
 * Starts an interview waiting in its lobby (interviewers).
 */
export interface ClientStartMessage {
  type: "start";
}
export interface ClientStdinMessage {
  data: string;
  type: "stdin";
}
export interface ClientStdinEofMessage {
  type: "stdin_eof";
}
/**
 * Hands a take-home in: read-only from then on; its tests run once more.
 */
export interface ClientSubmitMessage {
  type: "submit";
}
/**
 * As `save_scorecard`, and submits it (final; every criterion rated, a recommendation).
 */
export interface ClientSubmitScorecardMessage {
  author: string;
  scorecard: ScorecardInput;
  type: "submit_scorecard";
}
/**
 * Switches the session to another environment (language).
 */
export interface ClientSwitchEnvironmentMessage {
  environment: string;
  type: "switch_environment";
}
/**
 * Document updates made on `version`.
 */
export interface ClientUpdateMessage {
  /**
   * Another file of the workspace than the document (a tab).
   */
  file?: string | null;
  type: "update";
  updates: ClientUpdate[];
  version: number;
}
/**
 * One update as a client sends it; the change set stays the JSON text it was sent as.
 */
export interface ClientUpdate {
  /**
   * A CodeMirror change set in its JSON form.
   */
  changes: unknown[];
  client_id: string;
}
/**
 * A participant's selection.
 */
export interface Cursor {
  anchor: number;
  /**
   * In another file of the workspace than the document.
   */
  file?: string | null;
  head: number;
  name: string;
  participant: number;
  role: Role;
  version: number;
}
/**
 * The session switched language: the editor's language, the file name and the template
 * follow (the document itself changes by an `updates`).
 */
export interface ServerEnvironmentMessage {
  by: Role;
  environment: EnvironmentInfo;
  type: "environment";
}
/**
 * An environment as `welcome` describes it.
 */
export interface EnvironmentInfo {
  description: string;
  editor_language: string;
  filename: string;
  name: string;
  version?: string | null;
}
export interface ServerErrorMessage {
  code: string;
  hint: string;
  message: string;
  /**
   * For RATE_LIMITED: when trying again may succeed.
   */
  retry_after_ms?: number | null;
  type: "error";
}
/**
 * When the session ends now: `warning` ahead of the end (within
 * `sessions.expiry_warning_seconds`), or not after it was extended.
 */
export interface Expiry {
  /**
   * `extend` would move the end (it cannot past the session's maximum lifetime).
   */
  can_extend: boolean;
  expires_at: string;
  reason: ExpiryReason;
  warning: boolean;
}
/**
 * A participant's page gained or lost focus.
 */
export interface Focus {
  at: string;
  /**
   * False: the tab was hidden or the window lost focus.
   */
  focused: boolean;
  name: string;
  participant: number;
  role: Role;
}
/**
 * A participant typed into the running program's stdin (so everyone sees the answers): at
 * most [`INPUT_PREVIEW_BYTES`] of it.
 */
export interface Input {
  data: string;
  participant: number;
  run_id: string;
  /**
   * In the same numbering as the run's output.
   */
  seq: number;
  /**
   * More was typed than `data` shows.
   */
  truncated: boolean;
}
/**
 * The interview changed: started, its clock hidden or shown, a take-home submitted.
 */
export interface ServerInterviewMessage {
  interview: InterviewView;
  /**
   * A templated session's way as this role sees it now (the question's clock hidden
   * with the interview's).
   */
  template?: ProgressView | null;
  type: "interview";
}
/**
 * An interview as REST and the socket show it to one role.
 */
export interface InterviewView {
  /**
   * The interviewer hid the clock from the candidate.
   */
  clock_hidden: boolean;
  /**
   * A take-home's link works until then.
   */
  link_expires_at?: string | null;
  mode: Mode;
  stage: Stage;
  /**
   * The clock's start (null while waiting, or when the clock is hidden from this role).
   */
  started_at?: string | null;
  /**
   * When a started take-home is submitted at the latest (null when the clock is hidden).
   */
  submit_at?: string | null;
  submitted_at?: string | null;
  /**
   * A take-home's time, from its first open (null when the clock is hidden).
   */
  time_limit_seconds?: number | null;
}
/**
 * A session's way through its template as one role sees it.
 */
export interface ProgressView {
  /**
   * The question now (an index into the template).
   */
  current: number;
  /**
   * When its time is up (absent: no limit).
   */
  ends_at?: string | null;
  name: string;
  /**
   * When the current question became current: its clock, from the server's stored time.
   */
  question_started_at?: string | null;
  /**
   * Every question for interviewers; those reached so far for others.
   */
  questions: StepView[];
  /**
   * The furthest question reached so far.
   */
  reached: number;
  template_id: string;
  /**
   * Where its clock is now (absent: running, or no limit).
   */
  time?: QuestionTime | null;
  /**
   * How many questions the template has.
   */
  total: number;
  /**
   * When the warning comes (absent: no limit).
   */
  warn_at?: string | null;
}
/**
 * One question in the navigator.
 */
export interface StepView {
  index: number;
  minutes?: number | null;
  question_id: string;
  title: string;
}
/**
 * What a socket held in a lobby gets instead of `welcome`: the session waits for the
 * interviewer's Start (then a `welcome` follows); nothing of its code or question.
 */
export interface ServerLobbyMessage {
  /**
   * This socket's participant id.
   */
  participant: number;
  participants: Participant[];
  role: Role;
  session: SessionView;
  type: "lobby";
}
/**
 * Someone connected to a session.
 */
export interface Participant {
  /**
   * Unique within the session while connected; ties cursors to names.
   */
  id: number;
  name: string;
  role: Role;
}
/**
 * A session as GET shows it.
 */
export interface SessionView {
  /**
   * The session's container: interviewers and the API key only (null for others).
   */
  container_id?: string | null;
  created_at: string;
  environment: string;
  /**
   * Present once the session's content was erased: the view is then its tombstone (ids,
   * times, statuses, the end's reason in the events feed; no label), and its content
   * endpoints answer 410 `SESSION_ERASED`.
   */
  erased_at?: string | null;
  expires_at: string;
  interview: InterviewView1;
  label?: string | null;
  last_activity_at: string;
  last_execution?: RunSummary | null;
  participants: Participant[];
  session_id: SessionId;
  status: Status;
}
/**
 * An interview as REST and the socket show it to one role.
 */
export interface InterviewView1 {
  /**
   * The interviewer hid the clock from the candidate.
   */
  clock_hidden: boolean;
  /**
   * A take-home's link works until then.
   */
  link_expires_at?: string | null;
  mode: Mode;
  stage: Stage;
  /**
   * The clock's start (null while waiting, or when the clock is hidden from this role).
   */
  started_at?: string | null;
  /**
   * When a started take-home is submitted at the latest (null when the clock is hidden).
   */
  submit_at?: string | null;
  submitted_at?: string | null;
  /**
   * A take-home's time, from its first open (null when the clock is hidden).
   */
  time_limit_seconds?: number | null;
}
/**
 * The last finished run, as GET shows it.
 */
export interface RunSummary {
  build_cached: boolean;
  build_ms?: number | null;
  duration_ms: number;
  exit_code?: number | null;
  finished_at: string;
  run_id: string;
  started_at: string;
  status: RunStatus;
  truncated: boolean;
}
export interface ServerNotesMessage {
  text: string;
  type: "notes";
}
/**
 * A piece of a run's output; `seq` numbers the run's output and input from 1.
 */
export interface Output {
  data: string;
  phase: Phase;
  run_id: string;
  seq: number;
  stream: OutputStream;
}
export interface ServerPongMessage {
  type: "pong";
}
export interface ServerPresenceMessage {
  participants: Participant[];
  type: "presence";
}
/**
 * The session moved to another question of its template (or its question restarted):
 * the navigator and the clock follow, the question is read again
 * (`GET /sessions/{id}/question`); the document changes by an `updates`.
 */
export interface ServerQuestionChangedMessage {
  by: Role;
  template: ProgressView;
  type: "question_changed";
}
/**
 * A question's clock reaching its warning or its end (`question_time` on the socket).
 */
export interface QuestionClock {
  ends_at: string;
  /**
   * The question's place in the template.
   */
  index: number;
  time: QuestionTime;
}
/**
 * How a run ended.
 */
export interface RunFinished {
  /**
   * The build did not run: an unchanged program's outputs came from the build cache.
   */
  build_cached: boolean;
  build_ms?: number | null;
  duration_ms: number;
  exit_code?: number | null;
  run_id: string;
  status: RunStatus;
  truncated: boolean;
}
/**
 * A run started.
 */
export interface RunStarted {
  by: Role;
  run_id: string;
}
/**
 * An interviewer saved or submitted their scorecard (interviewers only).
 */
export interface ServerScorecardMessage {
  scorecard: Scorecard;
  type: "scorecard";
}
/**
 * One interviewer's scorecard, as stored and shown to interviewers.
 */
export interface Scorecard {
  author_id: AuthorId;
  /**
   * The display name the author wrote under (the last one they saved with).
   */
  author_name: string;
  /**
   * The overall comment.
   */
  comment: string;
  created_at: string;
  /**
   * By criterion name.
   */
  ratings: {
    [k: string]: Rating;
  };
  recommendation?: Recommendation | null;
  state: ScorecardState;
  submitted_at?: string | null;
  updated_at: string;
}
export interface ServerSessionEndedMessage {
  reason: string;
  type: "session_ended";
}
export interface ServerStatusMessage {
  status: string;
  type: "status";
}
/**
 * One case's result, in full.
 */
export interface CaseResult {
  /**
   * What it printed (at most [`RESULT_OUTPUT_BYTES`]).
   */
  actual: string;
  duration_ms: number;
  exact: boolean;
  exit_code?: number | null;
  expected: string;
  hidden: boolean;
  /**
   * The case's place in the question.
   */
  index: number;
  name: string;
  /**
   * How the program's run ended (absent when it did not run).
   */
  status?: RunStatus | null;
  stderr: string;
  stdin: string;
  verdict: Verdict;
}
/**
 * A test run as one role sees it: candidates and observers get the visible cases and a
 * count of the hidden ones.
 */
export interface TestReportView {
  by: Role;
  finished_at: string;
  hidden: HiddenCount;
  passed: number;
  question_id: string;
  /**
   * Every case for interviewers; the visible ones for others.
   */
  results: CaseResult[];
  started_at: string;
  /**
   * The cases' texts (stdin, expected, actual, stderr) were not kept: an older report.
   */
  summary_only: boolean;
  tests_id: string;
  total: number;
}
export interface HiddenCount {
  passed: number;
  total: number;
}
/**
 * A test run began.
 */
export interface TestsStarted {
  by: Role;
  tests_id: string;
  /**
   * Every case, hidden ones included.
   */
  total: number;
}
export interface ServerUpdateRejectedMessage {
  file?: string | null;
  type: "update_rejected";
  version: number;
}
export interface ServerUpdatesMessage {
  /**
   * Another file of the workspace than the document (a tab).
   */
  file?: string | null;
  type: "updates";
  updates: Update[];
  version: number;
}
/**
 * One accepted update, as stored and broadcast.
 */
export interface Update {
  /**
   * The change set in CodeMirror's JSON form, as the client sent it.
   */
  changes: unknown[];
  client_id: string;
}
export interface ServerWelcomeMessage {
  /**
   * This socket may switch the session's language (`switch_environment`).
   */
  can_switch: boolean;
  document: string;
  environment: EnvironmentInfo;
  /**
   * The workspace's other files, each edited together like the document (tabs).
   */
  files: FileDoc[];
  /**
   * Interviewers only.
   */
  notes?: string | null;
  /**
   * This socket's participant id.
   */
  participant: number;
  participants: Participant[];
  role: Role;
  /**
   * The run in progress, with its output and input so far (after the client's `after`).
   */
  run?: WelcomeRun | null;
  /**
   * The rubric and every scorecard so far: interviewers only.
   */
  scorecards?: ScorecardsView | null;
  session: SessionView;
  /**
   * The session's way through its template, when it has one: every question for
   * interviewers, those reached so far for others; the current question's clock.
   */
  template?: ProgressView | null;
  type: "welcome";
  version: number;
}
/**
 * One of the workspace's other files as `welcome` shows it: its text and the version its
 * updates go on from.
 */
export interface FileDoc {
  document: string;
  name: string;
  version: number;
}
/**
 * The run in progress as `welcome` shows it.
 */
export interface WelcomeRun {
  by: Role;
  /**
   * `output` and `input` messages, in order, as they were sent.
   */
  events: ServerMessage[];
  run_id: string;
  started_at: string;
  /**
   * Earlier output or input of the run was not kept.
   */
  truncated: boolean;
}
/**
 * A session's rubric and its interviewers' scorecards (REST, and interviewers' `welcome`).
 */
export interface ScorecardsView {
  rubric: Rubric;
  /**
   * Oldest first, one per author, drafts included.
   */
  scorecards: Scorecard[];
}
/**
 * What interviewers rate a candidate on: 1 to 20 criteria with unique names.
 */
export interface Rubric {
  /**
   * In the order the page shows them; names are unique.
   */
  criteria: Criterion[];
}
/**
 * One thing a candidate is rated on.
 */
export interface Criterion {
  description?: string | null;
  /**
   * Unique in its rubric; ratings name their criterion by it.
   */
  name: string;
  scale: Scale;
}
/**
 * The whole numbers a criterion is rated in, both ends included (`0 <= min < max <= 10`).
 */
export interface Scale {
  max: number;
  min: number;
}
