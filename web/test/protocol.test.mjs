// The page's socket types (src/messages.ts) are generated from the schemas the running server
// publishes (/api/v1/socket-schemas.json, one JSON Schema per message): this test generates
// them again from the live document and fails on any difference, so the page cannot drift from
// the server. `npm run protocol` writes the file instead of comparing.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { compile } from "json-schema-to-typescript";
import prettier from "prettier";

import { fixture, REPO } from "./support.mjs";

const TARGET = join(REPO, "web", "src", "messages.ts");
const UPDATE = process.env.UPDATE_PROTOCOL === "1";

const BANNER = `// Generated from the server's socket schemas (/api/v1/socket-schemas.json); do not edit.
// \`npm run protocol\` writes it again; test/protocol.test.mjs fails when it differs.`;

test("the page's socket types are the server's schemas", async () => {
  const { server } = await fixture();
  const res = await fetch(`${server.url}/api/v1/socket-schemas.json`);
  assert.equal(res.status, 200);
  const generated = await generate(await res.json());
  if (UPDATE) {
    writeFileSync(TARGET, generated);
    return;
  }
  const committed = readFileSync(TARGET, "utf8");
  const line = firstDifference(committed, generated);
  assert.ok(
    line === null,
    `src/messages.ts differs from the server's schemas at line ${line}: run \`npm run protocol\` in web/\n` +
      `  committed: ${committed.split("\n")[line - 1]}\n  generated: ${generated.split("\n")[line - 1]}`,
  );
});

/**
 * TypeScript for every message: `Client<Type>Message` and `Server<Type>Message`, their unions
 * `ClientMessage` and `ServerMessage`, and the shapes they share, once each.
 */
async function generate(schemas) {
  const defs = {};
  const unions = {};
  for (const [direction, messages] of Object.entries(schemas)) {
    unions[direction] = [];
    for (const [type, schema] of Object.entries(messages)) {
      // Each schema stands alone with the shapes it uses under `$defs`: gather them once.
      const { $defs = {}, $schema: _, title: __, ...message } = schema;
      for (const [name, def] of Object.entries($defs)) share(defs, name, def);
      const name = `${pascal(direction)}${pascal(type)}Message`;
      share(defs, name, { ...message, title: name });
      unions[direction].push({ $ref: `#/$defs/${name}` });
    }
  }
  defs.ClientMessage = { title: "ClientMessage", description: "What the page may send.", oneOf: unions.client };
  // A run's catch-up in `welcome` refers to the `ServerMessage` component: the union, here.
  defs.ServerMessage = { title: "ServerMessage", description: "What the server sends.", oneOf: unions.server };
  const root = {
    title: "Socket",
    description: "The socket's messages, by direction.",
    type: "object",
    properties: { client: { $ref: "#/$defs/ClientMessage" }, server: { $ref: "#/$defs/ServerMessage" } },
    required: ["client", "server"],
    $defs: prepare(defs),
  };
  const ts = await compile(root, "Socket", { bannerComment: BANNER, additionalProperties: false, format: false });
  return prettier.format(ts, { ...(await prettier.resolveConfig(TARGET)), filepath: TARGET });
}

function share(defs, name, def) {
  if (name in defs && JSON.stringify(defs[name]) !== JSON.stringify(def)) {
    throw new Error(`two different schemas are named ${name}`);
  }
  defs[name] = def;
}

/**
 * `{"$ref": …, "description": …}` as an alternative of `oneOf`/`allOf`: the description goes to
 * the schema that holds the alternatives, so that the reference stays a reference (with a
 * sibling, the generator copies the shape under a new name: `CaseResult1`).
 */
function prepare(node) {
  if (Array.isArray(node)) return node.map(prepare);
  if (node === null || typeof node !== "object") return node;
  const out = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, prepare(v)]));
  for (const key of ["oneOf", "allOf", "anyOf"]) {
    for (const [i, item] of (out[key] ?? []).entries()) {
      if (!("$ref" in item) || !("description" in item)) continue;
      const { description, ...ref } = item;
      out[key][i] = ref;
      out.description ??= description;
    }
  }
  return out;
}

function pascal(snake) {
  return snake.replace(/(?:^|_)(\w)/g, (_, c) => c.toUpperCase());
}

/** The first line (from 1) where two texts differ, or null. */
function firstDifference(a, b) {
  if (a === b) return null;
  const [x, y] = [a.split("\n"), b.split("\n")];
  const i = x.findIndex((line, n) => line !== y[n]);
  return (i === -1 ? x.length : i) + 1;
}
