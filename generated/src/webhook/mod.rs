//! Webhooks: the payload TikTok POSTs to an app's callback URL, and the
//! `TikTok-Signature` header (HMAC-SHA256 of `t.body` with the app's client_secret).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{WebhookContent, WebhookEventKind};

#[cfg(feature = "webhook-receiver")]
pub mod receiver;

/// The signature header's name (compare it case-insensitively; TikTok's example writes `Tiktok-Signature`).
pub const SIGNATURE_HEADER: &str = "TikTok-Signature";

/// The default tolerance against replays: 5 minutes.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// A webhook delivery's JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// The app.
    pub client_key: String,
    /// The event name.
    pub event: WebhookEventKind,
    /// When the event happened, Unix seconds.
    pub create_time: i64,
    /// The user's open_id (absent on some events, e.g. portability).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_openid: Option<String>,
    /// The event's content: a JSON document serialized into a string.
    pub content: String,
}

impl WebhookPayload {
    /// Parses a delivery body.
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// Parses `content` as the event's schema.
    pub fn content(&self) -> Result<WebhookContent, serde_json::Error> {
        WebhookContent::parse(&self.event, &self.content)
    }

    /// The event's identity, for idempotent receivers: TikTok sends no event id, and delivers
    /// at least once, so two deliveries with the same key are the same event.
    pub fn dedup_key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.event,
            self.create_time,
            self.user_openid.as_deref().unwrap_or(""),
            self.content
        )
    }
}

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex HMAC-SHA256 of `timestamp.body` keyed with `client_secret`.
pub fn sign(client_secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(client_secret, timestamp, body).finalize().into_bytes())
}

fn mac(client_secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(client_secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `TikTok-Signature` header value for a body sent at `timestamp`: `t=...,s=...`.
pub fn signature_header(client_secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},s={}", sign(client_secret, timestamp, body))
}

/// Why a delivery was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=<seconds>,s=<hex>`.
    #[error("malformed TikTok-Signature header: {0}")]
    Malformed(String),
    /// The signature does not match the body and timestamp.
    #[error("signature does not match")]
    Mismatch,
    /// The timestamp is outside the tolerance window.
    #[error("timestamp is {age} s away from now; tolerance is {tolerance} s")]
    Stale {
        /// now - t, in seconds (negative: from the future).
        age: i64,
        /// The tolerance in seconds.
        tolerance: i64,
    },
}

/// Verifies `TikTok-Signature` headers for one app.
///
/// Its `Debug` output never shows the client secret.
#[derive(Clone)]
pub struct Verifier {
    client_secret: String,
    tolerance_seconds: i64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Verifier")
            .field("client_secret", &"[redacted]")
            .field("tolerance_seconds", &self.tolerance_seconds)
            .finish()
    }
}

impl Verifier {
    /// A verifier for the app with `client_secret`, with a 5-minute tolerance.
    pub fn new(client_secret: impl Into<String>) -> Self {
        Verifier {
            client_secret: client_secret.into(),
            tolerance_seconds: DEFAULT_TOLERANCE_SECONDS,
        }
    }

    /// Sets the replay tolerance.
    pub fn tolerance_seconds(mut self, seconds: i64) -> Self {
        self.tolerance_seconds = seconds;
        self
    }

    /// Checks `header` against the raw `body` at time `now` (Unix seconds): the HMAC in
    /// constant time, then the timestamp within the tolerance either way.
    pub fn verify(&self, header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
        let (timestamp, signature) = parse_header(header)?;
        let expected = mac(&self.client_secret, timestamp, body)
            .finalize()
            .into_bytes();
        let given = hex::decode(signature).map_err(|_| SignatureError::Mismatch)?;
        if given.len() != expected.len() || !bool::from(given.as_slice().ct_eq(expected.as_slice()))
        {
            return Err(SignatureError::Mismatch);
        }
        // abs_diff: any pair of i64 clocks, without overflow.
        if now.abs_diff(timestamp) > self.tolerance_seconds.max(0).unsigned_abs() {
            return Err(SignatureError::Stale {
                age: now.saturating_sub(timestamp),
                tolerance: self.tolerance_seconds,
            });
        }
        Ok(())
    }

    /// The replay tolerance in seconds.
    pub fn tolerance(&self) -> i64 {
        self.tolerance_seconds
    }

    /// Checks `header` against the raw `body` at the system clock's current time, as
    /// [`Verifier::verify`] does at a given time.
    pub fn verify_now(&self, header: &str, body: &[u8]) -> Result<(), SignatureError> {
        self.verify(header, body, system_now_seconds())
    }

