//! [`Shown`]: what a record keeps of its last projection, and
//! [`Projection::write_shown`], which writes a record through it.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Fields, Projection};

impl Projection {
    /// [`Projection::write`], through the record's `shown`: when it holds the bytes of these
    /// fields, they are copied with the call's parts written in; otherwise the record is
    /// written and its own bytes kept there (while [`Shown`]'s budget lasts).
    pub fn write_shown<R: Fields>(&mut self, out: &mut Vec<u8>, record: &R, shown: &Shown) {
        self.plan::<R>();
        let Some(mask) = self.buffers.mask else {
            return self.write_object(out, record, None);
        };
        let kept = shown.0.take();
        if let Some(bytes) = kept.as_ref().filter(|bytes| bytes.mask == mask) {
            let mut at = 0;
            for &(offset, index) in &bytes.calls[..usize::from(bytes.call_count)] {
                let offset = offset as usize;
                out.extend_from_slice(&bytes.bytes[at..offset]);
                record.write_call_part(usize::from(index), out);
                at = offset;
            }
            out.extend_from_slice(&bytes.bytes[at..]);
            shown.0.set(kept);
            return;
        }
        drop(kept);
        let start = out.len();
        let mut calls = Vec::new();
        self.write_object(out, record, Some(&mut calls));
        shown
            .0
            .set(ShownBytes::keep(mask, &out[start..], start, &calls));
    }
}

/// What a record keeps of its last projection (see [`Projection::write_shown`]): empty until
/// a call writes the record, and replaced when a call asks other fields. Not part of the
/// record's value: two records compare equal whatever their `Shown` holds.
#[derive(Default)]
pub struct Shown(Cell<Option<Box<ShownBytes>>>);

impl std::fmt::Debug for Shown {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Shown")
    }
}

impl Shown {
    /// Whether it holds a projection's bytes.
    #[cfg(test)]
    fn is_filled(&self) -> bool {
        let kept = self.0.take();
        let filled = kept.is_some();
        self.0.set(kept);
        filled
    }
}

impl PartialEq for Shown {
    fn eq(&self, _: &Shown) -> bool {
        true
    }
}

impl Eq for Shown {}

/// The bytes all [`Shown`]s together may hold; past it, records are written each time, as
/// without one (a million videos read would otherwise hold a quarter of a gigabyte more).
const SHOWN_BUDGET: usize = 64 << 20;

/// The bytes the [`Shown`]s of this process hold.
static SHOWN_BYTES: AtomicUsize = AtomicUsize::new(0);

/// A projection's bytes without its call parts, and where those go.
struct ShownBytes {
    /// The fields written (see `Buffers::mask`).
    mask: u64,
    bytes: Box<[u8]>,
    /// Where each call part goes in `bytes`, and its field's index (at most two: the
    /// records that have call parts have two such fields).
    calls: [(u32, u8); 2],
    call_count: u8,
}

impl ShownBytes {
    /// `written` (which began at `start` in its buffer) without the call parts at `calls`,
    /// if the budget has room and there are at most two.
    fn keep(
        mask: u64,
        written: &[u8],
        start: usize,
        calls: &[(usize, usize, usize)],
    ) -> Option<Box<ShownBytes>> {
        let mut places = [(0u32, 0u8); 2];
        let mut bytes = Vec::new();
        if calls.len() > places.len() {
            return None;
        }
        let mut at = 0;
        for (place, &(begin, end, index)) in places.iter_mut().zip(calls) {
            bytes.extend_from_slice(&written[at..begin - start]);
            *place = (u32::try_from(bytes.len()).ok()?, u8::try_from(index).ok()?);
            at = end - start;
        }
        bytes.extend_from_slice(&written[at..]);
        let kept = ShownBytes {
            mask,
            bytes: bytes.into_boxed_slice(),
            calls: places,
            call_count: calls.len() as u8,
        };
        // Counted from here on: dropping `kept` gives its size back.
        let size = kept.size();
        if SHOWN_BYTES.fetch_add(size, Ordering::Relaxed) + size > SHOWN_BUDGET {
            return None;
        }
        Some(Box::new(kept))
    }

    /// What it counts for in [`SHOWN_BUDGET`].
    fn size(&self) -> usize {
        self.bytes.len() + std::mem::size_of::<ShownBytes>()
    }
}

impl Drop for ShownBytes {
    fn drop(&mut self) {
        SHOWN_BYTES.fetch_sub(self.size(), Ordering::Relaxed);
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::tests::fields;
    use crate::projection::{write_escaped, write_int};

    /// A record with two call parts: the title is its own `n-` then the call's tag, the
    /// view count all the call's.
    struct Tagged<'a> {
        n: i64,
        tag: &'a str,
    }

    impl Fields for Tagged<'_> {
        const NAMES: &'static [&'static str] = &["id", "title", "view_count", "duration"];

        fn write_field(&self, index: usize, out: &mut Vec<u8>) -> bool {
            match index {
                0 => write_int(out, self.n),
                1 | 2 => {
                    self.write_own(index, out);
                    self.write_call_part(index, out);
                }
                _ => return false,
            }
            true
        }

        fn depends_on_call(index: usize) -> bool {
            matches!(index, 1 | 2)
        }

        fn write_own(&self, index: usize, out: &mut Vec<u8>) -> bool {
            match index {
                1 => {
                    out.push(b'"');
                    write_escaped(out, &format!("{}-", self.n));
                }
                2 => {}
                _ => return self.write_field(index, out),
            }
            true
        }

        fn write_call_part(&self, index: usize, out: &mut Vec<u8>) {
            match index {
                1 => {
                    write_escaped(out, self.tag);
                    out.push(b'"');
                }
                2 => write_int(out, self.tag.len() as i64),
                _ => {}
            }
        }
    }

    #[test]
    fn a_shown_record_is_written_as_it_would_be_with_the_calls_parts_anew() {
        let shown = Shown::default();
        let all = fields(&["view_count", "title", "duration", "id"]);
        let some = fields(&["id", "view_count"]);
        // Filled, copied, refilled for other fields, copied, and back.
        for (chosen, tag) in [
            (&all, "first"),
            (&all, "sec\"ond"),
            (&some, "third"),
            (&some, ""),
            (&all, "fifth"),
        ] {
            let record = Tagged { n: 41, tag };
            let (mut plain, mut kept) = (b"[".to_vec(), b"[".to_vec());
            Projection::new(chosen).write(&mut plain, &record);
            Projection::new(chosen).write_shown(&mut kept, &record, &shown);
            assert!(shown.is_filled(), "the bytes were kept");
            assert_eq!(
                String::from_utf8(kept).expect("utf-8"),
                String::from_utf8(plain).expect("utf-8"),
                "{tag:?}"
            );
        }
        let mut out = Vec::new();
        Projection::new(&all).write_shown(&mut out, &Tagged { n: 41, tag: "x" }, &shown);
        assert_eq!(out, br#"{"id":41,"title":"41-x","view_count":1}"#);
    }
}
