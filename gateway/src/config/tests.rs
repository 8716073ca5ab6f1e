//! The config's tests: the example that loads, and every error naming file, line and key.

use super::*;

const GOOD: &str = "\
tiktok: {base_url: http://127.0.0.1:8080, client_key: awdemo7c1f2e9b4d3a, client_secret_env: TIKTOK_CLIENT_SECRET}
accounts: {demo: {token_store: tokens.json}}
agents:
  reader: {account: demo, scopes: [user.info.basic, video.list], access: [read]}
  poster: {account: demo, scopes: [user.info.basic, video.publish, video.upload], access: [read, write], approval: writes}
audit: audit.sqlite
";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("conf/gateway.yaml"), text)
}

#[test]
fn the_issue_s_example_loads_with_paths_beside_the_file() {
    let config = parse(GOOD).unwrap();
    assert_eq!(config.audit.file(), Some(Path::new("conf/audit.sqlite")));
    assert_eq!(
        config.state.file(),
        Some(Path::new("conf/audit.approvals.sqlite"))
    );
    assert_eq!(
        config.accounts["demo"].token_store.file(),
        Some(Path::new("conf/tokens.json"))
    );
    let reader = &config.agents["reader"].grant;
    let reader: Vec<&str> = reader.endpoints().map(|meta| meta.id).collect();
    assert_eq!(reader, ["user_info", "video_list", "video_query"]);
    assert_eq!(config.agents["poster"].approval, ApprovalMode::Writes);
}

#[test]
fn the_state_file_is_state_and_its_old_name_approvals_still_works_with_a_warning() {
    let config = parse(&format!("{GOOD}state: shared.sqlite\n")).unwrap();
    assert_eq!(config.state.file(), Some(Path::new("conf/shared.sqlite")));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let config = parse(&format!("{GOOD}approvals: old.sqlite\n")).unwrap();
    assert_eq!(config.state.file(), Some(Path::new("conf/old.sqlite")));
    assert_eq!(config.warnings.len(), 1);
    assert!(
        config.warnings[0].contains("now called state"),
        "{:?}",
        config.warnings
    );
    let error = parse(&format!("{GOOD}state: a.sqlite\napprovals: b.sqlite\n")).unwrap_err();
    assert!(error.message.contains("keep only state"), "{error}");
    // A budget above TikTok's limit is reported at the key of the budget, from its enum.
    let error = parse(&GOOD.replace(
        "access: [read]}",
        "access: [read], budgets: {endpoint_calls_per_minute: {video_list: 100000}}}",
    ))
    .unwrap_err();
    assert_eq!(
        error.key,
        "agents.reader.budgets.endpoint_calls_per_minute.video_list"
    );
}

#[test]
fn two_agents_with_one_key_are_refused_naming_both() {
    let hash = "ab".repeat(32);
    let upper = hash.to_ascii_uppercase();
    let text = GOOD
        .replace(
            "access: [read]}",
            &format!("access: [read], key_sha256: {hash}}}"),
        )
        .replace(
            "approval: writes}",
            &format!("approval: writes, key_sha256: {upper}}}"),
        );
    let error = parse(&text).unwrap_err();
    assert_eq!(error.key, "agents.reader.key_sha256", "{error}");
    assert_eq!(error.line, Some(4), "{error}");
    assert!(
        error
            .message
            .contains("agents poster and reader have the same key_sha256"),
        "{error}"
    );
    // Different keys are fine.
    let other = "cd".repeat(32);
    let text = GOOD
        .replace(
            "access: [read]}",
            &format!("access: [read], key_sha256: {hash}}}"),
        )
        .replace(
            "approval: writes}",
            &format!("approval: writes, key_sha256: {other}}}"),
        );
    assert!(parse(&text).is_ok());
}

