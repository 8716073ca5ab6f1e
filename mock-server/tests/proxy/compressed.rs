//! Compressed answers: checked as they read once decoded (gzip, deflate), forwarded to the
//! app byte for byte as they came; an encoding the proxy cannot read goes unchecked. An
//! upload URL in a compressed answer is rewritten to go through the proxy all the same,
//! the answer encoded again as it came.

use std::io::{Read, Write};

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use tiktok_api::endpoints;
use tiktok_mock::examples::example_object;
use tiktok_mock::proxy::config::UPLOAD_PREFIX;
use tiktok_mock::proxy::report::Kind;

use crate::{proxy, triples};

/// User info, as the spec's example says it, with one undocumented field.
fn drifted_user_info() -> Vec<u8> {
    let projected: Vec<_> = endpoints::USER_INFO
        .fields
        .map(|param| param.schema.fields.iter().collect())
        .unwrap_or_default();
    let mut data = example_object(
        endpoints::USER_INFO.response,
        endpoints::USER_INFO
            .fields
            .map(|param| (param.schema, projected.as_slice())),
    );
    data["user"]["display_name_v2"] = json!("drift");
    serde_json::to_vec(&json!({
        "data": data,
        "error": {"code": "ok", "message": "", "log_id": "202701010000000000000000000000AA"}
    }))
    .expect("JSON")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("compressed");
    encoder.finish().expect("compressed")
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("compressed");
    encoder.finish().expect("compressed")
}

/// An upstream answering every request in `encoding` with `body`.
async fn upstream(encoding: &'static str, body: Vec<u8>) -> String {
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move {
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CONTENT_ENCODING, encoding),
                ],
                body,
            )
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// Calls user info through `server`; the raw bytes and `Content-Encoding` the app got.
async fn user_info(server: &tiktok_mock::proxy::ProxyServer) -> (Vec<u8>, Option<String>) {
    // No decompression on the app's side: it sees exactly what came through.
    let answer = reqwest::Client::builder()
        .no_gzip()
        .build()
        .expect("a client")
        .get(format!(
            "{}{}?fields=open_id,display_name",
            server.url(),
            endpoints::USER_INFO.path
        ))
        .header("Authorization", "Bearer act.compressed-test")
        .send()
        .await
        .expect("user info");
    let encoding = answer
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|value| value.to_str().expect("text").to_string());
    (answer.bytes().await.expect("a body").to_vec(), encoding)
}

#[tokio::test]
async fn a_gzip_answer_is_checked_decoded_and_forwarded_as_it_came() {
    let compressed = gzip(&drifted_user_info());
    let upstream = upstream("gzip", compressed.clone()).await;
    let server = proxy(&upstream, None).await;
    let (bytes, encoding) = user_info(&server).await;
    assert_eq!(bytes, compressed);
    assert_eq!(encoding.as_deref(), Some("gzip"));
    let found = triples(&server);
    assert!(
        found
            .iter()
            .any(|(kind, endpoint, _)| *kind == Kind::UndocumentedField
                && *endpoint == Some("user_info")),
        "{found:?}"
    );
    let rendered: Value =
        serde_json::from_str(&server.report().render_for(std::path::Path::new("r.json")))
            .expect("the JSON report");
    assert!(
        rendered.to_string().contains("display_name_v2"),
        "{rendered}"
    );
}

#[tokio::test]
async fn an_encoding_the_proxy_cannot_read_is_forwarded_unchecked() {
    let upstream = upstream("br", b"not really brotli".to_vec()).await;
    let server = proxy(&upstream, None).await;
    let (bytes, encoding) = user_info(&server).await;
    assert_eq!(bytes, b"not really brotli");
    assert_eq!(encoding.as_deref(), Some("br"));
    assert!(triples(&server).is_empty(), "{:?}", triples(&server));
}

/// The upload host of [`video_init_answer`].
const UPLOAD: &str = "https://open-upload.tiktokapis.example";

/// A video init's answer as the spec's example says it, with an upload URL on [`UPLOAD`].
fn video_init_answer() -> Vec<u8> {
    let mut data = example_object(endpoints::VIDEO_INIT.response, None);
    data["upload_url"] = json!(format!("{UPLOAD}/video/?upload_id=7&upload_token=t0ken"));
    serde_json::to_vec(&json!({
        "data": data,
        "error": {"code": "ok", "message": "", "log_id": "202701010000000000000000000000AA"}
    }))
    .expect("JSON")
}

#[tokio::test]
async fn an_upload_url_in_a_compressed_answer_goes_through_the_proxy() {
    for encoding in ["gzip", "deflate"] {
        let answer = video_init_answer();
        let compressed = if encoding == "gzip" {
            gzip(&answer)
        } else {
            deflate(&answer)
        };
        let upstream = upstream(encoding, compressed).await;
        let server = proxy(&upstream, None).await;
        let answer = reqwest::Client::builder()
            .no_gzip()
            .no_deflate()
            .build()
            .expect("a client")
            .post(format!("{}{}", server.url(), endpoints::VIDEO_INIT.path))
            .header("Authorization", "Bearer act.compressed-test")
            .json(&json!({
                "post_info": {"privacy_level": "SELF_ONLY"},
                "source_info": {"source": "FILE_UPLOAD", "video_size": 1000, "chunk_size": 1000, "total_chunk_count": 1},
            }))
            .send()
            .await
            .expect("video init");
        assert_eq!(
            answer
                .headers()
                .get(header::CONTENT_ENCODING)
                .map(|value| value.as_bytes()),
            Some(encoding.as_bytes())
        );
        let length = answer.content_length();
        let bytes = answer.bytes().await.expect("a body").to_vec();
        assert_eq!(
            length,
            Some(bytes.len() as u64),
            "{encoding}: Content-Length"
        );
        let mut text = Vec::new();
        let decoded = match encoding {
            "gzip" => flate2::read::GzDecoder::new(bytes.as_slice()).read_to_end(&mut text),
            _ => flate2::read::ZlibDecoder::new(bytes.as_slice()).read_to_end(&mut text),
        };
        decoded.unwrap_or_else(|error| panic!("{encoding}: the answer decodes: {error}"));
        let body: Value = serde_json::from_slice(&text).expect("JSON");
        let url = body["data"]["upload_url"].as_str().expect("an upload URL");
        assert!(
            url.starts_with(&format!("{}{UPLOAD_PREFIX}", server.url())),
            "{encoding}: {url}"
        );
        assert!(
            url.ends_with("/video/?upload_id=7&upload_token=t0ken"),
            "{url}"
        );
        assert_eq!(
            body["data"]["publish_id"],
            json!(example_object(endpoints::VIDEO_INIT.response, None)["publish_id"])
        );
    }
}
