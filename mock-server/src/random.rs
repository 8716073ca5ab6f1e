//! Random strings: the one helper behind tokens, upload tokens and authorization codes.

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
