// The embed's side of postMessage (docs/embed.md): events to the parent page, commands from it.
// Both directions are limited to the origins the server allows to frame the page
// (`GET /api/v1/embed-config`), the same list its Content-Security-Policy names.

import { api } from "./api";

/** What the embed tells its parent. */
export type EmbedEvent =
  | { type: "ready"; session_id: string; role: string; environment: string; version: number }
  | { type: "run_started"; run_id: string; by: string }
  | { type: "run_finished"; run_id: string; status: string; exit_code: number | null; duration_ms: number }
  | { type: "code_changed"; code: string; version: number }
  | { type: "code"; code: string; version: number }
  | {
      type: "tests_finished";
      tests_id: string;
      passed: number;
      total: number;
      hidden: { passed: number; total: number };
      cases: { name: string; verdict: string; hidden: boolean }[];
    }
  | { type: "environment_changed"; environment: string; by: string }
  | { type: "error"; code: string; message: string }
  | { type: "session_ended"; reason: string };

/** What the parent may ask. */
export type EmbedCommand =
  | { type: "run" }
  | { type: "stop" }
  | { type: "set_code"; code: string }
  | { type: "set_theme"; theme: "light" | "dark" }
  | { type: "get_code" }
  | { type: "run_tests" }
  | { type: "switch_environment"; environment: string };

/** Whether `origin` matches a CSP source expression of `frame-ancestors`. */
export function originAllowed(origin: string, sources: readonly string[]): boolean {
  if (!origin || origin === "null") return false;
  if (origin === location.origin) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  for (const raw of sources) {
    const source = raw.trim().replace(/\/+$/, "");
    if (source === "*") return true;
    if (source === "'self'") continue; // own origin: handled above
    if (/^[a-z][a-z0-9+.-]*:$/i.test(source)) {
      if (url.protocol === source.toLowerCase()) return true;
      continue;
    }
    const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?(\*\.)?([^:/]+)(?::(\d+|\*))?/i.exec(source);
    if (!m) continue;
    const [, scheme, wildcard, host, port] = m;
    if (scheme && url.protocol !== `${scheme.toLowerCase()}:`) continue;
    if (!scheme && url.protocol !== location.protocol && url.protocol !== "https:") continue;
    const h = url.hostname.toLowerCase();
    const want = host.toLowerCase();
    if (wildcard ? !h.endsWith(`.${want}`) : h !== want) continue;
    const actualPort = url.port || (url.protocol === "https:" ? "443" : url.protocol === "http:" ? "80" : "");
    const wantPort = port ?? (url.protocol === "https:" ? "443" : url.protocol === "http:" ? "80" : "");
    if (port !== "*" && actualPort !== wantPort) continue;
    return true;
  }
  return false;
}

/** The parent page's origin, when the browser tells it. */
function parentOrigin(): string | null {
  const ancestors = (location as Location & { ancestorOrigins?: DOMStringList }).ancestorOrigins;
  if (ancestors && ancestors.length > 0) return ancestors[0];
  if (document.referrer) {
    try {
      return new URL(document.referrer).origin;
    } catch {
      return null;
    }
  }
  return null;
}

export class EmbedBridge {
  private allowed: string[] = [];
  private target: string | null = null;
  private readonly framed = window.parent !== window;
  /** Events posted before the allowed origins are known wait here. */
  private queue: EmbedEvent[] | null = [];

  constructor(private readonly onCommand: (command: EmbedCommand) => void) {}

  /** Learns the allowed origins, then starts listening. */
  async start(): Promise<void> {
    if (!this.framed) return;
    try {
      this.allowed = (await api.embedConfig()).frame_ancestors ?? [];
    } catch (err) {
      // Without the list only the server's own origin is trusted (the CSP default).
      console.warn("livecode: no embed config, trusting only this origin", err);
      this.allowed = [];
    }
    const parent = parentOrigin();
    if (parent && originAllowed(parent, this.allowed)) this.target = parent;
    window.addEventListener("message", (event) => this.received(event));
    const queued = this.queue ?? [];
    this.queue = null;
    for (const event of queued) this.post(event);
  }

  /** Posts an event to the parent, to its origin alone. */
  post(event: EmbedEvent): void {
    if (!this.framed) return;
    if (this.queue) {
      this.queue.push(event);
      return;
    }
    const message = { source: "livecode", ...event };
    if (this.target) {
      window.parent.postMessage(message, this.target);
      return;
    }
    // The parent's origin is unknown: offer it to each exact allowed origin; the browser
    // delivers to the one that matches, if any.
    for (const origin of this.allowed) {
      if (/^https?:\/\/[^*]+$/.test(origin)) window.parent.postMessage(message, origin.replace(/\/+$/, ""));
    }
  }

  private received(event: MessageEvent): void {
    if (event.source !== window.parent) return;
    if (!originAllowed(event.origin, this.allowed)) return;
    if (!this.target) this.target = event.origin;
    const data = event.data as Partial<EmbedCommand> | null;
    if (!data || typeof data !== "object" || typeof data.type !== "string") return;
    switch (data.type) {
      case "run":
      case "stop":
      case "get_code":
      case "run_tests":
        this.onCommand({ type: data.type });
        break;
      case "switch_environment": {
        const environment = (data as { environment?: unknown }).environment;
        if (typeof environment === "string") this.onCommand({ type: "switch_environment", environment });
        break;
      }
      case "set_code":
        if (typeof (data as { code?: unknown }).code === "string") {
          this.onCommand({ type: "set_code", code: (data as { code: string }).code });
        }
        break;
      case "set_theme": {
        const theme = (data as { theme?: unknown }).theme;
        if (theme === "light" || theme === "dark") this.onCommand({ type: "set_theme", theme });
        break;
      }
    }
  }
}

/** How an embed arranges its panes (`#layout=` in its link; docs/embed.md). */
export type EmbedLayout = "default" | "compact" | "no-question" | "console-below";

/** The `layout` of an embed's link; anything unknown is the default. */
export function embedLayout(hash: string): EmbedLayout {
  const value = new URLSearchParams(hash.replace(/^#/, "")).get("layout");
  return value === "compact" || value === "no-question" || value === "console-below" ? value : "default";
}
