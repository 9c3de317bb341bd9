//! The API's description, made from the code: OpenAPI 3.1 from the handlers' `#[utoipa::path]`
//! and the types' `ToSchema` (`/api/v1/openapi.json`, shown at `/docs`), and the socket's
//! schemas, served as `ws::schemas` cut them (`/api/v1/socket-schemas.json`). `app` merges the
//! socket's components into this document.

use std::sync::Arc;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Config;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "livecode",
        description = "Live-coding sessions for technical interviews: create a session, share its links, \
run code in its container, follow it over the socket (`/api/v1/sessions/{id}/ws`; its messages' \
schemas are at `/api/v1/socket-schemas.json`). Errors are `{\"error\":{\"code\",\"message\",\"hint\"}}`."
    ),
    modifiers(&Bearer),
    tags(
        (name = "sessions", description = "Sessions, their runs, replay and notes"),
        (name = "environments", description = "What sessions can be created with"),
        (name = "questions", description = "Interview questions, their test cases, and test runs"),
        (name = "scorecards", description = "Interviewers' scorecards against a session's rubric"),
        (name = "templates", description = "Interview templates: questions in order, each with a suggested time; a session's moves between them"),
        (name = "interviews", description = "A session's interview: its lobby's Start, its clock, a take-home's submission"),
        (name = "socket", description = "The session socket"),
        (name = "operations", description = "Health, metrics and this description"),
        (name = "pages", description = "The pages people open"),
    ),
)]
struct ApiDoc;

/// `Authorization: Bearer …`: the API key, or one of a session's tokens.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The API key (`api_key` in config), or a session's candidate or \
                         interviewer token, each scoped to its one session",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document's root, which the routers' paths are added to.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The finished description, served as built (made once, when the router is).
#[derive(Clone)]
pub struct Described {
    openapi: Arc<str>,
    socket: Arc<str>,
}

impl Described {
    /// The finished document, and the socket's schemas cut from it.
    pub fn new(openapi: &Value, socket: &Value) -> Self {
        Self {
            openapi: openapi.to_string().into(),
            socket: socket.to_string().into(),
        }
    }
}

/// The document as served by a server with `config` (its bounds are the config's).
pub fn document(doc: &utoipa::openapi::OpenApi, config: &Config) -> Value {
    let mut value = serde_json::to_value(doc).expect("the document serializes");
    finish(&mut value);
    bounds(&mut value, config);
    value
}

/// The bounds the server enforces that depend on its configuration, or that the types cannot
/// carry, added to the request schemas: a client that keeps inside the document is never
/// refused for a value out of range, and the server refuses whatever is outside it.
fn bounds(doc: &mut Value, config: &Config) {
    let files = crate::session::files::MAX_FILES;
    let set = |doc: &mut Value, schema: &str, field: &str, add: Value| {
        let property = &mut doc["components"]["schemas"][schema]["properties"][field];
        if let (Some(property), Some(add)) = (property.as_object_mut(), add.as_object()) {
            property.extend(add.clone());
        }
    };
    let lifetime = config.sessions.max_lifetime_seconds;
    set(
        doc,
        "CreateBody",
        "ttl_seconds",
        json!({"minimum": 1, "maximum": lifetime}),
    );
    set(doc, "CreateBody", "label", json!({"maxLength": 200}));
    set(doc, "CreateBody", "files", json!({"maxProperties": files}));
    set(doc, "ExecuteBody", "files", json!({"maxProperties": files}));
    let run = config.limits.run_timeout_seconds;
    set(
        doc,
        "ExecuteBody",
        "timeout_seconds",
        json!({"exclusiveMinimum": 0, "maximum": run}),
    );
}

/// What the annotations cannot say, or would say once per handler: bodies that may be left
/// out, the refusals every request, body or state change can meet (the time bound, the size
/// bound, the media type, a page of another origin).
fn finish(doc: &mut Value) {
    let error = |description: &str| {
        json!({"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}})
    };
    for (path, item) in doc["paths"].as_object_mut().into_iter().flatten() {
        let socket = path.ends_with("/ws");
        for (method, op) in item.as_object_mut().into_iter().flatten() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let optional_body = matches!(
                op.get("operationId").and_then(Value::as_str),
                Some("create_session" | "execute")
            );
            let has_body = op.contains_key("requestBody");
            if optional_body {
                op["requestBody"]["required"] = json!(false);
            }
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("responses");
            if has_body {
                responses
                    .entry("415")
                    .or_insert_with(|| error("The body is not `application/json`"));
                responses.entry("413").or_insert_with(|| {
                    error("The body is over the server's bound (BODY_TOO_LARGE)")
                });
            }
            if !socket {
                responses.entry("408").or_insert_with(|| {
                    error("The request took longer than `limits.run_timeout_seconds` + 120 s (TIMEOUT), \
                        or its body did not arrive within `server.body_read_timeout_seconds` (BODY_TIMEOUT)")
                });
            }
            if socket || matches!(method.as_str(), "post" | "put" | "delete") {
                let refused = "A page of another origin (FORBIDDEN_ORIGIN)";
                match responses.get_mut("403") {
                    Some(r) => {
                        let d = r["description"].as_str().unwrap_or("Forbidden");
                        r["description"] = json!(format!("{d}; or {refused}"));
                    }
                    None => {
                        responses.insert("403".into(), error(refused));
                    }
                }
            }
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(socket_schemas_json))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json")))]
async fn openapi_json(Extension(described): Extension<Described>) -> Response {
    json_response(&described.openapi)
}

/// A JSON Schema (2020-12) for each socket message, by direction and `type`:
/// `{"client": {"run": {…}, …}, "server": {"welcome": {…}, …}}`.
#[utoipa::path(get, path = "/socket-schemas.json", tag = "socket",
    responses((status = 200, description = "One schema per message", content_type = "application/json")))]
async fn socket_schemas_json(Extension(described): Extension<Described>) -> Response {
    json_response(&described.socket)
}

fn json_response(body: &Arc<str>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
