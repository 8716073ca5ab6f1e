//! OAuth's authorize step as a real app meets it: the consent page's HTML, the form submit,
//! and every error the authorize endpoint produces.

mod support;

use serde_json::json;
use support::{
    authorize_url, client, client_key, control, form_token, get, http, manual_mock, oauth_error,
    redirect_query, redirect_uri,
};
use tiktok_api::Scope;
use tiktok_api::oauth::{AuthorizeUrl, Pkce};

#[tokio::test]
async fn consent_page_lists_each_scope_with_a_toggle_and_submits_back() {
    let mock = manual_mock().await;
    let pkce = Pkce::generate();
    let url = authorize_url(&mock).pkce(&pkce).build();
    let response = get(&url).await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.expect("html");
    assert!(html.contains("Demo App"), "{html}");
    assert!(html.contains(client_key()));
    for scope in ["user.info.basic", "user.info.stats", "video.list"] {
        assert!(
            html.contains(&format!(
                r#"type="checkbox" role="switch" id="scope-{scope}" name="granted" value="{scope}" checked"#
            )),
            "no toggle for {scope}: {html}"
        );
        let description = Scope::parse(scope).expect("scope").description();
        assert!(
            html.contains(&description.replace('\'', "&#39;")),
            "{description}"
        );
    }
    assert_eq!(html.matches(r#"role="switch""#).count(), 3);
    assert!(html.contains(r#"<form id="consent" method="post" action="/v2/auth/authorize/">"#));
    assert!(html.contains(r#"<input type="hidden" name="state" value="csrf-123">"#));
    assert!(html.contains(&format!(
        r#"<input type="hidden" name="code_challenge" value="{}">"#,
        pkce.challenge_hex()
    )));
    assert!(html.contains(r#"name="action" value="approve""#));
    assert!(html.contains(r#"name="action" value="cancel""#));
    assert!(html.contains(r#"<select name="open_id""#));
    // Submit as a browser would, with video.list toggled off.
    let open_id = mock.state().default_open_id().expect("creator");
    let token = form_token(&html);
    let form = [
        ("form_token", token.as_str()),
        ("client_key", client_key()),
        ("redirect_uri", redirect_uri()),
        ("scope", "user.info.basic,user.info.stats,video.list"),
        ("response_type", "code"),
        ("state", "csrf-123"),
        ("code_challenge", &pkce.challenge_hex()),
        ("code_challenge_method", "S256"),
        ("open_id", &open_id),
        ("granted", "user.info.basic"),
        ("granted", "user.info.stats"),
        ("action", "approve"),
    ];
    // Without the page's form token (a form posted from another site), nothing is granted.
    let mut forged = form.to_vec();
    forged[0].1 = "0000";
    let refused = http()
        .post(format!("{}/v2/auth/authorize/", mock.uri()))
        .form(&forged)
        .send()
        .await
        .expect("submit");
    assert_eq!(refused.status().as_u16(), 400);
    assert!(refused.text().await.expect("page").contains("form"));
    let response = http()
        .post(format!("{}/v2/auth/authorize/", mock.uri()))
        .form(&form)
        .send()
        .await
        .expect("submit");
    let query = redirect_query(&response);
    assert_eq!(query["scopes"], "user.info.basic,user.info.stats");
    assert_eq!(query["state"], "csrf-123");
    let code = &query["code"];
    assert!(code.contains('*') && code.contains('!'), "{code}");
    let token = client(&mock)
        .exchange_code(code, redirect_uri(), Some(pkce.verifier()))
        .await
        .expect("exchange");
    assert_eq!(
        token.scope.as_deref(),
        Some("user.info.basic,user.info.stats")
    );
    assert_eq!(token.open_id.as_deref(), Some(open_id.as_str()));
    // Cancel.
    let mut cancel = form.to_vec();
    cancel.retain(|(name, _)| *name != "action");
    cancel.push(("action", "cancel"));
    let response = http()
        .post(format!("{}/v2/auth/authorize/", mock.uri()))
        .form(&cancel)
        .send()
        .await
        .expect("cancel");
    let query = redirect_query(&response);
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], "csrf-123");
    assert!(!query.contains_key("code"));
    // Approving with every toggle off is a denial too.
    let mut none: Vec<(&str, &str)> = form.to_vec();
    none.retain(|(name, _)| *name != "granted");
    let response = http()
        .post(format!("{}/v2/auth/authorize/", mock.uri()))
        .form(&none)
        .send()
        .await
        .expect("submit");
    assert_eq!(redirect_query(&response)["error"], "access_denied");
}

#[tokio::test]
async fn every_authorize_error() {
    let mock = manual_mock().await;
    let base = format!("{}/v2/auth/authorize/", mock.uri());
    // Unknown client or unregistered redirect_uri: an error page, never a redirect.
    for (url, error) in [
        (
            AuthorizeUrl::new("nope", redirect_uri())
                .base(&base)
                .scopes(&[Scope::UserInfoBasic])
                .build(),
            "invalid_client",
        ),
        (
            AuthorizeUrl::new(client_key(), "https://evil.example/cb")
                .base(&base)
                .scopes(&[Scope::UserInfoBasic])
                .build(),
            "invalid_request",
        ),
        (format!("{base}?scope=user.info.basic"), "invalid_request"),
    ] {
        let response = get(&url).await;
        assert_eq!(response.status().as_u16(), 400, "{url}");
        assert!(response.headers().get("location").is_none());
        let html = response.text().await.expect("html");
        assert!(
            html.contains(&format!(r#"<code id="error">{error}</code>"#)),
            "{html}"
        );
    }
    // The rest go back to the app with error, error_description and state.
    let good = authorize_url(&mock).build();
    for (url, error) in [
        (
            good.replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            good.replace("scope=user.info.basic", "scope=user.info.everything"),
            "invalid_scope",
        ),
        (
            good.replace("scope=user.info.basic", "scope=research.data.basic"),
            "invalid_scope",
        ),
        (
            format!("{good}&code_challenge=abc&code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            AuthorizeUrl::new(client_key(), redirect_uri())
                .base(&base)
                .state("csrf-123")
                .build(),
            "invalid_request",
        ),
        (format!("{good}&auto_approve=0"), "access_denied"),
        (
            format!("{good}&auto_approve=1&grant=video.publish"),
            "invalid_scope",
        ),
    ] {
        let query = redirect_query(&get(&url).await);
        assert_eq!(query["error"], error, "{url}");
        assert!(!query["error_description"].is_empty());
        assert_eq!(query["state"], "csrf-123");
        assert!(!query.contains_key("code"));
    }
    // Server-side failures, and invalid_scope (which the token endpoint's table lists but
    // only the authorize step produces), through fault injection: the flat shape and the
    // table's status.
    let api = client(&mock);
    for (endpoint, code, expected) in [
        ("token", "server_error", 500),
        ("token", "temporarily_unavailable", 503),
        ("token", "invalid_scope", 400),
        ("revoke", "server_error", 500),
    ] {
        let (status, _) = control(
            &mock,
            "/_mock/faults",
            json!({"endpoint": endpoint, "error_code": code}),
        )
        .await;
        assert_eq!(status, 200);
        let result = if endpoint == "token" {
            api.client_credentials_token().await.map(|_| ())
        } else {
            api.revoke_token("act.any").await.map(|_| ())
        };
        let (status, error, _) = oauth_error(result);
        assert_eq!((status, error.as_str()), (expected, code));
    }
}

/// The consent page is a web page, not an API path: published clients build its URL with
/// or without the trailing slash, and both work (unlike the API's paths, where a missing
/// slash is TikTok's `Unsupported path(Janus)` 404).
#[tokio::test]
async fn the_consent_page_also_answers_without_its_trailing_slash() {
    let mock = manual_mock().await;
    let url = authorize_url(&mock).build();
    let slashless = url.replacen("/v2/auth/authorize/?", "/v2/auth/authorize?", 1);
    assert_ne!(slashless, url);
    let page = get(&slashless).await;
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.expect("html").contains("Demo App"));
    let approved = get(&format!("{slashless}&auto_approve=1")).await;
    let query = redirect_query(&approved);
    assert_eq!(query["state"], "csrf-123");
    assert!(!query["code"].is_empty());
}
