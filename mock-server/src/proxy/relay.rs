//! A call's way through the proxy: the request read (buffered up to the mock's body limit,
//! streamed beyond it and for uploads), checked, forwarded with reqwest, its answer read,
//! seen whole by the [`Ledger`], and sent back as it came.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use futures::StreamExt;
use tiktok_api::ENDPOINTS;
use tiktok_api::meta::{EndpointMeta, Envelope};

use crate::clock::system_now_ms;
use crate::error::ApiError;
use crate::logid::new_log_id;
use crate::pipeline::MAX_BODY_BYTES;
use crate::proxy::answers::Verdict;
use crate::proxy::config::{ProxyConfig, UPLOAD_PREFIX};
use crate::proxy::forward::{
    Answer, Buffered, MAX_CHECKED_ANSWER, bad_gateway, bearer, buffer, failure_words, forwardable,
    read_answer, respond,
};
use crate::proxy::ledger::{CallFacts, Exchange, Ledger, hash};
use crate::proxy::record::Recorder;
use crate::proxy::report::{Finding, Kind, Report};

/// A proxy's shared state: the upstream client, the report, what it learned on the way.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    config: ProxyConfig,
    client: reqwest::Client,
    ledger: Ledger,
    /// Where each exchange is recorded (`--record`), if anywhere.
    recorder: Option<Recorder>,
}

