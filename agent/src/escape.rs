//! Text an operator reads, made safe to print: the control characters a terminal acts on
//! (C0, DEL, C1 such as U+009B CSI and U+0085 NEL, line and paragraph separators) and the
//! bidirectional controls that reorder what is shown (U+202E and its kin), escaped. One
//! function for plain text ([`escape_controls`]) and its JSON counterpart ([`escape_json`]),
//! shared by the audit records and every line the gateway's commands print.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as it is.
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'          // C0 (newline and tab too: one record, one line)
        | '\u{7f}'                  // DEL
        | '\u{80}'..='\u{9f}'       // C1
        | '\u{61c}'                 // Arabic letter mark
        | '\u{200e}' | '\u{200f}'   // left-to-right and right-to-left marks
        | '\u{2028}' | '\u{2029}'   // line and paragraph separators
        | '\u{202a}'..='\u{202e}'   // embeddings and overrides
        | '\u{2066}'..='\u{2069}'   // isolates
    )
}

/// `text` with every character of [`is_unsafe_char`] written as `\u{…}` (its code point in
/// hex), the rest as it is.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    escape_with(text, |c, out| {
        out.push_str(&format!("\\u{{{:x}}}", u32::from(c)))
    })
}

/// JSON text (as `serde_json` writes it) with every character of [`is_unsafe_char`] written
/// as a JSON `\uXXXX` escape: the same JSON value, safe to print. Outside strings JSON text
/// has only ASCII punctuation, so every such character is inside a string.
pub fn escape_json(json: &str) -> Cow<'_, str> {
    escape_with(json, |c, out| {
        out.push_str(&format!("\\u{:04x}", u32::from(c)))
    })
}

fn escape_with(text: &str, escape: impl Fn(char, &mut String)) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe_char(c) {
            escape(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped_and_the_rest_kept() {
        let hostile = "a\u{1b}[31mb\u{9b}31mc\u{85}d\u{7f}e\u{202e}f\u{2066}g\nh\u{0}";
        let escaped = escape_controls(hostile);
        assert_eq!(
            escaped,
            "a\\u{1b}[31mb\\u{9b}31mc\\u{85}d\\u{7f}e\\u{202e}f\\u{2066}g\\u{a}h\\u{0}"
        );
        assert!(!escaped.chars().any(is_unsafe_char));
        for kept in ["plain", "Größe 東京 café", "emoji 🎉", ""] {
            assert!(matches!(escape_controls(kept), Cow::Borrowed(_)), "{kept}");
        }
    }

    #[test]
    fn json_keeps_its_value_and_loses_its_controls() {
        let value = serde_json::json!({"id": "7\u{202e}\u{9b}\u{85}\u{7f}\u{1b}", "n": 1});
        let text = escape_json(&value.to_string()).into_owned();
        assert!(!text.chars().any(is_unsafe_char), "{text}");
        assert!(
            text.contains("\\u202e") && text.contains("\\u009b"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
