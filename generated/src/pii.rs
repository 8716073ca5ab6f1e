//! Personal data in text written by TikTok users (feature `pii`): email addresses, phone
//! and card numbers in the free text of Research API results (comments are written by
//! anyone, about anyone), masked before the text goes on (the gateway masks them before
//! a result reaches an agent, the mock's recorder before an exchange is written). Text is
//! normalized before it is matched (Unicode NFKC, ideographic full stops as dots,
//! zero-width and other format characters removed), so full-width, spaced-out or
//! invisibly split addresses and numbers are caught too.
//!
//! ```
//! let masked = tiktok_api::pii::mask_text("dm me: jane＠example.com / +1 415 555 0199");
//! assert_eq!(masked.as_deref(), Some("dm me: [email] / [phone]"));
//! ```

use std::sync::LazyLock;

use crate::meta::{Auth, EndpointMeta};
use regex::Regex;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

/// What an email address becomes.
pub const EMAIL_MASK: &str = "[email]";
/// What a phone number becomes.
pub const PHONE_MASK: &str = "[phone]";
/// What a card number (16 to 19 digits) becomes.
pub const CARD_MASK: &str = "[card]";

// An email address, on normalized text: a local part, `@` (or `(at)`, `[at]`) with
// optional spaces around it (but `word @name.tld` is a mention, so a space before the `@`
// needs one after it), a domain of letters and digits of any script, and a top-level
// domain of two letters or more.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)[\p{L}\p{N}._%+-]+(?:\s*@\s+|@|\s*\(at\)\s*|\s*\[at\]\s*)[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}",
    )
    .expect("the email pattern is valid")
});

// A phone or card number, on normalized text: an optional +country code, then groups of
// digits (any script) separated by up to three separators (spaces, dots, slashes,
// dashes of any kind, underscores, parentheses). What decides is the count of digits:
// 9 to 15 a phone number (with its area code; shorter runs are dates and counts), 16 to
// 19 a card number. A run followed by `:` and a digit is a time (`2026-11-28 10:30`), not
// a number. Ids and counts (JSON numbers) are never looked at: only strings are masked.
static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+[\s_]{0,3})?\(?\d(?:[\s./_()\-‐‑‒–—―−]{0,3}\d)+")
        .expect("the number pattern is valid")
});

// Format characters (zero-width spaces and joiners, bidi controls, soft hyphens...):
// invisible, and removed before matching so they cannot split what is matched.
static FORMAT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\p{Cf}").expect("the format pattern is valid"));

/// Whether results of `meta` are masked: the endpoints called with the app's client token
/// (the Research API), whose results hold other people's text.
pub fn masks(meta: &EndpointMeta) -> bool {
    meta.auth == Auth::ClientToken
}

/// `value` with every email address, phone and card number in its strings masked.
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

/// `text` as it is matched: Unicode NFKC (full-width `＠` and digits become `@` and ASCII
/// digits, and so on), ideographic full stops as `.`, format characters removed.
pub fn normalize(text: &str) -> String {
    let composed: String = text
        .nfkc()
        .map(|c| match c {
            '。' | '｡' | '︒' => '.',
            other => other,
        })
        .collect();
    FORMAT.replace_all(&composed, "").into_owned()
}

/// `text` with its email addresses, phone and card numbers masked, if it has any: the
/// text normalized (see [`normalize`]) and masked; `None` when nothing was masked (the text
/// is then kept exactly as it was).
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

    /// Every way round the masking an outside attacker found, and its neighbours.
    #[test]
    fn variants_are_masked_after_normalizing() {
        let cases = [
            // Emails: full-width at sign and dots, spaces around @, zero-width spaces,
            // non-ASCII domains.
            ("jane＠example.com", "[email]"),
            ("ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "[email]"),
            ("jane@example。com", "[email]"),
            ("jane＠example。co。uk", "[email]"),
            ("write jane @ example.com now", "write [email] now"),
            ("jane@ example.com", "[email]"),
            ("jane\u{200b}@\u{200b}example.com", "[email]"),
            ("ja\u{200d}ne@exa\u{2060}mple.com", "[email]"),
            ("jane@\u{feff}example.com", "[email]"),
            ("jane@exämple.de", "[email]"),
            ("用户@例子.广告", "[email]"),
            ("иван@пример.рф", "[email]"),
            // Phone numbers: spaced digits, double spaces, en dashes, underscores, a
            // trailing colon, full-width digits, zero-width spaces.
            ("call 4 1 5 5 5 5 0 1 9 9", "call [phone]"),
            ("call 415  555  0199", "call [phone]"),
            ("call 415–555–0199", "call [phone]"),
            ("call 415—555—0199", "call [phone]"),
            ("call 415_555_0199", "call [phone]"),
            ("my number: 415 555 0199: call", "my number: [phone]: call"),
            ("+1 415 555 0199:", "[phone]:"),
            ("call ４１５５５５０１９９", "call [phone]"),
            ("call 415\u{200b}555\u{200b}0199", "call [phone]"),
            ("call + 1 (415) 555 - 0199", "call [phone]"),
            // Card numbers: double spaces, dashes, underscores.
            ("card 4111  1111  1111  1111", "card [card]"),
            ("card 4111-1111-1111-1111", "card [card]"),
            ("card 4111_1111_1111_1111", "card [card]"),
            (
                "card 4111\u{200b}1111\u{200b}1111\u{200b}1111",
                "card [card]",
            ),
        ];
        for (text, masked) in cases {
            assert_eq!(mask_text(text).as_deref(), Some(masked), "{text:?}");
        }
        for kept in [
            "great video 10/10",
            "posted 2026-11-28",
            "posted 2026-11-28 10:30",
            "I have 3 cats",
            "v1.2.3",
            "love it @jane.doe",
            "@jane_doe see you at 12:30",
            "meet @ noon",
            "top 10 of 2026",
            "ｆｕｌｌ ｗｉｄｔｈ ｔｅｘｔ",
            "東京。大阪。",
            "a\u{200b}b",
            "score 3-1, then 2-2",
        ] {
            assert_eq!(mask_text(kept), None, "{kept:?}");
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
