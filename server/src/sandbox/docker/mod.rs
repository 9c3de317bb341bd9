//! The Docker backend of [`Sandbox`] and [`ImageBuilder`], on bollard. The only module that
//! imports bollard: engine errors become [`SandboxError`] here and nowhere else.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, ResourcesUlimits};
use bollard::query_parameters::{
    EventsOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

mod images;

use super::{
    ManagedSandbox, OutputChunk, OutputStream, RunnerPipe, Sandbox, SandboxError, SandboxId,
    SandboxSpec, BUILD_CACHE, BUILD_CACHE_UID, DAEMON_DIR, DAEMON_DIR_MIB, DAEMON_UID, RUNNER_PATH,
    RUN_UID, WORKSPACE,
};

pub(super) const LABEL_MANAGED: &str = "livecode.managed";
const LABEL_ENVIRONMENT: &str = "livecode.environment";
pub(super) const LABEL_INSTANCE: &str = "livecode.instance";
const LABEL_SPEC: &str = "livecode.spec";
/// The container's init runs as root with only [`RUNNER_CAPS`], so that the runner, exec'd
/// as root, has them; the keeper it starts drops to `nobody` with none
/// (`livecode-runner keep`, then `sleep infinity`).
const CONTAINER_USER: &str = "0:0";
/// What the runner needs: become the run's uid, and signal it. Docker 20.10 gives an exec
/// the container's capabilities as computed for the container's user, so they are set here
/// and nowhere else; `no-new-privileges` keeps any process from gaining more.
const RUNNER_CAPS: [&str; 3] = ["SETUID", "SETGID", "KILL"];
/// The throw-away containers that read versions off images run as `nobody`.
pub(super) const PROBE_USER: &str = "65534:65534";
/// Every request but image builds and attached streams gets this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Size of each container's /dev/shm: it counts against memory, and runs are emptied of it.
const SHM_BYTES: i64 = 8 * 1024 * 1024;
/// Under gVisor, the host's pids limit holds the sandbox's kernel: its own threads (about 60
/// idle) and, on the ptrace platform, a stub process with a few threads per process of the
/// run (about 8 host pids each, measured). The run itself is bounded inside the sandbox by
/// the runner ([`livecode_runner::RUN_NPROC_ENV`]); this is only the backstop around both.
const GVISOR_BASE_PIDS: i64 = 256;
const GVISOR_PIDS_PER_PROCESS: i64 = 16;
/// Bytes the runner's stream is read in.
const STREAM_CAPACITY: usize = 32 * 1024;

/// Session sandboxes as Docker containers: one per session, the keeper under an init, locked
/// down, with the runner exec'd into it once.
#[derive(Clone)]
pub struct DockerSandbox {
    pub(super) docker: Docker,
    pub(super) instance: String,
}

impl DockerSandbox {
    /// Connects to `host` (empty: `$DOCKER_HOST` or the default socket) and negotiates the
    /// API version once; later clones share the negotiated client.
    pub async fn connect(host: &str, instance: &str) -> Result<Self, SandboxError> {
        // Long client timeout: image builds and the runner's stream last long. Short
        // operations get their own timeouts below.
        const CLIENT_TIMEOUT_SECS: u64 = 365 * 24 * 3600;
        let docker = if host.is_empty() {
            Docker::connect_with_defaults()
        } else if host.starts_with("unix://") || host.starts_with('/') {
            Docker::connect_with_unix(host, CLIENT_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        } else {
            Docker::connect_with_http(host, CLIENT_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        }
        .map_err(|e| SandboxError::Unavailable(e.to_string()))?;
        let docker = docker.with_timeout(Duration::from_secs(CLIENT_TIMEOUT_SECS));
        let docker = timed(docker.negotiate_version())
            .await?
            .map_err(|e| SandboxError::Unavailable(e.to_string()))?;
        Ok(Self {
            docker,
            instance: instance.to_string(),
        })
    }

    /// Which server and spec a container belongs to. Which session it serves is the store's
    /// business: a pool container gets its session after it was made.
    fn labels(&self, spec: &SandboxSpec) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_ENVIRONMENT.to_string(), spec.environment.clone()),
            (LABEL_INSTANCE.to_string(), self.instance.clone()),
            (LABEL_SPEC.to_string(), spec.digest()),
        ])
    }

    /// The container of `spec`: the keeper under an init, as root with only [`RUNNER_CAPS`],
    /// no network, labelled as this server's.
    fn container_body(&self, spec: &SandboxSpec) -> ContainerCreateBody {
        ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: Some(vec![RUNNER_PATH.into(), "keep".into()]),
            env: Some(runner_env(spec)),
            user: Some(CONTAINER_USER.into()),
            working_dir: Some(WORKSPACE.into()),
            labels: Some(self.labels(spec)),
            // Only loopback inside; starts in half the time of NetworkMode "none" (20.10).
            network_disabled: Some(true),
            host_config: Some(host_config(spec)),
            ..Default::default()
        }
    }

    /// Starts an exec attached to stdin, stdout and stderr.
    pub(super) async fn attach(
        &self,
        id: &SandboxId,
        cmd: Vec<String>,
        user: &str,
    ) -> Result<RunnerPipe, SandboxError> {
        let exec = timed(self.docker.create_exec(
            &id.0,
            CreateExecOptions {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(cmd),
                user: Some(user.to_string()),
                working_dir: Some("/".to_string()),
                ..Default::default()
            },
        ))
        .await?
        .map_err(|e| engine_error(e, &id.0))?;
        let started = timed(self.docker.start_exec(
            &exec.id,
            Some(StartExecOptions {
                detach: false,
                tty: false,
                output_capacity: Some(STREAM_CAPACITY),
            }),
        ))
        .await?
        .map_err(|e| engine_error(e, &id.0))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(SandboxError::Engine("exec started detached".into()));
        };
        let output = output
            .filter_map(|item| async move {
                match item {
                    Ok(LogOutput::StdOut { message }) => Some(Ok(OutputChunk {
                        stream: OutputStream::Stdout,
                        data: message,
                    })),
                    Ok(LogOutput::StdErr { message }) => Some(Ok(OutputChunk {
                        stream: OutputStream::Stderr,
                        data: message,
                    })),
                    Ok(_) => None,
                    Err(e) => Some(Err(SandboxError::Engine(e.to_string()))),
                }
            })
            .boxed();
        Ok(RunnerPipe { output, input })
    }

    /// Whether the container runs (and is not paused); `None` when it does not exist.
    async fn running(&self, id: &SandboxId) -> Result<Option<bool>, SandboxError> {
        match timed(self.docker.inspect_container(
            &id.0,
            None::<bollard::query_parameters::InspectContainerOptions>,
        ))
        .await?
        {
            // A paused container runs nothing: its runner cannot answer.
            Ok(info) => Ok(Some(info.state.is_some_and(|s| {
                s.running.unwrap_or(false) && !s.paused.unwrap_or(false)
            }))),
            Err(e) => match engine_error(e, &id.0) {
                SandboxError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    fn instance_filter(&self) -> Vec<String> {
        vec![
            format!("{LABEL_MANAGED}=true"),
            format!("{LABEL_INSTANCE}={}", self.instance),
        ]
    }
}

/// Bounds a request that should answer quickly, so a hung engine can't hang a session.
pub(super) async fn timed<F: std::future::Future>(f: F) -> Result<F::Output, SandboxError> {
    tokio::time::timeout(REQUEST_TIMEOUT, f).await.map_err(|_| {
        SandboxError::Unavailable("the container engine did not answer in time".into())
    })
}

pub(super) fn engine_error(err: bollard::errors::Error, what: &str) -> SandboxError {
    use bollard::errors::Error as E;
    let mapped = match err {
        E::DockerResponseServerError {
            status_code: 404,
            message,
        } => {
            if message.contains("No such image") {
                SandboxError::ImageMissing(what.to_string())
            } else {
                SandboxError::NotFound(what.to_string())
            }
        }
        E::DockerResponseServerError {
            status_code: 409,
            message,
        } if message.contains("not running") || message.contains("is paused") => {
            SandboxError::NotRunning(what.to_string())
        }
        E::DockerResponseServerError { message, .. } => SandboxError::Engine(message),
        // The legacy client's errors are connecting or talking to the engine's socket.
        E::HyperResponseError { .. }
        | E::HyperLegacyError { .. }
        | E::IOError { .. }
        | E::SocketNotFoundError(_)
        | E::RequestTimeoutError => SandboxError::Unavailable(err.to_string()),
        other => SandboxError::Engine(other.to_string()),
    };
    // A missing image or a stopped container is an answer, not the engine failing.
    if matches!(
        mapped,
        SandboxError::Engine(_) | SandboxError::Unavailable(_)
    ) {
        crate::metrics::engine_error();
    }
    mapped
}

/// What the runner reads when it starts (its daemon.rs and run.rs).
fn runner_env(spec: &SandboxSpec) -> Vec<String> {
    spec.daemon
        .iter()
        .map(|command| format!("LIVECODE_DAEMON={command}"))
        // gVisor (release 20221219) lets a uid have one process more than its RLIMIT_NPROC
        // (tested): asked for one less, a run gets at most `pids`.
        .chain(
            uses_gvisor(spec)
                .then(|| format!("{}={}", livecode_runner::RUN_NPROC_ENV, spec.pids - 1)),
        )
        .collect()
}

fn uses_gvisor(spec: &SandboxSpec) -> bool {
    spec.runtime.as_deref().is_some_and(is_gvisor)
}

/// The lock-down and the limits: no capabilities but the runner's, a read-only root with
/// tmpfs where runs write, memory without swap, CPU, pids, open files and file size.
fn host_config(spec: &SandboxSpec) -> HostConfig {
    let memory = (spec.memory_mib * 1024 * 1024) as i64;
    let pids = if uses_gvisor(spec) {
        GVISOR_BASE_PIDS + GVISOR_PIDS_PER_PROCESS * spec.pids
    } else {
        spec.pids
    };
    let limit = |name: &str, value: i64| ResourcesUlimits {
        name: Some(name.into()),
        soft: Some(value),
        hard: Some(value),
    };
    HostConfig {
        init: Some(true),
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: Some(RUNNER_CAPS.iter().map(|c| c.to_string()).collect()),
        security_opt: Some(vec!["no-new-privileges".into()]),
        readonly_rootfs: Some(true),
        tmpfs: Some(tmpfs_mounts(spec)),
        shm_size: Some(SHM_BYTES),
        memory: Some(memory),
        // Swap equal to memory: no extra swap, so the memory limit is real.
        memory_swap: Some(memory),
        nano_cpus: Some((spec.cpus * 1e9) as i64),
        cpu_shares: Some(spec.cpu_shares),
        pids_limit: Some(pids),
        ulimits: Some(vec![
            limit("nofile", spec.nofile as i64),
            limit("fsize", (spec.workspace_mib * 1024 * 1024) as i64),
        ]),
        runtime: spec.runtime.clone(),
        ..Default::default()
    }
}

/// Where runs write: the workspace (the run's uid's), `/tmp`, and the build cache's and the
/// resident compiler's own places when the spec has them.
fn tmpfs_mounts(spec: &SandboxSpec) -> HashMap<String, String> {
    let workspace = format!(
        "rw,exec,nosuid,nodev,size={}m,uid={RUN_UID},gid={RUN_UID},mode=0755",
        spec.workspace_mib
    );
    let tmp = format!("rw,nosuid,nodev,size={}m,mode=1777", spec.tmp_mib);
    let cache = (spec.build_cache_mib > 0).then(|| {
        format!(
            "rw,noexec,nosuid,nodev,size={}m,uid={BUILD_CACHE_UID},gid={BUILD_CACHE_UID},mode=0755",
            spec.build_cache_mib
        )
    });
    let daemon = spec.daemon.is_some().then(|| {
        format!(
            "rw,noexec,nosuid,nodev,size={DAEMON_DIR_MIB}m,uid={DAEMON_UID},gid={DAEMON_UID},mode=0755"
        )
    });
    [
        (WORKSPACE.to_string(), Some(workspace)),
        ("/tmp".to_string(), Some(tmp)),
        (BUILD_CACHE.to_string(), cache),
        (DAEMON_DIR.to_string(), daemon),
    ]
    .into_iter()
    .filter_map(|(path, options)| Some((path, options?)))
    .collect()
}

/// Whether `runtime` is gVisor's `runsc` (or a variant registered as `runsc-…`).
fn is_gvisor(runtime: &str) -> bool {
    runtime == "runsc" || runtime.starts_with("runsc-")
}

#[async_trait]
impl Sandbox for DockerSandbox {
    async fn ping(&self) -> Result<String, SandboxError> {
        timed(self.docker.version())
            .await?
            .map(|v| v.version.unwrap_or_default())
            .map_err(|e| SandboxError::Unavailable(e.to_string()))
    }

    async fn create(&self, spec: &SandboxSpec) -> Result<SandboxId, SandboxError> {
        let created = timed(self.docker.create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            self.container_body(spec),
        ))
        .await?
        .map_err(|e| engine_error(e, &spec.image))?;
        let id = SandboxId(created.id);
        if let Err(err) = timed(self.docker.start_container(
            &id.0,
            None::<bollard::query_parameters::StartContainerOptions>,
        ))
        .await
        .and_then(|r| r.map_err(|e| engine_error(e, &id.0)))
        {
            let _ = self.remove(&id).await;
            return Err(err);
        }
        Ok(id)
    }

    async fn is_running(&self, id: &SandboxId) -> Result<bool, SandboxError> {
        Ok(self.running(id).await? == Some(true))
    }

    async fn open_runner(&self, id: &SandboxId) -> Result<RunnerPipe, SandboxError> {
        // As root, with the container's capabilities: exactly RUNNER_CAPS.
        self.attach(id, vec![RUNNER_PATH.to_string()], "0:0").await
    }

    async fn remove(&self, id: &SandboxId) -> Result<(), SandboxError> {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match timed(self.docker.remove_container(&id.0, Some(options))).await? {
            Ok(()) => Ok(()),
            Err(e) => match engine_error(e, &id.0) {
                SandboxError::NotFound(_) => Ok(()),
                // "removal already in progress" is as good as done.
                SandboxError::Engine(m) if m.contains("already in progress") => Ok(()),
                other => Err(other),
            },
        }
    }

    fn watch_exits(&self) -> BoxStream<'static, Result<SandboxId, SandboxError>> {
        let filters = HashMap::from([
            ("type", vec!["container".to_string()]),
            ("event", vec!["die".to_string(), "pause".to_string()]),
            ("label", self.instance_filter()),
        ]);
        let options = EventsOptionsBuilder::new().filters(&filters).build();
        self.docker
            .events(Some(options))
            .map(|event| match event {
                Ok(message) => message
                    .actor
                    .and_then(|actor| actor.id)
                    .map(SandboxId)
                    .ok_or_else(|| SandboxError::Engine("an event without a container id".into())),
                Err(err) => Err(engine_error(err, "events")),
            })
            .boxed()
    }

    async fn list_managed(&self) -> Result<Vec<ManagedSandbox>, SandboxError> {
        let filters = HashMap::from([("label", self.instance_filter())]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = timed(self.docker.list_containers(Some(options)))
            .await?
            .map_err(|e| engine_error(e, "containers"))?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels.as_ref()?;
                Some(ManagedSandbox {
                    environment: labels.get(LABEL_ENVIRONMENT).cloned().unwrap_or_default(),
                    spec_digest: labels.get(LABEL_SPEC).cloned().unwrap_or_default(),
                    image_id: c.image_id.clone().unwrap_or_default(),
                    running: c.state.map(|s| s.to_string() == "running").unwrap_or(false),
                    created: c.created.unwrap_or(0),
                    id: SandboxId(c.id?),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
