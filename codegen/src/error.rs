//! Errors of the generator: every problem in the spec, with file, line, path, expected and found.

use std::fmt;
use std::path::PathBuf;

/// One step of a path into the spec: a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Segment {
    /// A key of a mapping.
    Key(String),
    /// An index into a sequence.
    Index(usize),
}

/// A path to a node of a spec file, printed like `endpoints.video_list.scopes[0]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodePath(pub Vec<Segment>);

impl NodePath {
    /// The path with `key` appended.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.into()));
        Self(segments)
    }

    /// The path with `index` appended.
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        Self(segments)
    }
}

impl fmt::Display for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if key.contains('.') || key.is_empty() => write!(f, "[{key:?}]")?,
                Segment::Key(key) if position == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A problem in one spec file, with enough context to fix the YAML from the message alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The spec file, relative to the repository root (e.g. `spec/endpoints.yaml`).
    pub file: String,
    /// 1-based line of the node, when known.
    pub line: Option<usize>,
    /// 1-based column of the node, when known.
    pub column: Option<usize>,
    /// The path to the node, as printed (e.g. `endpoints.video_list.scopes[0]`).
    pub path: String,
    /// What the spec should have there.
    pub expected: String,
    /// What it has.
    pub found: String,
    /// A hint on how to fix it, if there is one.
    pub hint: Option<String>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": expected {}, found {}", self.expected, self.found)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Everything that can stop the generator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A spec file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The spec has problems; all of them, sorted by file and line.
    #[error("{}", render(.0))]
    Spec(Vec<SpecError>),
    /// Generated Rust did not parse; a bug in the generator.
    #[error("generated Rust for {file} does not parse: {message}")]
    Emit {
        /// The generated file.
        file: String,
        /// The parser's message.
        message: String,
    },
}

fn render(errors: &[SpecError]) -> String {
    let mut out = String::new();
    for error in errors {
        out.push_str(&error.to_string());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} problem{} in the spec",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    ));
    out
}
