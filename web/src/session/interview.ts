// The interview around the session: the lobby screen a candidate sees before Start (the server
// sends it nothing else), the interviewer's Start and clock toggle, the interview clock everyone
// sees (computed from the server's stored start, never the page's), and a take-home's Submit
// with the read-only "submitted" banner after it.

import { el } from "../dom";
import type { InterviewView, ServerLobbyMessage } from "../messages";
import type { ClientMessage, Role, ServerMessage, Welcome } from "../protocol";
import type { Banner } from "./banner";
import { duration } from "./clock";
import type { Controls, Part } from "./part";

export interface InterviewHost {
  readonly root: HTMLElement;
  readonly banner: Banner;
  send(msg: ClientMessage): boolean;
  /** A take-home was submitted: the page's editors and runs stop. */
  submitted(): void;
}

export class InterviewPanel implements Part {
  /** In the top bar's status: the clock (and the interviewer's toggle); it gives way first. */
  readonly element = el("span", { class: "interview", id: "interview" });
  /** Beside Run: Start (the interviewer's, in a lobby) or Submit (a take-home's candidate). */
  readonly actions = el("span", { class: "interview-actions" });
  private readonly clock = el("span", { class: "interview-clock", id: "interview-clock" });
  private readonly startButton = el("button", { id: "start-interview", class: "btn primary", hidden: "" }, "Start");
  private readonly clockToggle = el("button", { id: "clock-toggle", class: "btn", hidden: "" }, "Hide clock");
  private readonly submitButton = el("button", { id: "submit-take-home", class: "btn primary", hidden: "" }, "Submit");
  private readonly lobby = el(
    "div",
    { class: "lobby-screen", id: "lobby-screen", hidden: "" },
    el("h1", {}, "The interview will start soon"),
    el(
      "p",
      {},
      "Your interviewer is getting things ready. This page opens the interview by itself when they start it.",
    ),
  );
  private interview: InterviewView | null = null;
  private myRole: Role | null = null;
  private ended = false;
  private live = false;

  constructor(private readonly host: InterviewHost) {
    this.element.append(this.clock, this.clockToggle);
    this.actions.append(this.startButton, this.submitButton);
    host.root.append(this.lobby);
    this.startButton.addEventListener("click", () => this.host.send({ type: "start" }));
    this.clockToggle.addEventListener("click", () => {
      if (this.interview) this.host.send({ type: "clock", hidden: !this.interview.clock_hidden });
    });
    this.submitButton.addEventListener("click", () => {
      if (window.confirm("Submit your take-home? You cannot edit it afterwards.")) {
        this.submitButton.setAttribute("disabled", "");
        this.host.send({ type: "submit" });
      }
    });
  }

  welcome(w: Welcome): void {
    this.myRole = w.role;
    this.lobby.hidden = true;
    this.host.root.classList.remove("in-lobby");
    this.set(w.session.interview);
  }

  message(msg: ServerMessage): void {
    if (msg.type === "lobby") return this.waiting(msg);
    if (msg.type === "interview") this.set(msg.interview);
  }

  update(controls: Controls): void {
    this.live = controls.live;
    this.render();
  }

  end(): void {
    this.ended = true;
    this.render();
  }

  tick(): void {
    this.renderClock();
  }

  /** Held in the lobby: the waiting screen, and nothing of the session behind it. */
  private waiting(msg: ServerLobbyMessage): void {
    this.myRole = msg.role;
    this.host.root.classList.add("in-lobby");
    this.lobby.hidden = false;
    this.set(msg.session.interview);
  }

  private set(interview: InterviewView): void {
    const was = this.interview?.stage;
    this.interview = interview;
    if (interview.stage === "submitted" && was !== "submitted") this.host.submitted();
    this.render();
  }

  private render(): void {
    const i = this.interview;
    const interviewer = this.myRole === "interviewer";
    this.host.root.dataset.interview = i?.stage ?? "";
    this.startButton.hidden = !(interviewer && i?.stage === "waiting" && i.mode === "live") || this.ended;
    this.clockToggle.hidden = !(interviewer && i?.mode === "live") || this.ended;
    this.clockToggle.textContent = i?.clock_hidden ? "Show clock" : "Hide clock";
    this.clockToggle.title = i?.clock_hidden
      ? "The candidate does not see the clock; show it to them"
      : "Hide the clock from the candidate";
    this.startButton.toggleAttribute("disabled", !this.live);
    this.clockToggle.toggleAttribute("disabled", !this.live);
    const canSubmit = i?.mode === "take_home" && i.stage === "live" && this.myRole === "candidate" && !this.ended;
    this.submitButton.hidden = !canSubmit;
    if (i?.stage === "submitted") {
      const at = i.submitted_at ? ` at ${new Date(i.submitted_at).toLocaleTimeString()}` : "";
      this.host.banner.show("submitted", `Submitted${at}. This take-home is read-only now; the tests ran once more.`);
    } else {
      this.host.banner.hide("submitted");
    }
    this.renderClock();
  }

  /** The interview's clock: time since Start, or a take-home's time left. */
  private renderClock(): void {
    const i = this.interview;
    if (!i || i.stage === "waiting") {
      this.clock.hidden = false;
      this.clock.textContent = i?.mode === "take_home" ? "not opened" : "waiting";
      return;
    }
    // Hidden from this page's role: the server sent no start.
    this.clock.hidden = !i.started_at;
    if (!i.started_at) return;
    const end = i.stage === "submitted" && i.submitted_at ? Date.parse(i.submitted_at) : Date.now();
    const elapsed = duration(end - Date.parse(i.started_at));
    const hidden = i.clock_hidden ? " (hidden from the candidate)" : "";
    if (i.submit_at && i.stage === "live") {
      const left = Date.parse(i.submit_at) - Date.now();
      this.clock.textContent = `${duration(left)} left`;
      this.clock.classList.toggle("soon", left < 5 * 60_000);
    } else {
      this.clock.textContent = `Interview ${elapsed}${hidden}`;
    }
    this.clock.title = `Started at ${new Date(i.started_at).toLocaleString()}`;
  }
}
