//! `tiktok-mock`: serves the mock TikTok v2 API; reads flags, prints the demo credentials, serves.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tiktok_mock::{AppState, ClockKind, Fixtures, router};
use tracing_subscriber::EnvFilter;

/// A mock of the TikTok v2 API for integration tests: same paths, envelopes, errors,
/// scopes and rate limits, with embedded demo data and a control API under /_mock/.
#[derive(Debug, Parser)]
#[command(name = "tiktok-mock", version)]
struct Args {
    /// Address to listen on, HOST:PORT; ":0" or a port of 0 picks a free port on 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Load apps, creators, videos and comments from this YAML file instead of the demo data
    /// (same format as mock-server/demo.yaml).
    #[arg(long, value_name = "FILE.yaml")]
    fixtures: Option<PathBuf>,
    /// Multiply every spec rate limit by F (e.g. 100 for load tests); default 1.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    rate_limit_scale: f64,
    /// The clock: the system's, or a manual one advanced with POST /_mock/clock/advance.
    #[arg(long, value_enum, default_value_t = ClockKind::System)]
    clock: ClockKind,
    /// Deliver every app's webhooks to this URL (overrides the fixtures' callback_url).
    #[arg(long, value_name = "URL")]
    webhook_url: Option<String>,
    /// Give the first creator N more generated videos at start-up (one a minute back in
    /// time, no comments), to try the mock at scale.
    #[arg(long, value_name = "N", default_value_t = 0)]
    synthetic_videos: u64,
    /// Print one line per API call on stderr (the same as RUST_LOG=tiktok_mock::calls=info).
    #[arg(long)]
    log_calls: bool,
}

/// `:PORT` means 127.0.0.1:PORT; anything else is HOST:PORT (a name or an IP).
fn normalize_addr(text: &str) -> String {
    match text.strip_prefix(':') {
        Some(port) => format!("127.0.0.1:{port}"),
        None => text.to_owned(),
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
            Fixtures::from_yaml(&text).with_context(|| format!("--fixtures: {}", path.display()))?
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
    let state = AppState::builder()
        .fixtures(fixtures)
        .clock_kind(args.clock)
        .rate_limit_scale(args.rate_limit_scale)
        .build()?;
    let address = normalize_addr(&args.addr);
    let listener = tokio::net::TcpListener::bind(address.as_str())
        .await
        .with_context(|| format!("--addr: cannot listen on {address:?}"))?;
    let address = listener.local_addr()?;
    let base = format!("http://{address}");
    state.set_base_url(&base);
    println!("listening on {base}");
    if let Some(app) = state.store().apps().into_iter().next() {
        println!(
            "demo app: client_key={} client_secret={}",
            app.client_key, app.client_secret
        );
    }
    let tokens = state.demo_tokens();
    let open_id = state.default_open_id().unwrap_or_default();
    println!(
        "access token, every user scope (open_id {open_id}): {}",
        tokens.full
    );
    println!("access token, read scopes only: {}", tokens.read_only);
    println!(
        "try: curl -s '{base}/v2/user/info/?fields=open_id,display_name,follower_count,video_count' -H 'Authorization: Bearer {}'",
        tokens.full
    );
    println!("control API: {base}/_mock/ (see mock-server/README.md)");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
