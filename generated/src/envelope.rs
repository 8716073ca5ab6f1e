//! The response envelopes: v2 `{"data", "error"}` and the OAuth endpoints' flat shape,
//! and [`decode_response`], which turns a status and body into data or a typed [`Error`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::meta::Envelope;
use crate::{Attempts, Error, ErrorCode};

/// The `error` object of the v2 envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// `ok` on success, else a catalog code (`invalid_param` is read as `invalid_params`).
    #[serde(deserialize_with = "lenient_code")]
    pub code: ErrorCode,
    /// Detail; empty on success.
    #[serde(default)]
    pub message: String,
    /// TikTok's request id (some pages spell it `logid`).
    #[serde(default, alias = "logid")]
    pub log_id: String,
}

/// The flat error body of the OAuth endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthErrorBody {
    /// The OAuth category, e.g. `invalid_grant`.
    #[serde(deserialize_with = "lenient_code")]
    pub error: ErrorCode,
    /// Human-readable detail.
    #[serde(default)]
    pub error_description: String,
    /// TikTok's request id.
    #[serde(default)]
    pub log_id: String,
}

/// An error code read from a string in place (no copy of the text).
fn lenient_code<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ErrorCode, D::Error> {
    struct Code;
    impl Visitor<'_> for Code {
        type Value = ErrorCode;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a string")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<ErrorCode, E> {
            Ok(ErrorCode::parse_lenient(text))
        }
    }
    deserializer.deserialize_str(Code)
}

/// The `error` object of a v2 answer as every answer is read: its text borrowed from the
/// body where it needs no unescaping, and copied only for an error.
#[derive(Deserialize)]
struct ErrorView<'a> {
    #[serde(deserialize_with = "lenient_code")]
    code: ErrorCode,
    #[serde(default, borrow)]
    message: Cow<'a, str>,
    #[serde(default, borrow, alias = "logid")]
    log_id: Cow<'a, str>,
}

/// The v2 envelope read for its `error` only (`data` skipped, not built).
#[derive(Deserialize)]
struct V2Error<'a> {
    #[serde(default, borrow)]
    error: Option<ErrorView<'a>>,
}

/// The v2 envelope with its `data` read straight into its type (no `serde_json::Value`
/// between).
#[derive(Deserialize)]
struct V2Typed<'a, T> {
    #[serde(default = "none")]
    data: Option<T>,
    #[serde(default, borrow)]
    error: Option<ErrorView<'a>>,
}

fn none<T>() -> Option<T> {
    None
}

/// The start of a body for an error message, with the value of every field the spec
/// marks `secret` (tokens, codes, upload URLs) replaced, wherever it is in the JSON. A body
/// that is not JSON is kept only if it mentions no secret field's name.
fn snippet(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut value) => {
            redact(&mut value);
            value.to_string()
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            if secret_names().any(|name| text.contains(name)) {
                return "[withheld: the body may hold a credential]".to_owned();
            }
            text.into_owned()
        }
    };
    text.chars().take(512).collect()
}

/// The names of the fields the spec marks `secret`.
fn secret_names() -> impl Iterator<Item = &'static str> {
    crate::SCHEMAS
        .iter()
        .flat_map(|schema| schema.fields.iter())
        .filter(|field| field.secret)
        .map(|field| field.name)
}

fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if secret_names().any(|name| name == key) {
                    *item = serde_json::Value::String("[redacted]".to_owned());
                } else {
                    redact(item);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Decodes an HTTP answer of an endpoint with the given envelope into its data, or a typed error.
///
/// For v2 endpoints any `error.code` other than `ok` is an error, whatever the HTTP status
/// (creator_info reports caps with HTTP 200). For OAuth endpoints a body with a string
/// `error` field is an error.
pub fn decode_response<T: DeserializeOwned>(
    envelope: Envelope,
    status: u16,
    body: &[u8],
) -> Result<T, Error> {
    let decode_error = |message: String| Error::Decode {
        status,
        message,
        body: snippet(body),
        attempts: Attempts::ONE,
    };
    match envelope {
        Envelope::V2 => {
            // One typed pass in the usual case. An error's `data` (`{}`) may not fit the
            // type: then the envelope is read again for its error alone.
            let (error, data) = match serde_json::from_slice::<V2Typed<T>>(body) {
                Ok(typed) => (typed.error, Ok(typed.data)),
                Err(mismatch) => {
                    let parsed: V2Error = serde_json::from_slice(body)
                        .map_err(|error| decode_error(format!("not a v2 envelope: {error}")))?;
                    (parsed.error, Err(mismatch))
                }
            };
            match error {
                Some(error) if error.code != ErrorCode::Ok => Err(Error::Api {
                    status,
                    code: error.code,
                    message: error.message.into_owned(),
                    log_id: error.log_id.into_owned(),
                    attempts: Attempts::ONE,
                }),
                Some(_) if (200..300).contains(&status) => {
                    let mismatch =
                        |error| decode_error(format!("data does not match the spec: {error}"));
                    match data {
                        Ok(Some(data)) => Ok(data),
                        // An absent or null `data` reads as `{}`.
                        Ok(None) => serde_json::from_slice(b"{}").map_err(mismatch),
                        Err(error) => Err(mismatch(error)),
                    }
                }
                Some(_) => Err(decode_error(format!(
                    "error.code is ok but the HTTP status is {status}"
                ))),
                None => Err(decode_error("the envelope has no error object".into())),
            }
        }
        Envelope::OAuth => {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|error| decode_error(format!("not JSON: {error}")))?;
            if value.get("error").is_some_and(serde_json::Value::is_string) {
                let error: OAuthErrorBody = serde_json::from_value(value)
                    .map_err(|error| decode_error(format!("not an OAuth error: {error}")))?;
                return Err(Error::OAuth {
                    status,
                    error: error.error,
                    description: error.error_description,
                    log_id: error.log_id,
                    attempts: Attempts::ONE,
                });
            }
            if !(200..300).contains(&status) {
                return Err(decode_error(format!(
                    "HTTP {status} without an OAuth error body"
                )));
            }
            serde_json::from_value(value)
                .map_err(|error| decode_error(format!("body does not match the spec: {error}")))
        }
    }
}

