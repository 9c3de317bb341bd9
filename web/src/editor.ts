// The CodeMirror editor of the session page and of replay: the extensions every code editor
// here has, and compartments for what changes while the page lives (language, theme,
// read-only).

import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
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
} from "@codemirror/view";

import type { Theme } from "./theme";

/** What may change in an editor after it is made. */
export class EditorCompartments {
  readonly language = new Compartment();
  readonly theme = new Compartment();
  readonly readOnly = new Compartment();
  readonly placeholder = new Compartment();
}

/** The shared base: gutters, history, brackets, indentation, search. */
export function baseExtensions(c: EditorCompartments, theme: Theme, readOnly: boolean): Extension {
  return [
    lineNumbers(),
    highlightActiveLineGutter(),
    foldGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    dropCursor(),
    EditorState.allowMultipleSelections.of(true),
    indentOnInput(),
    indentUnit.of("    "),
    bracketMatching(),
    closeBrackets(),
    rectangularSelection(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    keymap.of([
      ...closeBracketsKeymap,
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

/** Shows `text` greyed out while the document is empty. */
export function placeholderExtension(text: string): Extension {
  return text ? placeholder(text) : [];
}

/** Editor chrome from the page's CSS variables, so one theme serves both. */
const chrome = EditorView.theme({
  "&": { height: "100%", backgroundColor: "var(--editor-bg)", color: "var(--fg)" },
  ".cm-scroller": { fontFamily: "var(--mono)", fontSize: "14px", lineHeight: "1.5" },
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
