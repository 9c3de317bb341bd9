// How long the session has run and how long it has left; ahead of its end (the server's
// `expiry` warning) a banner counts down and offers to extend it.

import { api } from "../api";
import { el } from "../dom";
import type { ExpiryMessage, ServerMessage, SessionView, Welcome } from "../protocol";
import type { Banner } from "./banner";
import type { Part } from "./part";

/** `expires_at` moves forward with activity: read the session again this often. */
const REFRESH_MS = 30_000;

export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export interface ClockHost {
  readonly sessionId: string;
  readonly token: string;
  readonly banner: Banner;
  /** Whether it redraws every second (the embed shows no clock). */
  readonly ticking: boolean;
  /** Asks the server to extend the session; false when offline. */
  extend(): boolean;
  /** Whether this page may extend (candidates and interviewers). */
  canExtend(): boolean;
}

export class SessionClock implements Part {
  readonly element = el("span", { class: "timer", id: "timer" });
  private session: SessionView | null = null;
  private warning: ExpiryMessage | null = null;
  private ended = false;
  private refreshTimer = 0;

  constructor(private readonly host: ClockHost) {}

  set(session: SessionView): void {
    const first = this.session === null;
    this.session = session;
    if (first) {
      this.refreshTimer = window.setInterval(() => void this.refresh(), REFRESH_MS);
    }
    this.render();
  }

  welcome(w: Welcome): void {
    this.set(w.session);
  }

  message(msg: ServerMessage): void {
    if (msg.type === "expiry") this.expiry(msg);
  }

  tick(): void {
    if (this.host.ticking) this.render();
  }

  /** The server says when the session ends: ahead of the end, or after it moved. */
  private expiry(msg: ExpiryMessage): void {
    if (this.session) this.session = { ...this.session, expires_at: msg.expires_at };
    this.warning = msg.warning ? msg : null;
    this.render();
  }

  end(): void {
    this.ended = true;
    this.warning = null;
    clearInterval(this.refreshTimer);
    this.render();
  }

  private render(): void {
    const s = this.session;
    if (!s) return;
    const now = Date.now();
    const elapsed = duration(now - Date.parse(s.created_at));
    if (this.ended) {
      this.element.textContent = `ended · ran ${elapsed}`;
      this.host.banner.hide("expiry");
      return;
    }
    const left = Date.parse(s.expires_at) - now;
    // `expires_at` is when an idle session closes (activity moves it on), or the lifetime cap
    // when that comes first: say which, so nobody reads it as the interview's own countdown.
    // Before Start and in a take-home, only the session's deadline ends it.
    const idleBound = s.interview.mode === "live" && s.interview.stage === "live";
    const lifetime = this.warning?.reason === "lifetime" || !idleBound;
    this.element.replaceChildren(
      el("span", { class: "elapsed" }, `${elapsed} · `),
      `${lifetime ? "closes in" : "idle ends in"} ${duration(left)}`,
    );
    this.element.classList.toggle("soon", left < 5 * 60_000);
    const started = new Date(s.created_at).toLocaleString();
    const ends = new Date(s.expires_at).toLocaleString();
    this.element.title = lifetime
      ? `Running for ${elapsed} (since ${started}). The session reaches its time limit at ${ends}.`
      : `Running for ${elapsed} (since ${started}). This is not a time limit for the interview: the session closes ` +
        `only after a stretch without activity, at ${ends} if nothing happens before. Any edit or run moves it on.`;
    this.renderWarning(left);
  }

  private renderWarning(left: number): void {
    const w = this.warning;
    if (!w) {
      this.host.banner.hide("expiry");
      return;
    }
    const why = w.reason === "lifetime" ? "it reaches its time limit" : "nothing happens in it";
    const text = `This session ends in ${duration(left)} because ${why}.`;
    const action =
      w.can_extend && this.host.canExtend()
        ? { label: "Extend", id: "extend", run: () => void this.host.extend() }
        : undefined;
    this.host.banner.show("expiry", action ? text : `${text} It cannot be extended.`, action);
  }

  private async refresh(): Promise<void> {
    if (this.ended) return;
    try {
      this.set(await api.session(this.host.sessionId, this.host.token));
    } catch {
      // keep the last one
    }
  }
}
