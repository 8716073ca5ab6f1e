//! What every rule shares: the [`Checker`] that collects problems with their positions,
//! the spec's file names, the [`Names`] a reference may point at, and small number and
//! name checks.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{NodePath, SpecError};
use crate::spec::{self, RawSpec};

/// Collects problems with their positions.
pub(super) struct Checker<'a> {
    pub(super) raw: &'a RawSpec,
    pub(super) errors: Vec<SpecError>,
    /// Fields (schema, field) whose type did not resolve; already reported, so later
    /// rules skip them rather than report the stand-in type.
    pub(super) unresolved_fields: BTreeSet<(String, String)>,
}

impl Checker<'_> {
    pub(super) fn fail(
        &mut self,
        file: &str,
        path: NodePath,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) {
        let error = self
            .raw
            .positions
            .error(file, spec::path_prefix(file), &path, expected, found);
        self.errors.push(error);
    }

    pub(super) fn fail_hint(
        &mut self,
        file: &str,
        path: NodePath,
        expected: impl Into<String>,
        found: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.fail(file, path, expected, found);
        if let Some(last) = self.errors.last_mut() {
            last.hint = Some(hint.into());
        }
    }
}

pub(super) const API: &str = "api.yaml";
pub(super) const SCOPES: &str = "scopes.yaml";
pub(super) const ERRORS: &str = "errors.yaml";
pub(super) const SCHEMAS: &str = "schemas.yaml";
pub(super) const ENDPOINTS: &str = "endpoints.yaml";
pub(super) const WEBHOOKS: &str = "webhooks.yaml";

/// Every name a reference may point at.
pub(super) struct Names {
    pub(super) scopes: BTreeSet<String>,
    pub(super) errors: BTreeMap<String, u16>,
    pub(super) enums: BTreeMap<String, Vec<String>>,
    pub(super) schemas: BTreeSet<String>,
    pub(super) endpoints: BTreeSet<String>,
    pub(super) webhooks: BTreeSet<String>,
    pub(super) sources: BTreeSet<String>,
    pub(super) groups: BTreeSet<String>,
    pub(super) tiers: BTreeMap<String, i64>,
}

impl Names {
    pub(super) fn collect(raw: &RawSpec) -> Self {
        Names {
            scopes: raw.scopes.iter().map(|(name, _)| name.clone()).collect(),
            errors: raw
                .errors
                .iter()
                .map(|error| (error.code.clone(), u16::try_from(error.status).unwrap_or(0)))
                .collect(),
            enums: raw
                .enums
                .iter()
                .map(|(name, enumeration)| (name.clone(), enumeration.values.clone()))
                .collect(),
            schemas: raw
                .schemas
                .iter()
                .map(|(name, _, _)| name.clone())
                .collect(),
            endpoints: raw.endpoints.iter().map(|(name, _)| name.clone()).collect(),
            webhooks: raw.webhooks.iter().map(|(name, _)| name.clone()).collect(),
            sources: raw.api.sources.keys().cloned().collect(),
            groups: raw.api.groups.keys().cloned().collect(),
            tiers: raw
                .api
                .rate_limit_tiers
                .iter()
                .map(|(name, tier)| (name.clone(), tier.per_minute))
                .collect(),
        }
    }
}

pub(super) fn known_list(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// A non-negative integer that fits `T`, or a problem at `path`.
pub(super) fn count<T: TryFrom<i64> + Default>(
    checker: &mut Checker,
    file: &str,
    path: NodePath,
    value: i64,
    min: i64,
) -> T {
    if value < min {
        checker.fail(
            file,
            path,
            format!("a number of at least {min}"),
            value.to_string(),
        );
        return T::default();
    }
    T::try_from(value).unwrap_or_else(|_| {
        checker.fail(file, path, "a smaller number", value.to_string());
        T::default()
    })
}

pub(super) fn is_snake(text: &str) -> bool {
    !text.is_empty()
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
