//! Typed client for the TikTok v2 API (being generated; see issue "Spine").
pub mod meta;
/// Placeholder until the scope enum is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {}
/// Placeholder until the error codes are generated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {}
