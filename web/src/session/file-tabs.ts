// The workspace's other files as tabs beside the document: each its own CodeMirror view with
// its own collaboration peer, whose messages carry the file's name (docs/protocol.md, "Files").
// The document's tab shows the main editor; a file's tab shows that file's.

import { EditorState, type Extension } from "@codemirror/state";
import { EditorView, type ViewPlugin } from "@codemirror/view";

import { type Peer, peerExtension, type Transport } from "../collab";
import { el } from "../dom";
import { baseExtensions, EditorCompartments, editorTheme, layoutExtension, readOnlyExtension } from "../editor";
import { loadLanguage } from "../languages";
import type { ClientMessage, FileDoc, Participant } from "../protocol";
import type { EditorSettings } from "../settings";
import type { Theme } from "../theme";

/** The editor language of a file, by its extension. */
const BY_EXTENSION: Record<string, string> = {
  py: "python",
  js: "javascript",
  mjs: "javascript",
  ts: "typescript",
  c: "c",
  h: "cpp",
  cc: "cpp",
  cpp: "cpp",
  hpp: "cpp",
  java: "java",
  kt: "kotlin",
  cs: "csharp",
  go: "go",
  rs: "rust",
  rb: "ruby",
  php: "php",
  pl: "perl",
  lua: "lua",
  hs: "haskell",
  r: "r",
  R: "r",
  sh: "shell",
  sql: "sql",
  ex: "elixir",
  exs: "elixir",
};

interface FileTab {
  readonly name: string;
  readonly view: EditorView;
  readonly plugin: ViewPlugin<Peer>;
  readonly compartments: EditorCompartments;
  readonly button: HTMLButtonElement;
}

export interface FileTabsHost {
  send(msg: ClientMessage): boolean;
  diverged(why: string): void;
}

export class FileTabs {
  readonly bar = el("div", { class: "file-tabs", id: "file-tabs", role: "tablist", hidden: "" });
  /** Where the files' editors go, beside the document's. */
  readonly views = el("div", { class: "file-views" });
  private readonly mainButton = el("button", { type: "button", class: "file-tab active", role: "tab" });
  private readonly tabs = new Map<string, FileTab>();
  private active: string | null = null;
  private readOnly = false;
  /** Files whose peer and the server disagreed: rebuilt from the next `welcome`. */
  private readonly stale = new Set<string>();

  constructor(
    private readonly host: FileTabsHost,
    private readonly main: HTMLElement,
    private theme: Theme,
    private settings: EditorSettings,
  ) {
    this.mainButton.addEventListener("click", () => this.show(null));
    this.bar.append(this.mainButton);
  }

  /** The files of a `welcome`: new ones get a tab, known ones catch up. */
  welcome(mainFile: string, files: FileDoc[], readOnly: boolean): void {
    this.setMainFile(mainFile);
    this.readOnly = readOnly;
    for (const f of files) {
      const tab = this.tabs.get(f.name);
      if (tab && this.stale.has(f.name)) {
        // Start this file over from the server's text (its unsaved change could not be kept).
        this.stale.delete(f.name);
        this.remove(tab);
        this.add(f.name, f.document, f.version);
      } else if (tab) {
        tab.view.plugin(tab.plugin)?.connected(f.version);
      } else {
        this.add(f.name, f.document, f.version);
      }
    }
    this.bar.hidden = this.tabs.size === 0;
    if (this.active !== null) this.show(this.active);
  }

  /** The document's tab is named after the document's file (it changes with the language). */
  setMainFile(name: string): void {
    this.mainButton.textContent = name;
    this.mainButton.dataset.file = name;
  }

  /** An edit was refused: the file whose push was in flight starts over at the next welcome. */
  refused(): boolean {
    let any = false;
    for (const tab of this.tabs.values()) {
      if (tab.view.plugin(tab.plugin)?.refused()) {
        this.stale.add(tab.name);
        any = true;
      }
    }
    return any;
  }

