// The run console: a plain DOM log where stdout, stderr, build output, typed stdin and the
// closing line of each run are told apart by class (and colour), appended as they stream.
// Programs' own colours (ANSI SGR) are rendered by ansi_up, one state per stream; a `\r` that
// does not end a line takes the console back to the start of its last line, so progress bars
// redraw in place.
//
// Output can arrive far faster than a page can lay it out (1 MiB in ~100 ms), and a console
// that laid out every chunk froze every tab of the session. So chunks are queued and drawn
// once per animation frame (one append, one scroll), and what is drawn is bounded: the output
// that follows a line of its own (a run's, mostly) is a segment, of which the first
// `HEAD_CHARS` and the last `TAIL_CHARS` are drawn, the middle replaced by "… N KB of earlier
// output not shown" with the whole of it (which the page keeps) a click away.

import { AnsiUp } from "ansi_up";

import type { RunStatus } from "./protocol";

/** The kinds of text the console shows. */
export type ConsoleKind = "stdout" | "stderr" | "build" | "stdin" | "meta" | "error";

/** The start of a segment that is always drawn (the first lines are often the ones that matter). */
export const HEAD_CHARS = 16_000;
/** The end of a segment that is drawn, scrolling along. */
export const TAIL_CHARS = 48_000;
/** A chunk's span is closed past this, so the tail drops old text in small steps. */
const SPAN_CHARS = 2_000;
/** Most text drawn in the whole console; older segments and lines go first past it. */
const MAX_CHARS = 400_000;
/** Most text kept for "Open full output", over every segment (the oldest lose theirs first). */
const KEPT_CHARS = 16 * 1024 * 1024;
/** A frame that never comes (a hidden tab) does not hold output back longer than this. */
const FLUSH_FALLBACK_MS = 250;

/** The streams whose escapes are rendered (stdin is what people typed: shown as typed). */
const RENDERED: ReadonlySet<ConsoleKind> = new Set(["stdout", "stderr", "build"]);

/** The output after a line of its own: drawn as head, elided middle, tail. */
interface Segment {
  readonly node: HTMLElement;
  /** The line that opened it (a run's "run started"), for the full output's first line. */
  readonly title: string;
  head: number;
  tail: number;
  /** Characters not drawn (the elided middle). */
  elided: number;
  marker: HTMLElement | null;
  /** Everything it was sent, as sent; null once dropped for memory. */
  raw: string[] | null;
  rawChars: number;
}

export class OutputConsole {
  readonly element: HTMLElement;
  /** Characters drawn, over the whole console. */
  private chars = 0;
  private last: { kind: ConsoleKind; node: HTMLElement; chars: number } | null = null;
  /** The block text is drawn into (see `draw`). */
  private block: { node: HTMLElement; chars: number; endsLine: boolean } | null = null;
  /** Each stream's colour state, which its chunks continue. */
  private readonly ansi = new Map<ConsoleKind, AnsiUp>();
  /** A chunk ended in `\r`: whether it ends a line depends on the next chunk. */
  private pendingCR = false;
  /** Chunks waiting for the next frame. */
  private queue: [ConsoleKind, string][] = [];
  private frame = 0;
  private fallback = 0;
  /** The segment being written, and every segment still drawn, by element. */
  private seg: Segment | null = null;
  private readonly segments = new Map<HTMLElement, Segment>();
  private keptChars = 0;
  /** The view follows new output (it was at the bottom when the person last scrolled). */
  private stick = true;
  /** Characters of whole segments and lines dropped from the top. */
  private dropped = 0;
  private droppedNote: HTMLElement | null = null;
  /** The line most recently added (a segment's title). */
  private lastLine = "";

  constructor(element: HTMLElement) {
    this.element = element;
    // Read on scroll, when layout is fresh, rather than once per chunk.
    element.addEventListener("scroll", () => (this.stick = this.atBottom()), { passive: true });
    element.addEventListener("click", (e) => {
      const button = (e.target as Element).closest(".console-full");
      const seg = button?.closest(".out-segment");
      if (seg instanceof HTMLElement) this.openFull(seg);
    });
  }

