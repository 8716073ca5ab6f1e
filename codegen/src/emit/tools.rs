//! The tool manifest `generated/tools.json`: one tool per endpoint, named by its endpoint
//! id, with a description carrying scopes, access, rate limit, paging and limits, and an
//! input schema (JSON Schema 2020-12) made of the `fields` list and the request body.
//!
//! [`emit_tools`] builds a [`serde_json::Value`] and prints it with every object's keys
//! sorted, whatever `serde_json` features the build turned on, so output is deterministic.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::Model;
use crate::emit::text::{auth_text, limit_text, paging_summary, rate_limit_text, scope_by_text};
use crate::model::{Access, Endpoint, Field, Type};

/// The JSON Schema dialect of every input schema.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Renders `generated/tools.json`. Its first line carries the `@generated` header in a
/// `$comment` member, so the file stays plain JSON.
pub fn emit_tools(model: &Model) -> String {
    let tools: Vec<Value> = model
        .endpoints
        .iter()
        .map(|endpoint| tool(model, endpoint))
        .collect();
    let document = json!({ "$comment": super::HEADER, "tools": tools });
    let mut text = String::new();
    write_sorted(&document, 0, &mut text);
    // `{\n  "$comment": …` becomes `{"$comment": …` so the header is on the first line.
    let text = text.replacen("{\n  \"$comment\"", "{\"$comment\"", 1);
    format!("{text}\n")
}

/// One MCP tool.
fn tool(model: &Model, endpoint: &Endpoint) -> Value {
    let read = endpoint.access == Access::Read;
    let mut annotations = json!({
        "readOnlyHint": read,
        "destructiveHint": endpoint.destructive,
        "openWorldHint": true,
    });
    if read {
        annotations["idempotentHint"] = json!(true);
    }
    json!({
        "name": endpoint.id,
        "title": endpoint.title,
        "description": description(endpoint),
        "inputSchema": input_schema(model, endpoint),
        "annotations": annotations,
    })
}

/// The tool's description: what it does, then one paragraph per fact.
fn description(endpoint: &Endpoint) -> String {
    let mut lines = vec![endpoint.summary.clone(), endpoint.description.clone()];
    lines.push(format!(
        "`{} {}`, {} access. Auth: {}.",
        endpoint.method.as_str(),
        endpoint.path,
        match endpoint.access {
            Access::Read => "read",
            Access::Write => "write",
        },
        auth_text(endpoint.auth)
    ));
    if !endpoint.scopes.is_empty() {
        let scopes: Vec<String> = endpoint.scopes.iter().map(|s| format!("`{s}`")).collect();
        lines.push(format!("Scopes: any of {}.", scopes.join(", ")));
    }
    if let Some(scope_by) = &endpoint.scope_by {
        lines.push(format!("Scope by {}.", scope_by_text(scope_by)));
    }
    lines.push(format!("Rate limit: {}.", rate_limit_text(endpoint)));
    if let Some(paging) = &endpoint.paging {
        lines.push(format!("Paging: {}.", paging_summary(paging)));
    }
    for limit in &endpoint.limits {
        lines.push(format!("Limit {}", limit_text(limit)));
    }
    lines.join("\n\n")
}

/// The tool's arguments: `fields` (if the endpoint has the parameter) and the request
/// body's properties, nothing else; nested schemas and value sets under `$defs`.
fn input_schema(model: &Model, endpoint: &Endpoint) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut defs = BTreeSet::new();
    if let Some(param) = &endpoint.fields {
        let fields: &[Field] = model
            .schema(&param.schema)
            .map_or(&[], |schema| schema.fields.as_slice());
        let names: Vec<&str> = fields.iter().map(|field| field.name.as_str()).collect();
        let allowed: Vec<String> = fields
            .iter()
            .map(|field| match &field.scope {
                Some(scope) => format!("`{}` ({scope})", field.name),
                None => format!("`{}`", field.name),
            })
            .collect();
        let mut schema = json!({
            "type": "array",
            "items": { "type": "string", "enum": names },
            "uniqueItems": true,
            "description": format!(
                "The `{}` fields to return; each needs its scope. {}.",
                param.schema,
                allowed.join(", ")
            ),
        });
        if param.required {
            schema["minItems"] = json!(1);
            required.push(json!("fields"));
        }
        properties.insert("fields".into(), schema);
    }
    if let Some((name, _)) = &endpoint.request
        && let Some(schema) = model.schema(name)
    {
        for field in &schema.fields {
            properties.insert(field.name.clone(), field_schema(field, &mut defs));
            if field.required {
                required.push(json!(field.name));
            }
        }
    }
    let mut schema = json!({
        "$schema": DIALECT,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    });
    let defs = definitions(model, defs);
    if !defs.is_empty() {
        schema["$defs"] = Value::Object(defs);
    }
    schema
}

