// The embed's side of the page: what the parent is told (ready, tests, code and language
// changes, refusals, the end; the run panel tells of runs) and the commands it sends, held
// until the page can carry them out.

import { EmbedBridge, type EmbedCommand, type EmbedEvent } from "../embed";
import type { ServerMessage, Welcome } from "../protocol";
import type { Part } from "./part";

const CODE_CHANGED_DEBOUNCE_MS = 300;

export interface EmbedHost {
  readonly sessionId: string;
  /** Whether the editor is up (commands wait until it is). */
  ready(): boolean;
  run(): void;
  stop(): void;
  setCode(code: string): void;
  code(): { code: string; version: number } | null;
  setTheme(theme: "light" | "dark"): void;
  runTests(): void;
  switchEnvironment(environment: string): void;
}

export class EmbedCommands implements Part {
  private readonly bridge: EmbedBridge;
  private pending: EmbedCommand[] = [];
  private codeTimer = 0;
  private first: Welcome | null = null;
  /** The session's language as the parent last heard it. */
  private environment = "";

  constructor(private readonly host: EmbedHost) {
    this.bridge = new EmbedBridge((c) => this.command(c));
  }

  start(): void {
    void this.bridge.start();
  }

  post(event: EmbedEvent): void {
    this.bridge.post(event);
  }

  welcome(w: Welcome, first: boolean): void {
    if (first) this.first = w;
    // The language may have changed while this page was offline.
    else if (w.environment.name !== this.environment) {
      this.post({ type: "environment_changed", environment: w.environment.name, by: "" });
    }
    this.environment = w.environment.name;
  }

  /** What the parent hears of the socket besides runs. */
  message(msg: ServerMessage): void {
    if (msg.type === "tests_finished") {
      this.post({
        type: "tests_finished",
        tests_id: msg.tests_id,
        passed: msg.passed,
        total: msg.total,
        hidden: msg.hidden,
        cases: msg.results.map((r) => ({ name: r.name, verdict: r.verdict, hidden: r.hidden })),
      });
    } else if (msg.type === "environment") {
      this.environment = msg.environment.name;
      this.post({ type: "environment_changed", environment: msg.environment.name, by: msg.by });
    } else if (msg.type === "error") {
      // A refused command (a switch the server does not allow, tests with no question) says so.
      this.post({ type: "error", code: msg.code, message: msg.message });
    }
  }

  end(reason: string | null): void {
    this.post({ type: "session_ended", reason: reason ?? "stopped" });
  }

  /**
   * The page is ready once the question is known too, so that `run_tests` on `ready` works;
   * commands sent meanwhile waited for it.
   */
  announceReady(): void {
    const w = this.first;
    if (!w) return;
    this.post({
      type: "ready",
      session_id: this.host.sessionId,
      role: w.role,
      environment: w.environment.name,
      version: w.version,
    });
    this.flush();
  }

  /** The document changed: the parent hears it after a pause. */
  codeChanged(): void {
    clearTimeout(this.codeTimer);
    this.codeTimer = window.setTimeout(() => {
      const code = this.host.code();
      if (code) this.post({ type: "code_changed", ...code });
    }, CODE_CHANGED_DEBOUNCE_MS);
  }

  /** The page is up: carries out what the parent asked meanwhile. */
  flush(): void {
    for (const command of this.pending.splice(0)) this.command(command);
  }

  private command(command: EmbedCommand): void {
    if (command.type === "set_theme") {
      this.host.setTheme(command.theme);
      return;
    }
    if (!this.host.ready()) {
      this.pending.push(command);
      return;
    }
    switch (command.type) {
      case "run":
        this.host.run();
        break;
      case "stop":
        this.host.stop();
        break;
      case "set_code":
        this.host.setCode(command.code);
        break;
      case "run_tests":
        this.host.runTests();
        break;
      case "switch_environment":
        this.host.switchEnvironment(command.environment);
        break;
      case "get_code": {
        const code = this.host.code();
        if (code) this.post({ type: "code", ...code });
        break;
      }
    }
  }
}