    /// Verifies, then parses the payload.
    pub fn verify_payload(
        &self,
        header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookPayload, SignatureError> {
        self.verify(header, body, now)?;
        WebhookPayload::parse(body)
            .map_err(|error| SignatureError::Malformed(format!("body: {error}")))
    }
}

/// The system clock in Unix seconds (0 for a clock set before 1970).
pub(crate) fn system_now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// Splits `t=...,s=...` (in any order, whitespace tolerated).
fn parse_header(header: &str) -> Result<(i64, &str), SignatureError> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            return Err(SignatureError::Malformed(format!(
                "part {part:?} has no '='"
            )));
        };
        match key.trim() {
            "t" => {
                timestamp = Some(value.trim().parse::<i64>().map_err(|_| {
                    SignatureError::Malformed(format!("t={value:?} is not a number"))
                })?)
            }
            "s" => signature = Some(value.trim()),
            _ => {}
        }
    }
    match (timestamp, signature) {
        (Some(timestamp), Some(signature)) => Ok((timestamp, signature)),
        _ => Err(SignatureError::Malformed(
            "expected t=<seconds>,s=<hex>".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"client_key":"k","event":"authorization.removed","create_time":1615338610,"user_openid":"o","content":"{\"reason\":5}"}"#;

    #[test]
    fn genuine_delivery_verifies_and_parses() {
        let header = signature_header("secret", 1615338610, BODY);
        let verifier = Verifier::new("secret");
        let payload = verifier
            .verify_payload(&header, BODY, 1615338620)
            .expect("genuine");
        assert_eq!(payload.event, WebhookEventKind::AuthorizationRemoved);
        match payload.content().expect("content") {
            WebhookContent::AuthorizationRemoved(content) => assert_eq!(content.reason, 5),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn tampering_is_rejected() {
        let header = signature_header("secret", 1615338610, BODY);
        let verifier = Verifier::new("secret");
        let mut body = BODY.to_vec();
        body[10] ^= 1;
        assert_eq!(
            verifier.verify(&header, &body, 1615338610),
            Err(SignatureError::Mismatch)
        );
        let other_time = header.replace("t=1615338610", "t=1615338611");
        assert_eq!(
            verifier.verify(&other_time, BODY, 1615338610),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            Verifier::new("other").verify(&header, BODY, 1615338610),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verifier.verify("garbage", BODY, 0),
            Err(SignatureError::Malformed(_))
        ));
    }

    #[test]
    fn stale_timestamps_are_rejected() {
        let header = signature_header("secret", 1000, BODY);
        let verifier = Verifier::new("secret").tolerance_seconds(60);
        assert!(verifier.verify(&header, BODY, 1060).is_ok());
        assert_eq!(
            verifier.verify(&header, BODY, 1061),
            Err(SignatureError::Stale {
                age: 61,
                tolerance: 60
            })
        );
        assert_eq!(
            verifier.verify(&header, BODY, 900),
            Err(SignatureError::Stale {
                age: -100,
                tolerance: 60
            })
        );
    }

    #[test]
    fn verify_now_reads_the_system_clock() {
        let verifier = Verifier::new("secret").tolerance_seconds(60);
        let now = system_now_seconds();
        assert!(now > 1_600_000_000);
        let fresh = signature_header("secret", now, BODY);
        assert_eq!(verifier.verify_now(&fresh, BODY), Ok(()));
        let stale = signature_header("secret", now - 3600, BODY);
        assert!(matches!(
            verifier.verify_now(&stale, BODY),
            Err(SignatureError::Stale { .. })
        ));
    }

    #[test]
    fn debug_hides_the_secret() {
        let verifier = Verifier::new("topsecret-value");
        let printed = format!("{verifier:?}");
        assert!(!printed.contains("topsecret"), "{printed}");
        assert!(
            printed.contains(r#"client_secret: "[redacted]""#),
            "{printed}"
        );
        assert!(!format!("{verifier:#?}").contains("topsecret"));
    }

    #[test]
    fn matches_tiktok_documented_shape() {
        // The documented example header is `t=1633174587,s=<64 hex>`.
        let header = signature_header("secret", 1633174587, b"{}");
        let (t, s) = parse_header(&header).expect("parses");
        assert_eq!(t, 1633174587);
        assert_eq!(s.len(), 64);
        assert!(
            s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
