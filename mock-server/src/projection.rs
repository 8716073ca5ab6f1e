//! [`Projection`]: a record as JSON bytes with only the fields a call's `fields` asked for,
//! written straight from the record (a [`Fields`]) with no `serde_json::Value` in between.
//!
//! Keys come out in byte order, as the `Value` maps the mock used to build gave them, so
//! the bytes are the same as before. A field the record does not have is left out, like a
//! key missing from a map. Strings that need no escaping (the usual) are copied as they are.
//!
//! A record may keep its last projection's bytes in a [`shown::Shown`] (the store's videos do):
//! the next call asking the same fields copies them, writing only what depends on the call
//! (a signed cover, the app's share-link parameters) afresh.

pub mod shown;

use std::cell::RefCell;

use serde::Serialize;
use serde_json::Value;
use tiktok_api::meta::FieldMeta;

/// A record a projection asks field by field.
pub trait Fields {
    /// The names of the fields this record type writes by index.
    const NAMES: &'static [&'static str];

    /// Appends the JSON value of the field `Self::NAMES[index]` to `out`; false (with
    /// `out` untouched) when this record lacks it.
    fn write_field(&self, index: usize, out: &mut Vec<u8>) -> bool;

    /// Appends the value of a field not in [`Fields::NAMES`] (the slow way); by default
    /// there is none.
    fn write_other(&self, name: &str, out: &mut Vec<u8>) -> bool {
        let _ = (name, out);
        false
    }

    /// Whether part of the field `index` depends on the call, not on the record alone:
    /// then [`Fields::write_field`] writes [`Fields::write_own`] followed by
    /// [`Fields::write_call_part`], and a [`shown::Shown`] keeps only the first.
    fn depends_on_call(index: usize) -> bool {
        let _ = index;
        false
    }

    /// The part of a field [`Fields::depends_on_call`] that depends on the record alone;
    /// false (with `out` untouched) when this record lacks the field.
    fn write_own(&self, index: usize, out: &mut Vec<u8>) -> bool {
        self.write_field(index, out)
    }

    /// The part of a field [`Fields::depends_on_call`] that depends on the call, written
    /// after [`Fields::write_own`].
    fn write_call_part(&self, index: usize, out: &mut Vec<u8>) {
        let _ = (index, out);
    }
}

/// The fields one call asked for, sorted, with each key's bytes (`"name":`), reused
/// record after record (and, through a per-thread spare, call after call).
#[derive(Debug, Default)]
pub struct Projection {
    buffers: Buffers,
}

/// What a projection owns; kept for the next one when it is dropped.
#[derive(Debug, Default)]
struct Buffers {
    /// The fields as asked (what the rest was built from).
    asked: Vec<&'static FieldMeta>,
    names: Vec<&'static str>,
    /// `"name":` of each name, one after the other; `key_ends[i]` ends the i-th.
    keys: Vec<u8>,
    key_ends: Vec<usize>,
    /// For each name, its index in the `NAMES` of the record type last written.
    plan: Vec<Option<usize>>,
    /// That type's `NAMES`, by address (0 before any).
    planned_for: usize,
    /// The fields of `plan` as bits of their indexes, what a [`shown::Shown`] is kept for;
    /// `None` when a name is not in `NAMES` or `NAMES` has more than 64.
    mask: Option<u64>,
}

thread_local! {
    /// The buffers of the last projection dropped on this thread, for the next one.
    static SPARE: RefCell<Option<Buffers>> = const { RefCell::new(None) };
}

