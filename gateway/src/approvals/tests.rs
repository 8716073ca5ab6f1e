//! The approvals' tests, each on both backends of the shared state (a SQLite file, and a
//! throwaway Postgres cluster, skipped saying why where Postgres is not installed): a call
//! claimed once whichever process claims it, the cap of pending approvals, expiry on the
//! gateway's clock; and an older state file brought up to date.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde_json::json;
use tiktok_agent::StateFile;
use tiktok_agent::testing::Backend;

use super::*;
use crate::state::open_backend;

/// A new handle on the approvals of `backend`, as another process would open them.
fn open(backend: &Backend) -> Approvals {
    Approvals::new(open_backend(backend).approvals().unwrap())
}

tiktok_agent::on_both_backends!(
    schema = crate::schema::SCHEMA;
    a_call_is_claimed_once_and_its_outcome_kept,
    an_agent_parks_no_more_than_its_cap_until_one_is_decided,
    a_pending_approval_expires_once_at_its_deadline_on_the_gateways_clock_and_never_runs,
);

async fn park(approvals: &Approvals, agent: &str, cap: u32) -> Result<String, ApprovalError> {
    let id = Approvals::new_id();
    let arguments = json!({"post_info": {"title": "t"}});
    let ttl = Duration::from_secs(3600);
    approvals
        .park(&id, agent, "-000a", "video_init", &arguments, cap, ttl)
        .await
        .map(|_| id)
}

async fn a_call_is_claimed_once_and_its_outcome_kept(backend: Backend) {
    let approvals = open(&backend);
    let id = park(&approvals, "poster", 10).await.unwrap();
    let pending = approvals.list(Some(ApprovalState::Pending)).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].arguments, json!({"post_info": {"title": "t"}}));
    // Processes deciding at once: one wins.
    let other = open(&backend);
    let claims: Vec<_> = (0..8)
        .map(|index| {
            let approvals = if index % 2 == 0 {
                approvals.clone()
            } else {
                other.clone()
            };
            let id = id.clone();
            tokio::spawn(async move { approvals.claim(&id, "alice").await.ok() })
        })
        .collect();
    let mut won = Vec::new();
    for claim in claims {
        won.extend(claim.await.unwrap());
    }
    assert_eq!(won.len(), 1);
    // The claim answers with the approval as it moved.
    assert_eq!(won[0].state, ApprovalState::Running);
    assert_eq!(won[0].decided_by.as_deref(), Some("alice"));
    assert_eq!(won[0].arguments, json!({"post_info": {"title": "t"}}));
    assert!(matches!(
        approvals.deny(&id, "bob").await,
        Err(ApprovalError::NotPending {
            state: ApprovalState::Running,
            ..
        })
    ));
    approvals
        .finish(&id, Ending::Done, &json!({"publish_id": "p"}))
        .await
        .unwrap();
    let done = other.get(&id).await.unwrap();
    assert_eq!(done.state, ApprovalState::Done);
    assert_eq!(done.decided_by.as_deref(), Some("alice"));
    assert_eq!(done.outcome, Some(json!({"publish_id": "p"})));
    assert!(matches!(
        approvals.get("apv_nope").await,
        Err(ApprovalError::Unknown(_))
    ));
    #[cfg(unix)]
    if let Backend::Sqlite(dir) = &backend {
        use std::os::unix::fs::PermissionsExt;
        for name in ["state.sqlite", "state.sqlite-wal", "state.sqlite-shm"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }
}

