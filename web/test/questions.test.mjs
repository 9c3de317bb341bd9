// Questions in the page: the prompt beside the editor, Run tests from the page, each case's
// result; the candidate sees the hidden cases only as a count, the interviewer sees every case
// with a diff of expected and actual output.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { api, createSession, fixture, newContext, openSession, screenshot, until } from "./support.mjs";

describe("questions", () => {
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

  test("the candidate runs the tests and sees counts of hidden ones; the interviewer sees diffs", async () => {
    const question = await api(server, "POST", "/questions", {
      body: {
        title: "Sum of two",
        prompt: "Read **two** integers and print their sum.\n\n<script>alert(1)</script>",
        starters: { python: "a, b = map(int, input().split())\nprint(a + b)\n" },
        cases: [
          { name: "small", stdin: "1 2\n", expected: "3\n" },
          { name: "off by one", stdin: "2 2\n", expected: "5\n" },
          { name: "secret-big", stdin: "40 2\n", expected: "42\n", hidden: true },
          { name: "secret-wrong", stdin: "1 1\n", expected: "SECRET\n", hidden: true },
        ],
      },
    });
    const session = await createSession(server, { environment: "python", question: question.question_id });
    const candidate = await openSession(context, session.candidateUrl);
    const interviewer = await openSession(context, session.interviewerUrl);
    for (const page of [candidate, interviewer]) {
      await page.waitForSelector("#question-title");
      assert.equal(await page.textContent("#question-title"), "Sum of two");
      // The prompt is Markdown; its HTML stays text.
      assert.equal(await page.textContent("#question-prompt strong"), "two");
      assert.equal(await page.locator("#question-prompt script").count(), 0);
    }
    assert.equal(await candidate.evaluate(() => window.__livecode.text()), question.starters.python);
    // The candidate's list has no hidden case; the interviewer's has them all.
    assert.equal(await candidate.locator("#question-cases li").count(), 2);
    assert.ok((await candidate.textContent("#question")).includes("2 hidden tests"));
    assert.ok(!(await candidate.textContent("#question")).includes("secret"));
    assert.equal(await interviewer.locator("#question-cases li").count(), 4);

    await candidate.click("#run-tests");
    for (const page of [candidate, interviewer]) {
      await until(
        "the test report",
        async () => /passed/.test((await page.textContent("#test-summary")) ?? ""),
        60_000,
      );
    }
    assert.equal(await candidate.textContent("#test-summary"), "2/4 passed · hidden: 1/2 passed");
    // Once the tests are done, the page runs code again.
    await until("Run again", async () => (await candidate.textContent("#run")) === "▶ Run");
    const verdicts = (page) =>
      page.$$eval("#test-results .test-case", (rows) => rows.map((r) => `${r.dataset.name}:${r.dataset.verdict}`));
    assert.deepEqual(await verdicts(candidate), ["small:passed", "off by one:failed"]);
    assert.ok(!(await candidate.textContent("#test-results")).includes("secret"));
    assert.deepEqual(await verdicts(interviewer), [
      "small:passed",
      "off by one:failed",
      "secret-big:passed",
      "secret-wrong:failed",
    ]);
    // The interviewer opens a hidden failure: expected and actual, as a diff.
    const wrong = interviewer.locator('.test-case[data-name="secret-wrong"]');
    await wrong.locator("summary").click();
    assert.equal(await wrong.locator(".diff-del").textContent(), "− SECRET\n");
    assert.equal(await wrong.locator(".diff-add").textContent(), "+ 2\n");
    await screenshot(interviewer, "question-interviewer");
    await candidate.locator('.test-case[data-name="off by one"] summary').click();
    await screenshot(candidate, "question-candidate");
    // A page opened later shows the last report.
    const late = await openSession(context, session.candidateUrl);
    await until("the stored report", async () => ((await late.textContent("#test-summary")) ?? "").includes("2/4"));
    await late.close();
    await candidate.close();
    await interviewer.close();
  });

  test("a session without a question has no question panel", async () => {
    const session = await createSession(server, { environment: "python", code: "" });
    const page = await openSession(context, session.candidateUrl);
    await page.waitForTimeout(500);
    assert.equal(await page.locator("#question").isVisible(), false);
    assert.equal(await page.locator("#run-tests").isVisible(), false);
    await page.close();
  });
});
