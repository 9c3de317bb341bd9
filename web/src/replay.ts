// Replay: the code as it was at any moment, from `GET /sessions/{id}/history`. A timeline on
// wall-clock time with the session's moments marked (runs, test runs, joins and leaves, a tab
// losing focus, large pastes); playback at 1×–32× that skips idle stretches; a run's marker
// shows the code as it was when it ran. Each version's text is version 0 with the first k
// stored change sets applied.

import { ChangeSet, EditorState, Text, type Extension } from "@codemirror/state";
import { EditorView } from "@codemirror/view";

import { api } from "./api";
import { runOutcome, runSummary } from "./console";
import { baseExtensions, EditorCompartments, editorTheme } from "./editor";
import { savedSettings } from "./settings";
import type { History, HistoryEvent, HistoryRun, TestReport } from "./protocol";
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

/** Characters one update must insert to count as a paste. */
export const PASTE_CHARS = 120;
/** Playback jumps a stretch with nothing in it longer than this (in playback time). */
const IDLE_SKIP_MS = 1500;
const TICK_MS = 50;
export const SPEEDS = [1, 2, 4, 8, 16, 32];
/** The timeline's lanes, top to bottom, with the legend's words for each kind. */
const LANE_NAMES = ["Runs and tests", "Code", "People"];
const LEGEND: [Moment["kind"], string][] = [
  ["run", "run (red: failed)"],
  ["tests", "tests"],
  ["paste", "large paste"],
  ["switch", "language switch"],
  ["question", "question moved"],
  ["interview", "started / submitted"],
  ["join", "joined / left"],
  ["focus", "tab lost focus"],
];
/** Markers closer than this (a share of the track) in one lane are drawn as one. */
const CLUSTER_SHARE = 0.012;
const LANES: Record<Moment["kind"], number> = {
  run: 0,
  tests: 0,
  paste: 1,
  switch: 1,
  question: 1,
  join: 2,
  leave: 2,
  focus: 2,
  end: 2,
  interview: 2,
};

/** A moment the timeline marks. */
interface Moment {
  readonly at: number;
  readonly kind: "run" | "tests" | "join" | "leave" | "focus" | "paste" | "switch" | "question" | "end" | "interview";
  readonly label: string;
  readonly className: string;
  readonly run?: HistoryRun;
}

