//! The loader: each file read twice (values and positions), each map entry deserialized on
//! its own, every syntax, type and unknown-key error collected with its position.

use serde::de::DeserializeOwned;

use crate::error::{NodePath, SpecError};
use crate::spec::positions::{Positions, path_prefix};
use crate::spec::raw::describe;

/// Collects errors while loading, so that one run reports them all.
pub(super) struct Loader {
    pub(super) positions: Positions,
    pub(super) errors: Vec<SpecError>,
}

impl Loader {
    /// Parses `text` of `file`; on a syntax error records it and returns `None`.
    ///
    /// The text is read twice: by serde_yaml for the values, and by marked-yaml for the
    /// positions of nodes. YAML that marked-yaml cannot index (anchors, aliases, tags,
    /// non-scalar keys) is reported, so that every later error in the file has a line.
    pub(super) fn parse(&mut self, file: &str, text: &str) -> Option<serde_yaml::Value> {
        let value = match serde_yaml::from_str::<serde_yaml::Value>(text) {
            Ok(value) => value,
            Err(error) => {
                let error = syntax_error(file, text, &error);
                self.errors.push(error);
                return None;
            }
        };
        let options = match value {
            serde_yaml::Value::Sequence(_) => {
                marked_yaml::LoaderOptions::default().toplevel_sequence()
            }
            _ => marked_yaml::LoaderOptions::default(),
        };
        match marked_yaml::parse_yaml_with_options(0, text, options) {
            Ok(node) => {
                self.positions.files.insert(file.to_string(), node);
                Some(value)
            }
            // A top level of the wrong kind is reported with the file's other type errors.
            Err(
                marked_yaml::LoadError::TopLevelMustBeMapping(_)
                | marked_yaml::LoadError::TopLevelMustBeSequence(_),
            ) => Some(value),
            Err(error) => {
                let (marker, found) = match &error {
                    marked_yaml::LoadError::UnexpectedAnchor(marker) => {
                        (Some(*marker), "an anchor (&name) or alias (*name)")
                    }
                    marked_yaml::LoadError::UnexpectedTag(marker) => {
                        (Some(*marker), "a tag (!name)")
                    }
                    marked_yaml::LoadError::MappingKeyMustBeScalar(marker) => {
                        (Some(*marker), "a key that is not a plain value")
                    }
                    _ => (None, "YAML the position index cannot read"),
                };
                self.errors.push(SpecError {
                    file: format!("spec/{file}"),
                    line: marker.map(|marker| marker.line()),
                    column: marker.map(|marker| marker.column()),
                    path: String::new(),
                    expected: "plain YAML".into(),
                    found: match marker {
                        Some(_) => found.into(),
                        None => format!("{found} ({error})"),
                    },
                    hint: Some(
                        "spell the value out; the spec does not use anchors, aliases or tags"
                            .into(),
                    ),
                });
                None
            }
        }
    }

