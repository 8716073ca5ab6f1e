//! Envelope and schema: random calls to the read endpoints (random tokens valid and
//! not, random `fields`, random bodies drawn from the request schemas, invalid ones
//! included) sent over real HTTP; every answer decodes with the generated client into
//! data or a typed API error (never a decode error), its status is documented for that
//! path and method in `generated/openapi.yaml` and its body validates against that
//! status's schema, every error carries a catalog code with the status the endpoint's
//! table gives it and a `log_id`, and no two answers share a `log_id`.
//!
//! Why it matters: whatever a user's app sends, what comes back has the shape the client
//! and the published document promise, so error handling written against the document
//! works; and each answer can be quoted to support by its own `log_id`.

use std::collections::BTreeSet;
use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use tiktok_api::meta::{
    Access, Auth, ContentType, EndpointMeta, Envelope, HttpMethod, SchemaMeta, TypeMeta,
};
use tiktok_api::{Error, Scope};
use tiktok_conformance::{Control, OpenApi, cases, check_answer, runtime};
use tiktok_mock::{ClockKind, MockServer};

/// 600 per minute × 0.01 = 6, and 20 or 30 per minute become 1: the shared tokens run
/// into `rate_limit_exceeded` often enough to check its envelope too.
const SCALE: f64 = 0.01;

/// The endpoints of this property: every read endpoint of the table.
fn read_endpoints() -> Vec<&'static EndpointMeta> {
    tiktok_api::ENDPOINTS
        .iter()
        .copied()
        .filter(|endpoint| endpoint.access == Access::Read)
        .collect()
}

/// Which `Authorization` a call carries.
#[derive(Debug, Clone)]
enum TokenChoice {
    /// No header at all.
    Missing,
    /// `Bearer` and this text, which is no token the mock issued.
    Garbage(String),
    /// Not the `Bearer` scheme.
    WrongScheme,
    /// A user token minted already expired.
    Expired,
    /// A user token revoked before the call.
    Revoked,
    /// A fresh user token with these scopes.
    User(Vec<Scope>),
    /// One of a few long-lived user tokens with every scope, shared across calls so that
    /// rate limits are reached.
    Shared(usize),
    /// The shared client (`clt.`) token.
    Client,
}

/// The request body a call sends.
#[derive(Debug, Clone)]
enum BodyChoice {
    /// No body.
    Empty,
    /// This JSON value, drawn from the endpoint's request schema.
    Json(Value),
    /// These bytes, most of them not JSON.
    Raw(Vec<u8>),
}

/// One call: the endpoint, its inputs, and how far the clock moves before it.
#[derive(Debug, Clone)]
struct Call {
    endpoint: usize,
    token: TokenChoice,
    fields: Option<Vec<String>>,
    body: BodyChoice,
    content_type: Option<&'static str>,
    advance_ms: i64,
}

fn token_strategy() -> BoxedStrategy<TokenChoice> {
    prop_oneof![
        1 => Just(TokenChoice::Missing),
        1 => prop_oneof![
            Just(String::new()),
            Just("act.".to_owned()),
            Just("clt.nope".to_owned()),
            "act\\.[a-zA-Z0-9]{0,40}",
            "[ -~]{0,20}",
        ]
        .prop_map(TokenChoice::Garbage),
        1 => Just(TokenChoice::WrongScheme),
        1 => Just(TokenChoice::Expired),
        1 => Just(TokenChoice::Revoked),
        3 => proptest::sample::subsequence(Scope::ALL.to_vec(), 0..=Scope::ALL.len())
            .prop_map(TokenChoice::User),
        3 => (0usize..2).prop_map(TokenChoice::Shared),
        2 => Just(TokenChoice::Client),
    ]
    .boxed()
}

/// `fields`: absent, or names of the endpoint's field schema mixed with names that are not.
fn fields_strategy(endpoint: &EndpointMeta) -> BoxedStrategy<Option<Vec<String>>> {
    let mut names: Vec<String> = endpoint
        .fields
        .map(|fields| {
            fields
                .schema
                .fields
                .iter()
                .map(|field| field.name.to_owned())
                .collect()
        })
        .unwrap_or_default();
    let valid = names.clone();
    names.extend(["", "nope", "OPEN_ID", "id ", "é", "video_id"].map(String::from));
    let mixed = proptest::collection::vec(proptest::sample::select(names), 0..6);
    if valid.is_empty() {
        prop_oneof![Just(None), mixed.prop_map(Some)].boxed()
    } else {
        prop_oneof![
            1 => Just(None),
            4 => proptest::sample::subsequence(valid.clone(), 1..=valid.len()).prop_map(Some),
            2 => mixed.prop_map(Some),
        ]
        .boxed()
    }
}