impl Projection {
    /// A projection onto `fields` (the order asked does not matter: keys come out sorted).
    pub fn new(fields: &[&'static FieldMeta]) -> Projection {
        let mut buffers = SPARE
            .try_with(|spare| {
                spare
                    .try_borrow_mut()
                    .ok()
                    .and_then(|mut spare| spare.take())
            })
            .ok()
            .flatten()
            .unwrap_or_default();
        if buffers.asked.len() == fields.len()
            && buffers
                .asked
                .iter()
                .zip(fields)
                .all(|(known, field)| std::ptr::eq(*known, *field))
        {
            // The fields of the last call on this thread: keys and plan still hold.
            return Projection { buffers };
        }
        buffers.asked.clear();
        buffers.asked.extend_from_slice(fields);
        buffers.names.clear();
        buffers.names.extend(fields.iter().map(|field| field.name));
        buffers.names.sort_unstable();
        buffers.names.dedup();
        buffers.keys.clear();
        buffers.key_ends.clear();
        for name in &buffers.names {
            write_key(&mut buffers.keys, name);
            buffers.key_ends.push(buffers.keys.len());
        }
        buffers.planned_for = 0;
        Projection { buffers }
    }

    /// Whether `name` is among the fields asked for.
    pub fn wants(&self, name: &str) -> bool {
        self.buffers.names.contains(&name)
    }

    /// Appends `record` as a JSON object of the asked fields to `out`, asking the record
    /// for each in key order (by index: names are matched once per record type).
    pub fn write<R: Fields>(&mut self, out: &mut Vec<u8>, record: &R) {
        self.plan::<R>();
        self.write_object(out, record, None);
    }

    /// Matches the asked names with `R::NAMES`, once per record type.
    fn plan<R: Fields>(&mut self) {
        let buffers = &mut self.buffers;
        let key = R::NAMES.as_ptr() as usize;
        if buffers.planned_for != key {
            buffers.plan.clear();
            buffers.plan.extend(
                buffers
                    .names
                    .iter()
                    .map(|name| R::NAMES.iter().position(|known| known == name)),
            );
            buffers.mask = buffers.plan.iter().try_fold(0u64, |mask, index| {
                index
                    .filter(|&index| index < 64)
                    .map(|index| mask | 1 << index)
            });
            buffers.planned_for = key;
        }
    }

    /// The object; with `calls`, each field's call part is written apart and its place in
    /// `out` noted (start, end, field index).
    fn write_object<R: Fields>(
        &mut self,
        out: &mut Vec<u8>,
        record: &R,
        mut calls: Option<&mut Vec<(usize, usize, usize)>>,
    ) {
        let buffers = &mut self.buffers;
        out.push(b'{');
        let mut first = true;
        let mut key_begin = 0;
        for ((name, &key_end), index) in buffers
            .names
            .iter()
            .zip(&buffers.key_ends)
            .zip(&buffers.plan)
        {
            let mark = out.len();
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(&buffers.keys[key_begin..key_end]);
            key_begin = key_end;
            let written = match (*index, calls.as_deref_mut()) {
                (Some(index), Some(calls)) if R::depends_on_call(index) => {
                    let written = record.write_own(index, out);
                    if written {
                        let begin = out.len();
                        record.write_call_part(index, out);
                        calls.push((begin, out.len(), index));
                    }
                    written
                }
                (Some(index), _) => record.write_field(index, out),
                (None, _) => record.write_other(name, out),
            };
            if written {
                first = false;
            } else {
                out.truncate(mark);
            }
        }
        out.push(b'}');
    }
}

impl Drop for Projection {
    fn drop(&mut self) {
        let buffers = std::mem::take(&mut self.buffers);
        let _ = SPARE.try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                *spare = Some(buffers);
            }
        });
    }
}

/// `"key":`.
fn write_key(out: &mut Vec<u8>, key: &str) {
    write_str(out, key);
    out.push(b':');
}

/// Appends a JSON integer.
pub fn write_int(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends a JSON string; text that needs no escaping (the usual) is copied as is.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        let _ = serde_json::to_writer(&mut *out, text);
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// Appends `text` as the inside of a JSON string (no quotes), copied as is when it needs no
/// escaping. Escaping is per character, so text escaped piece by piece is the text escaped
/// whole.
pub fn write_escaped(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        // A `&str` always serializes, quotes included.
        let quoted = serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned());
        out.extend_from_slice(&quoted.as_bytes()[1..quoted.len() - 1]);
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// Appends a JSON string made of `pieces` (copied as they are when none needs escaping).
pub fn write_pieces(out: &mut Vec<u8>, pieces: &[&str]) {
    let mark = out.len();
    out.push(b'"');
    for piece in pieces {
        out.extend_from_slice(piece.as_bytes());
    }
    if needs_escape(&out[mark + 1..]) {
        out.truncate(mark);
        let _ = serde_json::to_writer(&mut *out, &pieces.concat());
    } else {
        out.push(b'"');
    }
}

/// Appends any serializable value as `serde_json` writes it.
pub fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> bool {
    let mark = out.len();
    if serde_json::to_writer(&mut *out, value).is_ok() {
        return true;
    }
    out.truncate(mark);
    false
}

/// A field of a record's `serde_json` form (the slow way: for fields a fast [`Fields`]
/// does not know by name).
pub fn write_serialized_field<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    record: &T,
    name: &str,
) -> bool {
    match serde_json::to_value(record) {
        Ok(Value::Object(mut object)) => match object.remove(name) {
            Some(value) => write_json(out, &value),
            None => false,
        },
        _ => false,
    }
}

