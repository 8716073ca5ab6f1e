//! Maps spec names to Rust names. The one place where case changes.

use proc_macro2::{Ident, Span};

/// `user.info.basic`, `PUBLIC_TO_EVERYONE`, `file_format_check_failed` -> `UserInfoBasic`, ...
pub fn upper_camel(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let lower = part.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `VideoList`, `video_list` -> `VIDEO_LIST`.
pub fn screaming(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            out.push('_');
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// A type or variant identifier.
pub fn type_ident(name: &str) -> Ident {
    Ident::new(&upper_camel(name), Span::call_site())
}

/// A schema's type identifier (spec names are already UpperCamelCase).
pub fn schema_ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// A field or function identifier; keywords become raw identifiers.
pub fn field_ident(name: &str) -> Ident {
    let snake: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if syn::parse_str::<syn::Ident>(&snake).is_ok() {
        Ident::new(&snake, Span::call_site())
    } else {
        Ident::new_raw(&snake, Span::call_site())
    }
}

/// A static's identifier.
pub fn static_ident(name: &str) -> Ident {
    Ident::new(&screaming(name), Span::call_site())
}
