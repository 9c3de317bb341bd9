// What a page shows of what happened while it was not looking: a run that started before it
// opened, a run that went on while its connection was down, the container engine going away,
// and the session's end coming.

import assert from "node:assert/strict";
import { unlinkSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  createSession,
  fixture,
  newContext,
  openSession,
  pageState,
  screenshot,
  startServer,
  until,
  waitForConsole,
} from "./support.mjs";

/**
 * Prints "tick 0" to "tick 19", one every 100 ms, and waits for a line of stdin before
 * "tick 10": the run goes on until the test lets it, however slow the machine.
 */
const TICKER =
  'import time\nfor i in range(20):\n    if i == 10:\n        input()\n    print("tick", i, flush=True)\n    time.sleep(0.1)\n';

/** Lets the ticker past its input(). */
async function release(candidate) {
  await waitForConsole(candidate, "tick 9");
  await candidate.fill("#stdin", "go");
  await candidate.press("#stdin", "Enter");
}

/** Every tick once, in order. */
function assertAllTicksOnce(console) {
  const ticks = [...console.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(
    ticks,
    Array.from({ length: 20 }, (_, i) => i),
    console,
  );
}

describe("catching up", () => {
  let f;
  const contexts = [];

  before(async () => {
    f = await fixture();
  });

  after(async () => {
    for (const c of contexts) await c.close();
  });

  test("a page opened during a run shows all of it", async () => {
    const session = await createSession(f.server, { environment: "python", code: TICKER });
    const [cc, ci] = [await newContext(f.browser), await newContext(f.browser)];
    contexts.push(cc, ci);
    const candidate = await openSession(cc, session.candidateUrl);
    await candidate.click("#run");
    await waitForConsole(candidate, "tick 5");
    const late = await openSession(ci, `${session.interviewerUrl}&readonly=1`);
    await waitForConsole(late, "tick 9");
    await release(candidate);
    await waitForConsole(late, "tick 19");
    await waitForConsole(late, "exit code 0");
    const { console } = await pageState(late);
    assert.match(console, /joined during this run/);
    assertAllTicksOnce(console);
  });

  test("a page whose connection drops mid-run loses and repeats nothing", async () => {
    const session = await createSession(f.server, { environment: "python", code: TICKER });
    const [cc, ci] = [await newContext(f.browser), await newContext(f.browser)];
    contexts.push(cc, ci);
    const candidate = await openSession(cc, session.candidateUrl);
    const watcher = await openSession(ci, `${f.proxy.url}/s/${session.session_id}#token=${session.interviewer_token}`);
    await candidate.click("#run");
    await waitForConsole(watcher, "tick 3");
    // The network goes away for a second, mid-run; the page dials again by itself.
    f.proxy.refuse(true);
    f.proxy.cut();
    await until("the page to notice it is offline", async () => !(await pageState(watcher)).online);
    await new Promise((r) => setTimeout(r, 800));
    f.proxy.refuse(false);
    await until("the page to be back", async () => (await pageState(watcher)).online, 30_000);
    await release(candidate);
    await waitForConsole(watcher, "exit code 0", 30_000);
    const { console } = await pageState(watcher);
    assertAllTicksOnce(console);
    assert.match(console, /caught up|tick 19/);
  });
});

/**
 * A unix-socket proxy in front of the Docker engine's socket that can be stopped and started:
 * an engine outage for the server behind it, while the engine itself serves everyone else.
 */
async function engineProxy() {
  const path = join(tmpdir(), `livecode-engine-${process.pid}-${Date.now()}.sock`);
  const upstream = process.env.DOCKER_HOST?.replace(/^unix:\/\//, "") || "/var/run/docker.sock";
  const sockets = new Set();
  let server = null;
  const listen = () =>
    new Promise((resolve) => {
      server = net.createServer((client) => {
        const up = net.connect(upstream);
        for (const s of [client, up]) {
          sockets.add(s);
          s.on("error", () => {});
          s.on("close", () => sockets.delete(s));
        }
        client.pipe(up);
        up.pipe(client);
      });
      server.listen(path, resolve);
    });
  await listen();
  return {
    host: `unix://${path}`,
    async stop() {
      // close() waits for open connections: cut them first.
      const closed = new Promise((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      try {
        unlinkSync(path);
      } catch {}
    },
    start: listen,
  };
}

describe("banners", () => {
  let engine;
  let server;
  let f;
  const contexts = [];

  before(async () => {
    f = await fixture();
    engine = await engineProxy();
    server = await startServer({
      env: {
        LIVECODE_DOCKER__HOST: engine.host,
        LIVECODE_SERVER__HEALTH_INTERVAL_SECONDS: "0.3",
        LIVECODE_SESSIONS__EXPIRY_WARNING_SECONDS: "60",
        LIVECODE_SESSIONS__REAP_INTERVAL_SECONDS: "0.2",
      },
    });
  });

  after(async () => {
    for (const c of contexts) await c.close();
    await server?.stop();
    await engine?.stop().catch(() => {});
  });

  test("while the engine is away the page says so, and takes it back when it returns", async () => {
    const session = await createSession(server, { environment: "python", code: "print(1)" }, server.url);
    const ctx = await newContext(f.browser);
    contexts.push(ctx);
    const page = await openSession(ctx, session.candidateUrl);
    await engine.stop();
    await page.waitForSelector("#banner[data-topic=degraded]:not([hidden])", { timeout: 20_000 });
    assert.match(await page.textContent("#banner"), /engine is not answering/);
    await screenshot(page, "candidate-engine-down");
    await engine.start();
    await page.waitForSelector("#banner[hidden]", { state: "attached", timeout: 20_000 });
    await page.click("#run");
    await waitForConsole(page, "exit code 0");
  });

  test("the end is announced ahead, and Extend moves it", async () => {
    const session = await createSession(server, { environment: "python", code: "", ttl_seconds: 40 }, server.url);
    const ctx = await newContext(f.browser);
    contexts.push(ctx);
    const page = await openSession(ctx, session.candidateUrl);
    await page.waitForSelector("#banner[data-topic=expiry]:not([hidden])", { timeout: 20_000 });
    assert.match(await page.textContent("#banner"), /ends in 00:[0-4]\d/);
    await screenshot(page, "candidate-session-ending");
    await page.click("#extend");
    await page.waitForSelector("#banner[hidden]", { state: "attached", timeout: 10_000 });
    await until("the timer to show the new end", async () =>
      /ends in (2\d|30):\d\d/.test(await page.textContent("#timer")),
    );
  });
});
