//! Rules of an endpoint's paging block, and of its `reach` once every endpoint is built.

use crate::error::NodePath;
use crate::model::*;
use crate::spec;
use crate::validate::checker::{Checker, ENDPOINTS, count};

/// Rule: a paging block needs a `cursor` in the request and `cursor`, `has_more` and its items list in the response,
/// and the request's `max_count` is bounded 1 to the block's `max_count.max`.
pub(super) fn build_paging(
    checker: &mut Checker,
    path: &NodePath,
    raw: &spec::RawPaging,
    schemas: &[Schema],
    request: Option<&str>,
    response: &str,
) -> Paging {
    let paging_path = path.key("paging");
    let style = match raw.style.as_str() {
        "timestamp_ms" => PagingStyle::TimestampMs,
        "index" => PagingStyle::Index,
        other => {
            checker.fail(
                ENDPOINTS,
                paging_path.key("style"),
                "timestamp_ms or index",
                format!("{other:?}"),
            );
            PagingStyle::Index
        }
    };
    let default_max_count = count::<u32>(
        checker,
        ENDPOINTS,
        paging_path.key("max_count").key("default"),
        raw.max_count.default,
        1,
    );
    let max_max_count = count::<u32>(
        checker,
        ENDPOINTS,
        paging_path.key("max_count").key("max"),
        raw.max_count.max,
        1,
    );
    if default_max_count > max_max_count {
        checker.fail(
            ENDPOINTS,
            paging_path.key("max_count").key("default"),
            format!("at most max ({max_max_count})"),
            default_max_count.to_string(),
        );
    }
    let find = |name: &str| schemas.iter().find(|schema| schema.name == name);
    // A body or data schema that does not exist is reported by its own rule, not here.
    match request.map(find) {
        None => checker.fail_hint(
            ENDPOINTS,
            paging_path.clone(),
            "a request body with `cursor` and `max_count` fields, since the endpoint has a paging block",
            "no request body",
            "add a `request` whose body schema has `cursor` and `max_count`, or remove `paging`",
        ),
        Some(None) => {}
        Some(Some(body)) => {
            for (name, name_path) in [
                ("cursor", paging_path.clone()),
                ("max_count", paging_path.key("max_count")),
            ] {
                if body.field(name).is_none() {
                    checker.fail_hint(
                        ENDPOINTS,
                        name_path,
                        format!(
                            "a `{name}` field in the request body, since the endpoint has a paging block"
                        ),
                        format!("{}, which has no `{name}`", body.name),
                        format!(
                            "add `{name}` to schemas.{} in spec/schemas.yaml, or remove `paging`",
                            body.name
                        ),
                    );
                }
            }
            if let Some(field) = body.field("max_count")
                && (field.minimum != Some(1) || field.maximum != Some(i64::from(max_max_count)))
            {
                checker.fail_hint(
                    ENDPOINTS,
                    paging_path.key("max_count").key("max"),
                    format!(
                        "a max equal to the maximum of {}.max_count ({}), whose minimum must be 1 ({})",
                        body.name,
                        bound(field.maximum),
                        bound(field.minimum)
                    ),
                    max_max_count.to_string(),
                    format!(
                        "give schemas.{}.fields.max_count `minimum: 1, maximum: {max_max_count}` in spec/schemas.yaml, or change this max",
                        body.name
                    ),
                );
            }
        }
    }
    if let Some(data) = find(response) {
        for name in ["cursor", "has_more"] {
            if data.field(name).is_none() {
                checker.fail_hint(
                    ENDPOINTS,
                    paging_path.clone(),
                    format!(
                        "a `{name}` field in the response data, since the endpoint has a paging block"
                    ),
                    format!("{}, which has no `{name}`", data.name),
                    format!("add `{name}` to schemas.{} in spec/schemas.yaml", data.name),
                );
            }
        }
        if data.field(&raw.items).is_none() {
            checker.fail(
                ENDPOINTS,
                paging_path.key("items"),
                format!("the field of {} that holds the page's items", data.name),
                format!("{:?}, which {} has not", raw.items, data.name),
            );
        }
    }
    Paging {
        style,
        items: raw.items.clone(),
        default_max_count,
        max_max_count,
        max_reach: None,
    }
}

/// A schema bound as the author wrote it, or "none".
fn bound(value: Option<i64>) -> String {
    value.map_or_else(|| "none".to_owned(), |value| value.to_string())
}

/// Rule: a paging block's `reach` names one of the endpoint's own limits, whose value
/// then bounds `cursor + max_count`.
pub(super) fn resolve_paging_reach(checker: &mut Checker, mut model: Model) -> Model {
    for (id, raw) in &checker.raw.endpoints {
        let Some(reach) = raw.paging.as_ref().and_then(|paging| paging.reach.clone()) else {
            continue;
        };
        let Some(endpoint) = model
            .endpoints
            .iter_mut()
            .find(|endpoint| &endpoint.id == id)
        else {
            continue;
        };
        let value = endpoint
            .limits
            .iter()
            .find(|limit| limit.name == reach)
            .map(|limit| limit.value);
        match (value, endpoint.paging.as_mut()) {
            (Some(value), Some(paging)) => paging.max_reach = Some(value),
            (None, _) => {
                let known: Vec<&str> = endpoint
                    .limits
                    .iter()
                    .map(|limit| limit.name.as_str())
                    .collect();
                let known = if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                };
                checker.fail(
                    ENDPOINTS,
                    NodePath::default()
                        .key(id.clone())
                        .key("paging")
                        .key("reach"),
                    format!("a limit of endpoint {id} (its limits: {known})"),
                    format!("{reach:?}"),
                );
            }
            (Some(_), None) => {}
        }
    }
    model
}
