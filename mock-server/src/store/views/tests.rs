//! The share links a video's answer writes, straight and through what the store keeps.

use super::*;
use crate::fixtures::{FixtureVideo, build_video};
use crate::projection::Projection;

/// The share link as `media::share_url` makes it, written by serde_json.
fn expected(url: &str, client_key: &str) -> String {
    serde_json::to_string(&media::share_url(url, client_key)).expect("json")
}

#[test]
fn share_links_are_those_of_media_share_url_escaped_whole() {
    let share = tiktok_api::endpoints::VIDEO_LIST
        .fields
        .expect("fields")
        .schema
        .field("share_url")
        .expect("share_url");
    for (handle, id, given) in [
        ("plain", "71", None),
        ("say\"hi\\", "7?2", None),
        ("a?b", "\u{1}", None),
        ("", "", Some("")),
        ("", "72", Some("https://elsewhere.example/72?x=1")),
        ("", "73", Some("https://elsewhere.example/\"73\"")),
    ] {
        for client_key in ["awkey", "aw\"key\n"] {
            let mut video =
                build_video(handle, "-000a", id.to_owned(), 0, &FixtureVideo::default());
            let url = given.map_or_else(|| share_url(handle, id).text(), str::to_owned);
            video.share_url.clone_from(&url);
            let mut view = video.as_view();
            if given.is_none() {
                view.urls = VideoUrls::Derived { handle };
            }
            let call = VideoCall::new(0, None, client_key);
            let url_json = if url.is_empty() {
                "\"\"".to_owned()
            } else {
                expected(&url, client_key)
            };
            // Written as is, then through a `Shown` kept by another app's call (filled
            // by the first, copied by the second).
            let shown = Shown::default();
            let other = VideoCall::new(0, None, "someone else");
            Projection::new(&[share]).write_shown(&mut Vec::new(), &view.api(&other), &shown);
            for _ in 0..2 {
                let mut out = Vec::new();
                Projection::new(&[share]).write(&mut out, &view.api(&call));
                let mut kept = Vec::new();
                Projection::new(&[share]).write_shown(&mut kept, &view.api(&call), &shown);
                assert_eq!(out, kept);
                assert_eq!(
                    String::from_utf8(out).expect("utf-8"),
                    format!("{{\"share_url\":{url_json}}}"),
                    "{handle:?} {id:?} {given:?} {client_key:?}"
                );
            }
        }
    }
    for fixed in [SHARE_URL_HEAD, SHARE_URL_VIDEO] {
        assert!(!crate::projection::needs_escape(fixed.as_bytes()) && !fixed.contains('?'));
    }
}
