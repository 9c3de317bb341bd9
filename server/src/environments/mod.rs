//! Languages: each is a folder with a `Dockerfile` and an `environment.toml`, embedded in the
//! binary (or read from `environments_dir`). This module loads and validates them and expands
//! command placeholders; `images` builds their images.
//!
//! # Layout
//! - [`Environments`]: every environment by name, plus whether its image is ready.
//! - [`Environment`]: one language's settings, parsed: its file name is a
//!   [`WorkspacePath`] from the start.
//! - `program`: the [`Program`] a session runs, what it is called, and
//!   [`Environment::run_command`] and [`Environment::build_command`], which expand
//!   `{file_path}` and friends.
//! - `images`: builds missing images (with the base-image bootstrap when needed).

pub mod images;
mod program;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use livecode_runner::path::WorkspacePath;
use serde::{Deserialize, Deserializer};

pub use program::Program;

/// The environment folders shipped with the binary.
#[derive(rust_embed::Embed)]
#[folder = "environments/"]
struct Embedded;

/// One environment's `environment.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentToml {
    pub description: String,
    #[serde(deserialize_with = "workspace_path")]
    pub filename: WorkspacePath,
    pub editor_language: String,
    #[serde(default)]
    pub build: String,
    pub run: String,
    #[serde(default)]
    pub version_command: String,
    #[serde(default)]
    pub template: String,
    /// Memory for this environment's containers, when its toolchain needs more than the default.
    pub memory_mib: Option<u64>,
    /// CPU share, when its toolchain needs more than the default.
    pub cpus: Option<f64>,
    /// Limit of the build step, when it needs other than `limits.build_timeout_seconds`.
    pub build_timeout_seconds: Option<u64>,
    /// Libraries installed beside the language, for the README's table.
    #[serde(default)]
    pub libraries: String,
    /// Regular expressions tried in order on the program; the first capture of the first that
    /// matches is its entry (`{entry}`: Java's class, Haskell's module).
    #[serde(default)]
    pub entry_patterns: Vec<String>,
    /// `{entry}` when no pattern matches; the file name's stem when unset.
    pub entry_default: Option<String>,
    /// The program's file name when a pattern matched (`{entry}.java`), for toolchains that
    /// want a file named after what it holds; `filename` when unset.
    pub entry_filename: Option<String>,
    /// A resident compiler the runner starts with the container, as a uid of its own (the
    /// build reaches it with `livecode-runner compile`; see docs/protocol.md).
    pub daemon: Option<String>,
    /// The image installs from npm: its build gets this machine's npm registry (build arg
    /// `LIVECODE_NPM_REGISTRY`) and CA bundle (`livecode-npm-ca.pem`, empty when none).
    #[serde(default)]
    pub host_npm: bool,
}

