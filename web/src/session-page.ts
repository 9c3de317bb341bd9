// The session page (`/s/{id}#token=…`) and its chrome-less twin (`/embed/{id}#token=…`). This
// file is the coordinator: it lays the page out, holds the socket and hands each message to
// the part that owns it (session/: the document, runs and console, participants, the clock,
// notes, replay, the embed's commands, the banner, the header). The role comes from the
// `welcome` the token earns.

import { api } from "./api";
import { Connection, type ConnectionState } from "./connection";
import { el } from "./dom";
import type { Role, ServerMessage, SessionView, Welcome } from "./protocol";
import { versionsOf } from "./replay";
import { Banner } from "./session/banner";
import {
  candidateLinkBar,
  connectionText,
  endedText,
  exposeForTests,
  layout,
  storedName,
  storeName,
  whyFailing,
} from "./session/chrome";
import { SessionClock } from "./session/clock";
import { DocumentEditor, type DocumentSetup } from "./session/document";
import { EmbedCommands } from "./session/embed-commands";
import { EndButton, SessionTitle, ThemeSwitch } from "./session/header";
import { NotesPanel } from "./session/notes";
import { ParticipantList } from "./session/participants";
import { ReplayPane } from "./session/replay-pane";
import { RunPanel } from "./session/run-panel";
import { savedSettings } from "./settings";
import { FileTabs } from "./session/file-tabs";
import { QuestionPanel } from "./session/question-panel";
import { SettingsMenu } from "./session/settings-menu";
import { savedTheme } from "./theme";

export interface PageOptions {
  /** The embed: no page chrome, talks to its parent with postMessage. */
  readonly embed: boolean;
}

/** How long Run waits for the server to confirm pending edits (runs use the server's copy). */
const RUN_SYNC_WAIT_MS = 3000;

/** Builds the page into `root` and connects. */
export function startSessionPage(root: HTMLElement, options: PageOptions): void {
  new SessionPage(root, options).start();
}

class SessionPage {
  private readonly sessionId: string;
  private readonly token: string;
  private name: string;
  private readonly connection: Connection;
  private readonly banner = new Banner();
  private readonly title: SessionTitle;
  private readonly theme: ThemeSwitch;
  private readonly settings: SettingsMenu;
  private readonly question: QuestionPanel;
  private readonly files: FileTabs;
  private readonly editor: DocumentEditor;
  private readonly runs: RunPanel;
  private readonly people: ParticipantList;
  private readonly clock: SessionClock;
  private readonly notes: NotesPanel;
  private readonly replay: ReplayPane;
  private readonly endButton: EndButton;
  private readonly embed: EmbedCommands | null;
  private readonly stateEl = el("span", { class: "conn", id: "connection", role: "status" }, "connecting…");

  private welcomed: Welcome | null = null;
  private role: Role | null = null;
  private ended = false;
  /** Replay is open: Run, Stop, stdin and the tests are off (they act on the live session). */
  private replaying = false;
  private everOnline = false;
  /** The question (or that there is none) is known: an embed is not ready before. */
  private questionLoaded = false;
  private resetOnWelcome = false;
  private connState: ConnectionState = { kind: "connecting", attempt: 0 };
  private tickTimer = 0;
  /** What this page last told the server of its focus. */
  private sentFocus = true;

