//! The consent page in a real browser: headless Chromium (driven over WebDriver by
//! chromedriver) opens an authorize URL the client built, unticks one scope, approves, and
//! lands on a local redirect receiver with the code and the granted scopes; the client
//! exchanges the code (PKCE) and the unticked scope is refused by the API. The app's name is
//! hostile markup, which the page must show as text and never run.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and `chromium-driver`), so it is
//! ignored by `cargo test --workspace`; `.ci/run` installs them and runs it with
//! `cargo test -p tiktok-conformance --test browser -- --ignored`.

use std::net::SocketAddr;
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use serde_json::{Value, json};
use tiktok_api::oauth::Pkce;
use tiktok_api::{Client, ErrorCode, Scope, UserField, VideoField, VideoListRequest};

const HOSTILE_NAME: &str = r#"<img src=x onerror="window.__pwned=1">Evil & "Co" <b>bold</b>"#;

#[tokio::test]
#[ignore = "needs chromium and chromedriver; .ci/run installs them and runs it"]
async fn the_consent_page_in_a_browser_grants_only_the_ticked_scopes() {
    let mock = tiktok_mock::MockServer::start().await;
    let base = mock.uri();
    let http = reqwest::Client::new();

    // The app's redirect: a receiver on a real socket that hands over the query it got.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let redirect_uri = format!("http://127.0.0.1:{}/callback", address.port());
    let (sender, mut received) = tokio::sync::mpsc::channel::<String>(1);
    let receiver = axum::Router::new().route(
        "/callback",
        axum::routing::get(move |uri: axum::http::Uri| {
            let sender = sender.clone();
            async move {
                let _ = sender
                    .send(uri.query().unwrap_or_default().to_string())
                    .await;
                "back at the app"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let app = json!({
        "client_key": "browser-app",
        "client_secret": "browser-app-secret",
        "name": HOSTILE_NAME,
        "redirect_uris": [redirect_uri],
    });
    let created = http
        .post(format!("{base}/_mock/apps"))
        .json(&app)
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());

    let client = Client::builder()
        .base_url(&base)
        .credentials("browser-app", "browser-app-secret")
        .plain()
        .build()
        .unwrap();
    let pkce = Pkce::generate();
    let authorize = client
        .authorize_url(&redirect_uri)
        .unwrap()
        .scopes(&[Scope::UserInfoBasic, Scope::VideoList])
        .state("state-from-the-app")
        .pkce(&pkce)
        .build();

    let (_driver, driver_url) = tiktok_mock::testing::chromedriver().await;
    let mut capabilities = serde_json::Map::new();
    let user_data = tempfile::tempdir().unwrap();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", user_data.path().display()),
            ],
        }),
    );
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver_url)
        .await
        .expect("a browser session");

    browser.goto(&authorize).await.unwrap();
    // The hostile name is shown as text, and its markup never ran.
    let name = browser.find(Locator::Id("app-name")).await.unwrap();
    assert_eq!(name.text().await.unwrap(), HOSTILE_NAME);
    let pwned: Value = browser
        .execute(
            "return window.__pwned === undefined ? null : window.__pwned;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(pwned, Value::Null, "the app's name ran as markup");
    assert!(
        browser
            .find_all(Locator::Css("#app-name img, #app-name b"))
            .await
            .unwrap()
            .is_empty()
    );

    // Untick video.list, approve.
    let toggle = browser
        .find(Locator::Css(r#"input[name="granted"][value="video.list"]"#))
        .await
        .unwrap();
    toggle.click().await.unwrap();
    assert_eq!(
        toggle.prop("checked").await.unwrap().as_deref(),
        Some("false")
    );
    browser
        .find(Locator::Id("approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let query = tokio::time::timeout(Duration::from_secs(20), received.recv())
        .await
        .expect("the browser reached the redirect")
        .unwrap();
    browser.close().await.unwrap();

    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    assert_eq!(get("state").as_deref(), Some("state-from-the-app"));
    assert_eq!(get("scopes").as_deref(), Some("user.info.basic"));
    let code = get("code").expect("a code");

    let token = client
        .exchange_code(&code, &redirect_uri, Some(pkce.verifier()))
        .await
        .unwrap();
    assert_eq!(token.scope.as_deref(), Some("user.info.basic"));
    let user = client.user_with_access_token(token.access_token);
    let me = user.user_info(&[UserField::OpenId]).await.unwrap();
    assert!(me.user.open_id.is_some());
    let refused = user
        .video_list(&[VideoField::Id], &VideoListRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Some(&ErrorCode::ScopeNotAuthorized),
        "{refused}"
    );
}
