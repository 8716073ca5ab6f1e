//! The `Store` trait's contract, run against both stores: every method, on the memory
//! store and on the SQLite store (`--state FILE`), so the two cannot drift. Then what only
//! the SQLite store promises: its contents survive reopening the file, and a file that is
//! not a state file is refused with its name.

mod contract;
mod records;

use serde_json::json;
use tiktok_mock::store::memory::MemoryStore;
use tiktok_mock::store::sqlite::{OpenError, SqliteStore};
use tiktok_mock::store::{DeliveryState, Fault, PendingFault, Store};

use crate::records::*;

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[test] fn $name() { crate::contract::$name(&super::MemoryStore::new()); })*
        }
        mod sqlite {
            $(#[test] fn $name() {
                crate::contract::$name(&super::SqliteStore::temporary().expect("a temporary state file"));
            })*
        }
    };
}

contract!(
    apps_are_kept_by_client_key,
    creators_are_kept_by_open_id,
    videos_shift_ties_and_refuse_duplicates,
    video_pages_are_public_newest_first_and_exclusive,
    comments_are_kept_per_video_in_time_order,
    tokens_are_kept_revoked_and_listed,
    codes_are_redeemed_once,
    refresh_tokens_change_under_their_lock,
    rate_windows_slide,
    faults_are_taken_hit_by_hit,
    the_call_log_is_numbered_in_order,
    posts_are_kept_with_their_secrets,
    clear_forgets_everything,
    durable_extras_are_kept_only_by_a_durable_store,
);

// ---- What only the SQLite store promises.

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tiktok-mock-contract-{}-{}",
        std::process::id(),
        tiktok_mock::random::random_text(12)
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

#[test]
fn sqlite_contents_survive_reopening_the_file() {
    let dir = temp_dir();
    let path = dir.join("state.sqlite");
    {
        let store = SqliteStore::open(&path).expect("a new file");
        assert!(store.was_fresh());
        store.put_app(app("app"));
        store.put_creator(creator("a"));
        store.insert_video(video(1, "a", 1000)).expect("insert");
        store.insert_video(hidden(2, "a", 1000)).expect("insert");
        store.insert_comment(comment(1, 1, 5)).expect("insert");
        store.put_token(token("act.1", "app", Some("a")));
        store
            .insert_post(post("p1", "a", 1, Some("u1")))
            .expect("insert");
        store.set_post_open("a", "p1", false);
        store.put_delivery(&delivery(1, DeliveryState::InFlight));
        store.put_meta("clock_ms", &json!(12345));
        store.record_call(call(1, "/"));
        store.push_fault(PendingFault {
            endpoint: "user_info".to_owned(),
            fault: Fault::Latency { latency_ms: 1 },
            remaining: 1,
        });
        // Dropped without a checkpoint: what is in the WAL must come back.
    }
    let store = SqliteStore::open(&path).expect("the same file");
    assert!(!store.was_fresh());
    assert_eq!(store.app("app"), Some(app("app")));
    assert_eq!(store.video_count("a"), 1);
    assert_eq!(store.hidden_videos("a").len(), 1);
    assert_eq!(store.video("2").expect("kept").create_time_ms, 1001);
    assert_eq!(store.comments(1), [comment(1, 1, 5)]);
    assert_eq!(store.token("act.1"), Some(token("act.1", "app", Some("a"))));
    assert_eq!(store.post("p1"), Some(post("p1", "a", 1, Some("u1"))));
    assert_eq!(store.open_posts(None), Vec::<String>::new());
    assert_eq!(
        store.saved_deliveries(),
        [delivery(1, DeliveryState::InFlight)]
    );
    assert_eq!(store.meta("clock_ms"), Some(json!(12345)));
    // Not kept: the call log, faults, rate windows.
    assert_eq!(store.calls(), []);
    assert_eq!(store.faults(), []);
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sqlite_refuses_a_file_that_is_not_a_state_file() {
    let dir = temp_dir();
    let text = dir.join("notes.txt");
    std::fs::write(
        &text,
        "not a database at all, just some text that is long enough to look like a header",
    )
    .expect("write");
    let error = SqliteStore::open(&text).expect_err("refused");
    assert!(matches!(error, OpenError::Sqlite { .. }), "{error:?}");
    assert!(error.to_string().contains("notes.txt"), "{error}");

    let foreign = dir.join("other.sqlite");
    edited_state_file(&foreign, 68, 0x1234_5678);
    let error = SqliteStore::open(&foreign).expect_err("refused");
    assert!(matches!(error, OpenError::Foreign { .. }), "{error:?}");
    assert!(error.to_string().contains("other.sqlite"), "{error}");

    let newer = dir.join("newer.sqlite");
    edited_state_file(&newer, 60, 99);
    let error = SqliteStore::open(&newer).expect_err("refused");
    assert!(
        matches!(error, OpenError::Version { found: 99, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("newer.sqlite"), "{error}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A state file with one 4-byte field of its header changed: 68 is the application id
/// (another program's database), 60 the user version (another schema version).
fn edited_state_file(path: &std::path::Path, offset: usize, value: u32) {
    {
        let store = SqliteStore::open(path).expect("a new file");
        store.checkpoint();
    }
    let _ = std::fs::remove_file(format!("{}-wal", path.display()));
    let _ = std::fs::remove_file(format!("{}-shm", path.display()));
    let mut bytes = std::fs::read(path).expect("read");
    bytes[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
    std::fs::write(path, &bytes).expect("write");
}
