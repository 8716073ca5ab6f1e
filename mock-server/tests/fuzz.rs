//! Property tests: whatever bytes, query strings or JSON a client sends, the mock answers a
//! 2xx or a TikTok-shaped 4xx (never a 5xx), and keeps serving.

mod support;

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use serde_json::Value;
use support::{Harness, all_user_scopes};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Arbitrary JSON values, nested a few levels, with awkward numbers and strings.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        Just(Value::String("7300000000000000001".to_owned())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        let keys = prop_oneof![
            Just("max_count".to_owned()),
            Just("cursor".to_owned()),
            Just("filters".to_owned()),
            Just("video_ids".to_owned()),
            Just("post_mode".to_owned()),
            Just("source_info".to_owned()),
            ".{0,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn assert_shaped(status: u16, json: &Value, text: &str) {
    assert!(status < 500, "HTTP {status}: {text}");
    if status != 404 {
        let code = json["error"]["code"].as_str();
        assert!(code.is_some(), "not an envelope: {text}");
        assert_eq!(code == Some("ok"), status == 200, "{text}");
        if status != 200 {
            assert!(
                !json["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty(),
                "{text}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_json_bodies_never_yield_a_5xx(
        body in json_value(),
        endpoint in prop::sample::select(vec![
            "/v2/video/list/?fields=id",
            "/v2/video/query/?fields=id,title",
            "/v2/post/publish/content/init/",
            "/v2/post/publish/video/init/",
            "/v2/post/publish/status/fetch/",
        ]),
    ) {
        runtime().block_on(async {
            let mock = Harness::with(|builder| builder.rate_limit_scale(1000.0));
            let token = mock.token(&all_user_scopes());
            let answer = mock.post_json(endpoint, Some(&token), body.to_string()).await;
            assert_shaped(answer.status, &answer.json, &answer.text);
        });
    }

    #[test]
    fn arbitrary_bytes_and_queries_never_yield_a_5xx(
        body in prop::collection::vec(any::<u8>(), 0..256),
        query in "[a-z_=&,%0-9A-F\\x00-\\x7f]{0,40}",
        content_type in prop::sample::select(vec![
            "application/json", "text/plain", "application/x-www-form-urlencoded", "",
        ]),
    ) {
        runtime().block_on(async {
            let mock = Harness::new();
            let token = mock.token(&all_user_scopes());
            for path in ["/v2/video/list/", "/v2/oauth/token/", "/v2/research/video/comment/list/"] {
                let uri = format!("{path}?{}", query.replace(['#', ' '], ""));
                let Ok(mut request) = Request::builder().method("POST").uri(&uri).body(Body::from(body.clone())) else {
                    continue;
                };
                if !content_type.is_empty() {
                    request.headers_mut().insert("content-type", content_type.parse().expect("header"));
                }
                request.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("header"));
                let answer = mock.send(request).await;
                if path == "/v2/oauth/token/" {
                    assert!(answer.status < 500, "{}", answer.text);
                    assert!(answer.json.get("error").is_some() || answer.status == 200, "{}", answer.text);
                } else {
                    assert_shaped(answer.status, &answer.json, &answer.text);
                }
            }
            let answer = mock.get("/v2/user/info/?fields=open_id", Some(&token)).await;
            answer.assert_ok();
        });
    }
}
