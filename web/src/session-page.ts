// The session page (`/s/{id}#token=…`) and its chrome-less twin (`/embed/{id}#token=…`): the
// editor, run controls and console, participants and timer; for interviewers also private
// notes, ending the session and replay. The role comes from the `welcome` the token earns.

import { getSyncedVersion } from "@codemirror/collab";
import { EditorState, type Extension } from "@codemirror/state";
import { EditorView, ViewPlugin } from "@codemirror/view";

import { api, ApiError } from "./api";
import { Peer, peerExtension } from "./collab";
import { Connection, type ConnectionState } from "./connection";
import { OutputConsole, runSummary } from "./console";
import { participantColor } from "./cursors";
import { el } from "./dom";
import {
  baseExtensions,
  EditorCompartments,
  editorTheme,
  placeholderExtension,
  readOnlyExtension,
  runKeymap,
} from "./editor";
import { EmbedBridge, type EmbedCommand } from "./embed";
import { loadLanguage } from "./languages";
import type { Participant, Role, ServerMessage, SessionView, Welcome } from "./protocol";
import { Replay, versionsOf } from "./replay";
import { applyTheme, savedTheme, type Theme } from "./theme";

export interface PageOptions {
  /** The embed: no page chrome, talks to its parent with postMessage. */
  readonly embed: boolean;
}

const NAME_KEY = "livecode.name";
const NOTES_DEBOUNCE_MS = 600;
const CODE_CHANGED_DEBOUNCE_MS = 300;
/** How long Run waits for the server to confirm pending edits (runs use the server's copy). */
const RUN_SYNC_WAIT_MS = 3000;
const SESSION_REFRESH_MS = 30_000;

