// REST calls under /api/v1. Tokens go in the Authorization header, never in a URL.

import type {
  ApiErrorBody,
  CreatedSession,
  Environment,
  History,
  NewQuestion,
  QuestionSummary,
  QuestionView,
  Scorecard,
  ScorecardInput,
  ScorecardsView,
  SessionView,
  TestReport,
} from "./protocol";

/** A failed call: the HTTP status and the server's error code, when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (!res.ok) {
    let code = "HTTP_" + res.status;
    let message = res.statusText;
    try {
      const err = ((await res.json()) as ApiErrorBody).error;
      code = err.code;
      message = err.message;
    } catch {
      // not the error shape: keep the status line
    }
    throw new ApiError(res.status, code, message);
  }
  return (await res.json()) as T;
}

/** The environments, fetched once per page (the header and the editor both ask); a failure is not kept. */
let environments: Promise<Environment[]> | null = null;

export const api = {
  environments: () =>
    (environments ??= call<Environment[]>("GET", "/environments").catch((err: unknown) => {
      environments = null;
      throw err;
    })),
  /** 200 only in open mode (no API key configured) or with a key. */
  listSessions: () => call<unknown[]>("GET", "/sessions"),
  /** `key`: the operator's API key (none in open mode). */
  createSession: (body: { environment?: string; label?: string; question?: string }, key?: string) =>
    call<CreatedSession>("POST", "/sessions", key, body),
  /** Questions, newest first; `key` as for `createSession`. */
  questions: (key?: string) => call<QuestionSummary[]>("GET", "/questions", key),
  createQuestion: (body: NewQuestion, key?: string) => call<QuestionSummary>("POST", "/questions", key, body),
  session: (id: string, token: string) => call<SessionView>("GET", `/sessions/${id}`, token),
  history: (id: string, token: string) => call<History>("GET", `/sessions/${id}/history`, token),
  /** The session's question; 409 NO_QUESTION when it has none. */
  question: (id: string, token: string) => call<QuestionView>("GET", `/sessions/${id}/question`, token),
  /** The session's test runs (of one question of its template, when given). */
  tests: (id: string, token: string, question?: string) =>
    call<{ session_id: string; tests: TestReport[] }>(
      "GET",
      `/sessions/${id}/tests${question ? `?question=${encodeURIComponent(question)}` : ""}`,
      token,
    ),
  /** The rubric and every interviewer's scorecard (interviewers only). */
  scorecards: (id: string, token: string) => call<ScorecardsView>("GET", `/sessions/${id}/scorecards`, token),
  /** Saves `author`'s scorecard as a draft, or submits it (final). */
  writeScorecard: (
    id: string,
    token: string,
    author: string,
    body: ScorecardInput & { author_name: string },
    submit: boolean,
  ) => {
    const path = `/sessions/${id}/scorecards/${encodeURIComponent(author)}`;
    return submit ? call<Scorecard>("POST", `${path}/submit`, token, body) : call<Scorecard>("PUT", path, token, body);
  },
  /** Origins allowed to embed `/embed/{id}`, which are also the origins the embed listens to. */
  embedConfig: () => call<{ frame_ancestors: string[] }>("GET", "/embed-config"),
};