async fn an_agent_parks_no_more_than_its_cap_until_one_is_decided(backend: Backend) {
    let approvals = open(&backend);
    let first = park(&approvals, "poster", 2).await.unwrap();
    park(&approvals, "poster", 2).await.unwrap();
    assert!(matches!(
        park(&approvals, "poster", 2).await,
        Err(ApprovalError::TooManyPending { limit: 2, .. })
    ));
    // Another agent's cap is its own.
    park(&approvals, "other", 2).await.unwrap();
    assert_eq!(approvals.pending("poster").await.unwrap(), 2);
    approvals.deny(&first, "alice").await.unwrap();
    // Sessions of two processes racing for the one free place: one gets it.
    let other = open(&backend);
    let racers: Vec<_> = (0..8)
        .map(|index| {
            let approvals = if index % 2 == 0 {
                approvals.clone()
            } else {
                other.clone()
            };
            tokio::spawn(async move { park(&approvals, "poster", 2).await.is_ok() })
        })
        .collect();
    let mut parked = 0;
    for racer in racers {
        parked += usize::from(racer.await.unwrap());
    }
    assert_eq!(parked, 1);
    assert_eq!(other.pending("poster").await.unwrap(), 2);
}

async fn a_pending_approval_expires_once_at_its_deadline_on_the_gateways_clock_and_never_runs(
    backend: Backend,
) {
    let now = Arc::new(AtomicI64::new(1_000_000));
    let clock = {
        let now = now.clone();
        Clock::from_fn(move || now.load(Ordering::SeqCst))
    };
    let approvals = open(&backend).with_clock(clock);
    let park = async || {
        let id = Approvals::new_id();
        let ttl = Duration::from_secs(60);
        let expires = approvals
            .park(&id, "poster", "-000a", "video_init", &json!({}), 10, ttl)
            .await
            .unwrap();
        (id, expires)
    };
    let (id, expires) = park().await;
    assert_eq!(expires, 1_000_000 + 60_000);
    let (kept, _) = park().await;
    now.store(expires - 1, Ordering::SeqCst);
    assert!(approvals.expire_due().await.unwrap().is_empty());
    approvals.claim(&kept, "alice").await.unwrap();
    now.store(expires, Ordering::SeqCst);
    // Past its deadline it cannot be claimed, even before anyone expires it.
    let refused = approvals.claim(&id, "alice").await.unwrap_err();
    assert!(
        matches!(refused, ApprovalError::Expired { .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("never run"), "{refused}");
    let expired = approvals.expire_due().await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].id, id);
    assert_eq!(expired[0].state, ApprovalState::Expired);
    assert_eq!(expired[0].decided_by.as_deref(), Some(EXPIRED_BY));
    // Once only; and it stays refused.
    assert!(approvals.expire_due().await.unwrap().is_empty());
    assert!(matches!(
        approvals.deny(&id, "bob").await,
        Err(ApprovalError::Expired { .. })
    ));
    assert_eq!(
        approvals.get(&id).await.unwrap().state,
        ApprovalState::Expired
    );
    assert_eq!(
        approvals.get(&kept).await.unwrap().state,
        ApprovalState::Running
    );
    assert_eq!(approvals.pending("poster").await.unwrap(), 0);
}

#[tokio::test]
async fn a_state_file_from_before_deadlines_is_brought_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let state = StateFile::open(&path).unwrap();
    state
        .with(|connection| {
            connection.execute_batch(
                "CREATE TABLE approvals (
                    id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, agent TEXT NOT NULL,
                    open_id TEXT NOT NULL, tool TEXT NOT NULL, arguments TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'unknown', 'denied')),
                    decided_ms INTEGER, decided_by TEXT, outcome TEXT);
                 CREATE INDEX approvals_state ON approvals (state, created_ms);
                 INSERT INTO approvals VALUES ('apv_old', 5, 'poster', '-000a', 'video_init', '{}', 'pending', NULL, NULL, NULL);",
            )
        })
        .unwrap();
    let approvals = Approvals::new(Arc::new(SqliteApprovals::new(state).unwrap()));
    let old = approvals.get("apv_old").await.unwrap();
    // The default deadline: a day after it was parked.
    assert_eq!(old.expires_ms, 5 + 24 * 60 * 60 * 1000);
    assert_eq!(old.state, ApprovalState::Pending);
    // Opened again (another process): nothing to do.
    SqliteApprovals::new(StateFile::open(&path).unwrap()).unwrap();
}
