//! The shape of the code, checked: no import circle among the modules of `server/src` (file by
//! file, and top-level module by top-level module) or of `runner/src`, no file in `server/src`
//! over 450 lines, and no function there over 80.
//!
//! The module graph is grep's view of the imports: an edge from a file's module to the deepest
//! module that a `crate::…`, `super::…` or `self::…` path in it names (in `use` or inline).
//! A module's paths to its own children (`child::X`) are containment, not edges. Unit tests
//! (`#[cfg(test)]` and what follows it) are left out: they may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

const MAX_FILE_LINES: usize = 450;
const MAX_FN_LINES: usize = 80;

type Module = Vec<String>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `session/run/mod.rs` → `[session, run]`; `lib.rs` and `main.rs` → the crate root `[]`.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Module = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The source without unit tests, comments, and string literals' contents.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    let strings = regex::Regex::new(r##"(?s)r#".*?"#|"(\\.|[^"\\])*""##).unwrap();
    let comments = regex::Regex::new(r"(?m)//.*$").unwrap();
    let text = strings.replace_all(text, "\"\"");
    comments.replace_all(&text, "").into_owned()
}

/// Every path a `use` declares, braces expanded: `use a::{b, c::{d, e}}` → `a::b`, `a::c::d`, …
fn expand_use(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        out.push(format!("{prefix}{tree}"));
        return;
    };
    let head = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').expect("balanced braces")];
    let (mut depth, mut start) = (0, 0);
    let mut parts = Vec::new();
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    for part in parts.into_iter().filter(|p| !p.trim().is_empty()) {
        expand_use(part, &format!("{prefix}{head}"), out);
    }
}

/// The module graph of one crate's `src`.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let files = rust_files(src);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(src, f)).collect();
    let deepest = |path: &[String]| -> Option<Module> {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|m| modules.contains(m))
    };
    let uses = regex::Regex::new(r"\buse\s+([^;]+);").unwrap();
    let inline = regex::Regex::new(r"\b(crate(?:::\w+)+)").unwrap();
    let renames = regex::Regex::new(r"\s+as\s+\w+").unwrap();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for file in &files {
        let from = module_of(src, file);
        let code = code_of(&std::fs::read_to_string(file).expect("readable"));
        let mut paths = Vec::new();
        for m in uses.captures_iter(&code) {
            let tree = renames.replace_all(&m[1], "");
            let tree: String = tree.split_whitespace().collect();
            expand_use(&tree, "", &mut paths);
        }
        paths.extend(inline.captures_iter(&code).map(|m| m[1].to_string()));
        for path in paths {
            let mut segments = path.split("::").filter(|s| !s.is_empty());
            let mut base: Module = match segments.next() {
                Some("crate") => Vec::new(),
                Some("self") => from.clone(),
                Some("super") => from[..from.len().saturating_sub(1)].to_vec(),
                _ => continue,
            };
            let mut rest: Vec<&str> = segments.collect();
            while rest.first() == Some(&"super") {
                base.pop();
                rest.remove(0);
            }
            base.extend(rest.iter().map(|s| s.to_string()));
            if let Some(to) = deepest(&base) {
                if to != from {
                    edges.entry(from.clone()).or_default().insert(to);
                }
            }
        }
        edges.entry(from).or_default();
    }
    edges
}

/// The same graph seen one level up: `session::run` is `session`; edges inside one top-level
/// module disappear.
fn top_level(edges: &BTreeMap<Module, BTreeSet<Module>>) -> BTreeMap<Module, BTreeSet<Module>> {
    let top = |m: &Module| m.iter().take(1).cloned().collect::<Module>();
    let mut out: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, tos) in edges {
        let entry = out.entry(top(from)).or_default();
        entry.extend(
            tos.iter()
                .map(top)
                .filter(|t| *t != top(from) && !t.is_empty() && !from.is_empty()),
        );
    }
    out
}

/// The strongly connected components with more than one module (Tarjan's).
fn circles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a Module) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(if w.is_empty() {
                        "crate".into()
                    } else {
                        w.join("::")
                    });
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn the_server_modules_import_without_circles() {
    let edges = graph(&root().join("server/src"));
    assert!(edges.len() > 50, "the server's modules were found");
    assert_eq!(
        circles(&edges),
        Vec::<Vec<String>>::new(),
        "file-level circles"
    );
    let top = top_level(&edges);
    assert_eq!(
        circles(&top),
        Vec::<Vec<String>>::new(),
        "top-level circles"
    );
}

#[test]
fn the_runner_modules_import_without_circles() {
    let edges = graph(&root().join("runner/src"));
    assert!(edges.len() > 5, "the runner's modules were found");
    assert_eq!(circles(&edges), Vec::<Vec<String>>::new());
}

#[test]
fn a_circle_is_found_when_there_is_one() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Module>();
    let edges = BTreeMap::from([
        (m("a"), BTreeSet::from([m("b")])),
        (m("b"), BTreeSet::from([m("c")])),
        (m("c"), BTreeSet::from([m("a")])),
        (m("d"), BTreeSet::from([m("a")])),
    ]);
    assert_eq!(circles(&edges), vec![vec!["a", "b", "c"]]);
    let mut paths = Vec::new();
    expand_use("crate::{a::{b,c::{d,e}},f}", "", &mut paths);
    assert_eq!(
        paths,
        [
            "crate::a::b",
            "crate::a::c::d",
            "crate::a::c::e",
            "crate::f"
        ]
    );
}

/// Each function's length in lines, from its `fn` line to its closing brace.
fn long_functions(file: &Path, text: &str) -> Vec<String> {
    let start = regex::Regex::new(
        r"^\s*(pub(\([\w:]+\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)",
    )
    .unwrap();
    let lines: Vec<String> = text.lines().map(code_of_line).collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = start.captures(line).map(|c| c[6].to_string()) else {
            continue;
        };
        let (mut depth, mut opened) = (0i32, false);
        for (j, body) in lines.iter().enumerate().skip(i) {
            if !opened && body.contains(';') && !body.contains('{') {
                break; // a declaration without a body
            }
            for c in body.chars() {
                match c {
                    '{' => (depth, opened) = (depth + 1, true),
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth == 0 {
                if j - i + 1 > MAX_FN_LINES {
                    out.push(format!(
                        "{}:{} {name}: {} lines",
                        file.display(),
                        i + 1,
                        j - i + 1
                    ));
                }
                break;
            }
        }
    }
    out
}

/// One line without its strings, character literals and comment.
fn code_of_line(line: &str) -> String {
    static STRINGS: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r#""(\\.|[^"\\])*"|'(\\.|[^'\\])'"#).unwrap());
    let line = STRINGS.replace_all(line, "\"\"");
    line.split("//").next().unwrap_or_default().to_string()
}

#[test]
fn no_server_file_or_function_is_too_long() {
    let src = root().join("server/src");
    let mut found = Vec::new();
    for file in rust_files(&src) {
        let text = std::fs::read_to_string(&file).expect("readable");
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            found.push(format!("{}: {lines} lines", file.display()));
        }
        found.extend(long_functions(&file, &text));
    }
    assert!(found.is_empty(), "over the bounds:\n{}", found.join("\n"));
}
