//! Checking the audit log's chain ([`crate::SqliteAuditLog::verify`]'s checking threads):
//! each stored entry hashes to its row's hash, links to the record before it, is in
//! canonical form and agrees with its row's indexed columns. An entry is read once, into
//! [`Entry`], a typed view borrowing from its text whose fields are in canonical (sorted)
//! order, and written back once to compare: no tree of JSON values per record.

use std::borrow::Cow;
use std::sync::mpsc::Receiver;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tiktok_api::meta::Access;

use crate::audit::Decision;

/// The first record of the chain that is not what was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit record {seq}: {problem}")]
pub struct ChainError {
    /// The record's sequence number (the first is 1).
    pub seq: u64,
    /// What is wrong with it.
    pub problem: String,
}

/// Records per batch `verify` hands a checking thread.
pub(crate) const BATCH: usize = 1024;
/// Checking threads of `verify`.
pub(crate) const CHECKERS: usize = 2;

/// A stored row: its columns as read, borrowed.
pub(crate) struct Row<'a> {
    pub(crate) seq: u64,
    pub(crate) time_ms: i64,
    pub(crate) agent: &'a str,
    pub(crate) endpoint: &'a str,
    pub(crate) decision: &'a str,
    pub(crate) entry: &'a str,
    pub(crate) hash: &'a str,
}

/// Where one row's text columns end in its batch's text, and its numbers.
struct Packed {
    seq: u64,
    time_ms: i64,
    /// The ends of `agent`, `endpoint`, `decision`, `entry` and `hash`, in that order.
    ends: [usize; 5],
}

/// Consecutive records, and the hash of the one before the first. Their text columns are
/// packed into one string (two allocations a batch, not five a row: the reading thread
/// allocates what a checking thread frees, and the allocator's lock between them was a
/// tenth of `verify`'s time).
pub(crate) struct Batch {
    prev_hash: String,
    text: String,
    rows: Vec<Packed>,
}

impl Batch {
    /// An empty batch after the record whose hash is `prev_hash`.
    pub(crate) fn after(prev_hash: &str) -> Batch {
        Batch {
            prev_hash: prev_hash.to_owned(),
            text: String::with_capacity(BATCH * 700),
            rows: Vec::with_capacity(BATCH),
        }
    }

    /// Adds `row`.
    pub(crate) fn push(&mut self, row: &Row<'_>) {
        let mut ends = [0; 5];
        for (end, column) in
            ends.iter_mut()
                .zip([row.agent, row.endpoint, row.decision, row.entry, row.hash])
        {
            self.text.push_str(column);
            *end = self.text.len();
        }
        self.rows.push(Packed {
            seq: row.seq,
            time_ms: row.time_ms,
            ends,
        });
    }

    /// How many rows it holds.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Its rows, in order.
    fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        let mut start = 0;
        self.rows.iter().map(move |packed| {
            let [agent, endpoint, decision, entry, hash] = packed.ends;
            let row = Row {
                seq: packed.seq,
                time_ms: packed.time_ms,
                agent: &self.text[start..agent],
                endpoint: &self.text[agent..endpoint],
                decision: &self.text[endpoint..decision],
                entry: &self.text[decision..entry],
                hash: &self.text[entry..hash],
            };
            start = hash;
            row
        })
    }
}

/// A canonical entry as written: an [`crate::AuditRecord`]'s fields with `seq` and
/// `prev_hash`, in the sorted order canonical JSON puts them in, so that serializing it
/// gives the canonical text back (the arguments, an object of their own, are checked
/// apart). A field the record does not have is refused.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry<'a> {
    access: Option<Access>,
    #[serde(borrow)]
    agent: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    approval: Option<Cow<'a, str>>,
    #[serde(borrow)]
    arguments: &'a RawValue,
    decision: Decision,
    #[serde(borrow)]
    endpoint: Cow<'a, str>,
    latency_ms: u64,
    #[serde(borrow)]
    log_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    open_id: Cow<'a, str>,
    #[serde(borrow)]
    prev_hash: Cow<'a, str>,
    #[serde(borrow)]
    reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    scopes: Vec<Cow<'a, str>>,
    seq: u64,
    status: Option<u16>,
    time_ms: i64,
}

/// Checks each batch `batches` brings, until they stop coming or one record is bad.
pub(crate) fn check_batches(batches: Receiver<Batch>) -> Result<(), ChainError> {
    let mut scratch = Scratch::default();
    for batch in batches {
        let mut prev_hash = batch.prev_hash.as_str();
        for row in batch.rows() {
            check_row(&row, prev_hash, &mut scratch)?;
            prev_hash = row.hash;
        }
    }
    Ok(())
}

/// Buffers one checking thread reuses from record to record.
#[derive(Default)]
pub(crate) struct Scratch {
    entry: Vec<u8>,
    arguments: Vec<u8>,
}

