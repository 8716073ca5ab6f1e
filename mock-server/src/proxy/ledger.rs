//! What the proxy learns on the way and checks each exchange against: the request checks,
//! the answer checks, the rate limit as the app uses it and as the upstream enforces it,
//! writes that succeeded, tokens minted through the proxy (by hash: never kept in clear)
//! and the origins of rewritten upload URLs. [`Ledger::observe`] is the one place each
//! exchange is seen whole (the relay records it just before, `--record`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, header};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tiktok_api::meta::{Access, EndpointMeta, Envelope};
use tiktok_api::rate_limit::SlidingWindow;
use tiktok_api::{ChunkPlan, ErrorCode, Scope};

use crate::proxy::answers::{Verdict, check_answer, secret_urls};
use crate::proxy::config::UPLOAD_PREFIX;
use crate::proxy::forward::MAX_CHECKED_ANSWER;
use crate::proxy::report::{Finding, Kind, Report};
use crate::proxy::requests::check_request;

/// How many successful writes the proxy remembers to spot one sent twice.
const REMEMBERED_WRITES: usize = 10_000;

/// One exchange as the proxy saw it whole: the request and what came back (or why nothing
/// did). Seen by [`Ledger::observe`], recorded (`--record`) by `crate::proxy::record`.
#[derive(Debug)]
pub struct Exchange<'a> {
    /// The spec's endpoint, if the route is one.
    pub endpoint: Option<&'static EndpointMeta>,
    /// The request's method.
    pub method: &'a Method,
    /// The request's path and query, as sent: an upload's carries its upload token, and
    /// the headers the bearer token, so whatever keeps an exchange must redact them
    /// (`crate::redact`).
    pub path_and_query: &'a str,
    /// The request's headers, as sent.
    pub request_headers: &'a HeaderMap,
    /// The request's body, when it was buffered (API calls up to the mock's body limit).
    pub request_body: Option<&'a [u8]>,
    /// The upstream's status, headers and whole body; `None` when no whole answer came.
    pub answer: Option<(StatusCode, &'a HeaderMap, &'a [u8])>,
}

/// Hashes of the writes that succeeded: a set, and the same hashes oldest first.
type RememberedWrites = (HashSet<[u8; 32]>, VecDeque<[u8; 32]>);

/// SHA-256 of the parts, each prefixed by its length.
pub fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// What the request side learned of a call, for checking its answer.
#[derive(Debug, Default)]
pub struct CallFacts {
    /// Whether the call fit the spec's rate limit (`None`: not counted).
    pub within_rate_limit: Option<bool>,
    /// The hash of a write, to remember once it succeeds.
    pub write: Option<[u8; 32]>,
    /// The page size the request asked for.
    pub max_count: Option<u64>,
    /// The chunk plan of a `FILE_UPLOAD` init, for its upload URL.
    pub plan: Option<ChunkPlan>,
}

/// An upload URL handed out: its init's endpoint, its plan, the chunks that succeeded.
struct Upload {
    endpoint: &'static EndpointMeta,
    plan: ChunkPlan,
    done: HashSet<u64>,
}

/// A chunk on its way: the upload's key and the chunk's index, to mark when it succeeds.
pub type ChunkKey = ([u8; 32], u64);

/// How many upload URLs the proxy remembers (then it starts afresh).
const REMEMBERED_UPLOADS: usize = 10_000;

/// The plan a `FILE_UPLOAD` init announces in its `source_info`.
fn file_upload_plan(value: &serde_json::Value) -> Option<ChunkPlan> {
    let source = value.get("source_info")?;
    if source.get("source")?.as_str()? != "FILE_UPLOAD" {
        return None;
    }
    let size = |name: &str| source.get(name).and_then(serde_json::Value::as_u64);
    Some(ChunkPlan {
        video_size: size("video_size")?,
        chunk_size: size("chunk_size")?.max(1),
        total_chunk_count: size("total_chunk_count")?,
    })
}

/// `bytes FIRST-LAST/TOTAL`.
fn parse_content_range(text: &str) -> Option<(u64, u64, u64)> {
    let (range, total) = text.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    Some((
        first.trim().parse().ok()?,
        last.trim().parse().ok()?,
        total.trim().parse().ok()?,
    ))
}

