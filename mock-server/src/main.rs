//! `tiktok-mock`: serves the mock TikTok v2 API; reads flags (or their `TIKTOK_MOCK_*`
//! environment variables), prints the demo credentials (or one JSON line), serves until
//! Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use serde_json::json;
use tiktok_mock::clock::{OffsetClock, parse_instant};
use tiktok_mock::recording::replay::{Replay, ReplayMiss, with_replay};
use tiktok_mock::store::sqlite::SqliteStore;
use tiktok_mock::tokens::{read_scopes, user_scopes};
use tiktok_mock::{AppState, ClockKind, Fixtures, ManualClock, router_with_admin_token};
use tracing_subscriber::EnvFilter;

/// A mock of the TikTok v2 API for integration tests: same paths, envelopes, errors,
/// scopes and rate limits, with embedded demo data and a control API under /_mock/.
/// Every option can also be given by its environment variable.
#[derive(Debug, Parser)]
#[command(name = "tiktok-mock", version)]
struct Args {
    /// Address to listen on, HOST:PORT; ":0" or a port of 0 picks a free port on 127.0.0.1.
    #[arg(long, env = "TIKTOK_MOCK_ADDR", default_value = "127.0.0.1:8080")]
    addr: String,
    /// The URL clients reach the mock at, when it is not the address it listens on (behind
    /// a proxy, in a container): upload URLs and the printed lines use it.
    #[arg(long, env = "TIKTOK_MOCK_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// Load apps, creators, videos, comments and settings from this YAML file instead of
    /// the demo data (same format as mock-server/demo.yaml).
    #[arg(long, env = "TIKTOK_MOCK_FIXTURES", value_name = "FILE.yaml")]
    fixtures: Option<PathBuf>,
    /// Multiply every spec rate limit by F (e.g. 100 for load tests); default 1.
    #[arg(
        long,
        env = "TIKTOK_MOCK_RATE_LIMIT_SCALE",
        value_name = "F",
        default_value_t = 1.0
    )]
    rate_limit_scale: f64,
    /// The clock: the system's, or a manual one advanced with POST /_mock/clock/advance.
    #[arg(long, env = "TIKTOK_MOCK_CLOCK", value_enum, default_value_t = ClockKind::System)]
    clock: ClockKind,
    /// Where the clock starts: Unix seconds, Unix milliseconds or an RFC 3339 UTC time
    /// (2027-01-15T08:00:00Z). The system clock then runs on from there at real speed.
    #[arg(long, env = "TIKTOK_MOCK_CLOCK_START", value_name = "TIME")]
    clock_start: Option<String>,
    /// Deliver every app's webhooks to this URL (overrides the fixtures' callback_url).
    #[arg(long, env = "TIKTOK_MOCK_WEBHOOK_URL", value_name = "URL")]
    webhook_url: Option<String>,
    /// Print one JSON line on stdout once ready (url, apps, tokens), for scripts; the
    /// human-readable lines go to stderr instead.
    #[arg(long, env = "TIKTOK_MOCK_READY_JSON")]
    ready_json: bool,
    /// Close the control API (/_mock/, all but /_mock/health) to requests without
    /// `Authorization: Bearer TOKEN`. Required when listening beyond loopback.
    #[arg(long, env = "TIKTOK_MOCK_ADMIN_TOKEN", value_name = "TOKEN")]
    admin_token: Option<String>,
    /// Give the first creator N more generated videos at start-up (one a minute back in
    /// time, no comments), to try the mock at scale.
    #[arg(
        long,
        env = "TIKTOK_MOCK_SYNTHETIC_VIDEOS",
        value_name = "N",
        default_value_t = 0
    )]
    synthetic_videos: u64,
    /// Print one line per API call on stderr (the same as RUST_LOG=tiktok_mock::calls=info).
    #[arg(long, env = "TIKTOK_MOCK_LOG_CALLS")]
    log_calls: bool,
    /// How many calls /_mock/calls keeps, the oldest dropped first (rounded up to a multiple
    /// of 32; 0 keeps none).
    #[arg(
        long,
        env = "TIKTOK_MOCK_CALL_LOG_SIZE",
        value_name = "N",
        default_value_t = tiktok_mock::store::call_ring::DEFAULT_CALL_LOG_SIZE
    )]
    call_log_size: usize,
    /// About how many bytes the calls /_mock/calls keeps may take (bodies included), the
    /// oldest dropped first; beside --call-log-size, whichever is reached first.
    #[arg(
        long,
        env = "TIKTOK_MOCK_CALL_LOG_BYTES",
        value_name = "BYTES",
        default_value_t = tiktok_mock::store::call_ring::DEFAULT_CALL_LOG_BYTES
    )]
    call_log_bytes: usize,
    /// Keep the mock's state in this SQLite file, so it survives a restart (or a crash):
    /// created, with the fixtures loaded, when missing; taken up as it is otherwise.
    #[arg(long, env = "TIKTOK_MOCK_STATE", value_name = "FILE")]
    state: Option<PathBuf>,
    /// Seconds a client has to send a whole request head; the connection is closed after
    /// (0: no limit). Also bounds a kept-alive HTTP/1.1 connection waiting for its next request.
    #[arg(
        long,
        env = "TIKTOK_MOCK_HEADER_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 30
    )]
    header_timeout: u64,
    /// Seconds a request body may go without a byte arriving (reset by every read, so a slow
    /// chunk upload that moves is never cut); the call gets 400 (0: no limit).
    #[arg(
        long,
        env = "TIKTOK_MOCK_BODY_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 60
    )]
    body_timeout: u64,
    /// Seconds a connection with no call in progress stays open without traffic (HTTP/2, or
    /// HTTP/1.1 keep-alive when --header-timeout is longer; 0: no limit).
    #[arg(
        long,
        env = "TIKTOK_MOCK_IDLE_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 75
    )]
    idle_timeout: u64,
    /// Connections served at once; more wait to be accepted. Default: 4096, or fewer under a
    /// lower descriptor limit (`ulimit -n` less 64, at least half of it).
    #[arg(long, env = "TIKTOK_MOCK_MAX_CONNECTIONS", value_name = "N")]
    max_connections: Option<usize>,
    /// On SIGTERM or Ctrl-C, seconds connections get to finish their calls before they are
    /// dropped and the mock exits.
    #[arg(
        long,
        env = "TIKTOK_MOCK_SHUTDOWN_GRACE",
        value_name = "SECONDS",
        default_value_t = 10
    )]
    shutdown_grace: u64,
    /// Answer the requests recorded in DIR (`tiktok-mock proxy --record DIR`) with their
    /// recorded answers, matched by endpoint, query and body (never by token).
    #[arg(long, env = "TIKTOK_MOCK_REPLAY", value_name = "DIR")]
    replay: Option<PathBuf>,
    /// What a request of the spec the recording has no answer for gets: a TikTok error
    /// saying so (error) or the mock's own answer (mock).
    #[arg(long, env = "TIKTOK_MOCK_REPLAY_MISS", value_enum, default_value_t = ReplayMiss::Error)]
    replay_miss: ReplayMiss,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Forward every call to the real TikTok (or --upstream) unchanged, check both ways
    /// against the spec, log each finding and keep a drift report.
    Proxy(ProxyArgs),
    /// Fixture files: `fixtures from-recording DIR > fixtures.yaml`.
    #[command(subcommand)]
    Fixtures(FixturesCommand),
}

