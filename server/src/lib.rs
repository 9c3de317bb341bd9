//! livecode: a live-coding session server for technical interviews.
//!
//! # Layout
//! In layers, each importing only from its own layer or those below (`tests/structure.rs`
//! checks that no imports go round in a circle):
//! - the floor: `model` (the shared vocabulary: ids, statuses, run summaries and results,
//!   participants, end reasons), `interview` (where an interview is: waiting, live,
//!   submitted; its clock), `auth` (tokens, roles and the one role policy), `config`,
//!   `metrics` (the recorder), `collab` (the document authority; no I/O);
//! - engines: `store` (SQLite, or PostgreSQL for replicas), `questions`, `templates`
//!   (interviews of several questions), `webhooks` (the audit trail and its delivery),
//!   `sandbox` (the `Sandbox` and `ImageBuilder` traits, the runner's stream, Docker),
//!   `environments` (languages and their images);
//! - `session`: live sessions, their containers, runs, test runs, switches, and `journal`, the
//!   one door for a session's writes;
//! - the edge: `state` ([`AppState`](state::AppState)), `api` (REST and `/metrics`), `ws` (the
//!   socket and its schemas), `web` (the pages), `app` (the router), `serve` (the accept loop
//!   with limits), and `cli`, `client` for the binary.
//!
//! [`run`] is the seam `main` and the tests share: it serves on a bound listener until the
//! shutdown token is cancelled.

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod collab;
pub mod config;
pub mod environments;
pub mod forward;
pub mod interview;
pub mod metrics;
pub mod model;
pub mod questions;
pub mod sandbox;
pub mod scorecards;
pub mod serve;
pub mod session;
pub mod state;
pub mod store;
pub mod templates;
pub mod web;
pub mod webhooks;
pub mod ws;

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster::Cluster;
use crate::config::Config;
use crate::environments::Environments;
use crate::sandbox::{DockerSandbox, ImageBuilder, Sandbox};
use crate::session::SessionRegistry;
use crate::state::{AppState, Questions};
use crate::store::{PgStore, SqliteStore, Store};

/// The Docker engine, as the sandbox and the image builder, and its version.
async fn connect_engine(
    config: &Config,
) -> anyhow::Result<(Arc<dyn Sandbox>, Arc<dyn ImageBuilder>, String)> {
    let docker = Arc::new(
        DockerSandbox::connect(&config.docker.host, &config.instance)
            .await
            .context("connecting to Docker (is it installed and running? see README)")?,
    );
    let version = docker.ping().await.context("Docker does not answer")?;
    tracing::info!(docker = %version, "connected to the container engine");
    Ok((docker.clone(), docker, version))
}

/// The store the config names: PostgreSQL when `[store] url` is set, else SQLite in
/// `data_dir`. Only the URL's host and database are logged, never its password.
async fn open_store(config: &Config) -> anyhow::Result<(Arc<dyn Store>, Option<Arc<Cluster>>)> {
    if config.store.url.is_empty() {
        let store = SqliteStore::open(&config.data_dir)
            .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
        return Ok((Arc::new(store), None));
    }
    let target = PgStore::target(&config.store.url);
    let store = PgStore::connect(&config.store.url, config.store.pool_size)
        .await
        .with_context(|| format!("connecting to the PostgreSQL store at {target}"))?;
    tracing::info!(store = %target, "using the PostgreSQL store");
    if config.cluster.advertise_url.is_empty() {
        return Ok((Arc::new(store), None));
    }
    // After the store: its migrations make the cluster's tables.
    let cluster = Cluster::join(&config.store.url, &config.cluster)
        .await
        .with_context(|| format!("joining the cluster at {target}"))?;
    let store = store.with_leases(cluster.clone());
    Ok((Arc::new(store), Some(cluster)))
}

/// Raises the open-file limit and answers the connection cap it leaves room for (logged).
fn connection_limits(config: &Config) -> usize {
    let open_files = serve::raise_open_file_limit();
    let max_connections = serve::connection_cap(config.server.max_connections, open_files);
    tracing::info!(
        open_files = open_files
            .map(|n| n.to_string())
            .unwrap_or_else(|| "unknown".into()),
        max_connections,
        "connection limits"
    );
    max_connections
}

/// In the background: reads the language versions off the images (seconds, in throw-away
/// containers), and builds the images that are missing or stale when the config says so,
/// then lets the warm pools fill.
fn spawn_image_work(
    config: &Config,
    images: &Arc<dyn ImageBuilder>,
    environments: &Arc<Environments>,
    sessions: &SessionRegistry,
    tasks: &TaskTracker,
) {
    if config.read_versions_on_start {
        let (images, environments) = (images.clone(), environments.clone());
        tasks.spawn(async move {
            environments::images::read_versions(&*images, &environments, 4).await
        });
    }
    let missing: Vec<String> = environments
        .iter()
        .filter(|e| !e.is_ready())
        .map(|e| e.name.clone())
        .collect();
    if missing.is_empty() {
        return;
    }
    if !config.build_images_on_start {
        tracing::warn!(environments = ?missing, "images missing or stale; run `livecode images build`");
        return;
    }
    tracing::info!(environments = ?missing, "building missing images in the background");
    let (images, environments, sessions) = (images.clone(), environments.clone(), sessions.clone());
    let parallel = config.parallel_builds;
    tasks.spawn(async move {
        let built =
            environments::images::build(&*images, &environments, &missing, true, parallel).await;
        for err in built.into_iter().filter_map(Result::err) {
            tracing::error!("{err}");
        }
        // Pools of the environments just built can fill now.
        sessions.wake_pool();
    });
}

