//! Remote MCP clients over OAuth: rmcp's own OAuth client discovers the gateway from a 401,
//! registers, sends the operator (this test, over HTTP) to the consent page, gets tokens
//! and lists exactly the chosen agent's tools; refresh and revocation; and each bad request
//! (an unregistered redirect URI, a missing resource, a reused code, a wrong verifier, a
//! reused refresh token, a token for another resource) refused with the RFC's error and
//! audited. Client ID Metadata Documents are in `oauth_documents.rs`.

use base64::Engine;
use regex::Regex;
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{
    AuthClient, AuthorizationManager, AuthorizationRequest, AuthorizationSession,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::setup::{Setup, tool_names};

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// An operator and a client at the gateway, over plain HTTP, no redirect followed.
pub struct Browser {
    pub http: reqwest::Client,
    pub origin: String,
    pub operator_key: String,
}

impl Browser {
    pub fn new(mcp_url: &str, operator_key: String) -> Browser {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let origin = mcp_url.trim_end_matches("/mcp").to_string();
        Browser {
            http,
            origin,
            operator_key,
        }
    }

    /// `GET path` at the gateway, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.origin))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }

    /// Registers a client through RFC 7591: the status and the answer.
    pub async fn register(&self, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/oauth/register", self.origin))
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    pub async fn client_id(&self) -> String {
        let (status, answer) = self
            .register(json!({"client_name": "e2e", "redirect_uris": [REDIRECT]}))
            .await;
        assert_eq!(status, 201, "{answer}");
        answer["client_id"].as_str().unwrap().to_string()
    }

    /// `GET /oauth/authorize` with `params`: the response, not followed.
    pub async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(format!("{}/oauth/authorize", self.origin))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    /// Plays the operator at `consent` (a path from the authorize redirect): signs in,
    /// chooses `agent`, and returns where the browser is sent (the client's redirect URI
    /// with the code).
    pub async fn consent(&self, consent: &str, agent: &str) -> String {
        let page = self
            .http
            .get(format!("{}{consent}", self.origin))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        let request = capture(r#"name="request" value="([0-9a-f]{32})""#, &page);
        let signed_in = self
            .http
            .post(format!("{}/approvals/sign-in", self.origin))
            .form(&[("key", self.operator_key.as_str()), ("request", &request)])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), 303);
        let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_string();
        assert_eq!(location(&signed_in), consent, "back to the consent page");
        let page = self
            .http
            .get(format!("{}{consent}", self.origin))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("form-action 'self' http://127.0.0.1:"),
            "{csp}"
        );
        let page = page.text().await.unwrap();
        assert!(
            page.contains("agent-reader") && page.contains("agent-poster"),
            "{page}"
        );
        let csrf = capture(r#"name="csrf" value="([0-9a-f]{64})""#, &page);
        let decided = self
            .http
            .post(format!("{}/approvals/consent", self.origin))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("request", &request),
                ("agent", agent),
                ("decision", "allow"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(decided.status(), 303);
        location(&decided)
    }

    /// `POST /oauth/token` with `form`: the status and the answer.
    pub async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/oauth/token", self.origin))
            .form(form)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// A `tools/list`-free probe of `/mcp` with `token`: its status and `WWW-Authenticate`.
    pub async fn probe(&self, origin: &str, token: &str) -> (u16, String) {
        let response = self
            .http
            .post(format!("{origin}/mcp"))
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}}}))
            .send()
            .await
            .unwrap();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|value| value.to_str().unwrap().to_string())
            .unwrap_or_default();
        (response.status().as_u16(), challenge)
    }

    /// `GET /oauth/authorize` as a good client asks: `client_id`, the PKCE challenge of
    /// `verifier`, this resource, state `s1`.
    pub async fn authorize_client(&self, client_id: &str, verifier: &str) -> reqwest::Response {
        let resource = format!("{}/mcp", self.origin);
        let challenge = challenge(verifier);
        self.authorize(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", &resource),
            ("state", "s1"),
        ])
        .await
    }

    /// A code for `client_id` acting as `agent`, with PKCE `verifier`.
    pub async fn code(&self, client_id: &str, verifier: &str, agent: &str) -> String {
        let response = self.authorize_client(client_id, verifier).await;
        assert_eq!(response.status(), 303);
        let back = self.consent(&location(&response), agent).await;
        let url = url::Url::parse(&back).unwrap();
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(query["state"], "s1");
        assert_eq!(query["iss"], self.origin);
        query["code"].clone()
    }

    /// Exchanges `code` for tokens.
    pub async fn exchange(&self, client_id: &str, code: &str, verifier: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .await
    }
}

pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[track_caller]
fn capture(pattern: &str, text: &str) -> String {
    Regex::new(pattern)
        .unwrap()
        .captures(text)
        .unwrap_or_else(|| panic!("{pattern} in {text}"))[1]
        .to_string()
}

#[track_caller]
pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// The gateway with operator `alice`, serving over HTTP with `env`: the setup, the server
/// and a browser.
pub async fn gateway(env: &[(&str, &str)]) -> (Setup, tokio::process::Child, String, Browser) {
    let setup = Setup::new().await;
    let key = setup.add_operator("alice");
    let (server, url) = setup.serve_http_with(env).await;
    let browser = Browser::new(&url, key);
    (setup, server, url, browser)
}

