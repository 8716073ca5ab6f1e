//! A small web app: log in with TikTok (PKCE and state), keep the tokens in a file store,
//! and show the user's profile. Against the mock:
//!
//! ```sh
//! TIKTOK_API_BASE_URL=http://127.0.0.1:8080 TIKTOK_CLIENT_KEY=… TIKTOK_CLIENT_SECRET=… \
//!     cargo run -p tiktok-api --example oauth_app -- --port 3000 [--store tokens.json]
//! ```
//!
//! The redirect URI is `http://localhost:PORT/auth/callback`, which the mock's demo app
//! has registered for port 3000 (the default): with the credentials the mock prints, the
//! login works as is. Elsewhere register it for the app.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use parking_lot::Mutex;
use tiktok_api::oauth::Pkce;
use tiktok_api::{Client, FileTokenStore, Scope, TokenStore, UserField};

/// The app's state: the client, the token store, logins in flight, who is logged in.
#[derive(Clone)]
pub struct App {
    client: Client,
    store: Arc<FileTokenStore>,
    redirect_uri: String,
    /// state → PKCE verifier of logins in flight.
    pending: Arc<Mutex<HashMap<String, Pkce>>>,
    /// The user who logged in last (a real app keeps this in a session cookie).
    current: Arc<Mutex<Option<String>>>,
}

impl App {
    /// An app for `client` (with credentials), keeping tokens in `store_path`, reachable at
    /// `address`.
    pub fn new(client: Client, store_path: PathBuf, address: SocketAddr) -> Self {
        App {
            client,
            store: Arc::new(FileTokenStore::new(store_path)),
            redirect_uri: format!("http://localhost:{}/auth/callback", address.port()),
            pending: Arc::default(),
            current: Arc::default(),
        }
    }

    /// The routes: `/`, `/login`, `/auth/callback`.
    pub fn router(self) -> Router {
        Router::new()
            .route("/", get(home))
            .route("/login", get(login))
            .route("/auth/callback", get(callback))
            .with_state(self)
    }
}

fn page(body: String) -> Html<String> {
    Html(format!(
        "<!doctype html><title>TikTok login</title><body>{body}</body>"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn home(State(app): State<App>) -> Response {
    let Some(open_id) = app.current.lock().clone() else {
        return page("<a href=\"/login\">Log in with TikTok</a>".into()).into_response();
    };
    let user = app
        .client
        .user(app.store.clone() as Arc<dyn TokenStore>, open_id);
    match user
        .user_info(&[
            UserField::OpenId,
            UserField::DisplayName,
            UserField::AvatarUrl,
        ])
        .await
    {
        Ok(me) => page(format!(
            "<p>Logged in as <b>{}</b> ({})</p>",
            escape(me.user.display_name.as_deref().unwrap_or("?")),
            escape(me.user.open_id.as_deref().unwrap_or("?"))
        ))
        .into_response(),
        Err(error) => page(format!(
            "<p>{}</p><a href=\"/login\">Log in again</a>",
            escape(&error.to_string())
        ))
        .into_response(),
    }
}

async fn login(State(app): State<App>) -> Response {
    let pkce = Pkce::generate();
    let state = Pkce::generate().verifier()[..32].to_string();
    let url = match app.client.authorize_url(&app.redirect_uri) {
        Ok(url) => url
            .scopes(&[Scope::UserInfoBasic])
            .state(&state)
            .pkce(&pkce)
            .build(),
        Err(error) => return page(escape(&error.to_string())).into_response(),
    };
    let mut pending = app.pending.lock();
    // Logins never finished are dropped past a bound, so the map cannot grow forever.
    if pending.len() >= 1000 {
        pending.clear();
    }
    pending.insert(state, pkce);
    drop(pending);
    Redirect::to(&url).into_response()
}

async fn callback(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (Some(code), Some(state)) = (query.get("code"), query.get("state")) else {
        let error = query.get("error").map_or("no code", String::as_str);
        return page(format!("<p>Login failed: {}</p>", escape(error))).into_response();
    };
    let Some(pkce) = app.pending.lock().remove(state) else {
        return page("<p>Unknown or used state.</p>".into()).into_response();
    };
    match app
        .client
        .connect_user(
            app.store.clone(),
            code,
            &app.redirect_uri,
            Some(pkce.verifier()),
        )
        .await
    {
        Ok(user) => {
            *app.current.lock() = Some(user.open_id().to_string());
            Redirect::to("/").into_response()
        }
        Err(error) => page(format!(
            "<p>Login failed: {}</p>",
            escape(&error.to_string())
        ))
        .into_response(),
    }
}

/// Prints an error as a sentence and exits with 1.
#[allow(dead_code)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match start().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[allow(dead_code)]
async fn start() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut port = 3000u16;
    let mut store = PathBuf::from("tokens.json");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("--port needs a number")?.parse()?,
            "--store" => store = args.next().ok_or("--store needs a path")?.into(),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: [--port P] [--store FILE]"
                )
                .into());
            }
        }
    }
    let key = std::env::var("TIKTOK_CLIENT_KEY").map_err(|_| "set TIKTOK_CLIENT_KEY")?;
    let secret = std::env::var("TIKTOK_CLIENT_SECRET").map_err(|_| "set TIKTOK_CLIENT_SECRET")?;
    let mut builder = Client::builder().credentials(key, secret);
    if let Ok(base_url) = std::env::var("TIKTOK_API_BASE_URL") {
        builder = builder.base_url(base_url);
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    println!("listening on http://localhost:{}", address.port());
    let app = App::new(builder.build()?, store, address);
    axum::serve(listener, app.router()).await?;
    Ok(())
}