    /// Deserializes `value` (the node at `base` in `file`) into `T`, recording any error.
    pub(super) fn typed<T: DeserializeOwned>(
        &mut self,
        file: &str,
        base: &NodePath,
        value: serde_yaml::Value,
    ) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(typed) => Some(typed),
            Err(error) => {
                let mut path = base.clone();
                for segment in error.path().iter() {
                    match segment {
                        serde_path_to_error::Segment::Seq { index } => path = path.index(*index),
                        serde_path_to_error::Segment::Map { key } => path = path.key(key.clone()),
                        serde_path_to_error::Segment::Enum { .. }
                        | serde_path_to_error::Segment::Unknown => {}
                    }
                }
                let message = error.into_inner().to_string();
                let (expected, found) = split_serde_message(&message);
                let bad_key = found
                    .strip_prefix("invalid type: string \"")
                    .and_then(|rest| rest.strip_suffix('"'))
                    .and_then(|key| self.positions.key_of(file, &path, key));
                let mut spec_error =
                    self.positions
                        .error(file, path_prefix(file), &path, expected, found);
                // A key of the wrong type (`five:` among integer reason codes) stops serde
                // at the mapping; point at the key itself.
                if let Some((line, column)) = bad_key {
                    spec_error.line = Some(line);
                    spec_error.column = Some(column);
                }
                if message.starts_with("unknown field") {
                    if let Some((line, column)) = self.positions.find_key(file, &path) {
                        spec_error.line = Some(line);
                        spec_error.column = Some(column);
                    }
                    spec_error.hint =
                        Some("check the spelling; spec/README.md lists every key".into());
                }
                self.errors.push(spec_error);
                None
            }
        }
    }

    /// Deserializes each entry of a mapping on its own, so one bad entry does not hide the others.
    pub(super) fn entries<T: DeserializeOwned>(
        &mut self,
        file: &str,
        base: &NodePath,
        mapping: serde_yaml::Mapping,
    ) -> Vec<(String, T)> {
        let mut out = Vec::new();
        for (key, value) in mapping {
            let Some(name) = key_string(&key) else {
                let error = self.positions.error(
                    file,
                    path_prefix(file),
                    base,
                    "string keys",
                    format!("{key:?}"),
                );
                self.errors.push(error);
                continue;
            };
            let path = base.key(name.clone());
            if let Some(entry) = self.typed::<T>(file, &path, value) {
                out.push((name, entry));
            }
        }
        out
    }

    /// Deserializes a whole file whose top level must be a mapping.
    pub(super) fn mapping(
        &mut self,
        file: &str,
        value: serde_yaml::Value,
    ) -> Option<serde_yaml::Mapping> {
        match value {
            serde_yaml::Value::Mapping(mapping) => Some(mapping),
            serde_yaml::Value::Null => Some(serde_yaml::Mapping::new()),
            other => {
                let error = self.positions.error(
                    file,
                    None,
                    &NodePath::default(),
                    "a mapping at the top level",
                    describe(&other),
                );
                self.errors.push(error);
                None
            }
        }
    }
}

/// A [`SpecError`] for a YAML syntax error, at serde_yaml's position, keeping its context
/// ("while parsing a flow mapping at line 73 column 12"), which often names the real culprit.
fn syntax_error(file: &str, text: &str, error: &serde_yaml::Error) -> SpecError {
    let mut location = error
        .location()
        .map(|location| (location.line(), location.column()));
    let message = error.to_string();
    // serde_yaml appends " at line L column C" to the problem; the position is printed first.
    let mut found = match (message.find(" at line "), &location) {
        (Some(cut), Some((line, column)))
            if message[cut..].starts_with(&format!(" at line {line} column {column}")) =>
        {
            let rest = &message[cut + format!(" at line {line} column {column}").len()..];
            format!("{}{rest}", &message[..cut])
        }
        _ => message.clone(),
    };
    let mut hint = None;
    if found.starts_with("did not find expected key") {
        hint = Some("check the indentation of this line and the lines above it".into());
    }
    if found.starts_with("duplicate entry with key") {
        // serde_yaml points at the mapping; marked-yaml finds the second key.
        let strict = || marked_yaml::LoaderOptions::default().error_on_duplicate_keys(true);
        let result = match marked_yaml::parse_yaml_with_options(0, text, strict()) {
            Err(marked_yaml::LoadError::TopLevelMustBeMapping(_)) => {
                marked_yaml::parse_yaml_with_options(0, text, strict().toplevel_sequence())
            }
            other => other,
        };
        if let Err(marked_yaml::LoadError::DuplicateKey(duplicate)) = result
            && let Some(marker) = duplicate.key.span().start()
        {
            location = Some((marker.line(), marker.column()));
            if let Some(first) = duplicate.prev_key.span().start() {
                found = format!("{found} (first at line {})", first.line());
            }
        }
        hint = Some("a key may appear only once in a mapping; rename or merge the entries".into());
    }
    SpecError {
        file: format!("spec/{file}"),
        line: location.map(|(line, _)| line),
        column: location.map(|(_, column)| column),
        path: String::new(),
        expected: "valid YAML".into(),
        found,
        hint,
    }
}

fn key_string(key: &serde_yaml::Value) -> Option<String> {
    match key {
        serde_yaml::Value::String(text) => Some(text.clone()),
        _ => None,
    }
}

/// Splits a serde message such as "invalid type: string \"x\", expected i64" into (expected, found).
fn split_serde_message(message: &str) -> (String, String) {
    if let Some(field) = message.strip_prefix("missing field ") {
        return (format!("field {field}"), "nothing".into());
    }
    if let Some(cut) = message.find(", expected ") {
        return (
            message[cut + ", expected ".len()..].to_string(),
            message[..cut].to_string(),
        );
    }
    ("a valid value".into(), message.to_string())
}
