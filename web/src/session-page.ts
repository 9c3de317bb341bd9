// The session page (`/s/{id}#token=…`) and its chrome-less twin (`/embed/{id}#token=…`). This
// file is the coordinator: it makes the page's parts (session/: the runs and console, the
// question, the workspace's editors, participants, the clock, notes, the scorecard, the
// header, replay, the banner, the connection pill, focus reports, the embed's commands), lays
// them out, holds the
// socket and hands every event to each part in turn (session/part.ts). The role comes from the
// `welcome` the token earns.

import { api } from "./api";
import { Connection, type ConnectionState } from "./connection";
import type { Role, ServerMessage, SessionView, Welcome } from "./protocol";
import { versionsOf } from "./replay";
import { Banner } from "./session/banner";
import { candidateLinkBar, exposeForTests, layout, storedName, storeName, whyFailing } from "./session/chrome";
import { SessionClock } from "./session/clock";
import { ConnectionPill } from "./session/connection-pill";
import { EmbedCommands } from "./session/embed-commands";
import { FocusReport } from "./session/focus-report";
import { InterviewPanel } from "./session/interview";
import { EndButton, SessionTitle, ThemeSwitch } from "./session/header";
import { NotesPanel } from "./session/notes";
import { ScorecardPanel } from "./session/scorecard";
import type { Part } from "./session/part";
import { ParticipantList } from "./session/participants";
import { QuestionNavigator } from "./session/navigator";
import { QuestionPanel } from "./session/question-panel";
import { ReplayPane } from "./session/replay-pane";
import { RunPanel } from "./session/run-panel";
import { SettingsMenu } from "./session/settings-menu";
import { Workspace } from "./session/workspace";
import { savedSettings } from "./settings";
import { savedTheme, type Theme } from "./theme";

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
  private readonly workspace: Workspace;
  private readonly runs: RunPanel;
  private readonly people: ParticipantList;
  private readonly clock: SessionClock;
  private readonly interview: InterviewPanel;
  private readonly notes: NotesPanel;
  private readonly scorecard: ScorecardPanel;
  private readonly replay: ReplayPane;
  private readonly endButton: EndButton;
  private readonly pill: ConnectionPill;
  private readonly embed: EmbedCommands | null;
  /** Every part, in the order each event reaches them. */
  private readonly parts: readonly Part[];

  private welcomed: Welcome | null = null;
  private role: Role | null = null;
  private ended = false;
  /** A take-home was submitted: read-only, no runs. */
  private submitted = false;
  /** Replay is open: Run, Stop, stdin and the tests are off (they act on the live session). */
  private replaying = false;
  /** The question (or that there is none) is known: an embed is not ready before. */
  private questionLoaded = false;
  private tickTimer = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly options: PageOptions,
  ) {
    const path = location.pathname.split("/").filter(Boolean);
    this.sessionId = decodeURIComponent(path[1] ?? "");
    const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    this.token = hash.get("token") ?? "";
    this.name = (hash.get("name") ?? storedName()).slice(0, 40);
    const hashTheme = hash.get("theme");
    const theme = hashTheme === "dark" || hashTheme === "light" ? hashTheme : savedTheme();
    const readonly = ["1", "true"].includes(hash.get("readonly") ?? "");
    this.connection = new Connection(this.sessionId, this.token, this.name, readonly, {
      message: (m) => this.message(m),
      state: (s) => this.connectionState(s),
      failing: (n) => void this.failing(n),
      resume: () => this.runs.resumePoint(),
    });
    const send = this.connection.send.bind(this.connection);
    const { sessionId, token } = this;
    this.theme = new ThemeSwitch(theme, (t) => {
      this.workspace.setTheme(t);
      this.replay.setTheme(t);
    });
    this.runs = new RunPanel({
      send,
      run: () => void this.run(),
      post: (e) => this.embed?.post(e),
      running: (on) => this.root.classList.toggle("running", on),
    });
    const navigator = new QuestionNavigator({
      setQuestion: (index) => send({ type: "set_question", index }),
      changed: () => void this.question.reload(),
    });
    this.question = new QuestionPanel({
      sessionId,
      token,
      send,
      loaded: (has) => this.questionKnown(has),
      top: navigator.element,
    });
    this.workspace = this.makeWorkspace(theme);
    this.settings = new SettingsMenu(savedSettings(), (s) => this.workspace.setSettings(s));
    this.title = new SessionTitle((environment) => send({ type: "switch_environment", environment }));
    this.people = new ParticipantList(this.name, (name) => this.rename(name), !options.embed);
    this.clock = new SessionClock({
      sessionId,
      token,
      banner: this.banner,
      ticking: !options.embed,
      extend: () => send({ type: "extend" }),
      canExtend: () => this.canWrite(),
    });
    this.interview = new InterviewPanel({
      root: this.root,
      banner: this.banner,
      send,
      submitted: () => {
        this.submitted = true;
        this.workspace.freeze();
        this.refresh();
      },
    });
    this.notes = new NotesPanel(send);
    this.scorecard = new ScorecardPanel({ sessionId, token, name: () => this.name });
    this.replay = new ReplayPane(sessionId, token, this.workspace.editor.element, theme, (open) => {
      this.replaying = open;
      this.root.classList.toggle("replaying", open);
      this.refresh();
    });
    this.endButton = new EndButton(send);
    this.pill = new ConnectionPill(() => this.workspace.editor.peer()?.unconfirmed ?? 0);
    this.embed = options.embed ? this.makeEmbed() : null;
    this.parts = [
      ...(options.embed ? [] : [new FocusReport(this.connection)]),
      this.runs,
      this.question,
      navigator,
      this.workspace,
      this.people,
      this.clock,
      this.interview,
      this.notes,
      this.scorecard,
      this.title,
      this.endButton,
      this.replay,
      this.banner,
      this.pill,
      ...(this.embed ? [this.embed] : []),
    ];
    this.build();
    this.exposeForTests();
  }

  private makeWorkspace(theme: Theme): Workspace {
    return new Workspace(
      {
        transport: this.connection,
        console: this.runs.console,
        focusOnLoad: !this.options.embed,
        run: () => void this.run(),
        changed: () => {
          this.embed?.codeChanged();
          this.pill.changed();
        },
        languageLoaded: (ext) => this.replay.setLanguage(ext),
        resync: (why) => this.resync(why),
      },
      theme,
      savedSettings(),
    );
  }

  private makeEmbed(): EmbedCommands {
    const send = this.connection.send.bind(this.connection);
    const editor = this.workspace.editor;
    return new EmbedCommands({
      sessionId: this.sessionId,
      ready: () => editor.ready && this.welcomed !== null && this.questionLoaded,
      run: () => void this.run(),
      stop: () => this.runs.running && this.canWrite() && send({ type: "kill" }),
      setCode: (code) => this.canWrite() && editor.replace(code),
      code: () => {
        const [code, version] = [editor.text(), editor.version()];
        return code === null || version === null ? null : { code, version };
      },
      setTheme: (t) => this.theme.set(t, false),
      runTests: () => this.question.runTests(),
      switchEnvironment: (environment) =>
        this.welcomed?.can_switch === true && send({ type: "switch_environment", environment }),
    });
  }

  start(): void {
    if (!this.sessionId || !this.token) {
      this.fatal("This link is incomplete: it needs the session's token after #token=.");
      return;
    }
    this.embed?.start();
    this.connection.start();
    this.tickTimer = window.setInterval(() => this.parts.forEach((p) => p.tick?.()), 1000);
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
    const { runs, notes, scorecard, replay, title, banner, people, clock, endButton, theme, settings, question } = this;
    const { interview } = this;
    const { editor, files } = this.workspace;
    layout(this.root, this.options.embed, {
      ...{ runs, notes, scorecard, editor, replay, title, banner, people, clock, endButton, theme, settings, question },
      files,
      interview,
      connection: this.pill.element,
      candidateLink: candidateLinkBar(this.sessionId),
    });
  }

  private message(msg: ServerMessage): void {
    if (msg.type === "welcome") return this.welcome(msg);
    if (msg.type === "session_ended") return this.end(msg.reason);
    for (const part of this.parts) part.message?.(msg);
  }

  private welcome(w: Welcome): void {
    const first = this.welcomed === null;
    this.welcomed = w;
    this.role = w.role;
    if (first) this.assume(w.role, w.notes);
    for (const part of this.parts) part.welcome?.(w, first);
    this.refresh();
    this.embed?.flush();
  }

  /** The question is known: the page has it (or that there is none) and an embed is ready. */
  private questionKnown(present: boolean): void {
    this.root.classList.toggle("has-question", present);
    this.questionLoaded = true;
    this.refresh();
    this.embed?.announceReady();
  }

  private connectionState(state: ConnectionState): void {
    for (const part of this.parts) part.connection?.(state);
    if (state.kind === "closed" && state.reason === "ended") this.end(null);
    if (state.kind === "closed" && state.reason === "unauthorized") {
      this.fatal("This link is not valid for this session (wrong or revoked token).");
    }
    this.refresh();
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
    this.pill.unavailable();
    this.fatal(verdict.kind === "missing" ? "There is no such session." : "This link is not valid for this session.");
  }

  /** A fresh `welcome` (a new socket): an editor that diverged starts over from it. */
  private resync(why: string): void {
    console.warn("livecode: resynchronising:", why);
    this.connection.rename(this.name);
  }

  private canWrite(): boolean {
    return !this.ended && !this.submitted && (this.role === "candidate" || this.role === "interviewer");
  }

  private async run(): Promise<void> {
    if (!this.canWrite() || !this.connection.online || this.replaying) return;
    // Runs use the server's copy of the document: let pending edits land first.
    await this.workspace.whenSynced(RUN_SYNC_WAIT_MS);
    this.connection.send(this.runs.running ? { type: "run", restart: true } : { type: "run" });
  }

  /** Tells every part what the page may do now. */
  private refresh(): void {
    const online = this.connection.online;
    const live = online && this.canWrite() && !this.replaying;
    const controls = { online, live, ended: this.ended, running: this.runs.running };
    for (const part of this.parts) part.update?.(controls);
  }

  /** The page's role is known: from the first `welcome`, or guessed for an ended session. */
  private assume(role: Role, notes?: string | null): void {
    this.role = role;
    this.root.dataset.role = role;
    if (this.options.embed) return;
    for (const part of this.parts) part.role?.(role, notes);
  }

  private rename(name: string): void {
    this.name = name;
    storeName(name);
    this.connection.rename(name);
  }

  private end(reason: string | null): void {
    if (this.ended) return;
    this.ended = true;
    this.root.classList.add("ended");
    clearInterval(this.tickTimer);
    for (const part of this.parts) part.end?.(reason);
    this.refresh();
  }

  /** Opened after the end: show what can be shown (interviewers get the code and replay). */
  private async showEndedSession(session: SessionView): Promise<void> {
    this.end(session.status === "expired" ? "expired" : session.status === "error" ? "error" : "stopped");
    if (session.erased_at) {
      // A tombstone (docs/retention.md): nothing of the code, history or notes is left to show.
      const when = new Date(session.erased_at).toLocaleString();
      this.banner.show("ended", `This session has ended and its content was erased (${when}).`);
      this.root.classList.add("erased");
      return;
    }
    const editor = this.workspace.editor;
    if (editor.ready) return;
    let document: string | null = null;
    try {
      const docs = versionsOf(await api.history(this.sessionId, this.token));
      document = docs[docs.length - 1].toString();
    } catch {
      // a candidate's token can't read the history
    }
    const role = document === null ? "candidate" : "interviewer";
    const env = session.environment;
    this.clock.set(session);
    editor.create({ document: document ?? "", version: 0, readOnly: true, language: env, environment: env }, false);
    this.assume(role);
    this.title.show(role, session, { name: env, description: env, filename: "", editor_language: env });
    editor.element.hidden = document === null;
  }

  private fatal(text: string): void {
    this.banner.show("fatal", text);
    this.refresh();
  }

  /** A read-only handle for the browser tests and for debugging from the console. */
  private exposeForTests(): void {
    const { editor, files } = this.workspace;
    exposeForTests({
      role: () => this.role,
      online: () => this.connection.online,
      ended: () => this.ended,
      language: () => editor.language,
      text: () => editor.text(),
      version: () => editor.version(),
      unconfirmed: () => this.workspace.unconfirmed(),
      fileText: (name: string) => files.text(name),
      consoleText: () => this.runs.console.text(),
      replayText: () => this.replay.text(),
    });
  }
}
