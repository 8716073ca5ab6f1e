//! Errors as an app meets them: a rejected bare token is `ReauthorizationRequired` with
//! TikTok's 401 (and its log_id) as its source, with or without the app's credentials; every
//! error prints its own part once and gives its cause as `source()`; a call without fields
//! is refused before it is sent.

mod common;

use common::{DEMO_OPEN_ID, client, mock};
use tiktok_api::{Client, Error, ErrorCode, TokenStoreError, UploadError, UserField};

/// `error` and its sources, each message once.
fn chain(error: &dyn std::error::Error) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        messages.push(cause.to_string());
        source = cause.source();
    }
    messages
}

/// No message repeats its cause's text: `anyhow` prints each part once.
fn assert_said_once(error: &dyn std::error::Error) -> Vec<String> {
    let messages = chain(error);
    for pair in messages.windows(2) {
        assert!(
            !pair[0].contains(&pair[1]),
            "{:?} repeats its cause {:?}",
            pair[0],
            pair[1]
        );
    }
    messages
}

#[tokio::test]
async fn a_rejected_bare_token_asks_for_reauthorization_and_keeps_tiktoks_answer() {
    let (_mock, control) = mock().await;
    let with_credentials = client(&control).await;
    let without = Client::builder().base_url(control.base()).build().unwrap();
    for client in [with_credentials, without] {
        let error = client
            .user_with_access_token("act.invalid")
            .user_info(&[UserField::OpenId])
            .await
            .unwrap_err();
        let Error::ReauthorizationRequired {
            open_id, rejected, ..
        } = &error
        else {
            panic!("expected ReauthorizationRequired, got {error:?}");
        };
        assert_eq!(open_id, &None, "a bare token names no user");
        let rejected = rejected.as_deref().expect("TikTok's answer is kept");
        assert_eq!(rejected.code(), Some(&ErrorCode::AccessTokenInvalid));
        assert_eq!(error.status(), Some(401));
        let calls = control.calls_to("user_info").await;
        assert_eq!(error.log_id(), calls.last().unwrap()["log_id"].as_str());
        let messages = assert_said_once(&error);
        assert!(!messages[0].contains("access-token"), "{messages:?}");
        assert!(messages[1].contains("access_token_invalid"), "{messages:?}");
    }
}

#[tokio::test]
async fn a_user_with_nothing_stored_is_named() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let store = std::sync::Arc::new(tiktok_api::MemoryTokenStore::new());
    let error = client
        .user(store, DEMO_OPEN_ID)
        .user_info(&[UserField::OpenId])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::ReauthorizationRequired { open_id: Some(id), rejected: None, .. } if id == DEMO_OPEN_ID),
        "{error:?}"
    );
    assert!(
        control.calls_to("user_info").await.is_empty(),
        "nothing was sent"
    );
}

#[tokio::test]
async fn a_stored_user_without_a_refresh_token_is_named_with_tiktoks_401() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let store = std::sync::Arc::new(tiktok_api::MemoryTokenStore::with_token(
        tiktok_api::StoredToken {
            open_id: DEMO_OPEN_ID.into(),
            access_token: "act.refused".to_string().into(),
            access_expires_at: i64::MAX,
            refresh_token: None,
            refresh_expires_at: None,
            scope: "user.info.basic".into(),
        },
    ));
    let error = client
        .user(store, DEMO_OPEN_ID)
        .user_info(&[UserField::OpenId])
        .await
        .unwrap_err();
    let Error::ReauthorizationRequired {
        open_id, rejected, ..
    } = &error
    else {
        panic!("expected ReauthorizationRequired, got {error:?}");
    };
    assert_eq!(open_id.as_deref(), Some(DEMO_OPEN_ID));
    assert_eq!(
        rejected.as_deref().and_then(Error::code),
        Some(&ErrorCode::AccessTokenInvalid)
    );
    assert_eq!(error.status(), Some(401));
    assert_said_once(&error);
}

#[tokio::test]
async fn a_refused_connection_is_the_transport_errors_source() {
    // A port held bound but not listening: the connection is refused at once.
    let down = tiktok_mock::DownPort::bind();
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{}", down.port()))
        .retry_policy(tiktok_api::RetryPolicy::off())
        .build()
        .unwrap();
    let error = client
        .user_info("act.x", &[UserField::OpenId])
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    let messages = assert_said_once(&error);
    assert!(messages.len() >= 2, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|message| message.to_lowercase().contains("refused")),
        "the cause is in the chain: {messages:?}"
    );
}

#[test]
fn wrapped_errors_print_their_own_part_once() {
    let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
    let upload = Error::from(UploadError::Io(io()));
    let messages = assert_said_once(&upload);
    assert_eq!(messages, ["reading the video failed", "no such file"]);
    let store = Error::from(TokenStoreError::Io {
        path: "tokens.json".into(),
        source: io(),
    });
    let messages = assert_said_once(&store);
    assert_eq!(messages, ["token store tokens.json", "no such file"]);
}

#[tokio::test]
async fn a_call_without_fields_is_refused_before_it_is_sent() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let error = client.user_info("act.x", &[]).await.unwrap_err();
    assert!(matches!(error, Error::InvalidRequest(_)), "{error:?}");
    assert!(control.calls_to("user_info").await.is_empty());
}
