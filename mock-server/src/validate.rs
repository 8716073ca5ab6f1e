//! Request validation against the spec's schemas (`SchemaMeta`): types, required fields,
//! lengths in UTF-16 units, item counts, numeric bounds and enum values.

use serde_json::{Map, Value};
use tiktok_api::meta::{FieldMeta, SchemaMeta, TypeMeta};

/// How deep objects and lists may nest before validation gives up.
const MAX_DEPTH: usize = 32;

/// Checks `value` against `schema`. Unknown keys are ignored, as TikTok does; `null` counts
/// as absent. The error names the field by its path, e.g. `filters.video_ids[2]`.
pub fn validate_body(schema: &SchemaMeta, value: &Value) -> Result<(), String> {
    match value {
        Value::Object(object) => validate_object(schema, object, "", 0),
        other => Err(format!(
            "The request body must be a JSON object, found {}",
            kind(other)
        )),
    }
}

fn validate_object(
    schema: &SchemaMeta,
    object: &Map<String, Value>,
    path: &str,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{}: nested too deeply", display(path)));
    }
    for field in schema.fields {
        let field_path = join(path, field.name);
        match object.get(field.name) {
            None | Some(Value::Null) => {
                if field.required {
                    return Err(format!("{field_path}: is required"));
                }
            }
            Some(value) => validate_value(field, &field.ty, value, &field_path, depth + 1)?,
        }
    }
    Ok(())
}

fn validate_value(
    field: &FieldMeta,
    ty: &TypeMeta,
    value: &Value,
    path: &str,
    depth: usize,
) -> Result<(), String> {
    match ty {
        TypeMeta::String => {
            let Value::String(text) = value else {
                return Err(expected(path, "a string", value));
            };
            if let Some(max_length) = field.max_length {
                let length = text.encode_utf16().count() as u64;
                if length > max_length {
                    return Err(format!(
                        "{path}: is {length} characters long (UTF-16 units), at most {max_length} allowed"
                    ));
                }
            }
            Ok(())
        }
        TypeMeta::Bool => match value {
            Value::Bool(_) => Ok(()),
            other => Err(expected(path, "true or false", other)),
        },
        TypeMeta::I32 => {
            check_integer(field, value, path, i64::from(i32::MIN), i64::from(i32::MAX))
        }
        TypeMeta::I64 => check_integer(field, value, path, i64::MIN, i64::MAX),
        TypeMeta::Enum(meta) => {
            let Value::String(text) = value else {
                return Err(expected(path, "a string", value));
            };
            if meta.values.contains(&text.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "{path}: {:?} is not one of {}",
                    truncate(text),
                    meta.values.join(", ")
                ))
            }
        }
        TypeMeta::List(item) => {
            let Value::Array(items) = value else {
                return Err(expected(path, "a list", value));
            };
            let count = items.len() as u64;
            if let Some(min_items) = field.min_items
                && count < min_items
            {
                return Err(format!(
                    "{path}: has {count} items, at least {min_items} needed"
                ));
            }
            if let Some(max_items) = field.max_items
                && count > max_items
            {
                return Err(format!(
                    "{path}: has {count} items, at most {max_items} allowed"
                ));
            }
            if depth > MAX_DEPTH {
                return Err(format!("{path}: nested too deeply"));
            }
            for (index, item_value) in items.iter().enumerate() {
                validate_value(
                    field,
                    item,
                    item_value,
                    &format!("{path}[{index}]"),
                    depth + 1,
                )?;
            }
            Ok(())
        }
        TypeMeta::Schema(schema) => match value {
            Value::Object(object) => validate_object(schema, object, path, depth + 1),
            other => Err(expected(path, "an object", other)),
        },
    }
}

fn check_integer(
    field: &FieldMeta,
    value: &Value,
    path: &str,
    type_min: i64,
    type_max: i64,
) -> Result<(), String> {
    let Value::Number(number) = value else {
        return Err(expected(path, "an integer", value));
    };
    let Some(integer) = number.as_i64() else {
        let whole = number.as_f64().is_some_and(|float| float.fract() == 0.0);
        return Err(if number.is_u64() || whole {
            format!("{path}: {number} is out of range")
        } else {
            format!("{path}: {number} is not an integer")
        });
    };
    if integer < type_min || integer > type_max {
        return Err(format!("{path}: {integer} is out of range"));
    }
    if let Some(minimum) = field.minimum
        && integer < minimum
    {
        return Err(format!(
            "{path}: must be at least {minimum}, found {integer}"
        ));
    }
    if let Some(maximum) = field.maximum
        && integer > maximum
    {
        return Err(format!(
            "{path}: must be at most {maximum}, found {integer}"
        ));
    }
    Ok(())
}

/// Turns form pairs into JSON typed by `schema` (numbers and booleans parsed), for validation.
pub fn form_to_json(schema: &SchemaMeta, pairs: &[(String, String)]) -> Result<Value, String> {
    let mut object = Map::new();
    for (key, text) in pairs {
        let Some(field) = schema.field(key) else {
            continue;
        };
        let value = match field.ty {
            TypeMeta::I32 | TypeMeta::I64 => match text.trim().parse::<i64>() {
                Ok(number) => Value::from(number),
                Err(_) => return Err(format!("{key}: {:?} is not an integer", truncate(text))),
            },
            TypeMeta::Bool => match text.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(format!("{key}: {:?} is not true or false", truncate(text))),
            },
            TypeMeta::List(_) => Value::Array(
                text.split(',')
                    .map(|item| Value::String(item.to_owned()))
                    .collect(),
            ),
            _ => Value::String(text.clone()),
        };
        object.insert(key.clone(), value);
    }
    Ok(Value::Object(object))
}

fn expected(path: &str, what: &str, found: &Value) -> String {
    format!("{}: expected {what}, found {}", display(path), kind(found))
}

/// What a JSON value is, as an error message names it ("a string", "an integer", …).
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(number) if number.is_f64() => "a decimal number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() { "body" } else { path }
}

/// At most 64 characters of user input, for messages.
pub fn truncate(text: &str) -> String {
    let mut out: String = text.chars().take(64).collect();
    if text.chars().count() > 64 {
        out.push('…');
    }
    out
}
