// Who is connected: a chip per participant in their cursor's colour, one's own a button that
// turns into a name field.

import { participantColor } from "../cursors";
import { el } from "../dom";
import type { Participant, Role, ServerMessage, Welcome } from "../protocol";
import type { Part } from "./part";

export function roleLabel(role: Role): string {
  return role === "candidate" ? "Candidate" : role === "interviewer" ? "Interviewer" : "Observer";
}

/** The name a participant goes by: theirs, else their role. */
export function displayName(p: Pick<Participant, "name" | "role">): string {
  return p.name && p.name !== "anonymous" ? p.name : roleLabel(p.role);
}

export class ParticipantList implements Part {
  readonly element = el("ul", { class: "participants", id: "participants", "aria-label": "Participants" });
  private participants: Participant[] = [];
  /** Participants whose page is out of focus (interviewers hear of it), since when. */
  private away = new Map<number, Date>();
  /** This page's own participant id. */
  private me = -1;
  private ended = false;

  constructor(
    private name: string,
    private readonly onRename: (name: string) => void,
    /** One's own chip turns into a name field (the full page's; the embed has none). */
    private readonly renamable: boolean,
  ) {}

  welcome(w: Welcome): void {
    this.me = w.participant;
    this.set(w.participants);
  }

  message(msg: ServerMessage): void {
    if (msg.type === "presence") this.set(msg.participants);
    else if (msg.type === "focus") this.focus(msg.participant, msg.focused, new Date(msg.at));
  }

  end(): void {
    this.ended = true;
    this.set([]);
  }

  private set(participants: Participant[]): void {
    this.participants = participants;
    for (const id of this.away.keys()) if (!participants.some((p) => p.id === id)) this.away.delete(id);
    this.render();
  }

  /** A participant's page lost or regained focus. */
  private focus(participant: number, focused: boolean, at: Date): void {
    if (focused) this.away.delete(participant);
    else this.away.set(participant, at);
    this.render();
  }

  private render(): void {
    if (this.element.querySelector("input")) return; // renaming: keep the field
    // The candidate first, so that their chip (and its "away") is the last to be squeezed.
    const rank = (p: Participant) => (p.role === "candidate" ? 0 : p.role === "interviewer" ? 1 : 2);
    const ordered = [...this.participants].sort((a, b) => rank(a) - rank(b));
    const items = ordered.map((p) => {
      const you = p.id === this.me;
      const name = displayName(p);
      const dot = el("span", { class: "dot" });
      dot.style.backgroundColor = participantColor(p.id);
      const body: Node[] = [dot, el("span", { class: "pname" }, name + (you ? " (you)" : ""))];
      if (name.toLowerCase() !== p.role) body.push(el("span", { class: "prole" }, p.role));
      const away = this.away.get(p.id);
      if (away) {
        const since = away.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
        body.push(el("span", { class: "paway", title: `Their tab has been out of focus since ${since}` }, "away"));
      }
      if (you && this.renamable && !this.ended) {
        const button = el(
          "button",
          { type: "button", class: "pbutton", id: "rename", title: "Change your name" },
          ...body,
        );
        button.addEventListener("click", () => this.editName());
        return el("li", { class: `participant role-${p.role} you${away ? " away" : ""}` }, button);
      }
      return el(
        "li",
        {
          class: `participant role-${p.role}${you ? " you" : ""}${away ? " away" : ""}`,
          title: `${name} (${p.role})${away ? ", away" : ""}`,
        },
        ...body,
      );
    });
    this.element.replaceChildren(...items);
  }

  /** Turns one's own chip into a name field; Enter keeps the name, Escape doesn't. */
  private editName(): void {
    const input = el("input", {
      type: "text",
      class: "name",
      id: "name",
      maxlength: "40",
      placeholder: "Your name",
      "aria-label": "Your name",
    });
    input.value = this.name;
    let done = false;
    const finish = (keep: boolean) => {
      if (done) return;
      done = true;
      input.remove();
      const name = input.value.trim().slice(0, 40);
      if (keep && name !== this.name) {
        this.name = name;
        this.onRename(name);
      }
      this.render();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") finish(true);
      else if (e.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true));
    this.element.replaceChildren(el("li", { class: "participant editing" }, input));
    input.focus();
    input.select();
  }
}
