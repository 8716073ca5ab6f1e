//! Whole-spec rules: every reference resolves, every number is in range, nothing is duplicated.
//!
//! [`validate`] turns a [`RawSpec`] into a [`Model`] or reports every problem at once.
//! Each rule is one function commented `Rule:`: the API-wide ones in [`api`], error codes and
//! schemas in [`schemas`], an endpoint's in [`endpoint`], paging in [`paging`], and the rules
//! across files in [`cross`].

mod api;
mod checker;
mod cross;
mod endpoint;
mod paging;
mod schemas;
mod tool_hints;

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, NodePath};
use crate::model::*;
use crate::spec::{self, RawSpec};

use api::{build_oauth, build_uploads, build_webhook_delivery};
use checker::{API, Checker, ENDPOINTS, ERRORS, Names, SCHEMAS, WEBHOOKS, count, known_list};
use cross::{check_examples, check_sources, check_unique_routes, check_webhook_triggers};
use endpoint::build_endpoint;
use paging::resolve_paging_reach;
use schemas::{build_errors, build_schemas, check_type_name};

/// Checks every rule and builds the model; on failure returns all problems, sorted.
pub fn validate(raw: &RawSpec) -> Result<Model, Error> {
    let mut checker = Checker {
        raw,
        errors: Vec::new(),
        unresolved_fields: BTreeSet::new(),
    };
    let names = Names::collect(raw);
    let model = build(&mut checker, &names);
    check_sources(&mut checker, &names);
    check_unique_routes(&mut checker);
    check_webhook_triggers(&mut checker, &names);
    check_examples(&mut checker, &model);
    let model = resolve_paging_reach(&mut checker, model);
    if checker.errors.is_empty() {
        Ok(model)
    } else {
        let mut errors = checker.errors;
        spec::sort_errors(&mut errors);
        errors.dedup();
        Err(Error::Spec(errors))
    }
}

fn build(checker: &mut Checker, names: &Names) -> Model {
    let raw = checker.raw;
    let api = &raw.api;
    let root = NodePath::default();

    let info = Info {
        title: api.info.title.clone(),
        version: api.info.version.clone(),
        description: api.info.description.clone(),
        source: api.info.source.clone(),
    };
    let base_urls = BaseUrls {
        api: api.base_urls.api.trim_end_matches('/').to_string(),
        authorize: api.base_urls.authorize.clone(),
        upload: api.base_urls.upload.trim_end_matches('/').to_string(),
    };
    for (key, url) in [
        ("api", &api.base_urls.api),
        ("authorize", &api.base_urls.authorize),
        ("upload", &api.base_urls.upload),
    ] {
        if !url.starts_with("https://") {
            checker.fail(
                API,
                root.key("base_urls").key(key),
                "an https:// URL",
                format!("{url:?}"),
            );
        }
    }
    let groups = api
        .groups
        .iter()
        .map(|(name, group)| Group {
            name: name.clone(),
            title: group.title.clone(),
            description: group.description.clone(),
        })
        .collect();
    let sources = api
        .sources
        .iter()
        .map(|(key, source)| {
            (
                key.clone(),
                Source {
                    key: key.clone(),
                    title: source.title.clone(),
                    url: source.url.clone(),
                },
            )
        })
        .collect();
    let mut rate_limit_tiers = BTreeMap::new();
    for (name, tier) in &api.rate_limit_tiers {
        let path = root
            .key("rate_limit_tiers")
            .key(name.clone())
            .key("per_minute");
        let per_minute = count::<u32>(checker, API, path, tier.per_minute, 1);
        rate_limit_tiers.insert(
            name.clone(),
            Tier {
                name: name.clone(),
                per_minute,
                description: tier.description.clone(),
                source: tier.source.clone(),
            },
        );
    }
    let oauth = build_oauth(checker);
    let uploads = build_uploads(checker);
    let webhook_delivery = build_webhook_delivery(checker);
    let divergences = api
        .divergences
        .iter()
        .enumerate()
        .map(|(index, divergence)| {
            if divergence.rule != "seed_default" && divergence.rule != "real" {
                checker.fail(
                    API,
                    root.key("divergences").index(index).key("rule"),
                    "seed_default or real",
                    format!("{:?}", divergence.rule),
                );
            }
            Divergence {
                id: divergence.id.clone(),
                topic: divergence.topic.clone(),
                seed: divergence.seed.clone(),
                real: divergence.real.clone(),
                rule: divergence.rule.clone(),
                sources: divergence.sources.clone(),
            }
        })
        .collect();

    let errors = build_errors(checker);
    let enums = raw
        .enums
        .iter()
        .map(|(name, enumeration)| {
            check_type_name(checker, root.key("enums").key(name.clone()), name);
            if enumeration.values.is_empty() {
                checker.fail(
                    SCHEMAS,
                    root.key("enums").key(name.clone()).key("values"),
                    "at least one value",
                    "none",
                );
            }
            Enum {
                name: name.clone(),
                description: enumeration.description.clone(),
                values: enumeration.values.clone(),
                source: enumeration.source.clone(),
            }
        })
        .collect();
    let schemas = build_schemas(checker, names);
    let scopes = raw
        .scopes
        .iter()
        .map(|(name, scope)| Scope {
            name: name.clone(),
            description: scope.description.clone(),
            review_required: scope.review_required,
            source: scope.source.clone(),
            fields: schemas
                .iter()
                .flat_map(|schema: &Schema| {
                    schema
                        .fields
                        .iter()
                        .filter(|field| field.scope.as_deref() == Some(name.as_str()))
                        .map(|field| (schema.name.clone(), field.name.clone()))
                })
                .collect(),
        })
        .collect();
    let endpoints = raw
        .endpoints
        .iter()
        .map(|(id, endpoint)| build_endpoint(checker, names, &schemas, id, endpoint))
        .collect();
    let webhooks = raw
        .webhooks
        .iter()
        .map(|(name, webhook)| {
            let path = NodePath::default().key(name.clone());
            let family = match webhook.family.as_str() {
                "seed" => WebhookFamily::Seed,
                "real" => WebhookFamily::Real,
                other => {
                    checker.fail(
                        WEBHOOKS,
                        path.key("family"),
                        "seed or real",
                        format!("{other:?}"),
                    );
                    WebhookFamily::Seed
                }
            };
            if !names.schemas.contains(&webhook.content) {
                checker.fail_hint(
                    WEBHOOKS,
                    path.key("content"),
                    "a schema defined in spec/schemas.yaml",
                    format!("{:?}", webhook.content),
                    format!("known schemas: {}", known_list(&names.schemas)),
                );
            }
            Webhook {
                name: name.clone(),
                family,
                description: webhook.description.clone(),
                triggered_by: webhook.triggered_by.clone(),
                content: webhook.content.clone(),
                reason_codes: webhook
                    .reason_codes
                    .iter()
                    .map(|(code, text)| (*code, text.clone()))
                    .collect(),
                source: webhook.source.clone(),
            }
        })
        .collect();

    Model {
        info,
        base_urls,
        groups,
        sources,
        rate_limit_tiers,
        oauth,
        uploads,
        webhook_delivery,
        divergences,
        scopes,
        errors,
        enums,
        schemas,
        endpoints,
        webhooks,
        lines: spec_lines(raw),
    }
}

