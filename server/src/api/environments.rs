//! `GET /environments`: what sessions can be created with, and whether each is ready.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use super::extract::AppJson;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/environments", get(list))
        .route("/embed-config", get(embed_config))
}

#[derive(Debug, Serialize)]
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

async fn list(State(state): State<AppState>) -> AppJson<Vec<EnvironmentView>> {
    AppJson(
        state
            .environments
            .iter()
            .map(|e| EnvironmentView {
                name: e.name.clone(),
                description: e.settings.description.clone(),
                filename: e.settings.filename.clone(),
                editor_language: e.settings.editor_language.clone(),
                version: e.version(),
                compiled: e.is_compiled(),
                ready: e.is_ready(),
                template: e.template(),
            })
            .collect(),
    )
}

/// What the embed page needs to check `postMessage` origins: the allowed parent origins.
async fn embed_config(State(state): State<AppState>) -> AppJson<serde_json::Value> {
    AppJson(serde_json::json!({"frame_ancestors": state.config.frame_ancestors}))
}
