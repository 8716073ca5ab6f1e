//! Reads the TikTok v2 API spec (`spec/*.yaml`) into a validated [`model::Model`]
//! and emits the client crate, the OpenAPI document and the reference from it.
//!
//! The only I/O here is [`load`] reading the spec; emitters are pure functions from
//! the model to text, and `xtask` writes the files.

pub mod error;
pub mod model;
pub mod spec;
pub mod emit;
mod validate;

use std::path::Path;

pub use error::{Error, SpecError};
pub use model::Model;

/// Loads and validates the spec in `dir` (normally `spec/`).
pub fn load(dir: &Path) -> Result<Model, Error> {
    let raw = spec::load(dir)?;
    validate::validate(&raw)
}

/// Validates spec files given as text, keyed by file name; for tests.
pub fn load_texts(texts: &std::collections::BTreeMap<&str, String>) -> Result<Model, Error> {
    let raw = spec::parse(texts)?;
    validate::validate(&raw)
}
