// Switching language mid-session from the page: the other participant sees it live (language,
// document, the picker), runs use the new language, switching back brings the code back, and
// replay marks each switch.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  createSession,
  fixture,
  newContext,
  openSession,
  pageState,
  screenshot,
  typeInEditor,
  until,
  waitForConsole,
  waitSynced,
} from "./support.mjs";

describe("switching language", () => {
  let server;
  let browser;
  let context;

  before(async () => {
    ({ server, browser } = await fixture());
    context = await newContext(browser);
  });

  after(async () => {
    await context?.close();
  });

  test("a switch is seen live by the other participant, and in replay", async () => {
    const python = 'print("from python")\n';
    const session = await createSession(server, { environment: "python", code: python });
    const candidate = await openSession(context, session.candidateUrl);
    const interviewer = await openSession(context, session.interviewerUrl);
    await candidate.waitForSelector("#environment-select:not([hidden])");
    await candidate.selectOption("#environment-select", "bash");
    for (const page of [candidate, interviewer]) {
      await until(
        "the switch to bash",
        async () => (await page.evaluate(() => window.__livecode.language)) === "shell",
      );
      await until("bash's document", async () => (await pageState(page)).text !== python);
      assert.equal(await page.inputValue("#environment-select"), "bash");
      await waitForConsole(page, "Switched to");
    }
    await until("the new container", async () => !(await candidate.isDisabled("#run")));
    await typeInEditor(candidate, 'echo "from bash $((6 * 7))"\n');
    await waitSynced(candidate);
    await candidate.click("#run");
    await waitForConsole(interviewer, "from bash 42");
    await screenshot(interviewer, "language-switched");
    // Back to python: its code is there again.
    await interviewer.selectOption("#environment-select", "python");
    await until("python's document again", async () => (await pageState(candidate)).text === python);
    // The document is replaced before the language is announced: wait for both.
    await until("python again", async () => (await candidate.evaluate(() => window.__livecode.language)) === "python");
    // Replay marks both switches on its timeline.
    await interviewer.click("#replay-toggle");
    await interviewer.waitForSelector(".replay-marker.kind-switch");
    assert.equal(await interviewer.locator(".replay-marker.kind-switch").count(), 2);
    const titles = await interviewer.$$eval(".replay-marker.kind-switch", (ms) => ms.map((m) => m.title));
    assert.ok(titles[0].includes("Switched to bash by candidate"), titles[0]);
    await interviewer.click("#replay-toggle");
    await candidate.close();
    await interviewer.close();
  });
});
