// The workspace's panes: the question, the editor and the console side, with a splitter between
// each pair. A splitter drags (or takes the arrow keys) to resize the pane beside the editor,
// its button (or Enter, or a double click) collapses and restores it, and the sizes are
// remembered in this browser. Side by side the sizes are widths; stacked (narrow pages, or the
// embed's `console-below`) they are heights, remembered apart.

import { el } from "../dom";

/** The panes beside the editor. */
export type PaneName = "question" | "side";

interface PaneState {
  /** Size in px side by side, and stacked; absent: the stylesheet's default. */
  width?: number;
  height?: number;
  collapsed?: boolean;
}

type Stored = Partial<Record<PaneName, PaneState>>;

/** Smallest pane a drag leaves; a drag below COLLAPSE_AT collapses it instead. */
const MIN_PANE = 140;
const COLLAPSE_AT = 60;
/** What the editor keeps, whatever the panes beside it ask for. */
const MIN_EDITOR = 200;
/** An arrow key's step. */
const STEP = 24;

const LABELS: Record<PaneName, string> = { question: "question", side: "console" };

export interface PaneOptions {
  /** Where the sizes are kept (the page and each embed layout apart). */
  readonly storageKey: string;
  /** What a browser that never resized starts with. */
  readonly defaults: Stored;
}

export class Panes {
  private state: Stored;
  private readonly splitters: Record<PaneName, { handle: HTMLElement; toggle: HTMLElement; element: HTMLElement }>;

  constructor(
    private readonly workspace: HTMLElement,
    private readonly panes: Record<PaneName, HTMLElement>,
    private readonly options: PaneOptions,
  ) {
    this.state = load(options.storageKey) ?? structuredClone(options.defaults);
    this.splitters = { question: this.splitter("question"), side: this.splitter("side") };
    // Sizes depend on which way the panes run, which a resize may change.
    window.addEventListener("resize", () => this.apply());
  }

  /** The splitter that goes between `pane` and the editor. */
  splitterOf(pane: PaneName): HTMLElement {
    return this.splitters[pane].element;
  }

  /** Applies the remembered sizes; call once the workspace is in the page. */
  apply(): void {
    const stacked = this.stacked();
    for (const name of ["question", "side"] as const) {
      const s = this.state[name] ?? {};
      const size = stacked ? s.height : s.width;
      this.workspace.style.setProperty(`--pane-${name}`, size ? `${size}px` : "");
      this.workspace.classList.toggle(`collapsed-${name}`, s.collapsed === true);
      const { handle, toggle } = this.splitters[name];
      handle.setAttribute("aria-orientation", stacked ? "horizontal" : "vertical");
      const box = this.panes[name].getBoundingClientRect();
      handle.setAttribute("aria-valuenow", String(Math.round(s.collapsed ? 0 : stacked ? box.height : box.width)));
      const named = stacked && s.collapsed === true;
      toggle.textContent = arrow(name, stacked, s.collapsed === true) + (named ? ` ${capital(LABELS[name])}` : "");
      toggle.classList.toggle("named", named);
      const what = `${s.collapsed ? "Show" : "Hide"} the ${LABELS[name]}`;
      toggle.setAttribute("aria-label", what);
      toggle.title = what;
      toggle.setAttribute("aria-expanded", String(!s.collapsed));
    }
  }

  /** Collapses or restores `pane`, and remembers it. */
  setCollapsed(pane: PaneName, collapsed: boolean): void {
    this.state[pane] = { ...this.state[pane], collapsed };
    this.save();
  }

  private stacked(): boolean {
    return getComputedStyle(this.workspace).flexDirection.startsWith("column");
  }