/// The proxy's memory of a run, and the report it fills.
pub struct Ledger {
    base_url: String,
    report: Arc<Report>,
    /// Scopes of tokens seen minted, by the token's hash.
    tokens: Mutex<HashMap<[u8; 32], Vec<Scope>>>,
    /// The app's calls per (token hash, endpoint) in a sliding window.
    windows: Mutex<HashMap<([u8; 32], &'static str), SlidingWindow>>,
    /// Hashes of writes that succeeded, oldest first.
    writes: Mutex<RememberedWrites>,
    /// Origins of the upload URLs rewritten, by index.
    upload_origins: Mutex<Vec<String>>,
    /// Upload URLs handed out, by the hash of (origin index, path and query).
    uploads: Mutex<HashMap<[u8; 32], Upload>>,
}

impl Ledger {
    /// An empty ledger filling `report`, for a proxy apps reach at `base_url`.
    pub fn new(report: Arc<Report>, base_url: &str) -> Ledger {
        Ledger {
            base_url: base_url.trim_end_matches('/').to_owned(),
            report,
            tokens: Mutex::default(),
            windows: Mutex::default(),
            writes: Mutex::default(),
            upload_origins: Mutex::default(),
            uploads: Mutex::default(),
        }
    }

    /// The report.
    pub fn report(&self) -> &Arc<Report> {
        &self.report
    }

    /// Counts and logs a finding.
    pub fn add(&self, finding: Finding) {
        self.report.add(finding);
    }

    /// The origin of the rewritten upload URLs numbered `index`.
    pub fn upload_origin(&self, index: usize) -> Option<String> {
        self.upload_origins.lock().get(index).cloned()
    }
}

impl Ledger {
    /// The request side: the mock's checks, the rate limit as the app uses it, a write sent
    /// twice.
    pub fn before(
        &self,
        endpoint: &'static EndpointMeta,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
        body: Option<&[u8]>,
        token: Option<[u8; 32]>,
    ) -> CallFacts {
        let scopes = token.and_then(|token| self.tokens.lock().get(&token).cloned());
        let (findings, value) =
            check_request(endpoint, uri.query(), headers, body, scopes.as_deref());
        for finding in findings {
            self.add(finding);
        }
        let mut facts = CallFacts {
            max_count: value
                .as_ref()
                .and_then(|value| value.get("max_count"))
                .and_then(serde_json::Value::as_u64),
            plan: value.as_ref().and_then(file_upload_plan),
            ..CallFacts::default()
        };
        if let Some(token) = token
            && endpoint.rate_limit.documented
        {
            let limit = endpoint.rate_limit.per_minute;
            let window = Duration::from_secs(u64::from(endpoint.rate_limit.window_seconds.max(1)));
            let now = Instant::now();
            let mut windows = self.windows.lock();
            let calls = windows.entry((token, endpoint.id)).or_default();
            let within = calls.wait(now, limit, window).is_none();
            calls.record(now);
            drop(windows);
            facts.within_rate_limit = Some(within);
            if !within {
                self.add(Finding::at(
                    endpoint,
                    Kind::RateLimitExceeded,
                    &format!("endpoint:{}.rate_limit", endpoint.id),
                    format!(
                        "more than {limit} calls in {} s with one access token",
                        window.as_secs()
                    ),
                ));
            }
        }
        if endpoint.access == Access::Write
            && let Some(body) = body
        {
            let token_bytes = token.unwrap_or_default();
            let key = hash(&[endpoint.id.as_bytes(), &token_bytes, body]);
            if self.writes.lock().0.contains(&key) {
                self.add(Finding::at(
                    endpoint,
                    Kind::DuplicateWrite,
                    &format!("endpoint:{}", endpoint.id),
                    "a write that had succeeded was sent again, unchanged",
                ));
            }
            facts.write = Some(key);
        }
        facts
    }

    /// The one place each exchange is seen whole: its answer checked, the rate limit as
    /// observed, writes and minted tokens remembered. Returns the answer's verdict.
    pub fn observe(&self, exchange: &Exchange<'_>, call: &CallFacts) -> Option<Verdict> {
        let Some((status, headers, body)) = exchange.answer else {
            self.report.exchange(false);
            return None;
        };
        let Some(endpoint) = exchange.endpoint else {
            self.report.exchange(false);
            return None;
        };
        // A compressed answer is checked as it reads once decoded (gzip, deflate); the app
        // still gets the bytes as they came. Another encoding, or one that does not
        // decode within the checked size, goes unchecked.
        let decoded = match decoded(headers, body) {
            Some(decoded) => decoded,
            None => {
                self.report.exchange(false);
                return None;
            }
        };
        self.report.exchange(true);
        let mut findings = Vec::new();
        let verdict = check_answer(
            endpoint,
            status,
            headers,
            &decoded,
            call.max_count,
            &mut findings,
        );
        for finding in findings {
            self.add(finding);
        }
        let rate_key = format!("endpoint:{}.rate_limit", endpoint.id);
        let limited = verdict.code == Some(ErrorCode::RateLimitExceeded);
        match call.within_rate_limit {
            Some(true) if limited => self.add(Finding::at(
                endpoint,
                Kind::RateLimit,
                &rate_key,
                format!(
                    "429 rate_limit_exceeded within the spec's {} calls per {} s",
                    endpoint.rate_limit.per_minute, endpoint.rate_limit.window_seconds
                ),
            )),
            Some(false) if !limited && verdict.code.is_some() => self.add(Finding::at(
                endpoint,
                Kind::RateLimit,
                &rate_key,
                format!(
                    "no 429 past the spec's {} calls per {} s",
                    endpoint.rate_limit.per_minute, endpoint.rate_limit.window_seconds
                ),
            )),
            _ => {}
        }
        if verdict.ok() {
            if let Some(key) = call.write {
                let mut writes = self.writes.lock();
                if writes.0.insert(key) {
                    writes.1.push_back(key);
                    if writes.1.len() > REMEMBERED_WRITES
                        && let Some(oldest) = writes.1.pop_front()
                    {
                        writes.0.remove(&oldest);
                    }
                }
            }
            self.learn_token(endpoint, &verdict);
        }
        Some(verdict)
    }

