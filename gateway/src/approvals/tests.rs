//! The approvals' tests: a call claimed once, the cap of pending approvals, expiry on the
//! gateway's clock, and an older state file brought up to date.

mod claims {
    use super::super::*;
    use serde_json::json;

    #[test]
    fn a_call_is_claimed_once_and_its_outcome_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.sqlite");
        let open = |path: &std::path::Path| Approvals::new(StateFile::open(path).unwrap()).unwrap();
        let approvals = open(&path);
        let id = Approvals::new_id();
        approvals
            .park(
                &id,
                "poster",
                "-000a",
                "video_init",
                &json!({"post_info": {"title": "t"}}),
                10,
                Duration::from_secs(3600),
            )
            .unwrap();
        assert_eq!(
            approvals.list(Some(ApprovalState::Pending)).unwrap().len(),
            1
        );
        // Two processes deciding at once: one wins.
        let other = open(&path);
        let threads: Vec<_> = (0..8)
            .map(|index| {
                let approvals = if index % 2 == 0 {
                    approvals.clone()
                } else {
                    other.clone()
                };
                let id = id.clone();
                std::thread::spawn(move || approvals.claim(&id, "alice").is_ok())
            })
            .collect();
        let won: usize = threads
            .into_iter()
            .map(|thread| usize::from(thread.join().unwrap()))
            .sum();
        assert_eq!(won, 1);
        assert!(matches!(
            approvals.deny(&id, "bob"),
            Err(ApprovalError::NotPending {
                state: ApprovalState::Running,
                ..
            })
        ));
        approvals
            .finish(&id, Ending::Done, &json!({"publish_id": "p"}))
            .unwrap();
        let done = approvals.get(&id).unwrap();
        assert_eq!(done.state, ApprovalState::Done);
        assert_eq!(done.decided_by.as_deref(), Some("alice"));
        assert_eq!(done.outcome, Some(json!({"publish_id": "p"})));
        assert!(matches!(
            approvals.get("apv_nope"),
            Err(ApprovalError::Unknown(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for name in [
                "approvals.sqlite",
                "approvals.sqlite-wal",
                "approvals.sqlite-shm",
            ] {
                let mode = std::fs::metadata(dir.path().join(name))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{name}");
            }
        }
    }
}

mod cap_tests {
    use super::super::*;
    use serde_json::json;

    #[test]
    fn an_agent_parks_no_more_than_its_cap_until_one_is_decided() {
        let dir = tempfile::tempdir().unwrap();
        let approvals =
            Approvals::new(StateFile::open(&dir.path().join("state.sqlite")).unwrap()).unwrap();
        let park = |agent: &str| {
            let id = Approvals::new_id();
            approvals
                .park(
                    &id,
                    agent,
                    "-000a",
                    "video_init",
                    &json!({}),
                    2,
                    Duration::from_secs(3600),
                )
                .map(|_| id)
        };
        let first = park("poster").unwrap();
        park("poster").unwrap();
        assert!(matches!(
            park("poster"),
            Err(ApprovalError::TooManyPending { limit: 2, .. })
        ));
        // Another agent's cap is its own.
        park("other").unwrap();
        assert_eq!(approvals.pending("poster").unwrap(), 2);
        approvals.deny(&first, "alice").unwrap();
        park("poster").unwrap();
        assert!(park("poster").is_err());
    }
}

mod expiry_tests {
    use super::super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    use serde_json::json;

    #[test]
    fn a_pending_approval_expires_once_at_its_deadline_on_the_gateways_clock_and_never_runs() {
        let dir = tempfile::tempdir().unwrap();
        let now = Arc::new(AtomicI64::new(1_000_000));
        let clock = {
            let now = now.clone();
            Clock::from_fn(move || now.load(Ordering::SeqCst))
        };
        let approvals = Approvals::new(StateFile::open(&dir.path().join("state.sqlite")).unwrap())
            .unwrap()
            .with_clock(clock);
        let park = || {
            let id = Approvals::new_id();
            let ttl = Duration::from_secs(60);
            let expires = approvals
                .park(&id, "poster", "-000a", "video_init", &json!({}), 10, ttl)
                .unwrap();
            (id, expires)
        };
        let (id, expires) = park();
        assert_eq!(expires, 1_000_000 + 60_000);
        let (kept, _) = park();
        now.store(expires - 1, Ordering::SeqCst);
        assert!(approvals.expire_due().unwrap().is_empty());
        approvals.claim(&kept, "alice").unwrap();
        now.store(expires, Ordering::SeqCst);
        // Past its deadline it cannot be claimed, even before anyone expires it.
        let refused = approvals.claim(&id, "alice").unwrap_err();
        assert!(
            matches!(refused, ApprovalError::Expired { .. }),
            "{refused:?}"
        );
        assert!(refused.to_string().contains("never run"), "{refused}");
        let expired = approvals.expire_due().unwrap();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].id, id);
        assert_eq!(expired[0].state, ApprovalState::Expired);
        assert_eq!(expired[0].decided_by.as_deref(), Some(EXPIRED_BY));
        // Once only; and it stays refused.
        assert!(approvals.expire_due().unwrap().is_empty());
        assert!(matches!(
            approvals.deny(&id, "bob"),
            Err(ApprovalError::Expired { .. })
        ));
        assert_eq!(approvals.get(&id).unwrap().state, ApprovalState::Expired);
        assert_eq!(approvals.get(&kept).unwrap().state, ApprovalState::Running);
        assert_eq!(approvals.pending("poster").unwrap(), 0);
    }

    #[test]
    fn a_state_file_from_before_deadlines_is_brought_up_to_date() {
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
        let approvals = Approvals::new(state).unwrap();
        let old = approvals.get("apv_old").unwrap();
        assert_eq!(old.expires_ms, 5 + LEGACY_TTL_MS);
        assert_eq!(old.state, ApprovalState::Pending);
        // Opened again (another process): nothing to do.
        Approvals::new(StateFile::open(&path).unwrap()).unwrap();
    }
}
