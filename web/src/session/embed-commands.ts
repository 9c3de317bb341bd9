// The embed's side of the page: what the parent is told (ready, runs, tests, code and language
// changes) and the commands it sends, held until the page can carry them out.

import { EmbedBridge, type EmbedCommand, type EmbedEvent } from "../embed";

const CODE_CHANGED_DEBOUNCE_MS = 300;

export interface EmbedHost {
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

export class EmbedCommands {
  private readonly bridge: EmbedBridge;
  private pending: EmbedCommand[] = [];
  private codeTimer = 0;

  constructor(private readonly host: EmbedHost) {
    this.bridge = new EmbedBridge((c) => this.command(c));
  }

  start(): void {
    void this.bridge.start();
  }

  post(event: EmbedEvent): void {
    this.bridge.post(event);
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
