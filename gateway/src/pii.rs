//! Personal data an agent never sees: email addresses, phone and card numbers in the free text of
//! Research API results (comments are written by anyone, about anyone), masked by the
//! gateway before the result leaves it.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;
use tiktok_api::meta::{Auth, EndpointMeta};

/// What an email address becomes.
pub const EMAIL_MASK: &str = "[email]";
/// What a phone number becomes.
pub const PHONE_MASK: &str = "[phone]";
/// What a card number (16 to 19 digits) becomes.
pub const CARD_MASK: &str = "[card]";

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)[a-z0-9._%+-]+(?:@|\s*\(at\)\s*|\s*\[at\]\s*)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}",
    )
    .expect("the email pattern is valid")
});

// A phone number: an optional +country code, then 9 to 15 digits of any script (a number with its
// area code; shorter runs are dates and counts) in groups separated by single spaces, dots,
// slashes, dashes or parentheses; a run followed by `:` is a time, not a number. Ids and counts (digits only, no separators,
// no +) are not text and are never looked at: only string values are masked.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+\d{1,3}[\s./-]?)?(?:\(\d{1,4}\)[\s./-]?)?\d{1,4}(?:[\s./-]?\d{1,4}){2,7}")
        .expect("the phone pattern is valid")
});

/// Whether results of `meta` are masked: the endpoints called with the app's client token
/// (the Research API), whose results hold other people's text.
pub fn masks(meta: &EndpointMeta) -> bool {
    meta.auth == Auth::ClientToken
}

/// `value` with every email address and phone number in its strings masked.
pub fn mask(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Some(masked) = mask_text(text) {
                *text = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        Value::Object(object) => object.values_mut().for_each(mask),
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
}

/// `text` with its email addresses and phone numbers masked, if it has any.
pub fn mask_text(text: &str) -> Option<String> {
    let emails = EMAIL.replace_all(text, EMAIL_MASK);
    let phones = PHONE.replace_all(&emails, |found: &regex::Captures<'_>| {
        let whole = found.get(0).map_or("", |m| m.as_str());
        let end = found.get(0).map_or(0, |m| m.end());
        let digits = whole.chars().filter(|c| c.is_numeric()).count();
        let a_time = emails[end..].starts_with(':');
        if a_time {
            whole.to_string()
        } else if (9..=15).contains(&digits) {
            PHONE_MASK.to_string()
        } else if (16..=19).contains(&digits) {
            CARD_MASK.to_string()
        } else {
            found[0].to_string()
        }
    });
    (phones != text).then(|| phones.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emails_and_phone_numbers_are_masked_and_the_rest_kept() {
        let cases = [
            (
                "write me at jane.doe+tt@example.co.uk!",
                "write me at [email]!",
            ),
            ("jane (at) example.com", "[email]"),
            ("call +1 415-555-0199 now", "call [phone] now"),
            ("or (020) 7946 0958", "or [phone]"),
            ("0170 1234567", "[phone]"),
            ("+44 20 7946 0958 or bob@mail.example", "[phone] or [email]"),
            ("card 4111 1111 1111 1111 exp", "card [card] exp"),
        ];
        for (text, masked) in cases {
            assert_eq!(mask_text(text).as_deref(), Some(masked), "{text}");
        }
        for kept in [
            "great video 10/10",
            "posted 2026-11-28",
            "I have 3 cats",
            "v1.2.3",
        ] {
            assert_eq!(mask_text(kept), None, "{kept}");
        }
    }

    #[test]
    fn only_strings_are_looked_at() {
        let mut value = json!({
            "comments": [
                {"id": 7300000000000000101_i64, "text": "dm me: a@b.io / +33 6 12 34 56 78", "like_count": 4155550199_i64},
                {"id": 7300000000000000102_i64, "text": "nice"}
            ],
            "cursor": 2
        });
        mask(&mut value);
        assert_eq!(value["comments"][0]["text"], "dm me: [email] / [phone]");
        assert_eq!(value["comments"][0]["like_count"], 4155550199_i64);
        assert_eq!(value["comments"][1]["text"], "nice");
    }
}
