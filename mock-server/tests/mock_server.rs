//! `MockServer` as a Rust test meets it, in the manner of wiremock: tokens for any creator,
//! an authorize URL run to its code, faults, stubs for answers outside the catalog, the call
//! log, reset, and expectations checked when the server drops.

mod support;

use serde_json::json;
use support::client;
use tiktok_api::endpoints::{TOKEN, USER_INFO, VIDEO_LIST};
use tiktok_api::oauth::{AuthorizeUrl, Pkce};
use tiktok_api::{Error, ErrorCode, Scope, UserField};
use tiktok_mock::MockServer;

const NEW_CREATOR: &str = "-000beef9a8b7c6d5e4f3021a2b3c4d5e6f70";

#[tokio::test]
async fn tokens_codes_faults_stubs_and_the_call_log() {
    let mock = MockServer::start().await;
    let api = client(&mock);

    // A token for any creator.
    let token = mock.user_token(Some(NEW_CREATOR), &[Scope::UserInfoBasic]);
    let me = api
        .user_info(&token, &[UserField::DisplayName])
        .await
        .expect("user info");
    assert_eq!(me.user.display_name.as_deref(), Some("New Creator"));

    // An authorize URL, approved, gives a code the token endpoint takes with the demo
    // app's credentials as the mock reads them from its fixtures.
    let app = mock.demo_app();
    let redirect_uri = app.redirect_uris.first().expect("a redirect URI");
    let pkce = Pkce::generate();
    let url = AuthorizeUrl::new(&app.client_key, redirect_uri)
        .base(format!("{}/v2/auth/authorize/", mock.uri()))
        .scopes(&[Scope::UserInfoBasic])
        .state("s")
        .pkce(&pkce)
        .build();
    let code = mock.authorize(&url).await;
    let exchanged = api
        .exchange_code(&code, redirect_uri, Some(pkce.verifier()))
        .await
        .expect("the code exchanges");
    assert!(exchanged.access_token.starts_with("act."));

    // A fault for the next call, then normal service.
    mock.fault(&USER_INFO, ErrorCode::InternalError, 1);
    let failed = api.user_info(&token, &[UserField::OpenId]).await;
    assert!(
        matches!(
            &failed,
            Err(Error::Api {
                status: 500,
                code: ErrorCode::InternalError,
                ..
            })
        ),
        "{failed:?}"
    );
    api.user_info(&token, &[UserField::OpenId])
        .await
        .expect("served again");

    // A stub: a status and body outside the catalog, as given, on every call.
    mock.stub(
        &USER_INFO,
        418,
        json!({"data": {}, "error": {"code": "teapot", "message": "short and stout", "log_id": "x"}}),
    );
    for _ in 0..2 {
        match api.user_info(&token, &[UserField::OpenId]).await {
            Err(Error::Api {
                status,
                code,
                message,
                ..
            }) => {
                assert_eq!(
                    (status, code.as_str(), message.as_str()),
                    (418, "teapot", "short and stout")
                );
            }
            other => panic!("expected the stub, got {other:?}"),
        }
    }

    // The call log saw all of it.
    let calls = mock.calls();
    let user_info: Vec<_> = calls
        .iter()
        .filter(|c| c.endpoint.as_deref() == Some("user_info"))
        .collect();
    assert_eq!(user_info.len(), 5);
    assert_eq!(user_info[1].decision, "internal_error");
    assert_eq!(user_info[3].decision, "stub");

    // Reset: the stub and the log are gone, the demo data is back.
    mock.reset();
    assert!(mock.calls().is_empty());
    let token = mock.user_token(None, &[Scope::UserInfoBasic]);
    api.user_info(&token, &[UserField::OpenId])
        .await
        .expect("no stub after reset");
}

#[tokio::test]
async fn expectations_are_met_quietly() {
    let mock = MockServer::start().await;
    let api = client(&mock);
    let token = mock.user_token(None, &[Scope::UserInfoBasic]);
    mock.expect(&USER_INFO, 2);
    mock.expect(&VIDEO_LIST, 0);
    mock.expect(&TOKEN, 0..=1);
    for _ in 0..2 {
        api.user_info(&token, &[UserField::OpenId])
            .await
            .expect("user info");
    }
    assert_eq!(mock.verify(), Ok(()));
}

#[tokio::test]
async fn unmet_expectations_fail_when_the_server_drops_and_list_the_calls() {
    let mock = MockServer::start().await;
    let api = client(&mock);
    let token = mock.user_token(None, &[Scope::UserInfoBasic]);
    mock.expect(&USER_INFO, 1..);
    mock.expect(&VIDEO_LIST, 1);
    api.user_info(&token, &[UserField::OpenId])
        .await
        .expect("user info");
    let problem = mock.verify().expect_err("video_list was never called");
    assert!(
        problem.contains("expected exactly 1 call(s) to video_list, received 0"),
        "{problem}"
    );
    assert!(
        problem.contains("GET /v2/user/info/ -> 200 ok"),
        "{problem}"
    );
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(mock)));
    let message = dropped.expect_err("dropping panics");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("expectations not met"), "{message}");
}
