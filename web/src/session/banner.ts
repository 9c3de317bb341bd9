// The one banner under the page's top bar. Several concerns may want it at once (the session
// ended, the link is bad, the engine is down, the session ends soon); it shows the most
// important of what is asked, and each concern takes back only its own message.

import { el } from "../dom";

/** Who asks, most important first. */
export type BannerTopic = "fatal" | "ended" | "degraded" | "expiry";
const ORDER: readonly BannerTopic[] = ["fatal", "ended", "degraded", "expiry"];

export interface BannerAction {
  readonly label: string;
  readonly id: string;
  run(): void;
}

interface Message {
  readonly text: string;
  readonly action?: BannerAction;
}

export class Banner {
  readonly element = el("div", { class: "banner", id: "banner", hidden: "" });
  private readonly messages = new Map<BannerTopic, Message>();

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
