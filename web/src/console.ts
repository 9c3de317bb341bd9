// The run console: a plain DOM log where stdout, stderr, build output, typed stdin and the
// closing line of each run are told apart by class (and colour), appended as they stream.

import type { RunStatus } from "./protocol";

/** The kinds of text the console shows. */
export type ConsoleKind = "stdout" | "stderr" | "build" | "stdin" | "meta" | "error";

/** Most text kept; older output is dropped from the top past it. */
const MAX_CHARS = 400_000;

export class OutputConsole {
  readonly element: HTMLElement;
  private chars = 0;
  private last: { kind: ConsoleKind; node: HTMLElement } | null = null;

  constructor(element: HTMLElement) {
    this.element = element;
  }

  /** Appends text of one kind, merging with the previous chunk of the same kind. */
  append(kind: ConsoleKind, text: string): void {
    if (!text) return;
    const stick = this.atBottom();
    if (this.last && this.last.kind === kind) {
      this.last.node.append(text);
    } else {
      const span = document.createElement("span");
      span.className = `out-${kind}`;
      span.textContent = text;
      this.element.appendChild(span);
      this.last = { kind, node: span };
    }
    this.chars += text.length;
    this.trim();
    if (stick) this.element.scrollTop = this.element.scrollHeight;
  }

  /** A line of its own (a run's header or footer, a notice). */
  line(kind: ConsoleKind, text: string, className = ""): HTMLElement {
    const stick = this.atBottom();
    const div = document.createElement("div");
    div.className = `out-${kind} ${className}`.trim();
    div.textContent = text;
    this.element.appendChild(div);
    this.last = null;
    if (stick) this.element.scrollTop = this.element.scrollHeight;
    return div;
  }

  clear(): void {
    this.element.replaceChildren();
    this.chars = 0;
    this.last = null;
  }

  /** The console's text, as a person would copy it. */
  text(): string {
    return this.element.textContent ?? "";
  }

  private atBottom(): boolean {
    const el = this.element;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  }

  private trim(): void {
    while (this.chars > MAX_CHARS && this.element.firstChild) {
      const first = this.element.firstChild;
      this.chars -= first.textContent?.length ?? 0;
      if (this.last?.node === first) this.last = null;
      first.remove();
    }
  }
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** The closing line of a run: status, exit code, time (and build time), truncation. */
export function runSummary(run: {
  status: RunStatus | null;
  exit_code: number | null;
  duration_ms: number | null;
  build_ms?: number | null;
  build_cached?: boolean;
  truncated?: boolean;
}): string {
  const parts: string[] = [];
  switch (run.status) {
    case "completed":
      parts.push(`exit code ${run.exit_code ?? "?"}`);
      break;
    case "timeout":
      parts.push("timeout: the run took too long and was stopped");
      break;
    case "oom":
      parts.push("oom: out of memory, the run was killed");
      break;
    case "killed":
      parts.push("killed: stopped by a participant");
      break;
    case "output_limit":
      parts.push("output_limit: too much output, the run was stopped");
      break;
    case "compile_error":
      parts.push(`compile_error: the build failed${run.exit_code !== null ? ` (exit code ${run.exit_code})` : ""}`);
      break;
    case "error":
      parts.push("error: the run could not be carried out");
      break;
    default:
      parts.push("unfinished");
  }
  if (run.duration_ms !== null && run.status !== "compile_error") parts.push(seconds(run.duration_ms));
  if (run.build_cached) parts.push("build cached");
  else if (run.build_ms !== null && run.build_ms !== undefined) parts.push(`build ${seconds(run.build_ms)}`);
  if (run.truncated) parts.push("output truncated");
  return parts.join(" · ");
}