/** The characters an update inserts (a CodeMirror change set in its JSON form). */
export function insertedChars(changes: unknown): number {
  let n = 0;
  for (const part of Array.isArray(changes) ? changes : []) {
    if (Array.isArray(part)) for (const line of part.slice(1)) if (typeof line === "string") n += line.length + 1;
  }
  return Math.max(0, n - 1);
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
  private readonly speed: HTMLSelectElement;
  private history: History | null = null;
  private docs: Text[] = [];
  /** When each version was made (ms), version 1 first. */
  private times: number[] = [];
  private moments: Moment[] = [];
  /** The timeline's start (ms since the epoch); the slider counts ms from it. */
  private start = 0;
  private playTimer = 0;
  private shownVersion = -1;

  constructor(
    private readonly sessionId: string,
    private readonly token: string,
    theme: Theme,
  ) {
    this.view = new EditorView({
      state: EditorState.create({
        doc: "",
        extensions: [
          baseExtensions(this.compartments, theme, true, savedSettings()),
          EditorView.contentAttributes.of({ "aria-label": "Code at this point of the replay" }),
        ],
      }),
    });
    this.slider = el("input", {
      type: "range",
      min: "0",
      max: "0",
      value: "0",
      step: "1",
      class: "replay-slider",
      "aria-label": "Time",
    });
    this.slider.addEventListener("input", () => {
      this.stop();
      this.showAt(Number(this.slider.value));
    });
    this.slider.addEventListener("keydown", (e) => this.stepKey(e));
    this.markers = el("div", { class: "replay-markers" });
    this.markers.addEventListener("keydown", (e) => this.stepKey(e));
    this.label = el("span", { class: "replay-label", id: "replay-clock" }, "loading…");
    this.playButton = el("button", { type: "button", class: "btn", id: "replay-play" }, "▶ Play");
    this.playButton.addEventListener("click", () => (this.playTimer ? this.stop() : this.play()));
    this.speed = el("select", { id: "replay-speed", "aria-label": "Speed", title: "Playback speed" });
    for (const s of SPEEDS) this.speed.append(el("option", { value: String(s) }, `${s}×`));
    this.speed.value = "4";
    const refresh = el("button", { type: "button", class: "btn" }, "Refresh");
    refresh.addEventListener("click", () => void this.load());
    this.runInfo = el("pre", { class: "replay-run console" });
    const legend = el("ul", { class: "replay-legend", "aria-label": "Legend" });
    for (const [kind, words] of LEGEND) {
      legend.append(el("li", {}, el("span", { class: `replay-swatch kind-${kind}`, "aria-hidden": "true" }), words));
    }
    legend.append(el("li", { class: "replay-keys" }, "← → step from moment to moment"));
    const lanes = el("div", { class: "replay-lane-names", "aria-hidden": "true" });
    for (const name of LANE_NAMES) lanes.append(el("span", {}, name));
    this.element = el(
      "section",
      { class: "replay", "aria-label": "Replay" },
      el("div", { class: "replay-code" }, this.view.dom),
      el("div", { class: "replay-timeline" }, lanes, el("div", { class: "replay-track" }, this.markers, this.slider)),
      el("div", { class: "replay-bar" }, this.playButton, this.speed, this.label, legend, refresh),
      this.runInfo,
    );
  }

  setLanguage(language: Extension): void {
    this.view.dispatch({ effects: this.compartments.language.reconfigure(language) });
  }

  setTheme(theme: Theme): void {
    this.view.dispatch({ effects: this.compartments.theme.reconfigure(editorTheme(theme)) });
  }

  /** Fetches the history again and shows its end. */
  async load(): Promise<void> {
    this.label.textContent = "loading…";
    // Set again once loaded (tests wait on it).
    delete this.element.dataset.version;
    try {
      const history = await api.history(this.sessionId, this.token);
      this.history = history;
      this.docs = versionsOf(history);
    } catch (err) {
      this.label.textContent = `could not load the history: ${(err as Error).message}`;
      return;
    }
    const history = this.history;
    this.times = history.updates.map((u) => Date.parse(u.at));
    this.moments = momentsOf(history);
    const all = [...this.times, ...this.moments.map((m) => m.at)];
    this.start = all.length ? Math.min(...all) : Date.now();
    const end = all.length ? Math.max(...all) : this.start;
    this.slider.max = String(Math.max(0, end - this.start));
    this.drawMarkers();
    this.showAt(end - this.start);
  }

  /** Shows the code as it was `offset` ms into the timeline. */
  showAt(offset: number): void {
    if (!this.history) return;
    const max = Number(this.slider.max);
    const t = Math.max(0, Math.min(offset, max));
    this.slider.value = String(t);
    const at = this.start + t;
    const v = this.versionAt(at);
    if (v !== this.shownVersion) {
      this.shownVersion = v;
      this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: this.docs[v] } });
    }
    this.label.textContent = `${clock(at)} · +${elapsed(t)}`;
    this.element.dataset.version = String(v);
    this.element.dataset.time = String(t);
    this.showRun(this.lastRunBy(at));
  }

  /** The version shown (tests and the pane read it). */
  get version(): number {
    return Math.max(0, this.shownVersion);
  }

  /** The text at `version` (tests and the embed read it). */
  textAt(version: number): string {
    return this.docs[version]?.toString() ?? "";
  }

  /** The last version made at or before `at`. */
  private versionAt(at: number): number {
    let v = 0;
    while (v < this.times.length && this.times[v] <= at) v++;
    return v;
  }

  /** The last run started by `at`: the console as it stood then. */
  private lastRunBy(at: number): HistoryRun | null {
    let found: HistoryRun | null = null;
    for (const run of this.history?.runs ?? []) if (Date.parse(run.started_at) <= at) found = run;
    return found;
  }

  private drawMarkers(): void {
    const span = Math.max(1, Number(this.slider.max));
    this.markers.replaceChildren();
    // Per lane, moments close together are one marker (its title lists them).
    const clusters: Moment[][] = [];
    const open = new Map<number, Moment[]>();
    for (const m of this.moments) {
      const lane = LANES[m.kind];
      const current = open.get(lane);
      if (current && (m.at - current[0].at) / span < CLUSTER_SHARE) current.push(m);
      else {
        const fresh = [m];
        open.set(lane, fresh);
        clusters.push(fresh);
      }
    }
    for (const group of clusters) {
      const m = group[0];
      const failed = group.some((g) => g.className.includes("outcome-failed"));
      const kinds = [...new Set(group.map((g) => g.kind))];
      const title = group.map((g) => `${clock(g.at)}: ${g.label}`).join("\n");
      const marker = el(
        "button",
        {
          type: "button",
          class: `replay-marker kind-${m.kind} ${failed ? "outcome-failed" : m.className}${group.length > 1 ? " cluster" : ""}`,
          title,
          "aria-label":
            group.length > 1
              ? `${group.length} moments from ${clock(m.at)}: ${m.label}, …`
              : `${clock(m.at)}: ${m.label}`,
          "data-kind": m.kind,
          "data-kinds": kinds.join(" "),
          "data-count": String(group.length),
        },
        group.length > 1 ? String(group.length) : "",
      );
      marker.style.left = `${((m.at - this.start) / span) * 100}%`;
      // One lane per sort of moment, so a run and a join at the same second are both there.
      marker.style.top = `${LANES[m.kind] * 1.1 + 0.15}rem`;
      marker.addEventListener("click", () => {
        this.stop();
        // A run's code is the code as it was when it started.
        this.showAt(m.at - this.start);
      });
      this.markers.appendChild(marker);
    }
  }

  /** ← and → go to the previous or next moment (Home and End to the ends). */
  private stepKey(e: KeyboardEvent): void {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const t = Number(this.slider.value);
    const times = [...new Set(this.moments.map((m) => m.at - this.start))].sort((a, b) => a - b);
    let to: number | undefined;
    if (e.key === "ArrowRight") to = times.find((x) => x > t) ?? Number(this.slider.max);
    else if (e.key === "ArrowLeft") to = [...times].reverse().find((x) => x < t) ?? 0;
    else return;
    e.preventDefault();
    this.stop();
    this.showAt(to);
    const at = this.moments.find((m) => m.at - this.start === to);
    this.element.dataset.moment = at ? at.kind : "";
  }

  /** Keyboard focus on the timeline (when replay opens). */
  focus(): void {
    this.slider.focus();
  }

  private showRun(run: HistoryRun | null): void {
    if (this.runInfo.dataset.run === (run?.run_id ?? "")) return;
    this.runInfo.dataset.run = run?.run_id ?? "";
    this.element.dataset.run = run?.run_id ?? "";
    this.runInfo.replaceChildren();
    this.runInfo.hidden = !run;
    if (!run) return;
    this.runInfo.append(
      el("div", { class: "out-meta" }, `Last run by then: ${run.by}, at ${clock(Date.parse(run.started_at))}`),
    );
    if (run.stdout) this.runInfo.append(el("span", { class: "out-stdout" }, run.stdout));
    if (run.stderr) this.runInfo.append(el("span", { class: "out-stderr" }, run.stderr));
    this.runInfo.append(el("div", { class: "out-meta" }, runSummary(run)));
  }

  /** Plays from here (from the start at the end) at the chosen speed, jumping idle stretches. */
  private play(): void {
    const max = Number(this.slider.max);
    if (Number(this.slider.value) >= max) this.showAt(0);
    this.playButton.textContent = "❚❚ Pause";
    this.element.dataset.playing = "true";
    const events = [...this.times, ...this.moments.map((m) => m.at)].map((t) => t - this.start).sort((a, b) => a - b);
    this.playTimer = window.setInterval(() => {
      const speed = Number(this.speed.value) || 1;
      let t = Number(this.slider.value) + TICK_MS * speed;
      const next = events.find((e) => e > t);
      // Nothing happens for a while: go to just before the next thing that does.
      if (next !== undefined && (next - t) / speed > IDLE_SKIP_MS) t = next - (IDLE_SKIP_MS / 4) * speed;
      this.showAt(t);
      if (t >= max) this.stop();
    }, TICK_MS);
  }

  private stop(): void {
    if (!this.playTimer) return;
    clearInterval(this.playTimer);
    this.playTimer = 0;
    this.playButton.textContent = "▶ Play";
    delete this.element.dataset.playing;
  }

  destroy(): void {
    this.stop();
    this.view.destroy();
  }
}