    /// Remembers the scopes of a token minted through the proxy (by the token's hash).
    fn learn_token(&self, endpoint: &EndpointMeta, verdict: &Verdict) {
        if endpoint.envelope != Envelope::OAuth {
            return;
        }
        let Some(body) = &verdict.body else {
            return;
        };
        let (Some(token), Some(scope)) = (
            body.get("access_token").and_then(serde_json::Value::as_str),
            body.get("scope").and_then(serde_json::Value::as_str),
        ) else {
            return;
        };
        let scopes: Vec<Scope> = scope
            .split(tiktok_api::spec_constants::SCOPE_SEPARATOR)
            .filter_map(|name| Scope::parse(name.trim()))
            .collect();
        self.tokens.lock().insert(hash(&[token.as_bytes()]), scopes);
    }

    /// The answer with each upload URL pointing at the proxy; the bytes are otherwise the
    /// upstream's own. A compressed answer (gzip, deflate; `headers` say which) is
    /// rewritten decoded and encoded again the same way.
    pub fn rewrite_upload_urls(
        &self,
        endpoint: &'static EndpointMeta,
        verdict: &Verdict,
        headers: &HeaderMap,
        bytes: Bytes,
        plan: Option<ChunkPlan>,
    ) -> Bytes {
        let Some(body) = &verdict.body else {
            return bytes;
        };
        let data = match endpoint.envelope {
            Envelope::V2 => body.get("data").unwrap_or(body),
            Envelope::OAuth => body,
        };
        let mut urls = Vec::new();
        secret_urls(endpoint.response, data, &mut urls, 0);
        if urls.is_empty() {
            return bytes;
        }
        // The verdict came from the decoded answer, so it decodes.
        let Some(mut text) = decoded(headers, &bytes).map(std::borrow::Cow::into_owned) else {
            return bytes;
        };
        for original in urls {
            let Ok(parsed) = url::Url::parse(&original) else {
                continue;
            };
            let origin = parsed.origin().ascii_serialization();
            let index = {
                let mut origins = self.upload_origins.lock();
                match origins.iter().position(|known| *known == origin) {
                    Some(index) => index,
                    None => {
                        origins.push(origin);
                        origins.len() - 1
                    }
                }
            };
            let rest = &original[original.find(parsed.path()).unwrap_or(original.len())..];
            let rewritten = format!("{}{UPLOAD_PREFIX}{index}{rest}", self.base_url);
            if let Some(plan) = plan {
                let mut uploads = self.uploads.lock();
                if uploads.len() >= REMEMBERED_UPLOADS {
                    uploads.clear();
                }
                uploads.insert(
                    hash(&[index.to_string().as_bytes(), rest.as_bytes()]),
                    Upload {
                        endpoint,
                        plan,
                        done: HashSet::new(),
                    },
                );
            }
            let (Ok(from), Ok(to)) = (
                serde_json::to_string(&original),
                serde_json::to_string(&rewritten),
            ) else {
                continue;
            };
            let escaped = (from.replace('/', "\\/"), to.replace('/', "\\/"));
            if !replace_once(&mut text, from.as_bytes(), to.as_bytes())
                && !replace_once(&mut text, escaped.0.as_bytes(), escaped.1.as_bytes())
            {
                tracing::warn!(target: "tiktok_mock::proxy", "{}: an upload URL could not be rewritten; the app would upload past the proxy", endpoint.id);
            }
        }
        encoded(headers, text).map_or(bytes, Bytes::from)
    }
}

impl Ledger {
    /// Checks a chunk PUT to the upload URL numbered `index` with path and query `rest`
    /// against its init's plan: a `Content-Range` that is one of the plan's ranges, a chunk
    /// not already sent with success. Returns the chunk's key, to mark with
    /// [`Ledger::chunk_done`] when it succeeds.
    pub fn check_chunk(
        &self,
        index: usize,
        rest: &str,
        content_range: Option<&str>,
    ) -> Option<ChunkKey> {
        let key = hash(&[index.to_string().as_bytes(), rest.as_bytes()]);
        let uploads = self.uploads.lock();
        let upload = uploads.get(&key)?;
        let endpoint = upload.endpoint;
        let request_key = format!("endpoint:{}.request", endpoint.id);
        let plan = upload.plan;
        let Some((first, last, total)) = content_range.and_then(parse_content_range) else {
            drop(uploads);
            self.add(Finding::at(
                endpoint,
                Kind::ChunkRules,
                &request_key,
                "a chunk without a Content-Range of the form bytes FIRST-LAST/TOTAL",
            ));
            return None;
        };
        let chunk = first / plan.chunk_size.max(1);
        if plan.range(chunk) != Some((first, last)) || total != plan.video_size {
            drop(uploads);
            self.add(Finding::at(
                endpoint,
                Kind::ChunkRules,
                &request_key,
                format!(
                    "a chunk's Content-Range (bytes {first}-{last}/{total}) is not one of the init's {} chunks of {} bytes for {} bytes",
                    plan.total_chunk_count, plan.chunk_size, plan.video_size
                ),
            ));
            return None;
        }
        let repeated = upload.done.contains(&chunk);
        drop(uploads);
        if repeated {
            self.add(Finding::at(
                endpoint,
                Kind::DuplicateWrite,
                &request_key,
                "a chunk that had been uploaded was sent again",
            ));
        }
        Some((key, chunk))
    }

