// `/`: what livecode is; in open mode also a form that starts a session and lands on the
// interviewer's view with the candidate's link ready to copy.

import "../style.css";

import { api, ApiError } from "../api";
import { byId, el } from "../dom";
import type { Environment } from "../protocol";
import { applyTheme, savedTheme } from "../theme";

applyTheme(savedTheme(), false);

async function openMode(): Promise<boolean> {
  try {
    await api.listSessions();
    return true;
  } catch {
    return false;
  }
}

function environmentOption(env: Environment): HTMLOptionElement {
  const number = env.version?.match(/\d+(\.\d+)+/)?.[0];
  const version = number ? ` ${number}` : "";
  const label = `${env.description || env.name}${version}${env.ready ? "" : " (image not built yet)"}`;
  const option = el("option", { value: env.name }, label);
  option.disabled = !env.ready;
  return option;
}

function renderForm(envs: Environment[]): HTMLElement {
  const select = el("select", { id: "environment", name: "environment", required: "" });
  const ready = envs.filter((e) => e.ready);
  for (const env of [...ready, ...envs.filter((e) => !e.ready)]) select.appendChild(environmentOption(env));
  const python = ready.find((e) => e.name === "python");
  if (python) select.value = python.name;
  const label = el("input", {
    type: "text",
    id: "label",
    name: "label",
    maxlength: "200",
    placeholder: "e.g. Jane Doe – backend loop",
  });
  const submit = el("button", { type: "submit", class: "btn primary", id: "create" }, "Start a session");
  const status = el("p", { class: "form-status", id: "form-status", role: "status" });
  const form = el(
    "form",
    { class: "new-session", id: "new-session" },
    el("h2", {}, "New session"),
    el("label", { for: "environment" }, "Language"),
    select,
    el("label", { for: "label" }, "Label (optional)"),
    label,
    el("div", { class: "form-actions" }, submit),
    status,
  );
  if (ready.length === 0) {
    submit.disabled = true;
    status.textContent =
      "No environment image is built yet: run `livecode images build`, or wait for the server to build them.";
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    status.textContent = "Starting a container…";
    try {
      const created = await api.createSession({ environment: select.value, label: label.value.trim() || undefined });
      const base = `${location.origin}/s/${created.session_id}`;
      try {
        sessionStorage.setItem(`livecode.candidate.${created.session_id}`, `${base}#token=${created.candidate_token}`);
      } catch {
        // the interviewer view then simply has no link bar
      }
      location.assign(`${base}#token=${created.interviewer_token}`);
    } catch (err) {
      submit.disabled = false;
      status.textContent =
        err instanceof ApiError
          ? `Could not start a session: ${err.message} (${err.code})`
          : `Could not start a session: ${String(err)}`;
    }
  });
  return form;
}

function renderEnvironments(envs: Environment[]): HTMLElement {
  const list = el("ul", { class: "env-list", id: "environments" });
  for (const env of envs) {
    list.appendChild(
      el(
        "li",
        { class: env.ready ? "ready" : "not-ready", title: env.ready ? "ready" : "image not built yet" },
        el("span", { class: "dot" }),
        env.description || env.name,
      ),
    );
  }
  return list;
}

async function main(): Promise<void> {
  const root = byId("app");
  const [open, envs] = await Promise.all([openMode(), api.environments().catch(() => [] as Environment[])]);
  const intro = el(
    "section",
    { class: "intro" },
    el("h1", {}, "livecode"),
    el(
      "p",
      { class: "lead" },
      "Live-coding sessions for technical interviews: a shared code editor in the browser, code run in a locked-down container of its own, output streamed to the candidate and the interviewers as it is produced.",
    ),
  );
  root.replaceChildren(intro);
  if (open) {
    root.append(renderForm(envs));
    root.append(
      el("p", { class: "note" }, "This server runs in open mode: anyone who can reach it may start sessions."),
    );
  } else {
    root.append(
      el(
        "p",
        {},
        "Sessions are created by an interview platform through the API (",
        el("code", {}, "POST /api/v1/sessions"),
        " with an API key); candidates and interviewers receive their own links.",
      ),
    );
  }
  if (envs.length > 0) root.append(el("h2", {}, "Languages"), renderEnvironments(envs));
}

void main();
