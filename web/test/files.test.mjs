// The workspace's files as tabs: two people type into the same file at once and end with the
// server's text; a run uses the files as edited.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { createSession, fixture, newContext, openSession, screenshot, until, waitForConsole } from "./support.mjs";

describe("file tabs", () => {
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

  test("two browsers edit a second file at once and converge; runs use it", async () => {
    const session = await createSession(server, {
      environment: "python",
      code: "import helper\nprint(helper.words())\n",
      files: { "helper.py": "def words():\n    return ''\n# by\n" },
    });
    const candidate = await openSession(context, session.candidateUrl);
    const other = await newContext(browser);
    try {
      const interviewer = await openSession(other, session.interviewerUrl);
      for (const page of [candidate, interviewer]) {
        await page.waitForSelector('#file-tabs .file-tab[data-file="helper.py"]');
        await page.click('#file-tabs .file-tab[data-file="helper.py"]');
        await page.waitForSelector('.file-views .cm-editor[data-file="helper.py"]:not([hidden])');
      }
      assert.equal(await candidate.isVisible("#editor"), false, "the document's editor is behind its tab");
      // Both type into the file at the same time: one inside the string, one on the comment.
      const typeAt = async (page, line, inside, text) => {
        const content = page.locator('.file-views .cm-editor[data-file="helper.py"] .cm-content');
        await content.click();
        await page.keyboard.press("ControlOrMeta+Home");
        for (let i = 1; i < line; i++) await page.keyboard.press("ArrowDown");
        await page.keyboard.press("End");
        if (inside) await page.keyboard.press("ArrowLeft");
        await page.keyboard.type(text, { delay: 15 });
      };
      await Promise.all([typeAt(candidate, 2, true, "candidate"), typeAt(interviewer, 3, false, " interviewer")]);
      const text = (page) => page.evaluate(() => window.__livecode.fileText("helper.py"));
      await until("both pages to agree", async () => (await text(candidate)) === (await text(interviewer)), 15_000);
      await until(
        "everything confirmed",
        async () =>
          (await candidate.evaluate(() => window.__livecode.unconfirmed())) === 0 &&
          (await interviewer.evaluate(() => window.__livecode.unconfirmed())) === 0,
      );
      const final = await text(candidate);
      assert.equal(final, "def words():\n    return 'candidate'\n# by interviewer\n");
      // The server's copy is the same: a new page gets it in its welcome.
      const late = await openSession(other, session.candidateUrl);
      await late.waitForSelector('#file-tabs .file-tab[data-file="helper.py"]');
      assert.equal(await text(late), final);
      await late.close();
      await screenshot(candidate, "file-tabs");
      // A run uses the file as edited.
      await candidate.click("#file-tabs .file-tab:first-child");
      await candidate.click("#run");
      await waitForConsole(candidate, "exit code 0");
      // helper.words() as both edited it.
      assert.equal(await candidate.textContent("#console .out-stdout"), "candidate\n");
      await interviewer.close();
    } finally {
      await other.close();
    }
    await candidate.close();
  });
});