#[test]
fn http_limits_have_defaults_and_take_durations() {
    let config = parse(GOOD).unwrap();
    assert_eq!(config.http.limits, HttpLimits::default());
    let config = parse(&format!(
        "{GOOD}http: {{header_read_timeout: 2s, body_timeout: 500ms, max_connections: 8, shutdown_timeout: 1m}}\n"
    ))
    .unwrap();
    assert_eq!(
        config.http.limits,
        HttpLimits {
            header_read_timeout: Duration::from_secs(2),
            body_timeout: Duration::from_millis(500),
            max_connections: 8,
            shutdown_timeout: Duration::from_secs(60),
        }
    );
    fails(
        &format!("{GOOD}http: {{header_read_timeout: soon}}\n"),
        Some(7),
        "http.header_read_timeout",
        "expected a duration",
    );
    fails(
        &format!("{GOOD}http: {{max_connections: 0}}\n"),
        Some(7),
        "http.max_connections",
        "at least 1",
    );
    fails(
        &format!("{GOOD}http: {{public_url: \"https://gateway.example.com/mcp\"}}\n"),
        Some(7),
        "http.public_url",
        "an http or https origin",
    );
    let config = parse(&format!(
        "{GOOD}http: {{public_url: \"https://gateway.example.com\"}}\n"
    ))
    .unwrap();
    assert_eq!(
        config.http.public_url.as_deref(),
        Some("https://gateway.example.com")
    );
}

#[track_caller]
fn fails(text: &str, line: Option<usize>, key: &str, message: &str) {
    let error = parse(text).unwrap_err();
    assert_eq!((error.line, error.key.as_str()), (line, key), "{error}");
    assert!(error.message.contains(message), "{error}");
    assert!(
        error.to_string().starts_with("conf/gateway.yaml"),
        "{error}"
    );
}

#[test]
fn errors_name_the_file_the_line_and_the_key() {
    fails(
        &GOOD.replace("access: [read]}", "access: [read], acess: [write]}"),
        Some(4),
        "agents.reader.acess",
        "Unknown field `acess`",
    );
    fails(
        &GOOD.replace("video.list]", "video.lists]"),
        Some(4),
        "agents.reader.scopes[1]",
        "unknown scope \"video.lists\"",
    );
    fails(
        &GOOD.replace("reader: {account: demo", "reader: {account: dmeo"),
        Some(4),
        "agents.reader.account",
        "no account \"dmeo\"",
    );
    fails(
        &GOOD.replace("access: [read]}", "access: [reed]}"),
        Some(4),
        "agents.reader.access[0]",
        "reed",
    );
    fails(
        &GOOD.replace("approval: writes", "approval: always"),
        Some(5),
        "agents.poster.approval",
        "always",
    );
    fails(
        &GOOD.replace("audit: audit.sqlite\n", ""),
        Some(1),
        "",
        "audit",
    );
    fails(
        &GOOD.replace(
            "access: [read]}",
            "access: [read], endpoints: [user_info, video_lst]}",
        ),
        Some(4),
        "agents.reader.endpoints",
        "unknown endpoint \"video_lst\"",
    );
    let lister = "  lister:\n    account: demo\n    scopes: [video.list]\n    access: [read]\n    budgets:\n      endpoint_calls_per_minute: {video_list: 100000}\naudit:";
    fails(
        &GOOD.replace("audit:", lister),
        Some(11),
        "agents.lister.budgets.endpoint_calls_per_minute.video_list",
        "above TikTok's limit",
    );
    fails("tiktok: [\n", Some(2), "", "not valid YAML");
    fails(
        &GOOD.replace("http://127.0.0.1:8080", "ftp://x"),
        Some(1),
        "tiktok.base_url",
        "http or https",
    );
}

#[test]
fn approval_ttl_defaults_to_a_day_and_a_bad_one_names_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway.yaml");
    let text = |ttl: &str| {
        format!(
            "tiktok: {{client_key: k}}\naccounts: {{demo: {{token_store: t.json}}}}\nagents:\n  a: {{account: demo, scopes: [video.upload], access: [write], approval: writes{ttl}}}\naudit: audit.sqlite\n"
        )
    };
    let config = Config::parse(&file, &text("")).unwrap();
    assert_eq!(config.agents["a"].approval_ttl, DEFAULT_APPROVAL_TTL);
    let config = Config::parse(&file, &text(", approval_ttl: 30m")).unwrap();
    assert_eq!(config.agents["a"].approval_ttl, Duration::from_secs(1800));
    for bad in ["0s", "soon", "-1h"] {
        let error = Config::parse(&file, &text(&format!(", approval_ttl: {bad}"))).unwrap_err();
        assert_eq!(error.key, "agents.a.approval_ttl", "{error}");
        assert_eq!(error.line, Some(4), "{error}");
        assert!(error.message.contains("duration above zero"), "{error}");
    }
}

