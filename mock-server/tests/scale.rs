//! The store at scale: 200,000 videos of one creator page like a thousand (functional
//! check only; no timing assertions; a million takes ~10 s in a debug build), and the
//! synthetic videos of `--synthetic-videos`.

use tiktok_mock::store::{Creator, Store, Video};
use tiktok_mock::{AppState, Fixtures, MemoryStore, fixtures};

#[test]
fn a_large_timeline_pages_correctly_from_any_cursor() {
    let store = MemoryStore::new();
    let creator: Creator =
        serde_json::from_value(serde_json::json!({"open_id": "big"})).expect("creator");
    store.put_creator(creator);
    let template = fixtures::FixtureVideo::default();
    const COUNT: i64 = 200_000;
    for n in 0..COUNT {
        let video: Video = fixtures::build_video(
            "big",
            "big",
            format!("{}", 7_400_000_000_000_000_000_i64 + n),
            1_000_000 + n,
            &template,
        );
        store.insert_video(video).expect("insert");
    }
    assert_eq!(store.video_count("big"), COUNT as u64);
    let first = store.video_page("big", None, 20);
    assert_eq!(first.videos[0].create_time_ms, 1_000_000 + COUNT - 1);
    assert!(first.has_more);
    let middle = store.video_page("big", Some(1_100_000), 20);
    let times: Vec<i64> = middle
        .videos
        .iter()
        .map(|video| video.create_time_ms)
        .collect();
    assert_eq!(times, (1_099_980..1_100_000).rev().collect::<Vec<_>>());
    let last = store.video_page("big", Some(1_000_005), 20);
    assert_eq!(last.videos.len(), 5);
    assert!(!last.has_more);
    let query = store.videos_by_ids("big", &["7400000000000123456".to_owned()]);
    assert_eq!(query[0].create_time_ms, 1_123_456);
}

#[test]
fn synthetic_videos_go_to_the_first_creator_a_minute_apart() {
    let demo = AppState::new();
    let mut fixtures = Fixtures::demo();
    fixtures.synthetic_videos = 500;
    let state = AppState::builder()
        .fixtures(fixtures)
        .build()
        .expect("loads");
    let first = &Fixtures::demo().creators[0].creator.open_id;
    assert_eq!(
        state.store().video_count(first),
        demo.store().video_count(first) + 500
    );
    // Every video is on one page walk, newest first, with the URLs fixtures derive.
    let page = state.store().video_page(first, None, 10_000);
    assert_eq!(page.videos.len() as u64, state.store().video_count(first));
    assert!(!page.has_more);
    assert!(
        page.videos
            .windows(2)
            .all(|pair| pair[0].create_time_ms > pair[1].create_time_ms)
    );
    let synthetic: Vec<&Video> = page
        .videos
        .iter()
        .filter(|video| video.title.starts_with("Synthetic video #"))
        .collect();
    assert_eq!(synthetic.len(), 500);
    assert!(
        synthetic
            .windows(2)
            .all(|pair| pair[0].create_time_ms - pair[1].create_time_ms >= 60_000 - 1)
    );
    assert!(
        synthetic[0]
            .share_url
            .ends_with(&format!("/video/{}", synthetic[0].id))
    );
    assert_eq!(
        state.store().video(&synthetic[7].id).as_ref(),
        Some(synthetic[7])
    );
}
