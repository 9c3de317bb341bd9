// The session's question beside the editor: its title, its Markdown prompt, the test cases
// this participant may see, and **Run tests** with each case's result as it comes (a diff of
// expected and actual output for those that failed). Absent when the session has no question.

import { diffLines } from "diff";
import MarkdownIt from "markdown-it";

import { api, ApiError } from "../api";
import { el } from "../dom";
import type { CaseResult, ClientMessage, QuestionView, ServerMessage, TestReport, Verdict, Welcome } from "../protocol";
import type { Controls, Part } from "./part";

// Raw HTML in a prompt stays text; links open elsewhere and say nothing about this page.
const markdown = new MarkdownIt({ html: false, linkify: true, breaks: false });
const defaultLink =
  markdown.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
markdown.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx].attrSet("target", "_blank");
  tokens[idx].attrSet("rel", "noopener noreferrer");
  return defaultLink(tokens, idx, options, env, self);
};

const VERDICT_TEXT: Record<Verdict, string> = {
  passed: "passed",
  failed: "wrong answer",
  error: "error",
  compile_error: "compile error",
  not_run: "not run",
};

export interface QuestionHost {
  readonly sessionId: string;
  readonly token: string;
  send(msg: ClientMessage): boolean;
  /** The question is known: whether the session has one. */
  loaded(present: boolean): void;
  /** Shown above the question (a template's navigator). */
  readonly top?: HTMLElement;
}

export class QuestionPanel implements Part {
  readonly element = el("section", { class: "question-panel panel", id: "question", "aria-label": "Question" });
  readonly runTestsButton = el(
    "button",
    { type: "button", class: "btn", id: "run-tests", title: "Run every test case", disabled: "" },
    "✓ Run tests",
  );
  private readonly results = el("div", { class: "test-results", id: "test-results", "aria-live": "polite" });
  private readonly summary = el("div", { class: "test-summary", id: "test-summary" });
  private question: QuestionView | null = null;
  private running = false;
  private enabled = false;

  constructor(private readonly host: QuestionHost) {
    this.element.hidden = true;
    this.runTestsButton.hidden = true;
    this.runTestsButton.addEventListener("click", () => this.runTests());
  }

  /** Runs every case, as the button does, when this participant may; answers whether it asked. */
  runTests(): boolean {
    if (!this.question || !this.enabled || this.running || !this.host.send({ type: "run_tests" })) return false;
    this.running = true;
    this.render();
    return true;
  }

  /** The first `welcome` loads the question; a later one is a new socket. */
  welcome(_w: Welcome, first: boolean): void {
    if (first) void this.load(this.host.sessionId, this.host.token).then((present) => this.host.loaded(present));
    else this.reconnected();
  }