/// Checks one record against its own hash and the hash of the one before it: the entry
/// hashes to the stored hash, is canonical JSON, holds the row's number and `prev_hash`,
/// reads as a record, and agrees with the row's indexed columns.
pub(crate) fn check_row(
    row: &Row<'_>,
    prev_hash: &str,
    scratch: &mut Scratch,
) -> Result<(), ChainError> {
    let bad = |problem: String| ChainError {
        seq: row.seq,
        problem,
    };
    let mut hash = [0u8; 64];
    // 32 bytes always fit 64 hex digits.
    let _ = hex::encode_to_slice(Sha256::digest(row.entry.as_bytes()), &mut hash);
    if hash[..] != *row.hash.as_bytes() {
        return Err(bad(format!(
            "entry hashes to {}, but {} is stored",
            String::from_utf8_lossy(&hash),
            row.hash
        )));
    }
    let entry: Entry<'_> = serde_json::from_str(row.entry)
        .map_err(|error| bad(format!("entry is not a record: {error}")))?;
    scratch.entry.clear();
    serde_json::to_writer(&mut scratch.entry, &entry)
        .map_err(|error| bad(format!("entry: {error}")))?;
    scratch.arguments.clear();
    let canonical = echo_canonical(entry.arguments.get(), &mut scratch.arguments)
        .map_err(|error| bad(format!("arguments: {error}")))?;
    if scratch.entry != row.entry.as_bytes()
        || !canonical
        || scratch.arguments != entry.arguments.get().as_bytes()
    {
        return Err(bad("entry is not in canonical form".into()));
    }
    if entry.seq != row.seq {
        return Err(bad("entry's seq differs from the row's".into()));
    }
    if entry.prev_hash != prev_hash {
        return Err(bad(format!(
            "prev_hash is not the hash of record {} ({prev_hash})",
            row.seq - 1
        )));
    }
    if entry.time_ms != row.time_ms
        || entry.agent != row.agent
        || entry.endpoint != row.endpoint
        || entry.decision.as_str() != row.decision
    {
        return Err(bad("indexed columns differ from the entry".into()));
    }
    Ok(())
}

/// Writes the JSON value `text` holds to `out` as [`crate::canonical_json`] would, but in
/// the order read, in one pass with no tree of values; returns whether every object's keys
/// were in canonical (strictly increasing) order. Canonical text is written back unchanged;
/// any other text is not, or is out of order.
fn echo_canonical(text: &str, out: &mut Vec<u8>) -> Result<bool, serde_json::Error> {
    let mut sorted = true;
    let mut reader = serde_json::Deserializer::from_str(text);
    Echo {
        out,
        sorted: &mut sorted,
    }
    .deserialize(&mut reader)?;
    reader.end()?;
    Ok(sorted)
}

/// One value of [`echo_canonical`]'s pass.
struct Echo<'o> {
    out: &'o mut Vec<u8>,
    sorted: &'o mut bool,
}

