//! `--record DIR`: each exchange written as it passes (by the relay, just before it hands
//! the exchange to [`crate::proxy::ledger::Ledger::observe`]), one file per exchange (the
//! format: [`crate::recording`]), sanitized:
//!
//! - every secret (the bearer token, and any query, form or JSON field the spec marks
//!   `secret` or the call log masks: tokens, codes, the client secret, the verifier, upload
//!   URLs) becomes a placeholder that keeps a token's kind (`act.recorded-access_token-1`),
//!   the same real value always the same placeholder within the recording (known by its
//!   hash, never kept in clear past the exchange);
//! - headers are not kept but the content type, the content range and the log id (no
//!   cookie, no `TikTok-Signature`);
//! - the Research API's free text has its personal data masked ([`crate::recording::pii`]);
//! - the upload host's URL is not kept, only its prefix.
//!
//! An answer's body is kept as text, changed only where a secret or personal data was, so
//! a replay sends the upstream's own bytes. Each file is written to a temporary name and
//! renamed, so a crash never leaves half an exchange visible.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, header};
use parking_lot::Mutex;
use serde_json::Value;

use crate::error::LOG_ID_HEADER;
use crate::proxy::config::UPLOAD_PREFIX;
use crate::proxy::forward::bearer;
use crate::proxy::ledger::{Exchange, hash};
use crate::proxy::report::write_atomically;
use crate::recording::{
    Entry, RecordedAnswer, RecordedBody, RecordedRequest, file_name, is_secret_field, pairs,
    parse_body, pii,
};

/// Secrets shorter than this are replaced where they are a field's value only, never
/// wherever their text appears (a one-letter code would mangle everything).
const MIN_SEARCHED_SECRET: usize = 8;

/// Writes a recording.
pub struct Recorder {
    dir: PathBuf,
    next: AtomicU64,
    placeholders: Mutex<Placeholders>,
}

/// Placeholders by the hash of the real value, and how many each label has handed out.
#[derive(Default)]
struct Placeholders {
    known: HashMap<[u8; 32], String>,
    counts: HashMap<String, u64>,
}

/// The real values of one exchange's secrets and personal data, with what each became.
type Replacements = Vec<(String, String)>;

impl Recorder {
    /// A recorder writing into `dir`, created if missing; refused when `dir` is not empty
    /// (placeholders are consistent within one recording, one run of the proxy).
    pub fn create(dir: &Path) -> Result<Recorder, String> {
        std::fs::create_dir_all(dir)
            .map_err(|error| format!("--record {}: cannot create it: {error}", dir.display()))?;
        let mut listing = std::fs::read_dir(dir)
            .map_err(|error| format!("--record {}: cannot read it: {error}", dir.display()))?;
        if listing.next().is_some() {
            return Err(format!(
                "--record {}: not empty; give a new or empty directory (one recording per run)",
                dir.display()
            ));
        }
        Ok(Recorder {
            dir: dir.to_path_buf(),
            next: AtomicU64::new(1),
            placeholders: Mutex::default(),
        })
    }

    /// The placeholder of `real`, a value of the field `field`.
    fn placeholder(&self, field: &str, real: &str) -> String {
        let key = hash(&[real.as_bytes()]);
        let mut guard = self.placeholders.lock();
        let Placeholders { known, counts } = &mut *guard;
        if let Some(known) = known.get(&key) {
            return known.clone();
        }
        let label: String = field
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let count = counts.entry(label.clone()).or_insert(0);
        *count += 1;
        let made = if real.starts_with("https://") || real.starts_with("http://") {
            format!("https://recorded.invalid/{label}-{count}")
        } else {
            let kind = match real.as_bytes().get(..4) {
                Some(&[a, b, c, b'.']) if [a, b, c].iter().all(u8::is_ascii_lowercase) => {
                    &real[..4]
                }
                _ => "",
            };
            format!("{kind}recorded-{label}-{count}")
        };
        known.insert(key, made.clone());
        made
    }

