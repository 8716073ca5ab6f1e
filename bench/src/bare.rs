//! The ceiling the mock is measured against: a bare axum handler on the mock's two paths
//! that checks the Bearer header (and reads the body of the POST) and answers a fixed body.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

struct Bare {
    /// `Bearer TOKEN`.
    expected: String,
    user_info: Bytes,
    video_list: Bytes,
}

const UNAUTHORIZED: &str =
    r#"{"data":{},"error":{"code":"access_token_invalid","message":"","log_id":""}}"#;

/// Serves until killed; prints `listening on http://ADDR` once bound.
pub async fn serve(
    addr: &str,
    token: &str,
    user_info: Vec<u8>,
    video_list: Vec<u8>,
) -> anyhow::Result<()> {
    let state = Arc::new(Bare {
        expected: format!("Bearer {token}"),
        user_info: Bytes::from(user_info),
        video_list: Bytes::from(video_list),
    });
    let app = Router::new()
        .route("/v2/user/info/", get(user_info_handler))
        .route("/v2/video/list/", post(video_list_handler))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

fn answer(bare: &Bare, request: &Request, body: &Bytes) -> Response {
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|value| value.as_bytes() == bare.expected.as_bytes());
    if !authorized {
        return (StatusCode::UNAUTHORIZED, UNAUTHORIZED).into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body.clone(),
    )
        .into_response()
}

async fn user_info_handler(State(bare): State<Arc<Bare>>, request: Request) -> Response {
    answer(&bare, &request, &bare.user_info)
}

async fn video_list_handler(State(bare): State<Arc<Bare>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if axum::body::to_bytes(body, 1024 * 1024).await.is_err() {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let request = Request::from_parts(parts, axum::body::Body::empty());
    answer(&bare, &request, &bare.video_list)
}
