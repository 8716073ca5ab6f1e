//! A closed-loop HTTP/1.1 load generator on hyper: each connection sends the same request
//! again as soon as the answer is read, on one thread, like `wrk -t1 -cN`. The fallback
//! when `wrk` cannot be installed; `cargo xtask bench --load-generator builtin` uses it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Serialize;

/// What to send, how hard and for how long.
pub struct Plan {
    pub url: String,
    pub method: String,
    pub headers: Vec<String>,
    pub body: Option<String>,
    pub connections: usize,
    pub duration: Duration,
}

/// Requests per second and latency percentiles, as the xtask reads them from `wrk`.
#[derive(Serialize)]
pub struct Report {
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

pub async fn run(plan: Plan) -> anyhow::Result<Report> {
    let uri: hyper::Uri = plan.url.parse()?;
    let authority = uri
        .authority()
        .ok_or_else(|| anyhow::anyhow!("{}: no host", plan.url))?
        .clone();
    let path = uri
        .path_and_query()
        .map_or("/".to_owned(), |path| path.as_str().to_owned());
    let method = hyper::Method::from_bytes(plan.method.as_bytes())?;
    let mut headers = Vec::new();
    for header in &plan.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("header {header:?}: expected `Name: value`"))?;
        headers.push((
            hyper::header::HeaderName::from_bytes(name.trim().as_bytes())?,
            hyper::header::HeaderValue::from_str(value.trim())?,
        ));
    }
    let body = Bytes::from(plan.body.clone().unwrap_or_default());
    let local = tokio::task::LocalSet::new();
    let deadline = Instant::now() + plan.duration;
    let started = Instant::now();
    let results = local
        .run_until(async {
            let mut tasks = Vec::new();
            for _ in 0..plan.connections.max(1) {
                let (authority, path, method, headers, body) = (
                    authority.clone(),
                    path.clone(),
                    method.clone(),
                    headers.clone(),
                    body.clone(),
                );
                tasks.push(tokio::task::spawn_local(async move {
                    connection(authority, path, method, headers, body, deadline).await
                }));
            }
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await?);
            }
            anyhow::Ok(results)
        })
        .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies: Vec<u32> = Vec::new();
    let mut errors = 0;
    for result in results {
        let (connection_latencies, connection_errors) = result?;
        latencies.extend(connection_latencies);
        errors += connection_errors;
    }
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let index = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        f64::from(latencies[index]) / 1000.0
    };
    let requests = latencies.len() as u64;
    Ok(Report {
        requests,
        errors,
        rps: requests as f64 / elapsed,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
    })
}

/// One connection's loop: latencies in microseconds, and answers outside 2xx.
async fn connection(
    authority: hyper::http::uri::Authority,
    path: String,
    method: hyper::Method,
    headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
    body: Bytes,
    deadline: Instant,
) -> anyhow::Result<(Vec<u32>, u64)> {
    let stream = tokio::net::TcpStream::connect(authority.as_str()).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::task::spawn_local(connection);
    let mut latencies = Vec::new();
    let mut errors = 0;
    while Instant::now() < deadline {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path.as_str())
            .header(hyper::header::HOST, authority.as_str());
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(body.clone()))?;
        let start = Instant::now();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let ok = response.status().is_success();
        response.into_body().collect().await?;
        latencies.push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
        if !ok {
            errors += 1;
        }
    }
    Ok((latencies, errors))
}
