//! Property tests of the consent page and the OAuth form endpoints: whatever query or form a
//! client sends, the answer is a page, a redirect or a flat OAuth error, never a 5xx.

mod support;

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use support::{Harness, client_key, client_secret};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Pairs mixing the real parameters with valid, junk and non-UTF-8 values.
fn pairs() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("client_key"),
        Just("client_secret"),
        Just("scope"),
        Just("redirect_uri"),
        Just("response_type"),
        Just("state"),
        Just("code_challenge"),
        Just("code_challenge_method"),
        Just("auto_approve"),
        Just("grant"),
        Just("granted"),
        Just("open_id"),
        Just("action"),
        Just("grant_type"),
        Just("code"),
        Just("code_verifier"),
        Just("refresh_token"),
        Just("token"),
        Just("x"),
    ];
    let value = prop_oneof![
        Just(client_key().to_owned()),
        Just(client_secret().to_owned()),
        Just("http%3A%2F%2Flocalhost%3A3000%2Fauth%2Fcallback".to_owned()),
        Just("user.info.basic%2Cvideo.list".to_owned()),
        Just("code".to_owned()),
        Just("1".to_owned()),
        Just("approve".to_owned()),
        Just("authorization_code".to_owned()),
        Just("refresh_token".to_owned()),
        Just("client_credentials".to_owned()),
        Just("%FF%FE".to_owned()),
        Just("%".to_owned()),
        "[a-zA-Z0-9._~*!-]{0,60}",
        ".{0,30}".prop_map(|text| text.replace(['&', '#', ' '], "")),
    ];
    proptest::collection::vec((key, value), 0..10).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn authorize_and_oauth_forms_never_answer_5xx(query in pairs(), method in 0..4u8) {
        let runtime = runtime();
        let mock = Harness::new();
        let (http_method, uri, body, content_type) = match method {
            0 => ("GET", format!("/v2/auth/authorize/?{query}"), String::new(), None),
            1 => ("POST", "/v2/auth/authorize/".to_owned(), query.clone(), Some("application/x-www-form-urlencoded")),
            2 => ("POST", "/v2/oauth/token/".to_owned(), query.clone(), Some("application/x-www-form-urlencoded")),
            _ => ("POST", "/v2/oauth/revoke/".to_owned(), query.clone(), Some("application/x-www-form-urlencoded")),
        };
        let Ok(request) = ({
            let mut builder = Request::builder().method(http_method).uri(&uri);
            if let Some(content_type) = content_type {
                builder = builder.header("content-type", content_type);
            }
            builder.body(Body::from(body))
        }) else {
            // The URI itself is not valid HTTP; no server would see it.
            return Ok(());
        };
        let answer = runtime.block_on(mock.send(request));
        prop_assert!(answer.status < 500, "{uri} {query}: {} {}", answer.status, answer.text);
        if method >= 2 && answer.status >= 400 {
            prop_assert!(answer.json["error"].is_string(), "{}", answer.text);
            prop_assert!(answer.json["error_description"].is_string(), "{}", answer.text);
        }
        if answer.status == 302 {
            let location = answer.headers.get("location").and_then(|value| value.to_str().ok());
            prop_assert!(location.is_some_and(|l| l.starts_with("http://localhost:3000/auth/callback?")), "{location:?}");
        }
    }
}
