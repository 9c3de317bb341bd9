//! The Docker backend of [`Sandbox`], on bollard. The only module that imports bollard: engine
//! errors become [`SandboxError`] here and nowhere else.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, ResourcesUlimits};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, EventsOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, RestartContainerOptionsBuilder,
};
use bollard::Docker;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{
    workspace_tar, BuildLog, ExecSpec, Execution, ExitStatus, KillOutcome, ManagedSandbox,
    OutputChunk, OutputStream, Sandbox, SandboxError, SandboxId, SandboxSpec, RUNNER_SCRIPT,
    RUNNER_STARTED, RUNNER_WORKSPACE_FAILED, RUN_UID, WORKSPACE,
};

/// Kills every process of the run's uid and checks that none is left (see the file).
const KILL_SCRIPT: &str = include_str!("kill.sh");
const LABEL_MANAGED: &str = "livecode.managed";
const LABEL_SESSION: &str = "livecode.session";
const LABEL_ENVIRONMENT: &str = "livecode.environment";
const LABEL_INSTANCE: &str = "livecode.instance";
/// The container's init and its `sleep infinity` run as `nobody`, so that a run (uid 1000)
/// can `kill -1` everything of its own without killing the container.
const KEEPER_USER: &str = "65534:65534";
/// Every request but image builds and attached streams gets this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Reads the cgroup's OOM-kill counter (cgroup v2 first, then v1).
const OOM_COUNT_COMMAND: &str = "grep -h '^oom_kill ' /sys/fs/cgroup/memory.events \
     /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null | head -n 1";

/// Session sandboxes as Docker containers: one per session, `sleep infinity` under an init,
/// locked down, each run one `docker exec`.
#[derive(Clone)]
pub struct DockerSandbox {
    docker: Docker,
    instance: String,
    /// OOM-kill counts last seen per container, to tell a new OOM kill from an old one.
    oom_counts: Arc<dashmap::DashMap<String, u64>>,
}

