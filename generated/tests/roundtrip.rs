//! Property tests: every generated model survives JSON serialize then deserialize unchanged.
//! The strategies and tests are generated from the spec into `gen/roundtrip.rs`.

#[rustfmt::skip]
#[path = "gen/roundtrip.rs"]
mod roundtrip;