    /// `value` with each secret field's value a placeholder, at any depth; the real values
    /// and their placeholders added to `out`. In an answer, `code` is the envelope's error
    /// code, not an authorization code.
    fn sanitize_json(&self, value: &mut Value, answer: bool, out: &mut Replacements) {
        match value {
            Value::Object(fields) => {
                for (name, inner) in fields.iter_mut() {
                    if is_secret_field(name) && !(answer && name == "code") {
                        self.sanitize_secret(name, inner, out);
                    } else {
                        self.sanitize_json(inner, answer, out);
                    }
                }
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| self.sanitize_json(item, answer, out)),
            _ => {}
        }
    }

    fn sanitize_secret(&self, field: &str, value: &mut Value, out: &mut Replacements) {
        match value {
            Value::Null => {}
            Value::String(real) => {
                let made = self.placeholder(field, real);
                out.push((std::mem::take(real), made.clone()));
                *real = made;
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|item| self.sanitize_secret(field, item, out)),
            other => {
                let real = other.to_string();
                let made = self.placeholder(field, &real);
                out.push((real, made.clone()));
                *other = Value::String(made);
            }
        }
    }

    /// Query or form pairs with each secret value a placeholder.
    fn sanitize_pairs(
        &self,
        fields: impl Iterator<Item = (String, String)>,
        out: &mut Replacements,
    ) -> Vec<(String, String)> {
        fields
            .map(|(name, value)| {
                if is_secret_field(&name) {
                    let made = self.placeholder(&name, &value);
                    out.push((value, made.clone()));
                    (name, made)
                } else {
                    (name, value)
                }
            })
            .collect()
    }

    /// Writes `exchange` as the next file of the recording; a failure is logged, never
    /// stops the proxy.
    pub fn record(&self, exchange: &Exchange<'_>) {
        let sequence = self.next.fetch_add(1, Ordering::Relaxed);
        let upload = exchange.path_and_query.starts_with(UPLOAD_PREFIX);
        let endpoint = match exchange.endpoint {
            Some(endpoint) => endpoint.id,
            None if upload => "upload",
            None => "unknown",
        };
        let mut secrets = Replacements::new();
        let request = self.request(exchange, upload, &mut secrets);
        let answer = exchange.answer.map(|(status, headers, body)| {
            let masks = exchange.endpoint.is_some_and(pii::masks);
            self.answer(status.as_u16(), headers, body, masks, &mut secrets)
        });
        let entry = Entry {
            sequence,
            endpoint: endpoint.to_owned(),
            request,
            answer,
        };
        let path = self.dir.join(file_name(sequence, endpoint));
        let written = serde_json::to_string_pretty(&entry)
            .map_err(|error| error.to_string())
            .map(|text| scrub(text, &secrets))
            .and_then(|text| {
                write_atomically(&path, &(text + "\n")).map_err(|error| error.to_string())
            });
        if let Err(error) = written {
            tracing::error!(target: "tiktok_mock::proxy", "cannot record exchange {sequence} ({endpoint}): {error}");
        }
    }

