//! The async HTTP client: a builder with a base-URL override, timeouts, a user agent, the
//! retry policy, the local rate limiter and the app's credentials, and the one request path
//! every generated method goes through (limiter, send, decode, retry, one tracing span).

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::Instrument;

use crate::envelope::Answer;
use crate::meta::{ContentType, EndpointMeta, HttpMethod};
use crate::runtime::limiter::{LimiterMode, RateLimiter};
use crate::runtime::retry::RetryPolicy;
use crate::runtime::user::UserSlots;
use crate::{Attempts, Error, ErrorCode, decode_response, spec_constants};

/// The `fields` query parameter: the names joined with commas, in one allocation.
pub(crate) fn join_fields<'a>(names: impl Iterator<Item = &'a str> + Clone) -> String {
    let length = names.clone().map(|name| name.len() + 1).sum();
    let mut joined = String::with_capacity(length);
    for (index, name) in names.enumerate() {
        if index > 0 {
            joined.push(',');
        }
        joined.push_str(name);
    }
    joined
}

/// The header TikTok's answers carry their request id in.
const LOG_ID_HEADER: reqwest::header::HeaderName =
    reqwest::header::HeaderName::from_static("x-tt-logid");

/// A decoded answer as one send returns it, its `log_id` header kept as received (text
/// only for the callers that keep it).
struct Sent<R> {
    value: R,
    status: u16,
    log_id: Option<reqwest::header::HeaderValue>,
}

impl<R> Sent<R> {
    /// The `log_id` header, if it was sent as text.
    fn log_id(&self) -> Option<&str> {
        self.log_id.as_ref().and_then(|value| value.to_str().ok())
    }
}

/// An async client for the TikTok v2 API. Cheap to clone; share one per app.
///
/// Each endpoint is a method (generated from the spec) taking the access token of the
/// user or client it acts for, so one client serves many users; [`Client::user`] gives a
/// handle for one user whose calls take no token and refresh it as needed.
///
/// Every call goes through the local rate limiter (on by default, in [`LimiterMode::Wait`]),
/// is sent, decoded, and retried by the [`RetryPolicy`] (on by default), inside one
/// `tiktok_api.call` tracing span.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
    retry: RetryPolicy,
    limiter: Option<Arc<RateLimiter>>,
    credentials: Option<Arc<AppCredentials>>,
    pub(crate) users: Arc<UserSlots>,
}

/// The app's `client_key` and `client_secret` (the secret never shows in `Debug`).
#[derive(Debug, Clone)]
pub struct AppCredentials {
    /// The app's client key.
    pub client_key: String,
    /// The app's client secret.
    pub client_secret: SecretString,
}

