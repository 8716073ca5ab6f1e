//! The memory store's own rules: ties, paging, the rate window.

use super::*;

fn creator(open_id: &str) -> Creator {
    serde_json::from_value(serde_json::json!({"open_id": open_id})).expect("creator")
}

fn video(id: u64, open_id: &str, create_time_ms: i64) -> Video {
    serde_json::from_value(serde_json::json!({
        "id": id.to_string(), "open_id": open_id, "create_time_ms": create_time_ms,
    }))
    .expect("video")
}

#[test]
fn ties_on_one_millisecond_are_shifted() {
    let store = MemoryStore::new();
    store.put_creator(creator("a"));
    let first = store.insert_video(video(1, "a", 1000)).expect("insert");
    let second = store.insert_video(video(2, "a", 1000)).expect("insert");
    assert_eq!(first.create_time_ms, 1000);
    assert_eq!(second.create_time_ms, 1001);
    assert_eq!(
        store.insert_video(video(1, "a", 5)),
        Err(StoreError::DuplicateId("1".to_owned()))
    );
}

#[test]
fn a_tie_at_the_end_of_time_is_refused_not_looped() {
    let store = MemoryStore::new();
    store.put_creator(creator("a"));
    store.insert_video(video(1, "a", i64::MAX)).expect("insert");
    assert_eq!(
        store.insert_video(video(2, "a", i64::MAX)),
        Err(StoreError::TimeOutOfRange)
    );
    // The refused video did not claim its id.
    assert!(store.video("2").is_none());
    store.insert_video(video(2, "a", 5)).expect("insert");
}

#[test]
fn pages_are_newest_first_and_exclusive() {
    let store = MemoryStore::new();
    store.put_creator(creator("a"));
    for n in 0..5 {
        store
            .insert_video(video(n, "a", 1000 + n as i64))
            .expect("insert");
    }
    let page = store.video_page("a", None, 2);
    let times: Vec<i64> = page.videos.iter().map(|v| v.create_time_ms).collect();
    assert_eq!(times, vec![1004, 1003]);
    assert!(page.has_more);
    let page = store.video_page("a", Some(1001), 2);
    assert_eq!(page.videos.len(), 1);
    assert!(!page.has_more);
}

#[test]
fn window_slides() {
    let store = MemoryStore::new();
    assert!(store.try_acquire("k", 0, 2, 60_000).allowed);
    assert!(store.try_acquire("k", 30_000, 2, 60_000).allowed);
    assert!(!store.try_acquire("k", 59_999, 2, 60_000).allowed);
    assert!(store.try_acquire("k", 60_000, 2, 60_000).allowed);
    assert!(!store.try_acquire("k", 60_001, 2, 60_000).allowed);
}

#[test]
fn calls_in_one_millisecond_count_one_by_one() {
    let store = MemoryStore::new();
    for n in 1..=3 {
        let decision = store.try_acquire("k", 10, 3, 1_000);
        assert_eq!((decision.allowed, decision.in_window), (true, n));
    }
    assert!(!store.try_acquire("k", 500, 3, 1_000).allowed);
    // All three leave the window together.
    assert_eq!(store.try_acquire("k", 1_010, 3, 1_000).in_window, 1);
    assert_eq!(store.try_acquire("k", 1_010, 3, 1_000).in_window, 2);
}
