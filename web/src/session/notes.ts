// The interviewers' private notes: typed here, saved over the socket after a pause, and
// replaced by what another interviewer saved unless ours are still unsent.

import { el } from "../dom";
import type { ClientMessage, Role, ServerMessage, Welcome } from "../protocol";
import type { Controls, Part } from "./part";

const DEBOUNCE_MS = 600;

export class NotesPanel implements Part {
  private readonly area = el("textarea", {
    id: "notes",
    class: "notes",
    placeholder: "Private notes: only interviewers see these",
    spellcheck: "true",
  });
  private readonly state = el("span", { class: "notes-state", id: "notes-state" });
  readonly element = el(
    "section",
    { class: "panel notes-panel", hidden: "", "aria-label": "Private notes" },
    el("header", { class: "panel-head" }, el("h2", {}, "Private notes"), this.state),
    this.area,
  );
  private timer = 0;
  private sent: string | null = null;
  private dirty = false;

  constructor(private readonly send: (msg: ClientMessage) => boolean) {
    this.area.addEventListener("input", () => {
      this.dirty = true;
      this.state.textContent = "editing…";
      clearTimeout(this.timer);
      this.timer = window.setTimeout(() => this.flush(), DEBOUNCE_MS);
    });
  }

  /** Shown to interviewers only, with the notes the server has. */
  role(role: Role, notes?: string | null): void {
    if (role !== "interviewer") return;
    this.element.hidden = false;
    this.area.value = notes ?? "";
    this.sent = notes ?? "";
  }

  /** After a reconnect: unsent notes go out, else the server's are shown. */
  welcome(w: Welcome, first: boolean): void {
    if (first || w.role !== "interviewer" || typeof w.notes !== "string") return;
    if (this.dirty) this.flush();
    else this.received(w.notes);
  }

  message(msg: ServerMessage): void {
    if (msg.type === "notes") this.received(msg.text);
  }

  update(controls: Controls): void {
    this.area.readOnly = controls.ended;
  }

  private received(text: string): void {
    if (this.dirty && text === this.sent) {
      if (this.area.value === text) {
        this.dirty = false;
        this.state.textContent = "saved";
      }
      return;
    }
    if (this.dirty) return; // ours win until sent; the last write is the server's
    this.area.value = text;
    this.sent = text;
  }

  private flush(): void {
    const text = this.area.value;
    if (this.send({ type: "notes", text })) {
      this.sent = text;
      this.state.textContent = "saving…";
    } else {
      this.state.textContent = "not saved yet (offline)";
    }
  }
}
