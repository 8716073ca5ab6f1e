//! What an operator reads: every line the commands print goes through [`print()`] (plain
//! text, its control and bidi characters escaped by `tiktok_agent::escape_controls`) or
//! [`print_json`] (JSON with those characters as `\u` escapes), and [`eprint()`] for stderr.
//! A closed stdout (`audit tail | head -1`) ends the output quietly: [`print()`] returns
//! [`ClosedPipe`], which the command treats as a normal end.

use std::io::Write;

use serde_json::Value;
use tiktok_agent::{escape_controls, escape_json};

/// Whoever read stdout has gone (`| head -1`): nothing more can be printed, and that is
/// not a failure.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed")]
pub struct ClosedPipe;

/// Why a line could not be printed.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// The reader went away.
    #[error(transparent)]
    Closed(#[from] ClosedPipe),
    /// Writing failed otherwise.
    #[error("cannot write to stdout")]
    Io(#[source] std::io::Error),
}

/// `text` as one line an operator can read safely (what [`print()`] writes).
pub fn safe_line(text: &str) -> String {
    escape_controls(text).into_owned()
}

/// `value` as one JSON line an operator can read safely (what [`print_json`] writes).
pub fn safe_json(value: &Value) -> String {
    escape_json(&value.to_string()).into_owned()
}

/// Prints `text` on stdout as one line, escaped.
pub fn print(text: &str) -> Result<(), PrintError> {
    write_line(&mut std::io::stdout().lock(), &safe_line(text))
}

/// Prints `value` on stdout as one JSON line, escaped.
pub fn print_json(value: &Value) -> Result<(), PrintError> {
    write_line(&mut std::io::stdout().lock(), &safe_json(value))
}

/// Prints `text` on stderr as one line, escaped; a closed stderr is ignored (an MCP
/// client may close it), never a panic.
pub fn eprint(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", safe_line(text));
}

fn write_line(out: &mut impl Write, line: &str) -> Result<(), PrintError> {
    let written = writeln!(out, "{line}").and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Err(ClosedPipe.into()),
        Err(error) => Err(PrintError::Io(error)),
    }
}
