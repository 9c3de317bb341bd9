// Light and dark theme: an attribute on <html> that the CSS reads, remembered in localStorage.
// (The editor's side is `editorTheme` in editor.ts.)

export type Theme = "light" | "dark";

const KEY = "livecode.theme";

/** The remembered theme, else the system's preference. */
export function savedTheme(): Theme {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === "light" || saved === "dark") return saved;
  } catch {
    // storage may be blocked (third-party iframe): fall through
  }
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/** Shows `theme` on the page; `remember` keeps it for the next visit. */
export function applyTheme(theme: Theme, remember: boolean): void {
  document.documentElement.dataset.theme = theme;
  if (!remember) return;
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    // not remembered, still shown
  }
}
