//! OAuth's token calls as a real app meets them, through the generated client: code
//! exchange with PKCE in both encodings, refresh with rotation and lifetimes on the manual
//! clock, client credentials, revoke with its webhook, and every code-exchange error.
//! The authorize step is in `oauth_authorize.rs`.

mod support;

use serde_json::json;
use support::{
    Receiver, authorize_url, client, client_as, client_key, client_secret, code_with, control, get,
    http, manual_mock, oauth_error, redirect_query, redirect_uri, set_callback,
};
use tiktok_api::oauth::{ChallengeEncoding, Pkce};
use tiktok_api::{ErrorCode, Scope, UserField, WebhookContent, WebhookEventKind};

#[tokio::test]
async fn authorization_code_flow_end_to_end_with_pkce_in_both_encodings() {
    let mock = manual_mock().await;
    let api = client(&mock);
    for encoding in [ChallengeEncoding::Hex, ChallengeEncoding::Base64Url] {
        let pkce = Pkce::generate();
        let code = code_with(&mock, &pkce, encoding).await;
        let token = api
            .exchange_code(&code, redirect_uri(), Some(pkce.verifier()))
            .await
            .expect("exchange");
        assert!(token.access_token.starts_with("act."));
        assert_eq!(token.expires_in, 7200);
        assert_eq!(token.refresh_expires_in, Some(15_552_000));
        assert!(
            token
                .refresh_token
                .as_deref()
                .is_some_and(|t| t.starts_with("rft."))
        );
        assert_eq!(token.token_type, "Bearer");
        assert_eq!(
            token.scope.as_deref(),
            Some("user.info.basic,user.info.stats,video.list")
        );
        let me = api
            .user_info(
                &token.access_token,
                &[UserField::OpenId, UserField::FollowerCount],
            )
            .await
            .expect("user info");
        assert_eq!(me.user.open_id, token.open_id);
    }
    // A subset granted through the auto-approve query, as another creator.
    let url = authorize_url(&mock).build();
    let query = redirect_query(
        &get(&format!(
            "{url}&auto_approve=1&grant=user.info.basic&open_id=-000cafe1b2c3d4e5f60718293a4b5c6d7e8f"
        ))
        .await,
    );
    assert_eq!(query["scopes"], "user.info.basic");
    let token = api
        .exchange_code(&query["code"], redirect_uri(), None)
        .await
        .expect("a web flow without PKCE");
    assert_eq!(
        token.open_id.as_deref(),
        Some("-000cafe1b2c3d4e5f60718293a4b5c6d7e8f")
    );
    // A code minted through the control API works the same.
    let (status, minted) = control(
        &mock,
        "/_mock/oauth/codes",
        json!({"scopes": ["user.info.basic"]}),
    )
    .await;
    assert_eq!(status, 200, "{minted}");
    api.exchange_code(minted["code"].as_str().expect("code"), redirect_uri(), None)
        .await
        .expect("control code");
}

