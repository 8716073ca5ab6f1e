//! Where things are: the spec's files in reading order, the line and column of each node,
//! the path prefix of each file, and the order errors are reported in.

use std::collections::BTreeMap;

use crate::error::{NodePath, Segment, SpecError};

/// The files of a spec directory, in the order they are read.
pub const FILES: [&str; 6] = [
    "api.yaml",
    "scopes.yaml",
    "errors.yaml",
    "schemas.yaml",
    "endpoints.yaml",
    "webhooks.yaml",
];

/// Line and column of each node of each file, looked up by path.
#[derive(Debug, Default)]
pub struct Positions {
    pub(super) files: BTreeMap<String, marked_yaml::Node>,
}

impl Positions {
    /// The position of the node at `path` in `file`, or of its nearest ancestor that exists.
    ///
    /// A path that ends in a key points at the key's value when that is a scalar, and at
    /// the key otherwise (a flow value's span can start after the key).
    pub fn find(&self, file: &str, path: &NodePath) -> Option<(usize, usize)> {
        self.locate(file, path, false)
    }

    /// Like [`Positions::find`], but a path that ends in a key points at the key itself;
    /// for problems with the key, such as an unknown or misspelled one.
    pub fn find_key(&self, file: &str, path: &NodePath) -> Option<(usize, usize)> {
        self.locate(file, path, true)
    }

    /// The position of the key `key` of the mapping at `path`, if there is one.
    pub(super) fn key_of(&self, file: &str, path: &NodePath, key: &str) -> Option<(usize, usize)> {
        let mut node = self.files.get(file)?;
        for segment in &path.0 {
            node = match segment {
                Segment::Key(key) => node.as_mapping()?.get_node(key)?,
                Segment::Index(index) => node.as_sequence()?.get(*index)?,
            };
        }
        let (name, _) = node
            .as_mapping()?
            .iter()
            .find(|(name, _)| name.as_str() == key)?;
        let marker = name.span().start()?;
        Some((marker.line(), marker.column()))
    }

    fn locate(&self, file: &str, path: &NodePath, at_key: bool) -> Option<(usize, usize)> {
        let mut node = self.files.get(file)?;
        let mut best = node
            .span()
            .start()
            .map(|marker| (marker.line(), marker.column()));
        for (position, segment) in path.0.iter().enumerate() {
            let last = position + 1 == path.0.len();
            let next = match segment {
                Segment::Key(key) => node.as_mapping().and_then(|map| {
                    map.iter()
                        .find(|(name, _)| name.as_str() == key)
                        .map(|(name, value)| {
                            if let Some(marker) = name.span().start() {
                                best = Some((marker.line(), marker.column()));
                            }
                            value
                        })
                }),
                Segment::Index(index) => node.as_sequence().and_then(|seq| seq.get(*index)),
            };
            match next {
                Some(next_node) => {
                    node = next_node;
                    let on_key = at_key && last && matches!(segment, Segment::Key(_));
                    if let Some(marker) = node.span().start()
                        && !on_key
                        && (matches!(segment, Segment::Index(_)) || node.as_scalar().is_some())
                    {
                        best = Some((marker.line(), marker.column()));
                    }
                }
                None => break,
            }
        }
        best
    }

    /// Builds a [`SpecError`] for `path` in `file`, looking up its position.
    pub fn error(
        &self,
        file: &str,
        prefix: Option<&str>,
        path: &NodePath,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> SpecError {
        let position = self.find(file, path);
        let shown = match prefix {
            Some(prefix) => {
                let mut segments = vec![Segment::Key(prefix.to_string())];
                segments.extend(path.0.iter().cloned());
                NodePath(segments)
            }
            None => path.clone(),
        };
        SpecError {
            file: format!("spec/{file}"),
            line: position.map(|(line, _)| line),
            column: position.map(|(_, column)| column),
            path: shown.to_string(),
            expected: expected.into(),
            found: found.into(),
            hint: None,
        }
    }
}

/// The prefix printed before paths of `file`: collections are named after their file.
pub fn path_prefix(file: &str) -> Option<&'static str> {
    match file {
        "scopes.yaml" => Some("scopes"),
        "errors.yaml" => Some("errors"),
        "endpoints.yaml" => Some("endpoints"),
        "webhooks.yaml" => Some("webhooks"),
        _ => None,
    }
}

/// Sorts errors by file (in [`FILES`] order), then line, then path.
pub fn sort_errors(errors: &mut [SpecError]) {
    let rank = |file: &str| {
        FILES
            .iter()
            .position(|name| file.ends_with(name))
            .unwrap_or(FILES.len())
    };
    errors.sort_by(|a, b| {
        (rank(&a.file), a.line, a.column, &a.path).cmp(&(rank(&b.file), b.line, b.column, &b.path))
    });
}
