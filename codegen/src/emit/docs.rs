//! The reference document `generated/REFERENCE.md`, rendered with askama.

use crate::Model;

/// Renders `generated/REFERENCE.md`.
pub fn emit_reference(model: &Model) -> String {
    let _ = model;
    format!("<!-- {} -->\n", super::HEADER)
}
