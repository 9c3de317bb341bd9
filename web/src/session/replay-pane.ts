// Replay in place of the live editor, for interviewers: a toggle, and the replay view loaded
// from the history when it is first opened.

import type { Extension } from "@codemirror/state";

import { el } from "../dom";
import type { Role } from "../protocol";
import { Replay } from "../replay";
import type { Theme } from "../theme";
import type { Part } from "./part";

export class ReplayPane implements Part {
  readonly element = el("div", { class: "replay-host", hidden: "" });
  readonly button = el(
    "button",
    { type: "button", class: "btn", id: "replay-toggle", "aria-pressed": "false", hidden: "" },
    "Replay",
  );
  private replay: Replay | null = null;
  private language: Extension = [];

  constructor(
    private readonly sessionId: string,
    private readonly token: string,
    private readonly live: HTMLElement,
    private theme: Theme,
    /** Replay opened or closed: the live controls are off while it is open. */
    private readonly toggled: (open: boolean) => void = () => {},
  ) {
    this.button.addEventListener("click", () => this.toggle());
  }

  role(role: Role): void {
    this.button.hidden = role !== "interviewer";
  }

  /** The text replay shows at its current version (for tests). */
  text(): string | null {
    return this.replay ? this.replay.textAt(this.replay.version) : null;
  }

  setLanguage(ext: Extension): void {
    this.language = ext;
    this.replay?.setLanguage(ext);
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.replay?.setTheme(theme);
  }

  private toggle(): void {
    const open = this.element.hidden;
    this.element.hidden = !open;
    this.live.hidden = open;
    this.button.setAttribute("aria-pressed", String(open));
    this.button.textContent = open ? "Back to live" : "Replay";
    this.toggled(open);
    if (!open) return;
    if (!this.replay) {
      this.replay = new Replay(this.sessionId, this.token, this.theme);
      this.replay.setLanguage(this.language);
      this.element.appendChild(this.replay.element);
    }
    const replay = this.replay;
    void replay.load().then(() => replay.focus());
  }
}