#[derive(Debug, clap::Subcommand)]
enum FixturesCommand {
    /// Print the users, videos and comments of a recording (`proxy --record DIR`) as a
    /// fixture file for --fixtures.
    FromRecording {
        /// The recording's directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// `tiktok-mock proxy`: a validating proxy in front of TikTok.
#[derive(Debug, clap::Args)]
struct ProxyArgs {
    /// The API host to forward to.
    #[arg(long, env = "TIKTOK_PROXY_UPSTREAM", value_name = "URL", default_value = tiktok_api::spec_constants::API_BASE_URL)]
    upstream: String,
    /// Address to listen on, HOST:PORT; ":0" picks a free port on 127.0.0.1.
    #[arg(long, env = "TIKTOK_PROXY_ADDR", default_value = "127.0.0.1:8443")]
    addr: String,
    /// The URL apps reach the proxy at, when it is not the address it listens on: the
    /// rewritten upload URLs use it.
    #[arg(long, env = "TIKTOK_PROXY_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// The drift report: JSON when FILE ends in .json, Markdown otherwise; rewritten (at
    /// most every second) while the proxy runs and in full when it stops.
    #[arg(long, env = "TIKTOK_PROXY_REPORT", value_name = "FILE")]
    report: Option<PathBuf>,
    /// Give up connecting to the upstream after this many milliseconds.
    #[arg(long, env = "TIKTOK_PROXY_CONNECT_TIMEOUT_MS", value_name = "MS", default_value_t = tiktok_mock::proxy::DEFAULT_CONNECT_TIMEOUT.as_millis() as u64)]
    connect_timeout_ms: u64,
    /// Give up on an answer when a read of it waits longer than this many milliseconds.
    #[arg(long, env = "TIKTOK_PROXY_READ_TIMEOUT_MS", value_name = "MS", default_value_t = tiktok_mock::proxy::DEFAULT_READ_TIMEOUT.as_millis() as u64)]
    read_timeout_ms: u64,
    /// Record each exchange into DIR (one JSON file each, secrets as placeholders, personal
    /// data in Research answers masked); DIR must be new or empty.
    #[arg(long, env = "TIKTOK_PROXY_RECORD", value_name = "DIR")]
    record: Option<PathBuf>,
}

/// Runs `tiktok-mock proxy` until Ctrl-C or SIGTERM; prints `listening on URL` first.
async fn run_proxy(args: ProxyArgs) -> anyhow::Result<()> {
    use tiktok_mock::proxy::{Proxy, ProxyConfig, serve};
    let upstream = ProxyConfig::parse_upstream(&args.upstream)
        .map_err(|problem| anyhow::anyhow!("--upstream: {problem}"))?;
    if args.connect_timeout_ms == 0 || args.read_timeout_ms == 0 {
        anyhow::bail!(
            "--connect-timeout-ms and --read-timeout-ms: expected a positive number of milliseconds"
        );
    }
    let config = ProxyConfig {
        upstream,
        connect_timeout: std::time::Duration::from_millis(args.connect_timeout_ms),
        read_timeout: std::time::Duration::from_millis(args.read_timeout_ms),
        report: args.report,
        record: args.record,
    };
    let shutdown = shutdown_signal();
    let address = normalize_addr(&args.addr);
    let listener = tokio::net::TcpListener::bind(address.as_str())
        .await
        .with_context(|| format!("--addr: cannot listen on {address:?}"))?;
    let bound = listener.local_addr()?;
    let base = base_url(bound, args.public_url.as_deref())?;
    let proxy = Proxy::new(config, &base).map_err(|problem| anyhow::anyhow!("{problem}"))?;
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on http://{bound}");
    let _ = writeln!(
        stdout,
        "forwarding to {}; point the app's API base URL at {base}",
        args.upstream.trim()
    );
    let _ = stdout.flush();
    serve(proxy, listener, shutdown).await?;
    Ok(())
}

/// `:PORT` means 127.0.0.1:PORT; anything else is HOST:PORT (a name or an IP).
fn normalize_addr(text: &str) -> String {
    match text.strip_prefix(':') {
        Some(port) => format!("127.0.0.1:{port}"),
        None => text.to_owned(),
    }
}

/// The base URL clients use: `--public-url`, else the bound address (127.0.0.1 for an
/// unspecified address such as 0.0.0.0, with a warning).
fn base_url(bound: SocketAddr, public_url: Option<&str>) -> anyhow::Result<String> {
    if let Some(url) = public_url {
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains('?') {
            anyhow::bail!("--public-url: expected an http(s) base URL, found {url:?}");
        }
        return Ok(url.to_owned());
    }
    if bound.ip().is_unspecified() {
        tracing::warn!(
            "listening on {bound} (every interface) without --public-url: upload URLs and the printed lines say http://127.0.0.1:{}, which clients on other hosts can't reach; set --public-url (TIKTOK_MOCK_PUBLIC_URL)",
            bound.port()
        );
        return Ok(format!("http://127.0.0.1:{}", bound.port()));
    }
    Ok(format!("http://{bound}"))
}

/// A future that resolves on Ctrl-C, or on SIGTERM where there is one (a container's stop).
/// The handlers are installed when this is called, not when the future is first polled, so a
/// signal sent as soon as the first line is printed is not lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            tracing::info!("shutting down");
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The line per call costs a formatted line: off unless asked for.
    let mut filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("tiktok_mock=info,tiktok_mock::calls=warn"));
    if args.log_calls {
        filter = filter.add_directive("tiktok_mock::calls=info".parse()?);
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match args.command {
        Some(Command::Proxy(proxy_args)) => return run_proxy(proxy_args).await,
        Some(Command::Fixtures(FixturesCommand::FromRecording { dir })) => {
            let yaml = tiktok_mock::recording::fixtures::from_recording(&dir)
                .map_err(|error| anyhow::anyhow!("fixtures from-recording: {error}"))?;
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(yaml.as_bytes());
            let _ = stdout.flush();
            return Ok(());
        }
        None => {}
    }
    let replay = match &args.replay {
        Some(dir) => Some(Arc::new(
            Replay::load(dir, args.replay_miss)
                .map_err(|error| anyhow::anyhow!("--replay {error}"))?,
        )),
        None => None,
    };
    if !(args.rate_limit_scale.is_finite() && args.rate_limit_scale > 0.0) {
        anyhow::bail!(
            "--rate-limit-scale: expected a positive number, found {}",
            args.rate_limit_scale
        );
    }
    let mut fixtures = match &args.fixtures {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--fixtures: cannot read {}", path.display()))?;
            Fixtures::from_yaml(&text).map_err(|error| {
                anyhow::anyhow!("--fixtures {}", error.in_file(&path.display().to_string()))
            })?
        }
        None => Fixtures::demo(),
    };
    fixtures.synthetic_videos = args.synthetic_videos;
    if let Some(url) = &args.webhook_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!("--webhook-url: expected an http(s) URL, found {url:?}");
        }
        for app in &mut fixtures.apps {
            app.callback_url = Some(url.clone());
        }
    }
    let durable = match &args.state {
        Some(path) => {
            let store = SqliteStore::open(path)
                .map_err(|error| anyhow::anyhow!("--state {error}"))?
                .with_call_log_limits(args.call_log_size, args.call_log_bytes);
            if store.was_fresh() {
                tracing::info!(
                    "state file {}: new, fixtures loaded into it",
                    path.display()
                );
            } else {
                tracing::info!(
                    "state file {}: taken up as it is (fixtures are not loaded over it)",
                    path.display()
                );
            }
            Some(Arc::new(store))
        }
        None => None,
    };
    let mut builder = AppState::builder()
        .fixtures(fixtures)
        .clock_kind(args.clock)
        .rate_limit_scale(args.rate_limit_scale)
        .call_log_size(args.call_log_size)
        .call_log_bytes(args.call_log_bytes);
    if let Some(start) = &args.clock_start {
        let start_ms =
            parse_instant(start).map_err(|problem| anyhow::anyhow!("--clock-start: {problem}"))?;
        builder = match args.clock {
            ClockKind::Manual => builder.clock(Arc::new(ManualClock::new(start_ms))),
            ClockKind::System => builder.clock(Arc::new(OffsetClock::starting_at(start_ms))),
        };
    }
    if let Some(store) = &durable {
        builder = builder.store(store.clone());
    }
    let state = builder.build().map_err(|error| match &args.fixtures {
        Some(path) => anyhow::anyhow!("--fixtures {}", error.in_file(&path.display().to_string())),
        None => anyhow::anyhow!("{error}"),
    })?;
    if let Some(url) = &args.webhook_url {
        // A state file taken up keeps its apps: the flag still applies to them.
        for mut app in state.store().apps() {
            if app.callback_url.as_deref() != Some(url.as_str()) {
                app.callback_url = Some(url.clone());
                state.store().put_app(app);
            }
        }
    }
    let shutdown = shutdown_signal();
    let address = normalize_addr(&args.addr);
    let listener = tokio::net::TcpListener::bind(address.as_str())
        .await
        .with_context(|| format!("--addr: cannot listen on {address:?}"))?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() && args.admin_token.is_none() {
        anyhow::bail!(
            "--addr {bound} is beyond loopback: anyone who reaches it could mint tokens and reset the mock through /_mock/; give --admin-token TOKEN (or TIKTOK_MOCK_ADMIN_TOKEN)"
        );
    }
    if args.admin_token.as_deref().is_some_and(str::is_empty) {
        anyhow::bail!("--admin-token: the token is empty");
    }
    let base = base_url(bound, args.public_url.as_deref())?;
    state.set_base_url(&base);
    if durable.as_ref().is_some_and(|store| !store.was_fresh()) {
        // A state file taken up: posts that were on their way settle on time again.
        tiktok_mock::content_posting::lifecycle::resume(&state);
    }
    let lines = banner(&state, bound, &base);
    // Written, not println!: a reader that stops early (`| head -1`) must not kill the mock.
    let (human, ready): (Box<dyn std::io::Write>, Option<String>) = if args.ready_json {
        (
            Box::new(std::io::stderr()),
            Some(ready_json(&state, bound, &base)),
        )
    } else {
        (Box::new(std::io::stdout()), None)
    };
    let mut human = human;
    for line in &lines {
        let _ = writeln!(human, "{line}");
    }
    let _ = human.flush();
    if let Some(ready) = ready {
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "{ready}");
        let _ = stdout.flush();
    }
    let options = tiktok_mock::serve::ServeOptions {
        header_timeout: std::time::Duration::from_secs(args.header_timeout),
        body_timeout: std::time::Duration::from_secs(args.body_timeout),
        idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
        max_connections: args
            .max_connections
            .unwrap_or_else(tiktok_mock::serve::default_max_connections)
            .max(1),
        shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace),
    };
    let mut app = router_with_admin_token(state, args.admin_token);
    if let Some(replay) = replay {
        tracing::info!("replaying {} recorded requests", replay.len());
        app = with_replay(app, replay);
    }
    tiktok_mock::serve::serve(listener, app, options, shutdown).await;
    // Every request has been answered, each write committed before its answer; fold the
    // WAL into the file so it stands alone.
    if let Some(store) = &durable {
        store.checkpoint();
    }
    Ok(())
}

