//! [`MockServer`]: the mock on a real socket for in-process tests, in the manner of wiremock-rs.

use std::net::SocketAddr;
use std::sync::Arc;

use tiktok_api::Scope;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::router;
use crate::clock::{Clock, ClockKind};
use crate::control::advance_clock_by;
use crate::fixtures::{FixtureError, Fixtures};
use crate::state::{AppState, AppStateBuilder};
use crate::tokens::{MintRequest, ScopeList};

/// A running mock on `127.0.0.1`, shut down when dropped.
///
/// ```no_run
/// # async fn example() {
/// let mock = tiktok_mock::MockServer::start().await;
/// let base_url = mock.uri(); // e.g. http://127.0.0.1:41234
/// # let _ = base_url;
/// # }
/// ```
#[derive(Debug)]
pub struct MockServer {
    address: SocketAddr,
    state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
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

    /// Mints a user token of the demo creator with the most videos.
    ///
    /// # Panics
    /// If the fixtures have no app or no creator.
    pub fn user_token(&self, scopes: &[Scope]) -> String {
        let request = MintRequest {
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
            .expect("the fixtures have an app and a creator")
            .access_token
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
    }
}

/// Builds a [`MockServer`].
#[derive(Debug, Default)]
pub struct MockServerBuilder {
    state: AppStateBuilder,
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
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown_rx.await;
                })
                .await;
        });
        Ok(MockServer {
            address,
            state,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }
}