/// A decoded answer with its HTTP status and TikTok's `log_id` header (what an audit keeps
/// of a call): from [`crate::UserClient::execute_answer`] and
/// [`crate::Client::execute_with_app_token`].
#[cfg(feature = "client")]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Answer<R> {
    /// The decoded `data` (or the OAuth answer).
    pub value: R,
    /// The HTTP status.
    pub status: u16,
    /// TikTok's request id, when it sent one.
    pub log_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Token, UserInfoData};

    #[test]
    fn v2_success_decodes_data() {
        let body = br#"{"data":{"user":{"open_id":"x","display_name":"D"}},"error":{"code":"ok","message":"","log_id":"L"}}"#;
        let data: UserInfoData = decode_response(Envelope::V2, 200, body).expect("decodes");
        assert_eq!(data.user.open_id.as_deref(), Some("x"));
        assert_eq!(data.user.follower_count, None);
    }

    #[test]
    fn v2_error_is_typed_even_with_status_200() {
        let body = br#"{"data":{},"error":{"code":"spam_risk_too_many_posts","message":"m","log_id":"L"}}"#;
        let error = decode_response::<UserInfoData>(Envelope::V2, 200, body).expect_err("an error");
        assert_eq!(error.code(), Some(&ErrorCode::SpamRiskTooManyPosts));
        assert_eq!(error.status(), Some(200));
        assert_eq!(error.log_id(), Some("L"));
    }

    #[test]
    fn v2_data_off_the_spec_is_a_decode_error_and_absent_data_reads_as_empty() {
        let body = br#"{"data":{"user":5},"error":{"code":"ok","message":"","log_id":"L"}}"#;
        let error = decode_response::<UserInfoData>(Envelope::V2, 200, body).expect_err("off");
        assert!(
            matches!(&error, Error::Decode { message, .. } if message.starts_with("data does not match the spec")),
            "{error:?}"
        );
        let body = br#"{"error":{"code":"ok","message":"","log_id":"L"}}"#;
        let data: serde_json::Map<String, serde_json::Value> =
            decode_response(Envelope::V2, 200, body).expect("an empty object");
        assert!(data.is_empty());
    }

    #[test]
    fn v2_invalid_param_spelling_is_invalid_params() {
        let body = br#"{"data":{},"error":{"code":"invalid_param","message":"m","logid":"L"}}"#;
        let error = decode_response::<UserInfoData>(Envelope::V2, 400, body).expect_err("an error");
        assert_eq!(error.code(), Some(&ErrorCode::InvalidParams));
        assert_eq!(error.log_id(), Some("L"));
    }

    #[test]
    fn v2_unknown_code_is_kept() {
        let body = br#"{"data":{},"error":{"code":"brand_new_code","message":"m","log_id":"L"}}"#;
        let error = decode_response::<UserInfoData>(Envelope::V2, 403, body).expect_err("an error");
        assert_eq!(
            error.code(),
            Some(&ErrorCode::Unknown("brand_new_code".into()))
        );
    }

    #[test]
    fn non_json_is_a_decode_error() {
        let error = decode_response::<UserInfoData>(Envelope::V2, 404, b"Unsupported path(Janus)")
            .expect_err("an error");
        assert!(
            matches!(error, Error::Decode { status: 404, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn oauth_flat_error_and_success() {
        let body = br#"{"error":"invalid_grant","error_description":"used","log_id":"L"}"#;
        let error = decode_response::<Token>(Envelope::OAuth, 400, body).expect_err("an error");
        assert_eq!(error.code(), Some(&ErrorCode::InvalidGrant));
        let body = br#"{"access_token":"act.x","expires_in":7200,"token_type":"Bearer","open_id":"o","scope":"user.info.basic"}"#;
        let token: Token = decode_response(Envelope::OAuth, 200, body).expect("a token");
        assert_eq!(token.access_token, "act.x");
        assert_eq!(token.refresh_token, None);
    }

    #[test]
    fn a_decode_error_never_carries_a_credential() {
        // A token answer missing `token_type`: the body holds fresh tokens.
        let body = br#"{"access_token":"act.fresh","refresh_token":"rft.fresh","expires_in":7200,"open_id":"-000x"}"#;
        let error = decode_response::<Token>(Envelope::OAuth, 200, body).unwrap_err();
        let text = format!("{error:?} {error}");
        assert!(
            !text.contains("act.fresh") && !text.contains("rft.fresh"),
            "{text}"
        );
        assert!(text.contains("-000x"), "the rest of the body stays: {text}");
        let error =
            decode_response::<Token>(Envelope::OAuth, 200, b"access_token=act.fresh").unwrap_err();
        assert!(!format!("{error:?}").contains("act.fresh"));
        let body = br#"{"data":{"publish_id":7,"upload_url":"https://up.example/?upload_token=secret"},"error":{"code":"ok","message":"","log_id":"L"}}"#;
        let error = decode_response::<crate::PublishInitData>(Envelope::V2, 200, body).unwrap_err();
        assert!(
            !format!("{error:?}").contains("upload_token=secret"),
            "{error:?}"
        );
    }
}
