//! TikTok-style log ids: a 14-digit UTC timestamp and 20 uppercase hex characters, made
//! on the stack ([`LogId`]) so a response can carry one without an allocation.

use std::cell::Cell;

use rand::RngCore;

use crate::clock::utc_parts;

/// The length of a log id.
const LEN: usize = 34;

/// A log id, e.g. `202210112248442CB9319E1FB30C1073F3`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LogId([u8; LEN]);

impl LogId {
    /// A fresh log id for a response sent at `unix_ms`.
    pub fn new(unix_ms: i64) -> LogId {
        let mut bytes = [0u8; LEN];
        bytes[..14].copy_from_slice(&timestamp(unix_ms.div_euclid(1000)));
        // 20 hex digits: 80 random bits, two digits per byte.
        let (high, low) = (next_random(), next_random());
        let mut random = [0u8; 10];
        random[..2].copy_from_slice(&high.to_le_bytes()[..2]);
        random[2..].copy_from_slice(&low.to_le_bytes());
        for (index, byte) in random.iter().enumerate() {
            let pair = HEX_PAIRS[usize::from(*byte)];
            bytes[14 + 2 * index..16 + 2 * index].copy_from_slice(&pair);
        }
        LogId(bytes)
    }

    /// A log id read back from text: 34 ASCII digits and uppercase hex letters.
    pub fn parse(text: &str) -> Option<LogId> {
        let bytes: [u8; LEN] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|byte| byte.is_ascii_digit() || (b'A'..=b'F').contains(byte))
            .then_some(LogId(bytes))
    }

    /// The log id's bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The log id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and hex letters are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for LogId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for LogId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LogId({})", self.as_str())
    }
}

thread_local! {
    /// Each thread's wyrand state, seeded from the system's generator on first use.
    static STATE: Cell<u64> = const { Cell::new(0) };
    /// The last second's 14 digits, so a second's log ids format it once.
    static LAST_SECOND: Cell<(i64, [u8; 14])> = const { Cell::new((i64::MIN, [0; 14])) };
}

/// Each byte's two uppercase hex digits.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut pairs = [[0u8; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [HEX[byte >> 4], HEX[byte & 0x0f]];
        byte += 1;
    }
    pairs
};

/// `YYYYMMDDhhmmss` (UTC) of a Unix second.
fn timestamp(second: i64) -> [u8; 14] {
    if let Ok(Some(digits)) = LAST_SECOND.try_with(|last| {
        let (known, digits) = last.get();
        (known == second).then_some(digits)
    }) {
        return digits;
    }
    let (year, month, day, hour, minute, second_of_minute) = utc_parts(second * 1000);
    let mut digits = [0u8; 14];
    put_digits(&mut digits[0..4], year.clamp(0, 9999) as u32);
    put_digits(&mut digits[4..6], month);
    put_digits(&mut digits[6..8], day);
    put_digits(&mut digits[8..10], hour);
    put_digits(&mut digits[10..12], minute);
    put_digits(&mut digits[12..14], second_of_minute);
    let _ = LAST_SECOND.try_with(|last| last.set((second, digits)));
    digits
}

/// 64 random bits from a per-thread wyrand: log ids need to differ, not to be secret.
fn next_random() -> u64 {
    STATE.with(|state| {
        let mut seed = state.get();
        if seed == 0 {
            seed = rand::rng().next_u64() | 1;
        }
        seed = seed.wrapping_add(0xa076_1d64_78bd_642f);
        state.set(seed);
        let product = u128::from(seed) * u128::from(seed ^ 0xe703_7ed1_a0b4_28db);
        ((product >> 64) ^ product) as u64
    })
}

/// Writes `value` as decimal digits filling `out`, zero-padded (higher digits dropped).
fn put_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// A fresh log id for a response sent at `unix_ms`, e.g. `202210112248442CB9319E1FB30C1073F3`.
pub fn new_log_id(unix_ms: i64) -> String {
    LogId::new(unix_ms).as_str().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_id_shape() {
        let log_id = new_log_id(1_665_528_524_000);
        assert_eq!(log_id.len(), 34);
        assert!(log_id.starts_with("20221011224844"));
        assert!(
            log_id[14..]
                .chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
        );
        assert_ne!(log_id, new_log_id(1_665_528_524_000));
        assert!(LogId::new(0).as_str().starts_with("19700101000000"));
        let log_id = LogId::new(5);
        assert_eq!(LogId::parse(log_id.as_str()), Some(log_id));
        assert_eq!(LogId::parse("2022"), None);
    }
}