impl Echo<'_> {
    fn scalar(self, value: impl Serialize) {
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *self.out, &value);
    }

    fn again(&mut self) -> Echo<'_> {
        Echo {
            out: self.out,
            sorted: self.sorted,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Echo<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Echo<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<(), E> {
        self.scalar(value);
        Ok(())
    }

    fn visit_i64<E>(self, value: i64) -> Result<(), E> {
        self.scalar(value);
        Ok(())
    }

    fn visit_u64<E>(self, value: u64) -> Result<(), E> {
        self.scalar(value);
        Ok(())
    }

    fn visit_f64<E>(self, value: f64) -> Result<(), E> {
        // As a `Value` writes it: a number that is not finite is `null`.
        self.scalar(serde_json::Value::from(value));
        Ok(())
    }

    fn visit_str<E>(self, value: &str) -> Result<(), E> {
        self.scalar(value);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut items: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        loop {
            let at = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if items.next_element_seed(self.again())?.is_none() {
                self.out.truncate(at);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut entries: A) -> Result<(), A::Error> {
        self.out.push(b'{');
        let mut previous: Option<Cow<'de, str>> = None;
        while let Some(Key(key)) = entries.next_key()? {
            if previous.is_some() {
                self.out.push(b',');
            }
            if previous.as_ref().is_some_and(|previous| *previous >= key) {
                *self.sorted = false;
            }
            let _ = serde_json::to_writer(&mut *self.out, &*key);
            self.out.push(b':');
            entries.next_value_seed(self.again())?;
            previous = Some(key);
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// An object's key, borrowed from the text when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a key")
            }

            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::AuditRecord;
    use crate::audit::canonical_json;

    /// The canonical text of `record` at `seq` after `prev_hash`, as the log writes it.
    fn canonical(record: &AuditRecord, seq: u64, prev_hash: &str) -> String {
        let mut value = serde_json::to_value(record).unwrap();
        value["seq"] = seq.into();
        value["prev_hash"] = prev_hash.into();
        canonical_json(&value)
    }

    /// `record`'s row at seq 7 with `entry`, checked after `prev_hash`, both straight and
    /// packed into a batch as `verify` hands it over.
    fn check(record: &AuditRecord, entry: &str, prev_hash: &str) -> Result<(), ChainError> {
        let hash = hex::encode(Sha256::digest(entry.as_bytes()));
        let row = Row {
            seq: 7,
            time_ms: record.time_ms,
            agent: &record.agent,
            endpoint: &record.endpoint,
            decision: record.decision.as_str(),
            entry,
            hash: &hash,
        };
        let straight = check_row(&row, prev_hash, &mut Scratch::default());
        let mut batch = Batch::after(prev_hash);
        batch.push(&row);
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        sender.send(batch).unwrap();
        drop(sender);
        assert_eq!(check_batches(receiver), straight);
        straight
    }

    #[test]
    fn every_field_of_a_record_reads_back_into_the_same_canonical_text() {
        // Every field set, named one by one: a field added to `AuditRecord` does not compile
        // here until `Entry` (and this record) have it too.
        let full = AuditRecord {
            time_ms: 1_765_000_000_123,
            agent: "poster".into(),
            open_id: "open.\"quoted\"\u{1}".into(),
            endpoint: "video_init".into(),
            scopes: vec!["video.upload".into(), "video.publish".into()],
            access: Some(Access::Write),
            decision: Decision::Allowed,
            reason: Some("a reason ✓ \u{2028}".into()),
            status: Some(200),
            log_id: Some("log".into()),
            latency_ms: 12,
            arguments: json!({"post_info": {"title": "[redacted: 1 chars]", "privacy_level": "SELF_ONLY"}, "source_info": {"source": "FILE_UPLOAD", "video_size": 10}}),
            approval: Some("approval-1".into()),
        };
        let bare = AuditRecord::event(
            "a",
            "o",
            "nope",
            &json!(null),
            Decision::Invalid,
            None,
            None,
        );
        for record in [full, bare] {
            let entry = canonical(&record, 7, "ab");
            assert_eq!(check(&record, &entry, "ab"), Ok(()));
        }
    }

    #[test]
    fn the_one_pass_check_of_arguments_agrees_with_canonical_json() {
        let values = [
            json!(null),
            json!({"a": 1, "b": [true, false, null, -3, 2.5, 1e300, "x\u{1}\"\\é\u{2028}"], "c": {}}),
            json!({"fields": ["open_id", "union_id"], "max_count": 20, "cursor": 1_765_000_000_123_u64}),
            json!([[], [{}], {"": 0, "\u{0}": -0.0, "z": {"y": {"x": [1, {"b": 2, "a": 1}]}}}]),
            json!(-9_223_372_036_854_775_808_i64),
            json!(18_446_744_073_709_551_615_u64),
        ];
        for value in values {
            let text = canonical_json(&value);
            let mut out = Vec::new();
            assert!(echo_canonical(&text, &mut out).unwrap(), "{text}");
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
        // Out of order, duplicated, spaced, escaped differently, or trailing: told apart.
        for text in [
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":1}"#,
            r#"{"a": 1}"#,
            r#"["\u0041"]"#,
            r#"[1e0]"#,
            r#"{"a":1} "#,
        ] {
            let mut out = Vec::new();
            let same =
                echo_canonical(text, &mut out).is_ok_and(|sorted| sorted && out == text.as_bytes());
            assert!(!same, "{text} passed as canonical");
        }
    }

    #[test]
    fn an_entry_out_of_canonical_form_or_with_a_field_of_its_own_is_refused() {
        let record = AuditRecord::event(
            "a",
            "o",
            "user_info",
            &json!({"fields": ["open_id"]}),
            Decision::Allowed,
            None,
            None,
        );
        let entry = canonical(&record, 7, "ab");
        let spaced = entry.replacen(":", ": ", 1);
        let extra = entry.replacen("{", "{\"extra\":1,", 1);
        let unsorted_arguments = entry.replacen(
            "\"arguments\":{\"fields\":[\"open_id\"]}",
            "\"arguments\":{\"z\":1,\"fields\":[\"open_id\"]}",
            1,
        );
        assert_ne!(unsorted_arguments, entry);
        for changed in [spaced, extra, unsorted_arguments] {
            let found = check(&record, &changed, "ab");
            assert!(found.is_err(), "{changed} was accepted");
        }
        let found = check(&record, &entry, "cd").unwrap_err();
        assert!(found.problem.starts_with("prev_hash"), "{found}");
    }
}
