//! Secrets out of what the call log shows. A call's query string and body are kept as they
//! came; when the log is read, the value of every field that carries a secret (in a query
//! string, a form body or a JSON body, at any depth, whatever its type) becomes an
//! ellipsis, keeping only a token's kind prefix (`act.…`, `rft.…`, `clt.…`) so a reader
//! still sees which kind of token was sent.

use serde_json::{Map, Value};

/// The fields whose values are secrets: OAuth's (`client_secret`, `code`, `code_verifier`,
/// `refresh_token`, the revoked `token`), any `access_token`, the upload URL's
/// `upload_token`, and the mock's own records' (`access_tokens`, `rotated_to`).
pub const SECRET_FIELDS: &[&str] = &[
    "access_token",
    "access_tokens",
    "client_secret",
    "code",
    "code_verifier",
    "refresh_token",
    "rotated_to",
    "token",
    "upload_token",
];

/// The most of a body the call log keeps; a longer one is logged by its length only.
pub const MAX_KEPT_BODY: usize = 16 * 1024;

/// `value` as the call log shows it when `field` is a secret.
pub fn mask_field(field: &str, value: &str) -> String {
    if SECRET_FIELDS.contains(&field) {
        mask(value)
    } else {
        value.to_owned()
    }
}

/// A secret as shown: `…`, after its kind prefix when it has one (`act.…`), nothing of the
/// secret itself.
fn mask(value: &str) -> String {
    match value.as_bytes().get(..4) {
        Some(&[a, b, c, b'.']) if [a, b, c].iter().all(u8::is_ascii_lowercase) => {
            format!("{}…", &value[..4])
        }
        _ => "…".to_owned(),
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
                if SECRET_FIELDS.contains(&field.as_str()) {
                    mask_secret(value);
                } else {
                    mask_json(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

/// The value of a secret field, whatever its type: a string masked, a list item by item,
/// anything else (a number, an object) replaced whole.
fn mask_secret(value: &mut Value) {
    match value {
        Value::Null => {}
        Value::String(text) => *text = mask(text),
        Value::Array(items) => items.iter_mut().for_each(mask_secret),
        other => *other = Value::String("…".to_owned()),
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
        assert_eq!(mask_field("client_secret", "demosecret-4f9a1c7e"), "…");
        assert_eq!(
            mask_field("upload_token", "ab1.secret"),
            "…",
            "a kind is lowercase letters"
        );
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
            json!({"client_key": "aw1", "client_secret": "…", "grant_type": "refresh_token", "refresh_token": "rft.…"})
        );
        assert_eq!(
            mask_query("upload_id=u1&upload_token=0123456789abcdef"),
            "upload_id=u1&upload_token=%E2%80%A6"
        );
        let nested = br#"{"a":[{"access_token":"act.0123456789"}],"token":"act.9876543210","n":1}"#;
        assert_eq!(
            body_json(nested),
            json!({"a": [{"access_token": "act.…"}], "token": "act.…", "n": 1})
        );
        let odd = br#"{"token":["act.0123456789",7],"code":12345,"access_tokens":{"a":"x"}}"#;
        assert_eq!(
            body_json(odd),
            json!({"token": ["act.…", "…"], "code": "…", "access_tokens": "…"})
        );
        assert_eq!(body_json(b"scope=a&scope=b"), json!({"scope": ["a", "b"]}));
        assert_eq!(
            body_json(b"\x00\x01 binary"),
            json!("(9 bytes, neither JSON nor a form)")
        );
    }
}
