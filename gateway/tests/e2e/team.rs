//! A team's gateways at scale: three `serve --http` processes on one Postgres database
//! (state, audit log and TikTok tokens in it), four agents making 300 calls across them over
//! streamable HTTP, one process SIGKILLed mid-run and started again. Afterwards: budgets
//! exact, every approved write sent to TikTok once (approved by racing processes), one
//! audit chain with no gap, no refresh token sent twice, and every answered call audited.
//! Skipped, saying why, where Postgres is not installed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use tiktok_agent::testing::Postgres;

use crate::setup::{DEMO_CREATOR, Setup, assert_success, call, pull_upload, stdout};

/// Gateway processes.
const GATEWAYS: usize = 3;

/// The access tokens' lifetime, seconds: the client refreshes 300 s ahead of expiry, so a
/// token is refreshed 1 s after it is issued.
const TOKEN_TTL: i64 = 301;

/// The least time from the tokens' import to the start of each third of the calls.
const PART_SPACING: Duration = Duration::from_millis(1500);

/// A call's wait for its answer before its gateway is taken for dead (above Postgres's
/// 10 s lock timeout, so a slow call is not mistaken for a dead gateway).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// The counter agent's budget, calls a minute.
const BUDGET: usize = 40;

/// Each agent's calls: the tool and its arguments, in order.
fn plan() -> BTreeMap<&'static str, Vec<(&'static str, Value)>> {
    let user_info = || ("user_info", json!({"fields": ["open_id"]}));
    let video_list = || ("video_list", json!({"fields": ["id"], "max_count": 5}));
    let poster = (0..20)
        .map(|index| {
            if index % 2 == 0 {
                ("inbox_video_init", pull_upload())
            } else {
                user_info()
            }
        })
        .collect();
    BTreeMap::from([
        ("reader", (0..100).map(|_| user_info()).collect()),
        ("lister", (0..100).map(|_| video_list()).collect()),
        ("counter", (0..80).map(|_| user_info()).collect()),
        ("poster", poster),
    ])
}

/// What became of one agent's calls.
#[derive(Default)]
struct Outcomes {
    /// Answered as a success (held writes included), by tool.
    answered: BTreeMap<&'static str, usize>,
    /// Answered as a tool error, with its text.
    refused: Vec<String>,
    /// Attempts at a gateway that died before answering or was dead (each then sent to
    /// another).
    lost: usize,
    /// When its first and its last call were answered.
    span: Option<(Instant, Instant)>,
}

type Session = RunningService<RoleClient, ()>;

async fn connect(url: &str, key: &str) -> Session {
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(url)
            .auth_header(key.to_string()),
    );
    ().serve(transport).await.unwrap()
}