/// A file name of `environment.toml`, parsed as it is read.
fn workspace_path<'de, D: Deserializer<'de>>(d: D) -> Result<WorkspacePath, D::Error> {
    WorkspacePath::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// A language sessions can use.
#[derive(Debug)]
pub struct Environment {
    pub name: String,
    pub image: String,
    pub settings: EnvironmentToml,
    /// The build context: every file of the folder, by relative path.
    pub context: BTreeMap<String, Vec<u8>>,
    entry_patterns: Vec<regex::Regex>,
    ready: AtomicBool,
    /// The engine's id of the image, once it is known to carry this server's runner.
    image_id: Mutex<Option<String>>,
    version: Mutex<Option<String>>,
}

impl Environment {
    /// The engine's id of the ready image.
    pub fn image_id(&self) -> Option<String> {
        self.image_id
            .lock()
            .expect("image id lock poisoned")
            .clone()
    }

    /// Marks the image ready (with its id) or not.
    pub fn set_image(&self, image_id: Option<String>) {
        self.set_ready(image_id.is_some());
        *self.image_id.lock().expect("image id lock poisoned") = image_id;
    }

    /// True once the image exists in the engine.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// The language version read off the built image, if known.
    pub fn version(&self) -> Option<String> {
        self.version.lock().expect("version lock poisoned").clone()
    }

    pub fn set_version(&self, version: Option<String>) {
        *self.version.lock().expect("version lock poisoned") = version;
    }

    /// True when the language has a build step.
    pub fn is_compiled(&self) -> bool {
        !self.settings.build.trim().is_empty()
    }

    /// The document an empty session starts with.
    pub fn template(&self) -> String {
        self.settings.template.trim_start_matches('\n').to_string()
    }
}

/// The language version in a version command's output: its first dotted number, cut to
/// major.minor (patch releases change under a stable distribution; the README shouldn't).
pub fn short_version(output: &str) -> Option<String> {
    let start = output.find(|c: char| c.is_ascii_digit())?;
    let rest = &output[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let parts: Vec<&str> = rest[..end]
        .split('.')
        .filter(|p| !p.is_empty())
        .take(2)
        .collect();
    Some(parts.join("."))
}

/// The README's language table, from the environments and the versions read off their images.
pub fn markdown_table(environments: &Environments) -> String {
    let mut out = String::from(
        "| environment | language | version | file | compiled | libraries |\n|---|---|---|---|---|---|\n",
    );
    for env in environments.iter() {
        let version = env
            .version()
            .and_then(|v| short_version(&v))
            .unwrap_or_else(|| "?".into());
        out.push_str(&format!(
            "| `{}` | {} | {} | `{}` | {} | {} |\n",
            env.name,
            env.settings.description,
            version,
            env.settings.filename,
            if env.is_compiled() { "yes" } else { "no" },
            env.settings.libraries,
        ));
    }
    out
}

/// Why the environments could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    #[error("environment '{name}': {reason}")]
    Invalid { name: String, reason: String },
    #[error("reading environments from {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("no environments found")]
    Empty,
}

/// Every environment, by name.
#[derive(Debug, Default)]
pub struct Environments {
    by_name: BTreeMap<String, Arc<Environment>>,
}

impl Environments {
    /// Loads from `dir`, or the embedded definitions when `dir` is empty.
    pub fn load(dir: &str) -> Result<Self, EnvironmentError> {
        let mut files: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
        if dir.is_empty() {
            for path in Embedded::iter() {
                let data = Embedded::get(&path)
                    .expect("listed by iter")
                    .data
                    .into_owned();
                if let Some((env, rest)) = path.split_once('/') {
                    files
                        .entry(env.to_string())
                        .or_default()
                        .insert(rest.to_string(), data);
                }
            }
        } else {
            read_dir_into(Path::new(dir), &mut files)?;
        }
        let mut by_name = BTreeMap::new();
        for (name, context) in files {
            let env = Self::parse(&name, context)?;
            by_name.insert(name, Arc::new(env));
        }
        if by_name.is_empty() {
            return Err(EnvironmentError::Empty);
        }
        Ok(Self { by_name })
    }

    fn parse(
        name: &str,
        context: BTreeMap<String, Vec<u8>>,
    ) -> Result<Environment, EnvironmentError> {
        let invalid = |reason: String| EnvironmentError::Invalid {
            name: name.to_string(),
            reason,
        };
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                "names are lowercase letters, digits and '-'".into(),
            ));
        }
        let toml_bytes = context
            .get("environment.toml")
            .ok_or_else(|| invalid("no environment.toml".into()))?;
        if !context.contains_key("Dockerfile") {
            return Err(invalid("no Dockerfile".into()));
        }
        let text = std::str::from_utf8(toml_bytes).map_err(|e| invalid(e.to_string()))?;
        let settings: EnvironmentToml = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if settings.run.trim().is_empty() {
            return Err(invalid("run is empty".into()));
        }
        let entry_patterns = settings
            .entry_patterns
            .iter()
            .map(|p| regex::Regex::new(p).map_err(|e| invalid(format!("entry_patterns: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Environment {
            name: name.to_string(),
            // Tagged with the runner build, so servers built from different runner sources
            // (a rolling upgrade, or two checkouts on one engine) never take each other's images.
            image: format!("livecode-env-{name}:{}", images::runner_build()),
            settings,
            context,
            entry_patterns,
            ready: AtomicBool::new(false),
            image_id: Mutex::new(None),
            version: Mutex::new(None),
        })
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Environment>> {
        self.by_name.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Environment>> {
        self.by_name.values()
    }

    pub fn names(&self) -> Vec<String> {
        self.by_name.keys().cloned().collect()
    }
}

fn read_dir_into(
    root: &Path,
    files: &mut BTreeMap<String, BTreeMap<String, Vec<u8>>>,
) -> Result<(), EnvironmentError> {
    let io = |path: &Path, source| EnvironmentError::Io {
        path: path.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(root).map_err(|e| io(root, e))? {
        let entry = entry.map_err(|e| io(root, e))?;
        if !entry
            .file_type()
            .map_err(|e| io(&entry.path(), e))?
            .is_dir()
        {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut stack = vec![entry.path()];
        while let Some(dir) = stack.pop() {
            for file in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
                let path = file.map_err(|e| io(&dir, e))?.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path
                        .strip_prefix(entry.path())
                        .expect("walked below the environment folder")
                        .to_string_lossy()
                        .replace('\\', "/");
                    let data = std::fs::read(&path).map_err(|e| io(&path, e))?;
                    files.entry(name.clone()).or_default().insert(rel, data);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_environments_load() {
        let envs = Environments::load("").expect("embedded environments are valid");
        for name in ["python", "node", "bash"] {
            let env = envs
                .get(name)
                .unwrap_or_else(|| panic!("{name} is embedded"));
            assert_eq!(
                env.image,
                format!("livecode-env-{name}:{}", images::runner_build())
            );
            assert!(!env.template().is_empty());
            assert!(env.context.contains_key("Dockerfile"));
        }
        let python = envs.get("python").expect("python");
        assert_eq!(
            python.run_command(&python.program("print(1)", None)),
            "python3 /workspace/main.py"
        );
    }

    #[test]
    fn versions_are_cut_to_major_minor() {
        assert_eq!(short_version("Python 3.11.2").as_deref(), Some("3.11"));
        assert_eq!(short_version("v18.20.4").as_deref(), Some("18.20"));
        assert_eq!(
            short_version("go version go1.19.8 linux/amd64").as_deref(),
            Some("1.19")
        );
        assert_eq!(
            short_version("GNU bash, version 5.2.15(1)-release").as_deref(),
            Some("5.2")
        );
        assert_eq!(short_version("no digits"), None);
    }
}