impl AppCredentials {
    /// Credentials from a key and a secret.
    pub fn new(client_key: impl Into<String>, client_secret: impl Into<String>) -> Self {
        AppCredentials {
            client_key: client_key.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }
}

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
    limiter: Option<LimiterMode>,
    rate_limit_scale: f64,
    credentials: Option<AppCredentials>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: spec_constants::API_BASE_URL.to_string(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("tiktok-api-rs/", env!("CARGO_PKG_VERSION")).to_string(),
            http: None,
            retry: RetryPolicy::default(),
            limiter: Some(LimiterMode::Wait),
            rate_limit_scale: 1.0,
            credentials: None,
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

    /// Every call sent once, as is: no retries and no local rate limiter. For tests of a
    /// server's own answers (its 429s and faults), where the runtime would hide them.
    pub fn plain(self) -> Self {
        self.retry_policy(RetryPolicy::off()).rate_limiter(None)
    }

    /// The retry policy ([`RetryPolicy::off`] to send every call once).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The local rate limiter's mode (`.rate_limiter(LimiterMode::FailFast)`), or `None` to
    /// switch it off (`.rate_limiter(None)`).
    pub fn rate_limiter(mut self, mode: impl Into<Option<LimiterMode>>) -> Self {
        self.limiter = mode.into();
        self
    }

    /// Multiplies every rate limit the local limiter keeps to (default 1), for tests and
    /// benchmarks against a mock started with the same `--rate-limit-scale`. TikTok's own
    /// limits are the spec's: against TikTok, leave it at 1.
    pub fn rate_limit_scale(mut self, scale: f64) -> Self {
        self.rate_limit_scale = scale;
        self
    }

    /// The app's credentials, which user handles need to refresh and revoke tokens.
    pub fn credentials(
        mut self,
        client_key: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.credentials = Some(AppCredentials::new(client_key, client_secret));
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
        if !(self.rate_limit_scale.is_finite() && self.rate_limit_scale > 0.0) {
            return Err(Error::InvalidRequest(format!(
                "rate_limit_scale {}: expected a number above 0",
                self.rate_limit_scale
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
        Ok(Client {
            http,
            base_url,
            timeout: self.timeout,
            retry: self.retry,
            limiter: self
                .limiter
                .map(|mode| Arc::new(RateLimiter::new(mode, self.rate_limit_scale))),
            credentials: self.credentials.map(Arc::new),
            users: Arc::default(),
        })
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

    /// The app's credentials, if the builder was given them.
    pub fn credentials(&self) -> Option<&AppCredentials> {
        self.credentials.as_deref()
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The whole-request timeout of API calls.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The app's credentials, or an error naming what needs them.
    pub(crate) fn require_credentials(&self, what: &str) -> Result<&AppCredentials, Error> {
        self.credentials().ok_or_else(|| {
            Error::InvalidRequest(format!(
                "{what} needs the app's credentials: ClientBuilder::credentials(client_key, client_secret)"
            ))
        })
    }

    /// The authorization page for this client: TikTok's, or the same path on the base URL
    /// when it is not TikTok's API host (the mock serves the page there).
    pub fn authorize_base(&self) -> String {
        if self.base_url == spec_constants::API_BASE_URL {
            return spec_constants::AUTHORIZE_URL.to_string();
        }
        let path = url::Url::parse(spec_constants::AUTHORIZE_URL)
            .map(|url| url.path().to_string())
            .unwrap_or_default();
        format!("{}{}", self.base_url, path)
    }

    /// An authorize URL for this client's app (its client key) and authorization page.
    pub fn authorize_url(
        &self,
        redirect_uri: impl Into<String>,
    ) -> Result<crate::oauth::AuthorizeUrl, Error> {
        let credentials = self.require_credentials("an authorize URL")?;
        Ok(
            crate::oauth::AuthorizeUrl::new(credentials.client_key.clone(), redirect_uri)
                .base(self.authorize_base()),
        )
    }

    /// The reqwest client, for the upload host.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends one call as the endpoint table describes it and decodes the answer: through
    /// the local rate limiter, retried as the policy allows, in one tracing span that
    /// carries the endpoint id, the attempts, the HTTP status, TikTok's `log_id` and the
    /// latency (never a token, code or secret).
    pub(crate) async fn execute<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        meta: &'static EndpointMeta,
        access_token: Option<&str>,
        fields: Option<String>,
        body: Option<&B>,
    ) -> Result<R, Error> {
        self.call(meta, access_token, fields, body)
            .await
            .map(|sent| sent.value)
    }

    /// [`Client::execute`], keeping the answer's HTTP status and `log_id` (for the audit).
    pub(crate) async fn execute_answer<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        meta: &'static EndpointMeta,
        access_token: Option<&str>,
        fields: Option<String>,
        body: Option<&B>,
    ) -> Result<Answer<R>, Error> {
        let sent = self.call(meta, access_token, fields, body).await?;
        let log_id = sent.log_id().map(str::to_owned);
        Ok(Answer {
            value: sent.value,
            status: sent.status,
            log_id,
        })
    }

    /// One call: the fields checked, then its attempts, in the call's tracing span.
    async fn call<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        meta: &'static EndpointMeta,
        access_token: Option<&str>,
        fields: Option<String>,
        body: Option<&B>,
    ) -> Result<Sent<R>, Error> {
        if let Some(param) = meta.fields
            && param.required
            && fields.as_deref().is_none_or(str::is_empty)
        {
            // TikTok would refuse it; say so here, without a round trip.
            return Err(Error::InvalidRequest(format!(
                "{}: ask for at least one field",
                meta.id
            )));
        }
        let span = tracing::info_span!(
            "tiktok_api.call",
            endpoint = meta.id,
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            log_id = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        // Entered on every poll and recorded only when a subscriber wants it: a disabled
        // span costs nothing that way, where entering and recording one cost a tenth of a
        // call's own instructions.
        if span.is_disabled() {
            self.attempts(meta, access_token, fields.as_deref(), body, None)
                .await
        } else {
            self.attempts(meta, access_token, fields.as_deref(), body, Some(&span))
                .instrument(span.clone())
                .await
        }
    }

    /// The attempts of one call, recorded in `span` if there is one.
    async fn attempts<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        meta: &'static EndpointMeta,
        access_token: Option<&str>,
        fields: Option<&str>,
        body: Option<&B>,
        span: Option<&tracing::Span>,
    ) -> Result<Sent<R>, Error> {
        let record = |field: &str, value: &dyn tracing::Value| {
            if let Some(span) = span {
                span.record(field, value);
            }
        };
        let started = Instant::now();
        let mut attempt = 0;
        let mut previous: Option<Error> = None;
        loop {
            attempt += 1;
            record("attempt", &attempt);
            if let Some(limiter) = &self.limiter
                && let Err(refused) = limiter.acquire(meta, access_token).await
            {
                // Fail-fast on a retry: give up with the last answer, not the limiter's.
                return Err(match previous {
                    Some(last) => last.with_attempts(Attempts {
                        count: attempt - 1,
                        elapsed: started.elapsed(),
                        retry_after: refused.retry_after(),
                    }),
                    None => refused,
                });
            }
            let result = self.send_once(meta, access_token, fields, body).await;
            // The clock is read for the latency only when the span keeps it.
            if let Some(span) = span {
                span.record("latency_ms", started.elapsed().as_millis() as u64);
            }
            let error = match result {
                Ok(sent) => {
                    record("status", &sent.status);
                    if let Some(log_id) = sent.log_id() {
                        record("log_id", &log_id);
                    }
                    return Ok(sent);
                }
                Err(error) => error,
            };
            if let Some(status) = error.status() {
                record("status", &status);
            }
            if let Some(log_id) = error.log_id() {
                record("log_id", &log_id);
            }
            let elapsed = started.elapsed();
            // A 429 waits for its window to free, if it frees within the policy's
            // limits; otherwise it is returned at once, saying how long to wait.
            let (delay, retry_after) = if error.code() == Some(&ErrorCode::RateLimitExceeded) {
                let wait = match &self.limiter {
                    Some(limiter) => limiter.frees_in(meta, access_token),
                    None => RateLimiter::window(meta),
                };
                (
                    self.retry.rate_limit_delay(attempt, elapsed, wait),
                    Some(wait),
                )
            } else {
                (self.retry.next_delay(meta, &error, attempt, elapsed), None)
            };
            match delay {
                Some(delay) => {
                    tracing::debug!(%error, delay_ms = delay.as_millis() as u64, "retrying");
                    tokio::time::sleep(delay).await;
                    previous = Some(error);
                }
                None => {
                    return Err(error.with_attempts(Attempts {
                        count: attempt,
                        elapsed,
                        retry_after,
                    }));
                }
            }
        }
    }

    /// The URL of a call: the base URL, the endpoint's path and the `fields` query, written
    /// in one go and encoded as reqwest's `query` would (`,` as `%2C`).
    fn url(&self, meta: &EndpointMeta, fields: Option<&str>) -> String {
        const QUERY: &str = "?fields=";
        let query_length = fields.map_or(0, |fields| QUERY.len() + 3 * fields.len());
        let mut call_url =
            String::with_capacity(self.base_url.len() + meta.path.len() + query_length);
        call_url.push_str(&self.base_url);
        call_url.push_str(meta.path);
        if let Some(fields) = fields {
            call_url.push_str(QUERY);
            call_url.extend(url::form_urlencoded::byte_serialize(fields.as_bytes()));
        }
        call_url
    }

    /// One send: the answer's status, its `log_id` header and the decoded body.
    async fn send_once<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        meta: &'static EndpointMeta,
        access_token: Option<&str>,
        fields: Option<&str>,
        body: Option<&B>,
    ) -> Result<Sent<R>, Error> {
        let method = match meta.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
        };
        let mut request = self.http.request(method, self.url(meta, fields));
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
        // The header's bytes are shared with the response, not copied.
        let log_id = response.headers().get(LOG_ID_HEADER).cloned();
        let bytes = response.bytes().await?;
        let value = decode_response(meta.envelope, status, &bytes)?;
        Ok(Sent {
            value,
            status,
            log_id,
        })
    }

    /// The client secret, for the OAuth calls a user handle makes.
    pub(crate) fn secret(credentials: &AppCredentials) -> &str {
        credentials.client_secret.expose_secret()
    }
}
