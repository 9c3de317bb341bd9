// The editor candidates are at home in, and the console that renders what programs print:
// Vim's `dd`/`p`, completion of a language keyword, settings kept per browser, remote cursors
// named by role when nobody gave a name, and ANSI colours and `\r` progress lines.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  createSession,
  fixture,
  newContext,
  openSession,
  pageState,
  screenshot,
  serverDocument,
  typeInEditor,
  until,
  waitForConsole,
  waitSynced,
} from "./support.mjs";

describe("editor and console", () => {
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

  test("Vim mode: dd then p moves a line, and the server has the edit", async () => {
    const session = await createSession(server, { environment: "python", code: "first = 1\nsecond = 2\n" });
    const page = await openSession(context, session.candidateUrl);
    await page.click("#settings-toggle");
    await page.selectOption("#settings-keymap", "vim");
    await page.click(".cm-content");
    // Normal mode shows Vim's block cursor; go to the first line.
    await page.waitForSelector(".cm-vimMode, .cm-fat-cursor", { timeout: 5000 });
    await page.keyboard.press("Escape");
    await page.keyboard.type("gg");
    await page.keyboard.type("dd");
    await until("dd to cut the line", async () => (await pageState(page)).text === "second = 2\n");
    await page.keyboard.type("p");
    await until("p to put it below", async () => (await pageState(page)).text === "second = 2\nfirst = 1\n");
    await waitSynced(page);
    assert.equal((await serverDocument(server, session, { page })).text, "second = 2\nfirst = 1\n");
    // The choice is this browser's: a new page opens in Vim mode.
    const again = await openSession(context, session.candidateUrl);
    await again.click("#settings-toggle");
    assert.equal(await again.inputValue("#settings-keymap"), "vim");
    await again.selectOption("#settings-keymap", "default");
    await again.close();
    await page.close();
  });

  test("completion offers the language's keywords and the document's words", async () => {
    const session = await createSession(server, { environment: "python", code: "" });
    const page = await openSession(context, session.candidateUrl);
    await typeInEditor(page, "accumulator = 0\nwhi");
    const popup = page.locator(".cm-tooltip-autocomplete");
    await popup.waitFor({ timeout: 5000 });
    await until("the keyword 'while'", async () => (await popup.textContent()).includes("while"));
    await popup
      .locator(".cm-completionLabel", { hasText: /^while$/ })
      .first()
      .click();
    // Python's completion makes it a snippet (`while …:`); either way the keyword is in.
    await until("the keyword accepted", async () => /\nwhile\b/.test((await pageState(page)).text));
    // A word of the document.
    await page.keyboard.type(" accu");
    await until("the document's word", async () =>
      ((await popup.textContent().catch(() => "")) ?? "").includes("accumulator"),
    );
    await page.close();
    // Java's Lezer grammar lists no keywords; the page adds them.
    const java = await createSession(server, { environment: "java", code: "" });
    const javaPage = await openSession(context, java.candidateUrl);
    await until("the Java mode", async () => (await javaPage.evaluate(() => window.__livecode.language)) === "java");
    await typeInEditor(javaPage, "class A { void f() { synchro");
    const javaPopup = javaPage.locator(".cm-tooltip-autocomplete");
    await javaPopup.waitFor({ timeout: 5000 });
    await until("the keyword 'synchronized'", async () => (await javaPopup.textContent()).includes("synchronized"));
    await javaPage.close();
  });

  test("font size and tab width apply at once and are kept for the next page", async () => {
    const session = await createSession(server, { environment: "python", code: "if True:\n\tpass\n" });
    const page = await openSession(context, session.candidateUrl);
    const fontSize = (p) => p.locator(".cm-scroller").evaluate((e) => getComputedStyle(e).fontSize);
    const tabSize = (p) => p.locator(".cm-content").evaluate((e) => getComputedStyle(e).tabSize);
    assert.equal(await fontSize(page), "14px");
    await page.click("#settings-toggle");
    await page.selectOption("#settings-font-size", "18");
    await page.selectOption("#settings-tab-width", "2");
    await until("18px", async () => (await fontSize(page)) === "18px");
    assert.equal(await tabSize(page), "2");
    await screenshot(page, "editor-settings");
    const again = await openSession(context, session.candidateUrl);
    assert.equal(await fontSize(again), "18px");
    assert.equal(await tabSize(again), "2");
    await again.click("#settings-toggle");
    await again.selectOption("#settings-font-size", "14");
    await again.selectOption("#settings-tab-width", "4");
    await again.close();
    await page.close();
  });

  test("a participant who gave no name is labelled by role on the others' cursors", async () => {
    const session = await createSession(server, { environment: "python", code: "x = 1\n" });
    const anonymous = await newContext(browser);
    try {
      const interviewer = await openSession(context, session.interviewerUrl);
      const candidate = await openSession(anonymous, session.candidateUrl);
      await candidate.click(".cm-content");
      await candidate.keyboard.press("End");
      await interviewer.waitForSelector(".lc-remote-caret .lc-remote-name:text('Candidate')", { timeout: 20_000 });
      await interviewer.close();
    } finally {
      await anonymous.close();
    }
  });

  test("the console renders ANSI colours and redraws a \\r progress line in place", async () => {
    const program = [
      'print("\\x1b[31mred\\x1b[0m plain \\x1b[1;32mbold green\\x1b[0m")',
      "import time",
      "for p in (10, 50, 100):",
      '    print(f"\\r{p}%", end="", flush=True)',
      "    time.sleep(0.2)",
      "print()",
      'print("<b>not html</b>")',
    ].join("\n");
    const session = await createSession(server, { environment: "python", code: program + "\n" });
    const page = await openSession(context, session.candidateUrl);
    await page.click("#run");
    await waitForConsole(page, "exit code 0");
    const red = page.locator("#console .ansi-red-fg", { hasText: "red" });
    assert.equal(await red.count(), 1);
    const green = page.locator("#console .ansi-green-fg", { hasText: "bold green" });
    assert.equal(await green.count(), 1);
    assert.notEqual(
      await red.evaluate((e) => getComputedStyle(e).color),
      await page
        .locator("#console .out-stdout")
        .first()
        .evaluate((e) => getComputedStyle(e).color),
    );
    const text = (await pageState(page)).console;
    assert.ok(text.includes("red plain bold green\n100%\n"), JSON.stringify(text));
    assert.ok(!text.includes("10%") && !text.includes("50%"), JSON.stringify(text));
    // The program's text is text, never markup.
    assert.ok(text.includes("<b>not html</b>"), JSON.stringify(text));
    assert.equal(await page.locator("#console b").count(), 0);
    await screenshot(page, "console-ansi");
    await page.close();
  });
});
