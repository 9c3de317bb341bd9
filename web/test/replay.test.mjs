// Replay an interviewer can skim: a wall-clock timeline with its moments marked (runs, joins,
// a large paste, a tab losing focus), playback at 8× that skips the idle stretch and reaches
// the run's marker, and a run's marker showing the code as it was when it ran.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  createSession,
  fixture,
  newContext,
  openSession,
  screenshot,
  sleep,
  typeInEditor,
  until,
  waitForConsole,
  waitSynced,
} from "./support.mjs";

describe("replay", () => {
  let server;
  let browser;
  let context;

  before(async () => {
    ({ server, browser } = await fixture());
    context = await newContext(browser, { width: 1440, height: 900 });
  });

  after(async () => {
    await context?.close();
  });

  test("at 8× playback reaches the run; markers show runs, joins, a paste and a lost focus", async () => {
    const session = await createSession(server, { environment: "python", code: "" });
    const interviewer = await openSession(context, session.interviewerUrl);
    const candidate = await openSession(context, session.candidateUrl);
    const program = 'print("first version")\n';
    await typeInEditor(candidate, program);
    await waitSynced(candidate);
    // An idle stretch, which playback skips.
    await sleep(4000);
    await candidate.click("#run");
    await waitForConsole(candidate, "exit code 0");
    // A paste: a long text in one edit (into the editor: Run moved the focus to stdin).
    await candidate.click(".cm-content");
    await candidate.keyboard.press("ControlOrMeta+End");
    await candidate.keyboard.insertText("# " + "pasted ".repeat(30) + "\n");
    await waitSynced(candidate);
    // The candidate's tab goes out of view: the interviewer sees it, live.
    await candidate.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await interviewer.waitForSelector("#participants .paway", { timeout: 20_000 });

    await interviewer.click("#replay-toggle");
    await interviewer.waitForSelector(".replay-marker.kind-run");
    const kinds = await interviewer.$$eval(".replay-marker", (ms) => ms.map((m) => m.dataset.kind));
    for (const kind of ["run", "join", "paste", "focus"]) assert.ok(kinds.includes(kind), `${kind} in ${kinds}`);
    await screenshot(interviewer, "replay-timeline");

    // Play from the start at 8×: it reaches the run (whose output then shows).
    await interviewer.locator(".replay-slider").fill("0");
    await interviewer.selectOption("#replay-speed", "8");
    const started = Date.now();
    await interviewer.click("#replay-play");
    await interviewer.waitForFunction(() => document.querySelector(".replay").dataset.run, null, { timeout: 20_000 });
    const took = Date.now() - started;
    assert.ok((await interviewer.textContent(".replay-run")).includes("first version"));
    // The session's first seconds and its idle stretch took well over the playback's time.
    const runAt = Number(await interviewer.evaluate(() => document.querySelector(".replay").dataset.time));
    assert.ok(runAt > 4000, `the run is ${runAt} ms into the session`);
    assert.ok(took < runAt, `8× with idle skipped took ${took} ms for ${runAt} ms`);
    await interviewer.click("#replay-play"); // pause
    // A run's marker: the code as it was when it ran, before the paste.
    await interviewer.locator(".replay-marker.kind-run").first().click();
    assert.equal(await interviewer.evaluate(() => window.__livecode.replayText()), program);
    await candidate.close();
    await interviewer.close();
  });
});
