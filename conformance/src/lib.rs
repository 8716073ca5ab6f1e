//! Shared pieces of the conformance suite: the independent model computed from the
//! generated tables (never from the mock's code), a small client for the mock's
//! control API, the response schemas of `generated/openapi.yaml`, and proptest helpers.
//! The properties live in `tests/`.

pub mod tap;

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};
use tiktok_api::meta::{EndpointMeta, FieldsParam, HttpMethod};
use tiktok_api::{Error, ErrorCode, Scope};

/// A current-thread runtime for driving async calls from proptest's synchronous runner.
pub fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("cannot start a tokio runtime: {error}"),
    }
}

/// Cases per property: `PROPTEST_CASES` when set, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// What the spec says a call with `granted` scopes asking for `fields` must get.
///
/// The endpoint's scopes are alternatives (any one suffices): without one, 401
/// `scope_not_authorized`. Then every requested field whose schema names a scope needs it:
/// without, 400 `scope_permission_missed`.
pub fn expected_scope_outcome(
    endpoint: &EndpointMeta,
    granted: &[Scope],
    fields: &[&str],
) -> Result<(), ErrorCode> {
    if !endpoint.scopes.iter().any(|scope| granted.contains(scope)) {
        return Err(ErrorCode::ScopeNotAuthorized);
    }
    if let Some(FieldsParam { schema, .. }) = endpoint.fields {
        for name in fields {
            match schema.field(name) {
                None => return Err(ErrorCode::InvalidParams),
                Some(field) => {
                    if let Some(scope) = field.scope
                        && !granted.contains(&scope)
                    {
                        return Err(ErrorCode::ScopePermissionMissed);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The sliding-window model: a call at `t` passes when fewer than `limit` calls passed
/// in the trailing window, i.e. at times `s` with `t - s < window_ms`.
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    limit: u32,
    window_ms: i64,
    passed: VecDeque<i64>,
}

impl SlidingWindow {
    /// A window of `window_ms` allowing `limit` calls.
    pub fn new(limit: u32, window_ms: i64) -> Self {
        SlidingWindow {
            limit,
            window_ms,
            passed: VecDeque::new(),
        }
    }

    /// Whether a call at `now_ms` passes; records it if so.
    pub fn call(&mut self, now_ms: i64) -> bool {
        while self
            .passed
            .front()
            .is_some_and(|&at| now_ms - at >= self.window_ms)
        {
            self.passed.pop_front();
        }
        if (self.passed.len() as u64) < u64::from(self.limit) {
            self.passed.push_back(now_ms);
            true
        } else {
            false
        }
    }
}

/// The limit the mock applies for `endpoint` at `--rate-limit-scale scale`, as its
/// documentation defines it: floor(per_minute × scale), at least 1.
pub fn scaled_limit(endpoint: &EndpointMeta, scale: f64) -> u32 {
    let scaled = (f64::from(endpoint.rate_limit.per_minute) * scale).floor();
    if scaled < 1.0 { 1 } else { scaled as u32 }
}

/// A client for the mock's documented control API (`/_mock/…`): the one all crates' tests
/// share.
pub use tiktok_mock::testing::Control;

/// Decodes a response of `endpoint` with the generated client's decoder into the
/// endpoint's own data type; `Ok(())` on success, else the client's typed error.
pub fn decode_for(endpoint: &EndpointMeta, status: u16, body: &[u8]) -> Result<(), Error> {
    use tiktok_api::decode_response as decode;
    let envelope = endpoint.envelope;
    match endpoint.id {
        "user_info" => decode::<tiktok_api::UserInfoData>(envelope, status, body).map(drop),
        "video_list" => decode::<tiktok_api::VideoListData>(envelope, status, body).map(drop),
        "video_query" => decode::<tiktok_api::VideoQueryData>(envelope, status, body).map(drop),
        "creator_info" => decode::<tiktok_api::CreatorInfo>(envelope, status, body).map(drop),
        "status_fetch" => decode::<tiktok_api::PublishStatus>(envelope, status, body).map(drop),
        "research_comment_list" => {
            decode::<tiktok_api::CommentListData>(envelope, status, body).map(drop)
        }
        "video_init" | "inbox_video_init" => {
            decode::<tiktok_api::PublishInitData>(envelope, status, body).map(drop)
        }
        "content_init" => decode::<tiktok_api::ContentInitData>(envelope, status, body).map(drop),
        "token" => decode::<tiktok_api::Token>(envelope, status, body).map(drop),
        "revoke" => decode::<tiktok_api::Revoked>(envelope, status, body).map(drop),
        other => panic!("decode_for: no data type for endpoint {other}"),
    }
}

/// Checks one answer of `endpoint`: JSON, a status documented for the path in
/// `generated/openapi.yaml` with a body its schema accepts, decoded by the generated
/// client as success exactly when 2xx, an error code from the catalog with the status the
/// endpoint's table gives it, a `log_id` (equal to the `x-tt-logid` header when there is
/// one). Returns the `log_id`.
pub fn check_answer(
    openapi: &OpenApi,
    endpoint: &EndpointMeta,
    status: u16,
    header_log_id: Option<&str>,
    body: &[u8],
) -> Result<String, String> {
    let text = String::from_utf8_lossy(body);
    let json: Value = serde_json::from_slice(body)
        .map_err(|error| format!("HTTP {status}: the body is not JSON ({error}): {text}"))?;
    openapi.check(endpoint.path, endpoint.method, status, &json)?;
    let log_id = match decode_for(endpoint, status, body) {
        Ok(()) => {
            if !(200..300).contains(&status) {
                return Err(format!("HTTP {status} decoded as a success: {text}"));
            }
            // The v2 envelope carries it in the body; the OAuth shape only in the header.
            match json["error"]["log_id"].as_str() {
                Some(log_id) => log_id.to_owned(),
                None => header_log_id.unwrap_or_default().to_owned(),
            }
        }
        Err(Error::Api {
            status: error_status,
            code,
            log_id,
            ..
        })
        | Err(Error::OAuth {
            status: error_status,
            error: code,
            log_id,
            ..
        }) => {
            if error_status != status {
                return Err(format!(
                    "the error says HTTP {error_status}, the answer {status}"
                ));
            }
            if !code.is_known() {
                return Err(format!("{code} is not in the catalog: {text}"));
            }
            if endpoint.status_of(&code) != Some(status) {
                return Err(format!(
                    "{code} with HTTP {status}; the table of {} says {:?}: {text}",
                    endpoint.id,
                    endpoint.status_of(&code)
                ));
            }
            log_id
        }
        Err(other) => return Err(format!("the client cannot decode it: {other}")),
    };
    if log_id.is_empty() {
        return Err(format!("HTTP {status} without a log_id: {text}"));
    }
    if let Some(header) = header_log_id
        && header != log_id
    {
        return Err(format!(
            "x-tt-logid {header} but log_id {log_id} in the body"
        ));
    }
    Ok(log_id)
}

/// The response schemas of `generated/openapi.yaml`, `$ref`s resolved, compiled as
/// JSON Schema draft 2020-12 (OpenAPI 3.1's dialect).
#[derive(Debug)]
pub struct OpenApi {
    /// (path, lower-case method, status) to the compiled schema of the JSON body.
    responses: BTreeMap<(String, String, u16), jsonschema::Validator>,
}

impl OpenApi {
    /// Loads and compiles `generated/openapi.yaml` of this workspace.
    ///
    /// # Panics
    /// If the file is missing, is not YAML, or a schema does not compile.
    pub fn load() -> OpenApi {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../generated/openapi.yaml");
        let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path}: {error}"));
        let document: Value =
            serde_yaml::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"));
        let mut responses = BTreeMap::new();
        let paths = document["paths"]
            .as_object()
            .unwrap_or_else(|| panic!("{path}: no paths"));
        for (api_path, operations) in paths {
            let Some(operations) = operations.as_object() else {
                continue;
            };
            for (method, operation) in operations {
                let Some(by_status) = operation["responses"].as_object() else {
                    continue;
                };
                for (status, response) in by_status {
                    let Ok(status) = status.parse::<u16>() else {
                        panic!("{api_path} {method}: a status that is not a number: {status}");
                    };
                    let response = resolve(&document, response, 0);
                    let schema = &response["content"]["application/json"]["schema"];
                    if schema.is_null() {
                        continue;
                    }
                    let validator = jsonschema::draft202012::new(schema).unwrap_or_else(|error| {
                        panic!("{api_path} {method} {status}: the schema does not compile: {error}")
                    });
                    responses.insert((api_path.clone(), method.clone(), status), validator);
                }
            }
        }
        OpenApi { responses }
    }

    /// The statuses the document lists for `method path`.
    pub fn statuses(&self, path: &str, method: HttpMethod) -> Vec<u16> {
        let method = method.as_str().to_ascii_lowercase();
        self.responses
            .keys()
            .filter(|(api_path, api_method, _)| api_path == path && *api_method == method)
            .map(|(_, _, status)| *status)
            .collect()
    }

    /// Checks that `status` is documented for `method path` and that `body` validates
    /// against its schema; the error says which rule failed where.
    pub fn check(
        &self,
        path: &str,
        method: HttpMethod,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let key = (
            path.to_owned(),
            method.as_str().to_ascii_lowercase(),
            status,
        );
        let Some(validator) = self.responses.get(&key) else {
            return Err(format!(
                "{} {path}: HTTP {status} is not documented (documented: {:?})",
                method.as_str(),
                self.statuses(path, method)
            ));
        };
        let problems: Vec<String> = validator
            .iter_errors(body)
            .map(|error| format!("at {}: {error}", error.instance_path()))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} {path} HTTP {status}: {}",
                method.as_str(),
                problems.join("; ")
            ))
        }
    }
}

