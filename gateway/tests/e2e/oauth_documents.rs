//! Client ID Metadata Documents at the gateway's authorization server: fetched bounded
//! (huge, slow, redirected, not JSON or naming another client id: each refused with
//! `invalid_client` and audited), a good one leading to the consent page; a loopback
//! document URL refused unless the test switch is on.

use std::time::Duration;

use serde_json::{Value, json};

use crate::oauth::{REDIRECT, gateway, location, oauth_refusals};

/// Serves the documents `documents` makes from the server's origin (path and answer
/// each, answered once) on a free loopback port; its origin.
pub async fn document_server(
    documents: impl FnOnce(&str) -> Vec<(&'static str, axum::response::Response)>,
) -> String {
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let mut router = axum::Router::new();
    for (path, answer) in documents(&origin) {
        let answer = std::sync::Arc::new(std::sync::Mutex::new(Some(answer)));
        router = router.route(
            path,
            axum::routing::get(move || async move {
                if path == "/slow" {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                let taken = answer.lock().unwrap().take();
                taken.unwrap_or_else(|| "gone".into_response())
            }),
        );
    }
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    origin
}

#[tokio::test]
async fn client_metadata_documents_are_fetched_bounded_and_checked() {
    use axum::response::IntoResponse;
    let (setup, _server, _url, browser) =
        gateway(&[(tiktok_gateway::oauth::LOOPBACK_METADATA_ENV, "1")]).await;
    let documents = document_server(|origin| {
        let good = json!({"client_id": format!("{origin}/good"), "client_name": "by URL", "redirect_uris": [REDIRECT]});
        vec![
            ("/good", axum::Json(good).into_response()),
            ("/huge", "x".repeat(100_000).into_response()),
            ("/slow", "{}".into_response()),
            ("/redirect", axum::response::Redirect::temporary("/good").into_response()),
            ("/not-json", "<html></html>".into_response()),
            ("/other-id", axum::Json(json!({"client_id": "https://elsewhere.example/c", "redirect_uris": [REDIRECT]})).into_response()),
        ]
    })
    .await;
    let verifier = "d".repeat(43);
    for (path, why) in [
        ("/huge", "larger than"),
        ("/slow", "longer than"),
        ("/redirect", "redirects are not followed"),
        ("/not-json", "not a JSON"),
        ("/other-id", "client_id is not its URL"),
    ] {
        let client_id = format!("{documents}{path}");
        let response = browser.authorize_client(&client_id, &verifier).await;
        assert_eq!(response.status(), 400, "{path}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"], "invalid_client", "{path}");
        let description = answer["error_description"].as_str().unwrap();
        assert!(description.contains(why), "{path}: {answer}");
    }
    // The good one leads to the consent page, which names the client.
    let client_id = format!("{documents}/good");
    let response = browser.authorize_client(&client_id, &verifier).await;
    assert_eq!(response.status(), 303);
    let back = browser.consent(&location(&response), "reader").await;
    assert!(back.contains("code="), "{back}");
    let refusals = oauth_refusals(&setup).await;
    assert!(
        refusals
            .iter()
            .any(|reason| reason.contains("invalid_client")),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn a_loopback_client_metadata_url_is_refused_without_the_test_switch() {
    let (_setup, _server, _url, browser) = gateway(&[]).await;
    let documents = document_server(|origin| {
        let good = json!({"client_id": format!("{origin}/good"), "redirect_uris": [REDIRECT]});
        vec![(
            "/good",
            axum::response::IntoResponse::into_response(axum::Json(good)),
        )]
    })
    .await;
    let client_id = format!("{documents}/good");
    let response = browser.authorize_client(&client_id, &"e".repeat(43)).await;
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"], "invalid_client");
}
