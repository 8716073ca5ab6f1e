//! A held call links to the approval page: its result carries `approval_url`, and a client
//! that declared URL-mode elicitation is offered the page (the user decides there, not in
//! the client: the call stays held whatever the user answers).

use std::sync::{Arc, Mutex};

use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
    ElicitationCapability, Implementation, UrlElicitationCapability,
};
use rmcp::service::RequestContext;
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};

use crate::setup::{Setup, approval_id, assert_success, call, pull_upload, stdout};

/// A client that declares URL-mode elicitation and keeps each URL request it gets,
/// answering `accept` (the user agreed to open the page).
#[derive(Clone, Default)]
struct UrlClient(Arc<Mutex<Vec<(String, String, String)>>>);

impl ClientHandler for UrlClient {
    fn get_info(&self) -> ClientConfig {
        let mut elicitation = ElicitationCapability::new();
        elicitation.url = Some(UrlElicitationCapability::new());
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation = Some(elicitation);
        ClientConfig::new(capabilities, Implementation::new("url-client", "1.0.0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::UrlElicitationParams {
            message,
            url,
            elicitation_id,
            ..
        } = request
        {
            self.0.lock().unwrap().push((message, url, elicitation_id));
        }
        Ok(ElicitResult::new(ElicitationAction::Accept))
    }
}

#[tokio::test]
async fn a_client_with_url_elicitation_is_offered_the_approval_page_and_the_call_stays_held() {
    let setup = Setup::new().await;
    setup.edit_config(|text| {
        text.replacen(
            "audit:",
            "http: {approvals_url: 'https://gateway.example.com/approvals/'}\naudit:",
            1,
        )
    });
    let offers = UrlClient::default();
    let poster = setup.agent_with("poster", offers.clone()).await;
    let held = call(&poster, "inbox_video_init", pull_upload())
        .await
        .unwrap();
    let id = approval_id(&held);
    let link = format!("https://gateway.example.com/approvals#{id}");
    assert_eq!(
        held.structured_content.as_ref().unwrap()["approval_url"],
        link.as_str()
    );
    let offered = offers.0.lock().unwrap().clone();
    assert_eq!(offered.len(), 1, "{offered:?}");
    let (message, url, elicitation_id) = &offered[0];
    assert_eq!(url, &link);
    assert_eq!(elicitation_id, &id);
    assert!(message.contains("inbox_video_init"), "{message}");
    // Accepting the offer decides nothing: still pending, nothing sent.
    let listed = setup.run(&["approvals", "list"]).await;
    assert_success(&listed);
    assert!(stdout(&listed).contains(&id), "{}", stdout(&listed));
    assert!(
        !setup
            .mock_calls()
            .await
            .contains(&"inbox_video_init".to_string())
    );
    poster.cancel().await.unwrap();
}

#[tokio::test]
async fn over_http_a_held_call_links_to_the_servers_own_approval_page() {
    let setup = Setup::new().await;
    let (_server, mcp) = setup.serve_http().await;
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            mcp.as_str(),
        )
        .auth_header(setup.poster_key.clone()),
    );
    let poster = ().serve(transport).await.unwrap();
    let held = call(&poster, "inbox_video_init", pull_upload())
        .await
        .unwrap();
    let id = approval_id(&held);
    let base = mcp.trim_end_matches("/mcp");
    assert_eq!(
        held.structured_content.as_ref().unwrap()["approval_url"],
        format!("{base}/approvals#{id}").as_str()
    );
    poster.cancel().await.unwrap();
}
