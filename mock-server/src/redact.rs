//! Secrets out of what the call log shows. A call's query string and body are kept as they
//! came; when the log is read, the value of every field that carries a secret (in a query
//! string, a form body or a JSON body, at any depth) is cut to its first four characters
//! and an ellipsis, so a reader still sees which kind of token was sent (`act.…`, `rft.…`).

use serde_json::{Map, Value};

/// The fields whose values are secrets: OAuth's (`client_secret`, `code`, `code_verifier`,
/// `refresh_token`, the revoked `token`), any `access_token`, and the upload URL's
/// `upload_token`.
pub const SECRET_FIELDS: &[&str] = &[
    "access_token",
    "client_secret",
    "code",
    "code_verifier",
    "refresh_token",
    "token",
    "upload_token",
];

/// The most of a body the call log keeps; a longer one is logged by its length only.
pub const MAX_KEPT_BODY: usize = 16 * 1024;

/// `value` as the call log shows it when `field` is a secret.
pub fn mask_field(field: &str, value: &str) -> String {
    if !SECRET_FIELDS.contains(&field) {
        return value.to_owned();
    }
    let kept: String = value.chars().take(4).collect();
    if value.chars().count() > 8 {
        format!("{kept}…")
    } else {
        "…".to_owned()
    }
}

/// A query string (or form body) with its secrets masked.
pub fn mask_query(query: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (field, value) in url::form_urlencoded::parse(query.as_bytes()) {
        out.append_pair(&field, &mask_field(&field, &value));
    }
    out.finish()
}

/// A request body as the call log shows it: JSON as JSON, a form as an object of its
/// fields (a repeated field as a list), anything else as a note of its length; secrets
/// masked.
pub fn body_json(body: &[u8]) -> Value {
    if let Ok(mut value) = serde_json::from_slice::<Value>(body) {
        mask_json(&mut value);
        return value;
    }
    match std::str::from_utf8(body) {
        Ok(text) if text.contains('=') && !text.contains(char::is_whitespace) => {
            let mut fields = Map::new();
            for (field, value) in url::form_urlencoded::parse(text.as_bytes()) {
                let value = Value::String(mask_field(&field, &value));
                match fields.get_mut(field.as_ref()) {
                    Some(Value::Array(list)) => list.push(value),
                    Some(first) => *first = Value::Array(vec![first.take(), value]),
                    None => {
                        fields.insert(field.into_owned(), value);
                    }
                }
            }
            Value::Object(fields)
        }
        _ => Value::String(format!("({} bytes, neither JSON nor a form)", body.len())),
    }
}

/// `Debug` for a record that holds secrets: its name and JSON, the secrets masked (so a
/// record in a log line or a test failure shows which kind of token it held, not the token).
pub fn debug_json<T: serde::Serialize>(
    name: &str,
    value: &T,
    f: &mut std::fmt::Formatter<'_>,
) -> std::fmt::Result {
    let mut json = serde_json::to_value(value).map_err(|_| std::fmt::Error)?;
    mask_json(&mut json);
    write!(f, "{name} {json}")
}

/// Masks the secret fields of a JSON value, at any depth.
fn mask_json(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (field, value) in fields.iter_mut() {
                match value {
                    Value::String(text) => *text = mask_field(field, text),
                    other => mask_json(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_keep_their_kind_and_lose_the_rest() {
        assert_eq!(mask_field("refresh_token", "rft.0123456789abcdef"), "rft.…");
        assert_eq!(mask_field("code", "short"), "…");
        assert_eq!(
            mask_field("client_key", "awdemo7c1f2e9b4d3a"),
            "awdemo7c1f2e9b4d3a"
        );
    }

    #[test]
    fn forms_queries_and_json_are_masked_at_any_depth() {
        let form = b"client_key=aw1&client_secret=s3cr3t-0123456789&grant_type=refresh_token&refresh_token=rft.abcdefghijkl";
        assert_eq!(
            body_json(form),
            json!({"client_key": "aw1", "client_secret": "s3cr…", "grant_type": "refresh_token", "refresh_token": "rft.…"})
        );
        assert_eq!(
            mask_query("upload_id=u1&upload_token=0123456789abcdef"),
            "upload_id=u1&upload_token=0123%E2%80%A6"
        );
        let nested = br#"{"a":[{"access_token":"act.0123456789"}],"token":"act.9876543210","n":1}"#;
        assert_eq!(
            body_json(nested),
            json!({"a": [{"access_token": "act.…"}], "token": "act.…", "n": 1})
        );
        assert_eq!(body_json(b"scope=a&scope=b"), json!({"scope": ["a", "b"]}));
        assert_eq!(
            body_json(b"\x00\x01 binary"),
            json!("(9 bytes, neither JSON nor a form)")
        );
    }
}