/// The line of each endpoint (and of its `response`, `rate_limit`, `errors` and `paging`),
/// schema, schema field and error code, keyed `endpoint:ID[.KEY]`, `schema:NAME[.FIELD]`,
/// `error:CODE`; what is not found (a missing key) is left out.
fn spec_lines(raw: &RawSpec) -> BTreeMap<String, SpecLine> {
    let mut lines = BTreeMap::new();
    let mut add = |key: String, file: &str, path: NodePath| {
        if let Some((line, _)) = raw.positions.find_key(file, &path) {
            lines.insert(
                key,
                SpecLine {
                    file: format!("spec/{file}"),
                    line,
                },
            );
        }
    };
    let root = NodePath::default();
    for (id, endpoint) in &raw.endpoints {
        let path = root.key(id.clone());
        add(format!("endpoint:{id}"), ENDPOINTS, path.clone());
        let parts = [
            ("response", true),
            ("rate_limit", true),
            ("errors", true),
            ("scopes", !endpoint.scopes.is_empty()),
            ("fields", endpoint.fields.is_some()),
            ("request", endpoint.request.is_some()),
            ("paging", endpoint.paging.is_some()),
            ("limits", !endpoint.limits.is_empty()),
        ];
        for (part, present) in parts {
            if present {
                add(format!("endpoint:{id}.{part}"), ENDPOINTS, path.key(part));
            }
        }
    }
    for (name, _, fields) in &raw.schemas {
        let path = root.key("schemas").key(name.clone());
        add(format!("schema:{name}"), SCHEMAS, path.clone());
        for (field, _) in fields {
            add(
                format!("schema:{name}.{field}"),
                SCHEMAS,
                path.key("fields").key(field.clone()),
            );
        }
    }
    for (index, error) in raw.errors.iter().enumerate() {
        add(format!("error:{}", error.code), ERRORS, root.index(index));
    }
    lines
}
