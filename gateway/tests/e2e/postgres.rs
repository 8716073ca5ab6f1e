//! The gateway with its audit log in Postgres (a throwaway cluster; skipped, saying why,
//! where Postgres is not installed): refused until `migrate` has made the schema, then one
//! hash chain that two gateway processes write to side by side, and `/healthz` saying
//! whether its database answers.

use serde_json::json;
use tiktok_agent::testing::Postgres;

use crate::setup::{DEMO_CREATOR, Setup, assert_success, call, decisions, stdout};

#[tokio::test]
async fn an_audit_log_in_postgres_is_migrated_then_one_chain_for_two_gateways() {
    let to = |url: &str| format!("audit: \"{url}\"\nstate: state.sqlite");
    let Some((postgres, setup, url)) = on_postgres("audit: audit.sqlite", to).await else {
        return;
    };
    // Not migrated: serve refuses and says what to run.
    let refused = setup.run(&["serve", "--agent", "reader"]).await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("schema is version 0"), "{stderr}");
    assert!(stderr.contains("run `tiktok-gateway migrate"), "{stderr}");
    let migrated = setup.run(&["migrate"]).await;
    assert_success(&migrated);
    assert!(
        stdout(&migrated).contains("schema version 0 -> 2"),
        "{}",
        stdout(&migrated)
    );
    let again = setup.run(&["migrate"]).await;
    assert_success(&again);
    assert!(
        stdout(&again).contains("schema version 2, up to date"),
        "{}",
        stdout(&again)
    );
    // Two gateway processes, each answering calls at once.
    let (first, second) = tokio::join!(setup.agent("reader"), setup.agent("reader"));
    let arguments = json!({"fields": ["open_id"]});
    let calls = (0..6).map(|index| {
        let session = if index % 2 == 0 { &first } else { &second };
        call(session, "user_info", arguments.clone())
    });
    for answer in futures::future::join_all(calls).await {
        assert_ne!(answer.unwrap().is_error, Some(true));
    }
    first.cancel().await.unwrap();
    second.cancel().await.unwrap();
    // One chain: an intent and an allowed record for each call, none lost, no gap.
    let records = setup.audit("reader").await;
    let allowed = decisions(&records)
        .iter()
        .filter(|(decision, _)| decision == "allowed")
        .count();
    assert_eq!((records.len(), allowed), (12, 6));
    let verified = setup.run(&["audit", "verify"]).await;
    assert_success(&verified);
    assert_eq!(stdout(&verified).trim(), "audit log intact: 12 records");
    // Read straight from the database: the records are there.
    let database = tiktok_agent::PgDatabase::connect(&url).unwrap();
    let stored = tiktok_agent::PgAuditLog::new(database).verify().await;
    assert_eq!(stored.unwrap(), 12);
    // The health check a load balancer asks, with no key: 200 while the databases answer,
    // 503 naming the audit log's database once it is gone.
    let (_server, mcp) = setup.serve_http().await;
    let health = mcp.replace("/mcp", "/healthz");
    let answer = setup.http.get(&health).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "ok\n");
    drop(postgres);
    let answer = setup.http.get(&health).send().await.unwrap();
    assert_eq!(answer.status(), 503);
    let body = answer.text().await.unwrap();
    // Which database, and nothing of its own message (socket path, user, database name).
    assert_eq!(body, "audit: not answering\n");
}

#[tokio::test]
async fn the_health_check_needs_no_key_where_mcp_does() {
    let setup = Setup::new().await;
    let (_server, mcp) = setup.serve_http().await;
    let health = setup.http.get(mcp.replace("/mcp", "/healthz"));
    let answer = health.send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "ok\n");
    let unauthenticated = setup.http.post(&mcp).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn tokens_in_postgres_are_imported_refreshed_and_shared_by_two_gateways() {
    let to = |url: &str| format!("token_store: \"{url}\", open_id: \"{DEMO_CREATOR}\"}}");
    let Some((_postgres, setup, url)) = on_postgres("token_store: tokens.json}", to).await else {
        return;
    };
    let migrated = setup.run(&["migrate"]).await;
    assert_success(&migrated);
    assert!(
        stdout(&migrated).contains("accounts.demo.token_store"),
        "{}",
        stdout(&migrated)
    );
    let minted = setup
        .import(json!({"open_id": DEMO_CREATOR, "scopes": ["user.info.basic", "video.list"], "expires_in": 2}))
        .await;
    let (first, second) = tokio::join!(setup.agent("reader"), setup.agent("reader"));
    // The access token's 2 s pass: every call needs a refresh, in both processes at once.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let arguments = json!({"fields": ["open_id"]});
    let calls = (0..6).map(|index| {
        let session = if index % 2 == 0 { &first } else { &second };
        call(session, "user_info", arguments.clone())
    });
    for answer in futures::future::join_all(calls).await {
        let answer = answer.unwrap();
        assert_ne!(answer.is_error, Some(true), "{answer:?}");
    }
    first.cancel().await.unwrap();
    second.cancel().await.unwrap();
    // Every refresh TikTok answered was accepted (a refreshed token of the mock lives 2 s
    // too, so a later call may refresh again, with the rotated one). That two processes
    // racing send a refresh token once is `tiktok-agent`'s `pg_tokens` test.
    let refreshes = setup.control.calls_to("token").await;
    assert!(!refreshes.is_empty());
    for refresh in &refreshes {
        assert_eq!(refresh["status"], 200, "{refreshes:#?}");
    }
    // The rotated tokens are in the database, for every gateway.
    let database = tiktok_agent::PgDatabase::connect(&url).unwrap();
    let stored = tiktok_agent::PgTokenStore::new(database);
    let stored = tiktok_api::TokenStore::load(&stored, DEMO_CREATOR).await;
    use secrecy::ExposeSecret;
    let refresh_token = stored.unwrap().unwrap().refresh_token.unwrap();
    assert_ne!(
        refresh_token.expose_secret(),
        minted["refresh_token"].as_str().unwrap()
    );
}

/// A cluster and the usual setup with `from` in its config replaced by `to(url)`, or `None`
/// where Postgres is not installed.
async fn on_postgres(from: &str, to: impl Fn(&str) -> String) -> Option<(Postgres, Setup, String)> {
    let postgres = Postgres::start()?;
    let setup = Setup::new().await;
    let url = postgres.url();
    setup.edit_config(|text| text.replacen(from, &to(&url), 1));
    Some((postgres, setup, url))
}
