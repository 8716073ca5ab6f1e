//! The OAuth token endpoint's codes: each used once, its PKCE verifier checked, a
//! reused refresh token revoking its grant, and the redirect URI asked for only when the
//! authorization request named it.

use crate::oauth::{REDIRECT, challenge, gateway, location, oauth_refusals};

#[tokio::test]
async fn codes_are_single_use_verifiers_checked_and_a_reused_refresh_token_revokes_its_grant() {
    let (setup, _server, _url, browser) = gateway(&[]).await;
    let client_id = browser.client_id().await;
    let verifier = "a".repeat(43);
    // A wrong verifier: refused, and the code is spent.
    let code = browser.code(&client_id, &verifier, "reader").await;
    let (status, answer) = browser.exchange(&client_id, &code, &"b".repeat(43)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = browser.exchange(&client_id, &code, &verifier).await;
    assert_eq!(status, 400);
    // A reused code: refused, and what the first exchange issued is revoked.
    let code = browser.code(&client_id, &verifier, "reader").await;
    let (status, tokens) = browser.exchange(&client_id, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(browser.probe(&browser.origin, access).await.0, 200);
    let (status, answer) = browser.exchange(&client_id, &code, &verifier).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(browser.probe(&browser.origin, access).await.0, 401);
    // Refresh rotates; the old refresh token used again revokes the whole grant.
    let code = browser.code(&client_id, &verifier, "reader").await;
    let (_, first) = browser.exchange(&client_id, &code, &verifier).await;
    let old_refresh = first["refresh_token"].as_str().unwrap();
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id.as_str()),
        ("refresh_token", old_refresh),
    ];
    let (status, second) = browser.token(&refresh).await;
    assert_eq!(status, 200, "{second}");
    let new_access = second["access_token"].as_str().unwrap();
    assert_eq!(browser.probe(&browser.origin, new_access).await.0, 200);
    let (status, answer) = browser.token(&refresh).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(browser.probe(&browser.origin, new_access).await.0, 401);
    let refusals = oauth_refusals(&setup).await;
    assert!(
        refusals
            .iter()
            .any(|reason| reason.contains("code_verifier")),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn the_token_request_names_the_redirect_uri_only_if_the_authorization_request_did() {
    let (_setup, _server, _url, browser) = gateway(&[]).await;
    let client_id = browser.client_id().await;
    let verifier = "c".repeat(43);
    // Named in the authorization request: the token request must name the same.
    let code = browser.code(&client_id, &verifier, "reader").await;
    let without = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id.as_str()),
        ("code", code.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, answer) = browser.token(&without).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant")),
        "{answer}"
    );
    // Left out (the client registered one): the code is exchanged without it.
    let resource = format!("{}/mcp", browser.origin);
    let challenge = challenge(&verifier);
    let response = browser
        .authorize(&[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", &resource),
            ("state", "s2"),
        ])
        .await;
    assert_eq!(response.status(), 303);
    let back = browser.consent(&location(&response), "reader").await;
    assert!(back.starts_with(REDIRECT), "{back}");
    let url = url::Url::parse(&back).unwrap();
    let code = url
        .query_pairs()
        .find(|(key, _)| key == "code")
        .unwrap()
        .1
        .into_owned();
    let without = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id.as_str()),
        ("code", code.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, tokens) = browser.token(&without).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(browser.probe(&browser.origin, access).await.0, 200);
}