/** What the timeline marks, from a history, in time order. */
function momentsOf(history: History): Moment[] {
  const moments: Moment[] = [];
  for (const run of history.runs) {
    moments.push({
      at: Date.parse(run.started_at),
      kind: "run",
      label: `Run by ${run.by}: ${runSummary(run)}`,
      className: `status-${run.status ?? "running"} outcome-${runOutcome(run)}`,
      run,
    });
  }
  for (const t of history.tests ?? []) moments.push(testsMoment(t));
  for (const e of history.events ?? []) {
    const m = eventMoment(e);
    if (m) moments.push(m);
  }
  for (const u of history.updates) {
    // The server's own updates (a language switch) are not pastes.
    if (u.client_id === "livecode") continue;
    const n = insertedChars(u.changes);
    if (n >= PASTE_CHARS) {
      moments.push({
        at: Date.parse(u.at),
        kind: "paste",
        label: `Large paste: ${n} characters at once`,
        className: "",
      });
    }
  }
  return moments.sort((a, b) => a.at - b.at);
}

function testsMoment(t: TestReport): Moment {
  return {
    at: Date.parse(t.started_at),
    kind: "tests",
    label: `Tests run by ${t.by}: ${t.passed}/${t.total} passed`,
    className: t.passed === t.total ? "status-completed outcome-ok" : "status-failed outcome-failed",
  };
}

