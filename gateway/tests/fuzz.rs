//! Hostile input to the gateway's own parsers: whatever text a config file holds and
//! whatever JSON an agent sends as a tool's arguments, the answer is a clear error (with
//! the file and line, or the JSON Pointer of the bad value) and never a panic.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::Value;
use tiktok_agent::tools::parse_arguments;
use tiktok_gateway::config::Config;

const GOOD: &str = "\
tiktok: {base_url: http://127.0.0.1:8080, client_key: awdemo7c1f2e9b4d3a, client_secret_env: TIKTOK_CLIENT_SECRET}
accounts: {demo: {token_store: tokens.json}}
agents:
  reader: {account: demo, scopes: [user.info.basic, video.list], access: [read], budgets: {calls_per_minute: 10}}
  poster: {account: demo, scopes: [user.info.basic, video.publish, video.upload], access: [read, write], approval: writes}
audit: audit.sqlite
";

/// The good config with one span of characters replaced, or arbitrary text.
fn config_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..GOOD.len(), 0..40usize, ".{0,12}").prop_map(|(at, cut, insert)| {
            let mut text: Vec<char> = GOOD.chars().collect();
            let at = at.min(text.len());
            let end = (at + cut).min(text.len());
            text.splice(at..end, insert.chars());
            text.into_iter().collect()
        }),
        any::<Vec<u8>>().prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        "[a-z_:{}\\[\\], \n-]{0,200}",
    ]
}

/// Arbitrary JSON, nested a few levels, with the keys tools take.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("fields".to_string()),
        Just("max_count".to_string()),
        Just("cursor".to_string()),
        Just("post_info".to_string()),
        Just("source_info".to_string()),
        Just("source".to_string()),
        Just("video_id".to_string()),
        "[a-z_/~]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::String),
        Just(Value::String("id".into())),
        Just(Value::String("FILE_UPLOAD".into())),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    // Failing cases found are kept beside this file (fuzz.proptest-regressions) and replayed.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_config_text_is_loaded_or_refused_with_its_file_and_line(text in config_text()) {
        let file = Path::new("conf/gateway.yaml");
        if let Err(error) = Config::parse(file, &text) {
            prop_assert!(error.to_string().starts_with("conf/gateway.yaml"), "{error}");
            prop_assert!(!error.message.is_empty());
            if let Some(line) = error.line {
                // YAML breaks lines at \n, \r\n and a lone \r.
                let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count();
                prop_assert!(line >= 1 && line <= lines + 1, "{error}");
            }
        }
    }

    #[test]
    fn any_tool_arguments_are_parsed_or_refused_at_a_json_pointer(
        endpoint in 0..tiktok_api::ENDPOINTS.len(),
        arguments in json_value(),
    ) {
        let meta = tiktok_api::ENDPOINTS[endpoint];
        match parse_arguments(meta, &arguments) {
            Ok(parsed) => {
                // What was accepted is what the tool's schema allows: an object, or nothing.
                prop_assert!(arguments.is_object() || arguments.is_null());
                if let Some(body) = parsed.body {
                    prop_assert!(body.is_object());
                }
            }
            Err(bad) => {
                prop_assert!(!bad.message.is_empty());
                prop_assert!(bad.path.is_empty() || bad.path.starts_with('/'), "{bad:?}");
            }
        }
    }
}
