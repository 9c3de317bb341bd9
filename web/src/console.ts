// The run console: a plain DOM log where stdout, stderr, build output, typed stdin and the
// closing line of each run are told apart by class (and colour), appended as they stream.
// Programs' own colours (ANSI SGR) are rendered by ansi_up, one state per stream; a `\r` that
// does not end a line takes the console back to the start of its last line, so progress bars
// redraw in place.

import { AnsiUp } from "ansi_up";

import type { RunStatus } from "./protocol";

/** The kinds of text the console shows. */
export type ConsoleKind = "stdout" | "stderr" | "build" | "stdin" | "meta" | "error";

/** Most text kept; older output is dropped from the top past it. */
const MAX_CHARS = 400_000;

/** The streams whose escapes are rendered (stdin is what people typed: shown as typed). */
const RENDERED: ReadonlySet<ConsoleKind> = new Set(["stdout", "stderr", "build"]);

export class OutputConsole {
  readonly element: HTMLElement;
  private chars = 0;
  private last: { kind: ConsoleKind; node: HTMLElement } | null = null;
  /** Each stream's colour state, which its chunks continue. */
  private readonly ansi = new Map<ConsoleKind, AnsiUp>();
  /** A chunk ended in `\r`: whether it ends a line depends on the next chunk. */
  private pendingCR = false;

  constructor(element: HTMLElement) {
    this.element = element;
  }

  /** Appends text of one kind, merging with the previous chunk of the same kind. */
  append(kind: ConsoleKind, text: string): void {
    if (!text) return;
    const stick = this.atBottom();
    if (this.pendingCR) {
      this.pendingCR = false;
      text = "\r" + text;
    }
    if (text.endsWith("\r")) {
      this.pendingCR = true;
      text = text.slice(0, -1);
    }
    // Only a lone `\r` returns to the line's start; `\r\n` is a line end like `\n`.
    const pieces = text.replace(/\r\n/g, "\n").split("\r");
    pieces.forEach((piece, i) => {
      if (i > 0) this.clearLine();
      if (piece) this.appendPiece(kind, piece);
    });
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
    // A run's boundary: its programs' colours and half-sent escapes end with it.
    this.ansi.clear();
    this.pendingCR = false;
    if (stick) this.element.scrollTop = this.element.scrollHeight;
    return div;
  }

  clear(): void {
    this.element.replaceChildren();
    this.chars = 0;
    this.last = null;
    this.ansi.clear();
    this.pendingCR = false;
  }

  /** The console's text, as a person would copy it. */
  text(): string {
    return this.element.textContent ?? "";
  }

  private appendPiece(kind: ConsoleKind, text: string): void {
    if (!this.last || this.last.kind !== kind) {
      const span = document.createElement("span");
      span.className = `out-${kind}`;
      this.element.appendChild(span);
      this.last = { kind, node: span };
    }
    if (RENDERED.has(kind)) {
      // ansi_up escapes the program's text and emits only spans of its own (links are off),
      // so its HTML can be inserted as it is.
      this.last.node.insertAdjacentHTML("beforeend", this.renderer(kind).ansi_to_html(text));
    } else {
      this.last.node.append(text);
    }
    this.chars += text.length;
  }

  private renderer(kind: ConsoleKind): AnsiUp {
    let r = this.ansi.get(kind);
    if (!r) {
      r = new AnsiUp();
      r.use_classes = true;
      r.url_allowlist = {};
      this.ansi.set(kind, r);
    }
    return r;
  }

  /** Removes the text after the console's last line break (what a `\r` overwrites). */
  private clearLine(): void {
    let node = this.lastText();
    // A line of its own (a `div`) ends a line too.
    while (node && node.parentElement?.tagName !== "DIV") {
      const value = node.data;
      const cut = value.lastIndexOf("\n");
      if (cut >= 0) {
        this.chars -= value.length - cut - 1;
        node.data = value.slice(0, cut + 1);
        return;
      }
      const prev = this.previousText(node);
      this.chars -= value.length;
      node.remove();
      node = prev;
    }
  }

  /** The console's last text node. */
  private lastText(): Text | null {
    let n: Node = this.element;
    while (n.lastChild) n = n.lastChild;
    if (n instanceof Text) return n;
    return n === this.element ? null : this.previousText(n);
  }

  /** The text node before `node` in document order, within the console. */
  private previousText(node: Node): Text | null {
    const walker = document.createTreeWalker(this.element, NodeFilter.SHOW_TEXT);
    walker.currentNode = node;
    return walker.previousNode() as Text | null;
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
