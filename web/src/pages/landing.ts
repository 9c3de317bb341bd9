// `/`: what livecode is, and a form that starts a session (with a question, if one is picked).
// In open mode it lands on the interviewer's view with both links labelled; with an API key
// configured the operator pastes the key first (kept in this tab's sessionStorage) and gets the
// two links here. A minimal question editor, a word on hidden cases, and a link to /docs.

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

const KEY_STORE = "livecode.apiKey";

/** The operator's API key, kept for this tab only (sessionStorage); "" in open mode. */
function storedKey(): string {
  try {
    return sessionStorage.getItem(KEY_STORE) ?? "";
  } catch {
    return "";
  }
}

function keepKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
  } catch {
    // kept in the field only
  }
}

function failure(what: string, err: unknown): string {
  return err instanceof ApiError
    ? `${what}: ${err.message} (${err.code})`
    : `${what}: ${err instanceof Error ? err.message : String(err)}`;
}

/** A read-only link with Copy, labelled for who it is for. */
function linkRow(id: string, label: string, note: string, url: string): HTMLElement {
  const input = el("input", { type: "text", readonly: "", value: url, id, "aria-label": label });
  const copy = el("button", { type: "button", class: "btn small" }, "Copy");
  copy.addEventListener("click", async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(url);
    } catch {
      document.execCommand("copy");
    }
    copy.textContent = "Copied";
    setTimeout(() => (copy.textContent = "Copy"), 1500);
  });
  return el(
    "div",
    { class: "link-row" },
    el("label", { for: id }, el("strong", {}, label), " ", el("span", { class: "hint" }, note)),
    el("div", { class: "link-field" }, input, copy),
  );
}

/** The two links of a new session: the candidate's to share, the interviewer's private. */
function sessionLinks(candidate: string, interviewer: string): HTMLElement {
  return el(
    "div",
    { class: "session-links", id: "session-links" },
    linkRow("candidate-link", "Candidate's link", "send this to the candidate", candidate),
    linkRow("interviewer-link", "Your link (private)", "the interviewer's view: keep it to yourself", interviewer),
    el("a", { class: "btn primary", id: "open-interviewer", href: interviewer }, "Open the interviewer view"),
  );
}

interface FormOptions {
  /** Open mode: no key, and the new session opens at once. */
  readonly open: boolean;
  readonly key: () => string;
}

function renderForm(envs: Environment[], opts: FormOptions): { form: HTMLElement; questions: HTMLSelectElement } {
  const select = el("select", { id: "environment", name: "environment", required: "" });
  const ready = envs.filter((e) => e.ready);
  for (const env of [...ready, ...envs.filter((e) => !e.ready)]) select.appendChild(environmentOption(env));
  const python = ready.find((e) => e.name === "python");
  if (python) select.value = python.name;
  const question = el("select", { id: "question", name: "question" }, el("option", { value: "" }, "None"));
  const label = el("input", {
    type: "text",
    id: "label",
    name: "label",
    maxlength: "200",
    placeholder: "e.g. Jane Doe – backend loop",
  });
  const submit = el("button", { type: "submit", class: "btn primary", id: "create" }, "Start a session");
  const status = el("p", { class: "form-status", id: "form-status", role: "status" });
  const result = el("div", { class: "form-result" });
  const form = el(
    "form",
    { class: "new-session", id: "new-session" },
    el("h2", {}, "New session"),
    el("label", { for: "environment" }, "Language"),
    select,
    el("label", { for: "question" }, "Question (optional)"),
    question,
    el("label", { for: "label" }, "Label (optional)"),
    label,
    el("div", { class: "form-actions" }, submit),
    status,
    result,
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
    result.replaceChildren();
    try {
      const created = await api.createSession(
        { environment: select.value, label: label.value.trim() || undefined, question: question.value || undefined },
        opts.key() || undefined,
      );
      const base = `${location.origin}/s/${created.session_id}`;
      const candidate = `${base}#token=${created.candidate_token}`;
      const interviewer = `${base}#token=${created.interviewer_token}`;
      if (opts.open) {
        try {
          sessionStorage.setItem(`livecode.candidate.${created.session_id}`, candidate);
        } catch {
          // the interviewer view then simply has no link bar
        }
        location.assign(interviewer);
        return;
      }
      // An operator may not be the interviewer: both links, to hand on.
      submit.disabled = false;
      status.textContent = "The session is ready.";
      result.replaceChildren(sessionLinks(candidate, interviewer));
    } catch (err) {
      submit.disabled = false;
      status.textContent = failure("Could not start a session", err);
    }
  });
  return { form, questions: question };
}

/** Fills the question picker from the server (with the key in API-key mode). */
async function loadQuestions(select: HTMLSelectElement, key: string, status: HTMLElement): Promise<void> {
  try {
    const list = await api.questions(key || undefined);
    const keep = select.value;
    select.replaceChildren(
      el("option", { value: "" }, "None"),
      ...list.map((q) => el("option", { value: q.question_id }, q.title)),
    );
    select.value = list.some((q) => q.question_id === keep) ? keep : "";
    status.textContent = "";
  } catch (err) {
    status.textContent = failure("Could not list the questions", err);
  }
}

/** The API key field of API-key mode; `changed` hears the new key. */
function renderKeyForm(changed: (key: string) => void): HTMLElement {
  const input = el("input", {
    type: "password",
    id: "api-key",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "the server's API key",
  });
  input.value = storedKey();
  const save = el("button", { type: "submit", class: "btn", id: "save-key" }, "Use this key");
  const form = el(
    "form",
    { class: "operator-key", id: "operator-key" },
    el("label", { for: "api-key" }, "API key"),
    el("div", { class: "link-field" }, input, save),
    el(
      "p",
      { class: "hint" },
      "Kept in this tab only (session storage), sent only to this server, as Authorization: Bearer.",
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    keepKey(input.value.trim());
    changed(input.value.trim());
  });
  return form;
}