  /** Queues text of one kind; it is drawn at the next frame, with everything else queued. */
  append(kind: ConsoleKind, text: string): void {
    if (!text) return;
    this.queue.push([kind, text]);
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => this.flush());
    this.fallback = window.setTimeout(() => this.flush(), FLUSH_FALLBACK_MS);
  }

  /** Draws what is queued now: one DOM update, one scroll. */
  flush(): void {
    cancelAnimationFrame(this.frame);
    clearTimeout(this.fallback);
    this.frame = 0;
    this.fallback = 0;
    if (!this.queue.length) return;
    // Adjacent chunks of a kind are one write.
    const merged: [ConsoleKind, string][] = [];
    for (const [kind, text] of this.queue) {
      const prev = merged[merged.length - 1];
      if (prev && prev[0] === kind) prev[1] += text;
      else merged.push([kind, text]);
    }
    this.queue = [];
    for (const [kind, text] of merged) this.write(kind, text);
    this.updateMarker();
    this.trim();
    this.follow();
  }

  /** A line of its own (a run's header or footer, a notice); it ends the segment before it. */
  line(kind: ConsoleKind, text: string, className = ""): HTMLElement {
    this.flush();
    const div = document.createElement("div");
    div.className = `out-${kind} ${className}`.trim();
    div.textContent = text;
    this.element.appendChild(div);
    this.chars += text.length;
    this.last = null;
    this.block = null;
    this.seg = null;
    this.lastLine = text;
    // A run's boundary: its programs' colours and half-sent escapes end with it.
    this.ansi.clear();
    this.pendingCR = false;
    this.trim();
    this.follow();
    return div;
  }

  clear(): void {
    this.queue = [];
    this.flush();
    this.element.replaceChildren();
    this.chars = 0;
    this.last = null;
    this.block = null;
    this.seg = null;
    this.segments.clear();
    this.keptChars = 0;
    this.dropped = 0;
    this.droppedNote = null;
    this.ansi.clear();
    this.pendingCR = false;
    this.stick = true;
  }

  /** The console's text, as a person would copy it (what is queued included). */
  text(): string {
    this.flush();
    return this.element.textContent ?? "";
  }

  /** A segment's whole output as plain text: its title line, then everything it was sent. */
  fullText(node: HTMLElement): string | null {
    const seg = this.segments.get(node);
    if (!seg?.raw) return null;
    return `${seg.title}\n${plainText(seg.raw.join(""))}`;
  }

  /** Opens a segment's whole output as plain text in a new tab. */
  private openFull(node: HTMLElement): void {
    const text = this.fullText(node) ?? "The full output of this run is no longer kept by this page.";
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    window.open(url, "_blank", "noopener");
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  private write(kind: ConsoleKind, text: string): void {
    if (this.pendingCR) {
      this.pendingCR = false;
      text = "\r" + text;
    }
    if (text.endsWith("\r")) {
      this.pendingCR = true;
      text = text.slice(0, -1);
    }
    const seg = this.segment();
    this.keep(seg, text);
    // Only a lone `\r` returns to the line's start; `\r\n` is a line end like `\n`.
    const pieces = text.replace(/\r\n/g, "\n").split("\r");
    pieces.forEach((piece, i) => {
      if (i > 0) this.clearLine(seg);
      if (piece) this.place(seg, kind, piece);
    });
  }

  /** The segment output goes to, opened after the last line if there is none. */
  private segment(): Segment {
    if (this.seg) return this.seg;
    const node = document.createElement("div");
    node.className = "out-segment";
    this.element.appendChild(node);
    this.seg = { node, title: this.lastLine, head: 0, tail: 0, elided: 0, marker: null, raw: [], rawChars: 0 };
    this.segments.set(node, this.seg);
    this.last = null;
    this.block = null;
    return this.seg;
  }

  /** Keeps what was sent, for the full output, within the console's memory budget. */
  private keep(seg: Segment, text: string): void {
    if (!seg.raw) return;
    seg.raw.push(text);
    seg.rawChars += text.length;
    this.keptChars += text.length;
    for (const old of this.segments.values()) {
      if (this.keptChars <= KEPT_CHARS || old === seg) break;
      if (!old.raw) continue;
      this.keptChars -= old.rawChars;
      old.raw = null;
      old.rawChars = 0;
    }
  }

  /** Draws a piece with no `\r` in it: into the head while it has room, then the tail. */
  private place(seg: Segment, kind: ConsoleKind, text: string): void {
    if (!seg.marker) {
      const room = HEAD_CHARS - seg.head;
      if (text.length <= room) {
        seg.head += this.draw(kind, text);
        return;
      }
      // Fill the head up to a line end, if one is near; the rest starts the tail.
      const nl = text.lastIndexOf("\n", room - 1);
      const cut = nl > room / 2 ? nl + 1 : room;
      seg.head += this.draw(kind, text.slice(0, cut));
      text = text.slice(cut);
      seg.marker = elidedMarker();
      seg.node.appendChild(seg.marker);
      this.last = null;
      this.block = null;
    }
    // What would scroll out of the tail at once is not drawn at all; its escapes still set
    // the stream's colour state.
    if (text.length > TAIL_CHARS) {
      const skip = text.length - TAIL_CHARS;
      if (RENDERED.has(kind)) this.renderer(kind).ansi_to_html(text.slice(0, skip));
      seg.elided += skip;
      text = text.slice(skip);
    }
    seg.tail += this.draw(kind, text);
    // Drop the tail's oldest spans past its bound.
    while (seg.tail > TAIL_CHARS) {
      const first = seg.marker.nextSibling;
      if (!first) break;
      const n = first.textContent?.length ?? 0;
      if (this.block?.node === first) {
        this.block = null;
        this.last = null;
      }
      first.remove();
      seg.tail -= n;
      seg.elided += n;
      this.chars -= n;
    }
  }

  /**
   * Appends to the last block's span of this kind; returns the characters drawn. Text is
   * drawn in blocks of about `SPAN_CHARS` that end at line ends: a frame's new text lays out
   * only its own blocks, and the tail drops whole lines, a block at a time.
   */
  private draw(kind: ConsoleKind, text: string): number {
    let drawn = 0;
    while (text) {
      const block = this.block;
      if (!block || (block.chars >= SPAN_CHARS && block.endsLine) || block.chars >= 4 * SPAN_CHARS) {
        const node = document.createElement("div");
        node.className = "out-block";
        this.segment().node.appendChild(node);
        this.block = { node, chars: 0, endsLine: true };
        this.last = null;
      }
      const into = this.block!;
      if (!this.last || this.last.kind !== kind) {
        const span = document.createElement("span");
        span.className = `out-${kind}`;
        into.node.appendChild(span);
        this.last = { kind, node: span, chars: 0 };
      }
      let part = text;
      const room = SPAN_CHARS - into.chars;
      if (room > 0 && part.length > room) {
        // Up to a line end past the room, if there is one soon after.
        const nl = part.indexOf("\n", room - 1);
        if (nl >= 0 && nl < 4 * SPAN_CHARS) part = part.slice(0, nl + 1);
        else if (part.length > 4 * SPAN_CHARS) part = part.slice(0, 4 * SPAN_CHARS);
      }
      text = text.slice(part.length);
      if (RENDERED.has(kind)) {
        // ansi_up escapes the program's text and emits only spans of its own (links are off),
        // so its HTML can be inserted as it is.
        this.last.node.insertAdjacentHTML("beforeend", this.renderer(kind).ansi_to_html(part));
      } else {
        this.last.node.append(part);
      }
      this.last.chars += part.length;
      into.chars += part.length;
      into.endsLine = part.endsWith("\n");
      drawn += part.length;
    }
    this.chars += drawn;
    return drawn;
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

  /** Removes the text after the segment's last line break (what a `\r` overwrites), back to
   * its elided middle at most. */
  private clearLine(seg: Segment): void {
    const walker = document.createTreeWalker(seg.node, NodeFilter.SHOW_TEXT, {
      acceptNode: (n) => (seg.marker?.contains(n) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
    });
    let node = lastText(seg.node, walker);
    // The head is not reached through the elided middle.
    while (node && !(seg.marker && seg.marker.compareDocumentPosition(node) & Node.DOCUMENT_POSITION_PRECEDING)) {
      const value = node.data;
      const cut = value.lastIndexOf("\n");
      const removed = cut >= 0 ? value.length - cut - 1 : value.length;
      if (seg.marker) seg.tail -= removed;
      else seg.head -= removed;
      this.chars -= removed;
      if (this.last) this.last.chars -= removed;
      if (this.block) this.block.chars -= removed;
      if (cut >= 0) {
        node.data = value.slice(0, cut + 1);
        return;
      }
      walker.currentNode = node;
      const prev = walker.previousNode() as Text | null;
      node.remove();
      node = prev;
    }
  }

  /** The marker's count, once per frame. */
  private updateMarker(): void {
    const seg = this.seg;
    if (!seg?.marker) return;
    const label = seg.marker.firstChild as Text;
    label.data = `… ${kb(seg.elided)} of earlier output not shown `;
  }

  private atBottom(): boolean {
    const el = this.element;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  }

  private follow(): void {
    // The one layout this frame forces.
    if (this.stick) this.element.scrollTop = this.element.scrollHeight;
  }

  /** Drops whole lines and segments from the top past `MAX_CHARS` (never the one written). */
  private trim(): void {
    while (this.chars > MAX_CHARS) {
      let first = this.element.firstChild as HTMLElement | null;
      if (first && first === this.droppedNote) first = first.nextSibling as HTMLElement | null;
      if (!first || first === this.seg?.node) break;
      const seg = this.segments.get(first);
      const n = seg ? seg.head + seg.tail : (first.textContent?.length ?? 0);
      if (seg) {
        this.keptChars -= seg.rawChars;
        this.segments.delete(first);
      }
      first.remove();
      this.chars -= n;
      this.dropped += n;
    }
    if (this.dropped) {
      this.droppedNote ??= this.element.insertBefore(el("div", "out-meta console-dropped"), this.element.firstChild);
      this.droppedNote.textContent = `… ${kb(this.dropped)} of older output cleared from the console`;
    }
  }
}

function el(tag: string, className: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

/** "… N KB of earlier output not shown", and the button that opens all of it. */
function elidedMarker(): HTMLElement {
  const marker = el("div", "out-meta console-elided");
  marker.append(document.createTextNode(""));
  const open = el("button", "btn small console-full");
  open.setAttribute("type", "button");
  open.textContent = "Open full output";
  marker.append(open);
  return marker;
}

/** The segment's last text node outside its marker (text nodes are the walker's only children). */
function lastText(root: Node, walker: TreeWalker): Text | null {
  walker.currentNode = root;
  return walker.lastChild() as Text | null;
}

function kb(chars: number): string {
  return chars >= 1024 * 1024
    ? `${(chars / (1024 * 1024)).toFixed(1)} MB`
    : `${Math.max(1, Math.round(chars / 1024))} KB`;
}

/** What a terminal would show of raw output: escapes removed, a lone `\r` overwriting its line. */
export function plainText(raw: string): string {
  // eslint-disable-next-line no-control-regex
  const stripped = raw.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g, "");
  return stripped
    .replace(/\r\n/g, "\n")
    .split("\n")
    .map((line) => line.slice(line.lastIndexOf("\r") + 1))
    .join("\n");
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Whether a run went well: a failure is any status but `completed`, or a non-zero exit. */
export function runOutcome(run: { status: RunStatus | null; exit_code?: number | null }): "ok" | "failed" | "running" {
  if (run.status === null) return "running";
  return run.status === "completed" && run.exit_code === 0 ? "ok" : "failed";
}

/** The closing line of a run: status, exit code, time (and build time), truncation. */
export function runSummary(run: {
  status: RunStatus | null;
  exit_code?: number | null;
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
      parts.push(`compile_error: the build failed${run.exit_code != null ? ` (exit code ${run.exit_code})` : ""}`);
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