#[test]
fn notify_needs_an_http_url_and_a_variable_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway.yaml");
    let text = |notify: &str| format!("{GOOD}notify: {notify}\n");
    let config = Config::parse(
        &file,
        &text("{url: \"https://hooks.example.com/tiktok\", secret_env: NOTIFY_SECRET}"),
    )
    .unwrap();
    assert_eq!(
        config.notify,
        Some(crate::notify::NotifyConfig {
            url: "https://hooks.example.com/tiktok".into(),
            secret_env: "NOTIFY_SECRET".into(),
        })
    );
    assert_eq!(Config::parse(&file, GOOD).unwrap().notify, None);
    let error = Config::parse(&file, &text("{url: \"ftp://x\", secret_env: S}")).unwrap_err();
    assert_eq!(error.key, "notify.url", "{error}");
    let error = Config::parse(&file, &text("{url: \"http://x\", secret_env: \"\"}")).unwrap_err();
    assert_eq!(error.key, "notify.secret_env", "{error}");
    let error = Config::parse(&file, &text("{url: \"http://x\"}")).unwrap_err();
    assert!(error.to_string().contains("secret_env"), "{error}");
}

#[test]
fn operators_need_a_hash_of_their_own_and_a_plain_name() {
    let (alice, bob) = ("ab".repeat(32), "CD".repeat(32));
    let config = parse(&format!(
        "{GOOD}operators:\n  alice: {{key_sha256: {alice}}}\n  bob: {{key_sha256: {bob}}}\n"
    ))
    .unwrap();
    assert_eq!(config.operators["alice"].key_sha256, alice);
    assert_eq!(config.operators["bob"].key_sha256, "cd".repeat(32));
    assert!(parse(GOOD).unwrap().operators.is_empty());
    fails(
        &format!("{GOOD}operators:\n  alice: {{key_sha256: abc}}\n"),
        Some(8),
        "operators.alice.key_sha256",
        "expected 64 hex digits",
    );
    fails(
        &format!(
            "{GOOD}operators:\n  alice: {{key_sha256: {alice}}}\n  bob: {{key_sha256: {alice}}}\n"
        ),
        Some(9),
        "operators.bob.key_sha256",
        "operator alice has the same key_sha256 as operator bob",
    );
    let agent_key = GOOD.replace(
        "access: [read]}",
        &format!("access: [read], key_sha256: {alice}}}"),
    );
    fails(
        &format!("{agent_key}operators:\n  alice: {{key_sha256: {alice}}}\n"),
        Some(8),
        "operators.alice.key_sha256",
        "agent reader has the same key_sha256 as operator alice",
    );
    fails(
        &format!("{GOOD}operators:\n  \"a b\": {{key_sha256: {alice}}}\n"),
        Some(8),
        "operators.a b",
        "letters, digits",
    );
    fails(
        &format!("{GOOD}operators:\n  alice: {{key: {alice}}}\n"),
        Some(8),
        "operators.alice.key",
        "Unknown field `key`, expected `key_sha256`",
    );
    assert!(is_operator_name("alice@example.com") && !is_operator_name(""));
}

