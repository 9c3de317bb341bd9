// An erased session's page: the interviewer's link, opened after `DELETE …?erase=true`, says
// the content was erased and shows none of it (docs/retention.md). Its own server, with an API
// key: erasure takes one.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { api, launchBrowser, newContext, openSession, screenshot, startServer } from "./support.mjs";

const KEY = "erasure-browser-test-key-0123456789";

describe("an erased session's page", () => {
  let server;
  let browser;

  before(async () => {
    [server, browser] = await Promise.all([startServer({ env: { LIVECODE_API_KEY: KEY } }), launchBrowser()]);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("says its content was erased, and shows none of it", async () => {
    const body = { environment: "python", code: "print('ERASE-ME-code')\n", label: "Ada Lovelace" };
    const s = await api(server, "POST", "/sessions", { token: KEY, body });
    const url = `${server.url}/s/${s.session_id}#token=${s.interviewer_token}`;
    const context = await newContext(browser);
    const live = await openSession(context, url);
    assert.equal(await live.evaluate(() => window.__livecode.text()), "print('ERASE-ME-code')\n");
    await live.close();

    const erased = await api(server, "DELETE", `/sessions/${s.session_id}?erase=true`, { token: KEY });
    assert.ok(erased.erased_at, JSON.stringify(erased));
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForSelector("#banner:not([hidden])", { timeout: 15_000 });
    assert.match(await page.textContent("#banner"), /content was erased/);
    const shown = await page.evaluate(() => document.body.innerText);
    assert.ok(!shown.includes("ERASE-ME") && !shown.includes("Ada Lovelace"), shown);
    await screenshot(page, "session-erased");
    assert.equal(context.pageErrors.length, 0, String(context.pageErrors));
    await context.close();
  });
});