/// Any JSON value of a few shapes: the wrong type for most fields.
fn wrong_type() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e20f64..1e20).prop_map(|number| json!(number)),
        "[ -~]{0,12}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!([1, "a", null])),
        Just(json!({ "nested": { "deeper": [true] } })),
    ]
    .boxed()
}

/// A value for a field of type `ty` within `minimum`..`maximum` (and length and item
/// bounds), usually valid, sometimes just past a bound, sometimes (one in
/// `1 + valid_weight`) of the wrong type.
fn value_strategy(
    valid_weight: u32,
    ty: &'static TypeMeta,
    bounds: (Option<i64>, Option<i64>),
    lengths: (Option<u64>, Option<u64>, Option<u64>),
    depth: u32,
) -> BoxedStrategy<Value> {
    let (minimum, maximum) = bounds;
    let (max_length, min_items, max_items) = lengths;
    let valid = match ty {
        TypeMeta::String => {
            let longest = max_length.unwrap_or(40) as usize;
            prop_oneof![
                Just("7300000000000000001".to_owned()),
                "[0-9]{19}",
                proptest::string::string_regex(&format!("[ -~]{{0,{longest}}}"))
                    .unwrap_or_else(|error| panic!("{error}")),
                proptest::string::string_regex(&format!("[a-zé🎵]{{{0},{0}}}", longest + 1))
                    .unwrap_or_else(|error| panic!("{error}")),
            ]
            .prop_map(Value::from)
            .boxed()
        }
        TypeMeta::Bool => any::<bool>().prop_map(Value::from).boxed(),
        TypeMeta::I32 | TypeMeta::I64 => {
            let (type_min, type_max) = match ty {
                TypeMeta::I32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
                _ => (i64::MIN, i64::MAX),
            };
            let low = minimum.unwrap_or(type_min);
            let high = maximum.unwrap_or(type_max);
            let mut edges = vec![json!(low), json!(high), json!(type_min), json!(type_max)];
            edges.extend(
                [low.checked_sub(1), high.checked_add(1)]
                    .into_iter()
                    .flatten()
                    .map(Value::from),
            );
            edges.extend([json!(u64::MAX), json!(1.5), json!("12"), json!(-0.0)]);
            prop_oneof![
                4 => (low..=high).prop_map(Value::from),
                1 => proptest::sample::select(edges),
            ]
            .boxed()
        }
        TypeMeta::Enum(values) => {
            let mut names: Vec<Value> = values.values.iter().map(|value| json!(value)).collect();
            names.extend([
                json!("NOT_A_VALUE"),
                json!(""),
                json!(values.values[0].to_lowercase()),
            ]);
            proptest::sample::select(names).boxed()
        }
        TypeMeta::List(item) => {
            let fewest = min_items.unwrap_or(0) as usize;
            let most = max_items.unwrap_or(5) as usize;
            proptest::collection::vec(
                value_strategy(30, item, (None, None), (None, None, None), depth + 1),
                fewest.saturating_sub(1)..=most + 1,
            )
            .prop_map(Value::from)
            .boxed()
        }
        TypeMeta::Schema(schema) if depth < 4 => object_strategy(schema, depth + 1),
        TypeMeta::Schema(_) => Just(json!({})).boxed(),
    };
    prop_oneof![valid_weight => valid, 1 => wrong_type()].boxed()
}

/// An object of `schema`: each field present or not (required ones mostly present), with
/// a value from [`value_strategy`], sometimes an unknown key beside them.
fn object_strategy(schema: &'static SchemaMeta, depth: u32) -> BoxedStrategy<Value> {
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = schema
        .fields
        .iter()
        .map(|field| {
            let value = value_strategy(
                8,
                &field.ty,
                (field.minimum, field.maximum),
                (field.max_length, field.min_items, field.max_items),
                depth,
            );
            let present = if field.required { 0.9 } else { 0.5 };
            proptest::option::weighted(present, value)
                .prop_map(move |value| value.map(|value| (field.name.to_owned(), value)))
                .boxed()
        })
        .collect();
    (fields, proptest::option::of(("[a-z_]{1,8}", wrong_type())))
        .prop_map(|(fields, extra)| {
            let mut object: serde_json::Map<String, Value> = fields.into_iter().flatten().collect();
            if let Some((key, value)) = extra {
                object.entry(key).or_insert(value);
            }
            Value::Object(object)
        })
        .boxed()
}

