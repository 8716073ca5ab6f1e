//! What an operator reads: an agent's text escaped in every command's output (plain and
//! JSON), and output that ends quietly when its reader goes away (`| head -1`).

use serde_json::{Value, json};
use tiktok_agent::is_unsafe_char;

use crate::setup::{Setup, approval_id, assert_success, call, stdout};

/// Text a terminal would act on: CSI as one C1 byte, NEL, DEL, an escape sequence and a
/// right-to-left override.
const HOSTILE: &str = "\u{202e}\u{9b}31m\u{85}\u{7f}\u{1b}[2J";

#[tokio::test]
async fn an_agents_text_reaches_the_operator_escaped_in_every_output() {
    let setup = Setup::new().await;
    let poster = setup.agent("poster").await;
    let url = format!("https://sf16-va.tiktokcdn.com/obj/{HOSTILE}.mp4");
    let held = call(
        &poster,
        "inbox_video_init",
        json!({"source_info": {"source": "PULL_FROM_URL", "video_url": url}}),
    )
    .await
    .unwrap();
    approval_id(&held);
    assert!(
        call(&poster, &format!("evil{HOSTILE}"), json!({}))
            .await
            .is_err()
    );
    poster.cancel().await.unwrap();
    let reader = setup.agent("reader").await;
    // Ids are kept in the audit as they were sent.
    let _ = call(
        &reader,
        "video_query",
        json!({"fields": ["id"], "filters": {"video_ids": [format!("7{HOSTILE}")]}}),
    )
    .await
    .unwrap();
    reader.cancel().await.unwrap();

    let outputs: [&[&str]; 6] = [
        &["approvals", "list"],
        &["approvals", "list", "--all"],
        &["audit", "tail"],
        &["audit", "tail", "--json"],
        &["audit", "query"],
        &["audit", "query", "--json"],
    ];
    for args in outputs {
        let output = setup.run(args).await;
        assert_success(&output);
        let text = stdout(&output);
        let raw: Vec<char> = text
            .chars()
            .filter(|c| is_unsafe_char(*c) && *c != '\n')
            .collect();
        assert!(raw.is_empty(), "{args:?} printed {raw:?}: {text}");
        assert!(text.contains("202e"), "{args:?}: {text}");
        if args.contains(&"--json") {
            // The same values, escaped the JSON way: they decode to what the agent sent.
            let values: Vec<Value> = text
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
            let decoded = serde_json::to_string(&values).unwrap();
            assert!(
                decoded.contains("\\u009b") || decoded.contains('\u{9b}'),
                "{decoded}"
            );
        }
    }
    // stderr too: an approval id the operator pastes with a control in it.
    let output = setup
        .run(&["approvals", "deny", &format!("apv_{HOSTILE}")])
        .await;
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        !error.chars().any(|c| is_unsafe_char(c) && c != '\n'),
        "{error:?}"
    );
    assert!(error.contains("no approval"), "{error}");
}

#[tokio::test]
async fn output_ends_quietly_when_its_reader_goes_away() {
    let setup = Setup::new().await;
    let reader = setup.agent("reader").await;
    for _ in 0..3 {
        call(&reader, "user_info", json!({"fields": ["open_id"]}))
            .await
            .unwrap();
    }
    reader.cancel().await.unwrap();
    let commands: [&[&str]; 4] = [
        &["audit", "tail", "-n", "20"],
        &["audit", "tail", "--json"],
        &["audit", "query"],
        &["audit", "query", "--json"],
    ];
    for args in commands {
        // `| head -1` that has already read its line: the pipe's reading end is closed.
        let (read, write) = std::io::pipe().unwrap();
        drop(read);
        let child = setup
            .command(args)
            .stdout(std::process::Stdio::from(write))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let output = child.wait_with_output().await.unwrap();
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{args:?}: {:?} {error}",
            output.status
        );
        assert!(error.is_empty(), "{args:?}: {error}");
    }
}