  constructor(
    private readonly root: HTMLElement,
    private readonly options: PageOptions,
  ) {
    const parts = location.pathname.split("/").filter(Boolean);
    this.sessionId = decodeURIComponent(parts[1] ?? "");
    const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    this.token = hash.get("token") ?? "";
    this.name = (hash.get("name") ?? storedName()).slice(0, 40);
    const hashTheme = hash.get("theme");
    const theme = hashTheme === "dark" || hashTheme === "light" ? hashTheme : savedTheme();
    this.theme = new ThemeSwitch(theme, (t) => {
      this.editor.setTheme(t);
      this.files.setTheme(t);
      this.replay.setTheme(t);
    });
    const readonly = ["1", "true"].includes(hash.get("readonly") ?? "");
    this.connection = new Connection(this.sessionId, this.token, this.name, readonly, {
      message: (m) => this.message(m),
      state: (s) => this.connectionState(s),
      failing: (n) => void this.failing(n),
      resume: () => this.runs.resumePoint(),
    });
    const send = this.connection.send.bind(this.connection);
    const run = () => void this.run();
    this.editor = new DocumentEditor(
      {
        transport: this.connection,
        diverged: (why) => this.diverged(why),
        run,
        changed: () => {
          this.embed?.codeChanged();
          if (this.connState.kind !== "online") this.renderConnection();
        },
        languageLoaded: (ext) => this.replay.setLanguage(ext),
      },
      theme,
      savedSettings(),
    );
    this.files = new FileTabs(
      { send, diverged: (why) => this.resync(why) },
      this.editor.element,
      theme,
      savedSettings(),
    );
    this.settings = new SettingsMenu(savedSettings(), (s) => {
      this.editor.setSettings(s);
      this.files.setSettings(s);
    });
    this.question = new QuestionPanel(send);
    this.title = new SessionTitle((environment) => send({ type: "switch_environment", environment }));
    this.runs = new RunPanel({
      send,
      run,
      post: (e) => this.embed?.post(e),
      running: (on) => this.root.classList.toggle("running", on),
    });
    this.people = new ParticipantList(this.name, (name) => this.rename(name));
    this.clock = new SessionClock({
      sessionId: this.sessionId,
      token: this.token,
      banner: this.banner,
      extend: () => send({ type: "extend" }),
      canExtend: () => this.canWrite(),
    });
    this.notes = new NotesPanel(send);
    this.replay = new ReplayPane(this.sessionId, this.token, this.editor.element, theme, (open) => {
      this.replaying = open;
      this.root.classList.toggle("replaying", open);
      this.updateControls();
    });
    this.endButton = new EndButton(send);
    this.embed = options.embed
      ? new EmbedCommands({
          ready: () => this.editor.ready && this.welcomed !== null && this.questionLoaded,
          run,
          stop: () => this.runs.running && this.canWrite() && send({ type: "kill" }),
          setCode: (code) => this.canWrite() && this.editor.replace(code),
          code: () => {
            const [code, version] = [this.editor.text(), this.editor.version()];
            return code === null || version === null ? null : { code, version };
          },
          setTheme: (t) => this.theme.set(t, false),
          runTests: () => this.question.runTests(),
          switchEnvironment: (environment) =>
            this.welcomed?.can_switch === true && send({ type: "switch_environment", environment }),
        })
      : null;
    this.build();
    this.exposeForTests();
  }

  start(): void {
    if (!this.sessionId || !this.token) {
      this.fatal("This link is incomplete: it needs the session's token after #token=.");
      return;
    }
    this.embed?.start();
    this.connection.start();
    // Interviewers see when a participant's tab loses focus (shown, never acted on). An embed's
    // focus is its host page's business.
    if (!this.options.embed) {
      for (const [target, type] of [
        [document, "visibilitychange"],
        [window, "blur"],
        [window, "focus"],
      ] as const) {
        target.addEventListener(type, () => this.reportFocus());
      }
    }
    this.tickTimer = window.setInterval(() => {
      if (!this.options.embed) this.clock.render();
      if (this.connState.kind !== "online") this.renderConnection();
    }, 1000);
  }

