// A templated session's questions, above the question: which one is current, the ones this
// participant may see (interviewers: all, with Previous / Next and go-to; candidates: those
// reached so far), and the current question's time left, from the server's stored times,
// with its warning and its end.

import { el } from "../dom";
import type { ProgressView, ServerMessage, Welcome } from "../protocol";
import { duration } from "./clock";
import type { Controls, Part } from "./part";

export interface NavigatorHost {
  /** Moves the session to question `index` (interviewers); false when offline. */
  setQuestion(index: number): boolean;
  /** The session moved to another question, or its question restarted. */
  changed(): void;
}

export class QuestionNavigator implements Part {
  readonly element = el("nav", { class: "question-nav", id: "question-nav", "aria-label": "Questions" });
  private readonly list = el("ol", { class: "question-steps", id: "question-steps" });
  private readonly time = el("span", { class: "question-time", id: "question-time", "aria-live": "polite" });
  private readonly previous = el("button", { type: "button", class: "btn", id: "question-previous" }, "‹ Previous");
  private readonly next = el("button", { type: "button", class: "btn", id: "question-next" }, "Next ›");
  private view: ProgressView | null = null;
  private interviewer = false;
  private live = false;

  constructor(private readonly host: NavigatorHost) {
    this.element.hidden = true;
    this.previous.addEventListener("click", () => this.go((this.view?.current ?? 0) - 1));
    this.next.addEventListener("click", () => this.go((this.view?.current ?? 0) + 1));
  }

  welcome(w: Welcome): void {
    // A take-home's candidate works through its questions alone.
    const takeHome = w.session.interview?.mode === "take_home";
    this.interviewer = w.role === "interviewer" || (takeHome && w.role === "candidate");
    if (w.template) this.show(w.template);
  }

  message(msg: ServerMessage): void {
    if (msg.type === "question_changed") {
      this.show(msg.template);
      this.host.changed();
    } else if (msg.type === "interview" && msg.template) {
      // The interview's clock hidden or shown again: the question's follows it.
      this.show(msg.template);
    } else if (msg.type === "question_time" && this.view && msg.index === this.view.current) {
      this.view = { ...this.view, time: msg.time };
      this.renderTime();
    }
  }

  update(controls: Controls): void {
    this.live = controls.live;
    this.renderButtons();
  }

  tick(): void {
    this.renderTime();
  }

  private go(index: number): void {
    if (!this.view || index < 0 || index >= this.view.total || index === this.view.current) return;
    this.host.setQuestion(index);
  }

  private show(view: ProgressView): void {
    this.view = view;
    this.list.replaceChildren(
      ...view.questions.map((q) => {
        const label = `${q.index + 1}. ${q.title}${q.minutes ? ` (${q.minutes} min)` : ""}`;
        const current = q.index === view.current;
        const item = this.interviewer
          ? el("button", { type: "button", class: "step", "data-index": String(q.index) }, label)
          : el("span", { class: "step" }, label);
        if (this.interviewer) item.addEventListener("click", () => this.go(q.index));
        return el("li", current ? { class: "current", "aria-current": "step" } : {}, item);
      }),
    );
    const head = el(
      "span",
      { class: "question-count", id: "question-count" },
      `Question ${view.current + 1} of ${view.total}`,
    );
    const controls = this.interviewer ? el("span", { class: "question-moves" }, this.previous, this.next) : null;
    this.element.replaceChildren(el("div", { class: "question-nav-head" }, head, this.time, controls), this.list);
    this.element.hidden = false;
    this.renderButtons();
    this.renderTime();
  }

  private renderButtons(): void {
    const v = this.view;
    this.previous.disabled = !this.live || !v || v.current === 0;
    this.next.disabled = !this.live || !v || v.current + 1 >= v.total;
    for (const b of this.list.querySelectorAll("button")) b.disabled = !this.live;
  }

  /** Time left on the current question, counted down from the server's `ends_at`. */
  private renderTime(): void {
    const v = this.view;
    if (!v?.ends_at) {
      this.time.textContent = "";
      delete this.time.dataset.state;
      return;
    }
    const now = Date.now();
    const left = Date.parse(v.ends_at) - now;
    const warned =
      v.time === "warning" || (v.warn_at !== null && v.warn_at !== undefined && now >= Date.parse(v.warn_at));
    if (left <= 0 || v.time === "times_up") {
      this.time.textContent = "Time's up";
      this.time.dataset.state = "up";
    } else {
      this.time.textContent = `${duration(left)} left`;
      if (warned) this.time.dataset.state = "warning";
      else delete this.time.dataset.state;
    }
  }
}
