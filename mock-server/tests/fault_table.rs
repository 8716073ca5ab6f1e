//! The fault table is kept by endpoint: faults on one endpoint never touch calls to another,
//! and each endpoint's faults are taken in the order they were added.

use serde_json::Value;
use tiktok_api::endpoints::{USER_INFO, VIDEO_LIST};
use tiktok_api::{ErrorCode, Scope};
use tiktok_mock::MockServer;

async fn user_info(mock: &MockServer, token: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("{}/v2/user/info/?fields=open_id", mock.uri()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

async fn video_list(mock: &MockServer, token: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/v2/video/list/?fields=id", mock.uri()))
        .bearer_auth(token)
        .json(&serde_json::json!({"max_count": 1}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn faults_on_one_endpoint_never_affect_another_and_keep_their_order() {
    let mock = MockServer::start().await;
    let token = mock.user_token(None, &[Scope::UserInfoBasic, Scope::VideoList]);
    mock.fault(&USER_INFO, ErrorCode::InternalError, 2);
    mock.fault(&VIDEO_LIST, ErrorCode::RateLimitExceeded, 1);
    mock.fault(&USER_INFO, ErrorCode::InvalidParams, 1);
    mock.fault(&VIDEO_LIST, ErrorCode::InternalError, 1);

    // Listed in the order they were added, across endpoints.
    let listed: Vec<String> = mock
        .state()
        .store()
        .faults()
        .iter()
        .map(|fault| fault.endpoint.clone())
        .collect();
    assert_eq!(
        listed,
        [USER_INFO.id, VIDEO_LIST.id, USER_INFO.id, VIDEO_LIST.id]
    );

    // Draining one endpoint leaves the other's faults where they were.
    assert_eq!(user_info(&mock, &token).await.1, "internal_error");
    assert_eq!(user_info(&mock, &token).await.1, "internal_error");
    assert_eq!(user_info(&mock, &token).await.1, "invalid_params");
    assert_eq!(user_info(&mock, &token).await, (200, "ok".to_owned()));
    assert_eq!(video_list(&mock, &token).await.1, "rate_limit_exceeded");
    assert_eq!(video_list(&mock, &token).await.1, "internal_error");
    assert_eq!(video_list(&mock, &token).await, (200, "ok".to_owned()));
    assert!(mock.state().store().faults().is_empty());
}
