//! Recordings of `tiktok-mock proxy --record DIR`: one JSON file per exchange, named by its
//! zero-padded sequence number and endpoint id (`000001-token.json`, `000002-user_info.json`,
//! `000009-upload.json` for the upload host, `…-unknown.json` off the spec), each an
//! [`Entry`], written whole or not at all (a temporary file, then a rename). Secrets are
//! placeholders ([`is_secret_field`]), the same real value always the same placeholder
//! within one recording; the Research API's free text is masked ([`pii`]).
//!
//! What reads them: [`fixtures`] (`tiktok-mock fixtures from-recording DIR`) and
//! [`replay`] (`tiktok-mock --replay DIR`). The writer is `crate::proxy::record`.

pub mod fixtures;
pub mod pii;
pub mod replay;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One recorded exchange: a file of a recording.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Its place in the recording, from 1.
    pub sequence: u64,
    /// The spec's endpoint id; `upload` for the upload host, `unknown` off the spec.
    pub endpoint: String,
    /// The request, its secrets placeholders.
    pub request: RecordedRequest,
    /// The answer, its secrets placeholders; `None` when no whole answer came.
    pub answer: Option<RecordedAnswer>,
}

/// A request as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path (the upload host's: only its prefix, the rest of the URL is a secret).
    pub path: String,
    /// The query string, each secret value a placeholder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// `Bearer PLACEHOLDER` when the request had a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    /// The `Content-Type` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The `Content-Range` header (the upload host's chunks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_range: Option<String>,
    /// A JSON body, its secrets placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// A form body's fields, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<Vec<(String, String)>>,
    /// A body neither JSON nor a form (an upload's chunk): its length, not its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<u64>,
}

/// An answer as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The `x-tt-logid` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_id: Option<String>,
    /// The body's text exactly as it came but for its secrets (and, for the Research API,
    /// personal data), so a replay sends the same bytes. `None` when it was not kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Why the body was not kept (an encoded or binary body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_omitted: Option<String>,
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The directory cannot be listed.
    #[error("{dir}: cannot read the recording directory: {source}")]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file cannot be read or is not an exchange.
    #[error("{file}: not a recorded exchange: {problem}")]
    File {
        /// The file.
        file: PathBuf,
        /// Why.
        problem: String,
    },
    /// No exchange in the directory.
    #[error("{0}: no recorded exchange (NNNNNN-ENDPOINT.json files) in the directory")]
    Empty(PathBuf),
}

/// The file name of exchange `sequence` of endpoint `endpoint`: `000042-user_info.json`.
pub fn file_name(sequence: u64, endpoint: &str) -> String {
    format!("{sequence:06}-{endpoint}.json")
}

