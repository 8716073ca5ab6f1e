//! The spec as written: raw serde structs for each file of `spec/`, and the loader
//! that reads them, collecting every syntax, type and unknown-key error with its position.
//!
//! serde_yaml stays behind this module; the rest of the generator sees only these
//! structs and [`Positions`].
//!
//! `raw` holds the structs, `positions` where each node is, `loader` the reading.

mod loader;
mod positions;
mod raw;

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, NodePath};

pub use positions::{FILES, Positions, path_prefix, sort_errors};
pub use raw::*;

use loader::Loader;

/// Reads every file of `dir`, reporting every problem of syntax, type or unknown keys at once.
pub fn load(dir: &Path) -> Result<RawSpec, Error> {
    let mut texts = BTreeMap::new();
    for file in FILES {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })?;
        texts.insert(file, text);
    }
    parse(&texts)
}

/// Parses spec files given as text, keyed by file name (one of [`FILES`]).
pub fn parse(texts: &BTreeMap<&str, String>) -> Result<RawSpec, Error> {
    let mut loader = Loader {
        positions: Positions::default(),
        errors: Vec::new(),
    };
    let mut values = BTreeMap::new();
    for file in FILES {
        let text = texts.get(file).map(String::as_str).unwrap_or("");
        if let Some(value) = loader.parse(file, text) {
            values.insert(file, value);
        }
    }
    let root = NodePath::default();
    let mut take = |file: &str| values.remove(file);

    let api = take("api.yaml").and_then(|value| loader.typed::<RawApi>("api.yaml", &root, value));
    let scopes = take("scopes.yaml")
        .and_then(|value| loader.mapping("scopes.yaml", value))
        .map(|mapping| loader.entries::<RawScope>("scopes.yaml", &root, mapping))
        .unwrap_or_default();
    let mut errors = Vec::new();
    if let Some(value) = take("errors.yaml") {
        match value {
            serde_yaml::Value::Sequence(items) => {
                for (index, item) in items.into_iter().enumerate() {
                    if let Some(error) =
                        loader.typed::<RawError>("errors.yaml", &root.index(index), item)
                    {
                        errors.push(error);
                    }
                }
            }
            other => {
                let error = loader.positions.error(
                    "errors.yaml",
                    None,
                    &root,
                    "a list of errors",
                    describe(&other),
                );
                loader.errors.push(error);
            }
        }
    }
    let mut enums = Vec::new();
    let mut schemas = Vec::new();
    if let Some(value) = take("schemas.yaml")
        && let Some(raw) = loader.typed::<RawSchemas>("schemas.yaml", &root, value)
    {
        enums = loader.entries::<RawEnum>("schemas.yaml", &root.key("enums"), raw.enums);
        let base = root.key("schemas");
        for (name, schema) in loader.entries::<RawSchema>("schemas.yaml", &base, raw.schemas) {
            let fields_path = base.key(name.clone()).key("fields");
            let fields =
                loader.entries::<RawField>("schemas.yaml", &fields_path, schema.fields.clone());
            schemas.push((name, schema, fields));
        }
    }
    let endpoints = take("endpoints.yaml")
        .and_then(|value| loader.mapping("endpoints.yaml", value))
        .map(|mapping| loader.entries::<RawEndpoint>("endpoints.yaml", &root, mapping))
        .unwrap_or_default();
    let webhooks = take("webhooks.yaml")
        .and_then(|value| loader.mapping("webhooks.yaml", value))
        .map(|mapping| loader.entries::<RawWebhook>("webhooks.yaml", &root, mapping))
        .unwrap_or_default();

    match api {
        Some(api) if loader.errors.is_empty() => Ok(RawSpec {
            api,
            scopes,
            errors,
            enums,
            schemas,
            endpoints,
            webhooks,
            positions: loader.positions,
        }),
        _ => {
            let mut errors = loader.errors;
            sort_errors(&mut errors);
            Err(Error::Spec(errors))
        }
    }
}
