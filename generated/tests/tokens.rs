//! Token lifecycle against the mock: refresh ahead of expiry and on 401 (single flight),
//! re-authorization, revoke, and the file store's typed errors, losing no token.

mod common;

use std::sync::Arc;

use common::{Control, DEMO_OPEN_ID, client, mock, user};
use secrecy::ExposeSecret;
use serde_json::json;
use tiktok_api::{
    Error, ErrorCode, FileTokenStore, MemoryTokenStore, StoredToken, TokenStore, UserClient,
    UserField,
};

#[tokio::test]
async fn fifty_concurrent_callers_with_an_expired_token_refresh_once() {
    let mock = tiktok_mock::MockServer::builder()
        .clock_kind(tiktok_mock::ClockKind::Manual)
        .start()
        .await;
    let control = Control::new(mock.uri());
    let client = client(&control).await;
    let (user, store) = user(
        &client,
        &control,
        DEMO_OPEN_ID,
        &["user.info.basic"],
        3600 * 24,
    )
    .await;
    let before = store.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    // The mock's clock passes the access token's lifetime; the client does not know.
    control
        .post("/_mock/clock/advance", json!({"seconds": 7201}))
        .await;
    let calls = (0..50).map(|_| {
        let user = user.clone();
        async move { user.user_info(&[UserField::OpenId]).await }
    });
    for result in futures::future::join_all(calls).await {
        assert_eq!(result.unwrap().user.open_id.as_deref(), Some(DEMO_OPEN_ID));
    }
    assert_eq!(control.calls_to("token").await.len(), 1);
    let after = store.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    use secrecy::ExposeSecret;
    assert_ne!(
        after.access_token.expose_secret(),
        before.access_token.expose_secret()
    );
    assert_ne!(
        after.refresh_token.as_ref().unwrap().expose_secret(),
        before.refresh_token.as_ref().unwrap().expose_secret(),
        "the rotated refresh token is stored"
    );
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_the_call() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, _) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], 10).await;
    user.user_info(&[UserField::OpenId]).await.unwrap();
    assert_eq!(control.calls_to("token").await.len(), 1);
    let decisions: Vec<_> = control
        .calls_to("user_info")
        .await
        .iter()
        .map(|call| call["decision"].clone())
        .collect();
    assert_eq!(
        decisions,
        vec![json!("ok")],
        "no call went out with the old token"
    );
}

#[tokio::test]
async fn a_refused_refresh_token_asks_for_re_authorization() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, store) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], -1).await;
    let mut stored = store.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    stored.refresh_token = Some("rft.not-a-real-one".to_string().into());
    store.save(&stored).await.unwrap();
    let error = user.user_info(&[UserField::OpenId]).await.unwrap_err();
    assert!(
        matches!(error, Error::ReauthorizationRequired { ref open_id, .. } if open_id.as_deref() == Some(DEMO_OPEN_ID)),
        "{error:?}"
    );
    // A user never stored is the same typed error.
    let stranger = client.user(Arc::new(MemoryTokenStore::new()), "-000nobody");
    assert!(matches!(
        stranger.user_info(&[UserField::OpenId]).await,
        Err(Error::ReauthorizationRequired { .. })
    ));
}

#[tokio::test]
async fn revoke_clears_the_store_and_the_token_stops_working() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, store) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], 3600).await;
    let token = store.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    user.revoke().await.unwrap();
    assert!(store.load(DEMO_OPEN_ID).await.unwrap().is_none());
    use secrecy::ExposeSecret;
    let error = client
        .user_info(token.access_token.expose_secret(), &[UserField::OpenId])
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::AccessTokenInvalid));
}

#[tokio::test]
async fn a_file_store_survives_a_new_client_and_keeps_the_rotated_token() {
    let (_mock, control) = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let client = client(&control).await;
    let (user, memory) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], 10).await;
    let file = Arc::new(FileTokenStore::new(&path));
    file.save(&memory.load(DEMO_OPEN_ID).await.unwrap().unwrap())
        .await
        .unwrap();
    drop(user);
    let user = client.user(file.clone(), DEMO_OPEN_ID);
    user.user_info(&[UserField::OpenId]).await.unwrap();
    let again = self::client(&control)
        .await
        .user(Arc::new(FileTokenStore::new(&path)), DEMO_OPEN_ID);
    again.user_info(&[UserField::OpenId]).await.unwrap();
    assert_eq!(
        control.calls_to("token").await.len(),
        1,
        "the refreshed token was read back"
    );
}

