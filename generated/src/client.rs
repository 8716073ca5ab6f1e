//! The async HTTP client: a builder with a base-URL override, timeouts and a user agent,
//! and the one request path every generated method goes through.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::meta::{ContentType, EndpointMeta, HttpMethod};
use crate::{Error, decode_response, spec_constants};

/// An async client for the TikTok v2 API. Cheap to clone; share one per app.
///
/// Each endpoint is a method (generated from the spec) taking the access token of the
/// user or client it acts for, so one client serves many users.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
}

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    http: Option<reqwest::Client>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: spec_constants::API_BASE_URL.to_string(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("tiktok-api-rs/", env!("CARGO_PKG_VERSION")).to_string(),
            http: None,
        }
    }
}

impl ClientBuilder {
    /// A builder with TikTok's API host, a 30 s timeout and this crate's user agent.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends requests to `base_url` instead of TikTok (e.g. the mock server's `uri()`).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The whole-request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Uses this reqwest client as is (its own timeouts and agent apply).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Builds the client; fails on a base URL that is not http(s) or a TLS backend that cannot start.
    pub fn build(self) -> Result<Client, Error> {
        let base_url = self.base_url.trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&base_url)
            .map_err(|error| Error::InvalidRequest(format!("base_url {base_url:?}: {error}")))?;
        if parsed.scheme() != "http" && parsed.scheme() != "https" {
            return Err(Error::InvalidRequest(format!(
                "base_url {base_url:?}: expected http or https"
            )));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .connect_timeout(self.connect_timeout)
                .user_agent(self.user_agent)
                .build()?,
        };
        Ok(Client { http, base_url })
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client for TikTok's API host with default settings.
    ///
    /// # Panics
    ///
    /// If the TLS backend cannot be initialised, as `reqwest::Client::new` does; use
    /// [`Client::builder`] to get an error instead.
    pub fn new() -> Self {
        match ClientBuilder::new().build() {
            Ok(client) => client,
            Err(error) => panic!("cannot build the HTTP client: {error}"),
        }
    }

    /// A builder, to set the base URL, timeouts or user agent.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends one call as the endpoint table describes it and decodes the answer.
    pub(crate) async fn execute<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        meta: &'static EndpointMeta,
        access_token: Option<&str>,
        fields: Option<String>,
        body: Option<&B>,
    ) -> Result<R, Error> {
        let url = format!("{}{}", self.base_url, meta.path);
        let method = match meta.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
        };
        let mut request = self.http.request(method, url);
        if let Some(fields) = fields {
            request = request.query(&[("fields", fields)]);
        }
        if let Some(token) = access_token {
            request = request.bearer_auth(token);
        }
        request = match (meta.request.map(|(_, content_type)| content_type), body) {
            (Some(ContentType::Form), Some(body)) => request.form(body),
            (Some(ContentType::Json), Some(body)) => request.json(body),
            _ if meta.method == HttpMethod::Post => request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/json; charset=UTF-8",
                )
                .body("{}"),
            _ => request,
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        decode_response(meta.envelope, status, &bytes)
    }
}