#[test]
fn every_problem_is_reported_at_once_each_with_its_line_and_key() {
    let text = "\
tiktok: {base_url: 'ftp://x', client_key: k, rate_limit_scale: 0}
accounts: {demo: {token_store: tokens.json}}
agents:
  reader: {account: demo, scopes: [user.info.basic], access: [read], endpoints: [nope]}
  ghost: {account: nobody, scopes: [user.info.basic], access: [read]}
  poster: {account: demo, scopes: [video.upload], access: [read, write], approval_ttl: never}
operators:
  alice: {key_sha256: short}
http: {max_connections: 0, body_timeout: soon}
audit: audit.sqlite
";
    let error = parse(text).unwrap_err();
    let found: Vec<(Option<usize>, &str)> = error
        .problems()
        .map(|problem| (problem.line, problem.key.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (Some(1), "tiktok.base_url"),
            (Some(1), "tiktok.rate_limit_scale"),
            (Some(4), "agents.reader.endpoints"),
            (Some(5), "agents.ghost.account"),
            (Some(6), "agents.poster.approval_ttl"),
            (Some(8), "operators.alice.key_sha256"),
            (Some(9), "http.max_connections"),
            (Some(9), "http.body_timeout"),
        ]
    );
    // One line each, file and line first.
    let shown = error.to_string();
    assert_eq!(shown.lines().count(), 8, "{shown}");
    assert!(
        shown
            .lines()
            .all(|line| line.starts_with("conf/gateway.yaml:")),
        "{shown}"
    );
}

#[test]
fn the_audit_log_and_the_state_may_be_postgres_databases() {
    let url = "postgres://gateway:pw@db.internal/tiktok";
    let with_url = GOOD.replace("audit: audit.sqlite", &format!("audit: \"{url}\""));
    let config = parse(&format!("{with_url}state: state.sqlite\n")).unwrap();
    assert_eq!(config.audit, Location::Postgres(url.into()));
    assert_eq!(config.state.file(), Some(Path::new("conf/state.sqlite")));
    // With no state named, the state goes in the audit log's database.
    let config = parse(&with_url).unwrap();
    assert_eq!(config.state, Location::Postgres(url.into()));
    // The state alone in Postgres, the audit log in a file.
    let config = parse(&format!("{GOOD}state: \"{url}\"\n")).unwrap();
    assert_eq!(config.state, Location::Postgres(url.into()));
    assert_eq!(config.audit.file(), Some(Path::new("conf/audit.sqlite")));
    fails(
        &format!("{GOOD}state: \"postgres://h:notaport/db\"\n"),
        None,
        "state",
        "postgres://h:notaport/db: not a Postgres URL",
    );
    fails(
        &GOOD.replace("audit: audit.sqlite", "audit: \"postgres://h:notaport/db\""),
        None,
        "audit",
        "postgres://h:notaport/db: not a Postgres URL",
    );
    // Tokens too; the database holds every account's users, so the config names one.
    let tokens = GOOD.replace(
        "token_store: tokens.json",
        &format!("token_store: \"{url}\""),
    );
    fails(
        &tokens,
        None,
        "accounts.demo.open_id",
        "needed when token_store is a Postgres URL",
    );
    let named = tokens.replace("\"}}", "\", open_id: \"-000a\"}}");
    let config = parse(&named).unwrap();
    assert_eq!(
        config.accounts["demo"].token_store,
        Location::Postgres(url.into())
    );
}

#[test]
fn a_token_store_defaults_to_the_state_database_and_is_needed_otherwise() {
    let url = "postgres://gateway:pw@db.internal/tiktok";
    let unnamed = GOOD.replace("{token_store: tokens.json}", "{open_id: \"-000a\"}");
    assert_ne!(unnamed, GOOD);
    let config = parse(&format!("{unnamed}state: \"{url}\"\n")).unwrap();
    assert_eq!(
        config.accounts["demo"].token_store,
        Location::Postgres(url.into())
    );
    // The database holds every account's users: the account names its own.
    let nameless = GOOD.replace("{token_store: tokens.json}", "{}");
    fails(
        &format!("{nameless}state: \"{url}\"\n"),
        None,
        "accounts.demo.open_id",
        "token_store is left out, so the tokens are in the state's Postgres database",
    );
    // The state in a file: a token store must be named.
    fails(
        &unnamed,
        None,
        "accounts.demo.token_store",
        "it may be left out only when state is a Postgres URL",
    );
}