fn body_strategy(endpoint: &EndpointMeta) -> BoxedStrategy<BodyChoice> {
    let raw = prop_oneof![
        Just(b"{".to_vec()),
        Just(b"{\"filters\":".to_vec()),
        Just(b"null".to_vec()),
        Just(b"[]".to_vec()),
        Just(b"1e999".to_vec()),
        Just(vec![0xff, 0xfe, 0x7b, 0x7d]),
        Just([b"[".repeat(2_000), b"]".repeat(2_000)].concat()),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]
    .prop_map(BodyChoice::Raw);
    match endpoint.request {
        Some((schema, _)) => prop_oneof![
            1 => Just(BodyChoice::Empty),
            6 => object_strategy(schema, 0).prop_map(BodyChoice::Json),
            1 => wrong_type().prop_map(BodyChoice::Json),
            2 => raw,
        ]
        .boxed(),
        None => prop_oneof![
            4 => Just(BodyChoice::Empty),
            1 => wrong_type().prop_map(BodyChoice::Json),
            1 => raw,
        ]
        .boxed(),
    }
}

fn content_type_strategy(endpoint: &EndpointMeta) -> BoxedStrategy<Option<&'static str>> {
    let declared = match endpoint.request {
        Some((_, ContentType::Form)) => "application/x-www-form-urlencoded",
        _ => "application/json",
    };
    prop_oneof![
        6 => Just(Some(declared)),
        1 => Just(None),
        1 => proptest::sample::select(vec![
            Some("application/json; charset=utf-8"),
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/JSON"),
        ]),
    ]
    .boxed()
}

fn call_strategy(endpoints: &[&'static EndpointMeta]) -> BoxedStrategy<Call> {
    let endpoints = endpoints.to_vec();
    (0..endpoints.len())
        .prop_flat_map(move |index| {
            let endpoint = endpoints[index];
            (
                Just(index),
                token_strategy(),
                fields_strategy(endpoint),
                body_strategy(endpoint),
                content_type_strategy(endpoint),
                prop_oneof![9 => Just(0i64), 1 => 0i64..90_000],
            )
        })
        .prop_map(
            |(endpoint, token, fields, body, content_type, advance_ms)| Call {
                endpoint,
                token,
                fields,
                body,
                content_type,
                advance_ms,
            },
        )
        .boxed()
}

/// The tokens shared across calls, minted once.
struct Tokens {
    shared: Vec<String>,
    client: String,
}

async fn authorization(control: &Control, tokens: &Tokens, choice: &TokenChoice) -> Option<String> {
    let bearer = |token: &str| Some(format!("Bearer {token}"));
    match choice {
        TokenChoice::Missing => None,
        TokenChoice::Garbage(text) => bearer(text),
        TokenChoice::WrongScheme => Some(format!("Basic {}", tokens.shared[0])),
        TokenChoice::Expired => bearer(&control.mint(None, Scope::ALL, Some(0)).await),
        TokenChoice::Revoked => {
            let token = control.mint(None, Scope::ALL, None).await;
            control.revoke(&token).await;
            bearer(&token)
        }
        TokenChoice::User(scopes) => bearer(&control.mint(None, scopes, None).await),
        TokenChoice::Shared(index) => bearer(&tokens.shared[*index]),
        TokenChoice::Client => bearer(&tokens.client),
    }
}

/// Sends `call` over HTTP; returns the status, the `x-tt-logid` header and the body.
async fn send(
    http: &reqwest::Client,
    base: &str,
    control: &Control,
    tokens: &Tokens,
    endpoint: &EndpointMeta,
    call: &Call,
) -> (u16, Option<String>, Vec<u8>) {
    if call.advance_ms > 0 {
        control.advance_ms(call.advance_ms).await;
    }
    let mut url = format!("{base}{}", endpoint.path);
    if let Some(fields) = &call.fields {
        let query: String = url_encode(&fields.join(","));
        url.push_str(&format!("?fields={query}"));
    }
    let method = match endpoint.method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
    };
    let mut request = http.request(method, url);
    if let Some(authorization) = authorization(control, tokens, &call.token).await {
        request = request.header("Authorization", authorization);
    }
    if let Some(content_type) = call.content_type {
        request = request.header("Content-Type", content_type);
    }
    request = match &call.body {
        BodyChoice::Empty => request,
        BodyChoice::Json(value) => request.body(value.to_string()),
        BodyChoice::Raw(bytes) => request.body(bytes.clone()),
    };
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("{} {}: {error}", endpoint.method.as_str(), endpoint.path));
    let status = response.status().as_u16();
    let log_id = response
        .headers()
        .get("x-tt-logid")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = response
        .bytes()
        .await
        .unwrap_or_else(|error| panic!("reading the body: {error}"))
        .to_vec();
    (status, log_id, body)
}

