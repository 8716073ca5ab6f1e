//! Text helpers of the hot path: a query string read in place ([`query_values`]) and a
//! per-thread buffer to build keys in ([`with_key`]).

use std::borrow::Cow;
use std::cell::RefCell;

thread_local! {
    /// The text [`with_key`] lends, kept between calls.
    static KEY: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs `build` with an empty `String` to build a key in and use (a rate-limit key), reusing
/// one buffer per thread instead of allocating.
pub fn with_key<R>(build: impl FnOnce(&mut String) -> R) -> R {
    let buffer = KEY.try_with(|key| {
        key.try_borrow_mut()
            .ok()
            .map(|mut key| std::mem::take(&mut *key))
    });
    let mut key = buffer.ok().flatten().unwrap_or_default();
    key.clear();
    let result = build(&mut key);
    if key.capacity() <= 1024 {
        let _ = KEY.try_with(|slot| {
            if let Ok(mut slot) = slot.try_borrow_mut() {
                *slot = key;
            }
        });
    }
    result
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
    fn keys_are_built_in_a_reused_buffer() {
        let first = with_key(|key| {
            key.push_str("act.a\u{0}user_info");
            key.clone()
        });
        assert_eq!(first, "act.a\u{0}user_info");
        // The next key starts empty, and a key built within another gets its own buffer.
        let (outer, inner) = with_key(|key| {
            key.push('x');
            let inner = with_key(|inner| {
                inner.push('y');
                inner.clone()
            });
            (key.clone(), inner)
        });
        assert_eq!((outer.as_str(), inner.as_str()), ("x", "y"));
    }
}
