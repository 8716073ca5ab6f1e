//! The contract itself, one function per group of methods, each given a fresh store.

use serde_json::json;
use tiktok_api::{ErrorCode, Scope};
use tiktok_mock::store::{
    AuthCode, DeliveryState, Fault, PendingFault, RefreshRecord, Store, StoreError,
};

use crate::records::*;

pub fn apps_are_kept_by_client_key(store: &dyn Store) {
    store.put_app(app("b"));
    store.put_app(app("a"));
    let mut renamed = app("b");
    renamed.name = "B".to_owned();
    store.put_app(renamed.clone());
    let keys: Vec<String> = store.apps().into_iter().map(|a| a.client_key).collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(store.app("b"), Some(renamed));
    assert_eq!(store.app("c"), None);
}

pub fn creators_are_kept_by_open_id(store: &dyn Store) {
    store.put_creator(creator("b"));
    store.put_creator(creator("a"));
    let mut changed = creator("a");
    changed.follower_count = 7;
    store.put_creator(changed.clone());
    assert_eq!(store.creator("a"), Some(changed.clone()));
    assert_eq!(store.creator_shared("a").as_deref(), Some(&changed));
    assert_eq!(store.creator("zz"), None);
    let ids: Vec<String> = store.creators().into_iter().map(|c| c.open_id).collect();
    assert_eq!(ids, ["a", "b"]);
}

pub fn videos_shift_ties_and_refuse_duplicates(store: &dyn Store) {
    assert_eq!(
        store.insert_video(video(1, "nobody", 1000)),
        Err(StoreError::UnknownCreator("nobody".to_owned()))
    );
    store.put_creator(creator("a"));
    let first = store.insert_video(video(1, "a", 1000)).expect("insert");
    let second = store.insert_video(video(2, "a", 1000)).expect("insert");
    // A hidden video takes its millisecond too.
    let third = store.insert_video(hidden(3, "a", 1000)).expect("insert");
    assert_eq!(
        (
            first.create_time_ms,
            second.create_time_ms,
            third.create_time_ms
        ),
        (1000, 1001, 1002)
    );
    assert_eq!(
        store.insert_video(video(1, "a", 5)),
        Err(StoreError::DuplicateId("1".to_owned()))
    );
    assert_eq!(store.video("2"), Some(second));
    assert_eq!(store.video("404"), None);
    store.insert_video(video(9, "a", i64::MAX)).expect("insert");
    assert_eq!(
        store.insert_video(video(10, "a", i64::MAX)),
        Err(StoreError::TimeOutOfRange)
    );
    assert_eq!(store.video("10"), None, "a refused video claims no id");
}

pub fn video_pages_are_public_newest_first_and_exclusive(store: &dyn Store) {
    store.put_creator(creator("a"));
    store.put_creator(creator("b"));
    for n in 0..5 {
        store
            .insert_video(video(n, "a", 1000 + n as i64))
            .expect("insert");
    }
    store.insert_video(hidden(50, "a", 1010)).expect("insert");
    store.insert_video(hidden(51, "a", 900)).expect("insert");
    store.insert_video(video(60, "b", 1003)).expect("insert");
    let page = store.video_page("a", None, 2);
    let times: Vec<i64> = page.videos.iter().map(|v| v.create_time_ms).collect();
    assert_eq!(times, [1004, 1003]);
    assert!(page.has_more);
    let page = store.video_page("a", Some(1003), 2);
    let times: Vec<i64> = page.videos.iter().map(|v| v.create_time_ms).collect();
    assert_eq!(times, [1002, 1001]);
    assert!(page.has_more);
    let page = store.video_page("a", Some(1001), 2);
    assert_eq!(page.videos.len(), 1);
    assert!(!page.has_more);
    let page = store.video_page("a", None, 5);
    assert_eq!(page.videos.len(), 5);
    assert!(!page.has_more, "exactly a page left: no more");
    assert_eq!(store.video_page("nobody", None, 5).videos, []);
    // The visiting read gives the same page.
    let mut seen = Vec::new();
    let more = store.visit_video_page("a", Some(1004), 3, &mut |view| seen.push(view.to_video()));
    assert_eq!(seen, store.video_page("a", Some(1004), 3).videos);
    assert!(more);
    assert_eq!(store.video_count("a"), 5);
    assert_eq!(store.video_count("b"), 1);
    assert_eq!(store.video_count("nobody"), 0);
    let hidden_ids: Vec<String> = store.hidden_videos("a").into_iter().map(|v| v.id).collect();
    assert_eq!(hidden_ids, ["50", "51"]);
    assert_eq!(store.hidden_videos("b"), []);
    // By id: asked order, no repeats, public videos of that creator only.
    let ids: Vec<String> = ["3", "1", "3", "50", "60", "404"]
        .iter()
        .map(|id| id.to_string())
        .collect();
    let found: Vec<String> = store
        .videos_by_ids("a", &ids)
        .into_iter()
        .map(|v| v.id)
        .collect();
    assert_eq!(found, ["3", "1"]);
}

