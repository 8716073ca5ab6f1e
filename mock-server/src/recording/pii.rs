//! Personal data in a recording: the strings of a Research API answer (comments are written
//! by anyone, about anyone) that hold email addresses, phone or card numbers, found and
//! masked with `tiktok_api::pii`, the gateway's own masking, before the exchange is written.

use serde_json::Value;
use tiktok_api::pii::mask_text;
pub use tiktok_api::pii::masks;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_strings_are_looked_at() {
        let value = serde_json::json!({"comments": [{"id": 4155550199_i64, "text": "dm a@b.io"}]});
        let mut out = Vec::new();
        masked_strings(&value, &mut out);
        assert_eq!(out, [("dm a@b.io".to_owned(), "dm [email]".to_owned())]);
    }
}
