//! What goes into the image builds: the runner's source (and the digest that names its
//! build), an environment's folder with the runner added, and this machine's npm settings for
//! the images that install from npm. Each context is a tar in memory.

use std::sync::OnceLock;

use bytes::Bytes;
use livecode_runner::protocol::PROTOCOL_VERSION;

use crate::environments::Environment;
use crate::sandbox::{RUNNER_LABEL, RUNNER_PATH};

/// The runner's source and its builder's Dockerfile, as the build context of its image.
#[derive(rust_embed::Embed)]
#[folder = "runner/"]
#[include = "Dockerfile"]
#[include = "src/*.rs"]
struct RunnerSource;

/// Which runner this server's images carry: the protocol version and a digest of the
/// runner's source.
pub fn runner_build() -> &'static str {
    static BUILD: OnceLock<String> = OnceLock::new();
    BUILD.get_or_init(|| {
        use sha2::Digest;
        let mut hash = sha2::Sha256::new();
        for path in RunnerSource::iter() {
            let file = RunnerSource::get(&path).expect("listed by iter");
            hash.update(path.as_bytes());
            hash.update((file.data.len() as u64).to_le_bytes());
            hash.update(&file.data);
        }
        format!(
            "p{PROTOCOL_VERSION}-{}",
            &hex::encode(hash.finalize())[..16]
        )
    })
}

/// The image the runner binary is copied from.
pub fn runner_image() -> String {
    format!("livecode-runner:{}", runner_build())
}

/// The runner's image's build context: its source and its builder's Dockerfile.
pub fn runner() -> Bytes {
    let files: Vec<(String, Vec<u8>)> = RunnerSource::iter()
        .map(|path| {
            let data = RunnerSource::get(&path).expect("listed by iter").data;
            (path.to_string(), data.into_owned())
        })
        .collect();
    tar_of(files.iter().map(|(p, d)| (p.as_str(), d.as_slice())))
}

/// This machine's npm registry and CA bundle, for images that install from npm: read from
/// npm's own configuration, so no registry is written into livecode.
#[derive(Debug, Default)]
pub struct HostNpm {
    pub registry: Option<String>,
    /// The CA bundle npm is configured with; empty when none.
    pub ca: Vec<u8>,
}

/// This machine's npm settings, asked of npm once.
pub async fn host_npm() -> &'static HostNpm {
    static NPM: tokio::sync::OnceCell<HostNpm> = tokio::sync::OnceCell::const_new();
    NPM.get_or_init(|| async {
        let get = |key: &'static str| async move {
            let out = tokio::process::Command::new("npm")
                .args(["config", "get", key])
                .kill_on_drop(true)
                .output()
                .await
                .ok()
                .filter(|o| o.status.success())?;
            let value = String::from_utf8_lossy(&out.stdout).trim().to_string();
            (!value.is_empty() && value != "null" && value != "undefined").then_some(value)
        };
        let registry = get("registry").await;
        let ca = match get("cafile").await {
            Some(path) => tokio::fs::read(&path).await.unwrap_or_else(|err| {
                tracing::warn!(%path, %err, "npm's cafile cannot be read");
                Vec::new()
            }),
            None => Vec::new(),
        };
        if registry.is_none() {
            tracing::warn!("npm's registry is unknown here (no npm?): images use npm's default");
        }
        HostNpm { registry, ca }
    })
    .await
}

/// The environment's folder as a tar, the build context, its Dockerfile ending with the
/// runner copied in (root's alone to read and run: its mode comes from the runner's image),
/// `livecode-compile` beside it (for builds that reach a resident compiler) and the label
/// that says which runner it is; with `npm`, the CA bundle beside it.
pub fn environment(env: &Environment, npm: Option<&HostNpm>) -> Bytes {
    let runner = runner_image();
    let dockerfile = format!(
        "{}\n# Added by livecode: the runner every run goes through (see runner/Dockerfile).\n\
         COPY --from={runner} /livecode-runner {RUNNER_PATH}\n\
         COPY --from={runner} /livecode-compile /usr/local/bin/livecode-compile\n\
         LABEL {RUNNER_LABEL}=\"{}\"\n",
        String::from_utf8_lossy(&env.context["Dockerfile"]).trim_end(),
        runner_build(),
    );
    let npm_ca = npm.map(|n| ("livecode-npm-ca.pem", n.ca.as_slice()));
    tar_of(
        env.context
            .iter()
            .map(|(path, data)| {
                if path == "Dockerfile" {
                    (path.as_str(), dockerfile.as_bytes())
                } else {
                    (path.as_str(), data.as_slice())
                }
            })
            .chain(npm_ca),
    )
}

fn tar_of<'a>(files: impl Iterator<Item = (&'a str, &'a [u8])>) -> Bytes {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(if path.ends_with(".sh") { 0o755 } else { 0o644 });
        header.set_mtime(0);
        builder
            .append_data(&mut header, path, data)
            .expect("writing a tar to memory cannot fail");
    }
    Bytes::from(builder.into_inner().expect("tar to memory"))
}
