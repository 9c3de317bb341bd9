// Benchmark: 1 MiB of output (10,400 lines of 100 bytes) from a run to fully rendered in the
// session page's console, in Chromium, beside the time the server took to stream it to a plain
// WebSocket client (a bare `new WebSocket` in a blank page: no rendering) in the same run.
// Three runs in one page (the console keeps earlier runs, as in an interview), p50 and the
// worst. `LIVECODE_BASELINE_BIN=<another livecode debug binary>` measures that build's page
// too, in the same run. Not a test: it prints figures. Run: `npm run bench:console`.

import { createSession, launchBrowser, newContext, openSession, startServer } from "./support.mjs";

const RUNS = 3;
const RENDER_CAP_MS = 120_000;
const BURST = 'import sys\nfor i in range(10400):\n    sys.stdout.write(f"{i:06d} " + "x" * 92 + "\\n")\n';

/** A bare WebSocket client in a blank page of the server's origin; resolves with the times of
 * the run's first and last output frames (this machine's clock), once it has finished. */
async function rawClient(context, server, session) {
  const page = await context.newPage();
  await page.goto(`${server.url}/api/v1/health`);
  await page.evaluate(
    ({ id, token }) =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/api/v1/sessions/${id}/ws?name=bench`);
        window.__ws = ws;
        ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token }));
        ws.onmessage = (e) => {
          const msg = JSON.parse(e.data);
          if (msg.type === "welcome") resolve();
          if (msg.type === "output") {
            window.__first ??= Date.now();
            window.__last = Date.now();
            window.__bytes += msg.data.length;
          }
          if (msg.type === "run_finished") window.__done?.(msg);
        };
        ws.onerror = () => reject(new Error("socket error"));
      }),
    { id: session.session_id, token: session.interviewer_token },
  );
  return {
    async run() {
      return page.evaluate(
        () =>
          new Promise((resolve) => {
            window.__first = undefined;
            window.__bytes = 0;
            window.__done = (msg) =>
              resolve({ first: window.__first, last: window.__last, bytes: window.__bytes, msg });
            window.__ws.send(JSON.stringify({ type: "run" }));
          }),
      );
    },
    close: () => page.close(),
  };
}

/** When the page's console has drawn the end of the next run and painted it. */
function renderedEnd(page) {
  return page.evaluate(
    () =>
      new Promise((resolve) => {
        const before = document.querySelectorAll("#console .run-end").length;
        const check = () => {
          if (document.querySelectorAll("#console .run-end").length > before) {
            requestAnimationFrame(() => resolve(Date.now()));
          } else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      }),
  );
}

function pct(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function measure(label, bin, browser) {
  const server = await startServer(bin ? { bin } : {});
  const context = await newContext(browser);
  // Its own context, so its own renderer process: the page's work does not delay it.
  const rawContext = await newContext(browser);
  const stream = [];
  const render = [];
  try {
    const session = await createSession(server, { environment: "python", code: BURST });
    const page = await openSession(context, session.candidateUrl);
    const raw = await rawClient(rawContext, server, session);
    for (let i = 0; i < RUNS; i++) {
      const done = renderedEnd(page);
      const r = await raw.run();
      // A page that takes longer than this is reported as such, not waited for.
      const end = await Promise.race([
        done,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`run ${i + 1} not rendered within ${RENDER_CAP_MS} ms`)), RENDER_CAP_MS),
        ),
      ]);
      if (r.msg.status !== "completed") throw new Error(`run ${i}: ${r.msg.status}`);
      stream.push(r.last - r.first);
      render.push(end - r.first);
      console.log(
        `  ${label} run ${i + 1}: ${r.bytes} bytes streamed in ${r.last - r.first} ms, rendered in ${end - r.first} ms`,
      );
    }
    await raw.close();
  } catch (err) {
    console.log(`  ${label}: stopped after ${render.length} runs: ${err.message.split("\n")[0]}`);
  } finally {
    await rawContext.close();
    await context.close();
    await server.stop();
  }
  return { label, stream, render };
}

const browser = await launchBrowser();
const results = [];
try {
  results.push(await measure("this build", null, browser));
  if (process.env.LIVECODE_BASELINE_BIN) {
    results.push(await measure("baseline build", process.env.LIVECODE_BASELINE_BIN, browser));
  }
} finally {
  await browser.close();
}
console.log(`\n1 MiB of output (10,400 lines), ${RUNS} runs in one page, p50 / worst:`);
console.log("| page | streamed to a bare WebSocket | rendered in the page's console | rendering ÷ streaming (p50) |");
console.log("|---|---|---|---|");
for (const r of results.filter((r) => r.render.length)) {
  const ratio = pct(r.render, 50) / Math.max(1, pct(r.stream, 50));
  console.log(
    `| ${r.label} | ${pct(r.stream, 50)} / ${Math.max(...r.stream)} ms | ${pct(r.render, 50)} / ${Math.max(...r.render)} ms | ${ratio.toFixed(2)}× |`,
  );
}
