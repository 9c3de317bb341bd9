// Run, Stop, the console and the stdin box. It follows the run in progress by its `seq`, so a
// page that joins during a run shows all of it (from `welcome`), and one that reconnects asks
// for what came after its last item and shows nothing twice. The console also tells of a
// language switch and of what the server refused (but edits: the workspace tells of those).

import { OutputConsole, runOutcome, runSummary } from "../console";
import { el } from "../dom";
import type { EmbedEvent } from "../embed";
import type { ClientMessage, OutputMessage, ServerMessage, Welcome } from "../protocol";
import type { Controls, Part } from "./part";
import { refusesEdits } from "./workspace";

export interface RunPanelHost {
  send(msg: ClientMessage): boolean;
  /** Runs the document (after pending edits are confirmed). */
  run(): void;
  post(event: EmbedEvent): void;
  /** Marks the page as running (for styles). */
  running(running: boolean): void;
}

/** Where a reconnecting socket picks the run up. */
export interface ResumePoint {
  readonly run_id: string;
  readonly seq: number;
}

export class RunPanel implements Part {
  readonly runButton = el(
    "button",
    { type: "button", class: "btn primary", id: "run", title: "Run (Ctrl+Enter)", disabled: "" },
    "▶ Run",
  );
  readonly stopButton = el(
    "button",
    { type: "button", class: "btn", id: "stop", title: "Stop the running program", disabled: "" },
    "■ Stop",
  );
  private readonly consoleEl = el("pre", { class: "console", id: "console", "aria-live": "polite", tabindex: "0" });
  private readonly stdinInput = el("input", {
    type: "text",
    class: "stdin",
    id: "stdin",
    placeholder: "stdin: Enter sends a line to the running program",
    autocomplete: "off",
    spellcheck: "false",
    disabled: "",
  });
  private readonly eofButton = el(
    "button",
    {
      type: "button",
      class: "btn small",
      id: "stdin-eof",
      title: "Close the program's standard input (Ctrl+D)",
      disabled: "",
    },
    "EOF",
  );
  /** "running · 3.2 s" while a run goes, then how the last one ended. */
  private readonly stateEl = el("span", { class: "run-state", id: "run-state", role: "status" });
  readonly console = new OutputConsole(this.consoleEl);
  readonly element: HTMLElement;
  /** A run is in progress. */
  running = false;
  private runId: string | null = null;
  private lastSeq = 0;
  /** This page's participant ids, one per socket it had: its own input is echoed locally. */
  private readonly mine = new Set<number>();
  private canType = false;
  /** When the run in progress started (this page's clock), for the live timer. */
  private startedAt = 0;
  private elapsedTimer = 0;

