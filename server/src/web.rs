//! The pages, embedded in the binary: `/`, `/s/{id}`, `/embed/{id}`, `/docs` and `/assets/*`.
//! Hashed assets are cached for good, HTML never; `frame-ancestors` comes from config.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(rust_embed::Embed)]
#[folder = "web/dist/"]
struct Assets;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(landing))
        .routes(routes!(session))
        .routes(routes!(embed))
        .routes(routes!(docs))
        .routes(routes!(asset))
}

/// The landing page: create a session.
#[utoipa::path(get, path = "/", tag = "pages",
    responses((status = 200, content_type = "text/html")))]
async fn landing() -> Response {
    page("index.html", "'self'")
}

/// A session's page; the token comes in the fragment (`#token=…`), never to the server.
#[utoipa::path(get, path = "/s/{id}", tag = "pages",
    responses((status = 200, content_type = "text/html")))]
async fn session(Path(_id): Path<String>) -> Response {
    page("session.html", "'self'")
}

/// This API's reference, rendered from `/api/v1/openapi.json`.
#[utoipa::path(get, path = "/docs", tag = "pages",
    responses((status = 200, content_type = "text/html")))]
async fn docs() -> Response {
    page("docs.html", "'self'")
}

/// The session page for an `<iframe>`: framable by `frame_ancestors`.
#[utoipa::path(get, path = "/embed/{id}", tag = "pages",
    responses((status = 200, content_type = "text/html")))]
async fn embed(State(state): State<AppState>, Path(_id): Path<String>) -> Response {
    let mut ancestors = vec!["'self'".to_string()];
    ancestors.extend(state.config.frame_ancestors.iter().cloned());
    let file = if Assets::get("embed.html").is_some() {
        "embed.html"
    } else {
        "session.html"
    };
    page(file, &ancestors.join(" "))
}

fn page(file: &str, frame_ancestors: &str) -> Response {
    let Some(content) = Assets::get(file) else {
        return (StatusCode::NOT_FOUND, "page not built").into_response();
    };
    let csp = format!("frame-ancestors {frame_ancestors}; object-src 'none'; base-uri 'self'");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(&csp).expect("validated origins make a valid header"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        content.data,
    )
        .into_response()
}

/// The pages' scripts, styles and images.
#[utoipa::path(get, path = "/assets/{*path}", tag = "pages",
    params(("path" = String, Path, description = "A file under web/dist/assets")),
    responses((status = 200, description = "The file"), (status = 404, description = "No such asset")))]
async fn asset(Path(path): Path<String>) -> Response {
    let path = format!("assets/{path}");
    let Some(content) = Assets::get(&path) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mime = content.metadata.mimetype().to_string();
    // Vite names built assets by content hash: such a file never changes.
    let hashed = path
        .rsplit('/')
        .next()
        .is_some_and(|name| name.matches('-').count() >= 1 && name.len() > 12);
    let cache = if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(&mime)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        content.data,
    )
        .into_response()
}
