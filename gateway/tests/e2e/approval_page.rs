//! The approval page over real HTTP: an operator's sign-in (a wrong key refused and
//! audited), forms without their CSRF token or from another origin refused with nothing
//! decided, a decision that runs the held call, recorded as the operator's, and one on a
//! call that expired meanwhile (409, nothing run); `approvals web` serving the page alone.

use serde_json::{Value, json};

use crate::setup::{Setup, approval_id, assert_success, call, decisions, pull_upload, stdout};

pub const HOSTILE_TITLE: &str = r#"<img src=x onerror="window.__pwned=1">Evil & "Co" <b>bold</b>"#;

/// A browser without cookies or redirects of its own: the test sees each answer.
pub struct Page {
    http: reqwest::Client,
    pub base: String,
    cookie: Option<String>,
}

impl Page {
    pub fn new(base: &str) -> Page {
        Page {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.trim_end_matches('/').to_string(),
            cookie: None,
        }
    }

    fn with_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    pub async fn get(&self) -> (u16, String) {
        let response = self
            .with_cookie(self.http.get(format!("{}/approvals", self.base)))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.with_cookie(self.http.post(format!("{}{path}", self.base)))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Signs in with `key`: the answer's status, and the session cookie kept when set.
    pub async fn sign_in(&mut self, key: &str) -> u16 {
        let response = self.post("/approvals/sign-in", &[("key", key)]).await;
        if let Some(set) = response.headers().get("set-cookie") {
            let set = set.to_str().unwrap();
            for attribute in ["HttpOnly", "SameSite=Strict", "Path=/approvals"] {
                assert!(set.contains(attribute), "{set}");
            }
            self.cookie = Some(set.split(';').next().unwrap().to_string());
        }
        response.status().as_u16()
    }

    /// Posts the decide form: its status and page.
    pub async fn decide(&self, form: &[(&str, &str)]) -> (u16, String) {
        let response = self.post("/approvals/decide", form).await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}

/// The CSRF token in a page's forms.
pub fn csrf(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a CSRF field") + 19;
    page[at..at + 64].to_string()
}

#[tokio::test]
async fn an_operator_signs_in_and_decides_and_forged_or_tokenless_forms_decide_nothing() {
    let setup = Setup::new().await;
    let key = setup.add_operator("alice");
    setup.edit_config(|text| {
        text.replace(
            "approval: writes,",
            "approval: writes, budgets: {writes_per_day: 5},",
        )
    });
    let poster = setup.agent("poster").await;
    let id = approval_id(
        &call(&poster, "inbox_video_init", pull_upload())
            .await
            .unwrap(),
    );
    let mut hostile = pull_upload();
    hostile["post_info"] = json!({"title": HOSTILE_TITLE, "privacy_level": "SELF_ONLY"});
    let hostile_id = approval_id(&call(&poster, "video_init", hostile).await.unwrap());

    let (_server, mcp) = setup.serve_http().await;
    let mut page = Page::new(mcp.trim_end_matches("/mcp"));
    // Not signed in: the form, with the page's security headers.
    let response = reqwest::get(format!("{}/approvals", page.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    let body = response.text().await.unwrap();
    assert!(
        body.contains(r#"name="key""#) && !body.contains(&id),
        "{body}"
    );

    // A wrong key: refused, no session, audited as a failed sign-in.
    assert_eq!(page.sign_in("tgk_not_an_operator").await, 401);
    assert!(page.cookie.is_none());
    let (status, body) = page.get().await;
    assert_eq!(status, 200);
    assert!(!body.contains(&id), "the list without a session: {body}");
    let failed = setup.audit(tiktok_gateway::failures::UNAUTHENTICATED).await;
    assert_eq!(
        decisions(&failed),
        [("denied".into(), "approval_page_sign_in".into())]
    );
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("approval page sign-in failed from 127.0.0.1: an unknown key"),
        "{failed:?}"
    );

    // The right key: the list, each call in full, its arguments as text.
    assert_eq!(page.sign_in(&key).await, 303);
    let (status, body) = page.get().await;
    assert_eq!(status, 200, "{body}");
    for text in [
        &id,
        &hostile_id,
        "poster",
        "inbox_video_init",
        "POST /v2/post/publish/inbox/video/init/",
        DEMO,
    ] {
        assert!(body.contains(text), "{text} missing: {body}");
    }
    // The hostile title, escaped as text (askama's entities) inside its JSON string.
    assert!(body.contains(r#"&#60;img src=x onerror=\&#34;window.__pwned=1\&#34;&#62;Evil &#38; \&#34;Co\&#34; &#60;b&#62;"#), "{body}");
    assert!(!body.contains("<img") && !body.contains("<b>"), "{body}");
    // Both parked writes count against the day's budget.
    assert!(body.contains("writes_per_day: 3 of 5 left"), "{body}");
    let token = csrf(&body);

    // No token, a wrong one, another site's form, no session: nothing decided.
    let (status, body) = page.decide(&[("id", &id), ("decision", "approve")]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("CSRF token is missing or wrong"), "{body}");
    let wrong = "0".repeat(64);
    let (status, _) = page
        .decide(&[("csrf", &wrong), ("id", &id), ("decision", "approve")])
        .await;
    assert_eq!(status, 403);
    let forged = page
        .with_cookie(page.http.post(format!("{}/approvals/decide", page.base)))
        .header("origin", "https://evil.example")
        .form(&[
            ("csrf", token.as_str()),
            ("id", &id),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let anonymous = Page::new(&page.base);
    let (status, _) = anonymous
        .decide(&[("csrf", &token), ("id", &id), ("decision", "approve")])
        .await;
    assert_eq!(status, 401);
    let listed = setup.run(&["approvals", "list"]).await;
    assert_success(&listed);
    assert!(stdout(&listed).contains(&id), "{}", stdout(&listed));
    assert!(
        !setup
            .mock_calls()
            .await
            .contains(&"inbox_video_init".into())
    );

    // The right form: the held call runs, once, recorded as alice's.
    let (status, body) = page
        .decide(&[("csrf", &token), ("id", &id), ("decision", "approve")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("approved by alice"), "{body}");
    let posts = setup.get("/_mock/posts").await.to_string();
    let status = call(&poster, "gateway_approval_status", json!({"id": id}))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(status["state"], "done", "{status}");
    assert_eq!(status["decided_by"], "alice");
    let publish_id = status["outcome"]["publish_id"].as_str().unwrap();
    assert!(posts.contains(publish_id), "{posts}");
    assert!(body.contains(publish_id), "{body}");
    // Decided already: a clear message, not a 500, and nothing sent again.
    let (status, body) = page
        .decide(&[("csrf", &token), ("id", &id), ("decision", "deny")])
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("is done, not pending"), "{body}");
    let (status, _) = page
        .decide(&[
            ("csrf", &token),
            ("id", "apv_00000000000000000000000000000000"),
            ("decision", "deny"),
        ])
        .await;
    assert_eq!(status, 404);
    let sent = setup.mock_calls().await;
    assert_eq!(
        sent.iter()
            .filter(|call| *call == "inbox_video_init")
            .count(),
        1
    );

    // Denied from the page: never runs.
    let (status, body) = page
        .decide(&[("csrf", &token), ("id", &hostile_id), ("decision", "deny")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("denied by alice"), "{body}");
    assert!(!setup.mock_calls().await.contains(&"video_init".into()));
    poster.cancel().await.unwrap();

    let audit: Vec<Value> = setup.audit("poster").await;
    let reasons: Vec<(&str, &str)> = audit
        .iter()
        .filter(|record| matches!(record["decision"].as_str(), Some("approved" | "rejected")))
        .map(|record| {
            (
                record["approval"].as_str().unwrap(),
                record["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (id.as_str(), "approved by alice"),
            (hostile_id.as_str(), "denied by alice")
        ]
    );
}

#[tokio::test]
async fn approvals_web_serves_the_page_alone_and_needs_an_operator() {
    let setup = Setup::new().await;
    // No operator yet: refused at start, saying how to make one.
    let refused = setup
        .run(&["approvals", "web", "--addr", "127.0.0.1:0"])
        .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("keys new --operator"), "{stderr}");

    // `keys new --operator` prints the config's lines.
    let keys = |name: &str| {
        tokio::process::Command::new(crate::setup::BIN)
            .args(["keys", "new", "--operator", name])
            .output()
    };
    let made = keys("bob").await.unwrap();
    assert_success(&made);
    let printed = stdout(&made);
    let key = printed
        .lines()
        .next()
        .unwrap()
        .strip_prefix("key: ")
        .unwrap()
        .to_string();
    let entry: String = printed
        .lines()
        .skip(1)
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(
        entry.starts_with("operators:\n  bob: {key_sha256: "),
        "{entry}"
    );
    setup.edit_config(|text| format!("{text}{entry}"));
    let bad = keys("a b").await.unwrap();
    assert!(!bad.status.success());

    setup.add_agents(&[
        "hasty: {account: demo, scopes: [video.upload], access: [write], approval: writes, approval_ttl: 1s}",
    ]);
    let (_server, url) = setup
        .serve_until_url(&["approvals", "web", "--addr", "127.0.0.1:0"])
        .await;
    assert!(url.ends_with("/approvals"), "{url}");
    let mut page = Page::new(url.trim_end_matches("/approvals"));
    assert_eq!(page.sign_in(&key).await, 303);
    let (status, body) = page.get().await;
    assert_eq!(status, 200);
    assert!(body.contains("No call waits for a decision"), "{body}");
    assert!(body.contains("bob"), "{body}");

    // A call that expires while the page is open: deciding it says so (409), runs nothing.
    let hasty = setup.agent("hasty").await;
    let held = call(&hasty, "inbox_video_init", pull_upload())
        .await
        .unwrap();
    let id = approval_id(&held);
    let (_, body) = page.get().await;
    assert!(body.contains(&id), "{body}");
    let token = csrf(&body);
    let expires_at = held.structured_content.as_ref().unwrap()["expires_at"]
        .as_str()
        .unwrap()
        .to_string();
    // Past the deadline on the gateway's clock (the assertions are on state, not timing).
    let deadline = humantime::parse_rfc3339(&expires_at).unwrap();
    if let Ok(wait) = deadline.duration_since(std::time::SystemTime::now()) {
        tokio::time::sleep(wait + std::time::Duration::from_millis(200)).await;
    }
    let (status, body) = page
        .decide(&[("csrf", &token), ("id", &id), ("decision", "approve")])
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("expired") && body.contains("never run"),
        "{body}"
    );
    let (_, body) = page.get().await;
    assert!(!body.contains(&id), "{body}");
    assert!(
        !setup
            .mock_calls()
            .await
            .contains(&"inbox_video_init".into())
    );
    hasty.cancel().await.unwrap();
    // Only the page: no MCP here.
    let mcp = reqwest::get(format!("{}/mcp", page.base)).await.unwrap();
    assert_eq!(mcp.status(), 404);
    // A host name that is not the gateway's (DNS rebinding) is refused.
    let rebound = reqwest::Client::new()
        .get(format!("{}/approvals", page.base))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
}

const DEMO: &str = crate::setup::DEMO_CREATOR;
