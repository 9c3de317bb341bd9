// A template's questions in the page: the interviewer's navigator moves through a
// two-question template; the candidate sees question 2 only once it is reached; question 1's
// code comes back on going back; a question with a time shows its time left.

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
  until,
  waitSynced,
} from "./support.mjs";

describe("templates", () => {
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

  test("the interviewer moves through two questions; the candidate sees each once reached", async () => {
    const first = await api(server, "POST", "/questions", {
      body: {
        title: "Reverse a string",
        prompt: "Read a line and print it **reversed**.",
        starters: { python: "print(input()[::-1])\n" },
        cases: [{ name: "abc", stdin: "abc\n", expected: "cba\n" }],
      },
    });
    const second = await api(server, "POST", "/questions", {
      body: {
        title: "Second-question-title",
        prompt: "Not yet for the candidate.",
        starters: { python: "print('second')\n" },
        cases: [{ name: "second-case", expected: "second\n" }],
      },
    });
    const template = await api(server, "POST", "/templates", {
      body: {
        name: "Onsite loop",
        questions: [{ question_id: first.question_id, minutes: 20 }, { question_id: second.question_id }],
      },
    });
    const session = await createSession(server, { environment: "python", template: template.template_id });
    const interviewer = await openSession(context, session.interviewerUrl);
    const candidate = await openSession(context, session.candidateUrl);
    for (const page of [interviewer, candidate]) {
      await page.waitForSelector("#question-nav:not([hidden])");
      await until("question 1", async () => (await page.textContent("#question-title")) === "Reverse a string");
      assert.equal(await page.textContent("#question-count"), "Question 1 of 2");
      assert.match((await page.textContent("#question-time")) ?? "", /^(19|20):\d\d left$/);
    }
    // The interviewer sees both questions; the candidate only the first, and nothing of the second.
    assert.equal(await interviewer.locator("#question-steps li").count(), 2);
    assert.equal(await candidate.locator("#question-steps li").count(), 1);
    assert.ok(!(await candidate.content()).includes("Second-question-title"));
    assert.equal(await candidate.locator("#question-next").count(), 0);
    await screenshot(interviewer, "template-interviewer");

    // The candidate writes question 1's code.
    await typeInEditor(candidate, "print('mine')");
    await waitSynced(candidate);

    // Next: everyone is on question 2, with its starter.
    await interviewer.click("#question-next");
    for (const page of [interviewer, candidate]) {
      await until("question 2", async () => (await page.textContent("#question-title")) === "Second-question-title");
      await until(
        "its starter",
        async () => (await page.evaluate(() => window.__livecode.text())) === "print('second')\n",
      );
      assert.equal(await page.textContent("#question-count"), "Question 2 of 2");
      assert.equal(await page.textContent("#question-time"), "", "question 2 has no time");
    }
    assert.equal(await candidate.locator("#question-steps li").count(), 2);
    await screenshot(candidate, "template-candidate");

    // Previous: question 1's code is back.
    await interviewer.click("#question-previous");
    for (const page of [interviewer, candidate]) {
      await until("question 1 again", async () => (await page.textContent("#question-title")) === "Reverse a string");
      await until("its code", async () => (await page.evaluate(() => window.__livecode.text())) === "print('mine')");
    }
    // Go-to from the list: question 2 again, with its starter (it was never edited).
    await interviewer.click('#question-steps button[data-index="1"]');
    await until(
      "question 2 by the list",
      async () => (await candidate.textContent("#question-title")) === "Second-question-title",
    );
  });
});
