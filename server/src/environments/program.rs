//! What a session's program is called and how it is built and run: the file a program goes
//! in (its environment's, or the one its entry asks for), its entry (`{entry}`), and the
//! commands with their placeholders filled in.

use livecode_runner::path::WorkspacePath;

use super::Environment;
use crate::sandbox::WORKSPACE;

impl Environment {
    /// The run command for a program in `filename`, placeholders filled in.
    pub fn run_command(&self, program: &Program) -> String {
        expand_placeholders(&self.settings.run, program)
    }

    /// The build command for a program, or `None` for interpreted languages.
    pub fn build_command(&self, program: &Program) -> Option<String> {
        self.is_compiled()
            .then(|| expand_placeholders(&self.settings.build, program))
    }

    /// The entry `code` declares (its public class, its module), if a pattern finds one.
    fn declared_entry(&self, code: &str) -> Option<String> {
        self.entry_patterns.iter().find_map(|pattern| {
            let name = pattern.captures(code)?.get(1)?.as_str();
            // A name becomes a file name: only plain ones.
            WorkspacePath::parse(name).is_ok().then(|| name.to_string())
        })
    }

    /// Where `code` goes and what it is called: `filename` when the request names the file,
    /// else the one its entry asks for (`Solution.java`) if that is a workspace path, else
    /// the environment's.
    pub fn program(&self, code: &str, filename: Option<&WorkspacePath>) -> Program {
        let declared = self.declared_entry(code);
        let named = match (filename, &declared, &self.settings.entry_filename) {
            (Some(name), _, _) => Some(name.clone()),
            (None, Some(entry), Some(template)) => {
                WorkspacePath::parse(&template.replace("{entry}", entry)).ok()
            }
            _ => None,
        };
        let filename = named.unwrap_or_else(|| self.settings.filename.clone());
        let entry = declared
            .or_else(|| self.settings.entry_default.clone())
            .unwrap_or_else(|| stem(filename.as_str()).to_string());
        Program { filename, entry }
    }
}

/// A program to build and run: the file it is in, and its entry (`{entry}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub filename: WorkspacePath,
    pub entry: String,
}

fn stem(filename: &str) -> &str {
    filename.rsplit_once('.').map_or(filename, |(stem, _)| stem)
}

/// Fills `{file_path}`, `{filename}`, `{output_path}`, `{entry}` and `{workspace}`, each quoted
/// for the shell that runs the command: a file name is data, never shell text (`x;id;.py`
/// names a file, it does not run `id`). Names of plain characters stay unquoted.
fn expand_placeholders(command: &str, program: &Program) -> String {
    let filename = program.filename.as_str();
    // A workspace path never holds NUL, the one thing shlex cannot quote.
    let quote = |s: &str| shlex::try_quote(s).map_or_else(|_| "''".into(), |q| q.into_owned());
    command
        .replace("{file_path}", &quote(&format!("{WORKSPACE}/{filename}")))
        .replace("{filename}", &quote(filename))
        .replace(
            "{output_path}",
            &quote(&format!("{WORKSPACE}/{}", stem(filename))),
        )
        .replace("{entry}", &quote(&program.entry))
        .replace("{workspace}", &quote(WORKSPACE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environments::Environments;

    #[test]
    fn java_programs_are_named_after_their_public_class() {
        let envs = Environments::load("").expect("embedded environments are valid");
        let java = envs.get("java").expect("java");
        let program = |code: &str| java.program(code, None);
        let solution = program("import java.util.*;\n\npublic final class Solution {\n  public static class Node {}\n  public static void main(String[] a) {}\n}\n");
        assert_eq!(solution.filename, "Solution.java");
        assert_eq!(solution.entry, "Solution");
        assert!(java.run_command(&solution).ends_with(" Solution"));
        // A public class wins over a helper declared first; without one, the first
        // top-level class runs, as the source launcher would.
        let p = program("class Helper {}\npublic class HelloWorld { }\n");
        assert_eq!(
            (p.filename.as_str(), p.entry.as_str()),
            ("HelloWorld.java", "HelloWorld")
        );
        let p = program("class Solution {\n  public static void main(String[] a) {}\n}\n");
        assert_eq!(
            (p.filename.as_str(), p.entry.as_str()),
            ("Solution.java", "Solution")
        );
        let p = program("void main() { IO.println(1); }\n");
        assert_eq!(
            (p.filename.as_str(), p.entry.as_str()),
            ("Main.java", "Main")
        );
        // A file the request names is kept.
        let other = WorkspacePath::parse("Other.java").expect("valid");
        let p = java.program("public class Solution {}", Some(&other));
        assert_eq!(
            (p.filename.as_str(), p.entry.as_str()),
            ("Other.java", "Solution")
        );
    }

    #[test]
    fn placeholders_expand() {
        let program = |filename: &str| Program {
            filename: WorkspacePath::parse(filename).expect("valid"),
            entry: stem(filename).into(),
        };
        assert_eq!(
            expand_placeholders(
                "gcc -o {output_path} {file_path} && cd {workspace} && ls {filename} {entry}",
                &program("main.c")
            ),
            "gcc -o /workspace/main /workspace/main.c && cd /workspace && ls main.c main"
        );
        // Names are data: quoted, so the shell neither splits nor runs them.
        assert_eq!(
            expand_placeholders("python3 {file_path}", &program("x;id>&2;.py")),
            "python3 '/workspace/x;id>&2;.py'"
        );
        assert_eq!(
            expand_placeholders("run {file_path} {output_path}.exe", &program("a b's.py")),
            r#"run "/workspace/a b's.py" "/workspace/a b's".exe"#
        );
    }
}
