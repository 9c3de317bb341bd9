// Tells the server when this page gains or loses focus (its tab hidden, its window left):
// interviewers see it, nothing acts on it. The full page only: an embed's focus is its host
// page's business.

import type { Connection } from "../connection";
import type { Part } from "./part";

export class FocusReport implements Part {
  /** What this page last told the server. */
  private sent = true;

  constructor(private readonly socket: Pick<Connection, "online" | "send">) {
    for (const [target, type] of [
      [document, "visibilitychange"],
      [window, "blur"],
      [window, "focus"],
    ] as const) {
      target.addEventListener(type, () => this.report());
    }
  }

  /** A new socket is a new participant, in focus until it says otherwise. */
  welcome(): void {
    this.sent = true;
    this.report();
  }

  private report(): void {
    if (!this.socket.online) return;
    const focused = document.visibilityState === "visible" && document.hasFocus();
    if (focused === this.sent) return;
    if (this.socket.send({ type: "focus", focused })) this.sent = focused;
  }
}
