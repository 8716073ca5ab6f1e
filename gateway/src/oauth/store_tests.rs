//! The OAuth store's tests, each on both backends of the shared state: codes and refresh
//! tokens used once, a reuse revoking the grant, revocation, registration's cap, and two
//! processes presenting one refresh token at once.

use tiktok_agent::testing::Backend;

use super::store::{Code, Grant, KEPT_AFTER_EXPIRY_MS, RegisteredClient, TokenKind, Used, hash};
use crate::state::{SharedState, open_backend};

fn grant() -> Grant {
    Grant {
        family: "f1".into(),
        client_id: "c1".into(),
        agent: "reader".into(),
        resource: "http://127.0.0.1:1/mcp".into(),
        scope: "mcp".into(),
    }
}

fn now() -> i64 {
    crate::now_ms()
}

fn far() -> i64 {
    now() + 60_000
}

tiktok_agent::on_both_backends!(
    schema = crate::schema::SCHEMA;
    codes_and_tokens_long_expired_are_deleted_by_the_sweep_not_by_an_insert,
    a_code_is_used_once_and_a_second_use_revokes_its_grants_tokens,
    a_refresh_token_is_used_once_and_reuse_revokes_the_family,
    revoking_needs_the_issued_client_and_ends_the_grant,
    two_processes_using_one_refresh_token_at_once_see_one_first_use,
    a_token_issued_to_a_family_revoked_meanwhile_is_born_revoked,
);

