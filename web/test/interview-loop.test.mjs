// A whole interview in the page, as the four parts make it together: a two-question template
// with a lobby (its default), the interview clock and each question's time, moves between the
// questions, and the interviewer's scorecard against the template's rubric; then a take-home
// made from the same kind of template, from the candidate's first open through both questions
// to Submit, and the interviewer's review of it with the reports kept per question.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  api,
  createSession,
  fixture,
  newContext,
  openSession,
  screenshot,
  sleep,
  typeInEditor,
  until,
  waitSynced,
} from "./support.mjs";

/** Two questions, the second one's title a marker the candidate must not see too early. */
async function twoQuestions(server, tag) {
  const first = await api(server, "POST", "/questions", {
    body: {
      title: `Reverse ${tag}`,
      prompt: "Read a line and print it reversed.",
      starters: { python: "s = input()\n" },
      cases: [{ name: "abc", stdin: "abc\n", expected: "cba\n" }],
    },
  });
  const second = await api(server, "POST", "/questions", {
    body: {
      title: `Unreached-${tag}`,
      prompt: "Print the sum of two integers.",
      starters: { python: "a, b = map(int, input().split())\n" },
      cases: [{ name: "sum", stdin: "1 2\n", expected: "3\n" }],
    },
  });
  return [first, second];
}

const steps = (page) => page.locator("#question-steps li").count();
const text = (page) => page.evaluate(() => window.__livecode.text());

