// Replay: the code as it was at any moment, from `GET /sessions/{id}/history`. A scrubber over
// the document's versions with the runs marked where they started; each version's text is
// version 0 with the first k stored change sets applied.

import { ChangeSet, EditorState, Text, type Extension } from "@codemirror/state";
import { EditorView } from "@codemirror/view";

import { api } from "./api";
import { runSummary } from "./console";
import { baseExtensions, EditorCompartments, editorTheme } from "./editor";
import { savedSettings } from "./settings";
import type { History, HistoryRun } from "./protocol";
import type { Theme } from "./theme";
import { el } from "./dom";

/** Every version of the document, from a history. */
export function versionsOf(history: History): Text[] {
  const docs = [Text.of(history.initial_document.split("\n"))];
  for (const update of history.updates) {
    docs.push(ChangeSet.fromJSON(update.changes).apply(docs[docs.length - 1]));
  }
  return docs;
}

function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export class Replay {
  readonly element: HTMLElement;
  private readonly view: EditorView;
  private readonly compartments = new EditorCompartments();
  private readonly slider: HTMLInputElement;
  private readonly markers: HTMLElement;
  private readonly label: HTMLElement;
  private readonly runInfo: HTMLElement;
  private readonly playButton: HTMLButtonElement;
  private history: History | null = null;
  private docs: Text[] = [];
  private playTimer = 0;

  constructor(
    private readonly sessionId: string,
    private readonly token: string,
    theme: Theme,
  ) {
    this.view = new EditorView({
      state: EditorState.create({
        doc: "",
        extensions: baseExtensions(this.compartments, theme, true, savedSettings()),
      }),
    });
    this.slider = el("input", {
      type: "range",
      min: "0",
      max: "0",
      value: "0",
      class: "replay-slider",
      "aria-label": "Version",
    });
    this.slider.addEventListener("input", () => {
      this.stop();
      this.show(Number(this.slider.value));
    });
    this.markers = el("div", { class: "replay-markers" });
    this.label = el("span", { class: "replay-label" }, "loading…");
    this.playButton = el("button", { type: "button", class: "btn" }, "▶ Play");
    this.playButton.addEventListener("click", () => (this.playTimer ? this.stop() : this.play()));
    const refresh = el("button", { type: "button", class: "btn" }, "Refresh");
    refresh.addEventListener("click", () => void this.load());
    this.runInfo = el("pre", { class: "replay-run console" });
    this.element = el(
      "section",
      { class: "replay", "aria-label": "Replay" },
      el("div", { class: "replay-code" }, this.view.dom),
      el(
        "div",
        { class: "replay-bar" },
        this.playButton,
        el("div", { class: "replay-track" }, this.slider, this.markers),
        this.label,
        refresh,
      ),
      this.runInfo,
    );
  }

  setLanguage(language: Extension): void {
    this.view.dispatch({ effects: this.compartments.language.reconfigure(language) });
  }

  setTheme(theme: Theme): void {
    this.view.dispatch({ effects: this.compartments.theme.reconfigure(editorTheme(theme)) });
  }

  /** Fetches the history again and shows its latest version. */
  async load(): Promise<void> {
    this.label.textContent = "loading…";
    try {
      const history = await api.history(this.sessionId, this.token);
      this.history = history;
      this.docs = versionsOf(history);
    } catch (err) {
      this.label.textContent = `could not load the history: ${(err as Error).message}`;
      return;
    }
    const last = this.docs.length - 1;
    this.slider.max = String(last);
    this.drawMarkers();
    this.show(last);
  }

  /** Shows the document at `version`. */
  show(version: number): void {
    const history = this.history;
    if (!history) return;
    const v = Math.max(0, Math.min(version, this.docs.length - 1));
    this.slider.value = String(v);
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: this.docs[v] } });
    const at = v === 0 ? null : history.updates[v - 1].at;
    const when = at ? `${clock(at)}` : "start";
    this.label.textContent = `version ${v} of ${this.docs.length - 1} · ${when}`;
    this.element.dataset.version = String(v);
    this.showRun(this.lastRunBy(v));
  }

  /** The text at `version` (tests and the embed read it). */
  textAt(version: number): string {
    return this.docs[version]?.toString() ?? "";
  }

  private versionAt(iso: string): number {
    const t = Date.parse(iso);
    const updates = this.history?.updates ?? [];
    let v = 0;
    while (v < updates.length && Date.parse(updates[v].at) <= t) v++;
    return v;
  }

  /** The last run started by the time of `version`: the console as it stood then. */
  private lastRunBy(version: number): HistoryRun | null {
    const history = this.history;
    if (!history) return null;
    const until = version < history.updates.length ? Date.parse(history.updates[version].at) : Infinity;
    let found: HistoryRun | null = null;
    for (const run of history.runs) if (Date.parse(run.started_at) < until) found = run;
    return found;
  }

  private drawMarkers(): void {
    const history = this.history!;
    const max = Math.max(1, this.docs.length - 1);
    this.markers.replaceChildren();
    for (const run of history.runs) {
      const v = this.versionAt(run.started_at);
      const marker = el("button", {
        type: "button",
        class: `replay-marker status-${run.status ?? "running"}`,
        title: `Run by ${run.by} at ${clock(run.started_at)}: ${runSummary(run)}`,
        "aria-label": `Run at version ${v}`,
      });
      marker.style.left = `${(v / max) * 100}%`;
      marker.addEventListener("click", () => {
        this.stop();
        this.show(v);
      });
      this.markers.appendChild(marker);
    }
  }

  private showRun(run: HistoryRun | null): void {
    this.runInfo.replaceChildren();
    this.runInfo.hidden = !run;
    if (!run) return;
    this.runInfo.append(el("div", { class: "out-meta" }, `Last run by then: ${run.by}, at ${clock(run.started_at)}`));
    if (run.stdout) this.runInfo.append(el("span", { class: "out-stdout" }, run.stdout));
    if (run.stderr) this.runInfo.append(el("span", { class: "out-stderr" }, run.stderr));
    this.runInfo.append(el("div", { class: "out-meta" }, runSummary(run)));
  }

  private play(): void {
    const last = this.docs.length - 1;
    if (Number(this.slider.value) >= last) this.show(0);
    const step = Math.max(1, Math.ceil(last / 400));
    this.playButton.textContent = "❚❚ Pause";
    this.playTimer = window.setInterval(() => {
      const next = Number(this.slider.value) + step;
      this.show(next);
      if (next >= last) this.stop();
    }, 40);
  }

  private stop(): void {
    if (!this.playTimer) return;
    clearInterval(this.playTimer);
    this.playTimer = 0;
    this.playButton.textContent = "▶ Play";
  }

  destroy(): void {
    this.stop();
    this.view.destroy();
  }
}
