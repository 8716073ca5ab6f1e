//! Conformance suite: property tests live in `tests/`.