async fn a_code_is_used_once_and_a_second_use_revokes_its_grants_tokens(backend: Backend) {
    let store = open_backend(&backend).oauth().unwrap();
    let code = Code {
        grant: grant(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        code_challenge: "x".into(),
    };
    store
        .insert_code("code", code.clone(), now() - 1)
        .await
        .unwrap();
    assert_eq!(
        store.use_code("code", now()).await.unwrap(),
        Used::Unknown,
        "expired"
    );
    store
        .insert_code("code2", code.clone(), far())
        .await
        .unwrap();
    assert_eq!(
        store.use_code("code2", now()).await.unwrap(),
        Used::Fresh(code)
    );
    store
        .insert_token("access", TokenKind::Access, &grant(), far())
        .await
        .unwrap();
    assert_eq!(store.access("access", now()).await.unwrap(), Some(grant()));
    assert_eq!(store.use_code("code2", now()).await.unwrap(), Used::Reused);
    assert_eq!(
        store.access("access", now()).await.unwrap(),
        None,
        "family revoked"
    );
    // Stored only as hashes.
    let stored = stored_hashes(&backend).await;
    assert_eq!(stored.len(), 3);
    assert!(
        stored
            .iter()
            .all(|value| value.len() == 64 && value != "access")
    );
}

async fn a_refresh_token_is_used_once_and_reuse_revokes_the_family(backend: Backend) {
    let store = open_backend(&backend).oauth().unwrap();
    store
        .insert_token("r1", TokenKind::Refresh, &grant(), far())
        .await
        .unwrap();
    store
        .insert_token("a1", TokenKind::Access, &grant(), far())
        .await
        .unwrap();
    assert_eq!(
        store.access("r1", now()).await.unwrap(),
        None,
        "not an access token"
    );
    assert_eq!(store.use_refresh("a1", now()).await.unwrap(), Used::Unknown);
    assert_eq!(
        store.use_refresh("r1", now()).await.unwrap(),
        Used::Fresh(grant())
    );
    store
        .insert_token("r2", TokenKind::Refresh, &grant(), far())
        .await
        .unwrap();
    assert_eq!(store.use_refresh("r1", now()).await.unwrap(), Used::Reused);
    assert_eq!(
        store.use_refresh("r2", now()).await.unwrap(),
        Used::Reused,
        "revoked"
    );
    assert_eq!(store.access("a1", now()).await.unwrap(), None);
}

async fn revoking_needs_the_issued_client_and_ends_the_grant(backend: Backend) {
    let store = open_backend(&backend).oauth().unwrap();
    store
        .insert_token("a1", TokenKind::Access, &grant(), far())
        .await
        .unwrap();
    assert!(!store.revoke("a1", "c2").await.unwrap());
    assert!(store.access("a1", now()).await.unwrap().is_some());
    assert!(store.revoke("a1", "c1").await.unwrap());
    assert!(store.access("a1", now()).await.unwrap().is_none());
    let client = RegisteredClient {
        client_id: "c1".into(),
        client_name: "n".into(),
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
    };
    assert!(store.register(client.clone(), 1).await.unwrap());
    assert_eq!(store.client("c1").await.unwrap(), Some(client.clone()));
    assert!(
        !store
            .register(
                RegisteredClient {
                    client_id: "c2".into(),
                    ..client
                },
                1
            )
            .await
            .unwrap()
    );
}

async fn two_processes_using_one_refresh_token_at_once_see_one_first_use(backend: Backend) {
    let store = open_backend(&backend).oauth().unwrap();
    store
        .insert_token("r1", TokenKind::Refresh, &grant(), far())
        .await
        .unwrap();
    let uses: Vec<_> = (0..8)
        .map(|_| {
            // Each its own handle, as gateways on other machines would have.
            let store = open_backend(&backend).oauth().unwrap();
            tokio::spawn(async move { store.use_refresh("r1", now()).await.unwrap() })
        })
        .collect();
    let mut fresh = 0;
    for used in uses {
        match used.await.unwrap() {
            Used::Fresh(found) => {
                assert_eq!(found, grant());
                fresh += 1;
            }
            Used::Reused => {}
            Used::Unknown => panic!("the token was known"),
        }
    }
    assert_eq!(fresh, 1);
}

async fn a_token_issued_to_a_family_revoked_meanwhile_is_born_revoked(backend: Backend) {
    let store = open_backend(&backend).oauth().unwrap();
    store
        .insert_token("r1", TokenKind::Refresh, &grant(), far())
        .await
        .unwrap();
    assert_eq!(
        store.use_refresh("r1", now()).await.unwrap(),
        Used::Fresh(grant())
    );
    // A replay of r1 lands before the exchange has written r1's successors.
    assert_eq!(store.use_refresh("r1", now()).await.unwrap(), Used::Reused);
    store
        .insert_token("a2", TokenKind::Access, &grant(), far())
        .await
        .unwrap();
    store
        .insert_token("r2", TokenKind::Refresh, &grant(), far())
        .await
        .unwrap();
    assert_eq!(store.access("a2", now()).await.unwrap(), None);
    assert_eq!(store.use_refresh("r2", now()).await.unwrap(), Used::Reused);
    // Another grant is not touched.
    let other = Grant {
        family: "f2".into(),
        ..grant()
    };
    store
        .insert_token("a3", TokenKind::Access, &other, far())
        .await
        .unwrap();
    assert_eq!(store.access("a3", now()).await.unwrap(), Some(other));
}

async fn codes_and_tokens_long_expired_are_deleted_by_the_sweep_not_by_an_insert(backend: Backend) {
    let store = open_backend(&backend).oauth().unwrap();
    let long_ago = now() - KEPT_AFTER_EXPIRY_MS - 60_000;
    let lately = now() - 60_000;
    let code = || Code {
        grant: grant(),
        redirect_uri: "http://127.0.0.1:1/cb".into(),
        code_challenge: "challenge".into(),
    };
    for (name, expires_ms) in [("old", long_ago), ("late", lately), ("live", far())] {
        store
            .insert_code(&format!("code-{name}"), code(), expires_ms)
            .await
            .unwrap();
        store
            .insert_token(
                &format!("token-{name}"),
                TokenKind::Access,
                &grant(),
                expires_ms,
            )
            .await
            .unwrap();
    }
    // Inserting kept every row, the long expired ones too.
    assert_eq!(stored_hashes(&backend).await.len(), 6);
    assert_eq!(store.sweep(now()).await.unwrap(), 2);
    let kept = stored_hashes(&backend).await;
    assert_eq!(kept.len(), 4);
    for gone in ["code-old", "token-old"] {
        assert!(!kept.contains(&hash(gone)), "{gone}");
    }
    assert_eq!(store.sweep(now()).await.unwrap(), 0);
}

/// The hashes of every code and token in `backend`'s tables.
async fn stored_hashes(backend: &Backend) -> Vec<String> {
    let sql = "SELECT token_sha256 FROM oauth_tokens UNION ALL SELECT code_sha256 FROM oauth_codes";
    match open_backend(backend) {
        SharedState::Sqlite(state, _) => state
            .with(|connection| {
                let mut statement = connection.prepare(sql)?;
                statement.query_map([], |row| row.get(0))?.collect()
            })
            .unwrap(),
        SharedState::Postgres(database) => {
            let client = database.client().await.unwrap();
            let rows = client.query(sql, &[]).await.unwrap();
            rows.iter().map(|row| row.get(0)).collect()
        }
    }
}
