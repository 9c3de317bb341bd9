// The keyboard on the session page: the editor is no Tab trap (Tab moves on from an editor it
// reached, "Esc then Tab leaves the editor" is shown, and Esc then Tab leaves it after
// editing), and replay's timeline steps from moment to moment with ← and →, marks a failed run
// as failed, shows clock time, and turns the live controls off while it is open.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  createSession,
  fixture,
  newContext,
  openSession,
  screenshot,
  serverDocument,
  sleep,
  typeInEditor,
  waitForConsole,
  waitSynced,
} from "./support.mjs";

const inEditor = (page) => page.evaluate(() => document.activeElement?.closest(".cm-editor") !== null);

describe("keyboard", () => {
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

  test("the editor is no Tab trap: Tab moves on, the hint shows, Esc then Tab leaves after editing", async () => {
    const code = "x = 1\n";
    const session = await createSession(server, { environment: "python", code });
    const page = await openSession(context, session.candidateUrl);
    // The page focuses the editor on load, and says how to leave it.
    await page.waitForFunction(() => document.activeElement?.closest(".cm-editor") !== null);
    await page.locator(".cm-tab-hint").waitFor({ state: "visible", timeout: 5_000 });
    assert.equal(await page.textContent(".cm-tab-hint"), "Esc then Tab leaves the editor");
    await screenshot(page, "editor-tab-hint");
    // Eleven presses of Tab walk the page; none indents the shared document.
    for (let i = 0; i < 11; i++) await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => window.__livecode.text()), code);
    assert.equal(await inEditor(page), false);

    // Back into the editor from the keyboard: the hint again.
    await page.locator(".cm-content").focus();
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Tab");
    assert.ok(await inEditor(page), "Tab from the element before it reaches the editor");
    await page.locator(".cm-tab-hint").waitFor({ state: "visible", timeout: 5_000 });
    // Once the person edits, Tab indents; Esc then Tab leaves.
    await page.keyboard.press("ControlOrMeta+End");
    await page.keyboard.type("y = 2");
    await page.keyboard.press("Home");
    await page.keyboard.press("Tab");
    assert.ok(await inEditor(page));
    await page.keyboard.press("Escape");
    await page.keyboard.press("Tab");
    assert.equal(await inEditor(page), false, "Esc then Tab left the editor");
    await waitSynced(page);
    const server_ = await serverDocument(server, session, { page });
    assert.equal(server_.text, "x = 1\n    y = 2");
    // A click puts the person in the editor without the hint.
    await page.click(".cm-content");
    assert.equal(await page.locator(".cm-tab-hint").isVisible(), false);
    await page.close();
  });

  test("replay: ← and → step through moments, a failed run is red, clock time, live controls off", async () => {
    const session = await createSession(server, { environment: "python", code: "" });
    const interviewer = await openSession(context, session.interviewerUrl);
    const candidate = await openSession(context, session.candidateUrl);
    await typeInEditor(candidate, "print('ok')\n");
    await waitSynced(candidate);
    await sleep(1500);
    await candidate.click("#run");
    await waitForConsole(candidate, "exit code 0");
    await sleep(1500);
    await typeInEditor(candidate, "import sys\nsys.exit(3)\n");
    await waitSynced(candidate);
    await candidate.click("#run");
    await waitForConsole(candidate, "exit code 3");

    await interviewer.click("#replay-toggle");
    await interviewer.waitForSelector(".replay-marker.kind-run");
    // Run, Stop, stdin are off while replaying.
    for (const id of ["#run", "#stop", "#stdin"]) assert.ok(await interviewer.locator(id).isDisabled(), `${id} off`);
    const runs = interviewer.locator(".replay-marker.kind-run");
    assert.equal(await runs.count(), 2);
    const danger = await interviewer.evaluate(() => {
      const probe = document.createElement("span");
      probe.style.color = "var(--danger)";
      document.body.append(probe);
      const c = getComputedStyle(probe).color;
      probe.remove();
      return c;
    });
    const bg = (loc) => loc.evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.notEqual(await bg(runs.nth(0)), danger, "a run with exit code 0 is not red");
    assert.equal(await bg(runs.nth(1)), danger, "a run with exit code 3 is red");
    // A legend, and clock time rather than versions.
    assert.match(await interviewer.textContent(".replay-legend"), /run.*tests.*large paste/s);
    assert.match(await interviewer.textContent("#replay-clock"), /^\d{1,2}:\d{2}:\d{2}.* · \+\d{2}:\d{2}$/);
    assert.doesNotMatch(await interviewer.textContent("#replay-clock"), /version/);
    // The timeline takes the keys as it opens; Home is the start, → the moments in order.
    await interviewer.waitForFunction(() => document.activeElement?.classList.contains("replay-slider"));
    await interviewer.keyboard.press("Home");
    const stops = [];
    for (let i = 0; i < 12; i++) {
      await interviewer.keyboard.press("ArrowRight");
      stops.push(await interviewer.evaluate(() => ({ ...document.querySelector(".replay").dataset })));
    }
    // Each moment once, in time order, then the end: both runs among them.
    const times = stops.map((s) => Number(s.time));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      "→ goes forward",
    );
    const runStops = new Set(stops.filter((s) => s.moment === "run").map((s) => s.time));
    assert.equal(runStops.size, 2, `→ stopped on each run: ${JSON.stringify(stops)}`);
    await screenshot(interviewer, "replay-keyboard");
    // Each run's stop shows the code it ran; ← goes back to the first run's code.
    await interviewer.keyboard.press("Home");
    const codes = [];
    for (let i = 0; i < 12 && codes.length < 2; i++) {
      await interviewer.keyboard.press("ArrowRight");
      const d = await interviewer.evaluate(() => document.querySelector(".replay").dataset.moment);
      if (d === "run") codes.push(await interviewer.evaluate(() => window.__livecode.replayText()));
    }
    assert.deepEqual(codes, ["print('ok')\n", "import sys\nsys.exit(3)\n"]);
    await interviewer.keyboard.press("ArrowLeft");
    assert.equal(await interviewer.evaluate(() => window.__livecode.replayText()), "print('ok')\n");
    // Back to live: Run works again.
    await interviewer.click("#replay-toggle");
    assert.ok(await interviewer.locator("#run").isEnabled());
    await candidate.close();
    await interviewer.close();
  });
});
