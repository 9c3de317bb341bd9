// The page's frame and small pieces of it: the layout (top bar, panes and splitters), the new
// session's links bar, the name this browser remembers, why a link does not connect, and the
// handle the browser tests read.

import { api, ApiError } from "../api";
import { el } from "../dom";
import type { Role, SessionView } from "../protocol";
import { embedLayout, type EmbedLayout } from "../embed";
import { ActionsMenu } from "./header";
import { Panes, type PaneName } from "./panes";

const NAME_KEY = "livecode.name";

export function storedName(): string {
  try {
    return localStorage.getItem(NAME_KEY) ?? "";
  } catch {
    return "";
  }
}

export function storeName(name: string): void {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // not remembered
  }
}

/**
 * The new session's two links, for the interviewer who just made it on the landing page: the
 * candidate's, to share, and this page's own address, which is theirs and private.
 */
export function candidateLinkBar(sessionId: string): HTMLElement | string {
  let url = "";
  try {
    url = sessionStorage.getItem(`livecode.candidate.${sessionId}`) ?? "";
  } catch {
    // no storage: no bar
  }
  if (!url) return "";
  const field = (id: string, label: string, value: string) => {
    const input = el("input", { type: "text", readonly: "", value, id, "aria-label": label });
    const copy = el(
      "button",
      { type: "button", class: "btn small", "aria-label": `Copy the ${label.toLowerCase()}` },
      "Copy",
    );
    copy.addEventListener("click", async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(value);
      } catch {
        document.execCommand("copy");
      }
      copy.textContent = "Copied";
      setTimeout(() => (copy.textContent = "Copy"), 1500);
    });
    return [input, copy];
  };
  const close = el("button", { type: "button", class: "btn small ghost", "aria-label": "Hide the links" }, "✕");
  const bar = el(
    "div",
    { class: "linkbar" },
    el("span", { class: "linkbar-label" }, el("strong", {}, "Candidate's link:"), " send it to them"),
    ...field("candidate-link", "Candidate link", url),
    el("span", { class: "linkbar-label" }, el("strong", {}, "Yours:"), " this address, private"),
    ...field("interviewer-link", "Your private link", location.href),
    close,
  );
  close.addEventListener("click", () => bar.remove());
  return bar;
}

/** What the layout places; every part owns its element. */
export interface PageParts {
  readonly runs: { element: HTMLElement; runButton: HTMLElement; stopButton: HTMLElement };
  readonly notes: { element: HTMLElement };
  readonly scorecard: { element: HTMLElement };
  readonly editor: { element: HTMLElement };
  readonly replay: { element: HTMLElement; button: HTMLElement };
  readonly title: { title: HTMLElement; environment: HTMLElement };
  readonly banner: { element: HTMLElement };
  readonly people: { element: HTMLElement };
  readonly clock: { element: HTMLElement };
  readonly interview: { element: HTMLElement; actions: HTMLElement };
  readonly endButton: { element: HTMLElement };
  readonly theme: { button: HTMLElement };
  readonly settings: { button: HTMLElement; element: HTMLElement };
  readonly question: { element: HTMLElement };
  readonly files: { bar: HTMLElement; views: HTMLElement };
  readonly connection: HTMLElement;
  readonly candidateLink: HTMLElement | string;
}

/** The full page (top bar, banner, editor, console and notes), or the embed's slim bar. */
export function layout(root: HTMLElement, embed: boolean, p: PageParts): void {
  const side = el(
    "div",
    { class: "side" },
    p.runs.element,
    embed ? null : p.notes.element,
    embed ? null : p.scorecard.element,
  );
  const editorPane = el(
    "div",
    { class: "editor-pane" },
    p.files.bar,
    p.editor.element,
    p.files.views,
    p.replay.element,
  );
  const main = el("main", { class: "workspace" });
  const mode = embed ? embedLayout(location.hash) : "default";
  const panes = new Panes(
    main,
    { question: p.question.element, side },
    { storageKey: `livecode.panes.${embed ? `embed-${mode}` : "page"}`, defaults: paneDefaults(embed, mode) },
  );
  main.append(p.question.element, panes.splitterOf("question"), editorPane, panes.splitterOf("side"), side);
  if (embed) root.classList.add(`layout-${mode}`);
  // The sizes need the workspace laid out (and whether it runs across or down).
  requestAnimationFrame(() => panes.apply());
  const spacer = el("span", { class: "spacer" });
  const { runButton, stopButton } = p.runs;
  if (embed) {
    const bar = el("div", { class: "embed-bar" }, runButton, stopButton, p.title.environment, spacer, p.connection);
    root.append(bar, p.banner.element, main);
    return;
  }
  // Primary things first and never covered: the session, Run/Stop, who is here (the candidate
  // first), the connection and the clock; the rest folds into "⋯" on narrow pages.
  const actions = new ActionsMenu(
    p.replay.button,
    p.endButton.element,
    el("div", { class: "settings-anchor" }, p.settings.button, p.settings.element),
    p.theme.button,
  );
  const header = el(
    "header",
    { class: "topbar" },
    el("a", { class: "brand", href: "/" }, "livecode"),
    el("div", { class: "session-info" }, p.title.title, p.title.environment),
    el("div", { class: "run-group" }, runButton, stopButton, p.interview.actions),
    el("div", { class: "topbar-status" }, p.people.element, p.connection, p.interview.element, p.clock.element),
    actions.element,
    actions.button,
  );
  root.append(header, p.banner.element, p.candidateLink, main);
}

/**
 * Which panes start collapsed: an embed's `compact` layout, and any embed too small to give the
 * editor room beside the question, start with the question folded away (its toggle brings it
 * back); the page and larger embeds show everything.
 */
function paneDefaults(embed: boolean, mode: EmbedLayout): Partial<Record<PaneName, { collapsed: boolean }>> {
  const small = window.innerHeight < 480 || window.innerWidth < 700;
  if (embed && (mode === "compact" || (mode === "default" && small))) return { question: { collapsed: true } };
  return {};
}

/** Why a link keeps failing to connect, as REST tells it; `null` when REST cannot say either. */
export async function whyFailing(
  sessionId: string,
  token: string,
): Promise<{ kind: "ended"; session: SessionView } | { kind: "missing" | "unauthorized" } | null> {
  try {
    const session = await api.session(sessionId, token);
    return ["stopped", "expired", "error"].includes(session.status) ? { kind: "ended", session } : null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return { kind: "missing" };
    if (err instanceof ApiError && err.status === 401) return { kind: "unauthorized" };
    return null;
  }
}

/** What the browser tests read off the page (`window.__livecode`). */
export interface TestHandle {
  role(): Role | null;
  online(): boolean;
  ended(): boolean;
  language(): string;
  text(): string | null;
  version(): number | null;
  unconfirmed(): number;
  fileText(name: string): string | null;
  consoleText(): string;
  replayText(): string | null;
}

export function exposeForTests(h: TestHandle): void {
  (window as unknown as { __livecode: unknown }).__livecode = {
    get role() {
      return h.role();
    },
    get online() {
      return h.online();
    },
    get ended() {
      return h.ended();
    },
    get language() {
      return h.language();
    },
    text: h.text,
    version: h.version,
    unconfirmed: h.unconfirmed,
    fileText: h.fileText,
    consoleText: h.consoleText,
    replayText: h.replayText,
  };
}
