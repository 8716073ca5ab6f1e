//! Scope matrix: for every read endpoint a user token reaches, any set of granted scopes
//! and any choice of `fields`, the call through the generated client succeeds exactly
//! when the spec grants it, and otherwise fails with the exact typed error.
//!
//! Why it matters: an app that handles `scope_not_authorized` and
//! `scope_permission_missed` against the mock handles them against TikTok.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tiktok_api::meta::EndpointMeta;
use tiktok_api::{
    Client, Error, ErrorCode, Scope, VideoField, VideoQueryFilters, VideoQueryRequest,
};
use tiktok_conformance::tap::assert_conforms;
use tiktok_conformance::{Control, Harness, cases, expected_scope_outcome, runtime};

/// The endpoints of this property: user-token reads whose request the suite can build.
const ENDPOINTS: [&EndpointMeta; 4] = [
    &tiktok_api::endpoints::USER_INFO,
    &tiktok_api::endpoints::VIDEO_LIST,
    &tiktok_api::endpoints::VIDEO_QUERY,
    &tiktok_api::endpoints::CREATOR_INFO,
];

/// Calls `endpoint` through its typed client method.
async fn call(
    client: &Client,
    endpoint: &EndpointMeta,
    token: &str,
    fields: &[&str],
) -> Result<(), Error> {
    match endpoint.id {
        "user_info" => {
            let fields: Vec<_> = fields
                .iter()
                .filter_map(|name| tiktok_api::UserField::parse(name))
                .collect();
            client.user_info(token, &fields).await.map(drop)
        }
        "video_list" => {
            let fields: Vec<_> = fields
                .iter()
                .filter_map(|name| VideoField::parse(name))
                .collect();
            client
                .video_list(token, &fields, &Default::default())
                .await
                .map(drop)
        }
        "video_query" => {
            let fields: Vec<_> = fields
                .iter()
                .filter_map(|name| VideoField::parse(name))
                .collect();
            let body = VideoQueryRequest {
                filters: VideoQueryFilters {
                    video_ids: vec!["7300000000000000001".into()],
                },
            };
            client.video_query(token, &fields, &body).await.map(drop)
        }
        "creator_info" => client.creator_info(token).await.map(drop),
        other => panic!("no call for {other}"),
    }
}

fn field_names(endpoint: &EndpointMeta) -> Vec<&'static str> {
    endpoint
        .fields
        .map(|fields| {
            fields
                .schema
                .fields
                .iter()
                .map(|field| field.name)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_call_succeeds_exactly_when_the_spec_grants_it() {
    let runtime = runtime();
    // Every answer of this run goes through a tap and is checked against the document.
    let harness = Harness::start(&runtime, tiktok_conformance::mock());
    let Harness {
        client, control, ..
    } = &harness;

    let strategy = (0..ENDPOINTS.len()).prop_flat_map(|index| {
        let names = field_names(ENDPOINTS[index]);
        let fields = if names.is_empty() {
            Just(Vec::new()).boxed()
        } else {
            proptest::sample::subsequence(names.clone(), 1..=names.len()).boxed()
        };
        (
            Just(index),
            proptest::sample::subsequence(Scope::ALL.to_vec(), 0..=Scope::ALL.len()),
            fields,
        )
    });
    let mut runner = TestRunner::new(Config {
        cases: cases(256),
        ..Config::default()
    });
    let result = runner.run(&strategy, |(index, granted, fields)| {
        let endpoint = ENDPOINTS[index];
        let expected = expected_scope_outcome(endpoint, &granted, &fields);
        let outcome = runtime.block_on(async {
            let token = control.access_token(None, &granted, None).await;
            call(client, endpoint, &token, &fields).await
        });
        match (expected, outcome) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(code), Err(Error::Api { code: got, status, log_id, .. })) => {
                prop_assert_eq!(&got, &code, "{} with {:?} asking {:?}", endpoint.id, granted, fields);
                prop_assert_eq!(Some(status), endpoint.status_of(&code), "status of {}", code);
                prop_assert!(!log_id.is_empty(), "an error without log_id");
                Ok(())
            }
            (expected, outcome) => Err(TestCaseError::fail(format!(
                "{} with scopes {granted:?} and fields {fields:?}: spec says {expected:?}, mock gave {outcome:?}",
                endpoint.id
            ))),
        }
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    assert_conforms(&harness.tap);
}

#[test]
fn missing_expired_and_unknown_tokens_are_access_token_invalid() {
    let runtime = runtime();
    let mock = runtime.block_on(tiktok_conformance::mock().start());
    let client = Client::builder()
        .plain()
        .base_url(mock.uri())
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let control = Control::new(mock.uri());
    runtime.block_on(async {
        let expired = control.access_token(None, Scope::ALL, Some(0)).await;
        let valid = control.access_token(None, Scope::ALL, None).await;
        for endpoint in ENDPOINTS {
            let fields = field_names(endpoint);
            for token in ["", "act.nope", "garbage", expired.as_str()] {
                let error = call(&client, endpoint, token, &fields[..1.min(fields.len())])
                    .await
                    .expect_err("refused");
                assert_eq!(
                    error.code(),
                    Some(&ErrorCode::AccessTokenInvalid),
                    "{} with {token:?}: {error}",
                    endpoint.id
                );
                assert_eq!(error.status(), Some(401));
            }
            call(&client, endpoint, &valid, &fields)
                .await
                .unwrap_or_else(|error| panic!("{}: {error}", endpoint.id));
        }
    });
}
