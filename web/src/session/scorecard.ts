// The interviewer's scorecard, beside the notes: a rating and a comment per criterion of the
// session's rubric, an overall comment and recommendation, saved as a draft or submitted
// (final). Interviewers share one token, so the card is this browser's: an author id kept in
// localStorage, under the name the interviewer goes by. It talks REST, so it works after the
// session's end too (no socket connects then); the socket only tells it of other cards.

import { api } from "../api";
import { el } from "../dom";
import type {
  Recommendation,
  Role,
  Rubric,
  Scorecard,
  ScorecardInput,
  ScorecardsView,
  ServerMessage,
  Welcome,
} from "../protocol";
import type { Part } from "./part";

const AUTHOR_KEY = "livecode.scorecard-author";

const RECOMMENDATIONS: readonly [Recommendation, string][] = [
  ["strong_no", "Strong no"],
  ["no", "No"],
  ["yes", "Yes"],
  ["strong_yes", "Strong yes"],
];

/** This browser's author id: made once, then kept. */
function authorId(): string {
  let id = localStorage.getItem(AUTHOR_KEY);
  if (!id) {
    id = crypto.randomUUID();
    localStorage.setItem(AUTHOR_KEY, id);
  }
  return id;
}

export class ScorecardPanel implements Part {
  private readonly state = el("span", { class: "notes-state", id: "scorecard-state" });
  private readonly form = el("div", { class: "scorecard-form" });
  private readonly others = el("ul", { class: "scorecard-others", id: "scorecard-others" });
  private readonly comment = el("textarea", {
    id: "scorecard-comment",
    class: "scorecard-comment",
    rows: "3",
    placeholder: "Overall comment",
    "aria-label": "Overall comment",
  });
  private readonly recommendation = el("select", { id: "scorecard-recommendation", "aria-label": "Recommendation" });
  private readonly saveButton = el("button", { type: "button", class: "btn small", id: "scorecard-save" }, "Save");
  private readonly submitButton = el(
    "button",
    { type: "button", class: "btn small primary", id: "scorecard-submit" },
    "Submit",
  );
  readonly element = el(
    "section",
    { class: "panel scorecard-panel", hidden: "", "aria-label": "Scorecard" },
    el("header", { class: "panel-head" }, el("h2", {}, "Scorecard"), this.state),
    this.form,
    this.others,
  );
  /** This browser's author id, once this page is an interviewer's (a candidate's keeps none). */
  private author = "";
  private rubric: Rubric | null = null;
  private mine: Scorecard | null = null;
  private cards = new Map<string, Scorecard>();
  /** Typed here since the last save: a card from the server does not overwrite it. */
  private dirty = false;

  constructor(private readonly session: { sessionId: string; token: string; name: () => string }) {
    this.recommendation.append(
      el("option", { value: "" }, "Recommendation…"),
      ...RECOMMENDATIONS.map(([value, label]) => el("option", { value }, label)),
    );
    this.saveButton.addEventListener("click", () => void this.save(false));
    this.submitButton.addEventListener("click", () => void this.save(true));
    this.form.addEventListener("input", () => {
      this.dirty = true;
      this.state.textContent = "not saved";
    });
  }

  /** Interviewers only: the rubric and cards from REST (live or ended alike). */
  role(role: Role): void {
    if (role !== "interviewer") return;
    this.element.hidden = false;
    void this.load();
  }

  welcome(w: Welcome): void {
    if (w.scorecards) this.show(w.scorecards);
  }

  message(msg: ServerMessage): void {
    if (msg.type !== "scorecard" || !this.rubric) return;
    this.cards.set(msg.scorecard.author_id, msg.scorecard);
    if (msg.scorecard.author_id === this.author && !this.dirty) this.fill(msg.scorecard);
    this.listOthers();
  }

  private async load(): Promise<void> {
    try {
      this.show(await api.scorecards(this.session.sessionId, this.session.token));
    } catch (err) {
      this.state.textContent = `could not load: ${(err as Error).message}`;
    }
  }

