//! Everything `serve --http` serves on one port: `/mcp` ([`crate::http`]), the approval
//! page ([`crate::web`]) and, with `operators` in the config, the OAuth authorization server
//! ([`crate::oauth`]) and its consent page.

use std::sync::Arc;

use axum::Router;

use crate::error::GatewayError;
use crate::failures::FailureLog;
use crate::gateway::Gateway;
use crate::oauth::OAuth;

/// Everything `serve --http` serves: `/mcp` ([`crate::http::router`]), the approval page and, with
/// `operators` in the config, the OAuth authorization server and its consent page.
pub async fn app(
    gateway: &Gateway,
    only: Option<&str>,
    failures: Arc<FailureLog>,
) -> Result<Router, GatewayError> {
    let config = gateway.config();
    let oauth = if config.operators.is_empty() {
        None
    } else {
        let store = gateway.state().oauth()?;
        let agents = config
            .agents
            .keys()
            .filter(|name| only.is_none_or(|only| only == *name))
            .cloned()
            .collect();
        Some(OAuth::new(
            store,
            agents,
            &config.http,
            gateway.audit().clone(),
            failures.clone(),
        ))
    };
    let mut app = crate::http::router(gateway, only, failures.clone(), oauth.clone())
        .await?
        .merge(crate::web::router(gateway, failures, oauth.clone()));
    if let Some(oauth) = oauth {
        app = app.merge(crate::oauth::endpoints::router(oauth));
    }
    Ok(app)
}
