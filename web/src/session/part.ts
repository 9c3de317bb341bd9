// What a part of the session page hears. The page keeps its parts in a list and hands every
// event to each of them in turn, as CodeMirror hands each plugin its update: a part reacts to
// what concerns it and lets the rest pass.

import type { ConnectionState } from "../connection";
import type { Role, ServerMessage, Welcome } from "../protocol";

/** What the page may do now; handed to every part again after any of it may have changed. */
export interface Controls {
  /** A `welcome` came on the socket that is open now. */
  readonly online: boolean;
  readonly ended: boolean;
  /** A run or a test run is in progress. */
  readonly running: boolean;
  /** This page may act on the live session: online, allowed to write, not in replay. */
  readonly live: boolean;
}

/** A concern of the session page; it implements the hooks it needs. */
export interface Part {
  /** The socket's first message, after every (re)connect; `first` the first of the page. */
  welcome?(w: Welcome, first: boolean): void;
  /** Every other message of the socket but `session_ended` (that is `end`). */
  message?(msg: ServerMessage): void;
  /**
   * The page's role is known: from the first `welcome`, or guessed for a session that ended
   * before the page opened. The full page only: the embed shows nothing a role adds.
   */
  role?(role: Role, notes?: string | null): void;
  connection?(state: ConnectionState): void;
  update?(controls: Controls): void;
  /** The session ended; `reason` as the server gave it, when it did. */
  end?(reason: string | null): void;
  /** Every second until the session ends. */
  tick?(): void;
}
