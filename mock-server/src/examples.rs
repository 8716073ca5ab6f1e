//! Schema-valid values built from the spec's examples, for endpoints without hand-written behaviour.

use serde_json::{Map, Value};
use tiktok_api::meta::{FieldMeta, SchemaMeta, TypeMeta};

/// How deep example objects may nest.
const MAX_DEPTH: usize = 8;

/// An object of `schema` with every field set from its example (or a neutral value of its
/// type). Objects of the `projected` schema keep only the listed fields, in that order.
pub fn example_object(
    schema: &SchemaMeta,
    projected: Option<(&SchemaMeta, &[&FieldMeta])>,
) -> Value {
    object_at(schema, projected, 0)
}

fn object_at(
    schema: &SchemaMeta,
    projected: Option<(&SchemaMeta, &[&FieldMeta])>,
    depth: usize,
) -> Value {
    let mut object = Map::new();
    if depth > MAX_DEPTH {
        return Value::Object(object);
    }
    let fields: Vec<&FieldMeta> = match projected {
        Some((target, chosen)) if std::ptr::eq(target, schema) => chosen.to_vec(),
        _ => schema.fields.iter().collect(),
    };
    for field in fields {
        let from_example = field
            .example
            .and_then(|text| serde_json::from_str::<Value>(text).ok());
        let value = match (from_example, &field.ty) {
            // An example of a scalar or a list of scalars is used as is.
            (Some(example), ty) if !holds_schema(ty) => example,
            (_, ty) => value_of(ty, projected, depth + 1),
        };
        object.insert(field.name.to_owned(), value);
    }
    Value::Object(object)
}

fn holds_schema(ty: &TypeMeta) -> bool {
    match ty {
        TypeMeta::Schema(_) => true,
        TypeMeta::List(item) => holds_schema(item),
        _ => false,
    }
}

fn value_of(ty: &TypeMeta, projected: Option<(&SchemaMeta, &[&FieldMeta])>, depth: usize) -> Value {
    match ty {
        TypeMeta::String => Value::String(String::new()),
        TypeMeta::Bool => Value::Bool(false),
        TypeMeta::I32 | TypeMeta::I64 => Value::from(0),
        TypeMeta::Enum(meta) => meta
            .values
            .first()
            .map(|value| Value::String((*value).to_owned()))
            .unwrap_or(Value::Null),
        TypeMeta::List(item) => {
            if holds_schema(item) {
                Value::Array(vec![value_of(item, projected, depth + 1)])
            } else {
                Value::Array(Vec::new())
            }
        }
        TypeMeta::Schema(schema) => object_at(schema, projected, depth + 1),
    }
}

/// Keeps the listed fields of `object`, in the order listed; fields it lacks are left out.
pub fn project(object: &Map<String, Value>, fields: &[&FieldMeta]) -> Value {
    let mut out = Map::new();
    for field in fields {
        if let Some(value) = object.get(field.name) {
            out.insert(field.name.to_owned(), value.clone());
        }
    }
    Value::Object(out)
}
