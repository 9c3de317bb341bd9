// Fixtures of the browser tests: the real livecode binary on a free port with its own data
// directory and instance label, headless Debian Chromium through playwright-core, a TCP proxy
// that can cut connections, and small helpers. Every wait is on a condition with a deadline.

import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { after } from "node:test";

import { chromium } from "playwright-core";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const SCREENSHOTS = join(REPO, "test-artifacts", "screenshots");
const BINARY = process.env.LIVECODE_BIN ?? join(REPO, "target", "debug", "livecode");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** A port nobody listens on right now. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a truthy value or `ms` pass. */
export async function until(what, check, ms = 10_000, every = 50) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await sleep(every);
  }
}

/**
 * Starts `target/debug/livecode` (or $LIVECODE_BIN, or `bin`) and waits for its health check.
 * `stop()` ends it and removes every container of its instance label.
 */
export async function startServer({ env = {}, bin = BINARY } = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "livecode-web-"));
  const instance = `web-${randomBytes(4).toString("hex")}`;
  const log = [];
  const child = spawn(bin, [], {
    cwd: REPO,
    env: {
      ...process.env,
      LIVECODE_LISTEN: `127.0.0.1:${port}`,
      LIVECODE_DATA_DIR: dataDir,
      LIVECODE_INSTANCE: instance,
      LIVECODE_BUILD_IMAGES_ON_START: "false",
      LIVECODE_API_KEY: "",
      // The whole suite (all.mjs) shares one server and one client address: more sessions
      // than one open-mode client may hold, or create in a minute.
      LIVECODE_QUOTAS__MAX_LIVE_SESSIONS_PER_IP: "0",
      LIVECODE_QUOTAS__SESSIONS_PER_MINUTE: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (chunk) => {
    log.push(chunk.toString());
    if (log.length > 400) log.shift();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = null;
  child.on("exit", (code, signal) => (exited = { code, signal }));
  const url = `http://127.0.0.1:${port}`;
  try {
    await until(
      "the server's health check",
      async () => {
        if (exited) throw new Error(`livecode exited (${JSON.stringify(exited)}): ${log.join("")}`);
        const res = await fetch(`${url}/api/v1/health`);
        return res.status === 200;
      },
      30_000,
      100,
    );
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return {
    url,
    port,
    instance,
    log: () => log.join(""),
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        await until("livecode to exit", () => exited !== null, 10_000).catch(() => child.kill("SIGKILL"));
      }
      removeContainers(instance);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Removes the containers labelled with this instance (the server leaves them on shutdown). */
export function removeContainers(instance) {
  try {
    const ids = execFileSync("docker", ["ps", "-aq", "--filter", `label=livecode.instance=${instance}`], {
      encoding: "utf8",
    })
      .split("\n")
      .filter(Boolean);
    if (ids.length) execFileSync("docker", ["rm", "-f", ...ids], { stdio: "ignore" });
  } catch {
    // docker missing or already clean
  }
}

/** JSON over HTTP to the server. */
export async function api(server, method, path, { token, body } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return json;
}

/** A new session; its links point at `base` (the server, or a proxy in front of it). */
export async function createSession(server, body = { environment: "python", code: "" }, base = server.url) {
  const s = await api(server, "POST", "/sessions", { body });
  return {
    ...s,
    candidateUrl: `${base}/s/${s.session_id}#token=${s.candidate_token}`,
    interviewerUrl: `${base}/s/${s.session_id}#token=${s.interviewer_token}`,
    embedPath: `/embed/${s.session_id}#token=${s.interviewer_token}`,
  };
}

/**
 * The server's copy of the document: its base with every stored update applied. The server
 * stores an update just after it echoes it, so with `page` this waits until the store holds
 * the version that page is synced to.
 */
export async function serverDocument(server, session, { page } = {}) {
  const { ChangeSet, Text } = await import("@codemirror/state");
  const want = page ? await page.evaluate(() => window.__livecode.version()) : 0;
  const read = () =>
    api(server, "GET", `/sessions/${session.session_id}/history`, { token: session.interviewer_token });
  const stored = (h) => h.base_version + h.updates.length;
  let history = await read();
  if (stored(history) < want) {
    history = await until(
      `the store to reach version ${want}`,
      async () => {
        const h = await read();
        return stored(h) >= want ? h : null;
      },
      20_000,
    );
  }
  let doc = Text.of(history.initial_document.split("\n"));
  for (const u of history.updates) doc = ChangeSet.fromJSON(u.changes).apply(doc);
  return { text: doc.toString(), version: stored(history), history };
}

/** Debian's Chromium, headless, as DESIGN.md says. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** A fresh browser context (own storage) with a 1280×800 viewport and page errors collected. */
export async function newContext(browser, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  context.pageErrors = [];
  context.on("page", (page) => page.on("pageerror", (err) => context.pageErrors.push(err)));
  return context;
}

/** Opens a session link and waits until the editor has its document. */
export async function openSession(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.__livecode?.online && window.__livecode.text() !== null, null, {
    timeout: 15_000,
  });
  return page;
}

/** The session page's state, as its test handle reports it. */
export function pageState(page) {
  return page.evaluate(() => ({
    text: window.__livecode.text(),
    version: window.__livecode.version(),
    unconfirmed: window.__livecode.unconfirmed(),
    online: window.__livecode.online,
    console: window.__livecode.consoleText(),
  }));
}

/** Waits until the page's console text contains `needle`. */
export async function waitForConsole(page, needle, timeout = 60_000) {
  await page.waitForFunction((n) => window.__livecode.consoleText().includes(n), needle, { timeout });
}

/** Waits until the page has no unconfirmed edits. */
export async function waitSynced(page, timeout = 15_000) {
  await page.waitForFunction(() => window.__livecode.online && window.__livecode.unconfirmed() === 0, null, {
    timeout,
  });
}

/** Replaces the editor's document by typing: select all, then type `text` key by key. */
export async function typeInEditor(page, text, delay = 0) {
  await page.click(".cm-content");
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.press("Delete");
  await page.keyboard.type(text, { delay });
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/**
 * A TCP proxy to `targetPort`: pages loaded through it reach the server only through it, so
 * `cut()` drops every live connection at once (the socket ends without a WebSocket close
 * handshake, as when a network goes away) and `refuse(true)` keeps new ones from getting through.
 */
export async function startProxy(targetPort) {
  const sockets = new Set();
  let refusing = false;
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", drop);
    upstream.on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    cut() {
      for (const s of sockets) s.resetAndDestroy ? s.resetAndDestroy() : s.destroy();
      sockets.clear();
    },
    refuse(on) {
      refusing = on;
    },
    close() {
      this.cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A tiny HTTP server for host pages (embedding tests): `page(path)` answers HTML or undefined. */
export async function startHostServer(page, port = 0) {
  const server = http.createServer((req, res) => {
    const body = page(new URL(req.url, "http://x").pathname);
    if (body === undefined) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(body);
  });
  const actual = await new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server.address().port)));
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let shared = null;
let current = null;

/**
 * What every browser test shares, made once per process: two host-page servers (one allowed to
 * embed livecode, one not), livecode itself allowing the first in `frame_ancestors`, a cutting
 * proxy in front of livecode, and Chromium. Torn down after the last test.
 */
export function fixture() {
  shared ??= (async () => {
    const hosts = { allowed: null, refused: null };
    const hostPage = (path) => (current ? hostPages[path]?.(current) : undefined);
    hosts.allowed = await startHostServer(hostPage);
    hosts.refused = await startHostServer(hostPage);
    const [server, browser] = await Promise.all([
      startServer({ env: { LIVECODE_FRAME_ANCESTORS: JSON.stringify([hosts.allowed.url]) } }),
      launchBrowser(),
    ]);
    const proxy = await startProxy(server.port);
    current = { server, browser, proxy, hosts };
    return current;
  })();
  return shared;
}

/** Host pages by path; each gets the fixture. */
export const hostPages = {};

after(async () => {
  if (!shared) return;
  const f = await shared.catch(() => null);
  if (!f) return;
  await f.browser.close().catch(() => {});
  await f.proxy.close();
  await f.hosts.allowed.close();
  await f.hosts.refused.close();
  await f.server.stop();
});

/**
 * Runs axe-core (the npm package, injected into the page) and answers its serious and critical
 * violations, each as "rule: target, …" for an assertion message.
 */
export async function axeViolations(page, { exclude = [] } = {}) {
  const { createRequire } = await import("node:module");
  const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(
    (exclude) =>
      window.axe
        .run({ exclude: exclude.map((s) => [s]) }, { resultTypes: ["violations"] })
        .then((r) =>
          r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(" ")) })),
        ),
    exclude,
  );
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.targets.slice(0, 5).join(", ")}`);
}
