// The shared document in the page's editor: CodeMirror with the collaboration peer, the
// environment's language, its template as a placeholder while the document is empty, and the
// page's theme and read-only state.

import { getSyncedVersion } from "@codemirror/collab";
import { EditorState, type Extension } from "@codemirror/state";
import { EditorView, ViewPlugin } from "@codemirror/view";

import { api } from "../api";
import { Peer, peerExtension, type Transport } from "../collab";
import { el } from "../dom";
import {
  baseExtensions,
  EditorCompartments,
  editorTheme,
  focusAsFromKeyboard,
  keymapExtension,
  layoutExtension,
  placeholderExtension,
  readOnlyExtension,
  runKeymap,
  tabHint,
} from "../editor";
import { loadLanguage } from "../languages";
import type { EditorSettings } from "../settings";
import type { Theme } from "../theme";

/** What the editor starts from: the live document, or an ended session's last version. */
export interface DocumentSetup {
  readonly document: string;
  readonly version: number;
  readonly readOnly: boolean;
  /** CodeMirror language name. */
  readonly language: string;
  /** The environment, for its template. */
  readonly environment: string;
}

export interface DocumentHost {
  readonly transport: Transport;
  /** The peer and the server disagree: the page must reload the document. */
  diverged(why: string): void;
  run(): void;
  /** After every change of the document. */
  changed(): void;
  /** The language's support is loaded (for replay, which wants the same). */
  languageLoaded(ext: Extension): void;
}

export class DocumentEditor {
  readonly element = el("div", { class: "editor-host", id: "editor" });
  private readonly compartments = new EditorCompartments();
  private view: EditorView | null = null;
  private plugin: ViewPlugin<Peer> | null = null;
  private languageExt: Extension = [];
  /** The CodeMirror language shown. */
  language = "";

  constructor(
    private readonly host: DocumentHost,
    private theme: Theme,
    private settings: EditorSettings,
  ) {}

  get ready(): boolean {
    return this.view !== null;
  }

  peer(): Peer | null {
    return this.view && this.plugin ? this.view.plugin(this.plugin) : null;
  }

  text(): string | null {
    return this.view?.state.doc.toString() ?? null;
  }

  version(): number | null {
    return this.view ? getSyncedVersion(this.view.state) : null;
  }

  create(setup: DocumentSetup, focus: boolean): void {
    this.view = new EditorView({ state: this.state(setup), parent: this.element });
    this.language = setup.language;
    void loadLanguage(setup.language).then((ext) => {
      this.languageExt = ext;
      this.view?.dispatch({ effects: this.compartments.language.reconfigure(ext) });
      this.host.languageLoaded(ext);
    });
    void this.loadPlaceholder(setup.environment);
    void this.applyKeymap();
    // Focused for the person on load: their first Tab moves on rather than indenting
    // everyone's code.
    if (focus) focusAsFromKeyboard(this.view);
  }

  /** The person changed a setting: shown at once, the keymap once its chunk is loaded. */
  setSettings(settings: EditorSettings): void {
    const keymapChanged = settings.keymap !== this.settings.keymap;
    this.settings = settings;
    this.view?.dispatch({ effects: this.compartments.layout.reconfigure(layoutExtension(settings)) });
    if (keymapChanged) void this.applyKeymap();
  }

  private async applyKeymap(): Promise<void> {
    const wanted = this.settings.keymap;
    const ext = await keymapExtension(wanted);
    // A later pick wins over a slower load.
    if (this.settings.keymap === wanted) this.view?.dispatch({ effects: this.compartments.keymap.reconfigure(ext) });
  }

  /** The session switched language: its mode, and its template as the placeholder. */
  switchLanguage(language: string, environment: string): void {
    this.language = language;
    void loadLanguage(language).then((ext) => {
      if (this.language !== language) return;
      this.languageExt = ext;
      this.view?.dispatch({ effects: this.compartments.language.reconfigure(ext) });
      this.host.languageLoaded(ext);
    });
    this.view?.dispatch({ effects: this.compartments.placeholder.reconfigure([]) });
    void this.loadPlaceholder(environment);
  }

  /** Starts over from the server's document (after the peer diverged). */
  reset(setup: DocumentSetup): void {
    if (!this.view) return;
    this.view.setState(this.state(setup));
    this.view.dispatch({ effects: this.compartments.language.reconfigure(this.languageExt) });
    void this.applyKeymap();
  }

  /** Replaces the whole text, as an edit (an embed's `set_code`). */
  replace(text: string): void {
    if (!this.view || text === this.view.state.doc.toString()) return;
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text } });
  }

  setReadOnly(readOnly: boolean): void {
    this.view?.dispatch({ effects: this.compartments.readOnly.reconfigure(readOnlyExtension(readOnly)) });
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.view?.dispatch({ effects: this.compartments.theme.reconfigure(editorTheme(theme)) });
  }

  private state(setup: DocumentSetup): EditorState {
    const { extension, plugin } = peerExtension(setup.version, {
      transport: this.host.transport,
      onDiverged: (why) => this.host.diverged(why),
    });
    this.plugin = plugin;
    return EditorState.create({
      doc: setup.document,
      extensions: [
        baseExtensions(this.compartments, this.theme, setup.readOnly, this.settings),
        runKeymap(() => this.host.run()),
        tabHint(),
        extension,
        EditorView.updateListener.of((u) => {
          if (u.docChanged) this.host.changed();
        }),
        EditorView.contentAttributes.of({ "aria-label": "Code editor" }),
      ],
    });
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
}
