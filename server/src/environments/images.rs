//! Builds environment images: `livecode-env-<name>` from each folder's Dockerfile. When the
//! base image `debian:bookworm-slim` is missing and can't be pulled (no registry), the embedded
//! bootstrap script makes it with debootstrap first.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;

use super::{Environment, Environments};
use crate::sandbox::{Sandbox, SandboxError};

/// The base every environment's Dockerfile starts from.
pub const BASE_IMAGE: &str = "debian:bookworm-slim";
/// Makes [`BASE_IMAGE`] with debootstrap + `docker import` on machines with no registry.
pub const BOOTSTRAP_SCRIPT: &str = include_str!("../../../scripts/bootstrap-base-image.sh");

/// Why an image could not be built; names the environment and carries the log's tail.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("environment '{name}': image build failed: {reason}\n--- last lines of the build log ---\n{tail}")]
    Build {
        name: String,
        reason: String,
        tail: String,
    },
    #[error("base image {BASE_IMAGE} is missing and the bootstrap failed: {0}")]
    Base(String),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

/// Builds the images of `names` (all when empty), `parallel` at a time. With `only_missing`,
/// images that already exist are only marked ready. Every environment's readiness is updated.
/// Marks the environments whose image exists as ready; builds nothing.
pub async fn mark_built(
    sandbox: &Arc<dyn Sandbox>,
    environments: &Environments,
) -> Result<(), ImageError> {
    for env in environments.iter() {
        env.set_ready(sandbox.image_exists(&env.image).await?);
    }
    Ok(())
}

pub async fn build(
    sandbox: &Arc<dyn Sandbox>,
    environments: &Environments,
    names: &[String],
    only_missing: bool,
    parallel: usize,
) -> Vec<Result<(), ImageError>> {
    let selected: Vec<Arc<Environment>> = environments
        .iter()
        .filter(|e| names.is_empty() || names.contains(&e.name))
        .cloned()
        .collect();

    let mut todo = Vec::new();
    for env in selected {
        match sandbox.image_exists(&env.image).await {
            Ok(true) if only_missing => env.set_ready(true),
            Ok(_) => todo.push(env),
            Err(err) => return vec![Err(err.into())],
        }
    }
    if todo.is_empty() {
        return Vec::new();
    }
    if let Err(err) = ensure_base_image(sandbox).await {
        return vec![Err(err)];
    }
    // Every Dockerfile starts with the same lines. The legacy builder shares a cached layer only
    // once it exists, so one image goes first and the rest, built in parallel, reuse its layer.
    let mut todo = todo.into_iter();
    let first = todo.next().expect("checked non-empty");
    let mut results = vec![build_one(sandbox, &first).await];
    results.extend(
        futures_util::stream::iter(todo)
            .map(|env| async move { build_one(sandbox, &env).await })
            .buffer_unordered(parallel.max(1))
            .collect::<Vec<_>>()
            .await,
    );
    results
}

async fn build_one(sandbox: &Arc<dyn Sandbox>, env: &Arc<Environment>) -> Result<(), ImageError> {
    let started = Instant::now();
    tracing::info!(environment = %env.name, image = %env.image, "building image");
    let tail = std::sync::Mutex::new(std::collections::VecDeque::<String>::new());
    let name = env.name.clone();
    let log = |line: &str| {
        if line.starts_with("Step ") {
            tracing::info!(environment = %name, "{line}");
        } else {
            tracing::debug!(environment = %name, "{line}");
        }
        let mut tail = tail.lock().expect("tail lock poisoned");
        if tail.len() == 30 {
            tail.pop_front();
        }
        tail.push_back(line.to_string());
    };
    match sandbox
        .build_image(&env.image, context_tar(env), &log)
        .await
    {
        Ok(()) => {
            env.set_ready(true);
            tracing::info!(environment = %env.name, seconds = started.elapsed().as_secs_f64(), "image ready");
            read_version(sandbox, env).await;
            Ok(())
        }
        Err(err) => {
            let tail = tail.into_inner().expect("tail lock poisoned");
            Err(ImageError::Build {
                name: env.name.clone(),
                reason: err.to_string(),
                tail: tail.into_iter().collect::<Vec<_>>().join("\n"),
            })
        }
    }
}

/// Reads the versions of every ready environment whose version is not known yet,
/// `parallel` at a time.
pub async fn read_versions(
    sandbox: &Arc<dyn Sandbox>,
    environments: &Environments,
    parallel: usize,
) {
    futures_util::stream::iter(
        environments
            .iter()
            .filter(|e| e.is_ready() && e.version().is_none()),
    )
    .for_each_concurrent(parallel.max(1), |env| read_version(sandbox, env))
    .await;
}

/// Reads the language version off the image (never typed by hand).
async fn read_version(sandbox: &Arc<dyn Sandbox>, env: &Environment) {
    let command = &env.settings.version_command;
    if command.is_empty() || env.version().is_some() {
        return;
    }
    match sandbox.probe_image(&env.image, command).await {
        Ok(out) => {
            let version = out
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string);
            env.set_version(version);
        }
        Err(err) => tracing::warn!(environment = %env.name, %err, "could not read the version"),
    }
}

/// The environment's folder as a tar, the build context.
fn context_tar(env: &Environment) -> Bytes {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in &env.context {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(if path.ends_with(".sh") { 0o755 } else { 0o644 });
        header.set_mtime(0);
        builder
            .append_data(&mut header, path, data.as_slice())
            .expect("writing a tar to memory cannot fail");
    }
    Bytes::from(builder.into_inner().expect("tar to memory"))
}

async fn ensure_base_image(sandbox: &Arc<dyn Sandbox>) -> Result<(), ImageError> {
    if sandbox.image_exists(BASE_IMAGE).await? {
        return Ok(());
    }
    tracing::info!("{BASE_IMAGE} is missing: pulling it, or making it with debootstrap");
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(BOOTSTRAP_SCRIPT)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| ImageError::Base(format!("could not run bash: {e}")))?;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        tracing::info!("{line}");
    }
    if !output.status.success() {
        return Err(ImageError::Base(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    Ok(())
}
