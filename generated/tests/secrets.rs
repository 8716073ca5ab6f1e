//! Secrets stay secret: one tracing span per call with the endpoint, attempts, status,
//! log_id and latency, and never a token, code, secret or verifier in any field or in
//! `Debug`.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Control, DEMO_OPEN_ID};
use tiktok_api::oauth::Pkce;
use tiktok_api::{Client, GrantType, Token, TokenRequest, UserField};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_call_is_one_span_with_its_figures_and_no_secret() {
    let mock = tiktok_mock::MockServer::start().await;
    let control = Control::new(mock.uri());
    let (key, secret) = control.app().await;
    let minted = control.mint(DEMO_OPEN_ID, &["user.info.basic"]).await;
    let access = minted["access_token"].as_str().unwrap().to_string();
    let refresh = minted["refresh_token"].as_str().unwrap().to_string();

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = Client::builder()
        .base_url(mock.uri())
        .credentials(&key, &secret)
        .build()
        .unwrap();
    client
        .user_info(&access, &[UserField::OpenId])
        .await
        .unwrap();
    let token = client.refresh_access_token(&refresh).await.unwrap();
    control.fault("user_info", 1, "internal_error").await;
    client
        .user_info(&token.access_token, &[UserField::OpenId])
        .await
        .unwrap();
    client
        .user_info("act.not-a-token", &[UserField::OpenId])
        .await
        .unwrap_err();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let closes: Vec<&str> = text.lines().filter(|line| line.contains("close")).collect();
    assert_eq!(closes.len(), 4, "{text}");
    assert!(
        closes[0].contains("endpoint=\"user_info\"") && closes[0].contains("status=200"),
        "{text}"
    );
    assert!(
        closes[0].contains("log_id=") && closes[0].contains("latency_ms="),
        "{text}"
    );
    assert!(closes[1].contains("endpoint=\"token\""), "{text}");
    assert!(
        closes[2].contains("attempt=2"),
        "the retried call records its attempts: {text}"
    );
    assert!(closes[3].contains("status=401"), "{text}");
    for secret in [
        access.as_str(),
        refresh.as_str(),
        token.access_token.as_str(),
        secret.as_str(),
        "act.not-a-token",
    ] {
        assert!(
            !text.contains(secret),
            "a secret leaked into the trace: {text}"
        );
    }
    let log_id = control.calls_to("user_info").await[0]["log_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(closes[0].contains(&log_id), "{text}");
}

#[test]
fn debug_redacts_tokens_secrets_codes_and_verifiers() {
    // An answer's model: built as TikTok sends it (an app never builds one).
    let token: Token = serde_json::from_value(serde_json::json!({
        "access_token": "act.visible",
        "expires_in": 1,
        "token_type": "Bearer",
        "open_id": "-000me",
        "refresh_token": "rft.visible",
    }))
    .unwrap();
    let request = TokenRequest {
        client_key: "key".into(),
        client_secret: "secret-visible".into(),
        grant_type: GrantType::AuthorizationCode,
        code: Some("code-visible".into()),
        redirect_uri: None,
        code_verifier: Some("verifier-visible".into()),
        refresh_token: None,
    };
    let pkce = Pkce::generate();
    let client = Client::builder()
        .credentials("key", "secret-visible")
        .build()
        .unwrap();
    let text = format!("{token:?} {request:?} {pkce:?} {client:?}");
    for secret in [
        "act.visible",
        "rft.visible",
        "secret-visible",
        "code-visible",
        "verifier-visible",
        pkce.verifier(),
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(
        text.contains("-000me") && text.contains("[redacted]"),
        "{text}"
    );
}
