//! Text helpers of the hot path: a query string read in place ([`query_values`]) and text
//! built on the stack while it fits ([`StackText`]).

use std::borrow::Cow;

/// Text built on the stack while it fits (a rate-limit key), on the heap beyond.
pub struct StackText {
    inline: [u8; 160],
    len: usize,
    spilled: Option<String>,
}

impl StackText {
    /// Empty text.
    pub fn new() -> Self {
        StackText {
            inline: [0; 160],
            len: 0,
            spilled: None,
        }
    }

    /// Appends `text`.
    pub fn push(&mut self, text: &str) {
        if let Some(spilled) = &mut self.spilled {
            spilled.push_str(text);
        } else if self.len + text.len() <= self.inline.len() {
            self.inline[self.len..self.len + text.len()].copy_from_slice(text.as_bytes());
            self.len += text.len();
        } else {
            let mut spilled = String::with_capacity(self.len + text.len());
            spilled.push_str(self.inline_str());
            spilled.push_str(text);
            self.spilled = Some(spilled);
        }
    }

    fn inline_str(&self) -> &str {
        // Only whole `str`s are ever copied in.
        std::str::from_utf8(&self.inline[..self.len]).unwrap_or_default()
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.spilled.as_deref().unwrap_or_else(|| self.inline_str())
    }
}

/// The values of `key` in a query string, decoded as `application/x-www-form-urlencoded`
/// (`+` is a space, `%XX` a byte, invalid UTF-8 replaced), without copying when nothing
/// needs decoding.
pub fn query_values<'q>(query: &'q str, key: &'q str) -> impl Iterator<Item = Cow<'q, str>> + 'q {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(move |pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_form(name) == key).then(|| decode_form(value))
        })
}

/// One part of a form-encoded string, decoded (borrowed when there is nothing to decode).
pub fn decode_form(text: &str) -> Cow<'_, str> {
    if !has_percent_or_plus(text.as_bytes()) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let hex = |at: usize| {
            bytes
                .get(at)
                .and_then(|digit| (*digit as char).to_digit(16))
        };
        match byte {
            b'+' => out.push(b' '),
            b'%' => match (hex(index + 1), hex(index + 2)) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    index += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(byte),
        }
        index += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Whether `bytes` hold a `%` or a `+`, looked at eight at a time.
fn has_percent_or_plus(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS != 0;
    let flagged = |word: u64| {
        has_zero(word ^ (ONES * u64::from(b'%'))) || has_zero(word ^ (ONES * u64::from(b'+')))
    };
    let mut chunks = bytes.chunks_exact(8);
    if chunks.any(|chunk| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        flagged(u64::from_le_bytes(word))
    }) {
        return true;
    }
    chunks
        .remainder()
        .iter()
        .any(|&byte| byte == b'%' || byte == b'+')
}

impl Default for StackText {
    fn default() -> Self {
        StackText::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_decode_as_serde_urlencoded_does() {
        for query in [
            "fields=open_id,display_name",
            "%zz&&=&a==b",
            "fields=%ff%fe",
            "fields=a+b%2Cc",
            "=x",
            "fields",
            "a=1&fields=x&fields=y",
            "%",
            "fields=%e2%82",
            "fi%65lds=%20x&fields%3D=y",
            "fields=a,b,c,d,e,f,g,h,i,j,k+l",
            "fields=abcdefghijklmnop%2C",
        ] {
            let expected: Vec<String> = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .expect("parses")
                .into_iter()
                .filter(|(key, _)| key == "fields")
                .map(|(_, value)| value)
                .collect();
            let found: Vec<String> = query_values(query, "fields").map(Cow::into_owned).collect();
            assert_eq!(found, expected, "{query}");
        }
    }

    #[test]
    fn stack_text_spills_when_long() {
        let mut text = StackText::new();
        text.push("act.");
        text.push(&"x".repeat(300));
        text.push("\u{0}user_info");
        assert_eq!(
            text.as_str(),
            format!("act.{}\u{0}user_info", "x".repeat(300))
        );
        let mut text = StackText::new();
        text.push("a");
        text.push("b");
        assert_eq!(text.as_str(), "ab");
    }
}
