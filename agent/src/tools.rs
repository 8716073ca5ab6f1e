//! Tool calls: one tool per endpoint, named by its endpoint id, whose JSON arguments are the
//! `fields` list and the request body's properties (the shape `generated/tools.json`
//! describes), checked here against the same generated tables before anything is sent.

use serde_json::{Map, Value};

pub use tiktok_api::TOOLS_JSON;
use tiktok_api::meta::{EndpointMeta, SchemaMeta, TypeMeta};

/// A tool call's arguments, checked and split for the request.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolArguments {
    /// The `fields` query parameter's entries.
    pub fields: Vec<String>,
    /// The request body, for endpoints that take one.
    pub body: Option<Value>,
}

/// Where and how arguments break the tool's input schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentError {
    /// A JSON Pointer to the bad value (`""` for the arguments object itself).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

pub(crate) fn error(path: &str, message: impl Into<String>) -> ArgumentError {
    ArgumentError {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Checks `arguments` against the input schema of `meta`'s tool: an object (or `null`, as
/// no arguments) with `fields` (names of the endpoint's fields schema, no repeats, at least
/// one when required) and the request schema's properties; nothing else.
pub fn parse_arguments(
    meta: &EndpointMeta,
    arguments: &Value,
) -> Result<ToolArguments, ArgumentError> {
    let empty = Map::new();
    let object = match arguments {
        Value::Null => &empty,
        Value::Object(object) => object,
        other => {
            return Err(error(
                "",
                format!("expected an object, found {}", kind(other)),
            ));
        }
    };
    let mut fields = Vec::new();
    let mut body = Map::new();
    let request = meta.request.map(|(schema, _)| schema);
    for (key, value) in object {
        if key == "fields" && meta.fields.is_some() {
            continue;
        }
        let path = format!("/{}", pointer_escape(key));
        let field = request
            .and_then(|schema| schema.field(key))
            .ok_or_else(|| error(&path, format!("unknown property {key:?}")))?;
        check(&path, &field.ty, field, value)?;
        body.insert(key.clone(), value.clone());
    }
    if let Some(param) = meta.fields {
        match object.get("fields") {
            None if param.required => {
                return Err(error("", "missing required property \"fields\""));
            }
            None => {}
            Some(Value::Array(items)) => {
                if param.required && items.is_empty() {
                    return Err(error("/fields", "expected at least 1 item"));
                }
                for (index, item) in items.iter().enumerate() {
                    let path = format!("/fields/{index}");
                    let name = item.as_str().ok_or_else(|| {
                        error(&path, format!("expected a string, found {}", kind(item)))
                    })?;
                    if param.schema.field(name).is_none() {
                        return Err(error(
                            &path,
                            format!("{name:?} is not a field of {}", param.schema.name),
                        ));
                    }
                    if fields.iter().any(|seen| seen == name) {
                        return Err(error(&path, format!("{name:?} is repeated")));
                    }
                    fields.push(name.to_string());
                }
            }
            Some(other) => {
                return Err(error(
                    "/fields",
                    format!("expected an array, found {}", kind(other)),
                ));
            }
        }
    }
    if let Some(schema) = request {
        check_required("", schema, &body)?;
    }
    Ok(ToolArguments {
        fields,
        body: request.map(|_| Value::Object(body)),
    })
}

fn check_required(
    path: &str,
    schema: &SchemaMeta,
    object: &Map<String, Value>,
) -> Result<(), ArgumentError> {
    match schema
        .fields
        .iter()
        .find(|field| field.required && !object.contains_key(field.name))
    {
        Some(field) => Err(error(
            path,
            format!("missing required property {:?}", field.name),
        )),
        None => Ok(()),
    }
}

fn check(
    path: &str,
    ty: &TypeMeta,
    field: &tiktok_api::meta::FieldMeta,
    value: &Value,
) -> Result<(), ArgumentError> {
    match (ty, value) {
        (TypeMeta::String, Value::String(text)) => {
            if let Some(max) = field.max_length
                && text.encode_utf16().count() as u64 > max
            {
                return Err(error(path, format!("longer than {max} characters")));
            }
            Ok(())
        }
        (TypeMeta::Bool, Value::Bool(_)) => Ok(()),
        (TypeMeta::I32 | TypeMeta::I64, Value::Number(number)) => {
            let Some(number) = number.as_i64() else {
                return Err(error(path, format!("expected an integer, found {number}")));
            };
            if matches!(ty, TypeMeta::I32) && i32::try_from(number).is_err() {
                return Err(error(path, format!("{number} is out of the 32-bit range")));
            }
            if let Some(minimum) = field.minimum
                && number < minimum
            {
                return Err(error(
                    path,
                    format!("{number} is below the minimum {minimum}"),
                ));
            }
            if let Some(maximum) = field.maximum
                && number > maximum
            {
                return Err(error(
                    path,
                    format!("{number} is above the maximum {maximum}"),
                ));
            }
            Ok(())
        }
        (TypeMeta::List(item), Value::Array(items)) => {
            let count = items.len() as u64;
            if let Some(min) = field.min_items
                && count < min
            {
                return Err(error(path, format!("expected at least {min} items")));
            }
            if let Some(max) = field.max_items
                && count > max
            {
                return Err(error(path, format!("expected at most {max} items")));
            }
            let plain = tiktok_api::meta::FieldMeta {
                min_items: None,
                max_items: None,
                ..*field
            };
            for (index, value) in items.iter().enumerate() {
                check(&format!("{path}/{index}"), item, &plain, value)?;
            }
            Ok(())
        }
        (TypeMeta::Enum(set), Value::String(text)) => {
            if set.values.contains(&text.as_str()) {
                Ok(())
            } else {
                Err(error(
                    path,
                    format!("{text:?} is not one of {}", set.values.join(", ")),
                ))
            }
        }
        (TypeMeta::Schema(schema), Value::Object(object)) => {
            for (key, value) in object {
                let inner = format!("{path}/{}", pointer_escape(key));
                let field = schema
                    .field(key)
                    .ok_or_else(|| error(&inner, format!("unknown property {key:?}")))?;
                check(&inner, &field.ty, field, value)?;
            }
            check_required(path, schema, object)
        }
        (ty, value) => Err(error(
            path,
            format!("expected {}, found {}", expected(ty), kind(value)),
        )),
    }
}

fn expected(ty: &TypeMeta) -> &'static str {
    match ty {
        TypeMeta::String | TypeMeta::Enum(_) => "a string",
        TypeMeta::Bool => "a boolean",
        TypeMeta::I32 | TypeMeta::I64 => "an integer",
        TypeMeta::List(_) => "an array",
        TypeMeta::Schema(_) => "an object",
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A key as a JSON Pointer segment (RFC 6901).
fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tiktok_api::endpoints::{USER_INFO, VIDEO_LIST, VIDEO_QUERY};

    fn path_of(meta: &EndpointMeta, arguments: Value) -> String {
        parse_arguments(meta, &arguments).unwrap_err().path
    }

    #[test]
    fn good_arguments_split_into_fields_and_body() {
        let parsed =
            parse_arguments(&VIDEO_LIST, &json!({"fields": ["id"], "max_count": 5})).unwrap();
        assert_eq!(parsed.fields, ["id"]);
        assert_eq!(parsed.body, Some(json!({"max_count": 5})));
        let parsed = parse_arguments(&USER_INFO, &json!({"fields": ["open_id"]})).unwrap();
        assert_eq!(parsed.body, None);
    }

    #[test]
    fn bad_arguments_name_their_path() {
        assert_eq!(
            path_of(&USER_INFO, json!({"fields": ["open_id", "nope"]})),
            "/fields/1"
        );
        assert_eq!(path_of(&USER_INFO, json!({})), "");
        assert_eq!(
            path_of(&USER_INFO, json!({"fields": ["open_id"], "x": 1})),
            "/x"
        );
        assert_eq!(
            path_of(&VIDEO_LIST, json!({"fields": ["id"], "max_count": "5"})),
            "/max_count"
        );
        assert_eq!(
            path_of(
                &VIDEO_QUERY,
                json!({"fields": ["id"], "filters": {"video_ids": [1]}})
            ),
            "/filters/video_ids/0"
        );
        assert_eq!(path_of(&USER_INFO, json!([1])), "");
    }
}
