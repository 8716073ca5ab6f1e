//! Logs: one `tracing` line per API call with method, path, open_id, decision, status,
//! latency in whole microseconds, log id and (on errors) the message as `error`, and never a token.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use support::{Harness, all_user_scopes};

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
async fn one_line_per_call_without_tokens() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("tiktok_mock=info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    mock.get("/v2/user/info/?fields=open_id", Some(&token))
        .await
        .assert_ok();
    mock.post_json("/v2/video/list/?fields=nope", Some(&token), "{}")
        .await;
    mock.get("/v2/user/info/?fields=open_id", Some("act.secret-looking"))
        .await;
    mock.get("/_mock/calls", None).await;

    let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let open_id = mock.open_id();
    assert!(
        lines[0].contains("method=GET") && lines[0].contains("path=/v2/user/info/"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(&format!("open_id=\"{open_id}\""))
            || lines[0].contains(&format!("open_id={open_id}")),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("decision=ok")
            && lines[0].contains("status=200")
            && lines[0].contains("log_id=")
            && !lines[0].contains("log_id=-")
            && !lines[0].contains("error="),
        "{}",
        lines[0]
    );
    // Latency in whole microseconds.
    let latency = lines[0]
        .split("latency_us=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("latency_us");
    assert!(latency.parse::<u64>().is_ok(), "{}", lines[0]);
    // An error's line says why.
    assert!(
        lines[1].contains("decision=invalid_params")
            && lines[1].contains("status=400")
            && lines[1].contains("error=")
            && lines[1].contains("nope"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("decision=access_token_invalid") && lines[2].contains("status=401"),
        "{}",
        lines[2]
    );
    assert!(
        !text.contains(&token) && !text.contains("secret-looking"),
        "{text}"
    );
}
