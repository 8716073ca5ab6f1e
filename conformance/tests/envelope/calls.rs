//! The calls of the envelope property: which endpoints, the strategies drawing a call
//! (token, `fields`, body valid or not, content type), the shared tokens, and sending a
//! call over HTTP.

use proptest::prelude::*;
use serde_json::{Value, json};
use tiktok_api::Scope;
use tiktok_api::meta::{Access, ContentType, EndpointMeta, HttpMethod, SchemaMeta, TypeMeta};
use tiktok_conformance::Control;

/// The endpoints of this property: every read endpoint of the table.
pub(crate) fn read_endpoints() -> Vec<&'static EndpointMeta> {
    tiktok_api::ENDPOINTS
        .iter()
        .copied()
        .filter(|endpoint| endpoint.access == Access::Read)
        .collect()
}

/// Which `Authorization` a call carries.
#[derive(Debug, Clone)]
pub(crate) enum TokenChoice {
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
pub(crate) enum BodyChoice {
    /// No body.
    Empty,
    /// This JSON value, drawn from the endpoint's request schema.
    Json(Value),
    /// These bytes, most of them not JSON.
    Raw(Vec<u8>),
}

/// One call: the endpoint, its inputs, and how far the clock moves before it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) endpoint: usize,
    pub(crate) token: TokenChoice,
    pub(crate) fields: Option<Vec<String>>,
    pub(crate) body: BodyChoice,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) advance_ms: i64,
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

pub(crate) fn call_strategy(endpoints: &[&'static EndpointMeta]) -> BoxedStrategy<Call> {
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
pub(crate) struct Tokens {
    pub(crate) shared: Vec<String>,
    pub(crate) client: String,
}

async fn authorization(control: &Control, tokens: &Tokens, choice: &TokenChoice) -> Option<String> {
    let bearer = |token: &str| Some(format!("Bearer {token}"));
    match choice {
        TokenChoice::Missing => None,
        TokenChoice::Garbage(text) => bearer(text),
        TokenChoice::WrongScheme => Some(format!("Basic {}", tokens.shared[0])),
        TokenChoice::Expired => bearer(&control.access_token(None, Scope::ALL, Some(0)).await),
        TokenChoice::Revoked => {
            let token = control.access_token(None, Scope::ALL, None).await;
            control.revoke(&token).await;
            bearer(&token)
        }
        TokenChoice::User(scopes) => bearer(&control.access_token(None, scopes, None).await),
        TokenChoice::Shared(index) => bearer(&tokens.shared[*index]),
        TokenChoice::Client => bearer(&tokens.client),
    }
}

/// Sends `call` over HTTP; returns the status, the `x-tt-logid` header and the body.
pub(crate) async fn send(
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
