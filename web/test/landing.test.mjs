// The landing page: in open mode a form that starts a session and lands on the interviewer's
// view with the candidate's link; with an API key configured, what the service is and the
// operator's key field (page.test.mjs has the whole operator flow). And
// `/docs`, the API reference the server renders from its own OpenAPI document.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { fixture, newContext, screenshot, until } from "./support.mjs";

describe("landing page", () => {
  let f;
  let context;

  before(async () => {
    f = await fixture();
    context = await newContext(f.browser);
  });

  after(async () => {
    await context?.close();
  });

  test("open mode: pick a ready environment, start, land on the interviewer view", async () => {
    const page = await context.newPage();
    await page.goto(f.server.url + "/");
    await page.waitForSelector("#new-session");
    const options = await page.$$eval("#environment option", (os) =>
      os.map((o) => ({ value: o.value, disabled: o.disabled })),
    );
    assert.ok(
      options.some((o) => o.value === "python" && !o.disabled),
      JSON.stringify(options),
    );
    assert.equal(await page.inputValue("#environment"), "python");
    await screenshot(page, "landing");
    await page.fill("#label", "Landing test");
    await Promise.all([page.waitForURL(/\/s\/[0-9a-f-]+#token=/), page.click("#create")]);
    await page.waitForFunction(() => window.__livecode?.online, null, { timeout: 15_000 });
    assert.equal(await page.evaluate(() => window.__livecode.role), "interviewer");
    const link = await page.inputValue("#candidate-link");
    assert.match(link, /\/s\/[0-9a-f-]+#token=[0-9a-f]+$/);
    assert.ok(!link.includes(new URL(page.url()).hash), "the candidate link is not the interviewer's");
    // The candidate's link opens the candidate's view of the same session.
    const candidate = await context.newPage();
    await candidate.goto(link);
    await candidate.waitForFunction(() => window.__livecode?.online, null, { timeout: 15_000 });
    assert.equal(await candidate.evaluate(() => window.__livecode.role), "candidate");
    await until(
      "the same document",
      async () =>
        (await candidate.evaluate(() => window.__livecode.text())) ===
        (await page.evaluate(() => window.__livecode.text())),
    );
    await candidate.close();
    await page.close();
  });

  test("with an API key: a word about the service, and the operator's key field before the form", async () => {
    const page = await context.newPage();
    // What a keyed server answers to GET /sessions without the key.
    await page.route("**/api/v1/sessions", (route) =>
      route.fulfill({
        status: 401,
        contentType: "application/json",
        body: JSON.stringify({ error: { code: "UNAUTHORIZED", message: "an API key is required", hint: "" } }),
      }),
    );
    await page.goto(f.server.url + "/");
    await page.waitForSelector(".intro");
    await until("the page to settle", async () => (await page.textContent("#app")).includes("API"));
    // The operator form (page.test.mjs drives it against a keyed server): the key comes first.
    await page.waitForSelector("#operator-key #api-key");
    assert.equal(await page.getAttribute("#api-key", "type"), "password");
    assert.ok(
      await page.evaluate(() =>
        Boolean(
          document.querySelector("#operator-key").compareDocumentPosition(document.querySelector("#new-session")) & 4,
        ),
      ),
    );
    await page.close();
  });

  test("/docs shows every operation of the server's document and tries one, all from the server", async () => {
    const page = await context.newPage();
    const foreign = [];
    page.on("request", (r) => {
      if (new URL(r.url()).origin !== f.server.url) foreign.push(r.url());
    });
    const doc = await (await fetch(f.server.url + "/api/v1/openapi.json")).json();
    const operations = Object.values(doc.paths).flatMap((item) =>
      Object.keys(item).filter((m) => ["get", "post", "put", "delete", "patch"].includes(m)),
    );
    await page.goto(f.server.url + "/docs");
    await page.waitForSelector(".opblock");
    assert.equal(await page.locator(".opblock").count(), operations.length);
    await screenshot(page, "docs");
    // "Try it out" on GET /api/v1/environments answers from this server.
    const environments = page.locator("#operations-environments-list_environments");
    await environments.locator(".opblock-summary").click();
    await environments.locator(".try-out__btn").click();
    await environments.locator(".execute").click();
    await until("the response", async () =>
      (
        (await environments
          .locator(".live-responses-table")
          .first()
          .textContent()
          .catch(() => "")) ?? ""
      ).includes('"python"'),
    );
    assert.deepEqual(foreign, [], "the docs page loads nothing from elsewhere");
    await page.close();
  });
});
