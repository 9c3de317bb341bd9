//! The socket's messages as schemas: the `ClientMessage` and `ServerMessage` components of the
//! OpenAPI document (which `app` merges in), and one standalone JSON Schema per message cut
//! from them (`/api/v1/socket-schemas.json`).

use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use super::{ClientMessage, ServerMessage};

#[derive(OpenApi)]
#[openapi(components(schemas(ClientMessage, ServerMessage)))]
struct SocketDoc;

/// The socket's components, to merge into the API's document.
pub fn components() -> utoipa::openapi::OpenApi {
    SocketDoc::openapi()
}

/// What the derive cannot say: client messages' closed field sets (`deny_unknown_fields`).
pub fn finish(doc: &mut Value) {
    let client = &mut doc["components"]["schemas"]["ClientMessage"]["oneOf"];
    for message in client.as_array_mut().into_iter().flatten() {
        if message["type"] == "object" {
            message["additionalProperties"] = json!(false);
        }
    }
}

/// Cuts the `ClientMessage` and `ServerMessage` components into one schema per message: each
/// alternative of their `oneOf`, named by its `type`, with the components it refers to under
/// `$defs` (so each stands alone).
pub fn socket_schemas(doc: &Value) -> Value {
    let components = &doc["components"]["schemas"];
    let mut out = Map::new();
    for (direction, component) in [("client", "ClientMessage"), ("server", "ServerMessage")] {
        let mut messages = Map::new();
        let alternatives = components[component]["oneOf"].as_array().cloned();
        for alternative in alternatives.unwrap_or_default() {
            let Some(kind) = message_type(&alternative) else {
                continue;
            };
            let mut defs = Map::new();
            collect_refs(&alternative, components, &mut defs);
            let mut schema = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": format!("{direction} message '{kind}'"),
            });
            let object = schema.as_object_mut().expect("an object");
            for (k, v) in alternative.as_object().into_iter().flatten() {
                object.insert(k.clone(), v.clone());
            }
            if !defs.is_empty() {
                object.insert("$defs".into(), Value::Object(defs));
            }
            messages.insert(kind, rewrite_refs(schema));
        }
        out.insert(direction.into(), Value::Object(messages));
    }
    Value::Object(out)
}

/// The `type` an alternative pins: `properties.type.enum[0]`, possibly inside an `allOf`.
fn message_type(schema: &Value) -> Option<String> {
    if let Some(kind) = schema["properties"]["type"]["enum"][0].as_str() {
        return Some(kind.to_string());
    }
    if let Some(kind) = schema["properties"]["type"]["const"].as_str() {
        return Some(kind.to_string());
    }
    let parts = schema["allOf"].as_array()?;
    parts.iter().find_map(message_type)
}

/// Every component `schema` refers to, transitively, by name.
fn collect_refs(schema: &Value, components: &Value, defs: &mut Map<String, Value>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                if !defs.contains_key(name) {
                    let target = components[name].clone();
                    defs.insert(name.to_string(), target.clone());
                    collect_refs(&target, components, defs);
                }
            }
            map.values().for_each(|v| collect_refs(v, components, defs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, components, defs)),
        _ => {}
    }
}

/// `#/components/schemas/X` → `#/$defs/X`.
fn rewrite_refs(schema: Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        let r = r.replace("#/components/schemas/", "#/$defs/");
                        (k, Value::String(r))
                    }
                    (_, v) => (k, rewrite_refs(v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(rewrite_refs).collect()),
        other => other,
    }
}
