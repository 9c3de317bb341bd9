// The session socket: authenticates with the first message (the token never goes into a URL),
// reconnects by itself with backoff, and notices a dead connection with application pings.

import type { After, ClientMessage, ServerMessage } from "./protocol";

/** What the page shows about the socket. */
export type ConnectionState =
  | { kind: "connecting"; attempt: number }
  | { kind: "online" }
  | { kind: "waiting"; retryAt: number; attempt: number }
  | { kind: "closed"; reason: "ended" | "unauthorized" | "stopped" };

export interface ConnectionHandlers {
  /** Every message after `welcome`, and `welcome` itself (first, after each (re)connect). */
  message(msg: ServerMessage): void;
  state(state: ConnectionState): void;
  /** The socket failed `attempt` times in a row without a `welcome`. */
  failing?(attempt: number): void;
  /** What the page already has of the run in progress: the server sends only the rest. */
  resume?(): After | undefined;
}

const PING_EVERY_MS = 15_000;
/** No frame at all for this long means the connection is dead even if the OS hasn't said so. */
const SILENCE_LIMIT_MS = 40_000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;

/** Close codes of docs/protocol.md. */
const CLOSE_NORMAL = 1000;
const CLOSE_UNAUTHORIZED = 4401;

export class Connection {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private welcomed = false;
  private stopped = false;
  private retryTimer = 0;
  private pingTimer = 0;
  private lastFrameAt = 0;
  private ended = false;

  constructor(
    readonly sessionId: string,
    private readonly token: string,
    private name: string,
    /** Join as an observer whatever the token (`?readonly=1`). */
    private readonly readonly: boolean,
    private readonly handlers: ConnectionHandlers,
  ) {}

  /** Opens the socket; from then on it reconnects until `stop()` or the session ends. */
  start(): void {
    this.stopped = false;
    this.open();
  }

  /** Whether a `welcome` has arrived on the current socket (messages can be sent). */
  get online(): boolean {
    return this.welcomed && this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends a message if the socket is up; returns whether it went out. */
  send(msg: ClientMessage): boolean {
    if (!this.online) return false;
    this.ws!.send(JSON.stringify(msg));
    return true;
  }

  /** Reconnects under another display name (the name is fixed for a socket's life). */
  rename(name: string): void {
    this.name = name;
    if (this.ws) this.ws.close(CLOSE_NORMAL, "renaming");
  }

  /** Closes for good. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.ws?.close(CLOSE_NORMAL, "bye");
    this.ws = null;
  }

  private url(): string {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = new URLSearchParams();
    if (this.name) query.set("name", this.name);
    if (this.readonly) query.set("readonly", "1");
    const q = query.toString();
    return `${scheme}//${location.host}/api/v1/sessions/${this.sessionId}/ws${q ? `?${q}` : ""}`;
  }

  private open(): void {
    if (this.stopped) return;
    this.welcomed = false;
    this.handlers.state({ kind: "connecting", attempt: this.attempt });
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      this.lastFrameAt = Date.now();
      const after = this.handlers.resume?.();
      ws.send(JSON.stringify({ type: "auth", token: this.token, after } satisfies ClientMessage));
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      let msg: ServerMessage;
      try {
        msg = JSON.parse(String(event.data)) as ServerMessage;
      } catch {
        return;
      }
      // A lobby's socket is up too (it pings), though it gets its `welcome` only at Start.
      if (msg.type === "welcome" || msg.type === "lobby") this.welcome();
      if (msg.type === "session_ended") this.ended = true;
      this.handlers.message(msg);
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.closed(event.code);
    };
  }

  private welcome(): void {
    this.welcomed = true;
    this.attempt = 0;
    this.handlers.state({ kind: "online" });
    clearInterval(this.pingTimer);
    this.pingTimer = window.setInterval(() => this.keepAlive(), PING_EVERY_MS);
  }

  private keepAlive(): void {
    if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
      // Half-open: the OS has not noticed yet. Give up on this socket and dial again.
      const ws = this.ws;
      this.ws = null;
      ws?.close();
      this.closed(1006);
      return;
    }
    this.send({ type: "ping" });
  }

  private closed(code: number): void {
    clearInterval(this.pingTimer);
    const hadWelcome = this.welcomed;
    this.welcomed = false;
    this.ws = null;
    if (this.stopped) return;
    if (this.ended) {
      this.stopped = true;
      this.handlers.state({ kind: "closed", reason: "ended" });
      return;
    }
    if (code === CLOSE_UNAUTHORIZED) {
      this.stopped = true;
      this.handlers.state({ kind: "closed", reason: "unauthorized" });
      return;
    }
    this.attempt += 1;
    if (!hadWelcome) this.handlers.failing?.(this.attempt);
    if (this.stopped) return;
    // A clean 1000 without session_ended is a rename or a server restart: dial at once.
    const delay =
      this.attempt === 1
        ? 0
        : Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.attempt - 2)) * (0.75 + Math.random() / 2);
    this.handlers.state({ kind: "waiting", retryAt: Date.now() + delay, attempt: this.attempt });
    this.retryTimer = window.setTimeout(() => this.open(), delay);
  }

  /** Dials again now, skipping the backoff wait. */
  retryNow(): void {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.open();
  }
}