/// The human-readable lines printed at start; the first is always `listening on http://HOST:PORT`.
fn banner(state: &AppState, bound: SocketAddr, base: &str) -> Vec<String> {
    let mut lines = vec![format!("listening on http://{bound}")];
    let apps = state.fixtures().apps.clone();
    if let Some(app) = apps.first() {
        lines.push(format!(
            "demo app{}: client_key={} client_secret={}",
            if app.audited { " (audited)" } else { "" },
            app.client_key,
            app.client_secret
        ));
    }
    let tokens = state.demo_tokens();
    let open_id = state.default_open_id().unwrap_or_default();
    lines.push(format!(
        "access token, every user scope (open_id {open_id}): {}",
        tokens.full
    ));
    lines.push(format!(
        "access token, read scopes only: {}",
        tokens.read_only
    ));
    lines.push(format!(
        "try: curl -s '{base}/v2/user/info/?fields=open_id,display_name,follower_count,video_count' -H 'Authorization: Bearer {}'",
        tokens.full
    ));
    for app in apps.iter().skip(1) {
        lines.push(if app.audited {
            format!(
                "another app: client_key={} client_secret={}",
                app.client_key, app.client_secret
            )
        } else {
            format!(
                "unaudited app: client_key={} client_secret={} (direct posts only to private accounts, as SELF_ONLY)",
                app.client_key, app.client_secret
            )
        });
    }
    if let Some(app) = apps.first() {
        let domains = app.verified_domains.join(", ");
        if !domains.is_empty() {
            lines.push(format!(
                "PULL_FROM_URL: verified domains of the demo app: {domains} (and their subdomains)"
            ));
        }
        lines.push(match &app.callback_url {
            Some(url) if !url.is_empty() => format!(
                "webhooks: the demo app's go to {url}; change with --webhook-url URL or POST {base}/_mock/webhooks/callback"
            ),
            _ => format!(
                "webhooks: the demo app has no callback URL; set one with --webhook-url URL or POST {base}/_mock/webhooks/callback"
            ),
        });
    }
    lines.push(format!(
        "control API: {base}/_mock/ (health: {base}/_mock/health; see mock-server/README.md)"
    ));
    lines
}

/// The `--ready-json` line: where the mock is, its apps and the demo tokens.
fn ready_json(state: &AppState, bound: SocketAddr, base: &str) -> String {
    let tokens = state.demo_tokens();
    let open_id = state.default_open_id();
    let scopes = |list: Vec<tiktok_api::Scope>| -> Vec<&'static str> {
        list.iter().map(|scope| scope.as_str()).collect()
    };
    let apps: Vec<serde_json::Value> = state
        .fixtures()
        .apps
        .iter()
        .map(|app| {
            json!({
                "client_key": app.client_key,
                "client_secret": app.client_secret,
                "name": app.name,
                "audited": app.audited,
                "redirect_uris": app.redirect_uris,
                "callback_url": app.callback_url,
                "verified_domains": app.verified_domains,
            })
        })
        .collect();
    json!({
        "url": base,
        "listening": format!("http://{bound}"),
        "control": format!("{base}/_mock/"),
        "health": format!("{base}/_mock/health"),
        "apps": apps,
        "tokens": {
            "full": {"access_token": tokens.full, "open_id": open_id, "scopes": scopes(user_scopes())},
            "read_only": {"access_token": tokens.read_only, "open_id": open_id, "scopes": scopes(read_scopes())},
        },
    })
    .to_string()
}
