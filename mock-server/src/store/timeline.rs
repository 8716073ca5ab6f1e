//! [`Timeline`]: one creator's videos keyed by their unique `create_time_ms` (unique across
//! the public ones, which the API lists, and the others, kept apart so a page stays one
//! range query of public videos), kept compact (a million cost about a third of a
//! gigabyte): the creator's open_id and handle once per timeline, text as boxed `str`, and
//! the media URLs only when they are not the ones the fixtures derive from the handle and
//! the id.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::projection::shown::Shown;
use crate::store::records::{PUBLIC, Video};
use crate::store::views::{
    VideoUrls, VideoView, cover_image_url, embed_html, embed_link, share_url,
};

/// A creator's videos, newest last.
#[derive(Debug)]
pub struct Timeline {
    /// The creator.
    pub open_id: Arc<str>,
    /// The handle in derived URLs: the creator's username when the timeline began, or
    /// the open_id without one.
    handle: Box<str>,
    /// The public videos by `create_time_ms`.
    pub public: BTreeMap<i64, StoredVideo>,
    /// The others (private, friends-only…), kept but never listed.
    pub hidden: BTreeMap<i64, StoredVideo>,
}

/// A video as a timeline keeps it.
#[derive(Debug)]
pub struct StoredVideo {
    id: Box<str>,
    title: Box<str>,
    video_description: Box<str>,
    duration: i32,
    height: i32,
    width: i32,
    like_count: i32,
    comment_count: i32,
    share_count: i32,
    view_count: i64,
    /// `None` when every URL is the derived one.
    urls: Option<Box<[Box<str>; 4]>>,
    /// `None` for a public video.
    privacy_level: Option<Box<str>>,
    /// Its last answer's bytes (a video is never changed in place: a new version is a new
    /// `StoredVideo`, with nothing kept).
    shown: Shown,
}

impl Timeline {
    /// An empty timeline of `open_id`, whose derived URLs use `handle`.
    pub fn new(open_id: &str, handle: &str) -> Timeline {
        Timeline {
            open_id: Arc::from(open_id),
            handle: Box::from(handle),
            public: BTreeMap::new(),
            hidden: BTreeMap::new(),
        }
    }

    /// Whether a video was posted at `at_ms`.
    pub fn contains(&self, at_ms: i64) -> bool {
        self.public.contains_key(&at_ms) || self.hidden.contains_key(&at_ms)
    }

    /// Keeps `video` (its `create_time_ms` free in this timeline), with the public ones or
    /// the others.
    pub fn insert(&mut self, video: &Video) {
        let derived = cover_image_url(&video.id).is(&video.cover_image_url)
            && share_url(&self.handle, &video.id).is(&video.share_url)
            && embed_html(&self.handle, &video.id).is(&video.embed_html)
            && embed_link(&video.id).is(&video.embed_link);
        let urls = (!derived).then(|| {
            Box::new([
                Box::from(video.cover_image_url.as_str()),
                Box::from(video.share_url.as_str()),
                Box::from(video.embed_html.as_str()),
                Box::from(video.embed_link.as_str()),
            ])
        });
        let public = video.is_public();
        let map = if public {
            &mut self.public
        } else {
            &mut self.hidden
        };
        map.insert(
            video.create_time_ms,
            StoredVideo {
                id: Box::from(video.id.as_str()),
                title: Box::from(video.title.as_str()),
                video_description: Box::from(video.video_description.as_str()),
                duration: video.duration,
                height: video.height,
                width: video.width,
                like_count: video.like_count,
                comment_count: video.comment_count,
                share_count: video.share_count,
                view_count: video.view_count,
                urls,
                privacy_level: (!public).then(|| Box::from(video.privacy_level.as_str())),
                shown: Shown::default(),
            },
        );
    }

    /// The video posted at `create_time_ms`, borrowed.
    pub fn view(&self, create_time_ms: i64) -> Option<VideoView<'_>> {
        self.public
            .get(&create_time_ms)
            .or_else(|| self.hidden.get(&create_time_ms))
            .map(|stored| self.view_of(create_time_ms, stored))
    }

    /// A stored video of this timeline, borrowed.
    pub fn view_of<'a>(&'a self, create_time_ms: i64, stored: &'a StoredVideo) -> VideoView<'a> {
        VideoView {
            id: &stored.id,
            open_id: &self.open_id,
            create_time_ms,
            title: &stored.title,
            video_description: &stored.video_description,
            duration: stored.duration,
            height: stored.height,
            width: stored.width,
            like_count: stored.like_count,
            comment_count: stored.comment_count,
            share_count: stored.share_count,
            view_count: stored.view_count,
            urls: match &stored.urls {
                Some(urls) => VideoUrls::Given {
                    cover_image_url: &urls[0],
                    share_url: &urls[1],
                    embed_html: &urls[2],
                    embed_link: &urls[3],
                },
                None => VideoUrls::Derived {
                    handle: &self.handle,
                },
            },
            privacy_level: stored.privacy_level.as_deref().unwrap_or(PUBLIC),
            shown: Some(&stored.shown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{FixtureVideo, build_video};

    #[test]
    fn videos_come_back_as_they_went_in() {
        let mut timeline = Timeline::new("-000a", "a.handle");
        let derived = build_video(
            "a.handle",
            "-000a",
            "71".to_owned(),
            5_000,
            &FixtureVideo {
                title: "t".to_owned(),
                ..FixtureVideo::default()
            },
        );
        let mut given = build_video(
            "other",
            "-000a",
            "72".to_owned(),
            6_000,
            &FixtureVideo::default(),
        );
        given.share_url = "https://elsewhere.example/72".to_owned();
        timeline.insert(&derived);
        timeline.insert(&given);
        assert!(timeline.public[&5_000].urls.is_none());
        assert!(timeline.public[&6_000].urls.is_some());
        assert_eq!(
            timeline.view(5_000).map(|view| view.to_video()),
            Some(derived)
        );
        assert_eq!(
            timeline.view(6_000).map(|view| view.to_video()),
            Some(given)
        );
        let link = "https://www.tiktok.example/static/profile-video?id=7&hide_author=1";
        assert!(embed_link("7").is(link));
        assert!(!embed_link("7").is(&link.replace("id=7", "id=77")));
        assert!(!embed_link("7").is(&link.replace("id=7", "id=")));
    }
}