pub fn comments_are_kept_per_video_in_time_order(store: &dyn Store) {
    store.insert_comment(comment(3, 100, 50)).expect("insert");
    store.insert_comment(comment(1, 100, 60)).expect("insert");
    store.insert_comment(comment(2, 100, 50)).expect("insert");
    store.insert_comment(comment(4, 200, 10)).expect("insert");
    assert_eq!(
        store.insert_comment(comment(1, 200, 1)),
        Err(StoreError::DuplicateId("1".to_owned()))
    );
    let ids: Vec<i64> = store.comments(100).into_iter().map(|c| c.id).collect();
    assert_eq!(ids, [2, 3, 1]);
    assert_eq!(store.comments(300), []);
    assert_eq!(store.comment(4), Some(comment(4, 200, 10)));
    assert_eq!(store.comment(5), None);
}

pub fn tokens_are_kept_revoked_and_listed(store: &dyn Store) {
    store.put_token(token("act.1", "app", Some("a")));
    store.put_token(token("act.2", "app", Some("a")));
    store.put_token(token("act.3", "other", Some("a")));
    store.put_token(token("clt.1", "app", None));
    assert_eq!(store.token("act.1"), Some(token("act.1", "app", Some("a"))));
    assert_eq!(
        store.token_shared("clt.1").as_deref(),
        Some(&token("clt.1", "app", None))
    );
    assert_eq!(store.token("act.404"), None);
    assert!(store.revoke_token("act.1"));
    assert!(!store.revoke_token("act.404"));
    assert!(store.token("act.1").expect("kept").revoked);
    let mut mine: Vec<String> = store
        .tokens_of("app", "a")
        .into_iter()
        .map(|t| t.access_token)
        .collect();
    mine.sort();
    assert_eq!(mine, ["act.1", "act.2"]);
    // Replacing a token replaces it.
    let mut longer = token("act.2", "app", Some("a"));
    longer.expires_at_ms = 99_999;
    store.put_token(longer.clone());
    assert_eq!(store.token("act.2"), Some(longer));
}

pub fn codes_are_redeemed_once(store: &dyn Store) {
    let code = AuthCode {
        code: "code-1".to_owned(),
        client_key: "app".to_owned(),
        open_id: "a".to_owned(),
        scopes: vec![Scope::UserInfoBasic],
        redirect_uri: "https://example.com/cb".to_owned(),
        code_challenge: Some("abc".to_owned()),
        expires_at_ms: 5_000,
        used: false,
        access_token: None,
    };
    store.put_auth_code(code.clone());
    assert_eq!(store.redeem_auth_code("code-1"), Some(code.clone()));
    let again = store.redeem_auth_code("code-1").expect("still known");
    assert!(again.used, "the second redemption sees the first");
    assert_eq!(store.redeem_auth_code("code-404"), None);
}

pub fn refresh_tokens_change_under_their_lock(store: &dyn Store) {
    let record = RefreshRecord {
        refresh_token: "rft.1".to_owned(),
        client_key: "app".to_owned(),
        open_id: "a".to_owned(),
        scopes: vec![Scope::UserInfoBasic],
        expires_at_ms: 9_000,
        revoked: false,
        rotated_to: None,
        access_tokens: vec!["act.1".to_owned()],
    };
    store.put_refresh_token(record.clone());
    assert_eq!(store.refresh_token("rft.1"), Some(record.clone()));
    let before = store.update_refresh_token("rft.1", &mut |r| {
        r.revoked = true;
        r.rotated_to = Some("rft.2".to_owned());
        r.access_tokens.push("act.2".to_owned());
    });
    assert_eq!(before, Some(record));
    let after = store.refresh_token("rft.1").expect("kept");
    assert!(after.revoked);
    assert_eq!(after.rotated_to.as_deref(), Some("rft.2"));
    assert_eq!(after.access_tokens, ["act.1", "act.2"]);
    assert_eq!(store.update_refresh_token("rft.404", &mut |_| {}), None);
    assert_eq!(store.refresh_token("rft.404"), None);
}

