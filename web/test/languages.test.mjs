// Every environment's editor mode loads (each is its own chunk) and highlights its template.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { api, createSession, fixture, newContext, openSession, waitForConsole } from "./support.mjs";

describe("language modes", () => {
  let f;
  let context;

  before(async () => {
    f = await fixture();
    context = await newContext(f.browser);
  });

  after(async () => {
    await context?.close();
  });

  test("each ready environment's template is highlighted in its language", async () => {
    const envs = (await api(f.server, "GET", "/environments")).filter((e) => e.ready);
    assert.ok(envs.length > 0, "at least one environment image is built");
    const warnings = [];
    const page = await context.newPage();
    page.on("console", (m) => m.type() === "warning" && warnings.push(m.text()));
    for (const env of envs) {
      const session = await createSession(f.server, { environment: env.name });
      await page.goto(session.candidateUrl);
      await page.waitForFunction(() => window.__livecode?.online, null, { timeout: 15_000 });
      assert.equal(await page.evaluate(() => window.__livecode.language), env.editor_language);
      // Highlighted tokens are spans inside the lines; plain text has none.
      await page
        .waitForFunction(() => document.querySelectorAll(".cm-line span[class]").length >= 3, null, { timeout: 10_000 })
        .catch(() => {
          throw new Error(`${env.name} (${env.editor_language}): the template is not highlighted`);
        });
      await api(f.server, "DELETE", `/sessions/${session.session_id}`, { token: session.interviewer_token });
    }
    assert.deepEqual(
      warnings.filter((w) => w.includes("mode")),
      [],
    );
    assert.deepEqual(context.pageErrors, []);
  });

  test("a compiled language: compile_error, a run with its build time, an unchanged re-run cached", async (t) => {
    const envs = await api(f.server, "GET", "/environments");
    if (!envs.some((e) => e.name === "c" && e.ready)) {
      t.skip("the C image is not built");
      return;
    }
    const session = await createSession(f.server, { environment: "c", code: "int main( {\n" });
    const page = await openSession(context, session.candidateUrl);
    await page.click("#run");
    await waitForConsole(page, "compile_error");
    assert.ok((await page.locator("#console .out-stderr").count()) > 0, "compiler messages are on stderr");
    await page.click(".cm-content");
    await page.keyboard.press("ControlOrMeta+a");
    await page.keyboard.insertText('#include <stdio.h>\nint main(void) { puts("compiled"); return 3; }\n');
    await page.keyboard.press("Control+Enter");
    await waitForConsole(page, "exit code 3");
    assert.match(await page.locator("#console .run-end").last().textContent(), /exit code 3 · .* · build \d/);
    // Unchanged: the build comes from the cache in the container.
    const ends = await page.locator("#console .run-end").count();
    await page.click("#run");
    await page.waitForFunction((n) => document.querySelectorAll("#console .run-end").length > n, ends);
    assert.match(await page.locator("#console .run-end").last().textContent(), /exit code 3 · .* · build cached/);
    await page.close();
  });
});
