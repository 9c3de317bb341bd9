// The CodeMirror editor of the session page and of replay: the extensions every code editor
// here has, and compartments for what changes while the page lives (language, theme,
// read-only, the person's settings: keymap, font size, tab width).

import {
  autocompletion,
  closeBrackets,
  closeBracketsKeymap,
  completeAnyWord,
  completionKeymap,
} from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  bracketMatching,
  defaultHighlightStyle,
  foldGutter,
  foldKeymap,
  indentOnInput,
  indentUnit,
  syntaxHighlighting,
} from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { Compartment, EditorState, Prec, type Extension } from "@codemirror/state";
import { oneDarkHighlightStyle } from "@codemirror/theme-one-dark";
import {
  drawSelection,
  EditorView,
  dropCursor,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
  placeholder,
  rectangularSelection,
  ViewPlugin,
  type ViewUpdate,
} from "@codemirror/view";

import type { EditorSettings, KeymapName } from "./settings";
import type { Theme } from "./theme";

/** What may change in an editor after it is made. */
export class EditorCompartments {
  readonly language = new Compartment();
  readonly theme = new Compartment();
  readonly readOnly = new Compartment();
  readonly placeholder = new Compartment();
  readonly keymap = new Compartment();
  readonly layout = new Compartment();
}

/** The shared base: gutters, history, brackets, indentation, search, completion. */
export function baseExtensions(
  c: EditorCompartments,
  theme: Theme,
  readOnly: boolean,
  settings: EditorSettings,
): Extension {
  return [
    // Vim's and Emacs' bindings go ahead of every other keymap.
    c.keymap.of([]),
    lineNumbers(),
    highlightActiveLineGutter(),
    foldGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    dropCursor(),
    EditorState.allowMultipleSelections.of(true),
    indentOnInput(),
    c.layout.of(layoutExtension(settings)),
    bracketMatching(),
    closeBrackets(),
    rectangularSelection(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    // The language's own completions (keywords, where its mode lists them) and, for every
    // language, the words already in the document.
    autocompletion(),
    EditorState.languageData.of(() => [{ autocomplete: completeAnyWord }]),
    keymap.of([
      ...closeBracketsKeymap,
      ...completionKeymap,
      ...defaultKeymap,
      ...searchKeymap,
      ...historyKeymap,
      ...foldKeymap,
      indentWithTab,
    ]),
    c.language.of([]),
    c.theme.of(editorTheme(theme)),
    c.readOnly.of(readOnlyExtension(readOnly)),
    c.placeholder.of([]),
  ];
}

/** Font size and tab width. */
export function layoutExtension(settings: EditorSettings): Extension {
  return [
    EditorState.tabSize.of(settings.tabWidth),
    indentUnit.of(" ".repeat(settings.tabWidth)),
    EditorView.theme({ ".cm-scroller": { fontSize: `${settings.fontSize}px` } }),
  ];
}

/** Vim's or Emacs' bindings, loaded when first picked (each is a chunk of its own). */
export async function keymapExtension(name: KeymapName): Promise<Extension> {
  switch (name) {
    case "vim":
      return Prec.highest((await import("@replit/codemirror-vim")).vim());
    case "emacs":
      return Prec.highest((await import("@replit/codemirror-emacs")).emacs());
    default:
      return [];
  }
}

/** Read-only keeps the editor focusable, so text can still be selected and copied. */
export function readOnlyExtension(readOnly: boolean): Extension {
  return EditorState.readOnly.of(readOnly);
}

/** Ctrl/Cmd+Enter runs, ahead of the default keymap (which inserts a blank line there). */
export function runKeymap(run: () => void): Extension {
  return Prec.highest(
    keymap.of([
      {
        key: "Mod-Enter",
        run: () => {
          run();
          return true;
        },
      },
    ]),
  );
}

/** The last focus change came from the keyboard (a Tab), not a pointer. */
let keyboardFocus = false;
if (typeof document !== "undefined") {
  document.addEventListener("keydown", (e) => e.key === "Tab" && (keyboardFocus = true), true);
  document.addEventListener("pointerdown", () => (keyboardFocus = false), true);
}

/** Focuses an editor as if reached by Tab (the page's own focus on load): Tab passes on. */
export function focusAsFromKeyboard(view: EditorView): void {
  keyboardFocus = true;
  view.focus();
}

/** How long the hint stays up once the editor is reached. */
const HINT_MS = 8000;

/** How long Tab keeps passing through an editor reached by Tab, unless another key comes first. */
const TAB_PASS_MS = 60 * 60 * 1000;

/**
 * A shared document must not be a Tab trap: Tab indents here, so someone tabbing through the
 * page would indent everyone's code. An editor reached by Tab lets Tab pass on until another
 * key is pressed (CodeMirror's temporary tab-focus mode), and says how to leave it later:
 * Escape then Tab (CodeMirror's own escape hatch).
 */
export function tabHint(): Extension {
  return ViewPlugin.fromClass(
    class {
      readonly hint: HTMLElement;
      timer = 0;
      constructor(readonly view: EditorView) {
        this.hint = document.createElement("div");
        this.hint.className = "cm-tab-hint";
        this.hint.setAttribute("role", "status");
        this.hint.textContent = "Esc then Tab leaves the editor";
        this.hint.hidden = true;
        view.dom.appendChild(this.hint);
      }
      update(u: ViewUpdate): void {
        if (!u.focusChanged) return;
        const fromKeys = u.view.hasFocus && keyboardFocus && !u.state.readOnly;
        this.hint.hidden = !fromKeys;
        clearTimeout(this.timer);
        if (!fromKeys) return;
        u.view.setTabFocusMode(TAB_PASS_MS);
        // Said once per visit: it need not cover the code for good.
        this.timer = window.setTimeout(() => (this.hint.hidden = true), HINT_MS);
      }
      destroy(): void {
        clearTimeout(this.timer);
        this.hint.remove();
      }
    },
    {
      eventHandlers: {
        pointerdown() {
          // A click means the person is editing: Tab indents again.
          if (!this.hint.hidden) this.view.setTabFocusMode(false);
          this.hint.hidden = true;
        },
      },
    },
  );
}

/** Shows `text` greyed out while the document is empty. */
export function placeholderExtension(text: string): Extension {
  return text ? placeholder(text) : [];
}

/** Editor chrome from the page's CSS variables, so one theme serves both. */
const chrome = EditorView.theme({
  "&": { height: "100%", backgroundColor: "var(--editor-bg)", color: "var(--fg)" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.5" },
  ".cm-gutters": {
    backgroundColor: "var(--editor-gutter)",
    color: "var(--muted)",
    borderRight: "1px solid var(--border)",
  },
  ".cm-activeLine": { backgroundColor: "var(--editor-active-line)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--editor-active-line)" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--fg)" },
  "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection":
    { backgroundColor: "var(--editor-selection)" },
  ".cm-panels": { backgroundColor: "var(--panel)", color: "var(--fg)" },
  ".cm-placeholder": { color: "var(--muted)" },
});

/** The editor extensions for `theme`. */
export function editorTheme(theme: Theme): Extension {
  return [
    chrome,
    EditorView.theme({}, { dark: theme === "dark" }),
    syntaxHighlighting(theme === "dark" ? oneDarkHighlightStyle : defaultHighlightStyle),
  ];
}