    /// Marks a chunk as uploaded.
    pub fn chunk_done(&self, (key, chunk): ChunkKey) {
        if let Some(upload) = self.uploads.lock().get_mut(&key) {
            upload.done.insert(chunk);
        }
    }
}

/// Replaces the first `from` in `text` with `to`; whether there was one.
fn replace_once(text: &mut Vec<u8>, from: &[u8], to: &[u8]) -> bool {
    let Some(start) = text.windows(from.len()).position(|window| window == from) else {
        return false;
    };
    text.splice(start..start + from.len(), to.iter().copied());
    true
}

/// An answer's `Content-Encoding`, among those the proxy reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// None, or `identity`.
    Identity,
    /// `gzip` or `x-gzip`.
    Gzip,
    /// `deflate` (zlib).
    Deflate,
}

/// The answer's encoding; `None` for one the proxy cannot read.
fn encoding(headers: &HeaderMap) -> Option<Encoding> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Some(Encoding::Identity);
    };
    match value.to_str().ok()?.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => Some(Encoding::Identity),
        "gzip" | "x-gzip" => Some(Encoding::Gzip),
        "deflate" => Some(Encoding::Deflate),
        _ => None,
    }
}

/// `body` as its `Content-Encoding` says to read it: as it is without one (or `identity`),
/// decoded for `gzip` (`x-gzip`) and `deflate`, at most [`MAX_CHECKED_ANSWER`] bytes;
/// `None` for another encoding, a body that does not decode, or one that decodes larger.
fn decoded<'a>(headers: &HeaderMap, body: &'a [u8]) -> Option<std::borrow::Cow<'a, [u8]>> {
    use std::io::Read;
    let reader: Box<dyn Read + 'a> = match encoding(headers)? {
        Encoding::Identity => return Some(std::borrow::Cow::Borrowed(body)),
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
        Encoding::Deflate => Box::new(flate2::read::ZlibDecoder::new(body)),
    };
    let mut out = Vec::new();
    let limit = u64::try_from(MAX_CHECKED_ANSWER).unwrap_or(u64::MAX) + 1;
    reader.take(limit).read_to_end(&mut out).ok()?;
    (out.len() <= MAX_CHECKED_ANSWER).then_some(std::borrow::Cow::Owned(out))
}

/// `text` encoded as `headers`' `Content-Encoding` says (the inverse of [`decoded`]);
/// `None` for an encoding the proxy cannot write.
fn encoded(headers: &HeaderMap, text: Vec<u8>) -> Option<Vec<u8>> {
    use std::io::Write;
    match encoding(headers)? {
        Encoding::Identity => Some(text),
        Encoding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
            encoder.write_all(&text).ok()?;
            encoder.finish().ok()
        }
        Encoding::Deflate => {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), Default::default());
            encoder.write_all(&text).ok()?;
            encoder.finish().ok()
        }
    }
}
