//! A webhook receiver on a real socket that keeps every delivery's raw bytes, so the
//! properties can verify signatures themselves (with the generated crate's `Verifier`)
//! and tamper with copies.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tiktok_api::webhook::SIGNATURE_HEADER;

/// One request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// The `TikTok-Signature` header, if any.
    pub signature: Option<String>,
    /// The exact body.
    pub body: Vec<u8>,
}

/// A receiver that answers 200 to everything and records it.
#[derive(Debug, Clone)]
pub struct Inbox {
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    /// The URL to give the mock as the callback.
    pub url: String,
}

async fn receive(
    State(arrivals): State<Arc<Mutex<Vec<Arrival>>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    arrivals
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Arrival {
            signature,
            body: body.to_vec(),
        });
    StatusCode::OK
}

impl Inbox {
    /// Starts the receiver on `127.0.0.1:0` (it runs until the runtime stops).
    pub async fn start() -> Inbox {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => panic!("cannot bind a webhook receiver: {error}"),
        };
        let port = match listener.local_addr() {
            Ok(address) => address.port(),
            Err(error) => panic!("receiver address: {error}"),
        };
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(arrivals.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Inbox {
            arrivals,
            url: format!("http://127.0.0.1:{port}/hook"),
        }
    }

    /// Everything received so far, and forgets it.
    pub fn take(&self) -> Vec<Arrival> {
        std::mem::take(&mut *self.arrivals.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Waits (real time, up to 10 s) until at least `count` requests arrived, then takes
    /// them all; `Err` with what came if they did not.
    pub async fn wait_for(&self, count: usize) -> Result<Vec<Arrival>, Vec<Arrival>> {
        for _ in 0..1000 {
            if self
                .arrivals
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
                >= count
            {
                return Ok(self.take());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(self.take())
    }
}
