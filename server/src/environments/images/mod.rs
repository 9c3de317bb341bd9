//! Builds environment images. First `livecode-runner:<build>`, the runner built from the
//! source embedded in this binary (`runner/`) with Debian's rustc; then `livecode-env-<name>:<build>`
//! from each folder's Dockerfile, with the runner copied in and the image labelled with the
//! runner build it carries. An image with another runner counts as missing, so it is rebuilt
//! (from the layer cache: only the runner's layer changes), never half-used.
//!
//! When a base image is missing and can't be pulled (no registry), the embedded bootstrap
//! script makes it with debootstrap first. What goes into each build (the runner's source,
//! an environment's folder with the runner added, the host's npm settings) is `context`'s.

mod context;

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;

pub use context::runner_build;
use context::runner_image;

use super::{Environment, Environments};
use crate::sandbox::{ImageBuilder, SandboxError};

/// The base every environment's Dockerfile starts from, and the runner's (Debian stable's
/// rustc builds it).
pub const BASE_IMAGE: &str = "debian:trixie-slim";
/// Makes a base image with debootstrap + `docker import` on machines with no registry.
pub const BOOTSTRAP_SCRIPT: &str = include_str!("../../../../scripts/bootstrap-base-image.sh");

/// Why an image could not be built; names the environment and carries the log's tail.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("environment '{name}': image build failed: {reason}\n--- last lines of the build log ---\n{tail}")]
    Build {
        name: String,
        reason: String,
        tail: String,
    },
    #[error("base image {0} is missing and the bootstrap failed: {1}")]
    Base(&'static str, String),
    #[error("the runner's image could not be built: {reason}\n--- last lines of the build log ---\n{tail}")]
    Runner { reason: String, tail: String },
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

/// Marks the environments whose image exists and carries this server's runner as ready;
/// builds nothing.
pub async fn mark_built(
    images: &dyn ImageBuilder,
    environments: &Environments,
) -> Result<(), ImageError> {
    for env in environments.iter() {
        let info = images.image(&env.image).await?;
        let current = info.filter(|i| i.runner.as_deref() == Some(runner_build()));
        if current.is_none() && env.is_ready() {
            tracing::warn!(environment = %env.name, "image is gone or carries another runner");
        }
        env.set_image(current.map(|i| i.id));
    }
    Ok(())
}

/// Builds the images of `names` (all when empty), `parallel` at a time. With `only_missing`,
/// images that exist with this server's runner are only marked ready. Every environment's
/// readiness is updated.
pub async fn build(
    images: &dyn ImageBuilder,
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
    if let Err(err) = mark_built(images, environments).await {
        return vec![Err(err)];
    }
    let todo: Vec<Arc<Environment>> = selected
        .into_iter()
        .filter(|e| !(only_missing && e.is_ready()))
        .collect();
    if todo.is_empty() {
        return Vec::new();
    }
    if let Err(err) = ensure_base_image(images, BASE_IMAGE).await {
        return vec![Err(err)];
    }
    if let Err(err) = ensure_runner_image(images).await {
        return vec![Err(err)];
    }
    // Every Dockerfile starts with the same lines. The legacy builder shares a cached layer only
    // once it exists, so one image goes first and the rest, built in parallel, reuse its layer.
    let mut todo = todo.into_iter();
    let first = todo.next().expect("checked non-empty");
    let mut results = vec![build_one(images, &first).await];
    results.extend(
        futures_util::stream::iter(todo)
            .map(|env| async move { build_one(images, &env).await })
            .buffer_unordered(parallel.max(1))
            .collect::<Vec<_>>()
            .await,
    );
    results
}

/// Keeps the last lines of a build log, for the error that names the environment.
struct Tail(std::sync::Mutex<std::collections::VecDeque<String>>);

impl Tail {
    fn new() -> Self {
        Self(Default::default())
    }

    fn push(&self, line: &str) {
        let mut tail = self.0.lock().expect("tail lock poisoned");
        if tail.len() == 30 {
            tail.pop_front();
        }
        tail.push_back(line.to_string());
    }

    fn text(self) -> String {
        let tail = self.0.into_inner().expect("tail lock poisoned");
        tail.into_iter().collect::<Vec<_>>().join("\n")
    }
}

async fn ensure_runner_image(images: &dyn ImageBuilder) -> Result<(), ImageError> {
    let image = runner_image();
    if images.image(&image).await?.is_some() {
        return Ok(());
    }
    let started = Instant::now();
    tracing::info!(%image, "building the runner");
    let tail = Tail::new();
    let log = |line: &str| {
        tracing::debug!(image = "runner", "{line}");
        tail.push(line);
    };
    match images
        .build_image(
            &image,
            context::runner(),
            &[("LIVECODE_RUNNER_BUILD", runner_build())],
            &log,
        )
        .await
    {
        Ok(()) => {
            tracing::info!(%image, seconds = started.elapsed().as_secs_f64(), "runner built");
            Ok(())
        }
        Err(err) => Err(ImageError::Runner {
            reason: err.to_string(),
            tail: tail.text(),
        }),
    }
}

/// Progress bars for `livecode images build` on a terminal (none for the server's builds).
static PROGRESS: std::sync::OnceLock<indicatif::MultiProgress> = std::sync::OnceLock::new();

/// Shows a progress bar per image being built, instead of log lines (a terminal's command).
pub fn show_progress() {
    PROGRESS.get_or_init(indicatif::MultiProgress::new);
}

/// Dockerfile step `n` of `m`, from a "Step n/m : ..." line of the build's output.
fn step_of(line: &str) -> Option<(u64, u64)> {
    let (n, m) = line
        .strip_prefix("Step ")?
        .split_once(' ')?
        .0
        .split_once('/')?;
    Some((n.parse().ok()?, m.parse().ok()?))
}

async fn build_one(images: &dyn ImageBuilder, env: &Arc<Environment>) -> Result<(), ImageError> {
    let started = Instant::now();
    tracing::info!(environment = %env.name, image = %env.image, "building image");
    let tail = Tail::new();
    let name = env.name.clone();
    let bar = PROGRESS.get().map(|multi| {
        let bar = multi.add(indicatif::ProgressBar::new(1));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {pos}/{len} {wide_msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(name.clone());
        bar
    });
    let steps = std::sync::atomic::AtomicU64::new(0);
    // Every line goes to the debug log and the failure tail; the info log gets one line per
    // image (below), a terminal a bar that moves with each step.
    let log = |line: &str| {
        tracing::debug!(environment = %name, "{line}");
        if let Some((n, m)) = step_of(line) {
            steps.store(m, std::sync::atomic::Ordering::Relaxed);
            if let Some(bar) = &bar {
                bar.set_length(m);
                bar.set_position(n);
                bar.set_message(line.split_once(" : ").map_or("", |(_, s)| s).to_string());
            }
        }
        tail.push(line);
    };
    let npm = if env.settings.host_npm {
        Some(context::host_npm().await)
    } else {
        None
    };
    let args: Vec<(&str, &str)> = npm
        .and_then(|n| n.registry.as_deref())
        .map(|registry| ("LIVECODE_NPM_REGISTRY", registry))
        .into_iter()
        .collect();
    let built = images
        .build_image(&env.image, context::environment(env, npm), &args, &log)
        .await;
    let built = match built {
        Ok(()) => images.image(&env.image).await.map_err(ImageError::from),
        Err(err) => Err(ImageError::Build {
            name: env.name.clone(),
            reason: err.to_string(),
            tail: tail.text(),
        }),
    };
    crate::metrics::image_built(&env.name, built.is_ok());
    if let Some(bar) = &bar {
        let took = format!("{:.1} s", started.elapsed().as_secs_f64());
        bar.finish_with_message(if built.is_ok() {
            format!("ready in {took}")
        } else {
            format!("FAILED after {took}")
        });
    }
    let steps = steps.load(std::sync::atomic::Ordering::Relaxed);
    match built {
        Ok(info) => {
            env.set_image(info.map(|i| i.id));
            tracing::info!(environment = %env.name, steps, seconds = started.elapsed().as_secs_f64(), "image ready");
            read_version(images, env).await;
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// Reads the versions of every ready environment whose version is not known yet,
/// `parallel` at a time.
pub async fn read_versions(
    images: &dyn ImageBuilder,
    environments: &Environments,
    parallel: usize,
) {
    futures_util::stream::iter(
        environments
            .iter()
            .filter(|e| e.is_ready() && e.version().is_none()),
    )
    .for_each_concurrent(parallel.max(1), |env| read_version(images, env))
    .await;
}

/// Reads the language version off the image (never typed by hand).
async fn read_version(images: &dyn ImageBuilder, env: &Environment) {
    let command = &env.settings.version_command;
    if command.is_empty() || env.version().is_some() {
        return;
    }
    match images.probe_image(&env.image, command).await {
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

async fn ensure_base_image(
    images: &dyn ImageBuilder,
    image: &'static str,
) -> Result<(), ImageError> {
    if images.image(image).await?.is_some() {
        return Ok(());
    }
    let suite = image
        .trim_start_matches("debian:")
        .trim_end_matches("-slim");
    tracing::info!("{image} is missing: pulling it, or making it with debootstrap");
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(BOOTSTRAP_SCRIPT)
        .arg("bootstrap-base-image")
        .arg(suite)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| ImageError::Base(image, format!("could not run bash: {e}")))?;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        tracing::info!("{line}");
    }
    if !output.status.success() {
        return Err(ImageError::Base(
            image,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::step_of;

    #[test]
    fn steps_are_read_off_the_builders_lines() {
        assert_eq!(step_of("Step 12/15 : WORKDIR /workspace"), Some((12, 15)));
        assert_eq!(step_of("Step 1/3 : FROM debian:trixie-slim"), Some((1, 3)));
        assert_eq!(step_of(" ---> Running in 03b5791ff572"), None);
        assert_eq!(step_of("Step x/y : nonsense"), None);
    }
}
