// Editor language modes by `editor_language` (environment.toml). Each is a separate chunk,
// loaded when a session needs it: Lezer grammars where CodeMirror has them, legacy stream
// modes for the rest. Keyword completion comes with the mode where it lists its keywords; the
// Lezer grammars of Java, C and C++ list none, so theirs come from the legacy mode's list.

import { completeFromList } from "@codemirror/autocomplete";
import { type Language, StreamLanguage, type StreamParser } from "@codemirror/language";
import type { Extension } from "@codemirror/state";

const legacy = <T>(parser: StreamParser<T>): Extension => StreamLanguage.define(parser);

/** `language` completing the keywords its legacy mode lists. */
function withKeywords<T>(language: Language, support: Extension, parser: StreamParser<T>): Extension {
  const words: unknown = parser.languageData?.autocomplete;
  if (!Array.isArray(words)) return support;
  return [support, language.data.of({ autocomplete: completeFromList(words as string[]) })];
}

const clike = () => import("@codemirror/legacy-modes/mode/clike");

const loaders: Record<string, () => Promise<Extension>> = {
  python: async () => (await import("@codemirror/lang-python")).python(),
  javascript: async () => (await import("@codemirror/lang-javascript")).javascript(),
  typescript: async () => (await import("@codemirror/lang-javascript")).javascript({ typescript: true }),
  cpp: async () => {
    const { cpp, cppLanguage } = await import("@codemirror/lang-cpp");
    return withKeywords(cppLanguage, cpp(), (await clike()).cpp);
  },
  c: async () => {
    const { cpp, cppLanguage } = await import("@codemirror/lang-cpp");
    return withKeywords(cppLanguage, cpp(), (await clike()).c);
  },
  java: async () => {
    const { java, javaLanguage } = await import("@codemirror/lang-java");
    return withKeywords(javaLanguage, java(), (await clike()).java);
  },
  go: async () => (await import("@codemirror/lang-go")).go(),
  rust: async () => (await import("@codemirror/lang-rust")).rust(),
  php: async () => (await import("@codemirror/lang-php")).php(),
  sql: async () => {
    const { sql, SQLite } = await import("@codemirror/lang-sql");
    return sql({ dialect: SQLite });
  },
  elixir: async () => (await import("codemirror-lang-elixir")).elixir(),
  kotlin: async () => legacy((await clike()).kotlin),
  csharp: async () => legacy((await clike()).csharp),
  scala: async () => legacy((await clike()).scala),
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
