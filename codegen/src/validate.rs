//! Whole-spec rules: every reference resolves, every number is in range, nothing is duplicated.
//!
//! [`validate`] turns a [`RawSpec`] into a [`Model`] or reports every problem at once.
//! Each rule is one function below.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, NodePath, SpecError};
use crate::model::*;
use crate::spec::{self, RawEndpoint, RawEndpointError, RawSpec};

/// Collects problems with their positions.
struct Checker<'a> {
    raw: &'a RawSpec,
    errors: Vec<SpecError>,
    /// Fields (schema, field) whose type did not resolve; already reported, so later
    /// rules skip them rather than report the stand-in type.
    unresolved_fields: BTreeSet<(String, String)>,
}

impl Checker<'_> {
    fn fail(
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

    fn fail_hint(
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

const API: &str = "api.yaml";
const SCOPES: &str = "scopes.yaml";
const ERRORS: &str = "errors.yaml";
const SCHEMAS: &str = "schemas.yaml";
const ENDPOINTS: &str = "endpoints.yaml";
const WEBHOOKS: &str = "webhooks.yaml";

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

/// Every name a reference may point at.
struct Names {
    scopes: BTreeSet<String>,
    errors: BTreeMap<String, u16>,
    enums: BTreeMap<String, Vec<String>>,
    schemas: BTreeSet<String>,
    endpoints: BTreeSet<String>,
    webhooks: BTreeSet<String>,
    sources: BTreeSet<String>,
    groups: BTreeSet<String>,
    tiers: BTreeMap<String, i64>,
}

impl Names {
    fn collect(raw: &RawSpec) -> Self {
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

fn known_list(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// A non-negative integer that fits `T`, or a problem at `path`.
fn count<T: TryFrom<i64> + Default>(
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
        divergences,
        scopes,
        errors,
        enums,
        schemas,
        endpoints,
        webhooks,
    }
}

fn build_oauth(checker: &mut Checker) -> Oauth {
    let raw = &checker.raw.api.oauth;
    let base = NodePath::default().key("oauth");
    let ttl = |checker: &mut Checker, key: &str, value: &spec::RawVersioned<i64>| Versioned {
        current: count::<u64>(checker, API, base.key(key).key("current"), value.current, 1),
        previous: count::<u64>(
            checker,
            API,
            base.key(key).key("previous"),
            value.previous,
            1,
        ),
        description: value.description.clone(),
        source: value.source.clone(),
    };
    let access = ttl(
        checker,
        "access_token_ttl_seconds",
        &raw.access_token_ttl_seconds,
    );
    let refresh = ttl(
        checker,
        "refresh_token_ttl_seconds",
        &raw.refresh_token_ttl_seconds,
    );
    let client = ttl(
        checker,
        "client_token_ttl_seconds",
        &raw.client_token_ttl_seconds,
    );
    let code = ttl(checker, "code_ttl_seconds", &raw.code_ttl_seconds);
    for (key, value) in [
        ("current", &raw.refresh_rotation.current),
        ("previous", &raw.refresh_rotation.previous),
    ] {
        if value != "always" && value != "may" {
            checker.fail(
                API,
                base.key("refresh_rotation").key(key),
                "always or may",
                format!("{value:?}"),
            );
        }
    }
    let verifier_min = count::<u32>(
        checker,
        API,
        base.key("code_verifier_length").key("min"),
        raw.code_verifier_length.min,
        1,
    );
    let verifier_max = count::<u32>(
        checker,
        API,
        base.key("code_verifier_length").key("max"),
        raw.code_verifier_length.max,
        1,
    );
    for (index, encoding) in raw.pkce.challenge_encodings.iter().enumerate() {
        if encoding != "hex" && encoding != "base64url" {
            checker.fail(
                API,
                base.key("pkce").key("challenge_encodings").index(index),
                "hex or base64url",
                format!("{encoding:?}"),
            );
        }
    }
    Oauth {
        access_token_ttl_seconds: access,
        refresh_token_ttl_seconds: refresh,
        client_token_ttl_seconds: client,
        refresh_rotation: Versioned {
            current: raw.refresh_rotation.current.clone(),
            previous: raw.refresh_rotation.previous.clone(),
            description: raw.refresh_rotation.description.clone(),
            source: raw.refresh_rotation.source.clone(),
        },
        code_ttl_seconds: code,
        scope_separator: raw.scope_separator.clone(),
        pkce_methods: raw.pkce.methods.clone(),
        pkce_challenge_encodings: raw.pkce.challenge_encodings.clone(),
        pkce_description: raw.pkce.description.clone(),
        pkce_source: raw.pkce.source.clone(),
        code_verifier_min: verifier_min,
        code_verifier_max: verifier_max,
    }
}

fn build_uploads(checker: &mut Checker) -> Uploads {
    let raw = &checker.raw.api.uploads;
    let base = NodePath::default().key("uploads");
    let chunk = base.key("chunk");
    let uploads = Uploads {
        upload_url_ttl_seconds: count(
            checker,
            API,
            base.key("upload_url_ttl_seconds"),
            raw.upload_url_ttl_seconds,
            1,
        ),
        content_types: raw.content_types.clone(),
        min_chunk_mb: count(
            checker,
            API,
            chunk.key("min_chunk_mb"),
            raw.chunk.min_chunk_mb,
            1,
        ),
        max_chunk_mb: count(
            checker,
            API,
            chunk.key("max_chunk_mb"),
            raw.chunk.max_chunk_mb,
            1,
        ),
        max_final_chunk_mb: count(
            checker,
            API,
            chunk.key("max_final_chunk_mb"),
            raw.chunk.max_final_chunk_mb,
            1,
        ),
        min_chunks: count(
            checker,
            API,
            chunk.key("min_chunks"),
            raw.chunk.min_chunks,
            1,
        ),
        max_chunks: count(
            checker,
            API,
            chunk.key("max_chunks"),
            raw.chunk.max_chunks,
            1,
        ),
        mb_readings: raw
            .chunk
            .mb_readings
            .iter()
            .enumerate()
            .map(|(index, value)| {
                count(
                    checker,
                    API,
                    chunk.key("mb_readings").index(index),
                    *value,
                    1,
                )
            })
            .collect(),
        description: raw.chunk.description.clone(),
        source: raw.chunk.source.clone(),
    };
    if uploads.min_chunk_mb > uploads.max_chunk_mb
        || uploads.max_chunk_mb > uploads.max_final_chunk_mb
    {
        checker.fail(
            API,
            chunk.clone(),
            "min_chunk_mb <= max_chunk_mb <= max_final_chunk_mb",
            format!(
                "{} / {} / {}",
                uploads.min_chunk_mb, uploads.max_chunk_mb, uploads.max_final_chunk_mb
            ),
        );
    }
    if uploads.mb_readings.is_empty() {
        checker.fail(
            API,
            chunk.key("mb_readings"),
            "at least one reading of MB in bytes",
            "none",
        );
    }
    uploads
}

/// Rule: error codes are unique snake_case strings with an HTTP status and a known envelope.
fn build_errors(checker: &mut Checker) -> Vec<ErrorCode> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (index, raw) in checker.raw.errors.iter().enumerate() {
        let path = NodePath::default().index(index);
        if !seen.insert(raw.code.clone()) {
            checker.fail(
                ERRORS,
                path.key("code"),
                "a code not listed before",
                format!("{:?} again", raw.code),
            );
        }
        if !is_snake(&raw.code) {
            checker.fail(
                ERRORS,
                path.key("code"),
                "a snake_case code",
                format!("{:?}", raw.code),
            );
        }
        let status = if (100..=599).contains(&raw.status) {
            raw.status as u16
        } else {
            checker.fail(
                ERRORS,
                path.key("status"),
                "an HTTP status from 100 to 599",
                raw.status.to_string(),
            );
            500
        };
        let envelope = match raw.envelope.as_str() {
            "v2" => Envelope::V2,
            "oauth" => Envelope::OAuth,
            other => {
                checker.fail(
                    ERRORS,
                    path.key("envelope"),
                    "v2 or oauth",
                    format!("{other:?}"),
                );
                Envelope::V2
            }
        };
        out.push(ErrorCode {
            code: raw.code.clone(),
            aliases: raw.aliases.clone(),
            status,
            envelope,
            transient: raw.transient,
            meaning: raw.meaning.clone(),
            action: raw.action.clone(),
            source: raw.source.clone(),
        });
    }
    out
}

fn is_snake(text: &str) -> bool {
    !text.is_empty()
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Rule: enum and schema names are UpperCamelCase, so one function can map them to Rust,
/// and are not a name the outputs reserve ([`RESERVED_TYPE_NAMES`], or ending in `Field`,
/// the suffix of the generated `fields` enums).
fn check_type_name(checker: &mut Checker, path: NodePath, name: &str) {
    let ok = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if !ok {
        checker.fail(SCHEMAS, path, "an UpperCamelCase name", format!("{name:?}"));
    } else if RESERVED_TYPE_NAMES.contains(&name) || name.ends_with("Field") {
        checker.fail_hint(
            SCHEMAS,
            path,
            "a name the generated crate and the OpenAPI document do not already use",
            format!("{name:?}"),
            format!(
                "rename it; reserved: {}, and any name ending in `Field`",
                RESERVED_TYPE_NAMES.join(", ")
            ),
        );
    }
}

/// Parses a field type: `string`, `bool`, `i32`, `i64`, `list<T>`, or an enum or schema name.
fn parse_type(text: &str, names: &Names) -> Result<Type, String> {
    let text = text.trim();
    if let Some(inner) = text
        .strip_prefix("list<")
        .and_then(|rest| rest.strip_suffix('>'))
    {
        return Ok(Type::List(Box::new(parse_type(inner, names)?)));
    }
    match text {
        "string" => Ok(Type::String),
        "bool" => Ok(Type::Bool),
        "i32" => Ok(Type::I32),
        "i64" => Ok(Type::I64),
        name if names.enums.contains_key(name) => Ok(Type::Enum(name.to_string())),
        name if names.schemas.contains(name) => Ok(Type::Schema(name.to_string())),
        other => Err(other.to_string()),
    }
}

/// Rules: field types resolve, field scopes are known scopes, bounds are consistent.
fn build_schemas(checker: &mut Checker, names: &Names) -> Vec<Schema> {
    let mut out = Vec::new();
    for (name, schema, fields) in &checker.raw.schemas {
        let path = NodePath::default().key("schemas").key(name.clone());
        check_type_name(checker, path.clone(), name);
        let mut built = Vec::new();
        for (field_name, field) in fields {
            let field_path = path.key("fields").key(field_name.clone());
            let ty = match parse_type(&field.ty, names) {
                Ok(ty) => ty,
                Err(unknown) => {
                    let hint = if unknown == field.ty.trim() {
                        "schema and enum names are case-sensitive".to_string()
                    } else {
                        format!(
                            "{unknown:?} is not a type; schema and enum names are case-sensitive"
                        )
                    };
                    checker.fail_hint(
                        SCHEMAS,
                        field_path.key("type"),
                        "string, bool, i32, i64, list<T>, or an enum or schema of spec/schemas.yaml",
                        format!("{:?}", field.ty),
                        hint,
                    );
                    checker
                        .unresolved_fields
                        .insert((name.clone(), field_name.clone()));
                    Type::String
                }
            };
            if let Some(scope) = &field.scope
                && !names.scopes.contains(scope)
            {
                checker.fail_hint(
                    SCHEMAS,
                    field_path.key("scope"),
                    "a scope defined in spec/scopes.yaml",
                    format!("{scope:?}"),
                    format!("known scopes: {}", known_list(&names.scopes)),
                );
            }
            let bound = |checker: &mut Checker, key: &str, value: Option<i64>| -> Option<u64> {
                value.map(|value| count(checker, SCHEMAS, field_path.key(key), value, 0))
            };
            let max_length = bound(checker, "max_length", field.max_length);
            let min_items = bound(checker, "min_items", field.min_items);
            let max_items = bound(checker, "max_items", field.max_items);
            if let (Some(min), Some(max)) = (min_items, max_items)
                && min > max
            {
                checker.fail(
                    SCHEMAS,
                    field_path.key("min_items"),
                    format!("at most max_items ({max})"),
                    min.to_string(),
                );
            }
            if let (Some(min), Some(max)) = (field.minimum, field.maximum)
                && min > max
            {
                checker.fail(
                    SCHEMAS,
                    field_path.key("minimum"),
                    format!("at most maximum ({max})"),
                    min.to_string(),
                );
            }
            let resolved = !checker
                .unresolved_fields
                .contains(&(name.clone(), field_name.clone()));
            if resolved
                && (min_items.is_some() || max_items.is_some())
                && !matches!(ty, Type::List(_))
            {
                checker.fail(
                    SCHEMAS,
                    field_path.key("type"),
                    "a list<T> type, since the field has min_items or max_items",
                    field.ty.clone(),
                );
            }
            built.push(Field {
                name: field_name.clone(),
                ty,
                description: field.description.clone(),
                required: field.required,
                scope: field.scope.clone(),
                max_length,
                min_items,
                max_items,
                minimum: field.minimum,
                maximum: field.maximum,
                example: field.example.clone(),
                secret: field.secret,
            });
        }
        out.push(Schema {
            name: name.clone(),
            description: schema.description.clone(),
            source: schema.source.clone(),
            fields: built,
        });
    }
    out
}

/// Builds one endpoint, each of its rules checked by one function below, in this order.
fn build_endpoint(
    checker: &mut Checker,
    names: &Names,
    schemas: &[Schema],
    id: &str,
    raw: &RawEndpoint,
) -> Endpoint {
    let path = NodePath::default().key(id.to_string());
    check_endpoint_id(checker, &path, id);
    let method = endpoint_method(checker, &path, raw);
    check_endpoint_path(checker, &path, raw);
    check_endpoint_group(checker, names, &path, raw);
    let access = endpoint_access(checker, &path, raw);
    let auth = endpoint_auth(checker, &path, raw);
    check_endpoint_scopes(checker, names, &path, raw, auth);
    let real_scopes = build_real_scopes(checker, names, &path, raw);
    let request = build_request(checker, names, &path, raw);
    check_no_body_on_get(checker, &path, method, request.is_some());
    let scope_by = build_scope_by(checker, names, schemas, &path, raw, request.as_ref());
    let fields = build_fields_param(checker, names, &path, raw);
    check_schema_name(
        checker,
        names,
        path.key("response").key("data"),
        &raw.response.data,
    );
    let envelope = response_envelope(checker, &path, raw);
    let paging = raw.paging.as_ref().map(|paging| {
        build_paging(
            checker,
            &path,
            paging,
            schemas,
            request.as_ref().map(|(body, _)| body.as_str()),
            &raw.response.data,
        )
    });
    let limits = build_limits(checker, &path, raw);
    let rate_limit = build_rate_limit(checker, names, &path, raw);
    for (index, name) in raw.webhooks.iter().enumerate() {
        check_webhook_name(checker, names, path.key("webhooks").index(index), name);
    }
    let real_webhooks = build_real_webhooks(checker, names, &path, raw);
    let errors = build_endpoint_errors(checker, names, &path, raw);
    Endpoint {
        id: id.to_string(),
        group: raw.group.clone(),
        method,
        path: raw.path.clone(),
        summary: raw.summary.clone(),
        description: raw.description.clone(),
        access,
        auth,
        acts_on: raw.acts_on.clone(),
        scopes: raw.scopes.clone(),
        real_scopes,
        scope_by,
        fields,
        request,
        response: raw.response.data.clone(),
        envelope,
        paging,
        limits,
        rate_limit,
        webhooks: raw.webhooks.clone(),
        real_webhooks,
        errors,
        version: raw.version.clone(),
        source: raw.source.clone(),
    }
}

/// Rule: an endpoint id is snake_case.
fn check_endpoint_id(checker: &mut Checker, path: &NodePath, id: &str) {
    if !is_snake(id) {
        checker.fail(
            ENDPOINTS,
            path.clone(),
            "a snake_case endpoint id",
            format!("{id:?}"),
        );
    }
}

/// Rule: an endpoint's method is GET or POST.
fn endpoint_method(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) -> Method {
    match raw.method.as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        other => {
            checker.fail(
                ENDPOINTS,
                path.key("method"),
                "GET or POST",
                format!("{other:?}"),
            );
            Method::Post
        }
    }
}

/// Rule: an endpoint's path is under `/v2/` and ends in a slash, as TikTok's do.
fn check_endpoint_path(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) {
    if !(raw.path.starts_with("/v2/") && raw.path.ends_with('/')) {
        checker.fail_hint(
            ENDPOINTS,
            path.key("path"),
            "a path under /v2/ ending in a slash",
            format!("{:?}", raw.path),
            "TikTok answers a path without its trailing slash with 404",
        );
    }
}

/// Rule: an endpoint's group is a group of spec/api.yaml.
fn check_endpoint_group(checker: &mut Checker, names: &Names, path: &NodePath, raw: &RawEndpoint) {
    if !names.groups.contains(&raw.group) {
        checker.fail(
            ENDPOINTS,
            path.key("group"),
            format!("a group of spec/api.yaml ({})", known_list(&names.groups)),
            format!("{:?}", raw.group),
        );
    }
}

/// Rule: an endpoint's access is read or write.
fn endpoint_access(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) -> Access {
    match raw.access.as_str() {
        "read" => Access::Read,
        "write" => Access::Write,
        other => {
            checker.fail(
                ENDPOINTS,
                path.key("access"),
                "read or write",
                format!("{other:?}"),
            );
            Access::Read
        }
    }
}

/// Rule: an endpoint authenticates by a user token, a client token or client credentials.
fn endpoint_auth(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) -> Auth {
    match raw.auth.as_str() {
        "user_token" => Auth::UserToken,
        "client_token" => Auth::ClientToken,
        "client_credentials" => Auth::ClientCredentials,
        other => {
            checker.fail(
                ENDPOINTS,
                path.key("auth"),
                "user_token, client_token or client_credentials",
                format!("{other:?}"),
            );
            Auth::UserToken
        }
    }
}

/// Rule: every scope an endpoint names is a known scope.
fn check_scope(checker: &mut Checker, names: &Names, scope_path: NodePath, scope: &str) {
    if !names.scopes.contains(scope) {
        checker.fail_hint(
            ENDPOINTS,
            scope_path,
            "a scope defined in spec/scopes.yaml",
            format!("{scope:?}"),
            format!("known scopes: {}", known_list(&names.scopes)),
        );
    }
}

/// Rule: an endpoint's scopes are known; a token-authenticated endpoint has at least one,
/// one authenticated by client credentials none.
fn check_endpoint_scopes(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
    auth: Auth,
) {
    for (index, scope) in raw.scopes.iter().enumerate() {
        check_scope(checker, names, path.key("scopes").index(index), scope);
    }
    if auth == Auth::ClientCredentials && !raw.scopes.is_empty() {
        checker.fail(
            ENDPOINTS,
            path.key("scopes"),
            "no scopes on an endpoint authenticated by client credentials",
            format!("{:?}", raw.scopes),
        );
    }
    if auth != Auth::ClientCredentials && raw.scopes.is_empty() {
        checker.fail(
            ENDPOINTS,
            path.key("scopes"),
            "at least one scope on a token-authenticated endpoint",
            "none",
        );
    }
}

/// Rule: the scopes the real API is documented to want are known scopes too.
fn build_real_scopes(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
) -> Option<(Vec<String>, String)> {
    raw.real_scopes.as_ref().map(|real| {
        for (index, scope) in real.scopes.iter().enumerate() {
            check_scope(
                checker,
                names,
                path.key("real_scopes").key("scopes").index(index),
                scope,
            );
        }
        (real.scopes.clone(), real.source.clone())
    })
}

/// Rule: a schema an endpoint names (request body, `fields`, response data) is defined.
fn check_schema_name(checker: &mut Checker, names: &Names, schema_path: NodePath, name: &str) {
    if !names.schemas.contains(name) {
        checker.fail_hint(
            ENDPOINTS,
            schema_path,
            "a schema defined in spec/schemas.yaml",
            format!("{name:?}"),
            format!("known schemas: {}", known_list(&names.schemas)),
        );
    }
}

/// Rule: a request body names a known schema and is sent as json or form.
fn build_request(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
) -> Option<(String, ContentType)> {
    raw.request.as_ref().map(|request| {
        check_schema_name(
            checker,
            names,
            path.key("request").key("body"),
            &request.body,
        );
        let content_type = match request.content_type.as_str() {
            "json" => ContentType::Json,
            "form" => ContentType::Form,
            other => {
                checker.fail(
                    ENDPOINTS,
                    path.key("request").key("content_type"),
                    "json or form",
                    format!("{other:?}"),
                );
                ContentType::Json
            }
        };
        (request.body.clone(), content_type)
    })
}

/// Rule: a GET has no request body.
fn check_no_body_on_get(checker: &mut Checker, path: &NodePath, method: Method, has_body: bool) {
    if method == Method::Get && has_body {
        checker.fail(
            ENDPOINTS,
            path.key("request"),
            "no request body on a GET",
            "a body",
        );
    }
}

/// Rule: `scope_by` names an enum field of the body, and each value maps to a listed scope.
fn build_scope_by(
    checker: &mut Checker,
    names: &Names,
    schemas: &[Schema],
    path: &NodePath,
    raw: &RawEndpoint,
    request: Option<&(String, ContentType)>,
) -> Option<ScopeBy> {
    let schema = |name: &str| schemas.iter().find(|schema| schema.name == name);
    raw.scope_by.as_ref().map(|scope_by| {
        let by_path = path.key("scope_by");
        let field = request
            .and_then(|(body, _)| schema(body))
            .and_then(|body| body.field(&scope_by.field));
        match field.map(|field| &field.ty) {
            Some(Type::Enum(enum_name)) => {
                let values = names.enums.get(enum_name).cloned().unwrap_or_default();
                for (value, scope) in &scope_by.scopes {
                    if !values.contains(value) {
                        checker.fail(
                            ENDPOINTS,
                            by_path.key("scopes").key(value.clone()),
                            format!("a value of {enum_name} ({})", values.join(", ")),
                            format!("{value:?}"),
                        );
                    }
                    check_scope(
                        checker,
                        names,
                        by_path.key("scopes").key(value.clone()),
                        scope,
                    );
                    if !raw.scopes.contains(scope) {
                        checker.fail(
                            ENDPOINTS,
                            by_path.key("scopes").key(value.clone()),
                            "one of the endpoint's scopes",
                            format!("{scope:?}"),
                        );
                    }
                }
            }
            _ => checker.fail(
                ENDPOINTS,
                by_path.key("field"),
                "an enum field of the request body",
                format!("{:?}", scope_by.field),
            ),
        }
        ScopeBy {
            field: scope_by.field.clone(),
            scopes: scope_by.scopes.clone(),
        }
    })
}

/// Rule: a `fields` parameter names a known schema.
fn build_fields_param(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
) -> Option<FieldsParam> {
    raw.fields.as_ref().map(|fields| {
        check_schema_name(
            checker,
            names,
            path.key("fields").key("schema"),
            &fields.schema,
        );
        FieldsParam {
            schema: fields.schema.clone(),
            required: fields.required,
        }
    })
}

/// Rule: a response's envelope is v2 or oauth.
fn response_envelope(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) -> Envelope {
    match raw.response.envelope.as_str() {
        "v2" => Envelope::V2,
        "oauth" => Envelope::OAuth,
        other => {
            checker.fail(
                ENDPOINTS,
                path.key("response").key("envelope"),
                "v2 or oauth",
                format!("{other:?}"),
            );
            Envelope::V2
        }
    }
}

/// Rule: an endpoint's limits are at least 1.
fn build_limits(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) -> Vec<Limit> {
    raw.limits
        .iter()
        .map(|(name, limit)| Limit {
            name: name.clone(),
            value: count(
                checker,
                ENDPOINTS,
                path.key("limits").key(name.clone()).key("value"),
                limit.value,
                1,
            ),
            description: limit.description.clone(),
            source: limit.source.clone(),
        })
        .collect()
}

/// Rule: every webhook event an endpoint names exists.
fn check_webhook_name(checker: &mut Checker, names: &Names, hook_path: NodePath, name: &str) {
    if !names.webhooks.contains(name) {
        checker.fail_hint(
            ENDPOINTS,
            hook_path,
            "a webhook event defined in spec/webhooks.yaml",
            format!("{name:?}"),
            format!("known events: {}", known_list(&names.webhooks)),
        );
    }
}

/// Rule: the events the real API is documented to send exist too.
fn build_real_webhooks(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
) -> Option<(Vec<String>, String)> {
    raw.real_webhooks.as_ref().map(|real| {
        for (index, name) in real.events.iter().enumerate() {
            check_webhook_name(
                checker,
                names,
                path.key("real_webhooks").key("events").index(index),
                name,
            );
        }
        (real.events.clone(), real.source.clone())
    })
}

/// Rule: an endpoint's errors are codes of spec/errors.yaml, each with the catalog's HTTP
/// status or its own from 100 to 599.
fn build_endpoint_errors(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
) -> Vec<EndpointError> {
    raw.errors
        .iter()
        .enumerate()
        .map(|(index, error)| {
            let (code, status) = match error {
                RawEndpointError::Code(code) => (code, None),
                RawEndpointError::WithStatus { code, status } => (code, Some(*status)),
            };
            let catalog_status = names.errors.get(code).copied();
            if catalog_status.is_none() {
                let code_path = match error {
                    RawEndpointError::Code(_) => path.key("errors").index(index),
                    RawEndpointError::WithStatus { .. } => {
                        path.key("errors").index(index).key("code")
                    }
                };
                checker.fail(
                    ENDPOINTS,
                    code_path,
                    "an error code of spec/errors.yaml",
                    format!("{code:?}"),
                );
            }
            let status = match status {
                Some(status) if (100..=599).contains(&status) => status as u16,
                Some(status) => {
                    checker.fail(
                        ENDPOINTS,
                        path.key("errors").index(index).key("status"),
                        "an HTTP status from 100 to 599",
                        status.to_string(),
                    );
                    500
                }
                None => catalog_status.unwrap_or(500),
            };
            EndpointError {
                code: code.clone(),
                status,
            }
        })
        .collect()
}

/// Rule: a paging block needs a `cursor` in the request and `cursor`, `has_more` and its items list in the response,
/// and the request's `max_count` is bounded 1 to the block's `max_count.max`.
fn build_paging(
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

/// Rule: a rate limit names a known tier or a figure, and the figure is at least 1.
fn build_rate_limit(
    checker: &mut Checker,
    names: &Names,
    path: &NodePath,
    raw: &RawEndpoint,
) -> RateLimit {
    let limit_path = path.key("rate_limit");
    let rate_limit = &raw.rate_limit;
    if let Some(tier) = &rate_limit.tier
        && !names.tiers.contains_key(tier)
    {
        let known: BTreeSet<String> = names.tiers.keys().cloned().collect();
        checker.fail_hint(
            ENDPOINTS,
            limit_path.key("tier"),
            "a tier of spec/api.yaml rate_limit_tiers",
            format!("{tier:?}"),
            format!("known tiers: {}", known_list(&known)),
        );
    }
    let per_minute = match (rate_limit.per_minute, &rate_limit.tier) {
        (Some(per_minute), _) => match u32::try_from(per_minute) {
            Ok(per_minute) if per_minute >= 1 => per_minute,
            _ => {
                checker.fail_hint(
                    ENDPOINTS,
                    limit_path.key("per_minute"),
                    "a rate limit of at least 1 request per minute",
                    per_minute.to_string(),
                    "to leave an endpoint unlimited, use a large figure",
                );
                1
            }
        },
        // A tier's own figure is checked, and reported, in spec/api.yaml.
        (None, Some(tier)) => names
            .tiers
            .get(tier)
            .and_then(|per_minute| u32::try_from(*per_minute).ok())
            .unwrap_or(1)
            .max(1),
        (None, None) => {
            checker.fail(
                ENDPOINTS,
                limit_path.clone(),
                "a per_minute figure or a tier",
                "neither",
            );
            1
        }
    };
    RateLimit {
        per_minute,
        tier: rate_limit.tier.clone(),
        source: rate_limit.source.clone(),
    }
}

/// Rule: every `source:` names a source of spec/api.yaml.
fn check_sources(checker: &mut Checker, names: &Names) {
    let raw = checker.raw;
    let mut refs: Vec<(&str, NodePath, &str)> = Vec::new();
    let root = NodePath::default();
    refs.push((API, root.key("info").key("source"), &raw.api.info.source));
    for (name, tier) in &raw.api.rate_limit_tiers {
        refs.push((
            API,
            root.key("rate_limit_tiers").key(name.clone()).key("source"),
            &tier.source,
        ));
    }
    let oauth = &raw.api.oauth;
    let oauth_path = root.key("oauth");
    for (key, source) in [
        (
            "access_token_ttl_seconds",
            &oauth.access_token_ttl_seconds.source,
        ),
        (
            "refresh_token_ttl_seconds",
            &oauth.refresh_token_ttl_seconds.source,
        ),
        (
            "client_token_ttl_seconds",
            &oauth.client_token_ttl_seconds.source,
        ),
        ("refresh_rotation", &oauth.refresh_rotation.source),
        ("code_ttl_seconds", &oauth.code_ttl_seconds.source),
        ("pkce", &oauth.pkce.source),
    ] {
        refs.push((API, oauth_path.key(key).key("source"), source));
    }
    refs.push((
        API,
        root.key("uploads").key("chunk").key("source"),
        &raw.api.uploads.chunk.source,
    ));
    for (index, divergence) in raw.api.divergences.iter().enumerate() {
        for (source_index, source) in divergence.sources.iter().enumerate() {
            refs.push((
                API,
                root.key("divergences")
                    .index(index)
                    .key("sources")
                    .index(source_index),
                source,
            ));
        }
    }
    for (name, scope) in &raw.scopes {
        refs.push((SCOPES, root.key(name.clone()).key("source"), &scope.source));
    }
    for (index, error) in raw.errors.iter().enumerate() {
        refs.push((ERRORS, root.index(index).key("source"), &error.source));
    }
    for (name, enumeration) in &raw.enums {
        refs.push((
            SCHEMAS,
            root.key("enums").key(name.clone()).key("source"),
            &enumeration.source,
        ));
    }
    for (name, schema, _) in &raw.schemas {
        refs.push((
            SCHEMAS,
            root.key("schemas").key(name.clone()).key("source"),
            &schema.source,
        ));
    }
    for (id, endpoint) in &raw.endpoints {
        let path = root.key(id.clone());
        refs.push((ENDPOINTS, path.key("source"), &endpoint.source));
        refs.push((
            ENDPOINTS,
            path.key("rate_limit").key("source"),
            &endpoint.rate_limit.source,
        ));
        if let Some(real) = &endpoint.real_scopes {
            refs.push((
                ENDPOINTS,
                path.key("real_scopes").key("source"),
                &real.source,
            ));
        }
        if let Some(real) = &endpoint.real_webhooks {
            refs.push((
                ENDPOINTS,
                path.key("real_webhooks").key("source"),
                &real.source,
            ));
        }
        for (name, limit) in &endpoint.limits {
            refs.push((
                ENDPOINTS,
                path.key("limits").key(name.clone()).key("source"),
                &limit.source,
            ));
        }
    }
    for (name, webhook) in &raw.webhooks {
        refs.push((
            WEBHOOKS,
            root.key(name.clone()).key("source"),
            &webhook.source,
        ));
    }
    for (file, path, source) in refs {
        if !names.sources.contains(source) {
            checker.fail_hint(
                file,
                path,
                "a source key of spec/api.yaml sources",
                format!("{source:?}"),
                format!("known sources: {}", known_list(&names.sources)),
            );
        }
    }
}

/// Rule: no two endpoints share a method and path.
fn check_unique_routes(checker: &mut Checker) {
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for (id, endpoint) in &checker.raw.endpoints {
        let key = (endpoint.method.clone(), endpoint.path.clone());
        if let Some(first) = seen.get(&key) {
            let first = first.clone();
            checker.fail(
                ENDPOINTS,
                NodePath::default().key(id.clone()).key("path"),
                format!(
                    "a method and path no other endpoint has (endpoints.{first} already has them)"
                ),
                format!("{} {}", endpoint.method, endpoint.path),
            );
        } else {
            seen.insert(key, id.clone());
        }
    }
}

/// Rule: a paging block's `reach` names one of the endpoint's own limits, whose value
/// then bounds `cursor + max_count`.
fn resolve_paging_reach(checker: &mut Checker, mut model: Model) -> Model {
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

/// Rule: webhook triggers name known endpoints.
fn check_webhook_triggers(checker: &mut Checker, names: &Names) {
    for (name, webhook) in &checker.raw.webhooks {
        for (index, trigger) in webhook.triggered_by.iter().enumerate() {
            if !names.endpoints.contains(trigger) {
                checker.fail(
                    WEBHOOKS,
                    NodePath::default()
                        .key(name.clone())
                        .key("triggered_by")
                        .index(index),
                    "an endpoint id of spec/endpoints.yaml",
                    format!("{trigger:?}"),
                );
            }
        }
    }
}

/// Rule: examples match their field's type, and every required scalar field of a
/// response schema has one, so a response can always be built from the spec alone.
fn check_examples(checker: &mut Checker, model: &Model) {
    let response_schemas: BTreeSet<&str> = model
        .endpoints
        .iter()
        .map(|endpoint| endpoint.response.as_str())
        .collect();
    for schema in &model.schemas {
        for field in &schema.fields {
            if checker
                .unresolved_fields
                .contains(&(schema.name.clone(), field.name.clone()))
            {
                continue;
            }
            let path = NodePath::default()
                .key("schemas")
                .key(schema.name.clone())
                .key("fields")
                .key(field.name.clone())
                .key("example");
            match &field.example {
                Some(example) => {
                    if let Err(problem) = example_fits(model, &field.ty, example) {
                        checker.fail(
                            SCHEMAS,
                            path,
                            format!("an example of type {}", field.ty.spec_name()),
                            problem,
                        );
                    }
                }
                None => {
                    let scalar = !matches!(field.ty, Type::Schema(_) | Type::List(_));
                    if field.required && scalar && response_schemas.contains(schema.name.as_str()) {
                        checker.fail_hint(
                            SCHEMAS,
                            path,
                            "an example for a required field of a response",
                            "none",
                            "the mock builds responses of new endpoints from examples",
                        );
                    }
                }
            }
        }
    }
}

fn example_fits(model: &Model, ty: &Type, value: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    match (ty, value) {
        (Type::String, Value::String(_)) | (Type::Bool, Value::Bool(_)) => Ok(()),
        (Type::I32, Value::Number(number))
            if number.as_i64().is_some_and(|n| i32::try_from(n).is_ok()) =>
        {
            Ok(())
        }
        (Type::I64, Value::Number(number)) if number.as_i64().is_some() => Ok(()),
        (Type::List(inner), Value::Array(items)) => items
            .iter()
            .try_for_each(|item| example_fits(model, inner, item)),
        (Type::Enum(name), Value::String(text)) => match model.enumeration(name) {
            Some(enumeration) if enumeration.values.contains(text) => Ok(()),
            Some(enumeration) => Err(format!(
                "{text:?}, not a value of {name} ({})",
                enumeration.values.join(", ")
            )),
            None => Err(format!("{text:?}, not a value of {name}")),
        },
        (Type::Schema(_), Value::Object(_)) => Ok(()),
        (_, other) => Err(other.to_string()),
    }
}
