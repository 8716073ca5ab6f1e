//! `tiktok-mock --replay DIR`: recorded requests answered with their recorded answers, in
//! front of the mock. A request is matched by method, path, query and body
//! ([`crate::recording::match_key`]: pairs sorted, the `fields` list in any order, JSON
//! objects in any key order, every secret's value left out, the bearer token not looked
//! at: it is a placeholder in the recording and whatever the app holds in the replay).
//! Requests that match the same recorded ones get their answers in recorded order, the
//! last repeated once they run out; when the app sends a bearer token the recording holds
//! (a placeholder a replayed token answer handed out), only the answers recorded with that
//! token are taken, so two users' identical calls keep their own answers. A replayed answer is not in the mock's call log.
//!
//! A request for an endpoint of the spec that matches nothing gets, per `--replay-miss`,
//! a TikTok error in the endpoint's envelope saying nothing was recorded for it (`error`,
//! the default) or the mock's own answer (`mock`). The control API, the consent page and
//! the upload host are always the mock's.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;
use tiktok_api::ENDPOINTS;
use tiktok_api::meta::{EndpointMeta, Envelope};

use crate::clock::system_now_ms;
use crate::error::{ApiError, LOG_ID_HEADER};
use crate::logid::new_log_id;
use crate::pipeline::MAX_BODY_BYTES;
use crate::recording::{
    Body as MatchedBody, RecordedAnswer, RecordedBody, RecordingError, match_key, parse_body,
    read_dir,
};

/// What a request the recording has no answer for gets (`--replay-miss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReplayMiss {
    /// A TikTok error (`invalid_params`, HTTP 400) saying nothing was recorded for it.
    #[default]
    Error,
    /// The mock's own answer, as without `--replay`.
    Mock,
}

/// A recording loaded for replay.
pub struct Replay {
    /// The recorded answers by match key, in recorded order, each with its request's
    /// bearer placeholder.
    answers: HashMap<String, Vec<(Option<String>, RecordedAnswer)>>,
    /// Method and path of every recorded request.
    routes: HashSet<(String, String)>,
    /// How many answers each key has given, per bearer placeholder (`None`: any).
    served: Mutex<HashMap<(String, Option<String>), usize>>,
    miss: ReplayMiss,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("requests", &self.answers.len())
            .field("miss", &self.miss)
            .finish()
    }
}

impl Replay {
    /// The recording in `dir`; exchanges without a whole answer, and the upload host's,
    /// are left out.
    pub fn load(dir: &Path, miss: ReplayMiss) -> Result<Replay, RecordingError> {
        let mut answers: HashMap<String, Vec<(Option<String>, RecordedAnswer)>> = HashMap::new();
        let mut routes = HashSet::new();
        for entry in read_dir(dir)? {
            let Some(answer) = entry.answer.filter(|answer| answer.body.is_some()) else {
                continue;
            };
            if entry.endpoint == "upload" {
                continue;
            }
            routes.insert((
                entry.request.method.to_ascii_uppercase(),
                entry.request.path.clone(),
            ));
            answers
                .entry(entry.request.match_key())
                .or_default()
                .push((entry.request.authorization.clone(), answer));
        }
        Ok(Replay {
            answers,
            routes,
            served: Mutex::default(),
            miss,
        })
    }

    /// How many distinct requests the recording answers.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether the recording answers no request at all.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    /// The next recorded answer for the request with this key and `Authorization` header.
    fn next(&self, key: &str, authorization: Option<&str>) -> Option<RecordedAnswer> {
        let answers = self.answers.get(key)?;
        let own = authorization.filter(|sent| {
            answers
                .iter()
                .any(|(recorded, _)| recorded.as_deref() == Some(*sent))
        });
        let candidates: Vec<&RecordedAnswer> = answers
            .iter()
            .filter(|(recorded, _)| own.is_none() || recorded.as_deref() == own)
            .map(|(_, answer)| answer)
            .collect();
        let mut served = self.served.lock();
        let count = served
            .entry((key.to_owned(), own.map(str::to_owned)))
            .or_insert(0);
        let answer = candidates
            .get(*count)
            .or_else(|| candidates.last())
            .map(|answer| (*answer).clone());
        *count += 1;
        answer
    }
}

/// `router` with `replay` answering in front of it.
pub fn with_replay(router: Router, replay: Arc<Replay>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(replay, answer))
}

/// The middleware: a recorded answer, or the miss.
async fn answer(State(replay): State<Arc<Replay>>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let endpoint: Option<&'static EndpointMeta> = ENDPOINTS
        .iter()
        .copied()
        .find(|endpoint| endpoint.path == path && endpoint.method.as_str() == method);
    let recorded = replay.routes.contains(&(method.clone(), path.clone()));
    if path == "/_mock" || path.starts_with("/_mock/") || (endpoint.is_none() && !recorded) {
        return next.run(request).await;
    }
    let envelope = endpoint.map_or(Envelope::V2, |endpoint| endpoint.envelope);
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return ApiError::PayloadTooLarge(MAX_BODY_BYTES)
            .render(envelope, &new_log_id(system_now_ms()));
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let parsed = parse_body(&bytes, content_type);
    let matched = match &parsed {
        Some(RecordedBody::Json(value)) => Some(MatchedBody::Json(value)),
        Some(RecordedBody::Form(fields)) => Some(MatchedBody::Form(fields)),
        None => None,
    };
    let key = match_key(&method, &path, parts.uri.query(), matched.as_ref());
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::trim);
    if let Some(answer) = replay.next(&key, authorization) {
        return recorded_response(&answer);
    }
    match replay.miss {
        ReplayMiss::Mock => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        ReplayMiss::Error => {
            tracing::warn!(target: "tiktok_mock::replay", "{method} {path}: nothing recorded for this request");
            ApiError::InvalidParams(format!(
                "tiktok-mock --replay: nothing was recorded for this request ({method} {path} with this query and body); --replay-miss mock answers it from the mock instead."
            ))
            .render(envelope, &new_log_id(system_now_ms()))
        }
    }
}

/// A recorded answer as it came: status, content type, log id, body.
fn recorded_response(answer: &RecordedAnswer) -> Response {
    let mut response = Response::new(Body::from(answer.body.clone().unwrap_or_default()));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    if let Some(kind) = answer
        .content_type
        .as_deref()
        .and_then(|kind| HeaderValue::from_str(kind).ok())
    {
        headers.insert(header::CONTENT_TYPE, kind);
    }
    if let Some(log_id) = answer
        .log_id
        .as_deref()
        .and_then(|log_id| HeaderValue::from_str(log_id).ok())
    {
        headers.insert(LOG_ID_HEADER, log_id);
    }
    response
}
