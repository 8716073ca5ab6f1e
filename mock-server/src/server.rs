//! [`MockServer`]: the mock on a real socket for in-process tests, in the manner of wiremock-rs:
//! tokens, codes, faults, stubs, the call log, reset, and expectations checked on drop.

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tiktok_api::meta::EndpointMeta;
use tiktok_api::{ErrorCode, Scope};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::router;
use crate::clock::{Clock, ClockKind};
use crate::control::advance_clock_by;
use crate::fixtures::{FixtureError, Fixtures};
use crate::state::{AppState, AppStateBuilder};
use crate::store::{App, CallRecord, Fault, PendingFault};
use crate::tokens::{MintRequest, ScopeList};

/// A running mock on `127.0.0.1`, shut down when dropped.
///
/// ```no_run
/// # async fn example() {
/// use tiktok_api::endpoints::USER_INFO;
/// use tiktok_api::{ErrorCode, Scope};
/// let mock = tiktok_mock::MockServer::start().await;
/// let base_url = mock.uri(); // e.g. http://127.0.0.1:41234
/// let app = mock.demo_app(); // app.client_key, app.client_secret
/// let token = mock.user_token(None, &[Scope::UserInfoBasic]);
/// mock.fault(&USER_INFO, ErrorCode::InternalError, 1); // the next call fails
/// mock.expect(&USER_INFO, 2); // checked when `mock` is dropped
/// # let _ = (base_url, app, token);
/// # }
/// ```
#[derive(Debug)]
pub struct MockServer {
    address: SocketAddr,
    state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    expectations: Mutex<Vec<Expectation>>,
}

/// How many calls an expectation wants: exactly, or within a range. Counts are `u32`, as
/// everywhere in [`MockServer`] (a fault's `times` too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    min: u32,
    max: u32,
}

impl Times {
    fn contains(self, count: u32) -> bool {
        (self.min..=self.max).contains(&count)
    }
}

impl std::fmt::Display for Times {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.min, self.max) {
            (min, max) if min == max => write!(f, "exactly {min}"),
            (min, u32::MAX) => write!(f, "at least {min}"),
            (min, max) => write!(f, "{min} to {max}"),
        }
    }
}

impl From<u32> for Times {
    fn from(times: u32) -> Self {
        Times {
            min: times,
            max: times,
        }
    }
}

impl From<std::ops::RangeInclusive<u32>> for Times {
    fn from(range: std::ops::RangeInclusive<u32>) -> Self {
        Times {
            min: *range.start(),
            max: *range.end(),
        }
    }
}

impl From<std::ops::Range<u32>> for Times {
    fn from(range: std::ops::Range<u32>) -> Self {
        Times {
            min: range.start,
            max: range.end.saturating_sub(1),
        }
    }
}

impl From<std::ops::RangeFrom<u32>> for Times {
    fn from(range: std::ops::RangeFrom<u32>) -> Self {
        Times {
            min: range.start,
            max: u32::MAX,
        }
    }
}

#[derive(Debug, Clone)]
struct Expectation {
    endpoint: &'static str,
    times: Times,
}

impl MockServer {
    /// Starts a mock with the demo data on a free port.
    ///
    /// # Panics
    /// If no local port can be bound.
    pub async fn start() -> MockServer {
        MockServer::builder().start().await
    }

    /// A builder for fixtures, clock and options.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn uri(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The mock's state, to seed data or read the call log directly.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The demo app: the first app of the fixtures the mock was started with (the audited
    /// "Demo App" of the embedded demo data), with its client key, client secret and
    /// redirect URIs, so that tests read the credentials instead of copying them.
    ///
    /// # Panics
    /// If the fixtures have no app (fixture files always have one).
    pub fn demo_app(&self) -> &App {
        self.state
            .fixtures()
            .apps
            .first()
            .expect("the fixtures have an app")
    }

