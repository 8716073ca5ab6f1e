//! The approval page in a real browser: headless Chromium (driven over WebDriver by
//! chromedriver) signs in with an operator key, sees a held call whose title is hostile
//! markup shown as text and never run, clicks Approve and sees the call decided. And the
//! OAuth consent page: signed in on the way, an agent chosen, the browser sent back to the
//! client with a code that exchanges for a token.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and `chromium-driver`), so it is
//! ignored by `cargo test --workspace`; `.ci/run` runs it with
//! `cargo test -p tiktok-gateway --test e2e -- --ignored in_a_browser`.

use fantoccini::{ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::approval_page::HOSTILE_TITLE;
use crate::setup::{Setup, approval_id, call, pull_upload};

/// What a browser session holds on to: chromedriver (stopped on drop) and the profile.
pub struct Chromium {
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

/// A headless Chromium session, over chromedriver.
pub async fn chromium() -> (Chromium, fantoccini::Client) {
    let (driver, driver_url) = tiktok_mock::testing::chromedriver().await;
    let profile = tempfile::tempdir().unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver_url)
        .await
        .expect("a browser session");
    let held = Chromium {
        _driver: driver,
        _profile: profile,
    };
    (held, browser)
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run installs them and runs it"]
async fn approval_page_in_a_browser_shows_hostile_arguments_as_text_and_approves() {
    let setup = Setup::new().await;
    let key = setup.add_operator("alice");
    let poster = setup.agent("poster").await;
    let mut arguments = pull_upload();
    arguments["post_info"] = json!({"title": HOSTILE_TITLE, "privacy_level": "SELF_ONLY"});
    let id = approval_id(&call(&poster, "video_init", arguments).await.unwrap());
    let (_server, mcp) = setup.serve_http().await;
    let page = format!("{}/approvals", mcp.trim_end_matches("/mcp"));

    let (_chromium, browser) = chromium().await;

    // A wrong key first: refused, still the form.
    browser.goto(&page).await.unwrap();
    let field = browser.find(Locator::Id("key")).await.unwrap();
    field.send_keys("tgk_wrong").await.unwrap();
    browser
        .find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let error = browser
        .wait()
        .for_element(Locator::Id("error"))
        .await
        .unwrap();
    assert!(error.text().await.unwrap().contains("not an operator key"));

    // The right key: the held call, its hostile title shown as text, never run.
    let field = browser.find(Locator::Id("key")).await.unwrap();
    field.send_keys(&key).await.unwrap();
    browser
        .find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let operator = browser
        .wait()
        .for_element(Locator::Id("operator"))
        .await
        .unwrap();
    assert_eq!(operator.text().await.unwrap(), "alice");
    let section = format!("section[id=\"{id}\"]");
    let arguments = browser
        .find(Locator::Css(&format!("{section} pre.arguments")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let shown: Value = serde_json::from_str(&arguments).expect("the arguments as JSON text");
    assert_eq!(shown["post_info"]["title"], HOSTILE_TITLE);
    let pwned: Value = browser
        .execute(
            "return window.__pwned === undefined ? null : window.__pwned;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(pwned, Value::Null, "the agent's title ran as markup");
    assert!(
        browser
            .find_all(Locator::Css("img, pre b"))
            .await
            .unwrap()
            .is_empty()
    );

    // Approve: decided, recorded as alice's.
    browser
        .find(Locator::Css(&format!("{section} button.approve")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let title = browser
        .wait()
        .for_element(Locator::Id("title"))
        .await
        .unwrap();
    assert!(title.text().await.unwrap().starts_with("Approved"));
    let message = browser.find(Locator::Id("message")).await.unwrap();
    assert!(message.text().await.unwrap().contains("approved by alice"));
    browser.close().await.unwrap();

    let status = call(&poster, "gateway_approval_status", json!({"id": id}))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(status["decided_by"], "alice", "{status}");
    assert!(
        matches!(status["state"].as_str(), Some("done" | "failed")),
        "{status}"
    );
    poster.cancel().await.unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run installs them and runs it"]
async fn oauth_consent_in_a_browser_signs_in_chooses_an_agent_and_returns_a_code() {
    let (_setup, _server, _url, gateway) = crate::oauth::gateway(&[]).await;
    let callbacks = crate::oauth_documents::document_server(|_| {
        let page = axum::response::Html("<p id=\"back\">back at the client</p>");
        vec![(
            "/callback",
            axum::response::IntoResponse::into_response(page),
        )]
    })
    .await;
    let redirect = format!("{callbacks}/callback");
    let (status, registered) = gateway
        .register(json!({"client_name": "<b>a browser client</b>", "redirect_uris": [redirect]}))
        .await;
    assert_eq!(status, 201, "{registered}");
    let client_id = registered["client_id"].as_str().unwrap();
    let verifier = "f".repeat(43);
    let mut authorize = url::Url::parse(&format!("{}/oauth/authorize", gateway.origin)).unwrap();
    authorize.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", &redirect),
        ("code_challenge", &crate::oauth::challenge(&verifier)),
        ("code_challenge_method", "S256"),
        ("resource", &format!("{}/mcp", gateway.origin)),
        ("state", "browser-state"),
    ]);

    let (_chromium, browser) = chromium().await;
    // Not signed in: the sign-in form, leading on to the consent page.
    browser.goto(authorize.as_str()).await.unwrap();
    browser
        .wait()
        .for_element(Locator::Id("consent-next"))
        .await
        .unwrap();
    let field = browser.find(Locator::Id("key")).await.unwrap();
    field.send_keys(&gateway.operator_key).await.unwrap();
    browser
        .find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The consent page names the client as text, and offers the agents.
    let name = browser
        .wait()
        .for_element(Locator::Id("client-name"))
        .await
        .unwrap();
    assert_eq!(name.text().await.unwrap(), "<b>a browser client</b>");
    browser
        .find(Locator::Id("agent-poster"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .find(Locator::Id("allow"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Back at the client (the page's CSP lets its form go on there), with a code.
    browser
        .wait()
        .for_element(Locator::Id("back"))
        .await
        .unwrap();
    let back = browser.current_url().await.unwrap();
    browser.close().await.unwrap();
    let query: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "browser-state");
    assert_eq!(query["iss"], gateway.origin);
    let (status, tokens) = gateway
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &query["code"]),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(status, 200, "{tokens}");
    // The code was good: its token is taken at /mcp.
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(gateway.probe(&gateway.origin, access).await.0, 200);
}