impl Proxy {
    /// A proxy forwarding to `config.upstream`, reached by apps at `base_url` (where the
    /// rewritten upload URLs point).
    pub fn new(config: ProxyConfig, base_url: &str) -> Result<Proxy, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        let report = Arc::new(Report::new(&config.upstream));
        let recorder = config.record.as_deref().map(Recorder::create).transpose()?;
        Ok(Proxy {
            inner: Arc::new(Inner {
                config,
                client,
                ledger: Ledger::new(report, base_url),
                recorder,
            }),
        })
    }

    /// The report this proxy fills.
    pub fn report(&self) -> &Arc<Report> {
        self.inner.ledger.report()
    }

    /// Where the report is written, if anywhere.
    pub fn report_path(&self) -> Option<&std::path::Path> {
        self.inner.config.report.as_deref()
    }

    /// The proxy's routes: the upload host's under [`UPLOAD_PREFIX`], every other path
    /// forwarded to the upstream.
    pub fn router(&self) -> Router {
        Router::new()
            .fallback(|State(proxy): State<Proxy>, request: Request| async move {
                if request.uri().path().starts_with(UPLOAD_PREFIX) {
                    proxy.upload(request).await
                } else {
                    proxy.api(request).await
                }
            })
            .with_state(self.clone())
    }

    /// One API call: checked, forwarded, its answer checked and sent back as it came.
    async fn api(&self, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path();
        let endpoint: Option<&'static EndpointMeta> = ENDPOINTS
            .iter()
            .copied()
            .find(|endpoint| endpoint.path == path && endpoint.method.as_str() == parts.method);
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or(path, |path_and_query| path_and_query.as_str())
            .to_owned();
        if endpoint.is_none() {
            self.inner.ledger.add(Finding {
                kind: Kind::UnknownEndpoint,
                route: format!("{} {}", parts.method, crate::validate::truncate(path)),
                endpoint: None,
                spec: None,
                detail: "the spec has no endpoint with this method and path".to_owned(),
            });
        }
        let envelope = endpoint.map_or(Envelope::V2, |endpoint| endpoint.envelope);
        let had_body = parts.headers.contains_key(header::CONTENT_LENGTH)
            || parts.headers.contains_key(header::TRANSFER_ENCODING);
        let (request_body, upstream_body) = match buffer(body, MAX_BODY_BYTES).await {
            Buffered::Whole(bytes) => {
                let upstream =
                    (had_body || !bytes.is_empty()).then(|| reqwest::Body::from(bytes.clone()));
                (Some(bytes), upstream)
            }
            Buffered::Over(head, rest) => {
                let stream = futures::stream::iter(head.into_iter().map(Ok)).chain(rest);
                (None, Some(reqwest::Body::wrap_stream(stream)))
            }
            Buffered::Failed => {
                return ApiError::InvalidParams("The request body could not be read.".to_owned())
                    .render(envelope, &new_log_id(system_now_ms()));
            }
        };
        let token = bearer(&parts.headers).map(|token| hash(&[token.as_bytes()]));
        let mut call = CallFacts::default();
        if let Some(endpoint) = endpoint {
            call = self.inner.ledger.before(
                endpoint,
                &parts.uri,
                &parts.headers,
                request_body.as_deref(),
                token,
            );
        }

        let url = format!(
            "{}{}",
            self.inner.config.upstream.as_str().trim_end_matches('/'),
            path_and_query
        );
        let keep_length = request_body.is_none();
        let mut upstream = self
            .inner
            .client
            .request(parts.method.clone(), url)
            .headers(forwardable(&parts.headers, keep_length));
        if let Some(body) = upstream_body {
            upstream = upstream.body(body);
        }
        let route = match endpoint {
            Some(endpoint) => format!("{} {}", endpoint.method.as_str(), endpoint.path),
            None => format!("{} {}", parts.method, crate::validate::truncate(path)),
        };
        let seen = Seen {
            endpoint,
            method: &parts.method,
            path_and_query: &path_and_query,
            headers: &parts.headers,
            body: request_body.as_deref(),
            route: &route,
        };
        let response = match upstream.send().await {
            Ok(response) => response,
            Err(error) => return self.no_answer(&seen, &call, &failure_words(&error)),
        };
        self.relay(&seen, &call, response).await
    }

    /// Reads the upstream's answer, has [`Proxy::observe`] see the exchange whole, and
    /// sends the answer on as it came (cut short if it was, streamed if it is large).
    async fn relay(
        &self,
        seen: &Seen<'_>,
        call: &CallFacts,
        response: reqwest::Response,
    ) -> Response {
        let status = response.status();
        let headers = response.headers().clone();
        match read_answer(response).await {
            Answer::Whole(bytes) => {
                let verdict = self.observe(
                    &Exchange {
                        endpoint: seen.endpoint,
                        method: seen.method,
                        path_and_query: seen.path_and_query,
                        request_headers: seen.headers,
                        request_body: seen.body,
                        answer: Some((status, &headers, &bytes)),
                    },
                    call,
                );
                let bytes = match (seen.endpoint, verdict) {
                    (Some(endpoint), Some(verdict)) if verdict.ok() => self
                        .inner
                        .ledger
                        .rewrite_upload_urls(endpoint, &verdict, &headers, bytes, call.plan),
                    _ => bytes,
                };
                respond(status, &headers, Body::from(bytes))
            }
            Answer::Cut(bytes, words) => {
                self.upstream_failure(seen, &format!("{words}, after {} bytes", bytes.len()));
                self.inner.ledger.report().exchange(false);
                let failure = std::io::Error::other("the upstream cut its answer short");
                let stream = futures::stream::iter([Ok(bytes), Err(failure)]);
                respond(status, &headers, Body::from_stream(stream))
            }
            Answer::Large(head, rest) => {
                tracing::info!(target: "tiktok_mock::proxy", "{}: an answer over {MAX_CHECKED_ANSWER} bytes, forwarded unchecked", seen.route);
                self.inner.ledger.report().exchange(false);
                let stream =
                    futures::stream::iter(head.into_iter().map(Ok)).chain(rest.bytes_stream());
                respond(status, &headers, Body::from_stream(stream))
            }
        }
    }

    /// An exchange seen whole: recorded (`--record`), then observed by the [`Ledger`].
    fn observe(&self, exchange: &Exchange<'_>, call: &CallFacts) -> Option<Verdict> {
        if let Some(recorder) = &self.inner.recorder {
            recorder.record(exchange);
        }
        self.inner.ledger.observe(exchange, call)
    }

    /// No answer, or half of one: a finding, and the exchange seen without its answer.
    fn no_answer(&self, seen: &Seen<'_>, call: &CallFacts, words: &str) -> Response {
        self.upstream_failure(seen, words);
        self.observe(
            &Exchange {
                endpoint: seen.endpoint,
                method: seen.method,
                path_and_query: seen.path_and_query,
                request_headers: seen.headers,
                request_body: seen.body,
                answer: None,
            },
            call,
        );
        bad_gateway(
            seen.endpoint
                .map_or(Envelope::V2, |endpoint| endpoint.envelope),
            words,
        )
    }

    fn upstream_failure(&self, seen: &Seen<'_>, words: &str) {
        let finding = match seen.endpoint {
            Some(endpoint) => Finding::at(
                endpoint,
                Kind::UpstreamFailure,
                &format!("endpoint:{}", endpoint.id),
                words,
            ),
            None => Finding {
                kind: Kind::UpstreamFailure,
                route: seen.route.to_owned(),
                endpoint: None,
                spec: None,
                detail: words.to_owned(),
            },
        };
        self.inner.ledger.add(finding);
    }

    /// A call to the upload host: streamed both ways, never held whole.
    async fn upload(&self, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let rest = parts
            .uri
            .path()
            .strip_prefix(UPLOAD_PREFIX)
            .unwrap_or_default();
        let (index, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let origin = index
            .parse::<usize>()
            .ok()
            .and_then(|index| self.inner.ledger.upload_origin(index));
        let Some(origin) = origin else {
            return ApiError::UnsupportedPath.render(Envelope::V2, &new_log_id(system_now_ms()));
        };
        let query = parts
            .uri
            .query()
            .map(|query| format!("?{query}"))
            .unwrap_or_default();
        let chunk = index.parse::<usize>().ok().and_then(|index| {
            let content_range = parts
                .headers
                .get(header::CONTENT_RANGE)
                .and_then(|value| value.to_str().ok());
            self.inner
                .ledger
                .check_chunk(index, &format!("{path}{query}"), content_range)
        });
        let url = format!("{origin}{path}{query}");
        let upstream = self
            .inner
            .client
            .request(parts.method.clone(), url)
            .headers(forwardable(&parts.headers, true))
            .body(reqwest::Body::wrap_stream(body.into_data_stream()));
        let route = format!("{} (upload host)", parts.method);
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("", |path_and_query| path_and_query.as_str());
        let seen = Seen {
            endpoint: None,
            method: &parts.method,
            path_and_query,
            headers: &parts.headers,
            body: None,
            route: &route,
        };
        let call = CallFacts::default();
        match upstream.send().await {
            Ok(response) => {
                let answer = self.relay(&seen, &call, response).await;
                if let Some(chunk) = chunk.filter(|_| answer.status().is_success()) {
                    self.inner.ledger.chunk_done(chunk);
                }
                answer
            }
            Err(error) => self.no_answer(&seen, &call, &failure_words(&error)),
        }
    }
}

/// The request as the proxy forwarded it (its body, when buffered), for [`Proxy::relay`].
struct Seen<'a> {
    endpoint: Option<&'static EndpointMeta>,
    method: &'a Method,
    path_and_query: &'a str,
    headers: &'a HeaderMap,
    body: Option<&'a [u8]>,
    /// `METHOD /path/` (the upload host's: `PUT (upload host)`), for findings and logs.
    route: &'a str,
}
