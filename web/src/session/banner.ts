// The one banner under the page's top bar. Several concerns may want it at once (the session
// ended, the link is bad, the engine is down, the session ends soon); it shows the most
// important of what is asked, and each concern takes back only its own message. It tells itself
// that the container engine is down and that the session ended.

import { el } from "../dom";
import type { ServerMessage } from "../protocol";
import type { Part } from "./part";

/** Who asks, most important first. */
export type BannerTopic = "fatal" | "ended" | "submitted" | "degraded" | "expiry";
const ORDER: readonly BannerTopic[] = ["fatal", "ended", "submitted", "degraded", "expiry"];

export interface BannerAction {
  readonly label: string;
  readonly id: string;
  run(): void;
}

interface Message {
  readonly text: string;
  readonly action?: BannerAction;
}

export class Banner implements Part {
  readonly element = el("div", { class: "banner", id: "banner", hidden: "" });
  private readonly messages = new Map<BannerTopic, Message>();

  message(msg: ServerMessage): void {
    if (msg.type !== "status") return;
    // The engine is down: runs wait for it; the session's own status comes after.
    if (msg.status !== "degraded") return this.hide("degraded");
    this.show(
      "degraded",
      "The container engine is not answering: running code waits until it is back. Your code is safe.",
    );
  }

  end(reason: string | null): void {
    this.hide("degraded");
    this.show("ended", endedText(reason));
  }

  show(topic: BannerTopic, text: string, action?: BannerAction): void {
    this.messages.set(topic, { text, action });
    this.render();
  }

  hide(topic: BannerTopic): void {
    if (this.messages.delete(topic)) this.render();
  }

  private render(): void {
    const topic = ORDER.find((t) => this.messages.has(t));
    const message = topic ? this.messages.get(topic) : undefined;
    this.element.hidden = !message;
    this.element.classList.toggle("fatal", topic === "fatal");
    this.element.dataset.topic = topic ?? "";
    if (!message) {
      this.element.replaceChildren();
      return;
    }
    const children: Node[] = [el("span", { class: "banner-text" }, message.text)];
    if (message.action) {
      const { label, id, run } = message.action;
      const button = el("button", { type: "button", class: "btn small", id }, label);
      button.addEventListener("click", () => run());
      children.push(button);
    }
    this.element.replaceChildren(...children);
  }
}

function endedText(reason: string | null): string {
  const why =
    reason === "expired"
      ? "it expired"
      : reason === "stopped"
        ? "an interviewer ended it"
        : reason === "error"
          ? "of an error"
          : null;
  return `This session has ended${why ? ` because ${why}` : ""}. The code is read-only now.`;
}
