//! `open_id` is per app: one user consented to the demo app and to the unaudited demo app
//! has a different open_id in each (the demo app's is the fixtures' id, unchanged) and the
//! same union_id. Tokens, user info, the video list, webhooks and the control API each
//! speak the app's open_id, and one app's open_id names no one in the other.

mod support;

use serde_json::{Value, json};
use tiktok_api::{Client, UserField, VideoField, VideoListRequest};
use tiktok_mock::MockServer;
use tiktok_mock::store::App;

use support::{client_as, control, deliveries, demo_app, manual_mock, unaudited_app};

/// The demo creator: the creator with the most videos, whom codes default to.
const DEMO: &str = "-000demo4d3f7a1c9e2b4f6a8c0d2e4f6a8b";

/// What one app learned of the demo creator through the API.
struct Seen {
    client: Client,
    access_token: String,
    refresh_token: String,
    open_id: String,
    union_id: String,
    videos: Vec<String>,
}

/// The demo creator consents to `app` (a code through the control API, exchanged at the
/// token endpoint), then the app reads their user info and first page of videos.
async fn consent(mock: &MockServer, app: &App) -> Seen {
    let (status, answer) = control(
        mock,
        "/_mock/oauth/codes",
        json!({"client_key": app.client_key}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let code = answer["code"].as_str().expect("a code");
    let client = client_as(mock, &app.client_key, &app.client_secret);
    let token = client
        .exchange_code(code, &app.redirect_uris[0], None)
        .await
        .expect("the code exchanged");
    let open_id = token.open_id.expect("a user token's open_id");
    let user = client
        .user_info(
            &token.access_token,
            &[UserField::OpenId, UserField::UnionId],
        )
        .await
        .expect("user info")
        .user;
    assert_eq!(
        user.open_id.as_deref(),
        Some(open_id.as_str()),
        "{}",
        app.client_key
    );
    let videos = client
        .video_list(
            &token.access_token,
            &[VideoField::Id],
            &VideoListRequest {
                max_count: Some(20),
                ..VideoListRequest::default()
            },
        )
        .await
        .expect("the video list")
        .videos
        .into_iter()
        .filter_map(|video| video.id)
        .collect();
    Seen {
        client,
        access_token: token.access_token,
        refresh_token: token.refresh_token.expect("a refresh token"),
        open_id,
        union_id: user.union_id.expect("a union_id"),
        videos,
    }
}

/// The `user_openid` of every delivery queued for `client_key`.
async fn delivered_open_ids(mock: &MockServer, client_key: &str) -> Vec<Value> {
    deliveries(mock)
        .await
        .into_iter()
        .filter(|delivery| delivery["client_key"] == client_key)
        .map(|delivery| delivery["payload"]["user_openid"].clone())
        .collect()
}

#[tokio::test]
async fn one_user_has_an_open_id_per_app_and_one_union_id() {
    let mock = manual_mock().await;
    let first = consent(&mock, demo_app()).await;
    let second = consent(&mock, unaudited_app()).await;

    // The demo app sees the fixtures' id; the other app a different one, shaped alike.
    assert_eq!(first.open_id, DEMO);
    assert_ne!(second.open_id, first.open_id);
    assert!(second.open_id.starts_with("-000"), "{}", second.open_id);
    assert_eq!(second.open_id.len(), DEMO.len(), "{}", second.open_id);
    assert_eq!(second.union_id, first.union_id);
    assert!(!first.videos.is_empty());
    assert_eq!(second.videos, first.videos, "the same user's videos");

    // Stable: a refreshed token, and a second consent, carry the same open_id.
    let refreshed = second
        .client
        .refresh_access_token(&second.refresh_token)
        .await
        .expect("refreshed");
    assert_eq!(refreshed.open_id.as_deref(), Some(second.open_id.as_str()));
    assert_eq!(
        consent(&mock, unaudited_app()).await.open_id,
        second.open_id
    );

    // The control API mints under each app's open_id and refuses the other app's.
    let mint = |client_key: &str, open_id: &str| {
        control(
            &mock,
            "/_mock/tokens",
            json!({"client_key": client_key, "open_id": open_id}),
        )
    };
    let (status, minted) = mint(&unaudited_app().client_key, &second.open_id).await;
    assert_eq!(status, 200, "{minted}");
    assert_eq!(minted["open_id"], json!(second.open_id));
    let (status, minted) = mint(&demo_app().client_key, DEMO).await;
    assert_eq!(
        (status, &minted["open_id"]),
        (200, &json!(DEMO)),
        "{minted}"
    );
    for (client_key, other_apps) in [
        (&unaudited_app().client_key, DEMO),
        (&demo_app().client_key, second.open_id.as_str()),
    ] {
        let (status, refused) = mint(client_key, other_apps).await;
        assert_eq!(status, 400, "{client_key} took {other_apps}: {refused}");
        let (status, refused) = control(
            &mock,
            "/_mock/oauth/codes",
            json!({"client_key": client_key, "open_id": other_apps}),
        )
        .await;
        assert_eq!(status, 400, "{client_key} took {other_apps}: {refused}");
        let (status, refused) = control(
            &mock,
            "/_mock/webhooks/events",
            json!({"event": "authorization.removed", "client_key": client_key, "open_id": other_apps}),
        )
        .await;
        assert_eq!(status, 400, "{client_key} took {other_apps}: {refused}");
    }

    // Webhooks: each app's revoke queues authorization.removed with its own open_id.
    assert!(
        delivered_open_ids(&mock, &demo_app().client_key)
            .await
            .is_empty()
    );
    first
        .client
        .revoke_token(&first.access_token)
        .await
        .expect("revoked");
    second
        .client
        .revoke_token(&refreshed.access_token)
        .await
        .expect("revoked");
    assert_eq!(
        delivered_open_ids(&mock, &demo_app().client_key).await,
        vec![json!(DEMO)]
    );
    assert_eq!(
        delivered_open_ids(&mock, &unaudited_app().client_key).await,
        vec![json!(second.open_id)]
    );

    // A control event names the user by the app's open_id, and carries it as given.
    let (status, fired) = control(
        &mock,
        "/_mock/webhooks/events",
        json!({"event": "authorization.removed", "client_key": unaudited_app().client_key, "open_id": second.open_id, "reason": 1}),
    )
    .await;
    assert_eq!(status, 200, "{fired}");
    assert_eq!(
        delivered_open_ids(&mock, &unaudited_app().client_key).await,
        vec![json!(second.open_id), json!(second.open_id)]
    );
}
