//! The upload steps the chunk tests share: an inbox init, its `source_info`, the upload
//! path of its URL, a chunk PUT with correct headers (or a body the test holds), and the
//! progress an answer reports.

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use tiktok_api::Scope;

use super::{Answer, Harness};

/// Starts an inbox upload with this `source_info` under a fresh token (init allows 6 calls
/// a minute per token).
pub async fn init(harness: &Harness, source_info: Value) -> Answer {
    let token = harness.token(&[Scope::VideoUpload]);
    harness
        .post_json(
            "/v2/post/publish/inbox/video/init/",
            Some(&token),
            json!({ "source_info": source_info }).to_string(),
        )
        .await
}

pub fn file(video_size: i64, chunk_size: i64, total_chunk_count: i64) -> Value {
    json!({
        "source": "FILE_UPLOAD",
        "video_size": video_size,
        "chunk_size": chunk_size,
        "total_chunk_count": total_chunk_count,
    })
}

/// The path and query of an upload URL.
pub fn path_of(url: &str) -> String {
    let start = url.find("/upload/").expect("an upload path");
    url[start..].to_owned()
}

pub async fn put(
    harness: &Harness,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Answer {
    let mut request = Request::builder().method(Method::PUT).uri(path);
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    harness
        .send(request.body(Body::from(body)).expect("request"))
        .await
}

/// PUTs bytes `first..=last` of `total` with correct headers.
pub async fn chunk(harness: &Harness, path: &str, first: i64, last: i64, total: i64) -> Answer {
    let length = last - first + 1;
    put(
        harness,
        path,
        &[
            ("content-type", "video/mp4".to_owned()),
            ("content-length", length.to_string()),
            ("content-range", format!("bytes {first}-{last}/{total}")),
        ],
        vec![7; usize::try_from(length).expect("size")],
    )
    .await
}

pub fn range(answer: &Answer) -> &str {
    answer
        .headers
        .get("content-range")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("<none>")
}

pub async fn start_upload(harness: &Harness, video_size: i64, chunk_size: i64) -> String {
    let answer = init(
        harness,
        file(video_size, chunk_size, video_size / chunk_size),
    )
    .await;
    answer.assert_ok();
    path_of(answer.data()["upload_url"].as_str().expect("upload_url"))
}

/// A chunk whose body the test holds: `polled` fires when the handler first asks for the
/// body (so it has passed every check made before reading), `send` gives the bytes.
pub fn held_chunk(
    path: &str,
    length: usize,
    total: i64,
) -> (
    Request<Body>,
    tokio::sync::oneshot::Receiver<()>,
    tokio::sync::oneshot::Sender<Vec<u8>>,
) {
    let (polled_tx, polled_rx) = tokio::sync::oneshot::channel();
    let (bytes_tx, bytes_rx) = tokio::sync::oneshot::channel::<Vec<u8>>();
    let stream = futures::stream::once(async move {
        let _ = polled_tx.send(());
        let bytes = bytes_rx.await.unwrap_or_default();
        Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
    });
    let request = Request::builder()
        .method(Method::PUT)
        .uri(path)
        .header("content-type", "video/mp4")
        .header("content-length", length.to_string())
        .header(
            "content-range",
            format!(
                "bytes 0-{}/{total}",
                i64::try_from(length).expect("size") - 1
            ),
        )
        .body(Body::from_stream(stream))
        .expect("request");
    (request, polled_rx, bytes_tx)
}
