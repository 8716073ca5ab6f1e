//! Checking the audit log's chain ([`crate::SqliteAuditLog::verify`]'s checking threads):
//! each stored entry hashes to its row's hash, links to the record before it, is in
//! canonical form and agrees with its row's indexed columns. An entry is read once, into
//! [`Entry`], a typed view borrowing from its text whose fields are in canonical (sorted)
//! order, and written back once to compare: no tree of JSON values per record.

use std::borrow::Cow;
use std::sync::mpsc::Receiver;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tiktok_api::meta::Access;

use crate::audit::{Decision, write_canonical};

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

/// A stored row: its columns as read.
pub(crate) struct Row {
    pub(crate) seq: u64,
    pub(crate) time_ms: i64,
    pub(crate) agent: String,
    pub(crate) endpoint: String,
    pub(crate) decision: String,
    pub(crate) entry: String,
    pub(crate) hash: String,
}

/// Consecutive records, and the hash of the one before the first.
pub(crate) struct Batch {
    pub(crate) prev_hash: String,
    pub(crate) rows: Vec<Row>,
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
        let mut prev_hash = batch.prev_hash;
        for row in batch.rows {
            check_row(&row, &prev_hash, &mut scratch)?;
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
    row: &Row,
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
    let entry: Entry<'_> = serde_json::from_str(&row.entry)
        .map_err(|error| bad(format!("entry is not a record: {error}")))?;
    scratch.entry.clear();
    serde_json::to_writer(&mut scratch.entry, &entry)
        .map_err(|error| bad(format!("entry: {error}")))?;
    let arguments: serde_json::Value = serde_json::from_str(entry.arguments.get())
        .map_err(|error| bad(format!("arguments: {error}")))?;
    scratch.arguments.clear();
    write_canonical(&arguments, &mut scratch.arguments);
    if scratch.entry != row.entry.as_bytes()
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

    fn row_of(record: &AuditRecord, entry: String) -> Row {
        Row {
            seq: 7,
            time_ms: record.time_ms,
            agent: record.agent.clone(),
            endpoint: record.endpoint.clone(),
            decision: record.decision.as_str().into(),
            hash: hex::encode(Sha256::digest(entry.as_bytes())),
            entry,
        }
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
            let mut scratch = Scratch::default();
            assert_eq!(
                check_row(&row_of(&record, entry), "ab", &mut scratch),
                Ok(())
            );
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
            let mut scratch = Scratch::default();
            let found = check_row(&row_of(&record, changed.clone()), "ab", &mut scratch);
            assert!(found.is_err(), "{changed} was accepted");
        }
        let mut scratch = Scratch::default();
        let found = check_row(&row_of(&record, entry), "cd", &mut scratch).unwrap_err();
        assert!(found.problem.starts_with("prev_hash"), "{found}");
    }
}
