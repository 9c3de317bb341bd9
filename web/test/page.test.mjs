// The page's frame: the top bar at 1280, 768 and 390 px with every control reachable (on screen
// and not covered), resizable and collapsible panes remembered across a reload, the embed's
// layouts, the landing page's links and operator form, the page's small fixes, and axe-core's
// serious and critical findings on every page.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  api,
  axeViolations,
  createSession,
  fixture,
  newContext,
  openSession,
  screenshot,
  startServer,
  until,
} from "./support.mjs";

/** The controls of `selectors` that are hidden, off-screen or covered where a click would land. */
async function unreachable(page, selectors) {
  return page.evaluate((selectors) => {
    const bad = [];
    for (const sel of selectors) {
      const node = document.querySelector(sel);
      if (!node) {
        bad.push(`${sel}: missing`);
        continue;
      }
      const r = node.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) {
        bad.push(`${sel}: not shown`);
        continue;
      }
      const x = r.left + r.width / 2;
      const y = r.top + r.height / 2;
      if (r.left < 0 || r.top < 0 || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5) {
        bad.push(`${sel}: off-screen ${JSON.stringify(r)}`);
        continue;
      }
      const top = document.elementFromPoint(x, y);
      if (!top || !(node === top || node.contains(top))) bad.push(`${sel}: covered by ${top?.outerHTML.slice(0, 80)}`);
    }
    return bad;
  }, selectors);
}

const PRIMARY = ["#run", "#stop", "#environment-select", "#participants .role-candidate", "#connection", "#timer"];
const SECONDARY = ["#replay-toggle", "#end-session", "#settings-toggle", "#theme-toggle"];