/// Whether JSON needs any of these bytes escaped (a control byte, `"` or `\`), looked at
/// eight at a time.
pub fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS != 0;
    let flagged = |word: u64| {
        // Some byte below 0x20 (bytes with the high bit set are never flagged), or a
        // quote, or a backslash.
        word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0
            || has_zero(word ^ (ONES * u64::from(b'"')))
            || has_zero(word ^ (ONES * u64::from(b'\\')))
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if flagged(u64::from_le_bytes(word)) {
            return true;
        }
    }
    let rest = chunks.remainder();
    if rest.is_empty() {
        return false;
    }
    // The tail, padded with spaces (which need no escaping).
    let mut word = [b' '; 8];
    word[..rest.len()].copy_from_slice(rest);
    flagged(u64::from_le_bytes(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples::project;

    pub(super) fn fields(names: &[&str]) -> Vec<&'static FieldMeta> {
        names
            .iter()
            .map(|name| {
                tiktok_api::SCHEMAS
                    .iter()
                    .flat_map(|schema| schema.fields.iter())
                    .find(|field| field.name == *name)
                    .unwrap_or_else(|| panic!("no field {name} in the spec"))
            })
            .collect()
    }

    /// A record that answers from a JSON object, as a `Value` map would.
    struct FromMap(serde_json::Map<String, Value>);

    impl Fields for FromMap {
        const NAMES: &'static [&'static str] = &["id"];

        fn write_field(&self, _: usize, out: &mut Vec<u8>) -> bool {
            self.write_other("id", out)
        }

        fn write_other(&self, name: &str, out: &mut Vec<u8>) -> bool {
            self.0.get(name).is_some_and(|value| write_json(out, value))
        }
    }

    #[test]
    fn the_bytes_are_those_of_the_value_map() {
        let Value::Object(map) = serde_json::json!({
            "title": "say \"hi\"\n",
            "view_count": 5,
            "id": "7",
            "like_count": 9,
        }) else {
            unreachable!()
        };
        let chosen = fields(&["view_count", "title", "duration", "like_count", "id"]);
        let mut projection = Projection::new(&chosen);
        let mut out = Vec::new();
        projection.write(&mut out, &FromMap(map.clone()));
        let expected = serde_json::to_vec(&project(&map, &chosen)).expect("serializes");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            String::from_utf8(expected).expect("utf-8")
        );
        assert!(projection.wants("duration") && !projection.wants("width"));
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for text in [
            "",
            "plain ascii text, long enough for words",
            "quote \" in the middle of a long text",
            "back\\slash",
            "tab\there and newline\n",
            "\u{1f}control",
            "ünïcödé – no escapes ✓ 日本語",
            "0123456\"",
            "\u{7f} delete stays",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, text);
            assert_eq!(
                String::from_utf8(out).expect("utf-8"),
                serde_json::to_string(text).expect("json"),
                "{text:?}"
            );
            let mut out = vec![b'"'];
            write_escaped(&mut out, text);
            out.push(b'"');
            assert_eq!(out, serde_json::to_vec(text).expect("json"), "{text:?}");
            let mut out = Vec::new();
            write_pieces(&mut out, &["<", text, ">"]);
            assert_eq!(
                String::from_utf8(out).expect("utf-8"),
                serde_json::to_string(&format!("<{text}>")).expect("json"),
            );
        }
        let mut out = Vec::new();
        write_int(&mut out, -42);
        assert_eq!(out, b"-42");
    }
}