pub fn rate_windows_slide(store: &dyn Store) {
    assert!(store.try_acquire("k", 0, 2, 60_000).allowed);
    assert_eq!(store.try_acquire("k", 30_000, 2, 60_000).in_window, 2);
    assert!(!store.try_acquire("k", 59_999, 2, 60_000).allowed);
    assert!(store.try_acquire("k", 60_000, 2, 60_000).allowed);
    assert!(!store.try_acquire("k", 60_001, 2, 60_000).allowed);
    assert!(store.try_acquire("other", 60_001, 2, 60_000).allowed);
}

pub fn faults_are_taken_hit_by_hit(store: &dyn Store) {
    let fault = Fault::Error {
        code: ErrorCode::parse("internal_error"),
        status: 500,
        message: "boom".to_owned(),
    };
    store.push_fault(PendingFault {
        endpoint: "user_info".to_owned(),
        fault: fault.clone(),
        remaining: 0,
    });
    assert_eq!(store.faults(), [], "a fault of no calls is not kept");
    store.push_fault(PendingFault {
        endpoint: "user_info".to_owned(),
        fault: fault.clone(),
        remaining: 2,
    });
    assert_eq!(store.take_fault("video_list"), None);
    assert_eq!(store.take_fault("user_info"), Some(fault.clone()));
    assert_eq!(store.faults()[0].remaining, 1);
    assert_eq!(store.take_fault("user_info"), Some(fault));
    assert_eq!(store.take_fault("user_info"), None);
    assert_eq!(store.faults(), []);
}

pub fn the_call_log_is_numbered_in_order(store: &dyn Store) {
    for n in 0..5 {
        store.record_call(call(n, "/v2/user/info/"));
    }
    let calls = store.calls();
    let seqs: Vec<u64> = calls.iter().map(|c| c.seq).collect();
    let times: Vec<i64> = calls.iter().map(|c| c.at_ms).collect();
    assert_eq!(times, [0, 1, 2, 3, 4]);
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    assert_eq!(calls[0].path, "/v2/user/info/");
    assert_eq!(calls[0].query.as_deref(), Some("fields=open_id"));
    assert_eq!(
        calls[0].body,
        Some(serde_json::json!({"code": "…", "grant_type": "authorization_code"})),
        "the body is kept, its secrets masked when read"
    );
    assert_eq!(calls[0].latency_us, 500);
}

