//! A checking proxy between the generated client and the mock: it forwards every request
//! unchanged and checks each API answer as it passes with [`check_answer`] (the generated
//! client decodes it, `generated/openapi.yaml` documents its status and body, errors carry
//! a catalog code and a `log_id`, no `log_id` repeats), keeping only the count and the
//! problems, so a long run costs no memory per answer. A property asks afterwards whether
//! every answer the mock gave during its run conformed ([`Tap::check_all`]).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::{OpenApi, check_answer};

/// Problems kept at most (the first ones; the count goes on).
const MAX_PROBLEMS: usize = 20;

/// What the tap saw.
#[derive(Debug, Default)]
struct Report {
    /// Answers checked since the start.
    checked: usize,
    /// Problems since the last [`Tap::check_all`].
    problems: Vec<String>,
    /// Every `log_id` of the run, to find a repeat.
    log_ids: HashSet<String>,
}

#[derive(Debug)]
struct Shared {
    upstream: String,
    http: reqwest::Client,
    openapi: OpenApi,
    report: Mutex<Report>,
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
            openapi: OpenApi::load(),
            report: Mutex::new(Report::default()),
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

    /// How many API answers went through so far, or the problems found since the last
    /// call (the first few).
    pub fn check_all(&self) -> Result<usize, String> {
        let mut report = self
            .shared
            .report
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let checked = report.checked;
        let problems = std::mem::take(&mut report.problems);
        if problems.is_empty() {
            Ok(checked)
        } else {
            Err(problems.join("\n"))
        }
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
        let header = headers
            .get("x-tt-logid")
            .and_then(|value| value.to_str().ok());
        let verdict = check_answer(&shared.openapi, endpoint, status.as_u16(), header, &bytes);
        let mut report = shared.report.lock().unwrap_or_else(PoisonError::into_inner);
        report.checked += 1;
        let problem = match verdict {
            Ok(log_id) if report.log_ids.insert(log_id.clone()) => None,
            Ok(log_id) => Some(format!("log_id {log_id} came twice")),
            Err(problem) => Some(problem),
        };
        if let Some(problem) = problem
            && report.problems.len() < MAX_PROBLEMS
        {
            report.problems.push(format!(
                "{} {} answered HTTP {}: {problem}",
                endpoint.method.as_str(),
                endpoint.path,
                status.as_u16()
            ));
        }
    }
    headers.remove(axum::http::header::CONTENT_LENGTH);
    headers.remove(axum::http::header::TRANSFER_ENCODING);
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Panics unless every API answer through `tap` passed [`Tap::check_all`], and there was
/// at least one.
pub fn assert_conforms(tap: &Tap) {
    match tap.check_all() {
        Ok(0) => panic!("the tap recorded no API answer: is the client pointed at it?"),
        Ok(_) => {}
        Err(problem) => panic!("an answer off the document: {problem}"),
    }
}