/// Whether `name` is a recorded exchange's file name (temporary files are not).
fn is_entry_name(name: &str) -> bool {
    name.ends_with(".json")
        && !name.starts_with('.')
        && name.split_once('-').is_some_and(|(digits, _)| {
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Every exchange of the recording in `dir`, in sequence order.
pub fn read_dir(dir: &Path) -> Result<Vec<Entry>, RecordingError> {
    let listing = std::fs::read_dir(dir).map_err(|source| RecordingError::Dir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut entries = Vec::new();
    for item in listing {
        let item = item.map_err(|source| RecordingError::Dir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let name = item.file_name();
        if !name.to_str().is_some_and(is_entry_name) {
            continue;
        }
        let file = item.path();
        let text = std::fs::read_to_string(&file).map_err(|error| RecordingError::File {
            file: file.clone(),
            problem: error.to_string(),
        })?;
        let entry: Entry = serde_json::from_str(&text).map_err(|error| RecordingError::File {
            file: file.clone(),
            problem: error.to_string(),
        })?;
        entries.push(entry);
    }
    if entries.is_empty() {
        return Err(RecordingError::Empty(dir.to_path_buf()));
    }
    entries.sort_by_key(|entry| entry.sequence);
    Ok(entries)
}

/// The names of secret fields: every field the spec's schemas mark `secret` (tokens,
/// codes, the client secret, the verifier, upload URLs) and the call log's
/// (`crate::redact::SECRET_FIELDS`), so a field the spec does not know is caught by name.
static SECRET_NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut names: Vec<&'static str> = tiktok_api::SCHEMAS
        .iter()
        .flat_map(|schema| schema.fields.iter())
        .filter(|field| field.secret)
        .map(|field| field.name)
        .chain(crate::redact::SECRET_FIELDS.iter().copied())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
});

/// Whether a field (JSON, query or form) named `name` holds a secret.
pub fn is_secret_field(name: &str) -> bool {
    SECRET_NAMES.binary_search(&name).is_ok()
}

/// What every secret value becomes when requests are matched: their values are
/// placeholders in a recording and real in a replayed session.
pub const ANY_SECRET: &str = "(secret)";

/// A query string or form as matched: its pairs sorted, each secret value [`ANY_SECRET`],
/// the names of a `fields` list sorted (`fields=id,title` is `fields=title,id`).
pub fn normal_pairs(pairs: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = pairs
        .map(|(name, value)| {
            if is_secret_field(&name) {
                (name, ANY_SECRET.to_owned())
            } else if name == "fields" {
                let mut names: Vec<&str> = value.split(',').map(str::trim).collect();
                names.sort_unstable();
                let sorted = names.join(",");
                (name, sorted)
            } else {
                (name, value)
            }
        })
        .collect();
    pairs.sort();
    pairs
}

/// A JSON body as matched: each secret value [`ANY_SECRET`], at any depth (object keys
/// are compared in any order).
pub fn normal_json(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (name, inner) in fields.iter_mut() {
                if is_secret_field(name) && !inner.is_null() {
                    *inner = Value::String(ANY_SECRET.to_owned());
                } else {
                    normal_json(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normal_json),
        _ => {}
    }
}

/// The pairs of a query string or form.
pub fn pairs(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
}

/// What a request is matched by in a replay: method, path, query and body, each
/// normalized ([`normal_pairs`], [`normal_json`]); the bearer token is not part of it.
pub fn match_key(method: &str, path: &str, query: Option<&str>, body: Option<&Body<'_>>) -> String {
    let query = normal_pairs(pairs(query.unwrap_or_default()));
    let body = match body {
        None => Value::Null,
        Some(Body::Json(value)) => {
            let mut value = (*value).clone();
            normal_json(&mut value);
            value
        }
        Some(Body::Form(fields)) => serde_json::json!(normal_pairs(fields.iter().cloned())),
    };
    serde_json::json!([method.to_ascii_uppercase(), path, query, body]).to_string()
}

/// A request body as matched.
pub enum Body<'a> {
    /// A JSON body.
    Json(&'a Value),
    /// A form's fields.
    Form(&'a [(String, String)]),
}

impl RecordedRequest {
    /// What this recorded request is matched by ([`match_key`]).
    pub fn match_key(&self) -> String {
        let body = match (&self.form, &self.body) {
            (Some(form), _) => Some(Body::Form(form)),
            (None, Some(value)) => Some(Body::Json(value)),
            (None, None) => None,
        };
        match_key(
            &self.method,
            &self.path,
            self.query.as_deref(),
            body.as_ref(),
        )
    }
}

/// A request body as it is recorded and matched: JSON, a form, or neither (`None`: kept
/// as a note of its length, and matched as no body).
pub fn parse_body(body: &[u8], content_type: Option<&str>) -> Option<RecordedBody> {
    if body.is_empty() {
        return None;
    }
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return Some(RecordedBody::Json(value));
    }
    let form = content_type.is_some_and(|kind| kind.contains("x-www-form-urlencoded"));
    match std::str::from_utf8(body) {
        Ok(text) if form || (text.contains('=') && !text.contains(char::is_whitespace)) => {
            Some(RecordedBody::Form(pairs(text).collect()))
        }
        _ => None,
    }
}

/// A parsed request body.
#[derive(Debug, Clone)]
pub enum RecordedBody {
    /// JSON.
    Json(Value),
    /// A form's fields, in order.
    Form(Vec<(String, String)>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_match_whatever_their_secrets_order_and_fields_order() {
        let recorded = [
            ("client_key".to_owned(), "aw1".to_owned()),
            ("code".to_owned(), "recorded-code-1".to_owned()),
            ("grant_type".to_owned(), "authorization_code".to_owned()),
        ];
        let sent = [
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), "a-new-code".to_owned()),
            ("client_key".to_owned(), "aw1".to_owned()),
        ];
        let key = |fields: &[(String, String)]| {
            match_key("POST", "/v2/oauth/token/", None, Some(&Body::Form(fields)))
        };
        assert_eq!(key(&recorded), key(&sent));
        let other = [("client_key".to_owned(), "aw2".to_owned())];
        assert_ne!(key(&recorded), key(&other));

        let json_key = |query: &str, body: Value| {
            match_key(
                "post",
                "/v2/video/list/",
                Some(query),
                Some(&Body::Json(&body)),
            )
        };
        assert_eq!(
            json_key("fields=id,title", json!({"max_count": 5, "cursor": 1})),
            json_key("fields=title,id", json!({"cursor": 1, "max_count": 5}))
        );
        assert_ne!(
            json_key("fields=id", json!({"max_count": 5})),
            json_key("fields=id", json!({"max_count": 6}))
        );
    }

    #[test]
    fn secret_names_come_from_the_spec_and_the_call_log() {
        for name in [
            "access_token",
            "refresh_token",
            "client_secret",
            "code",
            "code_verifier",
            "upload_url",
            "upload_token",
        ] {
            assert!(is_secret_field(name), "{name}");
        }
        for name in ["client_key", "open_id", "fields", "title"] {
            assert!(!is_secret_field(name), "{name}");
        }
    }

    #[test]
    fn only_exchange_files_are_read() {
        assert!(is_entry_name("000001-user_info.json"));
        assert!(!is_entry_name("000001-user_info.json.42.tmp"));
        assert!(!is_entry_name("notes.json"));
        assert!(!is_entry_name(".000001-user_info.json"));
    }
}
