// Editor language modes by `editor_language` (environment.toml). Each is a separate chunk,
// loaded when a session needs it: Lezer grammars where CodeMirror has them, legacy stream
// modes for the rest.

import { StreamLanguage, type StreamParser } from "@codemirror/language";
import type { Extension } from "@codemirror/state";

const legacy = <T>(parser: StreamParser<T>): Extension => StreamLanguage.define(parser);

const loaders: Record<string, () => Promise<Extension>> = {
  python: async () => (await import("@codemirror/lang-python")).python(),
  javascript: async () => (await import("@codemirror/lang-javascript")).javascript(),
  typescript: async () => (await import("@codemirror/lang-javascript")).javascript({ typescript: true }),
  cpp: async () => (await import("@codemirror/lang-cpp")).cpp(),
  c: async () => (await import("@codemirror/lang-cpp")).cpp(),
  java: async () => (await import("@codemirror/lang-java")).java(),
  go: async () => (await import("@codemirror/lang-go")).go(),
  rust: async () => (await import("@codemirror/lang-rust")).rust(),
  php: async () => (await import("@codemirror/lang-php")).php(),
  sql: async () => {
    const { sql, SQLite } = await import("@codemirror/lang-sql");
    return sql({ dialect: SQLite });
  },
  elixir: async () => (await import("codemirror-lang-elixir")).elixir(),
  kotlin: async () => legacy((await import("@codemirror/legacy-modes/mode/clike")).kotlin),
  csharp: async () => legacy((await import("@codemirror/legacy-modes/mode/clike")).csharp),
  scala: async () => legacy((await import("@codemirror/legacy-modes/mode/clike")).scala),
  ruby: async () => legacy((await import("@codemirror/legacy-modes/mode/ruby")).ruby),
  perl: async () => legacy((await import("@codemirror/legacy-modes/mode/perl")).perl),
  lua: async () => legacy((await import("@codemirror/legacy-modes/mode/lua")).lua),
  haskell: async () => legacy((await import("@codemirror/legacy-modes/mode/haskell")).haskell),
  r: async () => legacy((await import("@codemirror/legacy-modes/mode/r")).r),
  shell: async () => legacy((await import("@codemirror/legacy-modes/mode/shell")).shell),
};

/** The names `editor_language` may take. */
export const knownLanguages = Object.keys(loaders);

/** The language support for `name`; plain text for a name this page does not know. */
export async function loadLanguage(name: string): Promise<Extension> {
  const load = loaders[name.toLowerCase()];
  if (!load) return [];
  try {
    return await load();
  } catch (err) {
    console.warn(`livecode: could not load the ${name} mode`, err);
    return [];
  }
}