  /** Fetches the question (once); answers whether the session has one. */
  private async load(sessionId: string, token: string): Promise<boolean> {
    try {
      this.question = await api.question(sessionId, token);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === "NO_QUESTION")) console.warn("livecode: no question:", err);
      return false;
    }
    this.build(this.question);
    try {
      const last = (await api.tests(sessionId, token)).tests.at(-1);
      if (last && this.results.childElementCount === 0) this.showReport(last);
    } catch {
      // no earlier results then
    }
    return true;
  }

  /** The session moved to another question of its template: read it, and its last report. */
  async reload(): Promise<void> {
    const { sessionId, token } = this.host;
    try {
      this.question = await api.question(sessionId, token);
    } catch (err) {
      console.warn("livecode: the question did not load:", err);
      return;
    }
    this.results.replaceChildren();
    this.summary.textContent = "";
    delete this.summary.dataset.state;
    this.build(this.question);
    try {
      const last = (await api.tests(sessionId, token, this.question.question_id)).tests.at(-1);
      if (last && this.results.childElementCount === 0) this.showReport(last);
    } catch {
      // no earlier results then
    }
  }

  /** The server refused what this page asked for: a Run tests that did not start is over. */
  private refused(): void {
    if (this.running && this.summary.dataset.state !== "running") {
      this.running = false;
      this.render();
    }
  }

  /** A new socket: what runs now comes with its messages. */
  private reconnected(): void {
    this.running = false;
    this.render();
  }

  /** Whether this participant may run tests now. */
  update(controls: Controls): void {
    this.enabled = controls.live;
    this.render();
  }

  message(msg: ServerMessage): void {
    switch (msg.type) {
      case "tests_started":
        this.running = true;
        this.results.replaceChildren();
        this.summary.textContent = `Running ${msg.total} test${msg.total === 1 ? "" : "s"}…`;
        this.summary.dataset.state = "running";
        return this.render();
      case "test_result":
        this.results.append(this.caseRow(msg));
        return;
      case "tests_finished":
        this.running = false;
        this.showReport(msg);
        return this.render();
      case "error":
        return this.refused();
    }
  }

  private build(q: QuestionView): void {
    const prompt = el("div", { class: "question-prompt", id: "question-prompt" });
    // markdown-it escapes HTML in the prompt (html: false), so its output is safe to insert.
    prompt.innerHTML = markdown.render(q.prompt);
    const cases = el(
      "ul",
      { class: "question-cases", id: "question-cases" },
      ...q.cases.map((c) =>
        el(
          "li",
          { class: c.hidden ? "hidden-case" : "" },
          el("span", { class: "case-name" }, c.name + (c.hidden ? " (hidden)" : "")),
          c.hidden ? null : el("code", { title: "stdin" }, oneLine(c.stdin) || "(no input)"),
          c.hidden ? null : el("span", { class: "case-arrow" }, "→"),
          c.hidden ? null : el("code", { title: "expected" }, oneLine(c.expected) || "(no output)"),
        ),
      ),
    );
    const hiddenNote =
      q.hidden_cases > 0 && !q.cases.some((c) => c.hidden)
        ? el("p", { class: "muted" }, `…and ${q.hidden_cases} hidden test${q.hidden_cases === 1 ? "" : "s"}.`)
        : null;
    this.element.replaceChildren(
      el("div", { class: "panel-head" }, el("span", {}, "Question"), this.runTestsButton),
      ...(this.host.top ? [this.host.top] : []),
      el(
        "div",
        { class: "question-body" },
        el("h2", { class: "question-title", id: "question-title" }, q.title),
        prompt,
        el("h3", {}, "Tests"),
        cases,
        hiddenNote,
        this.summary,
        this.results,
      ),
    );
    this.element.hidden = false;
    this.runTestsButton.hidden = false;
    this.render();
  }

  private showReport(report: TestReport): void {
    this.results.replaceChildren(...report.results.map((r) => this.caseRow(r)));
    const hidden = report.hidden.total > 0 ? ` · hidden: ${report.hidden.passed}/${report.hidden.total} passed` : "";
    this.summary.textContent = `${report.passed}/${report.total} passed${hidden}`;
    this.summary.dataset.state = report.passed === report.total ? "passed" : "failed";
  }

  private caseRow(r: CaseResult): HTMLElement {
    const head = el(
      "summary",
      {},
      el("span", { class: "verdict-icon", "aria-hidden": "true" }, r.verdict === "passed" ? "✓" : "✗"),
      el("span", { class: "case-name" }, r.name + (r.hidden ? " (hidden)" : "")),
      el(
        "span",
        { class: "verdict" },
        VERDICT_TEXT[r.verdict] + (r.status && r.status !== "completed" ? ` (${r.status})` : ""),
      ),
      el("span", { class: "muted" }, r.verdict === "not_run" ? "" : `${r.duration_ms} ms`),
    );
    const details = el("details", { class: "test-case", "data-verdict": r.verdict, "data-name": r.name }, head);
    if (r.verdict !== "passed") {
      details.append(
        el("div", { class: "case-label" }, "stdin"),
        el("pre", { class: "case-io" }, r.stdin || "(none)"),
        el("div", { class: "case-label" }, "expected − / actual +"),
        ...diffView(r.expected, r.actual),
      );
      if (r.stderr)
        details.append(el("div", { class: "case-label" }, "stderr"), el("pre", { class: "case-io" }, r.stderr));
    }
    return details;
  }

  private render(): void {
    this.runTestsButton.disabled = !this.enabled || this.running || !this.question;
    this.runTestsButton.textContent = this.running ? "Running tests…" : "✓ Run tests";
  }
}

/**
 * A line diff of what was expected against what the program printed. When the two differ only
 * in whitespace, which a plain diff would not show, the changed lines show theirs (· space,
 * → tab, ⏎ line end) under a note that says so.
 */
function diffView(expected: string, actual: string): HTMLElement[] {
  const strip = (t: string) => t.replace(/\s+/g, "");
  const whitespaceOnly = expected !== actual && strip(expected) === strip(actual);
  const pre = el("pre", { class: "case-io case-diff" });
  for (const part of diffLines(expected, actual)) {
    const cls = part.added ? "diff-add" : part.removed ? "diff-del" : "diff-same";
    const sign = part.added ? "+" : part.removed ? "−" : " ";
    if (!whitespaceOnly || !(part.added || part.removed)) {
      const lines = part.value.replace(/\n$/, "").split("\n");
      pre.append(el("span", { class: cls }, lines.map((l) => `${sign} ${l}`).join("\n") + "\n"));
      continue;
    }
    const span = el("span", { class: cls });
    // Each line with its ending: the last one may have none.
    for (const line of part.value.match(/[^\n]*\n|[^\n]+$/g) ?? [""]) {
      const ended = line.endsWith("\n");
      span.append(`${sign} `);
      for (const piece of (ended ? line.slice(0, -1) : line).split(/([ \t]+)/)) {
        if (/^[ \t]+$/.test(piece)) {
          span.append(el("span", { class: "ws" }, piece.replace(/ /g, "·").replace(/\t/g, "→")));
        } else if (piece) span.append(piece);
      }
      span.append(el("span", { class: "ws" }, ended ? "⏎" : " (no newline at end)"), "\n");
    }
    pre.append(span);
  }
  if (!whitespaceOnly) return [pre];
  return [
    el("div", { class: "case-label ws-note" }, "Only whitespace differs: · is a space, → a tab, ⏎ a line end"),
    pre,
  ];
}

function oneLine(text: string): string {
  const flat = text.replace(/\n$/, "").replace(/\n/g, " ⏎ ");
  return flat.length > 40 ? flat.slice(0, 39) + "…" : flat;
}