/// The records of refused OAuth requests in the audit.
pub async fn oauth_refusals(setup: &Setup) -> Vec<String> {
    setup
        .audit(tiktok_gateway::http::UNAUTHENTICATED)
        .await
        .iter()
        .filter(|record| record["endpoint"] == "oauth")
        .map(|record| record["reason"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn rmcps_oauth_client_becomes_the_agent_the_operator_chose_then_refreshes_and_is_revoked() {
    let (setup, _server, url, browser) = gateway(&[]).await;
    // Discovery starts from the 401.
    let (status, challenge_header) = browser.probe(&browser.origin, "").await;
    assert_eq!(status, 401);
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        browser.origin
    );
    assert!(
        challenge_header.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{challenge_header}"
    );
    let manager = AuthorizationManager::new(url.as_str()).await.unwrap();
    let resolution = manager
        .resolve_metadata_from_challenge(Some(&challenge_header))
        .await
        .unwrap();
    assert!(resolution.source.is_discovered(), "{:?}", resolution.source);
    let mut manager = manager;
    manager.set_metadata(resolution.metadata);
    // Registration (RFC 7591) and the authorization URL.
    let session = AuthorizationSession::new(
        manager,
        AuthorizationRequest::new(REDIRECT).with_client_name("rmcp e2e"),
    )
    .await
    .map_err(|(_, error)| error)
    .unwrap();
    let authorize = browser
        .http
        .get(session.get_authorization_url())
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 303);
    let back = browser.consent(&location(&authorize), "reader").await;
    assert!(back.starts_with(REDIRECT), "{back}");
    session.handle_callback_url(&back).await.unwrap();
    // tools/list shows the reader's tools, and only those.
    let client = AuthClient::new(rmcp_reqwest::Client::new(), session.auth_manager);
    let manager = client.auth_manager.clone();
    let transport = StreamableHttpClientTransport::with_client(
        client,
        StreamableHttpClientTransportConfig::with_uri(url.as_str()),
    );
    let remote = ().serve(transport).await.unwrap();
    let tools = tool_names(&remote.list_all_tools().await.unwrap());
    let reader = setup.agent("reader").await;
    let expected = tool_names(&reader.list_all_tools().await.unwrap());
    reader.cancel().await.unwrap();
    assert_eq!(tools, expected);
    let poster = setup.agent("poster").await;
    assert_ne!(tools, tool_names(&poster.list_all_tools().await.unwrap()));
    poster.cancel().await.unwrap();
    // The consent is audited, and a call acts as the reader: audited under its name.
    let called = remote
        .call_tool(rmcp::model::CallToolRequestParams::new("user_info"))
        .await;
    assert!(called.is_ok(), "{called:?}");
    let audited = setup.audit("reader").await;
    assert!(
        audited
            .iter()
            .any(|record| record["endpoint"] == "user_info")
    );
    let consent = audited
        .iter()
        .find(|record| record["endpoint"] == "oauth_consent")
        .expect("the consent audited");
    assert!(
        consent["reason"]
            .as_str()
            .unwrap()
            .contains("operator alice"),
        "{consent}"
    );
    // Refresh: a new access token, and the old refresh token is dead.
    let before =
        serde_json::to_value(manager.lock().await.get_credentials().await.unwrap().1).unwrap();
    manager.lock().await.refresh_token().await.unwrap();
    let after =
        serde_json::to_value(manager.lock().await.get_credentials().await.unwrap().1).unwrap();
    assert_ne!(before["access_token"], after["access_token"]);
    assert_ne!(before["refresh_token"], after["refresh_token"]);
    let tools_after = tool_names(&remote.list_all_tools().await.unwrap());
    assert_eq!(tools_after, expected, "the refreshed token works");
    // Revocation (RFC 7009): the token then gets 401 with the challenge.
    let access = after["access_token"].as_str().unwrap();
    let client_id = manager.lock().await.get_credentials().await.unwrap().0;
    assert_eq!(browser.probe(&browser.origin, access).await.0, 200);
    let revoked = browser
        .http
        .post(format!("{}/oauth/revoke", browser.origin))
        .form(&[("token", access), ("client_id", &client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let (status, challenge_header) = browser.probe(&browser.origin, access).await;
    assert_eq!(status, 401);
    assert!(
        challenge_header.contains("error=\"invalid_token\"")
            && challenge_header.contains(&metadata_url),
        "{challenge_header}"
    );
    remote.cancel().await.unwrap();
}

#[tokio::test]
async fn the_metadata_is_public_and_static_keys_keep_working() {
    let (setup, _server, _url, browser) = gateway(&[]).await;
    let origin = &browser.origin;
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let metadata = browser.get_json(path).await;
        assert_eq!(metadata["resource"], format!("{origin}/mcp"));
        assert_eq!(metadata["authorization_servers"], json!([origin]));
    }
    let server = browser
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(server["issuer"], origin.as_str());
    assert_eq!(server["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(server["client_id_metadata_document_supported"], true);
    assert_eq!(
        server["authorization_response_iss_parameter_supported"],
        true
    );
    // A host the gateway does not answer to gets no metadata naming it.
    let foreign = browser
        .http
        .get(format!("{origin}/.well-known/oauth-protected-resource"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert_eq!(browser.probe(origin, &setup.reader_key).await.0, 200);
}

#[tokio::test]
async fn bad_registrations_and_authorization_requests_get_the_rfcs_errors_and_are_audited() {
    let (setup, _server, _url, browser) = gateway(&[]).await;
    let (status, answer) = browser
        .register(json!({"redirect_uris": ["http://client.example/cb"]}))
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_redirect_uri"))
    );
    let huge = "x".repeat(20_000);
    let (status, answer) = browser
        .register(json!({"client_name": huge, "redirect_uris": [REDIRECT]}))
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    let client_id = browser.client_id().await;
    let resource = format!("{}/mcp", browser.origin);
    let challenge = challenge(&"v".repeat(43));
    let good = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("resource", &resource),
        ("state", "s1"),
    ];
    let with = |name: &str, value: &'static str| {
        good.iter()
            .map(|(key, old)| (*key, if *key == name { value } else { *old }))
            .collect::<Vec<_>>()
    };
    // An unregistered redirect URI or an unknown client: answered here, never redirected.
    for params in [
        with("redirect_uri", "http://127.0.0.1:9/elsewhere"),
        with("client_id", "tgcl_unknown"),
    ] {
        let response = browser.authorize(&params).await;
        assert_eq!(response.status(), 400);
        let answer: Value = response.json().await.unwrap();
        assert!(
            matches!(
                answer["error"].as_str(),
                Some("invalid_request" | "invalid_client")
            ),
            "{answer}"
        );
    }
    // A wrong resource, no PKCE, plain PKCE: sent back with the error, the state and iss.
    for (params, error) in [
        (
            with("resource", "https://other.example/mcp"),
            "invalid_target",
        ),
        (with("code_challenge_method", "plain"), "invalid_request"),
        (with("response_type", "token"), "unsupported_response_type"),
    ] {
        let response = browser.authorize(&params).await;
        assert_eq!(response.status(), 303);
        let back = location(&response);
        assert!(
            back.starts_with(REDIRECT)
                && back.contains(&format!("error={error}"))
                && back.contains("state=s1")
                && back.contains("iss="),
            "{back}"
        );
    }
    let refusals = oauth_refusals(&setup).await;
    assert!(
        !refusals.is_empty()
            && refusals
                .iter()
                .any(|reason| reason.contains("invalid_redirect_uri")),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn a_token_for_another_resource_is_refused() {
    let (_setup, _server, _url, browser) = gateway(&[]).await;
    // Issued for http://localhost:PORT/mcp, presented at http://127.0.0.1:PORT/mcp.
    let local = Browser::new(
        &browser.origin.replace("127.0.0.1", "localhost"),
        browser.operator_key.clone(),
    );
    let client_id = local.client_id().await;
    let verifier = "c".repeat(43);
    let code = local.code(&client_id, &verifier, "reader").await;
    let (status, tokens) = local.exchange(&client_id, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(local.probe(&local.origin, access).await.0, 200);
    let (status, challenge) = browser.probe(&browser.origin, access).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("another resource"), "{challenge}");
}

#[tokio::test]
async fn a_token_for_an_agent_not_served_gets_insufficient_scope() {
    let (setup, mut server, url, browser) = gateway(&[]).await;
    let client_id = browser.client_id().await;
    let verifier = "g".repeat(43);
    let code = browser.code(&client_id, &verifier, "reader").await;
    let (_, tokens) = browser.exchange(&client_id, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(browser.probe(&browser.origin, access).await.0, 200);
    // The same address, serving the poster alone: the reader's token is not enough.
    server.kill().await.unwrap();
    let address = url.trim_start_matches("http://").trim_end_matches("/mcp");
    let (_poster_only, _) = setup
        .serve_until_url(&["serve", "--http", address, "--agent", "poster"])
        .await;
    let (status, challenge) = browser.probe(&browser.origin, access).await;
    assert_eq!(status, 403);
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("resource_metadata="),
        "{challenge}"
    );
}

#[tokio::test]
async fn a_configured_public_url_names_the_resource_and_the_issuer() {
    let setup = Setup::new().await;
    let key = setup.add_operator("alice");
    setup.edit_config(|text| {
        format!("{text}http: {{public_url: \"https://gateway.example.com/\"}}\n")
    });
    let (_server, url) = setup.serve_http().await;
    let browser = Browser::new(&url, key);
    let resource = browser
        .get_json("/.well-known/oauth-protected-resource/mcp")
        .await;
    assert_eq!(resource["resource"], "https://gateway.example.com/mcp");
    let server = browser
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(server["issuer"], "https://gateway.example.com");
    let (status, challenge) = browser.probe(&browser.origin, "").await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains("resource_metadata=\"https://gateway.example.com/.well-known/oauth-protected-resource/mcp\""),
        "{challenge}"
    );
}