  private show(view: ScorecardsView): void {
    this.author ||= authorId();
    const first = this.rubric === null;
    this.rubric = view.rubric;
    this.cards = new Map(view.scorecards.map((c) => [c.author_id, c]));
    if (first) this.build(view.rubric);
    const mine = this.cards.get(this.author);
    if (mine && !this.dirty) this.fill(mine);
    this.listOthers();
  }

  /** One row per criterion: its scale as radio buttons, and a comment. */
  private build(rubric: Rubric): void {
    const rows = rubric.criteria.map((c, i) => {
      const scores = [];
      for (let score = c.scale.min; score <= c.scale.max; score++) {
        const input = el("input", { type: "radio", name: `criterion-${i}`, value: String(score) });
        scores.push(el("label", { class: "score" }, input, String(score)));
      }
      return el(
        "fieldset",
        { class: "criterion", "data-criterion": c.name },
        el("legend", { title: c.description ?? "" }, c.name),
        el("div", { class: "scores" }, ...scores),
        el("input", {
          type: "text",
          class: "criterion-comment",
          placeholder: "Comment",
          "aria-label": `${c.name}: comment`,
        }),
      );
    });
    this.form.replaceChildren(
      ...rows,
      this.comment,
      el("div", { class: "scorecard-actions" }, this.recommendation, this.saveButton, this.submitButton),
    );
  }

  private fill(card: Scorecard): void {
    this.mine = card;
    for (const row of this.form.querySelectorAll<HTMLFieldSetElement>("fieldset.criterion")) {
      const rating = card.ratings[row.dataset.criterion ?? ""];
      for (const radio of row.querySelectorAll<HTMLInputElement>("input[type=radio]")) {
        radio.checked = rating?.score != null && radio.value === String(rating.score);
      }
      row.querySelector<HTMLInputElement>(".criterion-comment")!.value = rating?.comment ?? "";
    }
    this.comment.value = card.comment;
    this.recommendation.value = card.recommendation ?? "";
    const submitted = card.state === "submitted";
    for (const input of this.form.querySelectorAll<
      HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement | HTMLButtonElement
    >("input, textarea, select, button")) {
      input.disabled = submitted;
    }
    this.state.textContent = submitted ? "submitted" : "draft saved";
  }

  /** What the form holds, as the API takes it. */
  private content(): ScorecardInput {
    const ratings: ScorecardInput["ratings"] = {};
    for (const row of this.form.querySelectorAll<HTMLFieldSetElement>("fieldset.criterion")) {
      const checked = row.querySelector<HTMLInputElement>("input[type=radio]:checked");
      const comment = row.querySelector<HTMLInputElement>(".criterion-comment")!.value;
      if (checked || comment)
        ratings[row.dataset.criterion ?? ""] = { score: checked ? Number(checked.value) : null, comment };
    }
    const recommendation = (this.recommendation.value || null) as Recommendation | null;
    return { ratings, comment: this.comment.value, recommendation };
  }

  private async save(submit: boolean): Promise<void> {
    if (this.mine?.state === "submitted") return;
    this.state.textContent = submit ? "submitting…" : "saving…";
    const body = { author_name: this.session.name() || "Interviewer", ...this.content() };
    try {
      const card = await api.writeScorecard(this.session.sessionId, this.session.token, this.author, body, submit);
      this.dirty = false;
      this.cards.set(card.author_id, card);
      this.fill(card);
      this.listOthers();
    } catch (err) {
      this.state.textContent = (err as Error).message;
    }
  }

  /** The other interviewers' cards: who, how far, and their verdict once submitted. */
  private listOthers(): void {
    const label = (r: Recommendation | null | undefined) => RECOMMENDATIONS.find(([v]) => v === r)?.[1] ?? "";
    const others = [...this.cards.values()].filter((c) => c.author_id !== this.author);
    this.others.replaceChildren(
      ...others.map((c) =>
        el(
          "li",
          {},
          el("strong", {}, c.author_name),
          c.state === "submitted" ? ` submitted: ${label(c.recommendation)}` : " is writing a draft",
        ),
      ),
    );
  }
}
