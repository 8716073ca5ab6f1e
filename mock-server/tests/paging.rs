//! The video list: own creator only, newest first, max_count, cursor and has_more.

mod support;

use std::collections::HashSet;

use serde_json::{Value, json};
use support::{Harness, START_MS, all_user_scopes};
use tiktok_mock::MintRequest;

const PATH: &str = "/v2/video/list/?fields=id,create_time,title";

async fn page(mock: &Harness, token: &str, body: Value) -> Value {
    let answer = mock.post_json(PATH, Some(token), body.to_string()).await;
    answer.assert_ok();
    answer.data().clone()
}

fn ids(data: &Value) -> Vec<String> {
    data["videos"]
        .as_array()
        .map(|videos| {
            videos
                .iter()
                .map(|video| video["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn max_count_defaults_to_ten_and_accepts_one_to_twenty() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    assert_eq!(ids(&page(&mock, &token, json!({})).await).len(), 10);
    assert_eq!(
        ids(&page(&mock, &token, json!({"max_count": 1})).await).len(),
        1
    );
    assert_eq!(
        ids(&page(&mock, &token, json!({"max_count": 20})).await).len(),
        20
    );
    for bad in [
        json!(0),
        json!(21),
        json!(-1),
        json!("10"),
        json!(10.5),
        json!(1e30),
    ] {
        let answer = mock
            .post_json(PATH, Some(&token), json!({"max_count": bad}).to_string())
            .await;
        answer.assert_error(400, "invalid_params");
        assert!(answer.message().contains("max_count"), "{}", answer.text);
    }
}

#[tokio::test]
async fn pages_are_newest_first_and_cursor_is_the_last_create_time_ms() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    let first = page(&mock, &token, json!({"max_count": 5})).await;
    let times: Vec<i64> = first["videos"]
        .as_array()
        .expect("videos")
        .iter()
        .map(|video| video["create_time"].as_i64().expect("create_time"))
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "{times:?}");
    let last_id = ids(&first).pop().expect("a video");
    let stored = mock.state.store().video(&last_id).expect("stored");
    assert_eq!(first["cursor"], json!(stored.create_time_ms));
    assert_eq!(first["has_more"], json!(true));
    // Exclusive: the next page starts after the cursor's video.
    let second = page(
        &mock,
        &token,
        json!({"max_count": 5, "cursor": first["cursor"]}),
    )
    .await;
    assert!(!ids(&second).contains(&last_id));
}

#[tokio::test]
async fn a_walk_returns_every_video_once_even_when_videos_are_added() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    let open_id = mock.open_id();
    let before: HashSet<String> = mock
        .state
        .store()
        .video_page(&open_id, None, usize::MAX)
        .videos
        .into_iter()
        .map(|video| video.id)
        .collect();
    assert_eq!(before.len(), 131);
    let mut seen = Vec::new();
    let mut added_new = Vec::new();
    let mut added_old = Vec::new();
    let mut body = json!({"max_count": 20});
    let mut pages = 0;
    loop {
        let data = page(&mock, &token, body.clone()).await;
        seen.extend(ids(&data));
        pages += 1;
        // Mid-walk: a new video now (newer than any cursor), several on one millisecond,
        // and one older than everything (still ahead of the walk, so it must appear once).
        let answer = mock
            .post_json(
                "/_mock/videos",
                None,
                json!({"open_id": open_id, "title": "new"}).to_string(),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        added_new.push(answer.json["id"].as_str().expect("id").to_owned());
        if pages == 2 {
            let answer = mock
                .post_json(
                    "/_mock/videos",
                    None,
                    json!({"open_id": open_id, "title": "old", "create_time_ms": 1_000})
                        .to_string(),
                )
                .await;
            added_old.push(answer.json["id"].as_str().expect("id").to_owned());
        }
        mock.advance_ms(1);
        if data["has_more"] == json!(false) {
            break;
        }
        body = json!({"max_count": 20, "cursor": data["cursor"]});
    }
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a video came twice");
    let mut expected = before.clone();
    expected.extend(added_old);
    assert_eq!(unique, expected);
    assert!(added_new.iter().all(|id| !unique.contains(id)));
    assert_eq!(pages, 7); // 132 videos, 20 a page.
}

#[tokio::test]
async fn videos_on_the_same_millisecond_are_each_listed_once() {
    let fixtures = tiktok_mock::Fixtures::from_yaml(
        "apps: [{client_key: k, client_secret: s}]\ncreators: [{open_id: solo}]\n",
    )
    .expect("fixtures");
    let mock = Harness::with(|builder| builder.fixtures(fixtures));
    for _ in 0..45 {
        let answer = mock
            .post_json(
                "/_mock/videos",
                None,
                json!({"open_id": "solo", "create_time_ms": START_MS}).to_string(),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let token = mock.token(&all_user_scopes());
    let mut seen = HashSet::new();
    let mut body = json!({"max_count": 7});
    loop {
        let data = page(&mock, &token, body).await;
        for id in ids(&data) {
            assert!(seen.insert(id), "a video came twice");
        }
        if data["has_more"] == json!(false) {
            break;
        }
        body = json!({"max_count": 7, "cursor": data["cursor"]});
    }
    assert_eq!(seen.len(), 45);
}

#[tokio::test]
async fn only_the_tokens_own_creator_is_listed() {
    let mock = Harness::new();
    let other = "-000cafe1b2c3d4e5f60718293a4b5c6d7e8f";
    let token = mock.mint(MintRequest {
        open_id: Some(other.to_owned()),
        ..MintRequest::default()
    });
    let data = page(&mock, &token, json!({"max_count": 20})).await;
    let listed = ids(&data);
    assert_eq!(listed.len(), 7);
    for id in listed {
        assert_eq!(mock.state.store().video(&id).expect("video").open_id, other);
    }
    assert_eq!(data["has_more"], json!(false));
    // A creator without videos: an empty page.
    let token = mock.mint(MintRequest {
        open_id: Some("-000beef9a8b7c6d5e4f3021a2b3c4d5e6f70".to_owned()),
        ..MintRequest::default()
    });
    let data = page(&mock, &token, json!({})).await;
    assert_eq!(data, json!({"videos": [], "cursor": 0, "has_more": false}));
}

#[tokio::test]
async fn a_malformed_cursor_is_a_400() {
    let mock = Harness::new();
    let token = mock.token(&all_user_scopes());
    for bad in [
        json!("abc"),
        json!(-5),
        json!(1.5),
        json!(true),
        json!([1]),
        json!({"a": 1}),
        json!(18446744073709551615_u64),
    ] {
        let answer = mock
            .post_json(PATH, Some(&token), json!({"cursor": bad}).to_string())
            .await;
        answer.assert_error(400, "invalid_params");
        assert!(answer.message().contains("cursor"), "{}", answer.text);
    }
    // A huge number literal beyond any integer type.
    let answer = mock
        .post_json(PATH, Some(&token), r#"{"cursor": 1e400}"#)
        .await;
    answer.assert_error(400, "invalid_params");
    // Zero is epoch time: nothing is older.
    let data = page(&mock, &token, json!({"cursor": 0})).await;
    assert_eq!(data["videos"], json!([]));
}
