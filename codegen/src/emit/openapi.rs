//! The OpenAPI 3.1 document `generated/openapi.yaml`.

use crate::Model;

/// Renders `generated/openapi.yaml`.
pub fn emit_openapi(model: &Model) -> String {
    let _ = model;
    format!("# {}\nopenapi: 3.1.0\n", super::HEADER)
}