#[tokio::test]
async fn every_code_exchange_error() {
    let mock = manual_mock().await;
    let api = client(&mock);
    let pkce = Pkce::generate();
    // Wrong secret: 401 invalid_client.
    let code = code_with(&mock, &pkce, ChallengeEncoding::Hex).await;
    let (status, error, _) = oauth_error(
        client_as(&mock, client_key(), "wrong")
            .exchange_code(&code, redirect_uri(), Some(pkce.verifier()))
            .await,
    );
    assert_eq!((status, error), (401, ErrorCode::InvalidClient));
    // Unknown code.
    let (status, error, _) = oauth_error(api.exchange_code("nope", redirect_uri(), None).await);
    assert_eq!((status, error), (400, ErrorCode::InvalidGrant));
    // Reused code: invalid_grant, and the token it gave is revoked.
    let token = api
        .exchange_code(&code, redirect_uri(), Some(pkce.verifier()))
        .await
        .expect("first use");
    let (status, error, description) = oauth_error(
        api.exchange_code(&code, redirect_uri(), Some(pkce.verifier()))
            .await,
    );
    assert_eq!((status, error), (400, ErrorCode::InvalidGrant));
    assert!(description.contains("already been used"), "{description}");
    let refused = api
        .user_info(&token.access_token, &[UserField::OpenId])
        .await
        .expect_err("revoked");
    assert_eq!(refused.code(), Some(&ErrorCode::AccessTokenInvalid));
    // Expired: codes live 300 s on the mock's clock.
    let code = code_with(&mock, &pkce, ChallengeEncoding::Hex).await;
    mock.advance(300);
    let (status, error, description) = oauth_error(
        api.exchange_code(&code, redirect_uri(), Some(pkce.verifier()))
            .await,
    );
    assert_eq!((status, error), (400, ErrorCode::InvalidGrant));
    assert!(description.contains("expired"), "{description}");
    // redirect_uri differs from the authorize request's.
    let code = code_with(&mock, &pkce, ChallengeEncoding::Hex).await;
    let (status, error, description) = oauth_error(
        api.exchange_code(
            &code,
            "https://app.example/auth/callback",
            Some(pkce.verifier()),
        )
        .await,
    );
    assert_eq!((status, error), (400, ErrorCode::InvalidRequest));
    assert!(description.contains("Redirect_uri"), "{description}");
    // PKCE: verifier missing, then wrong.
    let code = code_with(&mock, &pkce, ChallengeEncoding::Base64Url).await;
    let (status, error, _) = oauth_error(api.exchange_code(&code, redirect_uri(), None).await);
    assert_eq!((status, error), (400, ErrorCode::InvalidRequest));
    let code = code_with(&mock, &pkce, ChallengeEncoding::Base64Url).await;
    let other = Pkce::generate();
    let (status, error, _) = oauth_error(
        api.exchange_code(&code, redirect_uri(), Some(other.verifier()))
            .await,
    );
    assert_eq!((status, error), (400, ErrorCode::InvalidGrant));
    // Another app's code.
    let (status, _) = control(
        &mock,
        "/_mock/apps",
        json!({"client_key": "k2", "client_secret": "s2", "redirect_uris": [redirect_uri()]}),
    )
    .await;
    assert_eq!(status, 200);
    let code = code_with(&mock, &pkce, ChallengeEncoding::Hex).await;
    let (status, error, _) = oauth_error(
        client_as(&mock, "k2", "s2")
            .exchange_code(&code, redirect_uri(), Some(pkce.verifier()))
            .await,
    );
    assert_eq!((status, error), (400, ErrorCode::InvalidGrant));
    // Raw form bodies: missing code, unknown grant, malformed.
    let (key, secret) = (client_key(), client_secret());
    for (body, status, error) in [
        (
            format!(
                "client_key={key}&client_secret={secret}&grant_type=authorization_code&redirect_uri=x"
            ),
            400,
            "invalid_request",
        ),
        (
            format!("client_key={key}&client_secret={secret}&grant_type=password"),
            400,
            "unsupported_grant_type",
        ),
        (
            format!("client_key={key}&client_secret={secret}&grant_type=refresh_token"),
            400,
            "invalid_request",
        ),
        (
            format!("client_key={key}&grant_type=client_credentials"),
            400,
            "invalid_request",
        ),
    ] {
        let response = http()
            .post(format!("{}/v2/oauth/token/", mock.uri()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .expect("token");
        assert_eq!(response.status().as_u16(), status, "{body}");
        let answer: serde_json::Value = response.json().await.expect("json");
        assert_eq!(answer["error"], error, "{body}: {answer}");
        assert!(answer["error_description"].is_string());
        assert_eq!(answer["log_id"].as_str().map(str::len), Some(34));
    }
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_lifetimes_run_on_the_mock_clock() {
    let mock = manual_mock().await;
    let api = client(&mock);
    let pkce = Pkce::generate();
    let code = code_with(&mock, &pkce, ChallengeEncoding::Hex).await;
    let first = api
        .exchange_code(&code, redirect_uri(), Some(pkce.verifier()))
        .await
        .expect("exchange");
    let first_refresh = first.refresh_token.clone().expect("refresh token");
    mock.advance(7200);
    let expired = api
        .user_info(&first.access_token, &[UserField::OpenId])
        .await
        .expect_err("expired after 7200 s");
    assert_eq!(expired.code(), Some(&ErrorCode::AccessTokenInvalid));
    let second = api
        .refresh_access_token(&first_refresh)
        .await
        .expect("refresh");
    let second_refresh = second.refresh_token.clone().expect("rotated");
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(second.expires_in, 7200);
    // The refresh token keeps its remaining lifetime.
    assert_eq!(second.refresh_expires_in, Some(15_552_000 - 7200));
    assert_eq!(second.scope, first.scope);
    assert_eq!(second.open_id, first.open_id);
    api.user_info(&second.access_token, &[UserField::OpenId])
        .await
        .expect("the new token works");
    // The old refresh token stopped working at once.
    let (status, error, description) = oauth_error(api.refresh_access_token(&first_refresh).await);
    assert_eq!((status, error), (400, ErrorCode::InvalidGrant));
    assert!(description.contains("latest"), "{description}");
    // Another app can't use it; wrong secret is invalid_client.
    let (status, error, _) = oauth_error(
        client_as(&mock, client_key(), "x")
            .refresh_access_token(&second_refresh)
            .await,
    );
    assert_eq!((status, error), (401, ErrorCode::InvalidClient));
    let (status, error, _) = oauth_error(api.refresh_access_token("rft.nope").await);
    assert_eq!((status, error), (400, ErrorCode::InvalidGrant));
    // The refresh token itself expires.
    mock.advance(15_552_000);
    let (status, error, description) = oauth_error(api.refresh_access_token(&second_refresh).await);
    assert_eq!((status, error), (400, ErrorCode::InvalidGrant));
    assert!(description.contains("expired"), "{description}");
}

#[tokio::test]
async fn previous_lifetimes_and_may_rotation_are_settings() {
    let mock = manual_mock().await;
    let api = client(&mock);
    let (status, settings) = control(
        &mock,
        "/_mock/oauth/settings",
        json!({"lifetimes": "previous"}),
    )
    .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(
        settings,
        json!({"access_token_ttl_seconds": 86400, "refresh_token_ttl_seconds": 31536000, "rotation": "may", "code_ttl_seconds": 300,
               "rate_limit_per_minute": null, "errors_with_http_200": false})
    );
    let pkce = Pkce::generate();
    let code = code_with(&mock, &pkce, ChallengeEncoding::Hex).await;
    let first = api
        .exchange_code(&code, redirect_uri(), Some(pkce.verifier()))
        .await
        .expect("exchange");
    assert_eq!(first.expires_in, 86_400);
    assert_eq!(first.refresh_expires_in, Some(31_536_000));
    let refresh = first.refresh_token.clone().expect("refresh");
    for _ in 0..2 {
        let again = api
            .refresh_access_token(&refresh)
            .await
            .expect("the same refresh token keeps working");
        assert_eq!(again.refresh_token.as_deref(), Some(refresh.as_str()));
        assert_ne!(again.access_token, first.access_token);
    }
    // Single figures, and bad settings.
    let (status, settings) = control(
        &mock,
        "/_mock/oauth/settings",
        json!({"lifetimes": "current", "access_token_ttl_seconds": 60, "rotation": "always"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(settings["access_token_ttl_seconds"], 60);
    assert_eq!(settings["refresh_token_ttl_seconds"], 15_552_000);
    for bad in [
        json!({"lifetimes": "ancient"}),
        json!({"rotation": "sometimes"}),
        json!({"access_token_ttl_seconds": -1}),
        json!({"typo": 1}),
    ] {
        let (status, answer) = control(&mock, "/_mock/oauth/settings", bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
}

#[tokio::test]
async fn client_credentials_give_a_research_client_token() {
    let mock = manual_mock().await;
    let api = client(&mock);
    let token = api.client_credentials_token().await.expect("client token");
    assert!(token.access_token.starts_with("clt."));
    assert_eq!(token.expires_in, 7200);
    assert_eq!(token.refresh_token, None);
    assert_eq!(token.open_id, None);
    assert_eq!(token.scope, None);
    let record = mock
        .state()
        .store()
        .token(&token.access_token)
        .expect("stored");
    assert_eq!(record.scopes, vec![Scope::ResearchDataBasic]);
    let (status, error, _) = oauth_error(
        client_as(&mock, client_key(), "x")
            .client_credentials_token()
            .await,
    );
    assert_eq!((status, error), (401, ErrorCode::InvalidClient));
    // An app without Research API access: unauthorized_client.
    let (status, _) = control(
        &mock,
        "/_mock/apps",
        json!({"client_key": "k3", "client_secret": "s3", "research_api": false}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, error, _) = oauth_error(
        client_as(&mock, "k3", "s3")
            .client_credentials_token()
            .await,
    );
    assert_eq!((status, error), (400, ErrorCode::UnauthorizedClient));
}

#[tokio::test]
async fn revoke_kills_the_token_and_its_refresh_token_and_fires_authorization_removed() {
    let mock = manual_mock().await;
    let api = client(&mock);
    let receiver = Receiver::start(&mock, client_secret()).await;
    set_callback(&mock, &receiver.url).await;
    let pkce = Pkce::generate();
    let code = code_with(&mock, &pkce, ChallengeEncoding::Hex).await;
    let first = api
        .exchange_code(&code, redirect_uri(), Some(pkce.verifier()))
        .await
        .expect("exchange");
    // Refresh once: revoking the older access token ends the whole authorization.
    let second = api
        .refresh_access_token(first.refresh_token.as_deref().unwrap())
        .await
        .expect("refresh");
    let revoked = api.revoke_token(&first.access_token).await;
    assert!(revoked.is_ok(), "{revoked:?}");
    for token in [&first.access_token, &second.access_token] {
        let error = api
            .user_info(token, &[UserField::OpenId])
            .await
            .expect_err("revoked");
        assert_eq!(error.code(), Some(&ErrorCode::AccessTokenInvalid));
    }
    let (status, error, _) = oauth_error(
        api.refresh_access_token(second.refresh_token.as_deref().unwrap())
            .await,
    );
    assert_eq!((status, error), (400, ErrorCode::InvalidGrant));
    let received = receiver.wait_for(1).await;
    assert_eq!(received.len(), 1);
    let payload = &received[0].payload;
    assert_eq!(payload.event, WebhookEventKind::AuthorizationRemoved);
    assert_eq!(payload.user_openid, first.open_id);
    match payload.content().expect("content") {
        WebhookContent::AuthorizationRemoved(content) => assert_eq!(content.reason, 5),
        other => panic!("unexpected {other:?}"),
    }
    // Revoking again answers 200 and fires nothing more.
    api.revoke_token(&second.access_token)
        .await
        .expect("idempotent");
    // Unknown tokens, client tokens and other apps' tokens: invalid_grant; bad secret: invalid_client.
    let client_token = api.client_credentials_token().await.expect("client token");
    for token in ["act.nope", client_token.access_token.as_str()] {
        let (status, error, _) = oauth_error(api.revoke_token(token).await);
        assert_eq!((status, error), (400, ErrorCode::InvalidGrant));
    }
    let live = mock.user_token(None, &[Scope::UserInfoBasic]);
    let (status, error, _) = oauth_error(
        client_as(&mock, client_key(), "x")
            .revoke_token(&live)
            .await,
    );
    assert_eq!((status, error), (401, ErrorCode::InvalidClient));
    let response = http()
        .post(format!("{}/v2/oauth/revoke/", mock.uri()))
        .form(&[
            ("client_key", client_key()),
            ("client_secret", client_secret()),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(response.status().as_u16(), 400);
    let answer: serde_json::Value = response.json().await.expect("json");
    assert_eq!(answer["error"], "invalid_request");
    // Tokens minted through the control API refresh and revoke the same way.
    let (_, minted) = control(&mock, "/_mock/tokens", json!({})).await;
    let refreshed = api
        .refresh_access_token(minted["refresh_token"].as_str().unwrap())
        .await
        .expect("control tokens refresh");
    api.revoke_token(&refreshed.access_token)
        .await
        .expect("revoke");
    let error = api
        .user_info(
            minted["access_token"].as_str().unwrap(),
            &[UserField::OpenId],
        )
        .await
        .expect_err("the whole authorization is gone");
    assert_eq!(error.code(), Some(&ErrorCode::AccessTokenInvalid));
    assert_eq!(receiver.wait_for(2).await.len(), 2);
}

/// The mock's records of secrets (app, access and refresh tokens, codes, posts, the demo
/// tokens) show no secret in their `Debug` form, so a log line or a test failure that
/// prints one leaks nothing.
#[tokio::test]
async fn records_holding_secrets_redact_them_from_debug() {
    let mock = manual_mock().await;
    let pkce = Pkce::generate();
    let code = code_with(&mock, &pkce, ChallengeEncoding::Hex).await;
    let store = mock.state().store();
    let code_record = store.redeem_auth_code(&code).expect("the code is stored");
    let app = store.app(client_key()).expect("the demo app");
    let token = mock.user_token(None, &[Scope::VideoPublish]);
    let token_record = store.token(&token).expect("the token is stored");
    let demo = mock.state().demo_tokens().clone();
    // A refresh record lists the access tokens issued under it.
    let second = code_with(&mock, &pkce, ChallengeEncoding::Hex).await;
    let exchanged = client(&mock)
        .exchange_code(&second, redirect_uri(), Some(pkce.verifier()))
        .await
        .expect("exchange");
    let refresh = exchanged.refresh_token.clone().expect("a refresh token");
    let refresh_record = store
        .refresh_token(&refresh)
        .expect("the refresh token is stored");
    let shown = [
        format!("{code_record:?}"),
        format!("{app:?}"),
        format!("{token_record:?}"),
        format!("{demo:?}"),
        format!("{refresh_record:?}"),
    ];
    let secrets = [
        code.as_str(),
        app.client_secret.as_str(),
        token.as_str(),
        demo.full.as_str(),
        demo.read_only.as_str(),
        refresh.as_str(),
        exchanged.access_token.as_str(),
    ];
    for text in &shown {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert!(shown[2].contains("act.…"), "{}", shown[2]);
    assert!(
        shown[1].contains(client_key()),
        "the rest stays readable: {}",
        shown[1]
    );
}