  private splitter(name: PaneName) {
    const handle = el("div", {
      class: "splitter-handle",
      role: "separator",
      tabindex: "0",
      "aria-label": `Resize the ${LABELS[name]}`,
      "aria-valuemin": "0",
    });
    const toggle = el("button", { type: "button", class: "pane-toggle", id: `toggle-${name}` });
    const element = el("div", { class: `splitter splitter-${name}`, id: `split-${name}` }, handle, toggle);
    toggle.addEventListener("click", () => this.setCollapsed(name, !this.state[name]?.collapsed));
    handle.addEventListener("dblclick", () => this.setCollapsed(name, !this.state[name]?.collapsed));
    handle.addEventListener("keydown", (e) => this.key(name, e));
    handle.addEventListener("pointerdown", (e) => this.drag(name, handle, e));
    return { handle, toggle, element };
  }

  private key(name: PaneName, e: KeyboardEvent): void {
    if (e.key === "Enter") {
      e.preventDefault();
      return this.setCollapsed(name, !this.state[name]?.collapsed);
    }
    const stacked = this.stacked();
    const grow = name === "question" ? (stacked ? "ArrowDown" : "ArrowRight") : stacked ? "ArrowUp" : "ArrowLeft";
    const shrink = name === "question" ? (stacked ? "ArrowUp" : "ArrowLeft") : stacked ? "ArrowDown" : "ArrowRight";
    if (e.key !== grow && e.key !== shrink) return;
    e.preventDefault();
    const box = this.panes[name].getBoundingClientRect();
    const now = this.state[name]?.collapsed ? 0 : stacked ? box.height : box.width;
    this.resize(name, now + (e.key === grow ? STEP : -STEP), false);
    this.save();
  }

  private drag(name: PaneName, handle: HTMLElement, start: PointerEvent): void {
    if (start.button !== 0) return;
    start.preventDefault();
    handle.setPointerCapture(start.pointerId);
    const stacked = this.stacked();
    this.workspace.classList.add("resizing");
    const move = (e: PointerEvent) => {
      const box = this.workspace.getBoundingClientRect();
      const size =
        name === "question"
          ? stacked
            ? e.clientY - box.top
            : e.clientX - box.left
          : stacked
            ? box.bottom - e.clientY
            : box.right - e.clientX;
      this.resize(name, size, true);
    };
    const end = () => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", end);
      handle.removeEventListener("pointercancel", end);
      this.workspace.classList.remove("resizing");
      this.save();
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", end);
    handle.addEventListener("pointercancel", end);
  }

  /** Sets `name` to `size` px, within what the workspace allows; small enough collapses it. */
  private resize(name: PaneName, size: number, dragging: boolean): void {
    const stacked = this.stacked();
    const box = this.workspace.getBoundingClientRect();
    const total = stacked ? box.height : box.width;
    const other: PaneName = name === "question" ? "side" : "question";
    const otherBox = this.panes[other].getBoundingClientRect();
    const otherSize = this.panes[other].offsetParent === null ? 0 : stacked ? otherBox.height : otherBox.width;
    const max = Math.max(MIN_PANE, total - otherSize - (stacked ? MIN_EDITOR / 2 : MIN_EDITOR));
    const s: PaneState = { ...this.state[name] };
    if (size < (dragging ? COLLAPSE_AT : MIN_PANE / 2)) {
      s.collapsed = true;
    } else {
      s.collapsed = false;
      const clamped = Math.round(Math.min(max, Math.max(MIN_PANE, size)));
      if (stacked) s.height = clamped;
      else s.width = clamped;
    }
    this.state[name] = s;
    this.apply();
  }

  private save(): void {
    this.apply();
    try {
      localStorage.setItem(this.options.storageKey, JSON.stringify(this.state));
    } catch {
      // not remembered
    }
  }
}

/** The toggle's arrow points where the pane goes (or comes from). */
function arrow(name: PaneName, stacked: boolean, collapsed: boolean): string {
  const towardsEditor = collapsed; // a collapsed pane comes back out towards the editor
  if (name === "question") return stacked ? (towardsEditor ? "▾" : "▴") : towardsEditor ? "›" : "‹";
  return stacked ? (towardsEditor ? "▴" : "▾") : towardsEditor ? "‹" : "›";
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function load(key: string): Stored | null {
  try {
    const raw = localStorage.getItem(key);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as unknown;
    return parsed && typeof parsed === "object" ? (parsed as Stored) : null;
  } catch {
    return null;
  }
}
