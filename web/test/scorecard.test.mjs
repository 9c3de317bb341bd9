// The interviewer's scorecard beside the notes: rated, saved, submitted, there again after a
// reload and after the session's end; the candidate's page has none, and no frame of it
// reaches the candidate's socket.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { api, createSession, fixture, newContext, openSession, screenshot, until } from "./support.mjs";

const MARKER = "SCORECARD-MARKER-b41d";

describe("scorecard", () => {
  let server;
  let session;
  let candidateCtx;
  let interviewerCtx;
  let candidate;
  let interviewer;
  /** Every frame the candidate's socket received, as text. */
  const candidateFrames = [];
  /** How many it had when the scorecard was submitted. */
  let atSubmit = 0;

  before(async () => {
    ({ server } = await fixture());
    const { browser } = await fixture();
    session = await createSession(server, { environment: "python", code: "print('hi')\n" });
    candidateCtx = await newContext(browser);
    interviewerCtx = await newContext(browser);
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

  /** Rates every criterion `score`, with a comment each. */
  async function rateAll(page, score) {
    const rows = page.locator(".scorecard-panel fieldset.criterion");
    const count = await rows.count();
    assert.equal(count, 4, "the standard rubric's four criteria");
    for (let i = 0; i < count; i++) {
      await rows.nth(i).locator(`input[type=radio][value="${score}"]`).check();
      await rows.nth(i).locator(".criterion-comment").fill(`criterion ${i}`);
    }
  }

  test("an interviewer saves and submits a scorecard, and finds it after a reload", async () => {
    await interviewer.waitForSelector("#scorecard-submit", { state: "visible" });
    await rateAll(interviewer, 3);
    await interviewer.fill("#scorecard-comment", `${MARKER} solid`);
    await interviewer.click("#scorecard-save");
    await until(
      "the draft to be saved",
      async () => (await interviewer.textContent("#scorecard-state")) === "draft saved",
    );
    await interviewer.selectOption("#scorecard-recommendation", "yes");
    // Tall enough for the whole card (at 800 px it scrolls within its panel).
    await interviewer.setViewportSize({ width: 1280, height: 1080 });
    await screenshot(interviewer, "scorecard");
    await interviewer.setViewportSize({ width: 1280, height: 800 });
    await interviewer.click("#scorecard-submit");
    await until(
      "the scorecard to be submitted",
      async () => (await interviewer.textContent("#scorecard-state")) === "submitted",
    );
    atSubmit = candidateFrames.length;

    const stored = await api(server, "GET", `/sessions/${session.session_id}/scorecards`, {
      token: session.interviewer_token,
    });
    assert.equal(stored.scorecards.length, 1);
    const card = stored.scorecards[0];
    assert.equal(card.author_name, "Grace");
    assert.equal(card.state, "submitted");
    assert.equal(card.recommendation, "yes");
    assert.equal(card.ratings["Testing"].score, 3);

    await interviewer.reload();
    await interviewer.waitForFunction(() => window.__livecode?.online, null, { timeout: 15_000 });
    await until(
      "the submitted card to come back",
      async () => (await interviewer.textContent("#scorecard-state")) === "submitted",
    );
    assert.equal(await interviewer.inputValue("#scorecard-comment"), `${MARKER} solid`);
    assert.equal(await interviewer.inputValue("#scorecard-recommendation"), "yes");
    assert.equal(await interviewer.locator(".scorecard-panel input[type=radio]:checked").count(), 4);
    assert.equal(await interviewer.isDisabled("#scorecard-submit"), true, "a submitted card is final");
  });

  test("the candidate's page has no scorecard and its socket heard nothing of one", async () => {
    assert.equal(await candidate.isVisible(".scorecard-panel"), false);
    assert.equal(await candidate.isVisible("#scorecard-submit"), false);
    assert.equal(await candidate.evaluate(() => localStorage.getItem("livecode.scorecard-author")), null);
    // Events reach every socket in one order: the interviewer's reload, after the submission,
    // told to the candidate, means every scorecard event before it has passed their socket.
    await until("the candidate to hear of the interviewer's reload", () =>
      candidateFrames.slice(atSubmit).some((f) => JSON.parse(f).type === "presence"),
    );
    for (const frame of candidateFrames) {
      assert.ok(!frame.includes(MARKER), `the candidate received the scorecard: ${frame.slice(0, 200)}`);
      assert.ok(!frame.includes("scorecard"), `the candidate heard of a scorecard: ${frame.slice(0, 200)}`);
    }
  });

  test("after the end the interviewer's page still shows and takes scorecards", async () => {
    await api(server, "DELETE", `/sessions/${session.session_id}`, { token: session.interviewer_token });
    const page = await interviewerCtx.newPage();
    // Another browser's interviewer: a card of their own, under their own author id.
    await page.addInitScript(() => localStorage.setItem("livecode.scorecard-author", "second-browser"));
    await page.goto(session.interviewerUrl);
    await page.waitForFunction(() => window.__livecode?.ended, null, { timeout: 30_000 });
    await page.waitForSelector("#scorecard-save", { state: "visible", timeout: 30_000 });
    await until("Grace's card to be listed", async () =>
      (await page.textContent("#scorecard-others")).includes("Grace"),
    );
    await rateAll(page, 2);
    await page.click("#scorecard-save");
    await until(
      "the late draft to be saved",
      async () => (await page.textContent("#scorecard-state")) === "draft saved",
    );
    await page.setViewportSize({ width: 1280, height: 1080 });
    await screenshot(page, "scorecard-after-end");
    const stored = await api(server, "GET", `/sessions/${session.session_id}/scorecards`, {
      token: session.interviewer_token,
    });
    assert.deepEqual(
      stored.scorecards.map((c) => c.state),
      ["submitted", "draft"],
    );
    await page.close();
  });
});
