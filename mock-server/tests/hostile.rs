//! Hostile input to the upload host and the fixtures loader: any `Content-Range`, type and
//! body on a real upload URL gets a 2xx or a 4xx (never a 5xx), and any fixture text is
//! loaded or refused with a message, never a panic. Failing cases found are kept in
//! `hostile.proptest-regressions`.

mod support;

use axum::body::Body;
use axum::http::{Method, Request};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::json;
use support::Harness;
use tiktok_api::Scope;
use tiktok_mock::fixtures::Fixtures;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// `Content-Range` values: well-formed with any numbers, near-misses, or anything.
fn content_range() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<i64>(), any::<i64>(), any::<i64>())
            .prop_map(|(first, last, total)| format!("bytes {first}-{last}/{total}")),
        (0..2000i64, 0..2000i64).prop_map(|(first, last)| format!("bytes {first}-{last}/1000")),
        "(bytes|bites)? ?[0-9-]{0,25}(/[0-9*]{0,22})?",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_chunk_put_gets_a_2xx_or_a_4xx(
        range in content_range(),
        content_type in prop::sample::select(vec!["video/mp4", "video/quicktime", "text/plain", ""]),
        length in 0usize..2048,
        drop_range in any::<bool>(),
    ) {
        runtime().block_on(async {
            let harness = Harness::new();
            let token = harness.token(&[Scope::VideoUpload]);
            let init = harness
                .post_json(
                    "/v2/post/publish/inbox/video/init/",
                    Some(&token),
                    json!({"source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1}}).to_string(),
                )
                .await;
            init.assert_ok();
            let url = init.data()["upload_url"].as_str().expect("upload_url").to_owned();
            let path = &url[url.find("/upload/").expect("an upload path")..];
            let mut request = Request::builder().method(Method::PUT).uri(path);
            if !content_type.is_empty() {
                request = request.header("content-type", content_type);
            }
            if !drop_range {
                // A value the header type refuses is not sent at all (as a client library would).
                if let Ok(value) = axum::http::HeaderValue::from_str(&range) {
                    request = request.header("content-range", value);
                }
            }
            let answer = harness
                .send(request.body(Body::from(vec![7u8; length])).expect("request"))
                .await;
            assert!(
                (200..500).contains(&answer.status),
                "{} for Content-Range {range:?}, {length} bytes: {}",
                answer.status,
                answer.text
            );
        });
    }

    #[test]
    fn any_fixture_text_is_loaded_or_refused_with_a_message(
        text in prop_oneof![
            any::<String>(),
            "(apps|creators|videos|comments|open_id|id|: |- |\n  |\\[|\\]|\\{|\\}|[0-9]|x){0,60}",
        ],
    ) {
        if let Err(error) = Fixtures::from_yaml(&text) {
            prop_assert!(!error.to_string().is_empty());
        }
    }
}
