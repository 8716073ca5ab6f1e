//! Receives TikTok webhooks on `http://127.0.0.1:PORT/webhooks/tiktok`: verifies each
//! delivery's `TikTok-Signature`, drops duplicates and prints one line per new event.
//!
//! ```sh
//! cargo run -p tiktok-mock     # its demo app calls back to http://localhost:3000/webhooks/tiktok
//! cargo run -p tiktok-api --features webhook-receiver --example receive_webhooks -- --port 3000
//! ```
//!
//! The client secret comes from `--client-secret`, else `TIKTOK_CLIENT_SECRET` (the mock
//! prints its demo app's); without one the example refuses to start rather than accept
//! deliveries it cannot verify.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use clap::Parser;
use tiktok_api::webhook::Verifier;
use tiktok_api::webhook::receiver::{WebhookEvent, WebhookReceiver};
use tokio::net::TcpListener;

/// The path the receiver serves; the mock's demo app's callback URL ends with it.
pub const PATH: &str = "/webhooks/tiktok";

/// Receives TikTok webhooks: verifies each delivery, drops duplicates, prints one line per event.
#[derive(Debug, Parser)]
struct Args {
    /// Port to listen on, on 127.0.0.1 (0 picks a free one). The mock's demo app calls back to 3000.
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// The app's client secret (else TIKTOK_CLIENT_SECRET).
    #[arg(long)]
    client_secret: Option<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let Some(client_secret) = args
        .client_secret
        .or_else(|| std::env::var("TIKTOK_CLIENT_SECRET").ok())
    else {
        eprintln!(
            "error: set --client-secret or TIKTOK_CLIENT_SECRET (the mock prints its demo app's)"
        );
        std::process::exit(2);
    };
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    run(listener, &client_secret, std::io::stdout()).await
}

/// Serves the receiver on `listener` until the process ends, writing `listening on URL`
/// first and then one line per verified, first-seen event to `out`.
pub async fn run(
    listener: TcpListener,
    client_secret: &str,
    out: impl Write + Send + 'static,
) -> std::io::Result<()> {
    let out = Arc::new(Mutex::new(out));
    writeln!(
        lock(&out),
        "listening on http://{}{PATH}",
        listener.local_addr()?
    )?;
    let printer = out.clone();
    let receiver =
        WebhookReceiver::new(Verifier::new(client_secret), move |event: WebhookEvent| {
            let printer = printer.clone();
            async move {
                let mut out = lock(&printer);
                writeln!(out, "{}", describe(&event))?;
                out.flush()
            }
        });
    let app = axum::Router::new().route(PATH, receiver.method_router());
    axum::serve(listener, app).await
}

/// One line: event, time, user, content.
pub fn describe(event: &WebhookEvent) -> String {
    let payload = &event.payload;
    format!(
        "{} create_time={} user_openid={} {:?}",
        payload.event,
        payload.create_time,
        payload.user_openid.as_deref().unwrap_or("-"),
        event.content
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