  constructor(private readonly host: RunPanelHost) {
    this.runButton.addEventListener("click", () => host.run());
    this.stopButton.addEventListener("click", () => host.send({ type: "kill" }));
    this.stdinInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        this.sendStdin();
      } else if (e.key === "d" && e.ctrlKey) {
        e.preventDefault();
        this.sendEof();
      }
    });
    this.eofButton.addEventListener("click", () => this.sendEof());
    const clear = el(
      "button",
      { type: "button", class: "btn small", id: "clear-console", title: "Clear the console" },
      "Clear",
    );
    clear.addEventListener("click", () => this.console.clear());
    // There is no "the program waits for input" signal: keys typed into the console while a
    // program runs go to its stdin box instead of nowhere.
    this.consoleEl.addEventListener("keydown", (e) => {
      if (this.stdinInput.disabled || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key.length === 1 || e.key === "Enter") this.stdinInput.focus();
    });
    this.element = el(
      "section",
      { class: "panel console-panel", "aria-label": "Console" },
      el("header", { class: "panel-head" }, el("h2", {}, "Console"), this.stateEl, clear),
      this.consoleEl,
      el("div", { class: "stdin-row" }, this.stdinInput, this.eofButton),
    );
  }

  /** Where to pick up the run in progress after a reconnect, if one is. */
  resumePoint(): ResumePoint | undefined {
    return this.running && this.runId ? { run_id: this.runId, seq: this.lastSeq } : undefined;
  }

  /** After each (re)connect: the run in progress as far as it went, or the end of the one this
   * page was following. */
  welcome(w: Welcome, first: boolean): void {
    this.mine.add(w.participant);
    const run = w.run;
    if (run) {
      if (run.run_id !== this.runId) {
        this.started(run.run_id, run.by, new Date(run.started_at), !first || this.runId !== null);
        if (first) this.console.line("meta", "(you joined during this run: its output so far)", "run-joined");
      }
      if (run.truncated) this.console.line("meta", "(part of this run's input is not shown)");
      for (const event of run.events) if (event.type === "output" || event.type === "input") this.item(event);
      return;
    }
    const last = w.session.last_execution;
    if (this.running && this.runId) {
      // It ended while this page was away.
      this.finished(
        last && last.run_id === this.runId ? runSummary(last) : "the run ended while you were offline",
        last && last.run_id === this.runId ? `run-end status-${last.status} outcome-${runOutcome(last)}` : null,
      );
    } else if (first && last) {
      this.console.line(
        "meta",
        `Last run before you joined: ${runSummary(last)}`,
        `run-end-earlier outcome-${runOutcome(last)}`,
      );
    }
  }

  /** The run's messages; what else the console tells: a language switch, errors. */
  message(msg: ServerMessage): void {
    switch (msg.type) {
      case "run_started":
        return this.started(msg.run_id, msg.by, new Date(), false);
      case "output":
      case "input":
        return this.item(msg);
      case "run_finished":
        if (msg.run_id === this.runId || this.runId === null) {
          this.finished(runSummary(msg), `run-end status-${msg.status} outcome-${runOutcome(msg)}`);
        }
        this.host.post({
          type: "run_finished",
          run_id: msg.run_id,
          status: msg.status,
          exit_code: msg.exit_code ?? null,
          duration_ms: msg.duration_ms,
        });
        return;
      case "status":
        // A test run executes without run messages of its own: its status is all there is.
        if (msg.status === "executing") this.setRunning(true);
        else if (msg.status === "ready" && this.running) this.setRunning(false);
        return;
      case "environment": {
        const { description, name } = msg.environment;
        this.console.line("meta", `Switched to ${description || name} by ${msg.by}`);
        return;
      }
      case "error":
        // The workspace tells of the errors that refuse edits.
        if (refusesEdits(msg.code)) return;
        this.console.line(
          "error",
          msg.code === "RUN_IN_PROGRESS"
            ? "A run is already in progress: Stop it, or press Run again to restart."
            : `${msg.code}: ${msg.message}`,
        );
    }
  }

  update(controls: Controls): void {
    this.canType = controls.live;
    this.render();
  }

  /** Enables what this page may use now. */
  private render(): void {
    const live = this.canType;
    this.runButton.disabled = !live;
    this.runButton.textContent = this.running ? "↻ Restart" : "▶ Run";
    this.stopButton.disabled = !live || !this.running;
    // The server takes input only while a program runs.
    this.stdinInput.disabled = !live || !this.running;
    this.eofButton.disabled = !live || !this.running;
  }

  /** The session ended: nothing runs any more. */
  end(): void {
    this.setRunning(false);
  }

  private started(runId: string, by: string, at: Date, rejoined: boolean): void {
    this.runId = runId;
    this.lastSeq = 0;
    this.startedAt = Math.min(Date.now(), at.getTime());
    const focusStdin = this.nothingElseFocused();
    this.setRunning(true);
    // A program may wait on input(): with no other focus (the Run button, the page itself),
    // typing goes to its stdin; the editor keeps its focus.
    if (focusStdin && !this.stdinInput.disabled) this.stdinInput.focus();
    const when = at.toLocaleTimeString();
    this.console.line("meta", `▶ run started by ${by} at ${when}${rejoined ? " (caught up)" : ""}`, "run-start");
    this.host.post({ type: "run_started", run_id: runId, by });
  }

  private item(msg: OutputMessage): void {
    if (msg.run_id !== this.runId) return; // a run this page never saw start
    if (msg.seq <= this.lastSeq) return; // had it already
    this.lastSeq = msg.seq;
    if (msg.type === "output") {
      this.console.append(msg.phase === "build" && msg.stream === "stdout" ? "build" : msg.stream, msg.data);
    } else if (!this.mine.has(msg.participant)) {
      // The sender echoed its own line already.
      this.console.append("stdin", msg.data);
    }
  }

  private finished(summary: string, className: string | null): void {
    const hadStdin = document.activeElement === this.stdinInput;
    this.setRunning(false);
    this.console.line("meta", summary, className ?? "run-end");
    this.stateEl.textContent = summary.split(" · ")[0];
    this.stateEl.className = `run-state ${/outcome-(\w+)/.exec(className ?? "")?.[0] ?? ""}`.trim();
    // The stdin box closes with the run: focus goes back to Run rather than to nowhere.
    if (hadStdin && !this.runButton.disabled) this.runButton.focus();
    this.runId = null;
  }

  /** Focus is on nothing that takes typing: the page, or Run/Stop. */
  private nothingElseFocused(): boolean {
    const active = document.activeElement;
    return (
      !active ||
      active === document.body ||
      active === this.runButton ||
      active === this.stopButton ||
      active === this.consoleEl
    );
  }

  private setRunning(running: boolean): void {
    if (running && !this.elapsedTimer) {
      this.elapsedTimer = window.setInterval(() => this.showElapsed(), 100);
      this.showElapsed();
    } else if (!running && this.elapsedTimer) {
      clearInterval(this.elapsedTimer);
      this.elapsedTimer = 0;
      this.startedAt = 0;
      if (this.stateEl.classList.contains("outcome-running")) this.stateEl.textContent = "";
    }
    this.running = running;
    this.host.running(running);
    this.render();
  }

  /** "running · 3.2 s" (a test run has no start of its own: its time counts from now). */
  private showElapsed(): void {
    if (!this.startedAt) this.startedAt = Date.now();
    const s = (Date.now() - this.startedAt) / 1000;
    this.stateEl.textContent = `running · ${s < 60 ? s.toFixed(1) + " s" : `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`}`;
    this.stateEl.className = "run-state outcome-running";
  }

  private sendStdin(): void {
    if (!this.canType) return;
    const line = this.stdinInput.value;
    if (this.host.send({ type: "stdin", data: line + "\n" })) {
      this.console.append("stdin", line + "\n");
      this.stdinInput.value = "";
    }
  }

  private sendEof(): void {
    if (this.canType && this.host.send({ type: "stdin_eof" })) this.console.line("meta", "stdin closed (EOF)");
  }
}
