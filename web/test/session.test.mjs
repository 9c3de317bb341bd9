// The session page as candidate and interviewer use it: running code with live output and
// interactive stdin, watching each other live, private notes, replay, ending the session.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  api,
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

describe("session page", () => {
  let server;
  let browser;
  let session;
  let candidateCtx;
  let interviewerCtx;
  let candidate;
  let interviewer;
  /** Every frame the candidate's sockets received, as text. */
  const candidateFrames = [];

  before(async () => {
    ({ server, browser } = await fixture());
    session = await createSession(server, { environment: "python", code: "", label: "Ada Lovelace – backend loop" });
    candidateCtx = await newContext(browser);
    interviewerCtx = await newContext(browser);
    await candidateCtx.addInitScript(() => {
      try {
        localStorage.setItem("livecode.name", "Ada");
      } catch {}
    });
    await interviewerCtx.addInitScript(() => {
      try {
        localStorage.setItem("livecode.name", "Grace");
      } catch {}
    });
    interviewer = await openSession(interviewerCtx, session.interviewerUrl);
    candidate = await candidateCtx.newPage();
    candidate.on("websocket", (ws) => ws.on("framereceived", (f) => candidateFrames.push(String(f.payload))));
    await candidate.goto(session.candidateUrl);
    await candidate.waitForFunction(() => window.__livecode?.online, null, { timeout: 15_000 });
  });

  after(async () => {
    await candidateCtx?.close();
    await interviewerCtx?.close();
  });

  test("roles come from the tokens, and each page lists both participants", async () => {
    assert.equal(await candidate.evaluate(() => window.__livecode.role), "candidate");
    assert.equal(await interviewer.evaluate(() => window.__livecode.role), "interviewer");
    for (const page of [candidate, interviewer]) {
      await until("both participants listed", async () => {
        const text = await page.textContent("#participants");
        return text.includes("Ada") && text.includes("Grace");
      });
    }
    assert.equal(await candidate.isVisible("#notes"), false, "candidates have no notes");
    assert.equal(await candidate.isVisible("#end-session"), false);
    assert.equal(await candidate.isVisible("#replay-toggle"), false);
    assert.equal(await interviewer.isVisible("#notes"), true);
    // The document is empty: the environment's template shows as a placeholder.
    assert.match(await candidate.textContent(".cm-placeholder"), /print\(greet\("livecode"\)\)/);
  });

  test("a wrong token gets a clear refusal, not a reconnect loop", async () => {
    const page = await candidateCtx.newPage();
    await page.goto(`${server.url}/s/${session.session_id}#token=${"0".repeat(64)}`);
    await page.waitForSelector("#banner.fatal:not([hidden])", { timeout: 15_000 });
    assert.match(await page.textContent("#banner"), /not valid/);
    assert.match(await page.textContent("#connection"), /not authorized/);
    await page.close();
  });

  test("the candidate types and runs with Ctrl+Enter; the interviewer sees typing and output live", async () => {
    const program = 'print("hello from the candidate")\nimport sys\nprint("to stderr", file=sys.stderr)\n';
    await typeInEditor(candidate, program);
    // Live: the interviewer's editor follows while nobody has run anything.
    await until(
      "the interviewer to see the candidate's code",
      async () => (await pageState(interviewer)).text === program,
    );
    // The candidate's cursor shows on the interviewer's page, with the candidate's name.
    await interviewer.waitForSelector(".lc-remote-caret .lc-remote-name:text('Ada')", { timeout: 20_000 });

    await candidate.keyboard.press("Control+Enter");
    await waitForConsole(candidate, "hello from the candidate");
    await waitForConsole(candidate, "exit code 0");
    await waitForConsole(interviewer, "hello from the candidate");
    await waitForConsole(interviewer, "exit code 0");
    // stdout and stderr look different.
    const stdout = await candidate.locator("#console .out-stdout", { hasText: "hello from the candidate" }).first();
    const stderr = await candidate.locator("#console .out-stderr", { hasText: "to stderr" }).first();
    const colour = (loc) => loc.evaluate((el) => getComputedStyle(el).color);
    assert.notEqual(await colour(stdout), await colour(stderr));
  });

  test("a program reading two input() lines gets them from the stdin box", async () => {
    const program = 'a = input("first? ")\nb = input("second? ")\nprint("got", a, "and", b)\n';
    await typeInEditor(candidate, program);
    await candidate.click("#run");
    await waitForConsole(candidate, "first? ");
    await candidate.fill("#stdin", "apple");
    await candidate.press("#stdin", "Enter");
    await waitForConsole(candidate, "second? ");
    await candidate.fill("#stdin", "pear");
    await candidate.press("#stdin", "Enter");
    await waitForConsole(candidate, "got apple and pear");
    await waitForConsole(interviewer, "got apple and pear");
    // What the candidate typed is shown to the interviewer too, where the program asked for it.
    await waitForConsole(interviewer, "first? apple\nsecond? pear\n");
  });

  test("output streams: a line per tick shows before the run ends; Stop kills it", async () => {
    const program = 'import time\nfor i in range(30):\n    print("tick", i, flush=True)\n    time.sleep(0.2)\n';
    await candidate.click(".cm-content");
    await candidate.keyboard.press("ControlOrMeta+a");
    await candidate.keyboard.press("Delete");
    // insertText: auto-indent would otherwise add to the typed indentation.
    await candidate.keyboard.insertText(program);
    await candidate.click("#run");
    await waitForConsole(candidate, "tick 2");
    assert.ok(!(await pageState(candidate)).console.includes("tick 29"));
    await candidate.click("#stop");
    await waitForConsole(candidate, "killed");
  });

  test("interviewer notes are saved and never reach the candidate's socket", async () => {
    const secret = "strong hire? SECRET-NOTE-" + Date.now();
    await interviewer.fill("#notes", secret);
    await until("the notes to be saved", async () => (await interviewer.textContent("#notes-state")) === "saved");
    const stored = await api(server, "GET", `/sessions/${session.session_id}/notes`, {
      token: session.interviewer_token,
    });
    assert.equal(stored.text, secret);
    assert.ok(candidateFrames.length > 10, "frames were captured");
    for (const frame of candidateFrames) {
      assert.ok(!frame.includes("SECRET-NOTE"), `the candidate received the notes: ${frame.slice(0, 200)}`);
      assert.notEqual(JSON.parse(frame).type, "notes");
    }
  });

  test("screenshots of the candidate and interviewer views", async () => {
    const program = 'def greet(name):\n    return f"Hello, {name}!"\n\nprint(greet("Ada"))\n';
    await candidate.click(".cm-content");
    await candidate.keyboard.press("ControlOrMeta+a");
    await candidate.keyboard.insertText(program);
    await candidate.keyboard.press("Control+Enter");
    await waitForConsole(interviewer, "Hello, Ada!");
    await interviewer.click(".cm-content");
    await interviewer.keyboard.press("ControlOrMeta+Home");
    await waitSynced(candidate);
    await candidate.waitForSelector(".lc-remote-caret", { timeout: 20_000 });
    await screenshot(candidate, "candidate-view");
    await screenshot(interviewer, "interviewer-view");
    await interviewer.evaluate(() => document.querySelector("#theme-toggle").click());
    await screenshot(interviewer, "interviewer-view-dark");
    await interviewer.setViewportSize({ width: 1920, height: 1080 });
    await screenshot(interviewer, "interviewer-view-1920");
    await interviewer.evaluate(() => document.querySelector("#theme-toggle").click());
    await interviewer.setViewportSize({ width: 1280, height: 800 });
    // The theme is remembered.
    assert.equal(await interviewer.evaluate(() => localStorage.getItem("livecode.theme")), "light");
  });

  test("the page holds together at 1280×800 and 1920×1080", async () => {
    for (const viewport of [
      { width: 1280, height: 800 },
      { width: 1920, height: 1080 },
    ]) {
      await interviewer.setViewportSize(viewport);
      const layout = await interviewer.evaluate(() => {
        const box = (sel) => document.querySelector(sel).getBoundingClientRect();
        return {
          scrollW: document.documentElement.scrollWidth,
          scrollH: document.documentElement.scrollHeight,
          topbar: box(".topbar"),
          editor: box(".editor-host"),
          console: box("#console"),
          stdin: box("#stdin"),
          notes: box("#notes"),
          theme: box("#theme-toggle"),
        };
      });
      assert.ok(layout.scrollW <= viewport.width, `no horizontal scroll at ${viewport.width}`);
      assert.ok(layout.scrollH <= viewport.height, `no vertical page scroll at ${viewport.height}`);
      assert.ok(layout.topbar.height < 70, "the top bar stays one row");
      assert.ok(layout.theme.right <= viewport.width, "the last header control is on screen");
      assert.ok(layout.editor.width > viewport.width * 0.5, "the editor gets most of the width");
      assert.ok(layout.editor.height > viewport.height * 0.75);
      assert.ok(layout.console.height > 150);
      assert.ok(layout.stdin.bottom <= viewport.height && layout.notes.bottom <= viewport.height + 1);
    }
    await interviewer.setViewportSize({ width: 1280, height: 800 });
  });

  test("replay shows an earlier version at an earlier point of the timeline", async () => {
    const now = await serverDocument(server, session, { page: candidate });
    await interviewer.click("#replay-toggle");
    await interviewer.waitForSelector(".replay-slider");
    // Loaded: a version shown (the label tells clock time, not versions).
    await until("the history to load", () =>
      interviewer.evaluate(() => document.querySelector(".replay")?.dataset.version !== undefined),
    );
    const version = () => interviewer.evaluate(() => Number(document.querySelector(".replay").dataset.version));
    assert.equal(await version(), now.version, "the end of the timeline is the latest version");
    // The latest point shows today's code.
    assert.equal(await interviewer.evaluate(() => window.__livecode.replayText()), now.text);
    // Runs are marked on the timeline.
    assert.ok((await interviewer.locator(".replay-marker.kind-run").count()) >= 3);
    // The first run's marker: the code as it was when it ran, which was typed over since.
    const slider = interviewer.locator(".replay-slider");
    await interviewer.locator(".replay-marker.kind-run").first().click();
    const shown = await version();
    assert.ok(shown < now.version, `an earlier version is shown (${shown})`);
    const earlier = await interviewer.evaluate(() => window.__livecode.replayText());
    await screenshot(interviewer, "interviewer-replay");
    assert.equal(
      // (a trailing empty line shows as one more line break)
      await interviewer.evaluate(() => document.querySelector(".replay .cm-content").innerText.replace(/\n+$/, "")),
      earlier.replace(/\n+$/, ""),
    );
    const history = now.history;
    const { ChangeSet, Text } = await import("@codemirror/state");
    let doc = Text.of(history.initial_document.split("\n"));
    for (const u of history.updates.slice(0, shown)) doc = ChangeSet.fromJSON(u.changes).apply(doc);
    assert.equal(earlier, doc.toString());
    assert.notEqual(earlier, now.text);
    // The start: the empty document this session started with.
    await slider.fill("0");
    assert.equal(await interviewer.evaluate(() => window.__livecode.replayText()), "");
    await interviewer.click("#replay-toggle");
  });

  test("ending the session: both pages say so and turn read-only", async () => {
    await interviewer.click("#end-session");
    await interviewer.click("#end-session"); // confirm
    for (const page of [candidate, interviewer]) {
      await page.waitForSelector("#banner:not([hidden])", { timeout: 60_000 });
      assert.match(await page.textContent("#banner"), /session has ended/);
      assert.equal(await page.evaluate(() => window.__livecode.ended), true);
      assert.equal(await page.isDisabled("#run"), true);
    }
    const before = (await pageState(candidate)).text;
    await candidate.click(".cm-content");
    await candidate.keyboard.type("more");
    assert.equal((await pageState(candidate)).text, before, "the editor is read-only");
    await screenshot(candidate, "candidate-ended");
    // Replay still works after the end.
    await interviewer.click("#replay-toggle");
    await until("the history to load after the end", () =>
      interviewer.evaluate(() => document.querySelector(".replay")?.dataset.version !== undefined),
    );
    assert.equal(candidateCtx.pageErrors.length + interviewerCtx.pageErrors.length, 0, String(candidateCtx.pageErrors));
  });

  test("opening a link after the session ended says so", async () => {
    const page = await interviewerCtx.newPage();
    await page.goto(session.interviewerUrl);
    await page.waitForSelector("#banner:not([hidden])", { timeout: 15_000 });
    assert.match(await page.textContent("#banner"), /ended/);
    // The interviewer still gets the final code.
    const final = await serverDocument(server, session);
    await until("the final code", async () => (await page.evaluate(() => window.__livecode.text())) === final.text);
    await page.close();
  });
});
