//! The router: the one place routes and layers are assembled (REST, the socket, the pages),
//! including the guards every request passes: cross-site refusal, CORS for listed origins,
//! the body limit and the body-read deadline, and refusals from layers turned into the error
//! shape.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

/// The header that carries a request's id, both ways.
const REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

use crate::api::openapi::Described;
use crate::api::ApiError;
use crate::config::{url_origin, Config};
pub use crate::state::AppState;

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    // Room for the largest accepted program, JSON-escaped, plus the rest of the body.
    let body_limit = state.config.limits.code_limit_bytes * 6 + 64 * 1024;
    let cors = cors(&state.config);
    let (router, doc) = described_router();
    router
        // Innermost: in cluster mode, a session another replica owns is relayed there, after
        // this replica's own guards and with the body already read.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::forward::to_owner,
        ))
        .layer(axum::Extension(describe(&doc, &state.config)))
        .layer(RequestBodyLimitLayer::new(body_limit))
        // Extractors have a limit of their own (2 MB); the configured one is the one.
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            BodyRead {
                limit: body_limit,
                deadline: Duration::from_secs_f64(state.config.server.body_read_timeout_seconds),
            },
            read_body,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_cross_site,
        ))
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Requests don't hang forever; `execute` is bounded by the run timeout well below this.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(state.config.limits.run_timeout_seconds + 120),
        ))
        .layer(middleware::from_fn(error_shape))
        .layer(cors)
        // Every line logged while serving a request carries its id.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// How a request body is read: at most `limit` bytes, all of them within `deadline`.
#[derive(Debug, Clone, Copy)]
struct BodyRead {
    limit: usize,
    deadline: Duration,
}

/// Reads the whole body before the handler runs, within the body-read deadline (408
/// `BODY_TIMEOUT` past it), so a client sending a byte a second holds its connection seconds,
/// not the request timeout. Each chunk is copied out and dropped as it arrives: hyper hands
/// out a chunk as a view of its read buffer, and a byte-sized chunk kept until the body ends
/// pins a whole buffer (kilobytes each; axum's own collection keeps every chunk).
async fn read_body(State(read): State<BodyRead>, req: Request, next: Next) -> Response {
    use axum::body::HttpBody as _;
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > read.limit as u64) {
        return ApiError::BodyTooLarge.into_response();
    }
    let (parts, body) = req.into_parts();
    let mut chunks = body.into_data_stream();
    let copy = async {
        let mut bytes = Vec::new();
        while let Some(chunk) = futures_util::StreamExt::next(&mut chunks).await {
            let chunk = chunk
                .map_err(|_| ApiError::InvalidArgument("the request body was cut short".into()))?;
            if bytes.len() + chunk.len() > read.limit {
                return Err(ApiError::BodyTooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    match tokio::time::timeout(read.deadline, copy).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Ok(Err(err)) => err.into_response(),
        Err(_) => ApiError::BodyTimeout(read.deadline.as_secs_f64()).into_response(),
    }
}

/// Every route, each documented by its handler: the REST API and its socket under `/api/v1`,
/// `/metrics`, and the pages.
pub fn described_router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = crate::api::router().routes(utoipa_axum::routes!(crate::ws::upgrade));
    let mut base = crate::api::openapi::base();
    base.merge(crate::ws::schemas::components());
    let (router, mut doc) = OpenApiRouter::with_openapi(base)
        .nest("/api/v1", api)
        .routes(utoipa_axum::routes!(crate::api::metrics::serve))
        .merge(crate::web::router())
        .split_for_parts();
    // axum's catch-all `{*rest}` is OpenAPI's plain `{rest}`.
    doc.paths.paths = std::mem::take(&mut doc.paths.paths)
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    (router, doc)
}

/// The served documents: the API's, finished and bounded by `config`, and the socket's
/// schemas cut from it.
fn describe(doc: &utoipa::openapi::OpenApi, config: &Config) -> Described {
    let mut value = crate::api::openapi::document(doc, config);
    crate::ws::schemas::finish(&mut value);
    Described::new(&value, &crate::ws::schemas::socket_schemas(&value))
}

/// Real CORS for the origins in `cors_origins` (none by default: the layer then adds nothing).
fn cors(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .cors_origins
        .iter()
        .filter(|o| *o != "*")
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    let allow = if config.cors_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins)
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER, header::LINK])
        .max_age(Duration::from_secs(3600))
}

/// Refuses a state-changing request (or a socket) that a page of another site sent: its
/// `Origin` must be the server's own or listed in `cors_origins`. Requests without `Origin`
/// (curl, server-to-server) are not a browser's cross-site requests and pass.
async fn refuse_cross_site(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let socket = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if safe && !socket {
        return next.run(req).await;
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        if !origin_allowed(&state.config, origin, req.headers()) {
            let shown = String::from_utf8_lossy(origin.as_bytes())
                .chars()
                .take(100)
                .collect();
            return ApiError::ForbiddenOrigin(shown).into_response();
        }
    }
    next.run(req).await
}

/// Is `origin` this server's own, or one the operator listed?
pub fn origin_allowed(config: &Config, origin: &HeaderValue, headers: &HeaderMap) -> bool {
    let Some(origin) = origin.to_str().ok().and_then(url_origin) else {
        return false; // "null" (sandboxed frames, files) and anything unparsable
    };
    if config
        .cors_origins
        .iter()
        .any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(&origin))
    {
        return true;
    }
    match config.public_origin() {
        Some(own) => own == origin,
        // No public_url: the host the browser addressed is ours.
        None => headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|host| {
                origin
                    .split_once("://")
                    .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
            }),
    }
}

/// Errors made by layers (body limit, timeout, unknown method) get the error shape too, under
/// `/api/` (pages keep their own answers).
async fn error_shape(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    if !api {
        return response;
    }
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let Some(err) = ApiError::from_status(status) else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    let mut shaped = err.into_response();
    // Keep what the layer said beyond the body (e.g. `Allow` on 405).
    for (name, value) in parts.headers.drain().filter_map(|(n, v)| Some((n?, v))) {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            shaped.headers_mut().entry(name).or_insert(value);
        }
    }
    shaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).expect("host"));
        h
    }

    #[test]
    fn own_and_listed_origins_pass_and_others_do_not() {
        let mut config = Config::defaults();
        let origin = |o: &str| HeaderValue::from_str(o).expect("origin");
        let h = headers("127.0.0.1:8080");
        assert!(origin_allowed(
            &config,
            &origin("http://127.0.0.1:8080"),
            &h
        ));
        assert!(!origin_allowed(
            &config,
            &origin("https://evil.example"),
            &h
        ));
        assert!(!origin_allowed(&config, &origin("null"), &h));
        config.cors_origins = vec!["https://hiring.example.com".into()];
        assert!(origin_allowed(
            &config,
            &origin("https://hiring.example.com"),
            &h
        ));
        // With public_url set, only it is ours (a rebound DNS name is not).
        config.public_url = "https://livecode.example.com".into();
        let h = headers("evil.example");
        assert!(!origin_allowed(&config, &origin("http://evil.example"), &h));
        assert!(origin_allowed(
            &config,
            &origin("https://livecode.example.com"),
            &h
        ));
    }
}
