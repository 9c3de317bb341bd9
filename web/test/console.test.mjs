// The console under a flood and the run's state: 1 MiB of output in two open pages while a
// key typed in one page's editor reaches the other within 100 ms (of the same keys' latency with
// nothing running, measured in the same run: this machine's own floor); the long output's start and
// end drawn, its middle a click away; a failed run in the failure colour; the live
// "running · N s"; stdin taking the keys while a program runs.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { createSession, fixture, newContext, openSession, pageState, screenshot, waitForConsole } from "./support.mjs";

/** 10,400 lines of 100 bytes (1,040,000 bytes, under the 1 MiB output limit), paced over
 * about 5 s so that the keys below are typed while it streams. */
export const FLOOD =
  'import sys, time\nfor i in range(10400):\n    sys.stdout.write(f"{i:06d} " + "x" * 92 + "\\n")\n    if i % 104 == 103:\n        sys.stdout.flush()\n        time.sleep(0.05)\n';

/** Milliseconds from a key in `from`'s editor to its text in `to`'s editor, for each of `keys`. */
async function keyLatencies(from, to, keys) {
  await to.evaluate((keys) => {
    window.__seen = {};
    window.__during = {};
    const loop = () => {
      const text = window.__livecode.text() ?? "";
      for (const k of keys) {
        if (!(k in window.__seen) && text.includes(`#${k}`)) {
          window.__seen[k] = Date.now();
          window.__during[k] = /^running/.test(document.querySelector("#run-state").textContent);
        }
      }
      if (Object.keys(window.__seen).length < keys.length) requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }, keys);
  // The moment each key event reaches the page, by the page's clock (the same machine's).
  await from.evaluate(() => {
    window.__typed = {};
    document.addEventListener("keydown", (e) => (window.__typed[e.key] ??= Date.now()), true);
  });
  for (const k of keys) {
    await from.keyboard.type("#");
    await from.keyboard.press(k);
    await from.waitForTimeout(250);
  }
  const typed = await from.evaluate(() => window.__typed);
  await to.waitForFunction((n) => Object.keys(window.__seen).length === n, keys.length, { timeout: 30_000 });
  const { seen, during } = await to.evaluate(() => ({ seen: window.__seen, during: window.__during }));
  return { latencies: keys.map((k) => seen[k] - typed[k]), during: keys.map((k) => during[k]) };
}

describe("console", () => {
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

  test("1 MiB of output: keys typed meanwhile reach the other page within 100 ms of the quiet latency; head, tail and the full output", async () => {
    const session = await createSession(server, { environment: "python", code: FLOOD });
    const interviewer = await openSession(context, session.interviewerUrl);
    const candidate = await openSession(context, session.candidateUrl);
    // Into the candidate's editor, at the end of the document.
    await candidate.click(".cm-content");
    await candidate.keyboard.press("ControlOrMeta+End");
    await candidate.keyboard.press("Enter");
    // The same keys with nothing running: this machine's latency, the baseline of this run.
    const quiet = (await keyLatencies(candidate, interviewer, ["h", "i", "j", "k", "l", "m", "n"])).latencies;
    await candidate.click("#run");
    await waitForConsole(interviewer, "000100 ");
    await candidate.click(".cm-content");
    await candidate.keyboard.press("ControlOrMeta+End");
    const { latencies, during } = await keyLatencies(candidate, interviewer, ["a", "b", "c", "d", "e", "f", "g"]);
    await waitForConsole(candidate, "exit code 0");
    await waitForConsole(interviewer, "exit code 0");
    const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    console.log(
      `key latency (ms) during the flood: ${latencies.join(", ")} (median ${median(latencies)}); ` +
        `with nothing running: ${quiet.join(", ")} (median ${median(quiet)}); while running: ${during.join(", ")}`,
    );
    // Most keys arrived while the output streamed (the flood is paced to outlast them).
    assert.ok(during.filter(Boolean).length >= 4, `keys seen while the run ran: ${during}`);
    // Within 100 ms of what the same keys take on this machine with nothing running (on an idle
    // machine that is ~10-30 ms: the flood may add 100 ms at most, and the page stays live).
    assert.ok(
      median(latencies) <= median(quiet) + 100,
      `median key latency ${median(latencies)} ms in the flood, ${median(quiet)} ms without (all: ${latencies})`,
    );
    assert.ok(
      latencies.length === 7 && latencies.every((l) => l >= 0),
      `every key arrived after it was typed: ${latencies}`,
    );

    for (const page of [candidate, interviewer]) {
      const text = (await pageState(page)).console;
      // The start (the run's own line, the first lines), the end, and the middle elided.
      assert.match(text, /run started by candidate/);
      assert.ok(text.includes("000000 xxxx"), "the first line is drawn");
      assert.ok(text.includes("010399 xxxx"), "the last line is drawn");
      assert.ok(!text.includes("005000 xxxx"), "the middle is not drawn");
      assert.match(text, /… \d+(\.\d)? (KB|MB) of earlier output not shown/);
      assert.equal(await page.locator("#console .console-elided").count(), 1);
      // What is drawn stays bounded.
      const drawn = await page.evaluate(() => document.querySelector("#console").textContent.length);
      assert.ok(drawn < 100_000, `${drawn} characters drawn`);
    }
    await screenshot(interviewer, "console-flood");

    // The whole output, a click away.
    const [full] = await Promise.all([
      context.waitForEvent("page"),
      candidate.click("#console .console-elided .console-full"),
    ]);
    await full.waitForLoadState();
    const body = await full.evaluate(() => document.body.innerText);
    const lines = body.split("\n").filter((l) => /^\d{6} x{92}$/.test(l));
    assert.equal(lines.length, 10_400);
    assert.equal(lines[5000].slice(0, 6), "005000");
    assert.match(body.split("\n")[0], /run started by candidate/);
    await full.close();
    await candidate.close();
    await interviewer.close();
  });

  test("a failed run is in the failure colour; a silent run shows it is running", async () => {
    const session = await createSession(server, {
      environment: "python",
      code: "import time, sys\ntime.sleep(1.5)\nsys.exit(1)\n",
    });
    const page = await openSession(context, session.candidateUrl);
    await page.click("#run");
    await page.waitForFunction(() => /^running · \d+\.\d s$/.test(document.querySelector("#run-state").textContent));
    const first = await page.textContent("#run-state");
    await page.waitForFunction(
      (t) => {
        const now = document.querySelector("#run-state").textContent;
        return now.startsWith("running") && now !== t;
      },
      first,
      { timeout: 10_000 },
    );
    await screenshot(page, "console-running");
    await waitForConsole(page, "exit code 1");
    const end = page.locator("#console .run-end").last();
    assert.match(await end.getAttribute("class"), /outcome-failed/);
    const color = (sel) =>
      page
        .locator(sel)
        .first()
        .evaluate((e) => getComputedStyle(e).color);
    const danger = await page.evaluate(() => {
      const probe = document.createElement("span");
      probe.style.color = "var(--danger)";
      document.body.append(probe);
      const c = getComputedStyle(probe).color;
      probe.remove();
      return c;
    });
    assert.equal(await color("#console .run-end"), danger);
    assert.equal(await page.textContent("#run-state"), "exit code 1");
    assert.equal(await color("#run-state"), danger);
    await screenshot(page, "console-failed");
    await page.close();
  });

  test("a program waiting on input(): Run's focus moves to stdin, and keys typed in the console reach it", async () => {
    const session = await createSession(server, {
      environment: "python",
      code: 'name = input()\nprint("hello", name)\nprint("again", input())\n',
    });
    const page = await openSession(context, session.candidateUrl);
    await page.click("#run");
    await page.waitForFunction(() => document.activeElement?.id === "stdin", null, { timeout: 20_000 });
    await page.keyboard.type("Ada");
    await page.keyboard.press("Enter");
    await waitForConsole(page, "hello Ada");
    // Focus on the console: typing there goes to the program too.
    await page.focus("#console");
    await page.keyboard.type("Bob");
    await page.keyboard.press("Enter");
    await waitForConsole(page, "again Bob");
    await waitForConsole(page, "exit code 0");
    // The stdin box closed with the run: focus is back on Run.
    await page.waitForFunction(() => document.activeElement?.id === "run");

    // Ctrl+Enter from the editor: the editor keeps its focus.
    await page.click(".cm-content");
    await page.keyboard.press("ControlOrMeta+Enter");
    await page.waitForFunction(() => !document.querySelector("#stdin").disabled);
    assert.ok(await page.evaluate(() => document.activeElement.closest(".cm-editor") !== null));
    await page.click("#stop");
    await waitForConsole(page, "killed");
    await page.close();
  });
});
