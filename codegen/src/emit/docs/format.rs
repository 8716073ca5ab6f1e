//! Markdown fragments of the reference: code spans, source links, anchors, durations,
//! types and constraints, and the table-cell escape.

use crate::Model;
use crate::model::{Access, Field, Type};

/// Escapes `|` (which would end the cell) and folds newlines into spaces.
pub(super) fn escape_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '|' => out.push_str("\\|"),
            '\r' => {}
            '\n' => out.push(' '),
            other => out.push(other),
        }
    }
    if out.is_empty() { "—".into() } else { out }
}

/// `text` as an inline code span.
pub(super) fn code(text: &str) -> String {
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// Code spans joined with `separator`, or a dash for none.
pub(super) fn codes<'a>(items: impl IntoIterator<Item = &'a String>, separator: &str) -> String {
    let list: Vec<String> = items.into_iter().map(|item| code(item)).collect();
    if list.is_empty() {
        "—".into()
    } else {
        list.join(separator)
    }
}

/// A source key as a Markdown reference link when it has a web address, else as text.
pub(super) fn source_link(model: &Model, key: &str) -> String {
    match model.sources.get(key) {
        Some(source) if is_web(&source.url) => format!("[{key}]"),
        _ => key.to_string(),
    }
}

pub(super) fn sources_text(model: &Model, keys: &[String]) -> String {
    keys.iter()
        .map(|key| source_link(model, key))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn is_web(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// A link to the section of endpoint `id`.
pub(super) fn endpoint_anchor(id: &str) -> String {
    format!("endpoint-{id}")
}

/// A link to the section of schema or enum `name`.
pub(super) fn schema_anchor(name: &str) -> String {
    format!("schema-{name}")
}

pub(super) fn access_text(access: Access) -> &'static str {
    match access {
        Access::Read => "read",
        Access::Write => "write",
    }
}

/// A number of seconds, with the unit a person would use.
pub(super) fn duration_text(seconds: u64) -> String {
    const DAY: u64 = 86_400;
    let human = if seconds >= 2 * DAY && seconds.is_multiple_of(DAY) {
        format!("{} days", seconds / DAY)
    } else if seconds >= 3600 && seconds.is_multiple_of(3600) {
        format!("{} h", seconds / 3600)
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        return format!("{seconds} s");
    };
    format!("{seconds} s ({human})")
}

/// The type of a field, linked to its schema or enum.
pub(super) fn type_text(ty: &Type) -> String {
    match innermost(ty) {
        Type::Enum(name) | Type::Schema(name) => {
            format!("[{}](#{})", code(&ty.spec_name()), schema_anchor(name))
        }
        _ => code(&ty.spec_name()),
    }
}

fn innermost(ty: &Type) -> &Type {
    match ty {
        Type::List(inner) => innermost(inner),
        other => other,
    }
}

/// A field's bounds in words.
pub(super) fn constraints_text(field: &Field) -> String {
    let mut parts = Vec::new();
    if let Some(max_length) = field.max_length {
        parts.push(format!("max length {max_length}"));
    }
    match (field.min_items, field.max_items) {
        (Some(min), Some(max)) => parts.push(format!("{min} to {max} items")),
        (Some(min), None) => parts.push(format!("at least {min} items")),
        (None, Some(max)) => parts.push(format!("at most {max} items")),
        (None, None) => {}
    }
    if let Some(minimum) = field.minimum {
        parts.push(format!("minimum {minimum}"));
    }
    if let Some(maximum) = field.maximum {
        parts.push(format!("maximum {maximum}"));
    }
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join("; ")
    }
}

pub(super) fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}
