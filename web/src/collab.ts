// The editor's side of the collaboration protocol (docs/protocol.md, "Collaboration"): pushes
// local updates against the synced version, applies the authority's `updates`, pulls after a
// reconnect, and sends and places cursors. Unconfirmed updates stay in the collab state until
// the server confirms them, so nothing typed offline is lost.

import {
  collab,
  getClientID,
  getSyncedVersion,
  receiveUpdates,
  sendableUpdates,
  type Update,
} from "@codemirror/collab";
import { ChangeSet, Transaction, type ChangeDesc, type EditorState, type Extension } from "@codemirror/state";
import { EditorView, ViewPlugin, type PluginValue, type ViewUpdate } from "@codemirror/view";

import { keepRemoteCursors, remoteCursors, setRemoteCursor } from "./cursors";
import type { ClientMessage, Participant, ServerMessage, WireUpdate } from "./protocol";

/** Where the peer sends its messages; `send` answers false while offline. */
export interface Transport {
  send(msg: ClientMessage): boolean;
}

type CursorMessage = Extract<ServerMessage, { type: "cursor" }>;

/** Accepted updates kept to place cursors sent against older versions. */
const RECENT_LIMIT = 1000;
/**
 * Most updates and characters of changes per `update` message: a long offline stretch goes out
 * in several messages, each well under the server's frame limit.
 */
const PUSH_MAX_UPDATES = 200;
const PUSH_MAX_CHARS = 100_000;
/** An `update` or `pull` unanswered this long is given up and the state asked for again. */
const ANSWER_TIMEOUT_MS = 10_000;
/** Cursor messages are sent at most this often. */
const CURSOR_THROTTLE_MS = 60;

function toWire(update: Update): WireUpdate {
  return { client_id: update.clientID, changes: update.changes.toJSON() };
}

function fromWire(update: WireUpdate): Update {
  return { clientID: update.client_id, changes: ChangeSet.fromJSON(update.changes) };
}

/** The local changes not yet confirmed, as one description (null when there are none). */
function unconfirmedDesc(state: EditorState): ChangeDesc | null {
  const pending = sendableUpdates(state);
  if (pending.length === 0) return null;
  return pending.map((u) => u.changes).reduce((a, b) => a.compose(b)).desc;
}

export class Peer implements PluginValue {
  /** The version an unanswered `update` was sent on. */
  private pushing: number | null = null;
  /** The version an unanswered `pull` asked from. */
  private pulling: number | null = null;
  private recentBase: number;
  private recent: ChangeSet[] = [];
  private pendingCursors = new Map<number, CursorMessage>();
  private cursorTimer = 0;
  private watchdog = 0;
  private lastCursor = "";
  private syncedWaiters: Array<() => void> = [];
  private readonly transport: Transport;
  private readonly onDiverged: (why: string) => void;

  constructor(
    readonly view: EditorView,
    config: PeerConfig,
  ) {
    this.transport = config.transport;
    this.onDiverged = config.onDiverged;
    this.recentBase = getSyncedVersion(view.state);
  }

  update(update: ViewUpdate): void {
    if (update.docChanged) this.push();
    // Remote changes move our cursor on every page alike (each maps it), so only our own
    // moves and edits are worth a message.
    const local = update.transactions.some(
      (tr) => !tr.annotation(Transaction.remote) && (tr.docChanged || tr.selection),
    );
    if (local) this.scheduleCursor();
  }

  destroy(): void {
    clearTimeout(this.cursorTimer);
    clearTimeout(this.watchdog);
  }

  /** Sends the unconfirmed updates, if the socket is up and nothing is in flight. */
  push(): void {
    if (this.pushing !== null || this.pulling !== null) return;
    const pending = sendableUpdates(this.view.state);
    if (pending.length === 0) return;
    const batch: WireUpdate[] = [];
    let chars = 0;
    for (const update of pending.slice(0, PUSH_MAX_UPDATES)) {
      const wire = toWire(update);
      chars += JSON.stringify(wire.changes).length;
      if (batch.length > 0 && chars > PUSH_MAX_CHARS) break;
      batch.push(wire);
    }
    const version = getSyncedVersion(this.view.state);
    if (this.transport.send({ type: "update", version, updates: batch })) {
      this.pushing = version;
      this.watch();
    }
  }

  /** Asks for everything since the synced version. */
  pull(): void {
    const version = getSyncedVersion(this.view.state);
    if (this.transport.send({ type: "pull", version })) {
      this.pulling = version;
      this.watch();
    }
  }

  /** The server answers every `update` and `pull`; if one is lost anyway, don't wait forever. */
  private watch(): void {
    clearTimeout(this.watchdog);
    this.watchdog = window.setTimeout(() => {
      if (this.pushing === null && this.pulling === null) return;
      this.pushing = null;
      this.pulling = null;
      this.pull();
    }, ANSWER_TIMEOUT_MS);
  }

  /** The socket came (back) up with this `welcome`. */
  connected(serverVersion: number): void {
    this.pushing = null;
    this.pulling = null;
    this.lastCursor = "";
    const synced = getSyncedVersion(this.view.state);
    if (serverVersion < synced) {
      this.onDiverged(`the server is at version ${serverVersion}, this page at ${synced}`);
      return;
    }
    // Updates missed while away come first, then what was typed meanwhile goes out.
    if (serverVersion > synced) this.pull();
    else this.push();
    this.scheduleCursor();
  }

