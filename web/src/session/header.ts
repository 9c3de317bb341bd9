// The parts of the top bar that are not a concern of their own: the session's title and
// language, the theme switch, and the interviewer's End button (which asks twice).

import { api } from "../api";
import { el } from "../dom";
import type { ClientMessage, EnvironmentInfo, Role, ServerMessage, SessionView, Welcome } from "../protocol";
import { applyTheme, type Theme } from "../theme";
import type { Controls, Part } from "./part";
import { roleLabel } from "./participants";

export class SessionTitle implements Part {
  readonly title = el("span", { class: "title", id: "title" });
  private readonly envLabel = el("span", { class: "env", id: "environment" });
  /** Switching language, for those who may: the ready environments. */
  private readonly picker = el("select", { class: "env-picker", id: "environment-select", "aria-label": "Language" });
  /** The language: its name, or the picker that switches it. */
  readonly environment = el("span", { class: "env-box" }, this.envLabel, this.picker);
  private label = "";
  private current = "";

  constructor(private readonly switchTo: (environment: string) => void) {
    this.picker.hidden = true;
    this.picker.addEventListener("change", () => {
      if (this.picker.value !== this.current) this.switchTo(this.picker.value);
    });
  }

  welcome(w: Welcome): void {
    this.show(w.role, w.session, w.environment);
    void this.offerSwitch(w.can_switch);
  }

  message(msg: ServerMessage): void {
    if (msg.type === "environment") this.setEnvironment(msg.environment);
  }

  /** Switching waits while something runs. */
  update(controls: Controls): void {
    this.picker.disabled = !controls.online || controls.ended || controls.running;
  }

  show(role: Role, session: SessionView, env: EnvironmentInfo): void {
    this.label = session.label ?? "";
    this.title.textContent = session.label || roleLabel(role) + " view";
    this.title.title = this.title.textContent;
    this.setEnvironment(env);
  }

  /** The session's language now (after a switch too). */
  private setEnvironment(env: EnvironmentInfo): void {
    this.current = env.name;
    const number = env.version?.match(/\d+(\.\d+)+/)?.[0];
    this.envLabel.textContent = (env.description || env.name) + (number ? ` ${number}` : "");
    this.envLabel.title = `${env.filename}${env.version ? ` · ${env.version}` : ""}`;
    this.envLabel.dataset.name = env.name;
    this.picker.value = env.name;
    document.title = `${this.label || env.description || env.name} · livecode`;
  }

  /** Offers the switch (once: the ready environments). */
  private async offerSwitch(enabled: boolean): Promise<void> {
    if (!enabled || this.picker.options.length) return;
    const envs = (await api.environments()).filter((e) => e.ready);
    for (const e of envs) this.picker.append(el("option", { value: e.name }, e.description || e.name));
    this.picker.value = this.current;
    this.picker.hidden = false;
    this.envLabel.hidden = true;
  }
}

export class ThemeSwitch {
  readonly button = el("button", {
    type: "button",
    class: "btn icon",
    id: "theme-toggle",
    title: "Switch between light and dark",
  });

  constructor(
    public theme: Theme,
    private readonly changed: (theme: Theme) => void,
  ) {
    applyTheme(theme, false);
    this.button.addEventListener("click", () => this.set(this.theme === "dark" ? "light" : "dark", true));
    this.render();
  }

  /** Shows `theme`; `remember` keeps it for the next visit (an embed's command does not). */
  set(theme: Theme, remember: boolean): void {
    this.theme = theme;
    applyTheme(theme, remember);
    this.changed(theme);
    this.render();
  }

  private render(): void {
    this.button.textContent = this.theme === "dark" ? "☀" : "☾";
    this.button.setAttribute("aria-label", this.theme === "dark" ? "Light theme" : "Dark theme");
  }
}

export class EndButton implements Part {
  readonly element = el(
    "button",
    { type: "button", class: "btn danger", id: "end-session", hidden: "" },
    "End session",
  );
  private ended = false;

  constructor(private readonly send: (msg: ClientMessage) => boolean) {
    this.element.addEventListener("click", () => this.click());
  }

  role(role: Role): void {
    this.element.hidden = role !== "interviewer";
  }

  update(controls: Controls): void {
    this.element.disabled = this.ended || !controls.online;
  }

  end(): void {
    this.ended = true;
    this.element.textContent = "Session ended";
    this.element.disabled = true;
  }

  private click(): void {
    const button = this.element;
    if (button.dataset.confirm !== "1") {
      button.dataset.confirm = "1";
      button.textContent = "Really end?";
      setTimeout(() => {
        delete button.dataset.confirm;
        if (!this.ended) button.textContent = "End session";
      }, 4000);
      return;
    }
    if (this.send({ type: "end_session" })) button.textContent = "Ending…";
  }
}

/**
 * The top bar's secondary actions (Replay, End session, settings, theme). Wide pages show them
 * in the bar; narrow ones (CSS decides, by width) fold them behind a "⋯" button, so each stays
 * reachable by touch however narrow the screen.
 */
export class ActionsMenu {
  readonly button = el(
    "button",
    {
      type: "button",
      class: "btn icon more",
      id: "more-actions",
      title: "More actions",
      "aria-label": "More actions",
      "aria-expanded": "false",
      "aria-controls": "topbar-actions",
    },
    "⋯",
  );
  readonly element: HTMLElement;

  constructor(...actions: HTMLElement[]) {
    this.element = el("div", { class: "topbar-actions", id: "topbar-actions" }, ...actions);
    this.button.addEventListener("click", () => this.toggle());
    document.addEventListener(
      "keydown",
      (e) => {
        // Escape closes the settings first (they listen too, later: this listens in the
        // capture phase), then the menu, back to its button: one Escape, one thing closed.
        if (e.key !== "Escape" || !this.open || this.element.querySelector(".settings-menu:not([hidden])")) return;
        this.toggle(false);
        this.button.focus();
      },
      true,
    );
    document.addEventListener("click", (e) => {
      const target = e.target as Node;
      if (this.open && !this.element.contains(target) && !this.button.contains(target)) this.toggle(false);
    });
    // An action that changes the page (Replay) closes the menu; End asks twice, so it stays.
    for (const action of actions) {
      if (action.id === "replay-toggle") action.addEventListener("click", () => this.toggle(false));
    }
  }

  get open(): boolean {
    return this.element.classList.contains("open");
  }

  toggle(open = !this.open): void {
    this.element.classList.toggle("open", open);
    this.button.setAttribute("aria-expanded", String(open));
    // Opened from the keyboard or by touch: the first action takes the focus.
    if (open) this.element.querySelector<HTMLElement>("button:not([hidden]):not(:disabled)")?.focus();
  }
}