/// The schema of one property, with the spec's constraints.
fn field_schema(field: &Field, defs: &mut BTreeSet<String>) -> Value {
    let mut schema = type_schema(&field.ty, defs);
    let mut extra = |key: &str, value: Option<Value>| {
        if let (Some(value), Value::Object(object)) = (value, &mut schema) {
            object.insert(key.into(), value);
        }
    };
    extra("description", Some(json!(field.description)));
    extra("maxLength", field.max_length.map(Value::from));
    extra("minItems", field.min_items.map(Value::from));
    extra("maxItems", field.max_items.map(Value::from));
    extra("minimum", field.minimum.map(Value::from));
    extra("maximum", field.maximum.map(Value::from));
    if field.secret {
        extra("writeOnly", Some(json!(true)));
    }
    schema
}

fn type_schema(ty: &Type, defs: &mut BTreeSet<String>) -> Value {
    match ty {
        Type::String => json!({ "type": "string" }),
        Type::Bool => json!({ "type": "boolean" }),
        Type::I32 => json!({ "type": "integer", "minimum": i32::MIN, "maximum": i32::MAX }),
        Type::I64 => json!({ "type": "integer" }),
        Type::List(inner) => json!({ "type": "array", "items": type_schema(inner, defs) }),
        // The `type` beside the `$ref` tells clients that do not follow references
        // to send an object (or a string), not the object's JSON text.
        Type::Enum(name) => {
            defs.insert(name.clone());
            json!({ "type": "string", "$ref": format!("#/$defs/{name}") })
        }
        Type::Schema(name) => {
            defs.insert(name.clone());
            json!({ "type": "object", "$ref": format!("#/$defs/{name}") })
        }
    }
}

/// `$defs` for `names` and every schema or value set they reach.
fn definitions(model: &Model, mut pending: BTreeSet<String>) -> Map<String, Value> {
    let mut defs = Map::new();
    while let Some(name) = pending.pop_first() {
        if defs.contains_key(&name) {
            continue;
        }
        let mut reached = BTreeSet::new();
        let definition = if let Some(enumeration) = model.enumeration(&name) {
            json!({
                "type": "string",
                "enum": enumeration.values,
                "description": enumeration.description,
            })
        } else if let Some(schema) = model.schema(&name) {
            let mut properties = Map::new();
            let mut required = Vec::new();
            for field in &schema.fields {
                properties.insert(field.name.clone(), field_schema(field, &mut reached));
                if field.required {
                    required.push(json!(field.name));
                }
            }
            json!({
                "type": "object",
                "description": schema.description,
                "properties": properties,
                "required": required,
                "additionalProperties": false,
            })
        } else {
            // The validated model resolves every name; an unknown one accepts anything.
            json!({})
        };
        defs.insert(name, definition);
        pending.extend(reached.into_iter().filter(|name| !defs.contains_key(name)));
    }
    defs
}

/// Pretty JSON (two spaces) with every object's keys sorted.
fn write_sorted(value: &Value, indent: usize, out: &mut String) {
    let pad = |level: usize| "  ".repeat(level);
    match value {
        Value::Object(object) if !object.is_empty() => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (index, key) in keys.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push_str(": ");
                write_sorted(&object[key.as_str()], indent + 1, out);
                if index + 1 < keys.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (index, item) in items.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                write_sorted(item, indent + 1, out);
                if index + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        scalar => out.push_str(&scalar.to_string()),
    }
}
