//! Rules of spec/errors.yaml and spec/schemas.yaml: error codes, type names, field types,
//! scopes and bounds.

use std::collections::BTreeSet;

use crate::error::NodePath;
use crate::model::*;
use crate::validate::checker::{Checker, ERRORS, Names, SCHEMAS, count, is_snake, known_list};

/// Rule: error codes are unique snake_case strings with an HTTP status and a known envelope.
pub(super) fn build_errors(checker: &mut Checker) -> Vec<ErrorCode> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (index, raw) in checker.raw.errors.iter().enumerate() {
        let path = NodePath::default().index(index);
        if !seen.insert(raw.code.clone()) {
            checker.fail(
                ERRORS,
                path.key("code"),
                "a code not listed before",
                format!("{:?} again", raw.code),
            );
        }
        if !is_snake(&raw.code) {
            checker.fail(
                ERRORS,
                path.key("code"),
                "a snake_case code",
                format!("{:?}", raw.code),
            );
        }
        let status = if (100..=599).contains(&raw.status) {
            raw.status as u16
        } else {
            checker.fail(
                ERRORS,
                path.key("status"),
                "an HTTP status from 100 to 599",
                raw.status.to_string(),
            );
            500
        };
        let envelope = match raw.envelope.as_str() {
            "v2" => Envelope::V2,
            "oauth" => Envelope::OAuth,
            other => {
                checker.fail(
                    ERRORS,
                    path.key("envelope"),
                    "v2 or oauth",
                    format!("{other:?}"),
                );
                Envelope::V2
            }
        };
        out.push(ErrorCode {
            code: raw.code.clone(),
            aliases: raw.aliases.clone(),
            status,
            envelope,
            transient: raw.transient,
            meaning: raw.meaning.clone(),
            action: raw.action.clone(),
            source: raw.source.clone(),
        });
    }
    out
}

/// Rule: enum and schema names are UpperCamelCase, so one function can map them to Rust,
/// and are not a name the outputs reserve ([`RESERVED_TYPE_NAMES`], or ending in `Field`,
/// the suffix of the generated `fields` enums).
pub(super) fn check_type_name(checker: &mut Checker, path: NodePath, name: &str) {
    let ok = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if !ok {
        checker.fail(SCHEMAS, path, "an UpperCamelCase name", format!("{name:?}"));
    } else if RESERVED_TYPE_NAMES.contains(&name) || name.ends_with("Field") {
        checker.fail_hint(
            SCHEMAS,
            path,
            "a name the generated crate and the OpenAPI document do not already use",
            format!("{name:?}"),
            format!(
                "rename it; reserved: {}, and any name ending in `Field`",
                RESERVED_TYPE_NAMES.join(", ")
            ),
        );
    }
}

/// Parses a field type: `string`, `bool`, `i32`, `i64`, `list<T>`, or an enum or schema name.
fn parse_type(text: &str, names: &Names) -> Result<Type, String> {
    let text = text.trim();
    if let Some(inner) = text
        .strip_prefix("list<")
        .and_then(|rest| rest.strip_suffix('>'))
    {
        return Ok(Type::List(Box::new(parse_type(inner, names)?)));
    }
    match text {
        "string" => Ok(Type::String),
        "bool" => Ok(Type::Bool),
        "i32" => Ok(Type::I32),
        "i64" => Ok(Type::I64),
        name if names.enums.contains_key(name) => Ok(Type::Enum(name.to_string())),
        name if names.schemas.contains(name) => Ok(Type::Schema(name.to_string())),
        other => Err(other.to_string()),
    }
}

/// Rules: field types resolve, field scopes are known scopes, bounds are consistent.
pub(super) fn build_schemas(checker: &mut Checker, names: &Names) -> Vec<Schema> {
    let mut out = Vec::new();
    for (name, schema, fields) in &checker.raw.schemas {
        let path = NodePath::default().key("schemas").key(name.clone());
        check_type_name(checker, path.clone(), name);
        let mut built = Vec::new();
        for (field_name, field) in fields {
            let field_path = path.key("fields").key(field_name.clone());
            let ty = match parse_type(&field.ty, names) {
                Ok(ty) => ty,
                Err(unknown) => {
                    let hint = if unknown == field.ty.trim() {
                        "schema and enum names are case-sensitive".to_string()
                    } else {
                        format!(
                            "{unknown:?} is not a type; schema and enum names are case-sensitive"
                        )
                    };
                    checker.fail_hint(
                        SCHEMAS,
                        field_path.key("type"),
                        "string, bool, i32, i64, list<T>, or an enum or schema of spec/schemas.yaml",
                        format!("{:?}", field.ty),
                        hint,
                    );
                    checker
                        .unresolved_fields
                        .insert((name.clone(), field_name.clone()));
                    Type::String
                }
            };
            if let Some(scope) = &field.scope
                && !names.scopes.contains(scope)
            {
                checker.fail_hint(
                    SCHEMAS,
                    field_path.key("scope"),
                    "a scope defined in spec/scopes.yaml",
                    format!("{scope:?}"),
                    format!("known scopes: {}", known_list(&names.scopes)),
                );
            }
            let bound = |checker: &mut Checker, key: &str, value: Option<i64>| -> Option<u64> {
                value.map(|value| count(checker, SCHEMAS, field_path.key(key), value, 0))
            };
            let max_length = bound(checker, "max_length", field.max_length);
            let min_items = bound(checker, "min_items", field.min_items);
            let max_items = bound(checker, "max_items", field.max_items);
            if let (Some(min), Some(max)) = (min_items, max_items)
                && min > max
            {
                checker.fail(
                    SCHEMAS,
                    field_path.key("min_items"),
                    format!("at most max_items ({max})"),
                    min.to_string(),
                );
            }
            if let (Some(min), Some(max)) = (field.minimum, field.maximum)
                && min > max
            {
                checker.fail(
                    SCHEMAS,
                    field_path.key("minimum"),
                    format!("at most maximum ({max})"),
                    min.to_string(),
                );
            }
            let resolved = !checker
                .unresolved_fields
                .contains(&(name.clone(), field_name.clone()));
            if resolved
                && (min_items.is_some() || max_items.is_some())
                && !matches!(ty, Type::List(_))
            {
                checker.fail(
                    SCHEMAS,
                    field_path.key("type"),
                    "a list<T> type, since the field has min_items or max_items",
                    field.ty.clone(),
                );
            }
            built.push(Field {
                name: field_name.clone(),
                ty,
                description: field.description.clone(),
                required: field.required,
                scope: field.scope.clone(),
                max_length,
                min_items,
                max_items,
                minimum: field.minimum,
                maximum: field.maximum,
                example: field.example.clone(),
                secret: field.secret,
            });
        }
        out.push(Schema {
            name: name.clone(),
            description: schema.description.clone(),
            source: schema.source.clone(),
            fields: built,
        });
    }
    out
}
