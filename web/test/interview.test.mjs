// Interviews in the page: a lobby (the candidate waits on a screen that shows nothing of the
// session while the interviewer prepares the code, then Start gives them the code and the
// clock, which the interviewer can hide), and a take-home from the candidate's first open to
// their Submit (read-only after, with a "submitted" banner), then the interviewer's review.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  api,
  createSession,
  fixture,
  newContext,
  openSession,
  screenshot,
  typeInEditor,
  sleep,
  until,
  waitSynced,
} from "./support.mjs";

describe("interviews", () => {
  let server;
  let browser;
  let context;

  before(async () => {
    ({ server, browser } = await fixture());
    context = await newContext(browser, { width: 1400, height: 800 });
  });

  after(async () => {
    await context?.close();
  });

  test("the candidate waits in the lobby while the interviewer prepares, then Start shows them the code and the clock", async () => {
    const session = await createSession(server, { environment: "python", code: "", lobby: true });
    const candidate = await context.newPage();
    await candidate.goto(session.candidateUrl);
    await candidate.waitForSelector("#lobby-screen:not([hidden])");
    assert.match(await candidate.textContent("#lobby-screen"), /will start soon/);
    await screenshot(candidate, "interview-lobby-candidate");

    const interviewer = await openSession(context, session.interviewerUrl);
    await interviewer.waitForSelector("#start-interview:not([hidden])");
    await typeInEditor(interviewer, "print('prepared in the lobby')\n");
    await waitSynced(interviewer);
    assert.equal(await candidate.evaluate(() => window.__livecode.text()), null, "nothing reached the candidate");
    await screenshot(interviewer, "interview-lobby-interviewer");

    await interviewer.click("#start-interview");
    await candidate.waitForSelector("#lobby-screen", { state: "hidden" });
    await until(
      "the candidate has the code",
      async () => (await candidate.evaluate(() => window.__livecode.text())) === "print('prepared in the lobby')\n",
      15_000,
    );
    for (const page of [candidate, interviewer]) {
      await until("the clock runs", async () =>
        /^Interview \d\d:\d\d/.test(await page.textContent("#interview-clock")),
      );
    }
    assert.ok(await interviewer.isHidden("#start-interview"));
    await screenshot(candidate, "interview-started-candidate");

    // The interviewer hides the clock: the candidate's goes; theirs stays, marked.
    await interviewer.click("#clock-toggle");
    await until("hidden from the candidate", () => candidate.isHidden("#interview-clock"));
    // Theirs is redrawn on the clock's tick, up to a second later.
    await until("marked hidden for the interviewer", async () =>
      /hidden from the candidate/.test(await interviewer.textContent("#interview-clock")),
    );
    await screenshot(interviewer, "interview-clock-hidden-interviewer");
    assert.deepEqual(context.pageErrors, []);
  });

  test("a candidate's take-home from first open to Submit, and the interviewer's review of it", async () => {
    const question = await api(server, "POST", "/questions", {
      body: {
        title: "Sum of two",
        prompt: "Read two integers and print their sum.",
        starters: { python: "a, b = map(int, input().split())\n" },
        cases: [{ name: "small", stdin: "1 2\n", expected: "3\n" }],
      },
    });
    const expiresAt = new Date(Date.now() + 24 * 3600_000).toISOString();
    const session = await createSession(server, {
      environment: "python",
      question: question.question_id,
      mode: "take_home",
      time_limit_minutes: 90,
      expires_at: expiresAt,
    });
    assert.equal(session.interview.stage, "waiting");

    const candidate = await openSession(context, session.candidateUrl);
    await until("the time left", async () => / left$/.test(await candidate.textContent("#interview-clock")));
    assert.match(await candidate.textContent("#interview-clock"), /^1:29:\d\d left$/);
    await typeInEditor(candidate, "a, b = map(int, input().split())\nprint(a + b)\n");
    await waitSynced(candidate);
    await candidate.click("#run-tests");
    await until(
      "the test report",
      async () => /passed/.test((await candidate.textContent("#test-summary")) ?? ""),
      60_000,
    );
    await screenshot(candidate, "take-home-candidate");

    candidate.once("dialog", (dialog) => void dialog.accept());
    await candidate.click("#submit-take-home");
    await until("the submitted banner", async () => /Submitted/.test((await candidate.textContent("#banner")) ?? ""));
    assert.ok(await candidate.isHidden("#submit-take-home"));
    // Read-only: typing changes nothing.
    await candidate.click(".cm-content");
    await candidate.keyboard.type("# more");
    assert.equal(
      await candidate.evaluate(() => window.__livecode.text()),
      "a, b = map(int, input().split())\nprint(a + b)\n",
    );
    await screenshot(candidate, "take-home-submitted-candidate");

    // The interviewer's review: the submitted code, the stored report, the replay.
    const reports = await until(
      "the submission's tests",
      async () => {
        const got = await api(server, "GET", `/sessions/${session.session_id}/tests`, {
          token: session.interviewer_token,
        });
        return got.total >= 2 ? got : null;
      },
      60_000,
    );
    assert.equal(reports.tests[reports.tests.length - 1].passed, 1);
    const interviewer = await openSession(context, session.interviewerUrl);
    await until("the submitted banner", async () => /Submitted/.test((await interviewer.textContent("#banner")) ?? ""));
    assert.equal(
      await interviewer.evaluate(() => window.__livecode.text()),
      "a, b = map(int, input().split())\nprint(a + b)\n",
    );
    await interviewer.click("#replay-toggle");
    await until(
      "replay open",
      async () => (await interviewer.getAttribute("#replay-toggle", "aria-pressed")) === "true",
    );
    await sleep(500);
    await screenshot(interviewer, "take-home-review-interviewer");
    const events = await api(server, "GET", `/sessions/${session.session_id}/events`, {
      token: session.interviewer_token,
    });
    const submitted = events.events.find((e) => e.type === "session.submitted");
    assert.equal(submitted?.data.by, "candidate");
    assert.deepEqual(context.pageErrors, []);
  });
});
