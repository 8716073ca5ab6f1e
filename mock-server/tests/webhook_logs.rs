//! Every failed webhook attempt is logged at warn with its cause. Alone in its test binary:
//! a scoped `tracing` subscriber only sees events reliably when no other test thread
//! registers the same callsites at the same time.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::{Receiver, client_secret, control, manual_mock};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn failed_attempts_are_logged_at_warn_with_their_cause() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("tiktok_mock=warn")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mock = manual_mock().await;
    let receiver = Receiver::start(&mock, client_secret()).await;
    support::set_callback(&mock, &receiver.url).await;
    receiver.answer(503);
    let (status, body) = control(
        &mock,
        "/_mock/webhooks/events",
        json!({"event": "portability.download.ready", "request_id": 7}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    support::wait_attempts(&mock, 0, 1).await;
    // A refused connection is a cause too.
    receiver.stop();
    assert!(mock.advance(60));
    support::wait_attempts(&mock, 0, 2).await;
    let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
    let failed: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("webhook attempt failed"))
        .collect();
    assert_eq!(failed.len(), 2, "{text}");
    assert!(failed.iter().all(|line| line.contains("WARN")), "{text}");
    assert!(failed[0].contains("HTTP 503"), "{}", failed[0]);
    assert!(
        failed[0].contains("portability.download.ready"),
        "{}",
        failed[0]
    );
    assert!(!failed[1].contains("HTTP"), "{}", failed[1]);
}