#[tokio::test]
async fn a_corrupt_store_is_a_typed_error_and_the_file_is_kept() {
    let (_mock, control) = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    std::fs::write(&path, b"\x00garbage").unwrap();
    let client = client(&control).await;
    let user = client.user(Arc::new(FileTokenStore::new(&path)), DEMO_OPEN_ID);
    let error = user.user_info(&[UserField::OpenId]).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::TokenStore(tiktok_api::TokenStoreError::Corrupt { .. })
        ),
        "{error:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"\x00garbage");
    assert!(control.calls_to("user_info").await.is_empty());
}

/// A store whose saves fail, to check a refreshed token is not lost.
#[derive(Debug, Default)]
struct FailingSaves {
    inner: MemoryTokenStore,
    fail: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl TokenStore for FailingSaves {
    async fn load(
        &self,
        open_id: &str,
    ) -> Result<Option<StoredToken>, tiktok_api::TokenStoreError> {
        self.inner.load(open_id).await
    }
    async fn save(&self, token: &StoredToken) -> Result<(), tiktok_api::TokenStoreError> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(tiktok_api::TokenStoreError::Other("disk full".into()));
        }
        self.inner.save(token).await
    }
    async fn remove(&self, open_id: &str) -> Result<(), tiktok_api::TokenStoreError> {
        self.inner.remove(open_id).await
    }
}

/// A refresh whose new token could not be saved: the mock (kept alive here) and its
/// control, a user handle on a [`FailingSaves`] store, and the token the store held, due
/// to expire in 10 s. The handle's first call refreshed, failed to save and erred; the
/// store saves again from here.
struct UnsavedRefresh {
    _mock: tiktok_mock::MockServer,
    control: Control,
    user: UserClient,
    store: Arc<FailingSaves>,
    first: StoredToken,
}

async fn an_unsaved_refresh() -> UnsavedRefresh {
    let (mock, control) = mock().await;
    let client = client(&control).await;
    let (_, memory) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], 10).await;
    let first = memory.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    let store = Arc::new(FailingSaves::default());
    store.save(&first).await.unwrap();
    store.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let user = client.user(store.clone(), DEMO_OPEN_ID);
    let error = user.user_info(&[UserField::OpenId]).await.unwrap_err();
    assert!(matches!(error, Error::TokenStore(_)), "{error:?}");
    store.fail.store(false, std::sync::atomic::Ordering::SeqCst);
    UnsavedRefresh {
        _mock: mock,
        control,
        user,
        store,
        first,
    }
}

#[tokio::test]
async fn an_unwritable_store_loses_no_refreshed_token() {
    let refresh = an_unsaved_refresh().await;
    // The old refresh token is dead now; the handle kept the new one and saves it now.
    refresh.user.user_info(&[UserField::OpenId]).await.unwrap();
    assert_eq!(refresh.control.calls_to("token").await.len(), 1);
    let saved = refresh.store.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    assert!(saved.access_expires_at > refresh.first.access_expires_at);
}

#[tokio::test]
async fn an_unsaved_refresh_never_overwrites_a_login_made_since() {
    let refresh = an_unsaved_refresh().await;
    // Meanwhile the account signs in again: a new token, saved by another process.
    let minted = refresh
        .control
        .mint(DEMO_OPEN_ID, &["user.info.basic"])
        .await;
    let login = StoredToken {
        open_id: DEMO_OPEN_ID.into(),
        access_token: minted["access_token"].as_str().unwrap().to_string().into(),
        access_expires_at: i64::MAX / 2,
        refresh_token: Some(minted["refresh_token"].as_str().unwrap().to_string().into()),
        refresh_expires_at: None,
        scope: "user.info.basic".into(),
    };
    refresh.store.save(&login).await.unwrap();
    refresh.user.user_info(&[UserField::OpenId]).await.unwrap();
    // The login's token was used and kept; the refresh made before it was dropped.
    let kept = refresh.store.load(DEMO_OPEN_ID).await.unwrap().unwrap();
    assert_eq!(
        kept.access_token.expose_secret(),
        login.access_token.expose_secret()
    );
    let calls = refresh.control.calls_to("user_info").await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
}

#[tokio::test]
async fn revoke_refreshes_an_expired_token_first_and_clears_the_store() {
    let (_mock, control) = mock().await;
    let client = client(&control).await;
    let (user, store) = user(&client, &control, DEMO_OPEN_ID, &["user.info.basic"], -1).await;
    user.revoke().await.unwrap();
    assert_eq!(control.calls_to("token").await.len(), 1);
    assert_eq!(control.calls_to("revoke").await.len(), 1);
    assert!(store.load(DEMO_OPEN_ID).await.unwrap().is_none());
    assert!(matches!(
        user.user_info(&[UserField::OpenId]).await,
        Err(Error::ReauthorizationRequired { .. })
    ));
}
