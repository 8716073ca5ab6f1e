//! A recording proxy between the generated client and the mock: it forwards every request
//! unchanged and keeps each API answer, so a property can check afterwards that every
//! answer the mock gave during its run (success or error) decodes with the generated
//! client and validates against `generated/openapi.yaml` ([`Tap::check_all`]).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tiktok_api::meta::EndpointMeta;

use crate::{OpenApi, check_answer};

/// One answer as it travelled.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The endpoint of the request's method and path.
    pub endpoint: &'static EndpointMeta,
    /// The HTTP status.
    pub status: u16,
    /// The `x-tt-logid` header, if any.
    pub log_id_header: Option<String>,
    /// The exact body.
    pub body: Bytes,
}

#[derive(Debug)]
struct Shared {
    upstream: String,
    http: reqwest::Client,
    exchanges: Mutex<Vec<Exchange>>,
}

/// The proxy; give the client [`Tap::uri`] as its base URL.
#[derive(Debug, Clone)]
pub struct Tap {
    shared: Arc<Shared>,
    uri: String,
}

impl Tap {
    /// Starts a proxy to `upstream` (the mock's `uri()`) on `127.0.0.1:0`.
    pub async fn start(upstream: &str) -> Tap {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => panic!("cannot bind the tap: {error}"),
        };
        let port = match listener.local_addr() {
            Ok(address) => address.port(),
            Err(error) => panic!("tap address: {error}"),
        };
        let http = match reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(http) => http,
            Err(error) => panic!("tap client: {error}"),
        };
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http,
            exchanges: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(forward).with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Tap {
            shared,
            uri: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The proxy's base URL.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The API answers recorded so far, and forgets them.
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(
            &mut *self
                .shared
                .exchanges
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Checks every API answer recorded since the last call with [`check_answer`], and
    /// that no two share a `log_id`; returns how many were checked.
    pub fn check_all(&self, openapi: &OpenApi) -> Result<usize, String> {
        let exchanges = self.take();
        let mut log_ids = BTreeSet::new();
        for exchange in &exchanges {
            let endpoint = exchange.endpoint;
            let log_id = check_answer(
                openapi,
                endpoint,
                exchange.status,
                exchange.log_id_header.as_deref(),
                &exchange.body,
            )
            .map_err(|problem| {
                format!(
                    "{} {} answered HTTP {}: {problem}",
                    endpoint.method.as_str(),
                    endpoint.path,
                    exchange.status
                )
            })?;
            if !log_ids.insert(log_id.clone()) {
                return Err(format!("log_id {log_id} came twice"));
            }
        }
        Ok(exchanges.len())
    }
}

fn bad_gateway(message: String) -> Response {
    (StatusCode::BAD_GATEWAY, message).into_response()
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |value| value.as_str())
        .to_owned();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => return bad_gateway(format!("tap: reading the request: {error}")),
    };
    let mut headers = parts.headers.clone();
    headers.remove(axum::http::header::HOST);
    let sent = shared
        .http
        .request(
            parts.method.clone(),
            format!("{}{path_and_query}", shared.upstream),
        )
        .headers(headers)
        .body(body)
        .send()
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(error) => return bad_gateway(format!("tap: {error}")),
    };
    let status = answer.status();
    let mut headers: HeaderMap = answer.headers().clone();
    let bytes = match answer.bytes().await {
        Ok(bytes) => bytes,
        Err(error) => return bad_gateway(format!("tap: reading the answer: {error}")),
    };
    let path = parts.uri.path();
    if let Some(endpoint) = tiktok_api::ENDPOINTS
        .iter()
        .copied()
        .find(|endpoint| endpoint.path == path && endpoint.method.as_str() == parts.method.as_str())
    {
        shared
            .exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Exchange {
                endpoint,
                status: status.as_u16(),
                log_id_header: headers
                    .get("x-tt-logid")
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned),
                body: bytes.clone(),
            });
    }
    headers.remove(axum::http::header::CONTENT_LENGTH);
    headers.remove(axum::http::header::TRANSFER_ENCODING);
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Panics unless every API answer `tap` recorded passes [`Tap::check_all`], and there
/// was at least one.
pub fn assert_conforms(tap: &Tap) {
    match tap.check_all(&OpenApi::load()) {
        Ok(0) => panic!("the tap recorded no API answer: is the client pointed at it?"),
        Ok(_) => {}
        Err(problem) => panic!("an answer off the document: {problem}"),
    }
}