pub fn posts_are_kept_with_their_secrets(store: &dyn Store) {
    store
        .insert_post(post("p2", "a", 20, Some("up2")))
        .expect("insert");
    store
        .insert_post(post("p1", "a", 10, None))
        .expect("insert");
    store
        .insert_post(post("p3", "b", 15, Some("up3")))
        .expect("insert");
    assert_eq!(
        store.insert_post(post("p1", "a", 30, None)),
        Err(StoreError::DuplicateId("p1".to_owned()))
    );
    assert_eq!(
        store.insert_post(post("p4", "a", 30, Some("up2"))),
        Err(StoreError::DuplicateId("up2".to_owned()))
    );
    assert_eq!(store.post("p4"), None, "a refused post is not kept");
    assert_eq!(store.post("p2"), Some(post("p2", "a", 20, Some("up2"))));
    assert_eq!(
        store.post_by_upload_id("up3"),
        Some(post("p3", "b", 15, Some("up3")))
    );
    assert_eq!(store.post_by_upload_id("up404"), None);
    assert!(store.update_post("p2", &mut |p| {
        p.uploaded_bytes = 50;
        p.chunks_received = 1;
    }));
    assert!(!store.update_post("p404", &mut |_| {}));
    let p2 = store.post("p2").expect("kept");
    assert_eq!((p2.uploaded_bytes, p2.chunks_received), (50, 1));
    assert_eq!(p2.upload_token.as_deref(), Some("upload-secret-up2"));
    // A creator's posts in the order started; every post by creation time.
    let of_a: Vec<String> = store
        .creator_posts("a")
        .into_iter()
        .map(|p| p.publish_id)
        .collect();
    assert_eq!(of_a, ["p2", "p1"]);
    assert_eq!(store.creator_posts("nobody"), []);
    let all: Vec<String> = store.posts().into_iter().map(|p| p.publish_id).collect();
    assert_eq!(all, ["p1", "p3", "p2"]);
    // New posts are open; closing and reopening.
    let mut open = store.open_posts(Some("a"));
    open.sort();
    assert_eq!(open, ["p1", "p2"]);
    store.set_post_open("a", "p1", false);
    store.set_post_open("a", "p1", false);
    assert_eq!(store.open_posts(Some("a")), ["p2"]);
    let mut every = store.open_posts(None);
    every.sort();
    assert_eq!(every, ["p2", "p3"]);
    store.set_post_open("a", "p1", true);
    let mut open = store.open_posts(Some("a"));
    open.sort();
    assert_eq!(open, ["p1", "p2"]);
    for id in ["p1", "p2"] {
        store.set_post_open("a", id, false);
    }
    store.set_post_open("b", "p3", false);
    assert_eq!(store.open_posts(None), Vec::<String>::new());
}

pub fn clear_forgets_everything(store: &dyn Store) {
    store.put_app(app("a"));
    store.put_creator(creator("a"));
    store.insert_video(video(1, "a", 1)).expect("insert");
    store.insert_comment(comment(1, 1, 1)).expect("insert");
    store.put_token(token("act.1", "a", Some("a")));
    store
        .insert_post(post("p1", "a", 1, Some("u1")))
        .expect("insert");
    store.record_call(call(1, "/"));
    store.push_fault(PendingFault {
        endpoint: "user_info".to_owned(),
        fault: Fault::Latency { latency_ms: 1 },
        remaining: 1,
    });
    store.try_acquire("k", 0, 1, 1000);
    store.clear();
    assert_eq!(store.apps(), []);
    assert_eq!(store.creators(), []);
    assert_eq!(store.video("1"), None);
    assert_eq!(store.video_count("a"), 0);
    assert_eq!(store.comment(1), None);
    assert_eq!(store.token("act.1"), None);
    assert_eq!(store.posts(), []);
    assert_eq!(store.post_by_upload_id("u1"), None);
    assert_eq!(store.open_posts(None), Vec::<String>::new());
    assert_eq!(store.calls(), []);
    assert_eq!(store.faults(), []);
    assert!(store.try_acquire("k", 0, 1, 1000).allowed);
    // The same ids are free again.
    store.put_creator(creator("a"));
    store.insert_video(video(1, "a", 1)).expect("insert again");
    store
        .insert_post(post("p1", "a", 1, Some("u1")))
        .expect("insert again");
}

pub fn durable_extras_are_kept_only_by_a_durable_store(store: &dyn Store) {
    let meta = json!({"api": {"short_pages": true}});
    store.put_meta("settings", &meta);
    store.put_delivery(&delivery(1, DeliveryState::Pending));
    store.put_delivery(&delivery(2, DeliveryState::Pending));
    store.put_delivery(&delivery(1, DeliveryState::Delivered));
    if store.durable() {
        assert_eq!(store.meta("settings"), Some(meta.clone()));
        assert_eq!(
            store.saved_deliveries(),
            [
                delivery(1, DeliveryState::Delivered),
                delivery(2, DeliveryState::Pending)
            ]
        );
        store.forget_delivery(1);
        assert_eq!(
            store.saved_deliveries(),
            [delivery(2, DeliveryState::Pending)],
            "a finished delivery the queue no longer lists is forgotten"
        );
        store.clear();
        assert_eq!(store.saved_deliveries(), [], "clear forgets deliveries");
        assert_eq!(store.meta("settings"), Some(meta), "clear keeps meta");
    } else {
        assert_eq!(store.meta("settings"), None);
        assert_eq!(store.saved_deliveries(), []);
    }
    assert_eq!(store.meta("unknown"), None);
}
