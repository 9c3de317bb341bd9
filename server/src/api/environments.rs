//! `GET /environments`: what sessions can be created with, and whether each is ready.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::AppJson;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(embed_config))
}

#[derive(Debug, Serialize, ToSchema)]
struct EnvironmentView {
    name: String,
    description: String,
    filename: String,
    editor_language: String,
    version: Option<String>,
    compiled: bool,
    ready: bool,
    template: String,
}

/// Every environment, with its version and whether its image is built.
#[utoipa::path(get, path = "/environments", tag = "environments", operation_id = "list_environments",
    responses((status = 200, body = Vec<EnvironmentView>)))]
async fn list(State(state): State<AppState>) -> AppJson<Vec<EnvironmentView>> {
    AppJson(
        state
            .environments
            .iter()
            .map(|e| EnvironmentView {
                name: e.name.clone(),
                description: e.settings.description.clone(),
                filename: e.settings.filename.to_string(),
                editor_language: e.settings.editor_language.clone(),
                version: e.version(),
                compiled: e.is_compiled(),
                ready: e.is_ready(),
                template: e.template(),
            })
            .collect(),
    )
}

#[derive(Debug, Serialize, ToSchema)]
struct EmbedConfig {
    /// The origins allowed to frame the embed (and to talk to it with `postMessage`).
    frame_ancestors: Vec<String>,
}

/// What the embed page needs to check `postMessage` origins: the allowed parent origins.
#[utoipa::path(get, path = "/embed-config", tag = "pages",
    responses((status = 200, body = EmbedConfig)))]
async fn embed_config(State(state): State<AppState>) -> AppJson<EmbedConfig> {
    AppJson(EmbedConfig {
        frame_ancestors: state.config.frame_ancestors.clone(),
    })
}
