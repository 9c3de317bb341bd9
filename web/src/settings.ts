// The editor's settings a person brings with them: keymap (default, Vim, Emacs), font size
// and tab width, kept per browser in localStorage.

export type KeymapName = "default" | "vim" | "emacs";

export interface EditorSettings {
  readonly keymap: KeymapName;
  /** Pixels. */
  readonly fontSize: number;
  /** Columns a tab shows as, and the indentation unit. */
  readonly tabWidth: number;
}

const KEY = "livecode.editor";

export const DEFAULT_SETTINGS: EditorSettings = { keymap: "default", fontSize: 14, tabWidth: 4 };
export const FONT_SIZES = [12, 13, 14, 15, 16, 18, 20, 24];
export const TAB_WIDTHS = [2, 4, 8];

/** The remembered settings, each checked (a hand-edited value falls back to the default). */
export function savedSettings(): EditorSettings {
  let raw: Partial<Record<keyof EditorSettings, unknown>> = {};
  try {
    raw = JSON.parse(localStorage.getItem(KEY) ?? "{}") ?? {};
  } catch {
    // blocked storage or bad JSON: defaults
  }
  const keymap = ["default", "vim", "emacs"].includes(raw.keymap as string)
    ? (raw.keymap as KeymapName)
    : DEFAULT_SETTINGS.keymap;
  const fontSize = FONT_SIZES.includes(raw.fontSize as number) ? (raw.fontSize as number) : DEFAULT_SETTINGS.fontSize;
  const tabWidth = TAB_WIDTHS.includes(raw.tabWidth as number) ? (raw.tabWidth as number) : DEFAULT_SETTINGS.tabWidth;
  return { keymap, fontSize, tabWidth };
}

export function saveSettings(settings: EditorSettings): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(settings));
  } catch {
    // not remembered, still applied
  }
}
