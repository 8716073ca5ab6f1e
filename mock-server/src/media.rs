//! Media URLs as TikTok shapes them: CDN images signed with an expiry on the mock's clock
//! (`x-expires`, `x-signature`; the cover of a video lives six hours, the creator's avatar in
//! creator info two, as the endpoint table's limits say), and share links carrying TikTok's
//! `utm_campaign` and the app's `utm_source`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The key the mock signs its CDN URLs with (the mock's own; nothing outside checks it).
const SIGNING_KEY: &[u8] = b"tiktok-mock-cdn";
/// The `utm_campaign` of share links TikTok hands to API clients.
pub const UTM_CAMPAIGN: &str = "tt4d_open_api";

fn signature(base: &str, expires: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_KEY).expect("HMAC takes any key length");
    mac.update(base.as_bytes());
    mac.update(b"\n");
    mac.update(expires.to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn join(base: &str, query: &str) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}{query}")
}

/// `base` signed to expire `ttl_seconds` after `now_ms` (Unix seconds in `x-expires`).
/// An empty `base` stays empty.
pub fn signed_url(base: &str, now_ms: i64, ttl_seconds: i64) -> String {
    if base.is_empty() {
        return String::new();
    }
    let expires = now_ms.div_euclid(1000).saturating_add(ttl_seconds);
    join(
        base,
        &format!(
            "x-expires={expires}&x-signature={}",
            signature(base, expires)
        ),
    )
}

/// When a URL signed by [`signed_url`] expires (Unix seconds), if its signature is the mock's.
pub fn signed_expiry(url: &str) -> Option<i64> {
    let (base, query) = url.rsplit_once("x-expires=")?;
    let base = base.strip_suffix(['?', '&'])?;
    let (expires, signed) = query.split_once("&x-signature=")?;
    let expires: i64 = expires.parse().ok()?;
    (signature(base, expires) == signed).then_some(expires)
}

/// A share link with TikTok's `utm_campaign` and the app's `utm_source` (its client_key).
pub fn share_url(base: &str, client_key: &str) -> String {
    if base.is_empty() {
        return String::new();
    }
    join(
        base,
        &format!("utm_campaign={UTM_CAMPAIGN}&utm_source={client_key}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_urls_carry_their_expiry_and_verify() {
        let url = signed_url(
            "https://p16.tiktokcdn.example/cover/1.jpeg",
            1_000_500,
            21_600,
        );
        assert!(url.starts_with(
            "https://p16.tiktokcdn.example/cover/1.jpeg?x-expires=22600&x-signature="
        ));
        assert_eq!(signed_expiry(&url), Some(22_600));
        assert_eq!(signed_expiry(&url.replace("22600", "99999")), None);
        assert_eq!(
            share_url("https://www.tiktok.example/@a/video/1", "key"),
            "https://www.tiktok.example/@a/video/1?utm_campaign=tt4d_open_api&utm_source=key"
        );
    }
}