/// The sessions' own background work: the registry's watches, the reaper, and stopping runs
/// when the server shuts down.
fn spawn_background(
    config: &Config,
    sessions: &SessionRegistry,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) {
    sessions.spawn_background(shutdown);
    sessions.spawn_cluster_loops(shutdown);
    tasks.spawn(session::run_reaper(
        sessions.clone(),
        config.reap_interval(),
        shutdown.clone(),
    ));
    let (sessions, shutdown) = (sessions.clone(), shutdown.clone());
    tasks.spawn(async move {
        shutdown.cancelled().await;
        sessions.stop_for_shutdown().await;
    });
}

/// After serving: lets the tasks finish, and the last events (runs stopped, participants gone)
/// reach the store before the exit.
async fn wind_down(tasks: &TaskTracker, sessions: &SessionRegistry) {
    tasks.close();
    if tokio::time::timeout(std::time::Duration::from_secs(20), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some tasks did not finish within 20 s of shutdown");
    }
    if tokio::time::timeout(std::time::Duration::from_secs(5), sessions.settled())
        .await
        .is_err()
    {
        tracing::warn!("some events were not stored within 5 s of shutdown");
    }
}

fn warn_if_open(config: &Config, listener: &TcpListener) -> anyhow::Result<()> {
    if config.open_mode() {
        tracing::warn!(
            "OPEN MODE: no api_key is set, so anyone who can reach {} may create sessions and run code. \
             Set LIVECODE_API_KEY (or api_key in the config) for anything but local use.",
            listener.local_addr()?
        );
    }
    Ok(())
}

/// Starts everything and serves on `listener` until `shutdown` is cancelled. Server shutdown
/// is not session end: containers stay and are adopted by the next start.
pub async fn run(
    config: Config,
    listener: TcpListener,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    crate::metrics::install();
    let config = Arc::new(config);
    warn_if_open(&config, &listener)?;
    let environments = Arc::new(Environments::load(&config.environments_dir)?);
    let (store, cluster) = open_store(&config).await?;
    let (sandbox, images, engine) = connect_engine(&config).await?;
    let max_connections = connection_limits(&config);

    let tasks = TaskTracker::new();
    // Mark what is already built before accepting sessions; build the rest in the background.
    environments::images::mark_built(&*images, &environments)
        .await
        .context("looking for the environment images")?;

    let (engine_tx, engine) = tokio::sync::watch::channel(sandbox::EngineHealth::Ok(engine));
    // Every engine call that finds the engine unreachable makes the watch ping at once.
    let suspect = Arc::new(tokio::sync::Notify::new());
    let sandbox: Arc<dyn Sandbox> = Arc::new(sandbox::Watched::new(sandbox, suspect.clone()));
    let questions = Questions::new(store.clone());
    let sessions = SessionRegistry::new(
        sandbox.clone(),
        engine,
        store,
        environments.clone(),
        config.clone(),
        tasks.clone(),
        cluster,
    );
    // Serving ends with `stop`, except in cluster mode, where the sessions are handed to the
    // other replicas first (the drain) while this one still forwards to them.
    let shutdown = CancellationToken::new();
    tokio::spawn(hand_over_then_stop(
        sessions.clone(),
        stop.clone(),
        shutdown.clone(),
    ));
    let restored = sessions.restore().await?;
    if restored > 0 {
        tracing::info!(sessions = restored, "restored live sessions");
    }
    spawn_background(&config, &sessions, &tasks, &shutdown);
    spawn_image_work(&config, &images, &environments, &sessions, &tasks);
    tasks.spawn(sandbox::watch_engine(
        sandbox.clone(),
        config.health_interval(),
        suspect,
        engine_tx,
        shutdown.clone(),
    ));

    let state = AppState {
        config: config.clone(),
        sessions: sessions.clone(),
        questions,
        environments,
        tasks: tasks.clone(),
        shutdown: shutdown.clone(),
        stop: stop.clone(),
    };
    tracing::info!(address = %listener.local_addr()?, "livecode listening");
    let server_config = config.server.clone();
    serve::serve(
        listener,
        app::router(state),
        &server_config,
        max_connections,
        shutdown.clone(),
    )
    .await?;
    wind_down(&tasks, &sessions).await;
    Ok(())
}

/// Waits for `stop`; in cluster mode drains this replica (see `SessionRegistry::drain`)
/// before serving ends with `shutdown`.
async fn hand_over_then_stop(
    sessions: SessionRegistry,
    stop: CancellationToken,
    shutdown: CancellationToken,
) {
    stop.cancelled().await;
    if let Some(cluster) = sessions.cluster().cloned() {
        let wait = std::time::Duration::from_secs_f64(sessions.config().cluster.drain_seconds);
        tracing::info!(replica = %cluster.id, "draining: no new sessions; handing sessions over");
        sessions.drain(wait).await;
        cluster.leave().await;
    }
    shutdown.cancel();
}