    /// The entry of the mock's own table with `endpoint`'s id (a mock built on its own
    /// endpoint table may serve it differently, or not at all).
    ///
    /// # Panics
    /// If the mock's table has no endpoint of that id.
    fn served(&self, endpoint: &'static EndpointMeta) -> &'static EndpointMeta {
        let endpoints = self.state.endpoints();
        endpoints
            .iter()
            .copied()
            .find(|meta| meta.id == endpoint.id)
            .unwrap_or_else(|| {
                let ids: Vec<&str> = endpoints.iter().map(|meta| meta.id).collect();
                panic!(
                    "the mock does not serve {:?}; its table has {}",
                    endpoint.id,
                    ids.join(", ")
                )
            })
    }

    /// Mints a user token of `open_id` (the demo creator with the most videos for `None`)
    /// with these scopes, for the first app.
    ///
    /// # Panics
    /// If the fixtures have no app or no such creator.
    pub fn user_token(&self, open_id: Option<&str>, scopes: &[Scope]) -> String {
        let request = MintRequest {
            open_id: open_id.map(str::to_owned),
            scopes: Some(ScopeList::List(
                scopes
                    .iter()
                    .map(|scope| scope.as_str().to_owned())
                    .collect(),
            )),
            ..MintRequest::default()
        };
        self.state
            .mint_token(&request)
            .unwrap_or_else(|error| panic!("cannot mint a token: {error}"))
            .access_token
    }

    /// Runs an authorize URL (built with `tiktok_api::oauth::AuthorizeUrl` against
    /// `{uri}/v2/auth/authorize/`) as if the user approved every scope, and returns the code
    /// of the redirect. Add `&open_id=…` or `&grant=…` to the URL to choose the user or scopes.
    ///
    /// # Panics
    /// If the mock does not redirect with a code (the URL's error is in the message).
    pub async fn authorize(&self, url: &str) -> String {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let separator = if url.contains('?') { '&' } else { '?' };
        let response = http
            .get(format!("{url}{separator}auto_approve=1"))
            .send()
            .await
            .unwrap_or_else(|error| panic!("authorize: {error}"));
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let Some(location) = location else {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            panic!("authorize: no redirect (HTTP {status}): {body}");
        };
        let query = location.split_once('?').map_or("", |(_, query)| query);
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        pairs
            .iter()
            .find(|(name, _)| name == "code")
            .map(|(_, code)| code.clone())
            .unwrap_or_else(|| panic!("authorize: the redirect carries no code: {location}"))
    }

    /// Makes the next `times` calls to `endpoint` (an entry of the generated table, e.g.
    /// `&tiktok_api::endpoints::USER_INFO`) fail with `code`, with the status the endpoint's
    /// table gives it (the catalog's otherwise).
    ///
    /// # Panics
    /// If the mock does not serve the endpoint.
    pub fn fault(&self, endpoint: &'static EndpointMeta, code: ErrorCode, times: u32) {
        let meta = self.served(endpoint);
        let status = meta.status_of(&code).unwrap_or_else(|| code.status());
        let message = code
            .meta()
            .map(|error| error.meaning.to_owned())
            .unwrap_or_default();
        self.state.store().push_fault(PendingFault {
            endpoint: meta.id.to_owned(),
            fault: Fault::Error {
                code,
                status,
                message,
            },
            remaining: times,
        });
    }

    /// Answers every call to `endpoint` with this HTTP status and JSON body, as given (until
    /// [`MockServer::reset`]): for codes and shapes outside the catalog.
    ///
    /// # Panics
    /// If the mock does not serve the endpoint.
    pub fn stub(&self, endpoint: &'static EndpointMeta, status: u16, body: serde_json::Value) {
        let meta = self.served(endpoint);
        self.state.store().push_fault(PendingFault {
            endpoint: meta.id.to_owned(),
            fault: Fault::Stub { status, body },
            remaining: u32::MAX,
        });
    }

    /// Expects `times` calls to `endpoint` (an entry of the generated table) over the mock's
    /// life: `2`, `1..=3`, `1..`. Checked when the mock is dropped (a failure lists the calls
    /// received) or by [`MockServer::verify`].
    ///
    /// # Panics
    /// If the mock does not serve the endpoint.
    pub fn expect(&self, endpoint: &'static EndpointMeta, times: impl Into<Times>) {
        let endpoint = self.served(endpoint).id;
        self.expectations.lock().push(Expectation {
            endpoint,
            times: times.into(),
        });
    }

    /// Checks every expectation now; the error lists what was expected and every call received.
    pub fn verify(&self) -> Result<(), String> {
        let calls = self.calls();
        let mut problems = Vec::new();
        for expectation in self.expectations.lock().iter() {
            let count = calls
                .iter()
                .filter(|call| call.endpoint.as_deref() == Some(expectation.endpoint))
                .count();
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            if !expectation.times.contains(count) {
                problems.push(format!(
                    "expected {} call(s) to {}, received {count}",
                    expectation.times, expectation.endpoint
                ));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        let received: Vec<String> = calls
            .iter()
            .map(|call| {
                format!(
                    "  {} {} -> {} {}",
                    call.method, call.path, call.status, call.decision
                )
            })
            .collect();
        Err(format!(
            "{}\ncalls received ({}):\n{}",
            problems.join("\n"),
            received.len(),
            if received.is_empty() {
                "  (none)".to_owned()
            } else {
                received.join("\n")
            }
        ))
    }

    /// The API calls received so far, oldest first (the call log; control calls excluded).
    pub fn calls(&self) -> Vec<CallRecord> {
        self.state.store().calls()
    }

    /// Back to the start: fixtures reloaded, demo tokens restored; tokens, faults, stubs,
    /// the call log, webhook deliveries and expectations forgotten. Settings and the clock stay.
    pub fn reset(&self) {
        self.state
            .reset()
            .unwrap_or_else(|error| panic!("the fixtures reload: {error}"));
        self.expectations.lock().clear();
    }

    /// Advances a manual clock by `seconds`; returns false on the system clock.
    pub fn advance(&self, seconds: i64) -> bool {
        advance_clock_by(&self.state, seconds.saturating_mul(1000))
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if !std::thread::panicking()
            && let Err(problem) = self.verify()
        {
            panic!("tiktok-mock: expectations not met\n{problem}");
        }
    }
}

/// Builds a [`MockServer`].
#[derive(Debug, Default)]
pub struct MockServerBuilder {
    state: AppStateBuilder,
    serve: crate::serve::ServeOptions,
    replay: Option<Arc<crate::recording::replay::Replay>>,
}

impl MockServerBuilder {
    /// Loads these fixtures instead of the demo data.
    pub fn fixtures(mut self, fixtures: Fixtures) -> Self {
        self.state = self.state.fixtures(fixtures);
        self
    }

    /// Loads fixtures from YAML text (the `--fixtures` format).
    pub fn fixtures_yaml(self, yaml: &str) -> Result<Self, FixtureError> {
        Ok(self.fixtures(Fixtures::from_yaml(yaml)?))
    }

    /// Runs on the system clock or a manual one.
    pub fn clock_kind(mut self, kind: ClockKind) -> Self {
        self.state = self.state.clock_kind(kind);
        self
    }

    /// Runs on this clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.state = self.state.clock(clock);
        self
    }

    /// Multiplies every spec rate limit.
    pub fn rate_limit_scale(mut self, scale: f64) -> Self {
        self.state = self.state.rate_limit_scale(scale);
        self
    }

    /// The server-side limits: timeouts, connection cap, shutdown grace (defaults otherwise).
    pub fn serve_options(mut self, options: crate::serve::ServeOptions) -> Self {
        self.serve = options;
        self
    }

    /// Answers recorded requests from `replay` (`--replay DIR`) in front of the mock.
    pub fn replay(mut self, replay: crate::recording::replay::Replay) -> Self {
        self.replay = Some(Arc::new(replay));
        self
    }

    /// Changes the state's other options.
    pub fn state(mut self, configure: impl FnOnce(AppStateBuilder) -> AppStateBuilder) -> Self {
        self.state = configure(self.state);
        self
    }

    /// Starts the mock on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// If the fixtures don't load or no port can be bound; see [`MockServerBuilder::try_start`].
    pub async fn start(self) -> MockServer {
        self.try_start().await.expect("the mock server starts")
    }

    /// Starts the mock on a free port of 127.0.0.1.
    pub async fn try_start(self) -> anyhow::Result<MockServer> {
        let state = self.state.build()?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        state.set_base_url(&format!("http://{address}"));
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let mut app = router(state.clone());
        if let Some(replay) = self.replay {
            app = crate::recording::replay::with_replay(app, replay);
        }
        let task = tokio::spawn(async move {
            crate::serve::serve(listener, app, self.serve, async move {
                let _ = shutdown_rx.await;
            })
            .await;
        });
        Ok(MockServer {
            address,
            state,
            shutdown: Some(shutdown),
            task: Some(task),
            expectations: Mutex::new(Vec::new()),
        })
    }
}
