//! Each example in `examples/` run against the mock on a real socket, through the same
//! `run` function its `main` calls.

mod common;

#[path = "../examples/list_videos.rs"]
mod list_videos;
#[path = "../examples/oauth_app.rs"]
mod oauth_app;
#[path = "../examples/post_video.rs"]
mod post_video;

use common::{Control, DEMO_OPEN_ID, PRIVATE_OPEN_ID};
use serde_json::json;

#[tokio::test]
async fn list_videos_prints_every_video_and_the_count_last() {
    let mock = tiktok_mock::MockServer::start().await;
    let control = Control::new(mock.uri());
    let token = control.mint(DEMO_OPEN_ID, &["video.list"]).await;
    let token = token["access_token"].as_str().unwrap();
    let mut out = Vec::new();
    let count = list_videos::run(Some(mock.uri()), token, &mut out)
        .await
        .unwrap();
    let total = control
        .get(&format!("/_mock/videos?open_id={DEMO_OPEN_ID}&limit=1"))
        .await["total"]
        .as_u64()
        .unwrap();
    assert_eq!(count as u64, total);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), count + 1);
    assert_eq!(
        lines.last().copied(),
        Some(format!("{total} videos").as_str())
    );
}

#[tokio::test]
async fn post_video_posts_a_file_directly_and_to_the_inbox() {
    let mock = tiktok_mock::MockServer::start().await;
    let control = Control::new(mock.uri());
    control
        .post("/_mock/posting", json!({"processing_ms": 0}))
        .await;
    let token = control
        .mint(PRIVATE_OPEN_ID, &["video.publish", "video.upload"])
        .await;
    let token = token["access_token"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clip.mp4");
    // Three chunks (10 MB, 10 MB, then the rest): the file is read a chunk at a time.
    std::fs::write(&file, vec![0u8; 32_345_678]).unwrap();
    for (inbox, expected) in [(false, "PUBLISH_COMPLETE"), (true, "SEND_TO_USER_INBOX")] {
        let args = post_video::Args::parse(
            ["--file".to_string(), file.display().to_string()]
                .into_iter()
                .chain(inbox.then(|| "--inbox".to_string())),
        )
        .unwrap();
        let mut out = Vec::new();
        let status = post_video::run(Some(mock.uri()), token, args, &mut out)
            .await
            .unwrap();
        assert_eq!(status, expected);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().last(), Some(expected));
    }
    assert!(post_video::Args::parse(["--inbox".to_string()]).is_err());
}

#[tokio::test]
async fn oauth_app_logs_in_with_pkce_and_shows_the_profile() {
    let mock = tiktok_mock::MockServer::start().await;
    let control = Control::new(mock.uri());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let redirect_uri = format!("http://localhost:{}/auth/callback", address.port());
    control
        .post(
            "/_mock/apps",
            json!({"client_key": "oauth-example", "client_secret": "oauth-example-secret", "redirect_uris": [redirect_uri]}),
        )
        .await;
    let client = tiktok_api::Client::builder()
        .base_url(mock.uri())
        .credentials("oauth-example", "oauth-example-secret")
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tokens.json");
    let app = oauth_app::App::new(client, store.clone(), address);
    tokio::spawn(async move { axum::serve(listener, app.router()).await });

    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let home = browser
        .get(format!("http://{address}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("/login"), "{home}");
    let login = browser
        .get(format!("http://{address}/login"))
        .send()
        .await
        .unwrap();
    let authorize = login.headers()["location"].to_str().unwrap().to_string();
    assert!(
        authorize.starts_with(&format!("{}/v2/auth/authorize/?", mock.uri())),
        "{authorize}"
    );
    assert!(authorize.contains("code_challenge="), "{authorize}");
    // The mock's consent page, approved at once (a browser would click the button).
    let consent = browser
        .get(format!("{authorize}&auto_approve=1"))
        .send()
        .await
        .unwrap();
    let callback = consent.headers()["location"].to_str().unwrap().to_string();
    assert!(callback.starts_with(&redirect_uri), "{callback}");
    // The browser follows the redirect to localhost, where the app listens.
    let back = browser.get(&callback).send().await.unwrap();
    assert_eq!(back.headers()["location"], "/");
    let home = browser
        .get(format!("http://{address}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Logged in as <b>Demo Creator</b>"), "{home}");
    // The tokens are in the file, owner-only.
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
    assert_eq!(saved["tokens"].as_object().unwrap().len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&store).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // A replayed callback is refused (its state was used).
    let replay = browser
        .get(&callback)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(replay.contains("Unknown or used state"), "{replay}");
}