/// Percent-encodes a query value (everything but unreserved characters).
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b',' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[test]
fn every_answer_decodes_validates_and_has_its_own_log_id() {
    let runtime = runtime();
    let mock = runtime.block_on(
        MockServer::builder()
            .clock_kind(ClockKind::Manual)
            .rate_limit_scale(SCALE)
            .start(),
    );
    let base = mock.uri();
    let control = Control::new(&base);
    let http = reqwest::Client::new();
    let openapi = OpenApi::load();
    let endpoints = read_endpoints();
    assert!(
        endpoints
            .iter()
            .any(|endpoint| endpoint.auth == Auth::ClientToken)
            && endpoints
                .iter()
                .any(|endpoint| endpoint.envelope == Envelope::V2),
        "the read endpoints cover both token kinds"
    );
    let tokens = runtime.block_on(async {
        let mut shared = Vec::new();
        for _ in 0..2 {
            shared.push(control.mint(None, Scope::ALL, Some(1_000_000_000)).await);
        }
        Tokens {
            shared,
            client: control.client_token().await,
        }
    });
    let seen = Mutex::new(BTreeSet::new());
    let statuses = Mutex::new(BTreeSet::new());

    let strategy = proptest::collection::vec(call_strategy(&endpoints), 1..6);
    let mut runner = TestRunner::new(Config {
        cases: cases(256),
        ..Config::default()
    });
    let result = runner.run(&strategy, |calls| {
        for (index, call) in calls.iter().enumerate() {
            let endpoint = endpoints[call.endpoint];
            let (status, header, body) =
                runtime.block_on(send(&http, &base, &control, &tokens, endpoint, call));
            let log_id = check_answer(&openapi, endpoint, status, header.as_deref(), &body)
                .map_err(|problem| {
                    TestCaseError::fail(format!(
                        "call {index} of {calls:#?}: {} {}: {problem}",
                        endpoint.method.as_str(),
                        endpoint.path
                    ))
                })?;
            let fresh = seen
                .lock()
                .unwrap_or_else(|error| panic!("{error}"))
                .insert(log_id.clone());
            prop_assert!(fresh, "log_id {} came twice", log_id);
            statuses
                .lock()
                .unwrap_or_else(|error| panic!("{error}"))
                .insert((endpoint.id, status));
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    // With the default case count the run reaches successes and errors alike.
    let statuses = statuses
        .into_inner()
        .unwrap_or_else(|error| panic!("{error}"));
    if cases(256) >= 64 {
        for status in [200, 400, 401, 429] {
            assert!(
                statuses.iter().any(|(_, got)| *got == status),
                "no answer with HTTP {status} in the run: {statuses:?}"
            );
        }
    }
}

#[test]
fn an_unknown_path_is_the_gateways_404_not_a_v2_envelope() {
    let runtime = runtime();
    let mock = runtime.block_on(MockServer::start());
    let token = mock.user_token(Scope::ALL);
    let http = reqwest::Client::new();
    let base = mock.uri();
    let requests = [
        (reqwest::Method::GET, "/v2/nope/"),
        (reqwest::Method::POST, "/v2/video/lists/"),
        (reqwest::Method::GET, "/v2/user/info"),
        (reqwest::Method::POST, "/v2/user/info/"),
        (reqwest::Method::GET, "/v2/video/list/"),
        (reqwest::Method::GET, "/"),
    ];
    runtime.block_on(async {
        for (method, path) in requests {
            let response = http
                .request(method.clone(), format!("{base}{path}?fields=open_id"))
                .header("Authorization", format!("Bearer {token}"))
                .send()
                .await
                .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
            let status = response.status().as_u16();
            let body = response
                .bytes()
                .await
                .unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(status, 404, "{method} {path}");
            assert_eq!(&body[..], b"Unsupported path(Janus)", "{method} {path}");
            let decoded = tiktok_api::decode_response::<Value>(Envelope::V2, status, &body);
            assert!(
                matches!(decoded, Err(Error::Decode { status: 404, .. })),
                "{method} {path}: {decoded:?}"
            );
        }
    });
}

/// The schema check itself rejects what it must: a wrong type in `data`, data on an
/// error, a missing `log_id`, and a status the document does not list.
#[test]
fn the_schema_check_rejects_bodies_off_the_document() {
    let openapi = OpenApi::load();
    let user_info = &tiktok_api::endpoints::USER_INFO;
    let ok = json!({
        "data": { "user": { "open_id": "x", "follower_count": 3 } },
        "error": { "code": "ok", "message": "", "log_id": "L" },
    });
    let check =
        |status: u16, body: &Value| openapi.check(user_info.path, user_info.method, status, body);
    assert_eq!(check(200, &ok), Ok(()));
    let mut wrong_type = ok.clone();
    wrong_type["data"]["user"]["follower_count"] = json!("3");
    assert!(check(200, &wrong_type).is_err());
    let error = json!({
        "data": {},
        "error": { "code": "access_token_invalid", "message": "m", "log_id": "L" },
    });
    assert_eq!(check(401, &error), Ok(()));
    let mut with_data = error.clone();
    with_data["data"] = json!({ "user": {} });
    assert!(check(401, &with_data).is_err());
    let mut without_log_id = error.clone();
    without_log_id["error"]
        .as_object_mut()
        .map(|object| object.remove("log_id"));
    assert!(check(401, &without_log_id).is_err());
    assert!(check(413, &error).is_err());
    assert!(check(404, &error).is_err());
}

/// The property has teeth against a live mock: answers the mock is made to give through
/// its fault injection, off the document or off the endpoint's table, fail the check.
#[test]
fn answers_off_the_document_fail_the_check() {
    let runtime = runtime();
    let mock = runtime.block_on(MockServer::start());
    let base = mock.uri();
    let control = Control::new(&base);
    let openapi = OpenApi::load();
    let http = reqwest::Client::new();
    let tokens = Tokens {
        shared: vec![mock.user_token(Scope::ALL)],
        client: String::new(),
    };
    let endpoint = &tiktok_api::endpoints::USER_INFO;
    let call = Call {
        endpoint: 0,
        token: TokenChoice::Shared(0),
        fields: Some(vec!["open_id".into()]),
        body: BodyChoice::Empty,
        content_type: None,
        advance_ms: 0,
    };
    let faults = [
        // A status the document does not list for the path.
        (
            json!({ "endpoint": "user_info", "error_code": "internal_error", "status": 418 }),
            "not documented",
        ),
        // A catalog code the endpoint's table does not list.
        (
            json!({ "endpoint": "user_info", "error_code": "invalid_publish_id", "status": 400 }),
            "the table of user_info",
        ),
        // A code from no catalog at all.
        (
            json!({ "endpoint": "user_info", "error_code": "made_up_code", "status": 400 }),
            "not in the catalog",
        ),
    ];
    runtime.block_on(async {
        let (status, header, body) = send(&http, &base, &control, &tokens, endpoint, &call).await;
        check_answer(&openapi, endpoint, status, header.as_deref(), &body)
            .unwrap_or_else(|problem| panic!("without a fault: {problem}"));
        for (fault, expected) in faults {
            let (fault_status, answer) = control.post_raw("/_mock/faults", fault.clone()).await;
            if fault_status != 200 {
                // The control API refuses a code outside the catalog: nothing to check.
                assert_eq!(fault["error_code"], "made_up_code", "{fault}: {answer}");
                continue;
            }
            let (status, header, body) =
                send(&http, &base, &control, &tokens, endpoint, &call).await;
            let problem = check_answer(&openapi, endpoint, status, header.as_deref(), &body)
                .expect_err("an answer off the document");
            assert!(problem.contains(expected), "{fault}: {problem}");
        }
    });
}
