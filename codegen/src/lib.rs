//! Reads the TikTok v2 API spec (`spec/*.yaml`) into a validated [`model::Model`]
//! and emits the client crate, the OpenAPI document and the reference from it.
//!
//! The only I/O here is [`load`] reading the spec; emitters are pure functions from
//! the model to text, and `xtask` writes the files.

pub mod emit;
pub mod error;
pub mod model;
pub mod spec;
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

/// Every generated file for the spec in `dir`, as (path relative to the workspace root, contents).
///
/// Deterministic: the same spec gives byte-identical output on every run.
pub fn generate(dir: &Path) -> Result<Vec<(String, String)>, Error> {
    let model = load(dir)?;
    generate_from(&model)
}

/// Every generated file for an already-validated model.
pub fn generate_from(model: &Model) -> Result<Vec<(String, String)>, Error> {
    let mut files: Vec<(String, String)> = emit::client::emit_client(model)?
        .into_iter()
        .map(|(path, contents)| (format!("generated/{path}"), contents))
        .collect();
    files.push((
        "generated/REFERENCE.md".into(),
        emit::docs::emit_reference(model),
    ));
    files.push((
        "generated/openapi.yaml".into(),
        emit::openapi::emit_openapi(model),
    ));
    files.push((
        "generated/tools.json".into(),
        emit::tools::emit_tools(model),
    ));
    Ok(files)
}