describe("an interview loop", () => {
  let server;
  let browser;
  let context;

  before(async () => {
    ({ server, browser } = await fixture());
    context = await newContext(browser, { width: 1600, height: 900 });
  });

  after(async () => {
    await context?.close();
  });

  test("a two-question template with a lobby, the clock and a scorecard", async () => {
    const [first, second] = await twoQuestions(server, "loop");
    const template = await api(server, "POST", "/templates", {
      body: {
        name: "Onsite, two questions",
        questions: [{ question_id: first.question_id, minutes: 20 }, { question_id: second.question_id }],
        lobby: true,
        rubric: {
          criteria: [
            { name: "Algorithms", scale: { min: 1, max: 4 } },
            { name: "Clarity", description: "Explains the approach", scale: { min: 1, max: 4 } },
          ],
        },
      },
    });
    assert.equal(template.lobby, true);
    const session = await createSession(server, { environment: "python", template: template.template_id });
    assert.equal(session.interview.stage, "waiting", "the template's lobby is the session's default");

    // The candidate waits; the interviewer prepares question 1's code.
    const candidate = await context.newPage();
    await candidate.goto(session.candidateUrl);
    await candidate.waitForSelector("#lobby-screen:not([hidden])");
    const interviewer = await openSession(context, session.interviewerUrl);
    await interviewer.waitForSelector("#start-interview:not([hidden])");
    await until(
      "question 1 for the interviewer",
      async () => (await interviewer.textContent("#question-title")) === "Reverse loop",
    );
    await typeInEditor(interviewer, "s = input()\nprint(s[::-1])\n");
    await waitSynced(interviewer);
    const waiting = await candidate.content();
    for (const secret of ["Reverse loop", "Unreached-loop", "print(s[::-1])"]) {
      assert.ok(!waiting.includes(secret), `the lobby shows nothing of ${secret}`);
    }

    // Start: the candidate gets question 1 (not 2), its code, the interview clock and the
    // question's time.
    await interviewer.click("#start-interview");
    await candidate.waitForSelector("#lobby-screen", { state: "hidden" });
    await until(
      "the candidate's code",
      async () => (await text(candidate)) === "s = input()\nprint(s[::-1])\n",
      15_000,
    );
    await until(
      "question 1 for the candidate",
      async () => (await candidate.textContent("#question-title")) === "Reverse loop",
    );
    for (const page of [candidate, interviewer]) {
      await until("the interview clock", async () =>
        /^Interview \d\d:\d\d/.test(await page.textContent("#interview-clock")),
      );
      assert.match((await page.textContent("#question-time")) ?? "", /^(19|20):\d\d left$/);
    }
    assert.equal(await steps(candidate), 1);
    assert.ok(!(await candidate.content()).includes("Unreached-loop"));

    // Next: both are on question 2.
    await interviewer.click("#question-next");
    await until(
      "question 2 for the candidate",
      async () => (await candidate.textContent("#question-title")) === "Unreached-loop",
    );
    assert.equal(await steps(candidate), 2);

    // The interviewer's scorecard, against the template's rubric; the candidate has none.
    const rows = interviewer.locator(".scorecard-panel fieldset.criterion");
    await until("the template's two criteria", async () => (await rows.count()) === 2);
    for (let i = 0; i < 2; i += 1) {
      await rows.nth(i).locator('input[type=radio][value="3"]').check();
      await rows.nth(i).locator(".criterion-comment").fill(`criterion ${i}`);
    }
    await interviewer.selectOption("#scorecard-recommendation", "yes");
    await screenshot(interviewer, "interview-loop-interviewer");
    await interviewer.click("#scorecard-submit");
    await until("submitted", async () => (await interviewer.textContent("#scorecard-state")) === "submitted");
    const cards = await api(server, "GET", `/sessions/${session.session_id}/scorecards`, {
      token: session.interviewer_token,
    });
    assert.deepEqual(
      cards.rubric.criteria.map((c) => c.name),
      ["Algorithms", "Clarity"],
    );
    assert.equal(cards.scorecards[0].state, "submitted");
    assert.equal(await candidate.isVisible(".scorecard-panel"), false);
    assert.ok(
      !(await candidate.content()).includes("criterion 0"),
      "nothing of the scorecard is in the candidate's page",
    );
    await screenshot(candidate, "interview-loop-candidate");
    assert.deepEqual(context.pageErrors, []);
  });

  test("a two-question take-home from first open to Submit, and its review", async () => {
    const [first, second] = await twoQuestions(server, "home");
    const template = await api(server, "POST", "/templates", {
      body: {
        name: "Take-home, two questions",
        questions: [{ question_id: first.question_id }, { question_id: second.question_id }],
      },
    });
    const session = await createSession(server, {
      environment: "python",
      template: template.template_id,
      mode: "take_home",
      time_limit_minutes: 60,
      expires_at: new Date(Date.now() + 24 * 3600_000).toISOString(),
    });
    assert.equal(session.interview.stage, "waiting", "the clock waits for the first open");

    // First open: the clock starts; the candidate answers both questions, moving alone.
    const candidate = await openSession(context, session.candidateUrl);
    await until("the time left", async () =>
      /^(59:\d\d|1:00:00) left$/.test(await candidate.textContent("#interview-clock")),
    );
    await until("question 1", async () => (await candidate.textContent("#question-title")) === "Reverse home");
    await typeInEditor(candidate, "s = input()\nprint(s[::-1])\n");
    await waitSynced(candidate);
    await candidate.click("#question-next");
    await until("question 2", async () => (await candidate.textContent("#question-title")) === "Unreached-home");
    await until("its starter", async () => (await text(candidate)) === "a, b = map(int, input().split())\n");
    await typeInEditor(candidate, "a, b = map(int, input().split())\nprint(a + b)\n");
    await waitSynced(candidate);
    await screenshot(candidate, "take-home-template-candidate");

    candidate.once("dialog", (dialog) => void dialog.accept());
    await candidate.click("#submit-take-home");
    await until("the submitted banner", async () => /Submitted/.test((await candidate.textContent("#banner")) ?? ""));

    // Each question's tests ran once more against its own code, kept under that question.
    for (const q of [first, second]) {
      const reports = await until(
        `the report of ${q.title}`,
        async () => {
          const got = await api(server, "GET", `/sessions/${session.session_id}/tests?question=${q.question_id}`, {
            token: session.interviewer_token,
          });
          return got.tests.length >= 1 ? got : null;
        },
        90_000,
      );
      const last = reports.tests[reports.tests.length - 1];
      assert.equal(last.passed, 1, `${q.title} passed on its own code`);
    }

    // The interviewer's review: submitted, both questions, the replay, a scorecard.
    const interviewer = await openSession(context, session.interviewerUrl);
    await until("the submitted banner", async () => /Submitted/.test((await interviewer.textContent("#banner")) ?? ""));
    assert.equal(await steps(interviewer), 2);
    await interviewer.click("#replay-toggle");
    await until(
      "replay open",
      async () => (await interviewer.getAttribute("#replay-toggle", "aria-pressed")) === "true",
    );
    await sleep(500);
    await screenshot(interviewer, "take-home-template-review");
    const events = await api(server, "GET", `/sessions/${session.session_id}/events`, {
      token: session.interviewer_token,
    });
    const submitted = events.events.find((e) => e.type === "session.submitted");
    assert.equal(submitted?.data.tests.length, 2, "both questions were tested at the submission");
    assert.deepEqual(context.pageErrors, []);
  });
});