  private build(): void {
    this.root.classList.add("session-page", this.options.embed ? "embed" : "full");
    // Ctrl/Cmd+Enter runs from anywhere on the page (the editor handles its own).
    document.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.defaultPrevented) {
        e.preventDefault();
        void this.run();
      }
    });
    const { runs, notes, editor, replay, title, banner, people, clock, endButton, theme, settings, question, files } =
      this;
    layout(this.root, this.options.embed, {
      ...{ runs, notes, editor, replay, title, banner, people, clock, endButton, theme, settings, question, files },
      connection: this.stateEl,
      candidateLink: candidateLinkBar(this.sessionId),
    });
  }

  /** What an embed's parent hears of the socket besides runs (`RunPanel` posts those). */
  private tellParent(msg: ServerMessage): void {
    if (msg.type === "tests_finished") {
      this.embed?.post({
        type: "tests_finished",
        tests_id: msg.tests_id,
        passed: msg.passed,
        total: msg.total,
        hidden: msg.hidden,
        cases: msg.results.map((r) => ({ name: r.name, verdict: r.verdict, hidden: r.hidden })),
      });
    } else if (msg.type === "environment") {
      this.embed?.post({ type: "environment_changed", environment: msg.environment.name, by: msg.by });
    } else if (msg.type === "error") {
      // A refused command (a switch the server does not allow, tests with no question) says so.
      this.embed?.post({ type: "error", code: msg.code, message: msg.message });
    }
  }

  private message(msg: ServerMessage): void {
    if (this.embed) this.tellParent(msg);
    if (this.runs.message(msg) || this.question.message(msg) || this.files.message(msg)) return;
    const peer = this.editor.peer();
    switch (msg.type) {
      case "welcome":
        return this.onWelcome(msg);
      case "updates":
        return peer?.receive(msg.version, msg.updates);
      case "update_rejected":
        return peer?.rejected(msg.version);
      case "cursor":
        return peer?.cursor(msg);
      case "presence":
        this.showParticipants(msg.participants);
        this.files.presence(msg.participants);
        return peer?.presence(msg.participants);
      case "status":
        // The engine is down: runs wait for it; the session's own status comes after.
        if (msg.status !== "degraded") return this.banner.hide("degraded");
        return this.banner.show(
          "degraded",
          "The container engine is not answering: running code waits until it is back. Your code is safe.",
        );
      case "expiry":
        return this.clock.expiry(msg);
      case "notes":
        return this.notes.received(msg.text);
      case "focus":
        return this.people.focus(msg.participant, msg.focused, new Date(msg.at));
      case "environment":
        this.title.setEnvironment(msg.environment);
        this.files.setMainFile(msg.environment.filename);
        this.editor.switchLanguage(msg.environment.editor_language, msg.environment.name);
        this.runs.console.line(
          "meta",
          `Switched to ${msg.environment.description || msg.environment.name} by ${msg.by}`,
        );
        return;
      case "error":
        return this.onError(msg.code, msg.message);
      case "session_ended":
        return this.endedUi(msg.reason);
    }
  }

  private onWelcome(w: Welcome): void {
    const first = this.welcomed === null;
    if (!first) this.question.reconnected();
    // A new socket is a new participant, in focus until it says otherwise.
    this.sentFocus = true;
    this.reportFocus();
    // The language may have changed while this page was offline.
    const switchedMeanwhile = !first && this.title.environmentName() !== w.environment.name;
    this.welcomed = w;
    this.role = w.role;
    this.everOnline = true;
    this.clock.set(w.session);
    this.runs.welcome(w, first);
    if (first) {
      this.editor.create(this.setup(w), !this.options.embed && w.role !== "observer");
      this.applyRole(w.role, w.notes);
      void this.question.load(this.sessionId, this.token).then((has) => {
        this.root.classList.toggle("has-question", has);
        this.questionLoaded = true;
        this.updateControls();
        // The embed is ready once the question is there too, so `run_tests` on `ready` works;
        // commands sent meanwhile waited for it.
        this.embed?.post({
          type: "ready",
          session_id: this.sessionId,
          role: w.role,
          environment: w.environment.name,
          version: w.version,
        });
        this.embed?.flush();
      });
    } else if (this.resetOnWelcome) {
      this.resetOnWelcome = false;
      this.editor.reset(this.setup(w));
      this.runs.console.line(
        "error",
        "The document was reloaded from the server; the last unsaved change could not be kept.",
      );
    } else {
      this.editor.peer()?.connected(w.version);
      if (w.role === "interviewer" && typeof w.notes === "string") this.notes.welcome(w.notes);
    }
    if (switchedMeanwhile) this.embed?.post({ type: "environment_changed", environment: w.environment.name, by: "" });
    this.title.show(w.role, w.session, w.environment);
    this.files.welcome(w.environment.filename, w.files ?? [], w.role === "observer" || this.ended);
    if (!first && this.editor.language !== w.environment.editor_language) {
      this.editor.switchLanguage(w.environment.editor_language, w.environment.name);
    }
    void this.title.offerSwitch(w.can_switch === true);
    this.showParticipants(w.participants);
    this.updateControls();
    this.embed?.flush();
  }

  private setup(w: Welcome): DocumentSetup {
    const { document, version, environment } = w;
    const readOnly = w.role === "observer" || this.ended;
    return { document, version, readOnly, language: environment.editor_language, environment: environment.name };
  }

  private connectionState(state: ConnectionState): void {
    this.connState = state;
    if (state.kind === "connecting" || state.kind === "waiting") {
      this.editor.peer()?.disconnected();
      this.files.disconnected();
    }
    if (state.kind === "closed" && state.reason === "ended") this.endedUi(null);
    if (state.kind === "closed" && state.reason === "unauthorized") {
      this.fatal("This link is not valid for this session (wrong or revoked token).");
    }
    this.renderConnection();
    this.updateControls();
  }

  private renderConnection(): void {
    this.stateEl.dataset.state = this.connState.kind;
    this.stateEl.textContent = connectionText(this.connState, this.everOnline, this.editor.peer()?.unconfirmed ?? 0);
  }

  /** The socket keeps failing before `welcome`: ask REST why (ended? wrong link?). */
  private async failing(attempt: number): Promise<void> {
    if (attempt < 2 || (attempt > 2 && attempt % 5 !== 0)) return;
    const verdict = await whyFailing(this.sessionId, this.token);
    if (verdict === null) return; // the server is down or the network: keep retrying
    this.connection.stop();
    if (verdict.kind === "ended") {
      this.connectionState({ kind: "closed", reason: "ended" });
      return void (await this.showEndedSession(verdict.session));
    }
    this.connectionState({ kind: "closed", reason: "stopped" });
    this.stateEl.textContent = "● not available";
    this.fatal(verdict.kind === "missing" ? "There is no such session." : "This link is not valid for this session.");
  }

  private diverged(why: string): void {
    this.resetOnWelcome = true;
    this.resync(why);
  }

  /** A fresh `welcome` (a new socket): a file's tab that diverged starts over from it. */
  private resync(why: string): void {
    console.warn("livecode: resynchronising:", why);
    this.connection.rename(this.name);
  }

  private reportFocus(): void {
    if (this.options.embed || !this.connection.online) return;
    const focused = document.visibilityState === "visible" && document.hasFocus();
    if (focused === this.sentFocus) return;
    if (this.connection.send({ type: "focus", focused })) this.sentFocus = focused;
  }

  private canWrite(): boolean {
    return !this.ended && (this.role === "candidate" || this.role === "interviewer");
  }

  private async run(): Promise<void> {
    if (!this.canWrite() || !this.connection.online || this.replaying) return;
    // Runs use the server's copy of the document: let pending edits land first.
    const peer = this.editor.peer();
    if (peer && peer.unconfirmed > 0) await peer.whenSynced(RUN_SYNC_WAIT_MS);
    await this.files.whenSynced(RUN_SYNC_WAIT_MS);
    this.connection.send(this.runs.running ? { type: "run", restart: true } : { type: "run" });
  }

  private updateControls(): void {
    const live = this.connection.online && this.canWrite() && !this.replaying;
    this.runs.update(live);
    this.question.update(live);
    this.title.setEnabled(this.connection.online && !this.ended && !this.runs.running);
    this.endButton.update(this.connection.online);
    this.notes.setEnded(this.ended);
  }

  private onError(code: string, message: string): void {
    const console = this.runs.console;
    this.question.refused();
    if (["CODE_TOO_LARGE", "INVALID_MESSAGE", "FORBIDDEN"].includes(code)) {
      // Whichever editor had an edit in flight: the document, or a file's tab.
      const main = this.editor.peer()?.refused() ?? false;
      const file = this.files.refused();
      if (main || file) {
        console.line("error", `Your last edit was refused: ${message}`);
        return main ? this.diverged(code) : this.resync(code);
      }
    }
    if (code === "RUN_IN_PROGRESS") {
      return void console.line("error", "A run is already in progress: Stop it, or press Run again to restart.");
    }
    console.line("error", `${code}: ${message}`);
  }

  private applyRole(role: Role, notes?: string | null): void {
    this.root.dataset.role = role;
    if (this.options.embed) return;
    const interviewer = role === "interviewer";
    this.endButton.element.hidden = !interviewer;
    this.replay.button.hidden = !interviewer;
    if (interviewer) this.notes.open(notes ?? "");
  }

  private showParticipants(list: Welcome["participants"]): void {
    this.people.set(list, this.welcomed?.participant ?? -1, !this.options.embed && !this.ended);
  }

  private rename(name: string): void {
    this.name = name;
    storeName(name);
    this.connection.rename(name);
  }

  private endedUi(reason: string | null): void {
    if (this.ended) return;
    this.ended = true;
    this.banner.hide("degraded");
    this.banner.show("ended", endedText(reason));
    this.editor.setReadOnly(true);
    this.files.setReadOnly(true);
    this.runs.end();
    this.root.classList.add("ended");
    this.showParticipants([]);
    this.editor.peer()?.presence([]);
    this.endButton.end();
    this.updateControls();
    this.clock.end();
    clearInterval(this.tickTimer);
    this.embed?.post({ type: "session_ended", reason: reason ?? "stopped" });
  }

  /** Opened after the end: show what can be shown (interviewers get the code and replay). */
  private async showEndedSession(session: SessionView): Promise<void> {
    this.endedUi(session.status === "expired" ? "expired" : session.status === "error" ? "error" : "stopped");
    if (this.editor.ready) return;
    let document: string | null = null;
    try {
      const docs = versionsOf(await api.history(this.sessionId, this.token));
      document = docs[docs.length - 1].toString();
    } catch {
      // a candidate's token can't read the history
    }
    this.role = document === null ? "candidate" : "interviewer";
    const env = session.environment;
    this.clock.set(session);
    this.editor.create(
      { document: document ?? "", version: 0, readOnly: true, language: env, environment: env },
      false,
    );
    this.applyRole(this.role);
    this.title.show(this.role, session, { name: env, description: env, filename: "", editor_language: env });
    this.editor.element.hidden = document === null;
  }

  private fatal(text: string): void {
    this.banner.show("fatal", text);
    this.updateControls();
  }

  /** A read-only handle for the browser tests and for debugging from the console. */
  private exposeForTests(): void {
    exposeForTests({
      role: () => this.role,
      online: () => this.connection.online,
      ended: () => this.ended,
      language: () => this.editor.language,
      text: () => this.editor.text(),
      version: () => this.editor.version(),
      unconfirmed: () => (this.editor.peer()?.unconfirmed ?? 0) + this.files.unconfirmed(),
      fileText: (name: string) => this.files.text(name),
      consoleText: () => this.runs.console.text(),
      replayText: () => this.replay.text(),
    });
  }
}