  /** Resolves when every file's edits are confirmed (or after `timeoutMs`). */
  async whenSynced(timeoutMs: number): Promise<void> {
    await Promise.all([...this.tabs.values()].map((t) => t.view.plugin(t.plugin)?.whenSynced(timeoutMs)));
  }

  /** The collaboration peer of the file `name`, if it has a tab. */
  peer(name: string): Peer | null {
    const tab = this.tabs.get(name);
    return tab ? tab.view.plugin(tab.plugin) : null;
  }

  presence(participants: Participant[]): void {
    for (const tab of this.tabs.values()) tab.view.plugin(tab.plugin)?.presence(participants);
  }

  disconnected(): void {
    for (const tab of this.tabs.values()) tab.view.plugin(tab.plugin)?.disconnected();
  }

  /** Edits not yet confirmed, in every file. */
  unconfirmed(): number {
    let n = 0;
    for (const tab of this.tabs.values()) n += tab.view.plugin(tab.plugin)?.unconfirmed ?? 0;
    return n;
  }

  text(name: string): string | null {
    return this.tabs.get(name)?.view.state.doc.toString() ?? null;
  }

  setReadOnly(readOnly: boolean): void {
    this.readOnly = readOnly;
    for (const tab of this.tabs.values()) {
      tab.view.dispatch({ effects: tab.compartments.readOnly.reconfigure(readOnlyExtension(readOnly)) });
    }
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    for (const tab of this.tabs.values()) {
      tab.view.dispatch({ effects: tab.compartments.theme.reconfigure(editorTheme(theme)) });
    }
  }

  setSettings(settings: EditorSettings): void {
    this.settings = settings;
    for (const tab of this.tabs.values()) {
      tab.view.dispatch({ effects: tab.compartments.layout.reconfigure(layoutExtension(settings)) });
    }
  }

  /** Shows a file's editor (`null`: the document's). */
  show(name: string | null): void {
    this.active = name;
    this.main.hidden = name !== null;
    this.mainButton.classList.toggle("active", name === null);
    this.mainButton.setAttribute("aria-selected", String(name === null));
    for (const tab of this.tabs.values()) {
      const on = tab.name === name;
      tab.view.dom.hidden = !on;
      tab.button.classList.toggle("active", on);
      tab.button.setAttribute("aria-selected", String(on));
      if (on) tab.view.focus();
    }
  }

  private remove(tab: FileTab): void {
    tab.view.destroy();
    tab.button.remove();
    this.tabs.delete(tab.name);
  }

  private add(name: string, document: string, version: number): void {
    const transport: Transport = {
      // The file's peer speaks for the file.
      send: (msg) =>
        this.host.send(
          msg.type === "update" || msg.type === "pull" || msg.type === "cursor" ? { ...msg, file: name } : msg,
        ),
    };
    const { extension, plugin } = peerExtension(version, {
      transport,
      onDiverged: (why) => {
        this.stale.add(name);
        this.host.diverged(why);
      },
    });
    const compartments = new EditorCompartments();
    const view = new EditorView({
      state: EditorState.create({
        doc: document,
        extensions: [
          baseExtensions(compartments, this.theme, this.readOnly, this.settings),
          extension,
          EditorView.contentAttributes.of({ "aria-label": `File ${name}` }),
        ],
      }),
      parent: this.views,
    });
    view.dom.hidden = this.active !== name;
    view.dom.dataset.file = name;
    const button = el("button", { type: "button", class: "file-tab", role: "tab", "data-file": name }, name);
    button.addEventListener("click", () => this.show(name));
    this.bar.append(button);
    this.tabs.set(name, { name, view, plugin, compartments, button });
    const language = BY_EXTENSION[name.split(".").pop() ?? ""];
    if (language) {
      void loadLanguage(language).then((ext: Extension) =>
        view.dispatch({ effects: compartments.language.reconfigure(ext) }),
      );
    }
  }
}
