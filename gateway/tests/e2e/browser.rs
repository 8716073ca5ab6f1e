//! The approval page in a real browser: headless Chromium (driven over WebDriver by
//! chromedriver) signs in with an operator key, sees a held call whose title is hostile
//! markup shown as text and never run, clicks Approve and sees the call decided.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and `chromium-driver`), so it is
//! ignored by `cargo test --workspace`; `.ci/run` runs it with
//! `cargo test -p tiktok-gateway --test e2e -- --ignored approval_page_in_a_browser`.

use fantoccini::{ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::approval_page::HOSTILE_TITLE;
use crate::setup::{Setup, approval_id, call, pull_upload};

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

    let (_driver, driver_url) = tiktok_mock::testing::chromedriver().await;
    let user_data = tempfile::tempdir().unwrap();
    let mut capabilities = serde_json::Map::new();
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
