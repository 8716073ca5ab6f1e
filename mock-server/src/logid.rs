//! TikTok-style log ids: a 14-digit UTC timestamp and 20 uppercase hex characters.

use rand::RngCore;

use crate::clock::utc_parts;

/// A fresh log id for a response sent at `unix_ms`, e.g. `202210112248442CB9319E1FB30C1073F3`.
pub fn new_log_id(unix_ms: i64) -> String {
    let (year, month, day, hour, minute, second) = utc_parts(unix_ms);
    let mut random = [0u8; 10];
    rand::rng().fill_bytes(&mut random);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}{}",
        year.clamp(0, 9999),
        month,
        day,
        hour,
        minute,
        second,
        hex::encode_upper(random)
    )
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
    }
}
