// The connection pill of the top bar (the embed's bar too): connected, reconnecting or offline,
// with the edits kept for later while offline.

import type { ConnectionState } from "../connection";
import { el } from "../dom";
import type { Part } from "./part";

export class ConnectionPill implements Part {
  readonly element = el("span", { class: "conn", id: "connection", role: "status" }, "connecting…");
  private state: ConnectionState = { kind: "connecting", attempt: 0 };
  private everOnline = false;

  /** `pending` counts the document's edits not yet confirmed. */
  constructor(private readonly pending: () => number) {}

  welcome(): void {
    this.everOnline = true;
  }

  connection(state: ConnectionState): void {
    this.state = state;
    this.render();
  }

  /** Offline, the retry countdown goes on. */
  tick(): void {
    this.changed();
  }

  /** The document changed: offline, the count of kept edits did too. */
  changed(): void {
    if (this.state.kind !== "online") this.render();
  }

  /** The link leads nowhere (no such session, or a token it does not take). */
  unavailable(): void {
    this.element.textContent = "● not available";
  }

  private render(): void {
    this.element.dataset.state = this.state.kind;
    this.element.textContent = connectionText(this.state, this.everOnline, this.pending());
  }
}

/** The connection pill; offline it counts the edits kept for later. */
function connectionText(state: ConnectionState, everOnline: boolean, pending: number): string {
  const kept = pending ? ` · ${pending} edit${pending > 1 ? "s" : ""} not yet saved` : "";
  switch (state.kind) {
    case "online":
      return "● connected";
    case "connecting":
      return (everOnline ? "● reconnecting…" : "● connecting…") + kept;
    case "waiting": {
      const secs = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
      return `● offline, retrying${secs ? ` in ${secs} s` : "…"}${kept}`;
    }
    case "closed":
      return state.reason === "ended"
        ? "● session ended"
        : state.reason === "unauthorized"
          ? "● not authorized"
          : "● disconnected";
  }
}