function hashParams(): URLSearchParams {
  return new URLSearchParams(location.hash.replace(/^#/, ""));
}

function sessionIdFromPath(): string {
  const parts = location.pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[1] ?? "");
}

function storedName(): string {
  try {
    return localStorage.getItem(NAME_KEY) ?? "";
  } catch {
    return "";
  }
}

function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(sec).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function roleLabel(role: Role): string {
  return role === "candidate" ? "Candidate" : role === "interviewer" ? "Interviewer" : "Observer";
}

/** Builds the page into `root` and connects. */
export function startSessionPage(root: HTMLElement, options: PageOptions): void {
  new SessionPage(root, options).start();
}

class SessionPage {
  private readonly sessionId = sessionIdFromPath();
  private readonly token: string;
  private name: string;
  private theme: Theme;
  private readonly connection: Connection;
  private readonly compartments = new EditorCompartments();
  private readonly console: OutputConsole;
  private readonly bridge: EmbedBridge | null;

  private view: EditorView | null = null;
  private peerPlugin: ViewPlugin<Peer> | null = null;
  private welcome: Welcome | null = null;
  private role: Role | null = null;
  private session: SessionView | null = null;
  private participants: Participant[] = [];
  private me = -1;
  private running = false;
  private ended = false;
  private everOnline = false;
  private resetOnWelcome = false;
  private languageName = "";
  private languageExt: Extension = [];
  private pendingCommands: EmbedCommand[] = [];
  private replay: Replay | null = null;
  private notesTimer = 0;
  private notesSent: string | null = null;
  private notesDirty = false;
  private codeTimer = 0;
  private tickTimer = 0;
  private connState: ConnectionState = { kind: "connecting", attempt: 0 };
  private refreshTimer = 0;

  // Elements.
  private readonly rootEl: HTMLElement;
  private readonly editorHost = el("div", { class: "editor-host", id: "editor" });
  private readonly replayHost = el("div", { class: "replay-host", hidden: "" });
  private readonly runButton = el(
    "button",
    { type: "button", class: "btn primary", id: "run", title: "Run (Ctrl+Enter)", disabled: "" },
    "▶ Run",
  );
  private readonly stopButton = el(
    "button",
    { type: "button", class: "btn", id: "stop", title: "Stop the running program", disabled: "" },
    "■ Stop",
  );
  private readonly stateEl = el("span", { class: "conn", id: "connection", role: "status" }, "connecting…");
  private readonly participantsEl = el("ul", {
    class: "participants",
    id: "participants",
    "aria-label": "Participants",
  });
  private readonly timerEl = el("span", { class: "timer", id: "timer" });
  private readonly titleEl = el("span", { class: "title", id: "title" });
  private readonly envEl = el("span", { class: "env", id: "environment" });
  private readonly banner = el("div", { class: "banner", id: "banner", hidden: "" });
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
  private readonly notesArea = el("textarea", {
    id: "notes",
    class: "notes",
    placeholder: "Private notes: only interviewers see these",
    spellcheck: "true",
  });
  private readonly notesState = el("span", { class: "notes-state", id: "notes-state" });
  private readonly notesPanel: HTMLElement;
  private readonly endButton = el("button", { type: "button", class: "btn danger", id: "end-session" }, "End session");
  private readonly replayButton = el(
    "button",
    { type: "button", class: "btn", id: "replay-toggle", "aria-pressed": "false" },
    "Replay",
  );
  private readonly themeButton = el("button", {
    type: "button",
    class: "btn icon",
    id: "theme-toggle",
    title: "Switch between light and dark",
  });

  constructor(
    root: HTMLElement,
    private readonly options: PageOptions,
  ) {
    this.rootEl = root;
    const hash = hashParams();
    this.token = hash.get("token") ?? "";
    this.name = (hash.get("name") ?? storedName()).slice(0, 40);
    const hashTheme = hash.get("theme");
    this.theme = hashTheme === "dark" || hashTheme === "light" ? hashTheme : savedTheme();
    applyTheme(this.theme, false);
    this.console = new OutputConsole(this.consoleEl);
    this.notesPanel = el(
      "section",
      { class: "panel notes-panel", hidden: "", "aria-label": "Private notes" },
      el("header", { class: "panel-head" }, el("h2", {}, "Private notes"), this.notesState),
      this.notesArea,
    );
    this.bridge = options.embed ? new EmbedBridge((c) => this.command(c)) : null;
    const readonly = ["1", "true"].includes(hash.get("readonly") ?? "");
    this.connection = new Connection(this.sessionId, this.token, this.name, readonly, {
      message: (m) => this.message(m),
      state: (s) => this.connectionState(s),
      failing: (n) => void this.failing(n),
    });
    this.build();
    this.exposeForTests();
  }

  start(): void {
    if (!this.sessionId || !this.token) {
      this.fatal("This link is incomplete: it needs the session's token after #token=.");
      return;
    }
    void this.bridge?.start();
    this.connection.start();
    this.tickTimer = window.setInterval(() => {
      this.renderTimer();
      if (this.connState.kind !== "online") this.renderConnection();
    }, 1000);
  }

  // ---- layout ----

  private build(): void {
    const root = this.rootEl;
    root.classList.add("session-page", this.options.embed ? "embed" : "full");
    this.runButton.addEventListener("click", () => void this.run());
    this.stopButton.addEventListener("click", () => this.connection.send({ type: "kill" }));
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
    // Ctrl/Cmd+Enter runs from anywhere on the page (the editor handles its own).
    document.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.defaultPrevented) {
        e.preventDefault();
        void this.run();
      }
    });
    const clear = el(
      "button",
      { type: "button", class: "btn small", id: "clear-console", title: "Clear the console" },
      "Clear",
    );
    clear.addEventListener("click", () => this.console.clear());

    const consolePanel = el(
      "section",
      { class: "panel console-panel", "aria-label": "Console" },
      el("header", { class: "panel-head" }, el("h2", {}, "Console"), clear),
      this.consoleEl,
      el("div", { class: "stdin-row" }, this.stdinInput, this.eofButton),
    );
    const side = el("div", { class: "side" }, consolePanel, this.options.embed ? null : this.notesPanel);
    const main = el(
      "main",
      { class: "workspace" },
      el("div", { class: "editor-pane" }, this.editorHost, this.replayHost),
      side,
    );

    if (this.options.embed) {
      const bar = el(
        "div",
        { class: "embed-bar" },
        this.runButton,
        this.stopButton,
        this.envEl,
        el("span", { class: "spacer" }),
        this.stateEl,
      );
      root.append(bar, this.banner, main);
      return;
    }

    this.themeButton.addEventListener("click", () => this.setTheme(this.theme === "dark" ? "light" : "dark", true));
    this.endButton.hidden = true;
    this.replayButton.hidden = true;
    this.endButton.addEventListener("click", () => this.endSession());
    this.replayButton.addEventListener("click", () => this.toggleReplay());
    this.notesArea.addEventListener("input", () => this.notesInput());

    const header = el(
      "header",
      { class: "topbar" },
      el("a", { class: "brand", href: "/" }, "livecode"),
      el("div", { class: "session-info" }, this.titleEl, this.envEl),
      this.runButton,
      this.stopButton,
      this.stateEl,
      el("span", { class: "spacer" }),
      this.participantsEl,
      this.timerEl,
      this.replayButton,
      this.endButton,
      this.themeButton,
    );
    root.append(header, this.banner, this.candidateLinkBar(), main);
    this.updateThemeButton();
  }

  /** The candidate's link, for the interviewer who just made the session on the landing page. */
  private candidateLinkBar(): HTMLElement | string {
    let url = "";
    try {
      url = sessionStorage.getItem(`livecode.candidate.${this.sessionId}`) ?? "";
    } catch {
      // no storage: no bar
    }
    if (!url) return "";
    const input = el("input", {
      type: "text",
      readonly: "",
      value: url,
      id: "candidate-link",
      "aria-label": "Candidate link",
    });
    const copy = el("button", { type: "button", class: "btn small" }, "Copy");
    copy.addEventListener("click", async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(url);
      } catch {
        document.execCommand("copy");
      }
      copy.textContent = "Copied";
      setTimeout(() => (copy.textContent = "Copy"), 1500);
    });
    const close = el("button", { type: "button", class: "btn small ghost", "aria-label": "Hide" }, "✕");
    const bar = el("div", { class: "linkbar" }, el("span", {}, "Send this link to the candidate:"), input, copy, close);
    close.addEventListener("click", () => bar.remove());
    return bar;
  }

  // ---- socket ----

  private message(msg: ServerMessage): void {
    switch (msg.type) {
      case "welcome":
        this.onWelcome(msg);
        break;
      case "updates":
        this.peer()?.receive(msg.version, msg.updates);
        break;
      case "update_rejected":
        this.peer()?.rejected(msg.version);
        break;
      case "cursor":
        this.peer()?.cursor(msg);
        break;
      case "presence":
        this.participants = msg.participants;
        this.renderParticipants();
        this.peer()?.presence(msg.participants);
        break;
      case "status":
        if (this.session) this.session = { ...this.session, status: msg.status };
        if (msg.status === "executing") this.setRunning(true);
        break;
      case "run_started":
        this.setRunning(true);
        this.console.line("meta", `▶ run started by ${msg.by} at ${new Date().toLocaleTimeString()}`, "run-start");
        this.bridge?.post({ type: "run_started", run_id: msg.run_id, by: msg.by });
        break;
      case "output":
        this.console.append(msg.phase === "build" && msg.stream === "stdout" ? "build" : msg.stream, msg.data);
        break;
      case "input":
        // The sender echoed its own line already.
        if (msg.participant !== this.me) this.console.append("stdin", msg.data);
        break;
      case "run_finished":
        this.setRunning(false);
        this.console.line("meta", runSummary(msg), `run-end status-${msg.status}`);
        this.bridge?.post({
          type: "run_finished",
          run_id: msg.run_id,
          status: msg.status,
          exit_code: msg.exit_code,
          duration_ms: msg.duration_ms,
        });
        break;
      case "notes":
        this.notesReceived(msg.text);
        break;
      case "error":
        this.onError(msg.code, msg.message);
        break;
      case "session_ended":
        this.endedUi(msg.reason);
        break;
      case "pong":
        break;
    }
  }

  private onWelcome(w: Welcome): void {
    const first = this.welcome === null;
    this.welcome = w;
    this.role = w.role;
    this.session = w.session;
    this.me = w.participant;
    this.participants = w.participants;
    this.everOnline = true;
    if (w.session.status === "executing") this.setRunning(true);
    if (first) {
      const last = w.session.last_execution;
      if (last && w.session.status !== "executing") {
        this.console.line("meta", `Last run before you joined: ${runSummary(last)}`, "run-end-earlier");
      }
      this.createEditor(w);
      this.applyRole(w);
      this.startTimers();
      this.bridge?.post({
        type: "ready",
        session_id: this.sessionId,
        role: w.role,
        environment: w.environment.name,
        version: w.version,
      });
    } else if (this.resetOnWelcome) {
      this.resetOnWelcome = false;
      this.resetEditor(w);
    } else {
      this.peer()?.connected(w.version);
    }
    if (w.role === "interviewer" && w.notes !== undefined) {
      if (this.notesDirty) this.flushNotes();
      else this.notesReceived(w.notes);
    }
    this.renderParticipants();
    this.renderSessionInfo();
    this.updateControls();
    for (const command of this.pendingCommands.splice(0)) this.command(command);
  }

  private connectionState(state: ConnectionState): void {
    this.connState = state;
    if (state.kind === "connecting" || state.kind === "waiting") this.peer()?.disconnected();
    if (state.kind === "closed" && state.reason === "ended") this.endedUi(null);
    if (state.kind === "closed" && state.reason === "unauthorized") {
      this.fatal("This link is not valid for this session (wrong or revoked token).");
    }
    this.renderConnection();
    this.updateControls();
  }

  /** The connection pill; offline it counts the edits kept for later (refreshed every second). */
  private renderConnection(): void {
    const state = this.connState;
    const el = this.stateEl;
    el.dataset.state = state.kind;
    const pending = this.peer()?.unconfirmed ?? 0;
    const kept = pending ? ` · ${pending} edit${pending > 1 ? "s" : ""} not yet saved` : "";
    switch (state.kind) {
      case "online":
        el.textContent = "● connected";
        break;
      case "connecting":
        el.textContent = (this.everOnline ? "● reconnecting…" : "● connecting…") + kept;
        break;
      case "waiting": {
        const secs = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
        el.textContent = `● offline, retrying${secs ? ` in ${secs} s` : "…"}${kept}`;
        break;
      }
      case "closed":
        el.textContent =
          state.reason === "ended"
            ? "● session ended"
            : state.reason === "unauthorized"
              ? "● not authorized"
              : "● disconnected";
        break;
    }
  }

  /** The socket keeps failing before `welcome`: ask REST why (ended? wrong link?). */
  private async failing(attempt: number): Promise<void> {
    if (attempt < 2 || (attempt > 2 && attempt % 5 !== 0)) return;
    try {
      const session = await api.session(this.sessionId, this.token);
      this.session = session;
      if (["stopped", "expired", "error"].includes(session.status)) {
        this.connection.stop();
        this.connState = { kind: "closed", reason: "ended" };
        this.renderConnection();
        await this.showEndedSession(session);
      }
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 404)) {
        this.connection.stop();
        this.connState = { kind: "closed", reason: "stopped" };
        this.stateEl.dataset.state = "closed";
        this.stateEl.textContent = "● not available";
        this.fatal(err.status === 404 ? "There is no such session." : "This link is not valid for this session.");
      }
      // Anything else (server down, network): keep retrying.
    }
  }

  // ---- editor ----

  private peer(): Peer | null {
    return this.view && this.peerPlugin ? this.view.plugin(this.peerPlugin) : null;
  }

  private editorState(w: Welcome): EditorState {
    const { extension, plugin } = peerExtension(w.version, {
      transport: this.connection,
      onDiverged: (why) => this.diverged(why),
    });
    this.peerPlugin = plugin;
    const readOnly = w.role === "observer" || this.ended;
    return EditorState.create({
      doc: w.document,
      extensions: [
        baseExtensions(this.compartments, this.theme, readOnly),
        runKeymap(() => void this.run()),
        extension,
        EditorView.updateListener.of((u) => {
          if (!u.docChanged) return;
          this.codeChanged();
          if (this.connState.kind !== "online") this.renderConnection();
        }),
        EditorView.contentAttributes.of({ "aria-label": "Code editor" }),
      ],
    });
  }

  private createEditor(w: Welcome): void {
    this.view = new EditorView({ state: this.editorState(w), parent: this.editorHost });
    this.languageName = w.environment.editor_language;
    void loadLanguage(this.languageName).then((ext) => {
      this.languageExt = ext;
      this.view?.dispatch({ effects: this.compartments.language.reconfigure(ext) });
      this.replay?.setLanguage(ext);
    });
    void this.loadPlaceholder(w.environment.name);
    if (!this.options.embed && w.role !== "observer") this.view.focus();
  }

  private resetEditor(w: Welcome): void {
    if (!this.view) return;
    this.view.setState(this.editorState(w));
    this.view.dispatch({ effects: this.compartments.language.reconfigure(this.languageExt) });
    this.console.line("error", "The document was reloaded from the server; the last unsaved change could not be kept.");
  }

  /** The environment's template, shown greyed out while the document is empty. */
  private async loadPlaceholder(environment: string): Promise<void> {
    try {
      const env = (await api.environments()).find((e) => e.name === environment);
      if (env?.template) {
        this.view?.dispatch({ effects: this.compartments.placeholder.reconfigure(placeholderExtension(env.template)) });
      }
    } catch {
      // no placeholder then
    }
  }

  private diverged(why: string): void {
    console.warn("livecode: resynchronising the document:", why);
    this.resetOnWelcome = true;
    this.connection.rename(this.name);
  }

  private codeChanged(): void {
    if (!this.bridge) return;
    clearTimeout(this.codeTimer);
    this.codeTimer = window.setTimeout(() => {
      if (!this.view) return;
      this.bridge?.post({
        type: "code_changed",
        code: this.view.state.doc.toString(),
        version: getSyncedVersion(this.view.state),
      });
    }, CODE_CHANGED_DEBOUNCE_MS);
  }

  // ---- running ----

  private canWrite(): boolean {
    return !this.ended && (this.role === "candidate" || this.role === "interviewer");
  }

  private async run(): Promise<void> {
    if (!this.canWrite() || !this.connection.online) return;
    // Runs use the server's copy of the document: let pending edits land first.
    const peer = this.peer();
    if (peer && peer.unconfirmed > 0) await peer.whenSynced(RUN_SYNC_WAIT_MS);
    this.connection.send(this.running ? { type: "run", restart: true } : { type: "run" });
  }

  private sendStdin(): void {
    if (!this.canWrite()) return;
    const line = this.stdinInput.value;
    if (this.connection.send({ type: "stdin", data: line + "\n" })) {
      this.console.append("stdin", line + "\n");
      this.stdinInput.value = "";
    }
  }

  private sendEof(): void {
    if (this.canWrite() && this.connection.send({ type: "stdin_eof" })) this.console.line("meta", "stdin closed (EOF)");
  }

  private setRunning(running: boolean): void {
    this.running = running;
    this.rootEl.classList.toggle("running", running);
    this.updateControls();
  }

  private updateControls(): void {
    const live = this.connection.online && this.canWrite();
    this.runButton.disabled = !live;
    this.runButton.textContent = this.running ? "↻ Restart" : "▶ Run";
    this.stopButton.disabled = !live || !this.running;
    // The server takes input only while a program runs.
    this.stdinInput.disabled = !live || !this.running;
    this.eofButton.disabled = !live || !this.running;
    this.endButton.disabled = this.ended || !this.connection.online;
    this.notesArea.readOnly = this.ended;
  }

  private onError(code: string, message: string): void {
    const peer = this.peer();
    if (["CODE_TOO_LARGE", "INVALID_MESSAGE", "FORBIDDEN"].includes(code) && peer?.refused()) {
      this.console.line("error", `Your last edit was refused: ${message}`);
      this.diverged(code);
      return;
    }
    if (code === "RUN_IN_PROGRESS") {
      this.console.line("error", "A run is already in progress: Stop it, or press Run again to restart.");
      return;
    }
    this.console.line("error", `${code}: ${message}`);
  }

  // ---- roles, participants, time ----

  private applyRole(w: Welcome): void {
    this.rootEl.dataset.role = w.role;
    if (this.options.embed) return;
    const interviewer = w.role === "interviewer";
    this.notesPanel.hidden = !interviewer;
    this.endButton.hidden = !interviewer;
    this.replayButton.hidden = !interviewer;
    if (interviewer) {
      this.notesArea.value = w.notes ?? "";
      this.notesSent = w.notes ?? "";
    }
    document.title = `${w.session.label || w.environment.description} · livecode`;
  }

  private renderSessionInfo(): void {
    const w = this.welcome;
    if (!w) return;
    this.titleEl.textContent = this.session?.label || roleLabel(w.role) + " view";
    this.titleEl.title = this.titleEl.textContent;
    const number = w.environment.version?.match(/\d+(\.\d+)+/)?.[0];
    const version = number ? ` ${number}` : "";
    this.envEl.textContent = (w.environment.description || w.environment.name) + version;
    this.envEl.title = `${w.environment.filename}${w.environment.version ? ` · ${w.environment.version}` : ""}`;
  }

  private renderParticipants(): void {
    if (this.participantsEl.querySelector("input")) return; // renaming: keep the field
    const items = this.participants.map((p) => {
      const you = p.id === this.me;
      const name = p.name && p.name !== "anonymous" ? p.name : roleLabel(p.role);
      const dot = el("span", { class: "dot" });
      dot.style.backgroundColor = participantColor(p.id);
      const body: Array<Node | null> = [
        dot,
        el("span", { class: "pname" }, name + (you ? " (you)" : "")),
        name.toLowerCase() === p.role ? null : el("span", { class: "prole" }, p.role),
      ];
      if (you && !this.options.embed && !this.ended) {
        const button = el(
          "button",
          { type: "button", class: "pbutton", id: "rename", title: "Change your name" },
          ...body.filter((n) => n !== null),
        );
        button.addEventListener("click", () => this.editName());
        return el("li", { class: `participant role-${p.role} you` }, button);
      }
      return el(
        "li",
        { class: `participant role-${p.role}${you ? " you" : ""}`, title: `${name} (${p.role})` },
        ...body,
      );
    });
    this.participantsEl.replaceChildren(...items);
  }

  /** Turns one's own chip into a name field; Enter keeps the name, Escape doesn't. */
  private editName(): void {
    const input = el("input", {
      type: "text",
      class: "name",
      id: "name",
      maxlength: "40",
      placeholder: "Your name",
      "aria-label": "Your name",
    });
    input.value = this.name;
    let done = false;
    const finish = (keep: boolean) => {
      if (done) return;
      done = true;
      input.remove();
      if (keep && input.value.trim() !== this.name) this.rename(input.value);
      this.renderParticipants();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") finish(true);
      else if (e.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true));
    this.participantsEl.replaceChildren(el("li", { class: "participant editing" }, input));
    input.focus();
    input.select();
  }

  private startTimers(): void {
    this.renderTimer();
    // `expires_at` moves forward with activity: read it again now and then.
    this.refreshTimer = window.setInterval(async () => {
      if (this.ended) return;
      try {
        this.session = await api.session(this.sessionId, this.token);
      } catch {
        // keep the last one
      }
    }, SESSION_REFRESH_MS);
  }

  private renderTimer(): void {
    const s = this.session;
    if (!s || this.options.embed) return;
    const now = Date.now();
    const elapsed = duration(now - Date.parse(s.created_at));
    if (this.ended) {
      this.timerEl.textContent = `ended · ran ${elapsed}`;
      return;
    }
    const left = Date.parse(s.expires_at) - now;
    this.timerEl.textContent = `${elapsed} · ${duration(left)} left`;
    this.timerEl.classList.toggle("soon", left < 5 * 60_000);
    this.timerEl.title = `Started ${new Date(s.created_at).toLocaleString()}; ends ${new Date(s.expires_at).toLocaleString()} unless there is activity`;
  }

  private rename(name: string): void {
    this.name = name.trim().slice(0, 40);
    try {
      localStorage.setItem(NAME_KEY, this.name);
    } catch {
      // not remembered
    }
    this.connection.rename(this.name);
  }

  // ---- interviewer ----

  private notesInput(): void {
    this.notesDirty = true;
    this.notesState.textContent = "editing…";
    clearTimeout(this.notesTimer);
    this.notesTimer = window.setTimeout(() => this.flushNotes(), NOTES_DEBOUNCE_MS);
  }

  private flushNotes(): void {
    const text = this.notesArea.value;
    if (this.connection.send({ type: "notes", text })) {
      this.notesSent = text;
      this.notesState.textContent = "saving…";
    } else {
      this.notesState.textContent = "not saved yet (offline)";
    }
  }

  private notesReceived(text: string): void {
    if (this.notesDirty && text === this.notesSent) {
      if (this.notesArea.value === text) {
        this.notesDirty = false;
        this.notesState.textContent = "saved";
      }
      return;
    }
    if (this.notesDirty) return; // ours win until sent; the last write is the server's
    this.notesArea.value = text;
    this.notesSent = text;
  }

  private endSession(): void {
    if (this.endButton.dataset.confirm !== "1") {
      this.endButton.dataset.confirm = "1";
      this.endButton.textContent = "Really end?";
      setTimeout(() => {
        delete this.endButton.dataset.confirm;
        if (!this.ended) this.endButton.textContent = "End session";
      }, 4000);
      return;
    }
    if (this.connection.send({ type: "end_session" })) this.endButton.textContent = "Ending…";
  }

  private toggleReplay(force?: boolean): void {
    const open = force ?? this.replayHost.hidden;
    this.replayHost.hidden = !open;
    this.editorHost.hidden = open;
    this.replayButton.setAttribute("aria-pressed", String(open));
    this.replayButton.textContent = open ? "Back to live" : "Replay";
    if (!open) return;
    if (!this.replay) {
      this.replay = new Replay(this.sessionId, this.token, this.theme);
      this.replay.setLanguage(this.languageExt);
      this.replayHost.appendChild(this.replay.element);
    }
    void this.replay.load();
  }

  // ---- ending ----

  private endedUi(reason: string | null): void {
    if (this.ended) return;
    this.ended = true;
    const why =
      reason === "expired"
        ? "it expired"
        : reason === "stopped"
          ? "an interviewer ended it"
          : reason === "error"
            ? "of an error"
            : null;
    this.showBanner(`This session has ended${why ? ` because ${why}` : ""}. The code is read-only now.`);
    this.view?.dispatch({ effects: this.compartments.readOnly.reconfigure(readOnlyExtension(true)) });
    this.setRunning(false);
    this.rootEl.classList.add("ended");
    this.participants = [];
    this.renderParticipants();
    this.peer()?.presence([]);
    this.endButton.textContent = "Session ended";
    this.updateControls();
    this.renderTimer();
    clearInterval(this.tickTimer);
    clearInterval(this.refreshTimer);
    this.bridge?.post({ type: "session_ended", reason: reason ?? "stopped" });
  }

  /** Opened after the end: show what can be shown (interviewers get the code and replay). */
  private async showEndedSession(session: SessionView): Promise<void> {
    this.endedUi(session.status === "expired" ? "expired" : session.status === "error" ? "error" : "stopped");
    let document = "";
    let role: Role = "candidate";
    try {
      const history = await api.history(this.sessionId, this.token);
      const docs = versionsOf(history);
      document = docs[docs.length - 1].toString();
      role = "interviewer";
    } catch {
      // a candidate's token can't read the history
    }
    const w: Welcome = {
      type: "welcome",
      session,
      role,
      document,
      version: 0,
      participants: [],
      participant: -1,
      environment: {
        name: session.environment,
        description: session.environment,
        filename: "",
        editor_language: session.environment,
      },
    };
    if (!this.welcome) {
      this.welcome = w;
      this.role = role;
      this.createEditor(w);
      this.applyRole(w);
      this.renderSessionInfo();
      this.startTimers();
      if (role !== "interviewer") this.editorHost.hidden = true;
    }
    this.updateControls();
  }

  private showBanner(text: string): void {
    this.banner.textContent = text;
    this.banner.hidden = false;
  }

  private fatal(text: string): void {
    this.showBanner(text);
    this.banner.classList.add("fatal");
    this.updateControls();
  }

  // ---- theme and embed ----

  private setTheme(theme: Theme, remember: boolean): void {
    this.theme = theme;
    applyTheme(theme, remember);
    this.view?.dispatch({ effects: this.compartments.theme.reconfigure(editorTheme(theme)) });
    this.replay?.setTheme(theme);
    this.updateThemeButton();
  }

  private updateThemeButton(): void {
    this.themeButton.textContent = this.theme === "dark" ? "☀" : "☾";
    this.themeButton.setAttribute("aria-label", this.theme === "dark" ? "Light theme" : "Dark theme");
  }

  private command(command: EmbedCommand): void {
    if (command.type === "set_theme") {
      this.setTheme(command.theme, false);
      return;
    }
    const view = this.view;
    if (!view || !this.welcome) {
      this.pendingCommands.push(command);
      return;
    }
    switch (command.type) {
      case "run":
        void this.run();
        break;
      case "stop":
        if (this.running && this.canWrite()) this.connection.send({ type: "kill" });
        break;
      case "set_code":
        if (this.canWrite() && command.code !== view.state.doc.toString()) {
          view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: command.code } });
        }
        break;
      case "get_code":
        this.bridge?.post({ type: "code", code: view.state.doc.toString(), version: getSyncedVersion(view.state) });
        break;
    }
  }

  /** A read-only handle for the browser tests and for debugging from the console. */
  private exposeForTests(): void {
    const page = this;
    (window as unknown as { __livecode: unknown }).__livecode = {
      get role() {
        return page.role;
      },
      get online() {
        return page.connection.online;
      },
      get ended() {
        return page.ended;
      },
      get language() {
        return page.languageName;
      },
      text: () => page.view?.state.doc.toString() ?? null,
      version: () => (page.view ? getSyncedVersion(page.view.state) : null),
      unconfirmed: () => page.peer()?.unconfirmed ?? 0,
      consoleText: () => page.console.text(),
      replayText: () => (page.replay ? page.replay.textAt(Number(page.replay.element.dataset.version ?? 0)) : null),
    };
  }
}
