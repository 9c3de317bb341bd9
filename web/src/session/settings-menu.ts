// The editor settings button of the top bar: a small menu of keymap, font size and tab width,
// applied as they change and remembered in this browser.

import { el } from "../dom";
import { type EditorSettings, FONT_SIZES, type KeymapName, saveSettings, TAB_WIDTHS } from "../settings";

export class SettingsMenu {
  readonly button = el("button", {
    type: "button",
    class: "btn icon",
    id: "settings-toggle",
    title: "Editor settings",
    "aria-label": "Editor settings",
    "aria-expanded": "false",
  });
  readonly element: HTMLElement;

  constructor(
    private settings: EditorSettings,
    private readonly changed: (settings: EditorSettings) => void,
  ) {
    this.button.textContent = "⚙";
    const keymap = this.select("settings-keymap", "Keymap", [
      ["default", "Default"],
      ["vim", "Vim"],
      ["emacs", "Emacs"],
    ]);
    keymap.value = settings.keymap;
    keymap.addEventListener("change", () => this.update({ keymap: keymap.value as KeymapName }));
    const font = this.select(
      "settings-font-size",
      "Font size",
      FONT_SIZES.map((n) => [String(n), `${n} px`]),
    );
    font.value = String(settings.fontSize);
    font.addEventListener("change", () => this.update({ fontSize: Number(font.value) }));
    const tab = this.select(
      "settings-tab-width",
      "Tab width",
      TAB_WIDTHS.map((n) => [String(n), `${n} spaces`]),
    );
    tab.value = String(settings.tabWidth);
    tab.addEventListener("change", () => this.update({ tabWidth: Number(tab.value) }));
    this.element = el(
      "div",
      { class: "settings-menu", id: "settings-menu", role: "dialog", "aria-label": "Editor settings", hidden: "" },
      this.row("Keymap", keymap),
      this.row("Font size", font),
      this.row("Tab width", tab),
    );
    this.button.addEventListener("click", () => this.toggle());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !this.element.hidden) this.toggle(false);
    });
    document.addEventListener("click", (e) => {
      const target = e.target as Node;
      if (!this.element.hidden && !this.element.contains(target) && !this.button.contains(target)) this.toggle(false);
    });
  }

  private toggle(open = this.element.hidden): void {
    this.element.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
  }

  private update(change: Partial<EditorSettings>): void {
    this.settings = { ...this.settings, ...change };
    saveSettings(this.settings);
    this.changed(this.settings);
  }

  private select(id: string, label: string, options: [string, string][]): HTMLSelectElement {
    const select = el("select", { id, "aria-label": label });
    for (const [value, text] of options) select.append(el("option", { value }, text));
    return select;
  }

  private row(label: string, control: HTMLElement): HTMLElement {
    return el("label", { class: "settings-row" }, el("span", {}, label), control);
  }
}
