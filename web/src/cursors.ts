// Other participants' selections, drawn as decorations with their names and mapped through
// every later change of the document.

import { EditorState, StateEffect, StateField, type Extension, type Range } from "@codemirror/state";
import { Decoration, EditorView, WidgetType, type DecorationSet } from "@codemirror/view";

/** A remote selection in the local document's coordinates. */
export interface RemoteCursor {
  readonly participant: number;
  readonly name: string;
  readonly role: string;
  readonly anchor: number;
  readonly head: number;
}

/** Sets (or moves) one participant's cursor. */
export const setRemoteCursor = StateEffect.define<RemoteCursor>();
/** Keeps only the cursors of these participants (the others left). */
export const keepRemoteCursors = StateEffect.define<ReadonlySet<number>>();

const PALETTE = ["#d9480f", "#1971c2", "#2f9e44", "#9c36b5", "#e8590c", "#0c8599", "#c2255c", "#5f3dc4"];

/** A stable colour per participant. */
export function participantColor(id: number): string {
  return PALETTE[id % PALETTE.length];
}

/** The same colour as a class (style.css), for decorations: no style attributes, for CSP. */
function colorClass(id: number): string {
  return `lc-c${id % PALETTE.length}`;
}

/** Counts cursor moves, so a moved caret is drawn anew and shows its name again. */
let moves = 0;

class CaretWidget extends WidgetType {
  constructor(
    readonly name: string,
    readonly color: string,
    readonly participant: number,
    readonly move: number,
  ) {
    super();
  }
  eq(other: CaretWidget): boolean {
    return other.name === this.name && other.color === this.color && other.move === this.move;
  }
  toDOM(): HTMLElement {
    const caret = document.createElement("span");
    caret.className = "lc-remote-caret";
    caret.style.borderColor = this.color;
    caret.dataset.participant = String(this.participant);
    const label = document.createElement("span");
    label.className = "lc-remote-name";
    label.style.backgroundColor = this.color;
    label.textContent = this.name;
    caret.appendChild(label);
    return caret;
  }
  ignoreEvent(): boolean {
    return true;
  }
}

function clamp(pos: number, state: EditorState): number {
  return Math.max(0, Math.min(pos, state.doc.length));
}

type Placed = RemoteCursor & { readonly move: number };

const cursorField = StateField.define<readonly Placed[]>({
  create: () => [],
  update(cursors, tr) {
    let next = cursors;
    if (tr.docChanged) {
      next = next.map((c) => ({
        ...c,
        anchor: tr.changes.mapPos(c.anchor, 1),
        head: tr.changes.mapPos(c.head, 1),
      }));
    }
    for (const effect of tr.effects) {
      if (effect.is(setRemoteCursor)) {
        const c = effect.value;
        const placed = { ...c, anchor: clamp(c.anchor, tr.state), head: clamp(c.head, tr.state), move: ++moves };
        next = [...next.filter((o) => o.participant !== c.participant), placed];
      } else if (effect.is(keepRemoteCursors)) {
        next = next.filter((c) => effect.value.has(c.participant));
      }
    }
    return next;
  },
  provide: (field) =>
    EditorView.decorations.compute([field], (state): DecorationSet => {
      const ranges: Range<Decoration>[] = [];
      for (const c of state.field(field)) {
        const color = participantColor(c.participant);
        const from = Math.min(c.anchor, c.head);
        const to = Math.max(c.anchor, c.head);
        if (from < to) {
          ranges.push(Decoration.mark({ class: `lc-remote-selection ${colorClass(c.participant)}` }).range(from, to));
        }
        ranges.push(
          Decoration.widget({ widget: new CaretWidget(c.name, color, c.participant, c.move), side: 1 }).range(c.head),
        );
      }
      return Decoration.set(ranges, true);
    }),
});

/** The remote cursors' state and drawing. */
export function remoteCursors(): Extension {
  return cursorField;
}

/** The remote cursors currently shown (for tests and the participants list). */
export function remoteCursorsOf(state: EditorState): readonly RemoteCursor[] {
  return state.field(cursorField, false) ?? [];
}
