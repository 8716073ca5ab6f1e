//! Random strings: the one helper behind tokens, upload tokens and authorization codes
//! (each at least 128 random bits), and the constant-time comparison of secrets.

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
}
