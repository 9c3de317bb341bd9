// Live collaboration through the real server: two people typing into one document at once, and
// a socket that dies mid-edit. The pages of the second test load through a TCP proxy that can
// cut every connection and refuse new ones: the socket then ends without a close handshake, as
// when a laptop's network goes away, which no page-side hook would reproduce.

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
  sleep,
  until,
  waitSynced,
} from "./support.mjs";

/** `n` keystrokes of words made of `letter`, with an astral character now and then. */
function keystrokes(letter, n) {
  let text = "";
  while ([...text].length < n) {
    const i = [...text].length;
    text += i % 50 === 49 ? "😀" : i % 7 === 6 ? " " : letter;
  }
  return text;
}

const count = (text, ch) => text.split(ch).length - 1;

describe("collaboration", () => {
  let f;
  let contexts = [];

  before(async () => {
    f = await fixture();
  });

  after(async () => {
    for (const c of contexts) await c.close();
  });

  test("two people type hundreds of keystrokes at once and end with the server's text", async (t) => {
    const session = await createSession(f.server, { environment: "python", code: "# go\n" });
    const [ca, cb] = await Promise.all([newContext(f.browser), newContext(f.browser)]);
    contexts.push(ca, cb);
    let rejected = 0;
    for (const c of [ca, cb]) {
      c.on("page", (p) =>
        p.on("websocket", (ws) =>
          ws.on("framereceived", (f) => (rejected += String(f.payload).includes('"update_rejected"') ? 1 : 0)),
        ),
      );
    }
    const [a, b] = await Promise.all([openSession(ca, session.candidateUrl), openSession(cb, session.interviewerUrl)]);
    for (const [page, where] of [
      [a, "ControlOrMeta+End"],
      [b, "ControlOrMeta+Home"],
    ]) {
      await page.click(".cm-content");
      await page.keyboard.press(where);
    }
    const n = 300;
    const textA = keystrokes("a", n);
    const textB = keystrokes("b", n);
    // Both type at once; b also moves around in the document now and then.
    await Promise.all([
      a.keyboard.type(textA),
      (async () => {
        for (let i = 0; i < textB.length; i += 60) {
          await b.keyboard.type(textB.slice(i, i + 60));
          await b.keyboard.press(i % 120 === 0 ? "ControlOrMeta+End" : "ControlOrMeta+Home");
        }
      })(),
    ]);
    await Promise.all([waitSynced(a), waitSynced(b)]);
    const server = await serverDocument(f.server, session, { page: a });
    await until("both pages to show the server's text", async () => {
      const [sa, sb] = await Promise.all([pageState(a), pageState(b)]);
      return sa.text === server.text && sb.text === server.text;
    });
    // Every keystroke made it, astral characters whole.
    assert.equal(count(server.text, "a"), count(textA, "a"));
    assert.equal(count(server.text, "b"), count(textB, "b"));
    assert.equal(count(server.text, "😀"), count(textA, "😀") + count(textB, "😀"));
    assert.ok(server.text.includes("# go"));
    assert.ok(server.version >= 20, `many updates were made (${server.version})`);
    t.diagnostic(`${server.version} updates, ${rejected} update_rejected`);
    assert.ok(rejected > 0, "the pages really raced: some pushes were stale and rebased");
    // A fresh page gets the same text in its welcome.
    const c = await openSession(ca, session.candidateUrl);
    assert.equal((await pageState(c)).text, server.text);
    assert.deepEqual([...ca.pageErrors, ...cb.pageErrors], []);
  });

  test("a socket dropped mid-edit and restored loses nothing typed", async () => {
    const session = await createSession(f.server, { environment: "python", code: "" });
    const [cc, ci] = await Promise.all([newContext(f.browser), newContext(f.browser)]);
    contexts.push(cc, ci);
    // The candidate goes through the proxy; the interviewer watches directly.
    let sockets = 0;
    cc.on("page", (p) => p.on("websocket", () => sockets++));
    const candidate = await openSession(cc, `${f.proxy.url}/s/${session.session_id}#token=${session.candidate_token}`);
    const interviewer = await openSession(ci, session.interviewerUrl);
    await candidate.click(".cm-content");

    // 1. The connection dies while typing: the page reconnects and resends by itself.
    const part1 = "x = 1 # typed while the line drops";
    const typing = candidate.keyboard.type(part1, { delay: 15 });
    await sleep(200);
    f.proxy.cut();
    await typing;
    await waitSynced(candidate, 20_000);

    // 2. A longer outage: edits pile up offline and go out once the server is reachable again.
    f.proxy.refuse(true);
    f.proxy.cut();
    await until("the page to notice it is offline", async () => !(await pageState(candidate)).online);
    const part2 = "\ny = 2 # typed offline";
    await candidate.keyboard.type(part2);
    const offline = await pageState(candidate);
    assert.ok(offline.unconfirmed > 0, "offline edits are kept as unconfirmed updates");
    await until("the page to say edits wait", async () =>
      /not yet saved/.test(await candidate.textContent("#connection")),
    );
    await screenshot(candidate, "candidate-offline");
    // Meanwhile the interviewer edits too.
    await interviewer.click(".cm-content");
    await interviewer.keyboard.press("ControlOrMeta+Home");
    await interviewer.keyboard.type("# reviewed\n");
    await waitSynced(interviewer);
    f.proxy.refuse(false);
    await waitSynced(candidate, 20_000);

    const expected = "# reviewed\n" + part1 + part2;
    const server = await serverDocument(f.server, session, { page: candidate });
    assert.equal(server.text, expected);
    await until("both pages to converge", async () => {
      const [a, b] = await Promise.all([pageState(candidate), pageState(interviewer)]);
      return a.text === expected && b.text === expected;
    });
    assert.match(await candidate.textContent("#connection"), /connected/);
    assert.ok(sockets >= 3, `the page reconnected after each cut (${sockets} sockets)`);
  });
});
