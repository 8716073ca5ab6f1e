//! Hostile input to the webhook verifier: whatever header, body and clock it is given, it
//! answers `Ok` only for a body signed with the app's secret within the tolerance, and
//! never panics. Failing cases found are kept in `hostile.proptest-regressions`.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tiktok_api::webhook::{Verifier, signature_header};

/// Any app secret will do: the verifier never talks to the mock here.
const SECRET: &str = "hostile-input-secret-4f9a1c7e2b8d6f3a";

/// Headers that look almost right: the real shape with one part changed, or anything.
fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        (any::<i64>(), "[0-9a-f]{0,70}").prop_map(|(t, s)| format!("t={t},s={s}")),
        (any::<i64>(), "[0-9a-fA-F]{64}").prop_map(|(t, s)| format!("s={s},t={t}")),
        "(t=|s=|,| |=|[0-9]|[a-f]){0,80}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn forged_headers_are_refused_without_a_panic(
        header in header(),
        body in any::<Vec<u8>>(),
        now in any::<i64>(),
        tolerance in any::<i64>(),
    ) {
        let verifier = Verifier::new(SECRET).tolerance_seconds(tolerance);
        prop_assert!(verifier.verify(&header, &body, now).is_err());
    }

    #[test]
    fn a_signed_body_verifies_and_any_changed_byte_does_not(
        body in prop::collection::vec(any::<u8>(), 1..256),
        timestamp in any::<i64>(),
        skew in -300i64..=300,
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let header = signature_header(SECRET, timestamp, &body);
        let verifier = Verifier::new(SECRET);
        let now = timestamp.saturating_add(skew);
        prop_assert!(verifier.verify(&header, &body, now).is_ok());
        let mut changed = body.clone();
        let at = flip.index(changed.len());
        changed[at] ^= 1 << bit;
        prop_assert!(verifier.verify(&header, &changed, now).is_err());
        prop_assert!(Verifier::new("another-secret").verify(&header, &body, now).is_err());
    }

    #[test]
    fn a_signed_body_verifies_only_within_the_tolerance_whatever_the_clock(
        timestamp in any::<i64>(),
        now in any::<i64>(),
        tolerance in 0i64..=86_400,
    ) {
        let body = br#"{"event":"authorization.removed"}"#;
        let header = signature_header(SECRET, timestamp, body);
        let verifier = Verifier::new(SECRET).tolerance_seconds(tolerance);
        let within = i128::from(now).abs_diff(i128::from(timestamp)) <= tolerance as u128;
        prop_assert_eq!(verifier.verify(&header, body, now).is_ok(), within);
    }
}