  /** The socket went down: whatever was in flight is resent after the next pull. */
  disconnected(): void {
    this.pushing = null;
    this.pulling = null;
  }

  /** Applies an `updates` message: broadcast, confirmation of ours, or a pull's answer. */
  receive(version: number, wire: readonly WireUpdate[]): void {
    const synced = getSyncedVersion(this.view.state);
    if (this.pulling !== null && version <= this.pulling) this.pulling = null;
    if (version > synced) {
      // A gap: something was missed (a reconnect's welcome ran ahead). The pull covers it.
      if (this.pulling === null) this.pull();
      return;
    }
    const fresh = wire.slice(synced - version);
    if (fresh.length > 0) {
      let updates: Update[];
      try {
        updates = fresh.map(fromWire);
        const mine = getClientID(this.view.state);
        if (updates.some((u) => u.clientID === mine)) {
          this.pushing = null;
          // Our cursor was sent mapped back over these; now the server has them.
          this.scheduleCursor();
        }
        this.view.dispatch(receiveUpdates(this.view.state, updates));
      } catch (err) {
        this.onDiverged(`could not apply the server's updates: ${String(err)}`);
        return;
      }
      this.remember(updates.map((u) => u.changes));
      this.placePendingCursors();
    }
    this.resolveSynced();
    this.push();
  }

  /** The server refused our `update` as stale: the missing updates are on their way. */
  rejected(current: number): void {
    this.pushing = null;
    if (getSyncedVersion(this.view.state) >= current) this.push();
  }

  /** An `error` arrived while an update was in flight: it was not accepted. */
  refused(): boolean {
    if (this.pushing === null) return false;
    this.pushing = null;
    return true;
  }

  /** Places another participant's cursor, sent against the server's `version`. */
  cursor(msg: CursorMessage): void {
    const synced = getSyncedVersion(this.view.state);
    if (msg.version > synced) {
      this.pendingCursors.set(msg.participant, msg);
      return;
    }
    this.pendingCursors.delete(msg.participant);
    if (msg.version < this.recentBase) return; // too old to place; the next one will do
    let anchor = msg.anchor;
    let head = msg.head;
    for (const changes of this.recent.slice(msg.version - this.recentBase)) {
      anchor = changes.mapPos(anchor, 1);
      head = changes.mapPos(head, 1);
    }
    const local = unconfirmedDesc(this.view.state);
    if (local) {
      anchor = local.mapPos(anchor, 1);
      head = local.mapPos(head, 1);
    }
    this.view.dispatch({
      effects: setRemoteCursor.of({ participant: msg.participant, name: msg.name, role: msg.role, anchor, head }),
    });
  }

  /** Drops the cursors of participants who left. */
  presence(participants: readonly Participant[]): void {
    const ids = new Set(participants.map((p) => p.id));
    for (const id of this.pendingCursors.keys()) if (!ids.has(id)) this.pendingCursors.delete(id);
    this.view.dispatch({ effects: keepRemoteCursors.of(ids) });
  }

  /** Resolves once every local change is confirmed by the server (or after `timeoutMs`). */
  whenSynced(timeoutMs: number): Promise<boolean> {
    if (sendableUpdates(this.view.state).length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.syncedWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** How many local updates wait for confirmation. */
  get unconfirmed(): number {
    return sendableUpdates(this.view.state).length;
  }

  private resolveSynced(): void {
    if (sendableUpdates(this.view.state).length > 0) return;
    const waiters = this.syncedWaiters;
    this.syncedWaiters = [];
    for (const w of waiters) w();
  }

  private remember(changes: ChangeSet[]): void {
    this.recent.push(...changes);
    const excess = this.recent.length - RECENT_LIMIT;
    if (excess > 0) {
      this.recent.splice(0, excess);
      this.recentBase += excess;
    }
  }

  private placePendingCursors(): void {
    const synced = getSyncedVersion(this.view.state);
    for (const msg of [...this.pendingCursors.values()]) if (msg.version <= synced) this.cursor(msg);
  }

  private scheduleCursor(): void {
    if (this.cursorTimer) return;
    this.cursorTimer = window.setTimeout(() => {
      this.cursorTimer = 0;
      this.sendCursor();
    }, CURSOR_THROTTLE_MS);
  }

  /** Our main selection, mapped back to the synced version the server knows. */
  private sendCursor(): void {
    const state = this.view.state;
    const sel = state.selection.main;
    let anchor = sel.anchor;
    let head = sel.head;
    const local = unconfirmedDesc(state);
    if (local) {
      const back = local.invertedDesc;
      anchor = back.mapPos(anchor, -1);
      head = back.mapPos(head, -1);
    }
    const version = getSyncedVersion(state);
    const key = `${anchor}:${head}:${version}`;
    if (key === this.lastCursor) return;
    if (this.transport.send({ type: "cursor", anchor, head, version })) this.lastCursor = key;
  }
}

export interface PeerConfig {
  readonly transport: Transport;
  /** The local document can no longer be reconciled with the server's: reload it. */
  readonly onDiverged: (why: string) => void;
}

/** The collab extension, the peer plugin and remote cursors, for a document at `startVersion`. */
export function peerExtension(
  startVersion: number,
  config: PeerConfig,
): { extension: Extension; plugin: ViewPlugin<Peer> } {
  const plugin = ViewPlugin.define((view) => new Peer(view, config));
  return { extension: [collab({ startVersion }), plugin, remoteCursors()], plugin };
}