    fn request(
        &self,
        exchange: &Exchange<'_>,
        upload: bool,
        secrets: &mut Replacements,
    ) -> RecordedRequest {
        let headers = exchange.request_headers;
        let (path, query) = match exchange.path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (exchange.path_and_query, None),
        };
        let (path, query) = if upload {
            (UPLOAD_PREFIX.trim_end_matches('/').to_owned(), None)
        } else {
            // As sent, unless a value had to become a placeholder.
            let query = query.map(|query| {
                if !pairs(query).any(|(name, _)| is_secret_field(&name)) {
                    return query.to_owned();
                }
                let mut out = url::form_urlencoded::Serializer::new(String::new());
                out.extend_pairs(self.sanitize_pairs(pairs(query), secrets));
                out.finish()
            });
            (path.to_owned(), query)
        };
        let authorization = headers
            .get(header::AUTHORIZATION)
            .map(|_| match bearer(headers) {
                Some(token) => {
                    let made = self.placeholder("access_token", token);
                    secrets.push((token.to_owned(), made.clone()));
                    format!("Bearer {made}")
                }
                None => "(not a bearer token: not recorded)".to_owned(),
            });
        let content_type = text_header(headers, header::CONTENT_TYPE.as_str());
        let mut recorded = RecordedRequest {
            method: exchange.method.as_str().to_owned(),
            path,
            query,
            authorization,
            content_range: text_header(headers, header::CONTENT_RANGE.as_str()),
            body: None,
            form: None,
            body_bytes: None,
            content_type: content_type.clone(),
        };
        match exchange.request_body {
            Some(body) => match parse_body(body, content_type.as_deref()) {
                Some(RecordedBody::Json(mut value)) => {
                    self.sanitize_json(&mut value, false, secrets);
                    recorded.body = Some(value);
                }
                Some(RecordedBody::Form(fields)) => {
                    recorded.form = Some(self.sanitize_pairs(fields.into_iter(), secrets));
                }
                None if body.is_empty() => {}
                None => recorded.body_bytes = Some(body.len() as u64),
            },
            None => {
                recorded.body_bytes = text_header(headers, header::CONTENT_LENGTH.as_str())
                    .and_then(|length| length.parse().ok());
            }
        }
        recorded
    }

    fn answer(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        masks: bool,
        secrets: &mut Replacements,
    ) -> RecordedAnswer {
        let mut answer = RecordedAnswer {
            status,
            content_type: text_header(headers, header::CONTENT_TYPE.as_str()),
            log_id: text_header(headers, LOG_ID_HEADER),
            body: None,
            body_omitted: None,
        };
        let encoding = text_header(headers, header::CONTENT_ENCODING.as_str())
            .filter(|encoding| !encoding.trim().eq_ignore_ascii_case("identity"));
        if let Some(encoding) = encoding {
            answer.body_omitted = Some(format!("content-encoding {encoding}"));
            return answer;
        }
        let Ok(text) = std::str::from_utf8(body) else {
            answer.body_omitted = Some(format!("{} bytes, not UTF-8 text", body.len()));
            return answer;
        };
        let Ok(mut value) = serde_json::from_str::<Value>(text) else {
            answer.body = Some(scrub(text.to_owned(), secrets));
            return answer;
        };
        let mut changes = Replacements::new();
        self.sanitize_json(&mut value, true, &mut changes);
        secrets.extend(changes.iter().cloned());
        if masks {
            let mut personal = Vec::new();
            pii::masked_strings(&value, &mut personal);
            mask_in(&mut value, &personal);
            changes.extend(personal);
        }
        // The upstream's bytes with each changed string changed; its re-serialized value
        // when that does not give the sanitized value back (an escape written otherwise).
        let mut kept = text.to_owned();
        for (from, to) in &changes {
            if let (Ok(from), Ok(to)) = (serde_json::to_string(from), serde_json::to_string(to)) {
                kept = kept.replace(&from, &to);
            }
        }
        let faithful = serde_json::from_str::<Value>(&kept).is_ok_and(|back| back == value);
        if !faithful {
            kept = value.to_string();
        }
        answer.body = Some(scrub(kept, secrets));
        answer
    }
}

/// Each string of `value` that is one of `personal` replaced by its mask.
fn mask_in(value: &mut Value, personal: &[(String, String)]) {
    match value {
        Value::String(text) => {
            if let Some((_, masked)) = personal.iter().find(|(from, _)| from == text) {
                *text = masked.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| mask_in(item, personal)),
        Value::Object(object) => object.values_mut().for_each(|item| mask_in(item, personal)),
        _ => {}
    }
}

/// The last guard: every secret of the exchange, wherever its text still appears (echoed
/// in a message, inside another string), replaced by its placeholder, as written and as a
/// JSON string would escape it.
fn scrub(mut text: String, secrets: &Replacements) -> String {
    for (real, made) in secrets {
        if real.len() < MIN_SEARCHED_SECRET {
            continue;
        }
        text = text.replace(real.as_str(), made);
        if let Ok(escaped) = serde_json::to_string(real) {
            let inner = &escaped[1..escaped.len() - 1];
            if inner != real {
                text = text.replace(inner, made);
            }
        }
    }
    text
}

/// A header's value as text, if it is there and is text.
fn text_header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}
