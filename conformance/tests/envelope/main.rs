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

mod calls;

use std::collections::BTreeSet;
use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use tiktok_api::meta::{Auth, Envelope};
use tiktok_api::{Error, Scope};
use tiktok_conformance::{Control, OpenApi, cases, check_answer, runtime};
use tiktok_mock::ClockKind;

use calls::{BodyChoice, Call, TokenChoice, Tokens, call_strategy, read_endpoints, send};

/// 600 per minute × 0.01 = 6, and 20 or 30 per minute become 1: the shared tokens run
/// into `rate_limit_exceeded` often enough to check its envelope too.
const SCALE: f64 = 0.01;

#[test]
fn every_answer_decodes_validates_and_has_its_own_log_id() {
    let runtime = runtime();
    let mock = runtime.block_on(
        tiktok_conformance::mock()
            .clock_kind(ClockKind::Manual)
            .rate_limit_scale(SCALE)
            .start(),
    );
    let base = mock.uri();
    let control = Control::new(base.as_str());
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
            shared.push(
                control
                    .access_token(None, Scope::ALL, Some(1_000_000_000))
                    .await,
            );
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
    let mock = runtime.block_on(tiktok_conformance::mock().start());
    let token = mock.user_token(None, Scope::ALL);
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
    let mock = runtime.block_on(tiktok_conformance::mock().start());
    let base = mock.uri();
    let control = Control::new(base.as_str());
    let openapi = OpenApi::load();
    let http = reqwest::Client::new();
    let tokens = Tokens {
        shared: vec![mock.user_token(None, Scope::ALL)],
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