/// Replaces every local `$ref` under `value` by the schema it names (its sibling keywords
/// kept beside it in an `allOf`), so a schema compiles without the rest of the document.
fn resolve(document: &Value, value: &Value, depth: usize) -> Value {
    assert!(depth < 64, "$ref chain deeper than 64: a cycle?");
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let pointer = reference
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("a non-local $ref: {reference}"));
                let target = document
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("a dangling $ref: {reference}"));
                let target = resolve(document, target, depth + 1);
                let siblings: serde_json::Map<String, Value> = map
                    .iter()
                    .filter(|(key, _)| key.as_str() != "$ref")
                    .map(|(key, value)| (key.clone(), resolve(document, value, depth)))
                    .collect();
                if siblings.is_empty() {
                    return target;
                }
                let mut merged = siblings;
                merged.insert("allOf".into(), json!([target]));
                return Value::Object(merged);
            }
            Value::Object(
                map.iter()
                    .map(|(key, value)| (key.clone(), resolve(document, value, depth)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| resolve(document, item, depth))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The variable that picks the store every mock of the suite runs on: `memory` (the
/// default) or `sqlite` (each mock on its own new state file, removed when it stops), so
/// `.ci/run` runs the whole suite against both stores and they cannot drift.
pub const STORE_VARIABLE: &str = "TIKTOK_MOCK_STORE";

/// A mock builder on the store [`STORE_VARIABLE`] names: what every test of the suite
/// starts its mock from.
///
/// # Panics
/// If the variable names no store, or the temporary state file can't be created.
pub fn mock() -> tiktok_mock::MockServerBuilder {
    let builder = tiktok_mock::MockServer::builder();
    match std::env::var(STORE_VARIABLE).as_deref() {
        Err(_) | Ok("") | Ok("memory") => builder,
        Ok("sqlite") => {
            let store = match tiktok_mock::store::sqlite::SqliteStore::temporary() {
                Ok(store) => store,
                Err(error) => panic!("{STORE_VARIABLE}=sqlite: {error}"),
            };
            builder.state(|state| state.store(std::sync::Arc::new(store)))
        }
        Ok(other) => panic!("{STORE_VARIABLE}={other:?}: expected memory or sqlite"),
    }
}

/// What most properties start from: a mock, a [`tap::Tap`] in front of it, the generated
/// client pointed at the tap, and a control client for the mock itself.
#[derive(Debug)]
pub struct Harness {
    /// The mock (stops when dropped).
    pub mock: tiktok_mock::MockServer,
    /// The recording proxy the client goes through.
    pub tap: tap::Tap,
    /// The generated client, its base URL the tap's, with the demo app's credentials (the
    /// mock's first app, read from its fixtures).
    pub client: tiktok_api::Client,
    /// The mock's control API.
    pub control: Control,
}

impl Harness {
    /// Starts the mock `builder` describes, and the tap, on `runtime`.
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        builder: tiktok_mock::MockServerBuilder,
    ) -> Harness {
        runtime.block_on(async {
            let mock = builder.start().await;
            let tap = tap::Tap::start(&mock.uri()).await;
            let mut builder = tiktok_api::Client::builder().plain().base_url(tap.uri());
            if let Some(app) = mock.state().store().apps().into_iter().next() {
                builder = builder.credentials(app.client_key, app.client_secret);
            }
            let client = match builder.build() {
                Ok(client) => client,
                Err(error) => panic!("the generated client does not build: {error}"),
            };
            let control = Control::new(mock.uri());
            Harness {
                mock,
                tap,
                client,
                control,
            }
        })
    }
}