describe("page frame", () => {
  let f;
  let context;
  let question;

  before(async () => {
    f = await fixture();
    context = await newContext(f.browser);
    question = await api(f.server, "POST", "/questions", {
      body: {
        title: "Echo",
        prompt: "Print what you read.\n\n```\nline one\n    line two\n```\n\nAn inline `word`.",
        starters: { python: "print(input())\n" },
        cases: [
          { name: "spaces", stdin: "a  b\n", expected: "a b\n" },
          { name: "plain", stdin: "x\n", expected: "x\n" },
        ],
      },
    });
  });

  after(async () => {
    await context?.close();
  });

  test("the top bar at 1280 (three participants, the candidate away), 768 and 390 px: every control reachable", async () => {
    const session = await createSession(f.server, {
      environment: "python",
      question: question.question_id,
      label: "A rather long label for this interview",
    });
    const candidate = await openSession(context, session.candidateUrl + "&name=Candidate%20With%20A%20Long%20Name");
    const interviewer = await openSession(context, session.interviewerUrl + "&name=First%20Interviewer");
    const second = await openSession(context, session.interviewerUrl + "&name=Second%20Interviewer");
    await candidate.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await interviewer.waitForSelector("#participants .role-candidate .paway", { timeout: 20_000 });
    await until("three chips", async () => (await interviewer.locator("#participants li").count()) === 3);
    // The candidate comes first.
    assert.ok((await interviewer.getAttribute("#participants li:first-child", "class")).includes("role-candidate"));
    // The clock says what it counts.
    assert.match(await interviewer.textContent("#timer"), /idle ends in \d\d:\d\d/);
    assert.match(await interviewer.getAttribute("#timer", "title"), /not a time limit for the interview/);

    for (const width of [1280, 768, 390]) {
      await interviewer.setViewportSize({ width, height: width === 390 ? 844 : 800 });
      await interviewer.waitForTimeout(200);
      const wide = width > 960;
      assert.deepEqual(
        await unreachable(interviewer, [...PRIMARY, "#participants .role-candidate .paway"]),
        [],
        `at ${width}`,
      );
      assert.equal(
        await interviewer.evaluate(() => document.documentElement.scrollWidth),
        width,
        `no sideways scroll at ${width}`,
      );
      if (wide) {
        assert.deepEqual(await unreachable(interviewer, SECONDARY), [], `at ${width}`);
        assert.equal(await interviewer.isVisible("#more-actions"), false);
      } else {
        // Folded behind ⋯, each reachable once it opens.
        assert.equal(await interviewer.isVisible("#replay-toggle"), false);
        await interviewer.click("#more-actions");
        assert.deepEqual(await unreachable(interviewer, SECONDARY), [], `menu at ${width}`);
        await screenshot(interviewer, `topbar-menu-${width}`);
        await interviewer.click("#settings-toggle");
        assert.deepEqual(await unreachable(interviewer, ["#settings-keymap"]), [], `settings at ${width}`);
        // One Escape closes the settings, the next the menu, back to its button.
        await interviewer.keyboard.press("Escape");
        assert.equal(await interviewer.isVisible("#settings-menu"), false);
        assert.equal(await interviewer.isVisible("#replay-toggle"), true);
        await interviewer.keyboard.press("Escape");
        await until("the menu to close", async () => !(await interviewer.isVisible("#replay-toggle")));
        assert.equal(await interviewer.evaluate(() => document.activeElement?.id), "more-actions");
      }
      await screenshot(interviewer, `topbar-${width}`);
    }
    await interviewer.setViewportSize({ width: 1280, height: 800 });
    for (const p of [candidate, interviewer, second]) await p.close();
  });

  test("panes: drag a splitter, the size survives a reload; collapse and restore", async () => {
    const session = await createSession(f.server, { environment: "python", question: question.question_id });
    const page = await openSession(context, session.interviewerUrl);
    await page.waitForSelector("#question-title");
    const width = (sel) => page.evaluate((s) => document.querySelector(s).getBoundingClientRect().width, sel);
    const before = await width("#question");
    // The splitter is laid out a moment after the question's title shows: wait for it, as a
    // box read too early is null.
    const splitter = page.locator("#split-question .splitter-handle");
    await splitter.waitFor({ state: "visible" });
    const handle = await splitter.boundingBox();
    const y = handle.y + handle.height * 0.8;
    await page.mouse.move(handle.x + handle.width / 2, y);
    await page.mouse.down();
    await page.mouse.move(handle.x + 120, y, { steps: 5 });
    await page.mouse.move(handle.x + 150, y, { steps: 5 });
    await page.mouse.up();
    const dragged = await width("#question");
    assert.ok(Math.abs(dragged - (before + 150)) < 12, `dragged from ${before} to ${dragged}`);
    await page.reload();
    await page.waitForSelector("#question-title");
    await until("the remembered width", async () => Math.abs((await width("#question")) - dragged) < 2);
    // The console side: by keyboard.
    const side = await width(".side");
    await page.focus("#split-side .splitter-handle");
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    assert.ok((await width(".side")) > side + 40, "arrow keys widen the console");
    // Collapse the question; the editor takes its room; a reload keeps it collapsed.
    const editor = await width(".editor-pane");
    await page.click("#toggle-question");
    assert.equal(await page.isVisible("#question"), false);
    assert.ok((await width(".editor-pane")) > editor + 100);
    assert.equal(await page.getAttribute("#toggle-question", "aria-expanded"), "false");
    await page.reload();
    await page.waitForFunction(() => window.__livecode?.online, null, { timeout: 15_000 });
    await page.waitForSelector("#question", { state: "attached" });
    await until(
      "collapsed after reload",
      async () => (await page.getAttribute("#toggle-question", "aria-expanded")) === "false",
    );
    assert.equal(await page.isVisible("#question"), false);
    await page.click("#toggle-question");
    await page.waitForSelector("#question-title", { state: "visible" });
    assert.ok(Math.abs((await width("#question")) - dragged) < 2, "restored at its size");
    // Sizes remembered from a wide window, in a narrow one: the panes give way, the editor stays.
    await page.evaluate(() =>
      localStorage.setItem("livecode.panes.page", JSON.stringify({ question: { width: 700 }, side: { width: 700 } })),
    );
    await page.setViewportSize({ width: 900, height: 700 });
    await page.reload();
    await page.waitForSelector("#question-title");
    await until("the layout to settle", async () => (await width("#question")) > 0);
    assert.ok((await width(".editor-pane")) >= 160, `editor ${await width(".editor-pane")}`);
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 900);
    assert.ok(
      await page.evaluate(() => document.querySelector(".side").getBoundingClientRect().right <= innerWidth + 0.5),
      "the console stays on screen",
    );
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.evaluate(() => localStorage.removeItem("livecode.panes.page"));
    await page.close();
  });

  test("embed layouts in a 600×360 frame: the editor keeps its room", async () => {
    const session = await createSession(f.server, { environment: "python", question: question.question_id });
    const ctx = await newContext(f.browser, { width: 600, height: 360 });
    const open = async (hash) => {
      const page = await ctx.newPage();
      await page.goto(`${f.server.url}${session.embedPath}${hash}`);
      await page.waitForFunction(() => window.__livecode?.online && window.__livecode.text() !== null, null, {
        timeout: 15_000,
      });
      await page.waitForSelector(".session-page.has-question");
      return page;
    };
    const lines = (page) =>
      page.evaluate(() => Math.floor(document.querySelector(".cm-scroller").getBoundingClientRect().height / 19));
    // The default, in a frame this small, starts with the question folded away.
    const plain = await open("");
    assert.equal(await plain.isVisible("#question"), false);
    assert.ok((await lines(plain)) >= 8, `editor lines: ${await lines(plain)}`);
    // Its toggle names it, and brings it back.
    assert.match(await plain.textContent("#toggle-question"), /Question/);
    await plain.click("#toggle-question");
    await plain.waitForSelector("#question-title", { state: "visible" });
    await plain.click("#toggle-question");
    await screenshot(plain, "embed-600x360");
    // no-question: no pane, no toggle.
    const none = await open("&layout=no-question");
    assert.equal(await none.isVisible("#question"), false);
    assert.equal(await none.isVisible("#toggle-question"), false);
    // console-below at a wide frame still stacks.
    await none.close();
    const below = await open("&layout=console-below");
    await below.setViewportSize({ width: 1000, height: 700 });
    const [ed, cons] = await below.evaluate(() =>
      [".editor-pane", ".side"].map((s) => document.querySelector(s).getBoundingClientRect()),
    );
    assert.ok(cons.top >= ed.bottom - 1, "the console is below the editor");
    assert.ok(ed.width > 900);
    await ctx.close();
  });

  test("fixes: a fenced block is one block, result rows keep their marker, whitespace diffs show, /environments once", async () => {
    const session = await createSession(f.server, { environment: "python", question: question.question_id });
    const page = await context.newPage();
    const envFetches = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname === "/api/v1/environments") envFetches.push(r.url());
    });
    await page.goto(session.interviewerUrl);
    await page.waitForFunction(() => window.__livecode?.online && window.__livecode.text() !== null);
    await page.waitForSelector("#question-prompt pre code");
    const block = await page.evaluate(() => {
      const code = document.querySelector("#question-prompt pre code");
      const s = getComputedStyle(code);
      return { display: s.display, border: s.borderTopWidth, rects: code.getClientRects().length };
    });
    assert.deepEqual(block, { display: "block", border: "0px", rects: 1 });
    // "a  b" prints "a  b", the case wants "a b": a difference of one space.
    await page.click("#run-tests");
    // The report replaces the rows streamed meanwhile: wait for it.
    await page.waitForSelector('#test-summary[data-state="failed"]', { timeout: 60_000 });
    const marker = await page.evaluate(
      () => getComputedStyle(document.querySelector(".test-case summary"), "::before").content,
    );
    assert.equal(marker, '"▸"');
    await page.click('.test-case[data-name="spaces"] summary');
    const diff = await page.textContent('.test-case[data-name="spaces"] .case-diff');
    assert.ok(diff.includes("− a·b⏎") && diff.includes("+ a··b⏎"), diff);
    assert.match(await page.textContent('.test-case[data-name="spaces"] .ws-note'), /Only whitespace differs/);
    assert.equal(
      await page.evaluate(
        () => getComputedStyle(document.querySelector('.test-case[data-name="spaces"] summary'), "::before").content,
      ),
      '"▾"',
    );
    assert.equal(envFetches.length, 1, envFetches.join(", "));
    await screenshot(page, "whitespace-diff");
    await page.close();
  });

  test("a link pasted into the same tab (hashchange) loads that session with its token", async () => {
    const one = await createSession(f.server, { environment: "python", code: "print('one')\n" });
    const page = await openSession(context, one.interviewerUrl);
    assert.equal(await page.evaluate(() => window.__livecode.role), "interviewer");
    await page.evaluate((hash) => (location.hash = hash), new URL(one.candidateUrl).hash);
    await until(
      "the candidate's view",
      async () => {
        const role = await page.evaluate(() => window.__livecode?.online && window.__livecode.role).catch(() => null);
        return role === "candidate";
      },
      20_000,
    );
    await page.close();
  });

  test("the landing page: the new session's two labelled links", async () => {
    const page = await context.newPage();
    await page.goto(f.server.url + "/");
    await page.waitForSelector("#new-session");
    assert.equal(await page.getAttribute("#docs-link", "href"), "/docs");
    assert.match(
      await page.textContent("#hidden-cases-note"),
      /hidden test cases are shown only to the API key and to the interviewers/,
    );
    await Promise.all([page.waitForURL(/\/s\/[0-9a-f-]+#token=/), page.click("#create")]);
    await page.waitForFunction(() => window.__livecode?.online, null, { timeout: 15_000 });
    const text = await page.textContent(".linkbar");
    assert.match(text, /Candidate's link/);
    assert.match(text, /Yours:.*private/);
    assert.equal(await page.inputValue("#interviewer-link"), page.url());
    assert.notEqual(await page.inputValue("#candidate-link"), page.url());
    await page.close();
  });

  test("axe: no serious or critical violation on the landing, candidate, interviewer, replay and embed pages", async () => {
    const session = await createSession(f.server, { environment: "python", question: question.question_id });
    const found = {};
    const landing = await context.newPage();
    await landing.goto(f.server.url + "/");
    await landing.waitForSelector("#new-session");
    found.landing = await axeViolations(landing);
    const candidate = await openSession(context, session.candidateUrl);
    await candidate.waitForSelector("#question-title");
    found.candidate = await axeViolations(candidate);
    const interviewer = await openSession(context, session.interviewerUrl);
    await interviewer.waitForSelector("#question-title");
    // The candidate away, so the badge is checked too.
    await candidate.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await interviewer.waitForSelector("#participants .paway", { timeout: 20_000 });
    // Results on the page too (the starter waits for stdin, so Run tests rather than Run).
    await interviewer.click("#run-tests");
    await interviewer.waitForSelector('.test-case[data-name="plain"]', { timeout: 60_000 });
    found.interviewer = await axeViolations(interviewer);
    await interviewer.evaluate(() => document.querySelector("#theme-toggle").click());
    found["interviewer (dark)"] = await axeViolations(interviewer);
    await interviewer.evaluate(() => document.querySelector("#theme-toggle").click());
    await interviewer.click("#replay-toggle");
    await interviewer.waitForFunction(() => window.__livecode.replayText() !== null, null, { timeout: 15_000 });
    found.replay = await axeViolations(interviewer);
    const embed = await context.newPage();
    await embed.goto(f.server.url + session.embedPath);
    await embed.waitForFunction(() => window.__livecode?.online && window.__livecode.text() !== null);
    found.embed = await axeViolations(embed);
    const failing = Object.fromEntries(Object.entries(found).filter(([, v]) => v.length > 0));
    assert.deepEqual(failing, {}, JSON.stringify(failing, null, 1));
    for (const p of [landing, candidate, interviewer, embed]) await p.close();
  });
});

describe("landing page with an API key", () => {
  const KEY = "operator-key-for-tests-0123456789abcdef";
  let server;
  let f;
  let context;

  before(async () => {
    f = await fixture();
    server = await startServer({ env: { LIVECODE_API_KEY: KEY } });
    context = await newContext(f.browser);
  });

  after(async () => {
    await context?.close();
    await server?.stop();
  });

  test("the operator form: a key kept in session storage, a question written here, a session with it, both links", async () => {
    const page = await context.newPage();
    await page.goto(server.url + "/");
    await page.waitForSelector("#operator-key");
    // Without the key the server refuses, and the page says so.
    await page.fill("#api-key", "wrong");
    await page.click("#save-key");
    await until("the refusal", async () =>
      /Could not list the questions: .*UNAUTHORIZED/.test(await page.textContent("#form-status")),
    );
    await page.fill("#api-key", KEY);
    await page.click("#save-key");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("livecode.apiKey")), KEY);
    // A question, written in the page.
    await page.click("#question-editor-box summary");
    await page.fill("#q-title", "Double it");
    await page.fill("#q-prompt", "Print twice the number.");
    await page.fill("#q-starter", "print(int(input()) * 2)\n");
    await page.fill("#q-cases .case-stdin", "21");
    await page.fill("#q-cases .case-expected", "42");
    await page.click("#q-add-case");
    await page.fill("#q-cases .q-case:nth-child(2) .case-stdin", "1");
    await page.fill("#q-cases .q-case:nth-child(2) .case-expected", "2");
    await page.check("#q-cases .q-case:nth-child(2) .case-hidden");
    await page.click("#q-create");
    await until("the question saved", async () => /Saved “Double it”/.test(await page.textContent("#q-status")));
    const listed = await api(server, "GET", "/questions", { token: KEY });
    const q = listed.find((x) => x.title === "Double it");
    assert.ok(q, JSON.stringify(listed));
    assert.deepEqual(
      q.cases.map((c) => [c.stdin, c.expected, c.hidden]),
      [
        ["21\n", "42\n", false],
        ["1\n", "2\n", true],
      ],
    );
    assert.equal(q.starters.python, "print(int(input()) * 2)\n");
    // It is offered for a new session; the reload keeps the key (this tab's storage).
    await page.reload();
    await until(
      "the question offered",
      async () => (await page.locator(`#question option[value="${q.question_id}"]`).count()) === 1,
    );
    await page.selectOption("#question", q.question_id);
    await page.click("#create");
    await page.waitForSelector("#session-links", { timeout: 30_000 });
    const candidateUrl = await page.inputValue("#candidate-link");
    const interviewerUrl = await page.inputValue("#interviewer-link");
    assert.match(await page.textContent("#session-links"), /Candidate's link.*Your link \(private\)/s);
    assert.notEqual(candidateUrl, interviewerUrl);
    await screenshot(page, "landing-operator");
    const candidate = await openSession(context, candidateUrl);
    assert.equal(await candidate.evaluate(() => window.__livecode.role), "candidate");
    await candidate.waitForSelector("#question-title");
    assert.equal(await candidate.textContent("#question-title"), "Double it");
    await candidate.close();
    await page.close();
  });
});