impl DockerSandbox {
    /// Connects to `host` (empty: `$DOCKER_HOST` or the default socket) and negotiates the
    /// API version once; later clones share the negotiated client.
    pub async fn connect(host: &str, instance: &str) -> Result<Self, SandboxError> {
        // Long client timeout: image builds stream for minutes. Short operations get their
        // own timeouts below.
        const CLIENT_TIMEOUT_SECS: u64 = 3600;
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
            oom_counts: Default::default(),
        })
    }

    fn labels(&self, spec: &SandboxSpec) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_SESSION.to_string(), spec.session_id.clone()),
            (LABEL_ENVIRONMENT.to_string(), spec.environment.clone()),
            (LABEL_INSTANCE.to_string(), self.instance.clone()),
        ])
    }

    /// Runs `command` to completion in the container; returns its stdout and exit code.
    async fn exec_collect(
        &self,
        id: &SandboxId,
        command: &str,
    ) -> Result<(String, Option<i64>), SandboxError> {
        let exec = self
            .docker
            .create_exec(
                &id.0,
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(vec!["/bin/sh", "-c", command]),
                    user: Some(&uid_user()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| engine_error(e, &id.0))?;
        let started = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| engine_error(e, &id.0))?;
        let StartExecResults::Attached { mut output, .. } = started else {
            return Err(SandboxError::Engine("exec started detached".into()));
        };
        let mut stdout = Vec::new();
        while let Some(item) = output.next().await {
            if let LogOutput::StdOut { message } = item.map_err(|e| engine_error(e, &id.0))? {
                stdout.extend_from_slice(&message);
            }
        }
        let info = timed(self.docker.inspect_exec(&exec.id))
            .await?
            .map_err(|e| engine_error(e, &id.0))?;
        Ok((
            String::from_utf8_lossy(&stdout).into_owned(),
            info.exit_code,
        ))
    }

    /// Whether the container runs; `None` when it does not exist.
    async fn running(&self, id: &SandboxId) -> Result<Option<bool>, SandboxError> {
        match timed(self.docker.inspect_container(
            &id.0,
            None::<bollard::query_parameters::InspectContainerOptions>,
        ))
        .await?
        {
            Ok(info) => Ok(Some(info.state.and_then(|s| s.running).unwrap_or(false))),
            Err(e) => match engine_error(e, &id.0) {
                SandboxError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn oom_count(&self, id: &SandboxId) -> Option<u64> {
        let out = tokio::time::timeout(REQUEST_TIMEOUT, self.exec_collect(id, OOM_COUNT_COMMAND))
            .await
            .ok()?
            .ok()?;
        out.0.split_whitespace().nth(1)?.parse().ok()
    }
}

/// Size of each container's /dev/shm.
const SHM_BYTES: i64 = 8 * 1024 * 1024;

fn uid_user() -> String {
    format!("{RUN_UID}:{RUN_UID}")
}

/// Reads output until the runner said it started and wrote the workspace (two marker bytes on
/// stdout); returns what came before them (stderr only) and after them. An exec that ends before
/// the first marker never ran the runner: its output is the engine's complaint. A workspace
/// that could not be written is reported with the runner's reason.
async fn wait_for_runner(
    output: &mut futures_util::stream::BoxStream<'static, Result<OutputChunk, SandboxError>>,
) -> Result<Vec<Result<OutputChunk, SandboxError>>, SandboxError> {
    let mut early = Vec::new();
    let mut complaint = Vec::new();
    let mut markers = 0;
    let mut failed = false;
    while let Some(item) = output.next().await {
        let chunk = item?;
        if failed {
            complaint.extend_from_slice(&chunk.data);
            continue;
        }
        if chunk.stream != OutputStream::Stdout || (markers == 0 && !complaint.is_empty()) {
            complaint.extend_from_slice(&chunk.data);
            early.push(Ok(chunk));
            continue;
        }
        let mut data = chunk.data;
        while markers < 2 && !data.is_empty() && !failed {
            match (markers, data[0]) {
                (_, RUNNER_STARTED) => markers += 1,
                (1, RUNNER_WORKSPACE_FAILED) => {
                    failed = true;
                    complaint.clear();
                }
                _ => break,
            }
            data = data.slice(1..);
        }
        if failed {
            complaint.extend_from_slice(&data);
            continue;
        }
        if markers == 0 {
            complaint.extend_from_slice(&data);
            early.push(Ok(OutputChunk {
                stream: OutputStream::Stdout,
                data,
            }));
            continue;
        }
        if !data.is_empty() {
            early.push(Ok(OutputChunk {
                stream: OutputStream::Stdout,
                data,
            }));
        }
        if markers == 2 {
            return Ok(early);
        }
    }
    let why = String::from_utf8_lossy(&complaint).trim().to_string();
    Err(if failed {
        SandboxError::Workspace(why)
    } else {
        SandboxError::ExecFailed(why)
    })
}

/// Bounds a request that should answer quickly, so a hung engine can't hang a session.
async fn timed<F: std::future::Future>(f: F) -> Result<F::Output, SandboxError> {
    tokio::time::timeout(REQUEST_TIMEOUT, f).await.map_err(|_| {
        SandboxError::Unavailable("the container engine did not answer in time".into())
    })
}

fn engine_error(err: bollard::errors::Error, what: &str) -> SandboxError {
    use bollard::errors::Error as E;
    match err {
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
        E::HyperResponseError { .. }
        | E::IOError { .. }
        | E::SocketNotFoundError(_)
        | E::RequestTimeoutError => SandboxError::Unavailable(err.to_string()),
        other => SandboxError::Engine(other.to_string()),
    }
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
        let memory = (spec.memory_mib * 1024 * 1024) as i64;
        let host_config = HostConfig {
            init: Some(true),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([
                (
                    WORKSPACE.to_string(),
                    format!(
                        "rw,exec,nosuid,nodev,size={}m,uid={RUN_UID},gid={RUN_UID},mode=0755",
                        spec.workspace_mib
                    ),
                ),
                (
                    "/tmp".to_string(),
                    format!("rw,nosuid,nodev,size={}m,mode=1777", spec.tmp_mib),
                ),
            ])),
            // /dev/shm counts against memory and outlives runs otherwise: small, and emptied
            // before each run like /tmp.
            shm_size: Some(SHM_BYTES),
            memory: Some(memory),
            // Swap equal to memory: no extra swap, so the memory limit is real.
            memory_swap: Some(memory),
            nano_cpus: Some((spec.cpus * 1e9) as i64),
            pids_limit: Some(spec.pids),
            ulimits: Some(vec![
                ResourcesUlimits {
                    name: Some("nofile".into()),
                    soft: Some(spec.nofile as i64),
                    hard: Some(spec.nofile as i64),
                },
                ResourcesUlimits {
                    name: Some("fsize".into()),
                    soft: Some((spec.workspace_mib * 1024 * 1024) as i64),
                    hard: Some((spec.workspace_mib * 1024 * 1024) as i64),
                },
            ]),
            runtime: spec.runtime.clone(),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            user: Some(KEEPER_USER.into()),
            working_dir: Some(WORKSPACE.into()),
            labels: Some(self.labels(spec)),
            // Only loopback inside; starts in half the time of NetworkMode "none" (20.10).
            network_disabled: Some(true),
            host_config: Some(host_config),
            ..Default::default()
        };
        let created = timed(self.docker.create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
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
        self.oom_counts.insert(id.0.clone(), 0);
        Ok(id)
    }

    async fn is_running(&self, id: &SandboxId) -> Result<bool, SandboxError> {
        Ok(self.running(id).await? == Some(true))
    }

    async fn exists(&self, id: &SandboxId) -> Result<bool, SandboxError> {
        Ok(self.running(id).await?.is_some())
    }

    async fn exec(&self, id: &SandboxId, spec: ExecSpec) -> Result<Execution, SandboxError> {
        // HOME is emptied before every run; no language may read code from a user site either.
        let mut env: Vec<String> = vec![
            "HOME=/tmp".into(),
            "LANG=C.UTF-8".into(),
            "PYTHONNOUSERSITE=1".into(),
            "PYTHONDONTWRITEBYTECODE=1".into(),
        ];
        env.extend(spec.env.iter().map(|(k, v)| format!("{k}={v}")));
        let exec = timed(self.docker.create_exec(
            &id.0,
            CreateExecOptions {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(vec![
                    "/bin/sh".to_string(),
                    "-c".to_string(),
                    RUNNER_SCRIPT.to_string(),
                    "livecode-run".to_string(),
                    spec.command.clone(),
                ]),
                env: Some(env),
                user: Some(uid_user()),
                working_dir: Some(WORKSPACE.to_string()),
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
                output_capacity: Some(64 * 1024),
            }),
        ))
        .await?
        .map_err(|e| engine_error(e, &id.0))?;
        let StartExecResults::Attached { output, mut input } = started else {
            return Err(SandboxError::Engine("exec started detached".into()));
        };

        let container = id.0.clone();
        let mut output = output
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

        // The runner reads the workspace tar first, then hands the rest of stdin to the program.
        let tar = workspace_tar(&spec.files);
        let header = format!("{}\n", if spec.files.is_empty() { 0 } else { tar.len() });
        let write = async {
            input.write_all(header.as_bytes()).await?;
            if !spec.files.is_empty() {
                input.write_all(&tar).await?;
            }
            input.flush().await
        };
        // Both at once; a runner that gave up (e.g. the workspace is full) stops reading, so its
        // answer must not wait for the rest of the tar to be written.
        let (early, written) = {
            let write = timed(write);
            let wait = timed(wait_for_runner(&mut output));
            tokio::pin!(write, wait);
            tokio::select! {
                started = &mut wait => {
                    let early = started??;
                    (early, write.await)
                }
                written = &mut write => (wait.await??, written),
            }
        };
        written?.map_err(|e| SandboxError::Engine(format!("writing the workspace: {e}")))?;
        let output = futures_util::stream::iter(early).chain(output).boxed();

        let this = self.clone();
        let exec_id = exec.id;
        let exit = Box::pin(async move {
            let info = timed(this.docker.inspect_exec(&exec_id))
                .await?
                .map_err(|e| engine_error(e, &container))?;
            let code = info.exit_code;
            // 137 is SIGKILL: ours (timeout, kill), or the kernel's OOM killer. Only the
            // cgroup's counter tells which, and reading it costs an exec, so only then.
            let mut oom = false;
            if code == Some(137) {
                let id = SandboxId(container.clone());
                if let Some(now) = this.oom_count(&id).await {
                    let before = this.oom_counts.insert(container, now).unwrap_or(0);
                    oom = now > before;
                }
            }
            Ok(ExitStatus { code, oom })
        });

        Ok(Execution {
            output,
            stdin: input,
            exit,
        })
    }

    async fn kill_run_processes(&self, id: &SandboxId) -> Result<KillOutcome, SandboxError> {
        let script = format!("RUN_UID={RUN_UID}\n{KILL_SCRIPT}");
        for attempt in 0..2 {
            match tokio::time::timeout(Duration::from_secs(4), self.exec_collect(id, &script)).await
            {
                Ok(Ok((_, Some(0)))) => return Ok(KillOutcome::Killed),
                // Docker reports an exec that could not start (no free pid) as exit 126.
                Ok(Ok((out, code))) => {
                    tracing::debug!(sandbox = %id, attempt, ?code, %out, "kill exec left processes")
                }
                Ok(Err(SandboxError::NotFound(_))) => {
                    return Err(SandboxError::NotFound(id.0.clone()))
                }
                Ok(Err(SandboxError::NotRunning(_))) => {
                    return Err(SandboxError::NotRunning(id.0.clone()))
                }
                // Most likely the pids limit: no room for our own process. Try again briefly.
                Ok(Err(err)) => tracing::debug!(sandbox = %id, attempt, %err, "kill exec failed"),
                Err(_) => tracing::debug!(sandbox = %id, attempt, "kill exec timed out"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A fork bomb holds every pid: restarting kills the whole pid namespace at once.
        tracing::warn!(sandbox = %id, "could not exec into the sandbox; restarting it");
        timed(self.docker.restart_container(
            &id.0,
            Some(RestartContainerOptionsBuilder::new().t(0).build()),
        ))
        .await?
        .map_err(|e| engine_error(e, &id.0))?;
        self.oom_counts.remove(&id.0);
        Ok(KillOutcome::Restarted)
    }

    async fn remove(&self, id: &SandboxId) -> Result<(), SandboxError> {
        self.oom_counts.remove(&id.0);
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

    fn watch_exits(
        &self,
    ) -> futures_util::stream::BoxStream<'static, Result<SandboxId, SandboxError>> {
        let filters = HashMap::from([
            ("type", vec!["container".to_string()]),
            ("event", vec!["die".to_string()]),
            (
                "label",
                vec![
                    format!("{LABEL_MANAGED}=true"),
                    format!("{LABEL_INSTANCE}={}", self.instance),
                ],
            ),
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
        let filters = HashMap::from([(
            "label",
            vec![
                format!("{LABEL_MANAGED}=true"),
                format!("{LABEL_INSTANCE}={}", self.instance),
            ],
        )]);
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
                let session_id = c.labels.as_ref()?.get(LABEL_SESSION)?.clone();
                Some(ManagedSandbox {
                    id: SandboxId(c.id?),
                    session_id,
                    running: c.state.map(|s| s.to_string() == "running").unwrap_or(false),
                })
            })
            .collect())
    }

    async fn image_exists(&self, image: &str) -> Result<bool, SandboxError> {
        match timed(self.docker.inspect_image(image)).await? {
            Ok(_) => Ok(true),
            Err(e) => match engine_error(e, image) {
                SandboxError::NotFound(_) | SandboxError::ImageMissing(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn build_image(
        &self,
        image: &str,
        context: Bytes,
        log: BuildLog<'_>,
    ) -> Result<(), SandboxError> {
        let options = BuildImageOptionsBuilder::new()
            .t(image)
            .rm(true)
            .forcerm(true)
            .build();
        let mut stream = self
            .docker
            .build_image(options, None, Some(bollard::body_full(context)));
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| match e {
                bollard::errors::Error::DockerStreamError { error } => SandboxError::Build(error),
                other => engine_error(other, image),
            })?;
            if let Some(error) = info.error {
                return Err(SandboxError::Build(error));
            }
            if let Some(line) = info.stream {
                let line = line.trim_end();
                if !line.is_empty() {
                    log(line);
                }
            }
        }
        Ok(())
    }

    async fn probe_image(&self, image: &str, command: &str) -> Result<String, SandboxError> {
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["sleep".into(), "60".into()]),
            user: Some(KEEPER_USER.into()),
            network_disabled: Some(true),
            labels: Some(HashMap::from([
                (LABEL_MANAGED.to_string(), "probe".to_string()),
                (LABEL_INSTANCE.to_string(), self.instance.clone()),
            ])),
            host_config: Some(HostConfig {
                init: Some(true),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                auto_remove: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = timed(self.docker.create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
        ))
        .await?
        .map_err(|e| engine_error(e, image))?;
        let id = SandboxId(created.id);
        let result = async {
            timed(self.docker.start_container(
                &id.0,
                None::<bollard::query_parameters::StartContainerOptions>,
            ))
            .await?
            .map_err(|e| engine_error(e, image))?;
            timed(self.exec_collect(&id, &format!("{command} 2>&1")))
                .await?
                .map(|(out, _)| out)
        }
        .await;
        let _ = self.remove(&id).await;
        result
    }
}

#[cfg(test)]
mod runner_marker_tests {
    use super::*;

    fn chunks(
        parts: &[(&[u8], OutputStream)],
    ) -> futures_util::stream::BoxStream<'static, Result<OutputChunk, SandboxError>> {
        let items: Vec<Result<OutputChunk, SandboxError>> = parts
            .iter()
            .map(|(d, s)| {
                Ok(OutputChunk {
                    stream: *s,
                    data: bytes::Bytes::copy_from_slice(d),
                })
            })
            .collect();
        futures_util::stream::iter(items).boxed()
    }

    #[tokio::test]
    async fn markers_split_the_runner_from_the_program() {
        use OutputStream::*;
        let mut ok = chunks(&[(b"\x06", Stdout), (b"\x06hello", Stdout)]);
        let early = wait_for_runner(&mut ok).await.expect("started");
        assert_eq!(early.len(), 1);
        let mut failed = chunks(&[(b"\x06\x15tar: no space", Stdout), (b" left", Stdout)]);
        match wait_for_runner(&mut failed).await {
            Err(SandboxError::Workspace(why)) => assert_eq!(why, "tar: no space left"),
            other => panic!("{other:?}"),
        }
        let mut split = chunks(&[(b"\x06", Stdout), (b"\x15", Stdout), (b"why", Stdout)]);
        assert!(
            matches!(wait_for_runner(&mut split).await, Err(SandboxError::Workspace(w)) if w == "why")
        );
        let mut never = chunks(&[(b"OCI runtime exec failed", Stderr)]);
        assert!(matches!(
            wait_for_runner(&mut never).await,
            Err(SandboxError::ExecFailed(_))
        ));
    }
}
