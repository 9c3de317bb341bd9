//! Environment images on Docker: inspecting one (its id and the runner it carries), building
//! one from a tar'd context, and reading a version off one in a throw-away container.

use std::collections::HashMap;

use async_trait::async_trait;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::BuildImageOptionsBuilder;
use bytes::Bytes;
use futures_util::StreamExt;

use super::{engine_error, timed, DockerSandbox, LABEL_INSTANCE, LABEL_MANAGED, PROBE_USER};
use crate::sandbox::{
    BuildLog, ImageBuilder, ImageInfo, OutputStream, Sandbox, SandboxError, SandboxId,
    RUNNER_LABEL, RUN_UID,
};

#[async_trait]
impl ImageBuilder for DockerSandbox {
    async fn image(&self, image: &str) -> Result<Option<ImageInfo>, SandboxError> {
        match timed(self.docker.inspect_image(image)).await? {
            Ok(info) => Ok(Some(ImageInfo {
                id: info.id.unwrap_or_default(),
                runner: info
                    .config
                    .and_then(|c| c.labels)
                    .and_then(|l| l.get(RUNNER_LABEL).cloned()),
            })),
            Err(e) => match engine_error(e, image) {
                SandboxError::NotFound(_) | SandboxError::ImageMissing(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn build_image(
        &self,
        image: &str,
        context: Bytes,
        args: &[(&str, &str)],
        log: BuildLog<'_>,
    ) -> Result<(), SandboxError> {
        let args: HashMap<&str, &str> = args.iter().copied().collect();
        let options = BuildImageOptionsBuilder::new()
            .t(image)
            .rm(true)
            .forcerm(true)
            .buildargs(&args)
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
            user: Some(PROBE_USER.into()),
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
            let mut pipe = self
                .attach(
                    &id,
                    vec!["/bin/sh".into(), "-c".into(), format!("{command} 2>&1")],
                    &format!("{RUN_UID}:{RUN_UID}"),
                )
                .await?;
            drop(pipe.input);
            let mut stdout = Vec::new();
            let read = async {
                while let Some(chunk) = pipe.output.next().await {
                    let chunk = chunk?;
                    if chunk.stream == OutputStream::Stdout {
                        stdout.extend_from_slice(&chunk.data);
                    }
                }
                Ok::<_, SandboxError>(())
            };
            timed(read).await??;
            Ok(String::from_utf8_lossy(&stdout).into_owned())
        }
        .await;
        let _ = self.remove(&id).await;
        result
    }
}
