// The workspace's editors: the shared document and the other files' tabs. It makes them from the
// first `welcome` and catches them up after each reconnect (or starts the document over when its
// peer and the server disagreed), hands each collaboration message to the peer of its file or of
// the document, and tells of an edit the server refused.

import type { Extension } from "@codemirror/state";

import type { Transport } from "../collab";
import type { ConnectionState } from "../connection";
import type { OutputConsole } from "../console";
import type { ClientMessage, ServerMessage, Welcome } from "../protocol";
import type { EditorSettings } from "../settings";
import type { Theme } from "../theme";
import { DocumentEditor } from "./document";
import { FileTabs } from "./file-tabs";
import type { Part } from "./part";

/** The errors that may refuse an edit in flight: the workspace tells of them. */
const EDIT_REFUSALS = ["CODE_TOO_LARGE", "INVALID_MESSAGE", "FORBIDDEN"];

export function refusesEdits(code: string): boolean {
  return EDIT_REFUSALS.includes(code);
}

export interface WorkspaceHost {
  readonly transport: Transport;
  /** Where the workspace tells what happened to edits. */
  readonly console: OutputConsole;
  /** The document takes the focus when it first shows (the full page's, not the embed's). */
  readonly focusOnLoad: boolean;
  run(): void;
  /** After every change of the document. */
  changed(): void;
  /** The document's language support is loaded. */
  languageLoaded(ext: Extension): void;
  /** Asks for a fresh `welcome` (a new socket). */
  resync(why: string): void;
}

type CollabMessage = Extract<ServerMessage, { type: "updates" | "update_rejected" | "cursor" }>;

export class Workspace implements Part {
  readonly editor: DocumentEditor;
  readonly files: FileTabs;
  /** The document's peer diverged: the next `welcome` starts it over. */
  private resetOnWelcome = false;
  private ended = false;

  constructor(
    private readonly host: WorkspaceHost,
    theme: Theme,
    settings: EditorSettings,
  ) {
    this.editor = new DocumentEditor(
      {
        transport: host.transport,
        diverged: (why) => this.diverged(why),
        run: () => host.run(),
        changed: () => host.changed(),
        languageLoaded: (ext) => host.languageLoaded(ext),
      },
      theme,
      settings,
    );
    const send = (msg: ClientMessage) => host.transport.send(msg);
    this.files = new FileTabs({ send, diverged: (why) => host.resync(why) }, this.editor.element, theme, settings);
  }

  welcome(w: Welcome, first: boolean): void {
    const { document, version, environment } = w;
    const readOnly = w.role === "observer" || this.ended || w.session.interview.stage === "submitted";
    const setup = { document, version, readOnly, language: environment.editor_language, environment: environment.name };
    if (first) {
      this.editor.create(setup, this.host.focusOnLoad && w.role !== "observer");
    } else if (this.resetOnWelcome) {
      this.resetOnWelcome = false;
      this.editor.reset(setup);
      this.host.console.line(
        "error",
        "The document was reloaded from the server; the last unsaved change could not be kept.",
      );
    } else {
      this.editor.peer()?.connected(version);
    }
    this.files.welcome(environment.filename, w.files, readOnly);
    // The language may have changed while this page was offline.
    if (!first && this.editor.language !== environment.editor_language) {
      this.editor.switchLanguage(environment.editor_language, environment.name);
    }
  }

  message(msg: ServerMessage): void {
    switch (msg.type) {
      case "updates":
      case "update_rejected":
      case "cursor":
        return this.collab(msg);
      case "presence":
        this.files.presence(msg.participants);
        return this.editor.peer()?.presence(msg.participants);
      case "environment":
        this.files.setMainFile(msg.environment.filename);
        return this.editor.switchLanguage(msg.environment.editor_language, msg.environment.name);
      case "error":
        if (refusesEdits(msg.code)) this.refused(msg.code, msg.message);
        return;
    }
  }

  connection(state: ConnectionState): void {
    if (state.kind === "connecting" || state.kind === "waiting") {
      this.editor.peer()?.disconnected();
      this.files.disconnected();
    }
  }

  end(): void {
    this.ended = true;
    this.freeze();
    this.editor.peer()?.presence([]);
  }

  /** No more edits here (the session ended, or its take-home was submitted). */
  freeze(): void {
    this.editor.setReadOnly(true);
    this.files.setReadOnly(true);
  }

  /** Resolves when every edit is confirmed (or after `timeoutMs`). */
  async whenSynced(timeoutMs: number): Promise<void> {
    const peer = this.editor.peer();
    if (peer && peer.unconfirmed > 0) await peer.whenSynced(timeoutMs);
    await this.files.whenSynced(timeoutMs);
  }

  /** Edits not yet confirmed, in the document and every file. */
  unconfirmed(): number {
    return (this.editor.peer()?.unconfirmed ?? 0) + this.files.unconfirmed();
  }

  setTheme(theme: Theme): void {
    this.editor.setTheme(theme);
    this.files.setTheme(theme);
  }

  setSettings(settings: EditorSettings): void {
    this.editor.setSettings(settings);
    this.files.setSettings(settings);
  }

  /** A file's message goes to that file's peer, the others to the document's. */
  private collab(msg: CollabMessage): void {
    const peer = msg.file ? this.files.peer(msg.file) : this.editor.peer();
    if (msg.type === "updates") peer?.receive(msg.version, msg.updates);
    else if (msg.type === "update_rejected") peer?.rejected(msg.version);
    else peer?.cursor(msg);
  }

  private refused(code: string, message: string): void {
    // Whichever editor had an edit in flight: the document, or a file's tab.
    const main = this.editor.peer()?.refused() ?? false;
    const file = this.files.refused();
    if (!main && !file) {
      this.host.console.line("error", `${code}: ${message}`);
      return;
    }
    this.host.console.line("error", `Your last edit was refused: ${message}`);
    if (main) this.diverged(code);
    else this.host.resync(code);
  }

  private diverged(why: string): void {
    this.resetOnWelcome = true;
    this.host.resync(why);
  }
}
