// The embed (`/embed/{id}#token=…`) inside docs/embed-example.html, served from two loopback
// origins: one in livecode's `frame_ancestors`, which gets events and may send commands, and one
// that is not, whose frame the browser refuses to render.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  api,
  createSession,
  fixture,
  hostPages,
  newContext,
  REPO,
  screenshot,
  serverDocument,
  sleep,
  until,
} from "./support.mjs";

const example = readFileSync(join(REPO, "docs", "embed-example.html"), "utf8");
hostPages["/embed-example.html"] = () => example;
hostPages["/intruder.html"] = () => "<!doctype html><title>intruder</title><p>another origin</p>";

/** The events the host page received from the embed. */
const events = (page) => page.evaluate(() => window.livecodeEvents);

describe("embed", () => {
  let f;
  let session;
  let context;

  before(async () => {
    f = await fixture();
    session = await createSession(f.server, { environment: "python", code: "print('embedded')\n" });
    context = await newContext(f.browser, { width: 1280, height: 800 });
  });

  after(async () => {
    await context?.close();
  });

  const hostUrl = (host) => `${host.url}/embed-example.html#${encodeURIComponent(f.server.url + session.embedPath)}`;

  test("from an allowed origin: ready, commands, run_finished and code_changed by postMessage", async () => {
    const page = await context.newPage();
    await page.goto(hostUrl(f.hosts.allowed));
    await until("ready", async () => (await events(page)).some((e) => e.type === "ready"), 15_000);
    const ready = (await events(page)).find((e) => e.type === "ready");
    assert.equal(ready.source, "livecode");
    assert.equal(ready.session_id, session.session_id);
    assert.equal(ready.environment, "python");

    // set_code, then run: the result comes back as events.
    await page.fill("#code", 'print("hello from the host")\n');
    await page.click("#set-code");
    await until("code_changed with the new code", async () =>
      (await events(page)).some((e) => e.type === "code_changed" && e.code.includes("hello from the host")),
    );
    await page.click("#run");
    const finished = await until(
      "run_finished",
      async () => (await events(page)).find((e) => e.type === "run_finished"),
      20_000,
    );
    assert.equal(finished.status, "completed");
    assert.equal(finished.exit_code, 0);
    assert.ok((await events(page)).some((e) => e.type === "run_started"));
    const frame = page.frame({ url: /\/embed\// });
    assert.equal((await serverDocument(f.server, session, { page: frame })).text, 'print("hello from the host")\n');
    await until("the output in the embed's console", async () =>
      (await frame.evaluate(() => window.__livecode.consoleText())).includes("hello from the host"),
    );
    // No page chrome inside the frame.
    assert.equal(await frame.locator(".topbar").count(), 0);
    assert.equal(await frame.locator("#notes").count(), 0);
    await screenshot(page, "embed-host-page");
    await page.locator("#livecode").screenshot({ path: join(REPO, "test-artifacts", "screenshots", "embed.png") });

    // set_theme switches the embed's theme.
    await page.click("#theme");
    await until(
      "dark theme",
      async () => (await frame.evaluate(() => document.documentElement.dataset.theme)) === "dark",
    );
    await page.locator("#livecode").screenshot({ path: join(REPO, "test-artifacts", "screenshots", "embed-dark.png") });

    // A frame of another origin on the same page cannot command the embed.
    await page.evaluate((src) => {
      const intruder = document.createElement("iframe");
      intruder.src = src;
      document.body.append(intruder);
    }, `${f.hosts.refused.url}/intruder.html`);
    const intruder = await until("the intruder frame", async () => {
      const fr = page.frame({ url: /intruder/ });
      return fr && (await fr.evaluate(() => document.readyState === "complete")) ? fr : null;
    });
    await intruder.evaluate(() => parent.frames[0].postMessage({ type: "set_code", code: "# HACKED\n" }, "*"));
    await sleep(700);
    assert.ok(!(await frame.evaluate(() => window.__livecode.text())).includes("HACKED"));
    assert.ok(!(await serverDocument(f.server, session)).text.includes("HACKED"));
    await page.close();
  });

  test("a candidate's embed shows the question, runs tests and switches language on the parent's command", async () => {
    const question = await api(f.server, "POST", "/questions", {
      body: {
        title: "Double it",
        prompt: "Print twice the number read.",
        starters: { python: "print(int(input()) * 2)\n", node: "console.log('js')\n" },
        cases: [
          { name: "two", stdin: "2\n", expected: "4\n" },
          { name: "wrong on purpose", stdin: "3\n", expected: "7\n" },
          { name: "secret-case", stdin: "10\n", expected: "20\n", hidden: true },
        ],
      },
    });
    const s = await createSession(f.server, { environment: "python", question: question.question_id });
    const embedUrl = `${f.server.url}/embed/${s.session_id}#token=${s.candidate_token}`;
    const page = await context.newPage();
    // The host runs the tests as soon as it hears `ready`: the question is there by then.
    await page.addInitScript(() => {
      window.addEventListener("message", (event) => {
        if (event.data?.source === "livecode" && event.data.type === "ready")
          window.livecodeSend({ type: "run_tests" });
      });
    });
    await page.goto(`${f.hosts.allowed.url}/embed-example.html#${encodeURIComponent(embedUrl)}`);
    await until("ready", async () => (await events(page)).some((e) => e.type === "ready"), 15_000);
    const frame = page.frame({ url: /\/embed\// });
    await frame.waitForSelector("#question-title");
    assert.equal(await frame.textContent("#question-title"), "Double it");
    assert.ok(!(await frame.textContent("#question")).includes("secret"));

    const report = await until(
      "tests_finished",
      async () => (await events(page)).find((e) => e.type === "tests_finished"),
      60_000,
    );
    assert.equal(report.passed, 2);
    assert.equal(report.total, 3);
    assert.deepEqual(report.hidden, { passed: 1, total: 1 });
    // Only the cases a candidate may see, by name.
    assert.deepEqual(
      report.cases.map((c) => `${c.name}:${c.verdict}`),
      ["two:passed", "wrong on purpose:failed"],
    );
    await until("the report in the frame", async () =>
      /2\/3 passed/.test((await frame.textContent("#test-summary")) ?? ""),
    );
    await page.locator("#livecode").screenshot({
      path: join(REPO, "test-artifacts", "screenshots", "embed-question.png"),
    });

    // The parent switches the language; the embed and the server follow, and the parent hears it.
    await page.fill("#environment", "node");
    await page.click("#switch");
    const changed = await until(
      "environment_changed",
      async () => (await events(page)).find((e) => e.type === "environment_changed"),
      60_000,
    );
    assert.deepEqual([changed.environment, changed.by], ["node", "candidate"]);
    await until(
      "the picker in the frame on node",
      async () => (await frame.inputValue("#environment-select")) === "node",
    );
    assert.equal(await frame.evaluate(() => window.__livecode.language), "javascript");
    await until(
      "the starter in the frame",
      async () => (await frame.evaluate(() => window.__livecode.text())) === "console.log('js')\n",
    );
    const now = await api(f.server, "GET", `/sessions/${s.session_id}`, { token: s.candidate_token });
    assert.equal(now.environment, "node");
    // A command the server refuses comes back as an error event.
    await page.fill("#environment", "cobol");
    await page.click("#switch");
    const refused = await until("the refusal", async () => (await events(page)).find((e) => e.type === "error"));
    assert.equal(refused.code, "UNKNOWN_ENVIRONMENT");
    await page.close();
  });

  test("from an origin not in frame_ancestors the frame is refused and never posts", async () => {
    const page = await context.newPage();
    const consoleLines = [];
    page.on("console", (m) => consoleLines.push(m.text()));
    await page.goto(hostUrl(f.hosts.refused));
    await until(
      "the browser to refuse the frame",
      () => consoleLines.some((l) => l.includes("frame-ancestors")),
      10_000,
    );
    await sleep(1000);
    assert.deepEqual(await events(page), []);
    const frame = page.frames().find((fr) => fr !== page.mainFrame());
    const rendered = await frame.evaluate(() => Boolean(document.querySelector(".session-page"))).catch(() => false);
    assert.equal(rendered, false, "the session page did not render in the refused frame");
    await screenshot(page, "embed-refused");
    await page.close();
  });
});
