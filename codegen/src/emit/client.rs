//! The client crate's generated source (`generated/src/gen/*.rs`), built with syn and quote.