/** A minimal question editor: title, prompt, one starter, cases. */
function renderQuestionEditor(envs: Environment[], opts: FormOptions, created: () => void): HTMLElement {
  const title = el("input", { type: "text", id: "q-title", required: "", maxlength: "200" });
  const prompt = el("textarea", { id: "q-prompt", rows: "5", placeholder: "Markdown" });
  const starterEnv = el("select", { id: "q-starter-env", "aria-label": "Starter code's language" });
  for (const env of envs) starterEnv.append(el("option", { value: env.name }, env.description || env.name));
  if (envs.some((e) => e.name === "python")) starterEnv.value = "python";
  const starter = el("textarea", { id: "q-starter", rows: "4", class: "mono", "aria-label": "Starter code" });
  const cases = el("div", { class: "q-cases", id: "q-cases" });
  const addCase = () => {
    const n = cases.childElementCount + 1;
    const field = (name: string, label: string, tag: "input" | "textarea") =>
      tag === "input"
        ? el("input", { type: "text", class: `case-${name}`, "aria-label": `Case ${n} ${label}`, placeholder: label })
        : el("textarea", {
            rows: "2",
            class: `case-${name} mono`,
            "aria-label": `Case ${n} ${label}`,
            placeholder: label,
          });
    const hidden = el("input", { type: "checkbox", class: "case-hidden" });
    const row = el(
      "fieldset",
      { class: "q-case" },
      el("legend", {}, `Case ${n}`),
      field("name", "name", "input"),
      field("stdin", "stdin", "textarea"),
      field("expected", "expected output", "textarea"),
      el("label", { class: "check" }, hidden, " hidden from the candidate"),
    );
    (row.querySelector(".case-name") as HTMLInputElement).value = `case ${n}`;
    cases.append(row);
  };
  addCase();
  const add = el("button", { type: "button", class: "btn small", id: "q-add-case" }, "Add a case");
  add.addEventListener("click", addCase);
  const submit = el("button", { type: "submit", class: "btn", id: "q-create" }, "Save the question");
  const status = el("p", { class: "form-status", id: "q-status", role: "status" });
  const form = el(
    "form",
    { class: "question-editor", id: "question-editor" },
    el("label", { for: "q-title" }, "Title"),
    title,
    el("label", { for: "q-prompt" }, "Prompt"),
    prompt,
    el("label", { for: "q-starter" }, "Starter code"),
    el("div", { class: "q-starter" }, starterEnv, starter),
    el("span", { class: "q-cases-label" }, "Test cases"),
    el("div", {}, cases, add),
    el("div", { class: "form-actions" }, submit),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = (row: Element, cls: string) => (row.querySelector(`.${cls}`) as HTMLInputElement).value;
    const withNewline = (t: string) => (t && !t.endsWith("\n") ? t + "\n" : t);
    const body = {
      title: title.value.trim(),
      prompt: prompt.value,
      starters: starter.value ? { [starterEnv.value]: starter.value } : {},
      cases: [...cases.children]
        .filter((row) => value(row, "case-expected") || value(row, "case-stdin"))
        .map((row) => ({
          name: value(row, "case-name").trim() || "case",
          stdin: withNewline(value(row, "case-stdin")),
          expected: withNewline(value(row, "case-expected")),
          hidden: (row.querySelector(".case-hidden") as HTMLInputElement).checked,
        })),
    };
    submit.disabled = true;
    try {
      const q = await api.createQuestion(body, opts.key() || undefined);
      status.textContent = `Saved “${q.title}”: pick it for a new session above.`;
      created();
    } catch (err) {
      status.textContent = failure("Could not save the question", err);
    } finally {
      submit.disabled = false;
    }
  });
  return el(
    "details",
    { class: "question-editor-box", id: "question-editor-box" },
    el("summary", {}, "New question"),
    form,
  );
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
  // One request each, shared: the form and the language list both use the environments.
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
  let key = open ? "" : storedKey();
  const opts: FormOptions = { open, key: () => key };
  const { form, questions } = renderForm(envs, opts);
  const status = form.querySelector("#form-status") as HTMLElement;
  const refresh = () => void loadQuestions(questions, key, status);
  if (open) {
    root.append(
      form,
      el("p", { class: "note" }, "This server runs in open mode: anyone who can reach it may start sessions."),
    );
  } else {
    root.append(
      el(
        "p",
        {},
        "Sessions are created by an interview platform through the API (",
        el("code", {}, "POST /api/v1/sessions"),
        " with an API key); candidates and interviewers receive their own links. Operators can also use the key here:",
      ),
      renderKeyForm((k) => {
        key = k;
        refresh();
      }),
      form,
    );
  }
  root.append(renderQuestionEditor(envs, opts, refresh));
  if (open || key) refresh();
  root.append(
    el(
      "p",
      { class: "hint", id: "hidden-cases-note" },
      "A question's hidden test cases are shown only to the API key and to the interviewers of a session that uses it; candidates see how many there are and whether they pass.",
    ),
    el(
      "p",
      {},
      el("a", { href: "/docs", id: "docs-link" }, "API reference"),
      " (every operation, to try in the page).",
    ),
  );
  if (envs.length > 0) root.append(el("h2", {}, "Languages"), renderEnvironments(envs));
}

void main();