/// Runs `calls` (the `range` of an agent's plan) across `sessions` in turn; a call whose
/// gateway fails to answer is counted lost and sent to the next one, as a load balancer
/// would. `done` counts every finished call.
async fn run_calls(
    sessions: &[Option<Session>],
    calls: &[(&'static str, Value)],
    first: usize,
    outcomes: &mut Outcomes,
    done: &AtomicUsize,
) {
    for (offset, (tool, arguments)) in calls.iter().enumerate() {
        let mut gateway = (first + offset) % sessions.len();
        loop {
            let Some(session) = &sessions[gateway] else {
                gateway = (gateway + 1) % sessions.len();
                continue;
            };
            let answer =
                tokio::time::timeout(ANSWER_TIMEOUT, call(session, tool, arguments.clone())).await;
            match answer {
                Ok(Ok(result)) if result.is_error == Some(true) => {
                    outcomes
                        .refused
                        .push(crate::setup::tool_error(&result).to_string());
                    break;
                }
                Ok(Ok(_)) => {
                    *outcomes.answered.entry(tool).or_default() += 1;
                    break;
                }
                Ok(Err(_)) | Err(_) => {
                    outcomes.lost += 1;
                    gateway = (gateway + 1) % sessions.len();
                }
            }
        }
        let now = Instant::now();
        let first = outcomes.span.map_or(now, |(first, _)| first);
        outcomes.span = Some((first, now));
        done.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_gateways_on_one_postgres_outlive_a_kill_with_exact_budgets_and_one_chain() {
    let Some(postgres) = Postgres::start() else {
        return;
    };
    let started = Instant::now();
    let url = postgres.url();
    let setup = Setup::scaled(100.0).await;
    let (lister_key, lister_hash) = tiktok_gateway::http::new_key();
    let (counter_key, counter_hash) = tiktok_gateway::http::new_key();
    setup.add_agents(&[
        &format!("lister: {{account: demo, scopes: [video.list], access: [read], key_sha256: {lister_hash}}}"),
        &format!("counter: {{account: demo, scopes: [user.info.basic], access: [read], budgets: {{calls_per_minute: {BUDGET}}}, key_sha256: {counter_hash}}}"),
    ]);
    // Everything in the one database: the state and the tokens default to the audit log's.
    setup.edit_config(|text| {
        text.replacen("audit: audit.sqlite", &format!("audit: \"{url}\""), 1)
            .replacen(
                "{token_store: tokens.json}",
                &format!("{{open_id: \"{DEMO_CREATOR}\"}}"),
                1,
            )
    });
    let migrated = setup.run(&["migrate"]).await;
    assert_success(&migrated);
    // Access tokens due for refresh soon after they are issued (the client refreshes 300 s
    // ahead of expiry, so 1 s after issue): refreshed again and again during the run, each time by whichever
    // process needs one first.
    setup
        .post(
            "/_mock/settings",
            json!({"oauth": {"access_token_ttl_seconds": TOKEN_TTL}}),
        )
        .await;
    setup
        .import(json!({"open_id": DEMO_CREATOR, "scopes": ["user.info.basic", "video.list", "video.publish", "video.upload"], "expires_in": TOKEN_TTL}))
        .await;
    let run_from_ms = setup.get("/_mock/clock").await["now_ms"].as_i64().unwrap();
    let imported = Instant::now();

    let mut servers = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..GATEWAYS {
        let (server, url) = setup.serve_http().await;
        servers.push(Some(server));
        urls.push(url);
    }
    let keys = BTreeMap::from([
        ("reader", setup.reader_key.clone()),
        ("lister", lister_key),
        ("counter", counter_key),
        ("poster", setup.poster_key.clone()),
    ]);
    let sessions_on = async |urls: &[String], agent: &str| {
        let mut sessions = Vec::new();
        for url in urls {
            sessions.push(Some(connect(url, &keys[agent]).await));
        }
        sessions
    };
    let plan = plan();
    let total: usize = plan.values().map(Vec::len).sum();
    assert_eq!(total, 300);
    let mut sessions = BTreeMap::new();
    for agent in plan.keys() {
        sessions.insert(*agent, sessions_on(&urls, agent).await);
    }
    let mut outcomes: BTreeMap<&str, Outcomes> = plan
        .keys()
        .map(|agent| (*agent, Outcomes::default()))
        .collect();
    let done = Arc::new(AtomicUsize::new(0));

    // Each agent's calls in three thirds: all gateways; then gateway 1 killed during the
    // second; then gateway 1 started again, with new sessions, for the last.
    let third = |calls: &[(&'static str, Value)], part: usize| {
        let size = calls.len().div_ceil(3);
        calls[(part * size).min(calls.len())..((part + 1) * size).min(calls.len())].to_vec()
    };
    for part in 0..3 {
        // Each third starts at least 1.5 s after the one before, so however fast the calls
        // go, tokens fall due (1 s after issue, to the second) during the run at least twice.
        tokio::time::sleep_until((imported + PART_SPACING * part as u32).into()).await;
        let before_part = done.load(Ordering::SeqCst);
        let runs = plan.iter().map(|(agent, calls)| {
            let calls = third(calls, part);
            let sessions = &sessions[agent];
            let done = done.clone();
            let mut mine = std::mem::take(outcomes.get_mut(agent).unwrap());
            let agent = *agent;
            async move {
                run_calls(sessions, &calls, part, &mut mine, &done).await;
                (agent, mine)
            }
        });
        let killer = async {
            if part != 1 {
                return;
            }
            // Mid-run: once 20 calls of this part are answered, with more in flight.
            while done.load(Ordering::SeqCst) < before_part + 20 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let mut server = servers[1].take().unwrap();
            server.start_kill().unwrap();
            server.wait().await.unwrap();
        };
        let (finished, ()) = tokio::join!(futures::future::join_all(runs), killer);
        for (agent, mine) in finished {
            outcomes.insert(agent, mine);
        }
        if part == 1 {
            // Started again, on a new port; each agent opens a session on it.
            let (server, url) = setup.serve_http().await;
            servers[1] = Some(server);
            urls[1] = url;
            for agent in plan.keys() {
                let session = connect(&urls[1], &keys[agent]).await;
                sessions.get_mut(agent).unwrap()[1] = Some(session);
            }
        }
    }
    assert_eq!(done.load(Ordering::SeqCst), total);
    let lost: usize = outcomes.values().map(|outcome| outcome.lost).sum();
    let calls_took = started.elapsed();

    // Every write the poster parked, approved by two racing `approvals approve` processes
    // each (fresh processes, none of them a server): each runs once.
    let listed = setup.run(&["approvals", "list"]).await;
    assert_success(&listed);
    let ids: Vec<String> = stdout(&listed)
        .lines()
        .map(|line| line.split_whitespace().next().unwrap().to_string())
        .collect();
    // A write parked by a gateway killed before it answered was sent again, and may be
    // parked twice.
    let parked = outcomes["poster"].answered.get("inbox_video_init").copied();
    let poster_lost = outcomes["poster"].lost;
    assert!(
        ids.len() >= parked.unwrap_or(0) && ids.len() <= 10 + poster_lost,
        "{ids:?} for {parked:?} held answers"
    );
    let sends_before = count(&setup.mock_calls().await, "inbox_video_init");
    let approvals = ids.iter().flat_map(|id| {
        [0, 1].map(|_| async {
            setup
                .run(&["approvals", "approve", id, "--by", "team-test"])
                .await
        })
    });
    let approved = futures::future::join_all(approvals).await;
    let sends = count(&setup.mock_calls().await, "inbox_video_init") - sends_before;
    assert_eq!(sends, ids.len(), "each approved write sent once");
    let listed = setup.run(&["approvals", "list", "--all"]).await;
    assert_success(&listed);
    let ended = stdout(&listed);
    assert_eq!(ended.lines().count(), ids.len(), "{ended}");
    for line in ended.lines() {
        let state = line.split_whitespace().nth(1).unwrap();
        assert!(matches!(state, "done" | "failed"), "{line}");
    }
    // Of each pair, one ran it (and said how it went) and the other was told it was not
    // pending any more.
    for pair in approved.chunks(2) {
        let lost: Vec<bool> = pair
            .iter()
            .map(|output| String::from_utf8_lossy(&output.stderr).contains("not pending"))
            .collect();
        assert_eq!(
            lost.iter().filter(|lost| **lost).count(),
            1,
            "{:?}",
            pair.iter()
                .map(|output| String::from_utf8_lossy(&output.stderr).into_owned())
                .collect::<Vec<_>>()
        );
        let winner = &pair[usize::from(lost[0])];
        let said = format!(
            "{}{}",
            stdout(winner),
            String::from_utf8_lossy(&winner.stderr)
        );
        assert!(
            said.contains("publish_id") || said.contains("the call failed"),
            "{said}"
        );
    }

    // Budgets exact across the processes: the counter's calls counted once each, to its
    // budget, with the call that died with its gateway counted if it was taken.
    let database = tiktok_agent::PgDatabase::connect(&url).unwrap();
    let client = database.client().await.unwrap();
    let taken: i64 = client
        .query_one(
            "SELECT count(*) FROM budget_use WHERE agent = 'counter'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(taken as usize, BUDGET);
    let counter = &outcomes["counter"];
    // The budget's window is a minute: the exact count holds if the counter's calls all
    // fell in one.
    let (first, last) = counter.span.unwrap();
    assert!(
        last - first < Duration::from_secs(55),
        "the counter's calls took {:?}, longer than its budget's minute: this run was too \
         slow to check the budget exactly",
        last - first
    );
    let counter_ok = counter.answered.get("user_info").copied().unwrap_or(0);
    assert!(counter_ok <= BUDGET && counter_ok + counter.lost >= BUDGET);
    assert!(
        counter
            .refused
            .iter()
            .all(|text| text.contains(&format!("budget calls_per_minute of {BUDGET} used up"))),
        "{:?}",
        counter.refused
    );
    for (agent, outcome) in &outcomes {
        if *agent != "counter" {
            assert!(outcome.refused.is_empty(), "{agent}: {:?}", outcome.refused);
        }
    }

    // One chain, no gap, every answered call in it.
    let verified = setup.run(&["audit", "verify"]).await;
    assert_success(&verified);
    let records = stdout(&verified);
    assert!(records.starts_with("audit log intact: "), "{records}");
    for (agent, outcome) in &outcomes {
        let audited = setup.audit(agent).await;
        for (tool, answered) in &outcome.answered {
            let decision = if *tool == "inbox_video_init" {
                "parked"
            } else {
                "allowed"
            };
            let found = audited
                .iter()
                .filter(|record| record["decision"] == decision && record["endpoint"] == *tool)
                .count();
            assert!(
                found >= *answered && found <= answered + outcome.lost,
                "{agent} {tool}: {found} {decision} records for {answered} answers"
            );
        }
        // Refused answers too: each budget refusal is a denied record.
        let denied = audited
            .iter()
            .filter(|record| record["decision"] == "denied")
            .count();
        assert!(
            denied >= outcome.refused.len() && denied <= outcome.refused.len() + outcome.lost,
            "{agent}: {denied} denied records for {} refusals",
            outcome.refused.len()
        );
    }

    // No refresh token was sent twice: TikTok rotates them, and a second use would have
    // been refused (the mock's call log keeps each token call's status).
    let token_calls = setup.control.calls_to("token").await;
    let refreshes: Vec<&Value> = token_calls
        .iter()
        .filter(|call| call["at_ms"].as_i64().unwrap() >= run_from_ms)
        .collect();
    assert!(
        refreshes.len() >= 2,
        "tokens due every second were refreshed during the {calls_took:?} run: {refreshes:#?}"
    );
    for refresh in &refreshes {
        assert_eq!(refresh["status"], 200, "{refreshes:#?}");
    }
    eprintln!(
        "team: {total} calls by 4 agents across {GATEWAYS} gateways in {:.1} s, 1 SIGKILL and \
         1 restart, {lost} attempts failed at the killed process and were sent to another, {} writes \
         approved by {} racing approvers, {} token refreshes, {}",
        calls_took.as_secs_f64(),
        ids.len(),
        approved.len(),
        refreshes.len(),
        records.trim()
    );
}

fn count(calls: &[String], endpoint: &str) -> usize {
    calls.iter().filter(|call| *call == endpoint).count()
}
