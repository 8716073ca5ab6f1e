//! The spec as written: raw serde structs for each file of `spec/`, and the loader
//! that reads them, collecting every syntax, type and unknown-key error with its position.
//!
//! serde_yaml stays behind this module; the rest of the generator sees only these
//! structs and [`Positions`].

#![allow(missing_docs)] // The raw structs mirror spec/README.md key for key.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, NodePath, Segment, SpecError};

/// The files of a spec directory, in the order they are read.
pub const FILES: [&str; 6] = [
    "api.yaml",
    "scopes.yaml",
    "errors.yaml",
    "schemas.yaml",
    "endpoints.yaml",
    "webhooks.yaml",
];

/// `spec/api.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    pub info: RawInfo,
    pub base_urls: RawBaseUrls,
    pub groups: BTreeMap<String, RawGroup>,
    pub sources: BTreeMap<String, RawSource>,
    pub rate_limit_tiers: BTreeMap<String, RawTier>,
    pub oauth: RawOauth,
    pub uploads: RawUploads,
    #[serde(default)]
    pub divergences: Vec<RawDivergence>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInfo {
    pub title: String,
    pub version: String,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBaseUrls {
    pub api: String,
    pub authorize: String,
    pub upload: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub title: String,
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub title: String,
    pub url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub per_minute: i64,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVersioned<T> {
    pub current: T,
    pub previous: T,
    #[serde(default)]
    pub description: Option<String>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOauth {
    pub access_token_ttl_seconds: RawVersioned<i64>,
    pub refresh_token_ttl_seconds: RawVersioned<i64>,
    pub client_token_ttl_seconds: RawVersioned<i64>,
    pub refresh_rotation: RawVersioned<String>,
    pub code_ttl_seconds: RawVersioned<i64>,
    pub scope_separator: String,
    pub pkce: RawPkce,
    pub code_verifier_length: RawRange,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPkce {
    pub methods: Vec<String>,
    pub challenge_encodings: Vec<String>,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRange {
    pub min: i64,
    pub max: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUploads {
    pub upload_url_ttl_seconds: i64,
    pub content_types: Vec<String>,
    pub chunk: RawChunkRules,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChunkRules {
    pub min_chunk_mb: i64,
    pub max_chunk_mb: i64,
    pub max_final_chunk_mb: i64,
    pub min_chunks: i64,
    pub max_chunks: i64,
    pub mb_readings: Vec<i64>,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDivergence {
    pub id: String,
    pub topic: String,
    pub seed: String,
    pub real: String,
    pub rule: String,
    pub sources: Vec<String>,
}

/// One entry of `spec/scopes.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScope {
    pub description: String,
    pub review_required: bool,
    pub source: String,
}

/// One entry of `spec/errors.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawError {
    pub code: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub status: i64,
    pub envelope: String,
    /// Whether the failure is passing: the same request may succeed if sent again later.
    #[serde(default)]
    pub transient: bool,
    pub meaning: String,
    pub action: String,
    pub source: String,
}

/// `spec/schemas.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchemas {
    pub enums: serde_yaml::Mapping,
    pub schemas: serde_yaml::Mapping,
}

/// One closed value set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnum {
    pub description: String,
    pub values: Vec<String>,
    pub source: String,
}

/// One object schema.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchema {
    pub description: String,
    pub source: String,
    pub fields: serde_yaml::Mapping,
}

/// One field of an object schema.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    #[serde(rename = "type")]
    pub ty: String,
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub max_length: Option<i64>,
    #[serde(default)]
    pub min_items: Option<i64>,
    #[serde(default)]
    pub max_items: Option<i64>,
    #[serde(default)]
    pub minimum: Option<i64>,
    #[serde(default)]
    pub maximum: Option<i64>,
    #[serde(default)]
    pub example: Option<serde_json::Value>,
    /// A credential: redacted from `Debug`, never logged.
    #[serde(default)]
    pub secret: bool,
}

/// One entry of `spec/endpoints.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub group: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub access: String,
    pub auth: String,
    pub acts_on: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub real_scopes: Option<RawRealScopes>,
    #[serde(default)]
    pub scope_by: Option<RawScopeBy>,
    #[serde(default)]
    pub fields: Option<RawFieldsParam>,
    #[serde(default)]
    pub request: Option<RawRequest>,
    pub response: RawResponse,
    #[serde(default)]
    pub paging: Option<RawPaging>,
    #[serde(default)]
    pub limits: BTreeMap<String, RawLimit>,
    pub rate_limit: RawRateLimit,
    #[serde(default)]
    pub webhooks: Vec<String>,
    #[serde(default)]
    pub real_webhooks: Option<RawRealWebhooks>,
    pub errors: Vec<RawEndpointError>,
    pub version: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRealScopes {
    pub scopes: Vec<String>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScopeBy {
    pub field: String,
    pub scopes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFieldsParam {
    pub schema: String,
    pub required: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    pub body: String,
    pub content_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResponse {
    pub data: String,
    pub envelope: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPaging {
    pub style: String,
    pub items: String,
    pub max_count: RawMaxCount,
    /// The endpoint limit that bounds `cursor + max_count` (index cursors).
    #[serde(default)]
    pub reach: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaxCount {
    pub default: i64,
    pub max: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimit {
    pub value: i64,
    pub description: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub per_minute: Option<i64>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRealWebhooks {
    pub events: Vec<String>,
    pub source: String,
}

/// An endpoint's error: a catalog code, optionally with the HTTP status this endpoint uses for it.
///
/// Written as `code` or `{code: code, status: 200}`. Deserialized by hand rather than
/// `#[serde(untagged)]`, whose only message is "data did not match any variant".
#[derive(Debug)]
pub enum RawEndpointError {
    Code(String),
    WithStatus { code: String, status: i64 },
}

impl<'de> Deserialize<'de> for RawEndpointError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct WithStatus {
            code: String,
            status: i64,
        }

        let expected = "an error code, or {code: <code>, status: <HTTP status>}";
        match serde_yaml::Value::deserialize(deserializer)? {
            serde_yaml::Value::String(code) => Ok(Self::Code(code)),
            value @ serde_yaml::Value::Mapping(_) => serde_yaml::from_value::<WithStatus>(value)
                .map(|with| Self::WithStatus {
                    code: with.code,
                    status: with.status,
                })
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format_args!(
                "invalid type: {}, expected {expected}",
                describe(&other)
            ))),
        }
    }
}

/// One entry of `spec/webhooks.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub family: String,
    pub description: String,
    pub triggered_by: Vec<String>,
    pub content: String,
    #[serde(default)]
    pub reason_codes: BTreeMap<i64, String>,
    pub source: String,
}

/// A schema with its name and its fields, in file order.
pub type RawSchemaEntry = (String, RawSchema, Vec<(String, RawField)>);

/// Every spec file as written, in file order where order matters.
#[derive(Debug)]
pub struct RawSpec {
    pub api: RawApi,
    pub scopes: Vec<(String, RawScope)>,
    pub errors: Vec<RawError>,
    pub enums: Vec<(String, RawEnum)>,
    pub schemas: Vec<RawSchemaEntry>,
    pub endpoints: Vec<(String, RawEndpoint)>,
    pub webhooks: Vec<(String, RawWebhook)>,
    /// Where each node is, for errors found after parsing.
    pub positions: Positions,
}

/// Line and column of each node of each file, looked up by path.
#[derive(Debug, Default)]
pub struct Positions {
    files: BTreeMap<String, marked_yaml::Node>,
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
    fn key_of(&self, file: &str, path: &NodePath, key: &str) -> Option<(usize, usize)> {
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

/// Collects errors while loading, so that one run reports them all.
struct Loader {
    positions: Positions,
    errors: Vec<SpecError>,
}

impl Loader {
    /// Parses `text` of `file`; on a syntax error records it and returns `None`.
    ///
    /// The text is read twice: by serde_yaml for the values, and by marked-yaml for the
    /// positions of nodes. YAML that marked-yaml cannot index (anchors, aliases, tags,
    /// non-scalar keys) is reported, so that every later error in the file has a line.
    fn parse(&mut self, file: &str, text: &str) -> Option<serde_yaml::Value> {
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
    fn typed<T: DeserializeOwned>(
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
    fn entries<T: DeserializeOwned>(
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
    fn mapping(&mut self, file: &str, value: serde_yaml::Value) -> Option<serde_yaml::Mapping> {
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

fn describe(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::Null => "nothing".into(),
        serde_yaml::Value::Bool(_) => "a boolean".into(),
        serde_yaml::Value::Number(_) => "a number".into(),
        serde_yaml::Value::String(_) => "a string".into(),
        serde_yaml::Value::Sequence(_) => "a list".into(),
        serde_yaml::Value::Mapping(_) => "a mapping".into(),
        serde_yaml::Value::Tagged(_) => "a tagged value".into(),
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