function eventMoment(e: HistoryEvent): Moment | null {
  const at = Date.parse(e.at);
  const who = (e.data?.name as string | undefined) || (e.data?.role as string | undefined) || "someone";
  switch (e.type) {
    case "participant.joined":
      return { at, kind: "join", label: `${who} joined`, className: "" };
    case "participant.left":
      return { at, kind: "leave", label: `${who} left`, className: "" };
    case "participant.focus":
      return e.data?.focused === false ? { at, kind: "focus", label: `${who}'s tab lost focus`, className: "" } : null;
    case "session.environment":
      return { at, kind: "switch", label: `Switched to ${e.data?.to} by ${e.data?.by}`, className: "" };
    case "question.changed": {
      const to = Number(e.data?.to ?? 0) + 1;
      return { at, kind: "question", label: `Moved to question ${to} by ${e.data?.by}`, className: "" };
    }
    case "question.time":
      return e.data?.time === "times_up"
        ? { at, kind: "question", label: `Question ${Number(e.data?.index ?? 0) + 1}: time's up`, className: "" }
        : null;
    case "session.started":
      return { at, kind: "interview", label: `The interview started (${e.data?.by})`, className: "" };
    case "session.submitted":
      return { at, kind: "interview", label: `Submitted (by ${e.data?.by})`, className: "" };
    case "session.ended":
      return { at, kind: "end", label: "The session ended", className: "" };
    default:
      return null;
  }
}

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const two = (n: number) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m % 60)}:${two(s % 60)}` : `${two(m)}:${two(s % 60)}`;
}
