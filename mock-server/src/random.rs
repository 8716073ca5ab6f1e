//! Random strings: the one helper behind tokens, upload tokens and authorization codes
//! (each at least 128 random bits), publish ids' numbers (128 bits), and the constant-time comparison of secrets.

use rand::Rng;
use rand::distr::Alphanumeric;

/// `len` random ASCII letters and digits.
pub fn random_text(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A token string: the prefix and 48 random alphanumerics.
pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", random_text(48))
}

/// The number of a publish id: 128 random bits in decimal (at most 39 digits; TikTok's
/// are decimal too, and a publish id is at most 64 characters with its prefix), so a
/// publish id cannot be guessed from another.
pub fn publish_number() -> String {
    rand::rng().random::<u128>().to_string()
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn secrets_equal(expected: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_at_least_128_random_bits() {
        // 62 symbols carry log2(62) > 5.95 bits each.
        let bits = |chars: usize| chars as f64 * 62f64.log2();
        assert!(bits(random_token("act.").len() - 4) >= 128.0);
        assert!(bits(24) >= 128.0, "upload tokens are 24 characters");
        let a = random_token("act.");
        assert_ne!(a, random_token("act."));
        assert!(secrets_equal(&a, &a.clone()));
        assert!(!secrets_equal(&a, &a[..a.len() - 1]));
        assert!(!secrets_equal("secret", "secreT"));
    }

    #[test]
    fn publish_numbers_are_128_random_bits_in_decimal() {
        let numbers: std::collections::HashSet<String> =
            (0..1000).map(|_| publish_number()).collect();
        assert_eq!(numbers.len(), 1000);
        for number in &numbers {
            assert!(
                number.parse::<u128>().is_ok() && number.len() <= 39,
                "{number}"
            );
        }
        // Every bit position is set in some number: the full 128 bits are drawn.
        let union = numbers
            .iter()
            .fold(0u128, |all, n| all | n.parse::<u128>().unwrap_or(0));
        assert_eq!(union, u128::MAX);
        assert!("v_inbox_file~v2.".len() + 39 <= 64);
    }
}
