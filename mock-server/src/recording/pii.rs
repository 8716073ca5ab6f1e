//! Personal data in a recording: email addresses, phone and card numbers in the free text
//! of Research API answers (comments are written by anyone, about anyone), masked before
//! the exchange is written, as the gateway masks them for agents: on NFKC-normalized text
//! (ideographic full stops as dots, format characters removed), the same patterns and the
//! same marks. The mock cannot depend on the gateway (`CRATE_LAYERS`), so this is the
//! gateway's `pii.rs` matching, kept in step by the shared cases of the tests below.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;
use tiktok_api::meta::{Auth, EndpointMeta};
use unicode_normalization::UnicodeNormalization;

/// What an email address becomes.
pub const EMAIL_MASK: &str = "[email]";
/// What a phone number becomes.
pub const PHONE_MASK: &str = "[phone]";
/// What a card number (16 to 19 digits) becomes.
pub const CARD_MASK: &str = "[card]";

// A local part, `@` (or `(at)`, `[at]`) with optional spaces around it (a space before
// needs one after: `word @name.tld` is a mention), a domain, a top-level domain of two
// letters or more.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)[\p{L}\p{N}._%+-]+(?:\s*@\s+|@|\s*\(at\)\s*|\s*\[at\]\s*)[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}",
    )
    .expect("the email pattern is valid")
});

// An optional +country code, then digits with up to three separators between them; 9 to
// 15 digits a phone number, 16 to 19 a card number; a run followed by `:` and a digit is a
// time.
static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+[\s_]{0,3})?\(?\d(?:[\s./_()\-‐‑‒–—―−]{0,3}\d)+")
        .expect("the number pattern is valid")
});

// Format characters (zero-width spaces and joiners, bidi controls, soft hyphens).
static FORMAT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\p{Cf}").expect("the format pattern is valid"));

/// Whether answers of `meta` are masked: the endpoints called with the app's client token
/// (the Research API), whose answers hold other people's text.
pub fn masks(meta: &EndpointMeta) -> bool {
    meta.auth == Auth::ClientToken
}

/// Every string of `value` that holds personal data, with what it becomes.
pub fn masked_strings(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(text) => {
            if let Some(masked) = mask_text(text) {
                out.push((text.clone(), masked));
            }
        }
        Value::Array(items) => items.iter().for_each(|item| masked_strings(item, out)),
        Value::Object(object) => object.values().for_each(|item| masked_strings(item, out)),
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
}

/// `text` as it is matched: NFKC, ideographic full stops as `.`, format characters removed.
fn normalize(text: &str) -> String {
    let composed: String = text
        .nfkc()
        .map(|c| match c {
            '。' | '｡' | '︒' => '.',
            other => other,
        })
        .collect();
    FORMAT.replace_all(&composed, "").into_owned()
}

/// `text` with its email addresses, phone and card numbers masked, if it has any (`None`:
/// nothing to mask, the text stays exactly as it was).
pub fn mask_text(text: &str) -> Option<String> {
    let normal = normalize(text);
    let emails = EMAIL.replace_all(&normal, EMAIL_MASK);
    let masked = NUMBER.replace_all(&emails, |found: &regex::Captures<'_>| {
        let whole = &found[0];
        let end = found.get(0).map_or(0, |m| m.end());
        let digits = whole.chars().filter(|c| c.is_numeric()).count();
        let mut after = emails[end..].chars();
        let a_time = after.next() == Some(':') && after.next().is_some_and(|c| c.is_numeric());
        if a_time {
            whole.to_string()
        } else if (9..=15).contains(&digits) {
            PHONE_MASK.to_string()
        } else if (16..=19).contains(&digits) {
            CARD_MASK.to_string()
        } else {
            whole.to_string()
        }
    });
    (masked != normal).then(|| masked.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases of the gateway's own tests (`gateway/src/pii.rs`): the two maskers agree.
    #[test]
    fn masks_as_the_gateway_does() {
        let cases = [
            (
                "write me at jane.doe+tt@example.co.uk!",
                "write me at [email]!",
            ),
            ("jane (at) example.com", "[email]"),
            ("call +1 415-555-0199 now", "call [phone] now"),
            ("+44 20 7946 0958 or bob@mail.example", "[phone] or [email]"),
            ("card 4111 1111 1111 1111 exp", "card [card] exp"),
            ("ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "[email]"),
            ("jane\u{200b}@\u{200b}example.com", "[email]"),
            ("call ４１５５５５０１９９", "call [phone]"),
        ];
        for (text, masked) in cases {
            assert_eq!(mask_text(text).as_deref(), Some(masked), "{text:?}");
        }
        for kept in [
            "great video 10/10",
            "posted 2026-11-28 10:30",
            "love it @jane.doe",
            "I have 3 cats",
        ] {
            assert_eq!(mask_text(kept), None, "{kept:?}");
        }
    }

    #[test]
    fn only_strings_are_looked_at() {
        let value = serde_json::json!({"comments": [{"id": 4155550199_i64, "text": "dm a@b.io"}]});
        let mut out = Vec::new();
        masked_strings(&value, &mut out);
        assert_eq!(out, [("dm a@b.io".to_owned(), "dm [email]".to_owned())]);
    }
}
