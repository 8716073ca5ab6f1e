//! Fixture files: apps, creators, videos and comments in YAML (the embedded demo data and `--fixtures`).

use serde::Deserialize;

use crate::store::{App, Comment, Creator, Store, StoreError, Video};

/// The embedded demo data.
pub const DEMO_YAML: &str = include_str!("../demo.yaml");

/// The first id of generated videos.
const GENERATED_VIDEO_ID_BASE: u64 = 7_301_000_000_000_000_000;
/// The first id of generated comments.
const GENERATED_COMMENT_ID_BASE: i64 = 7_302_000_000_000_000_000;
/// Spacing of generated videos: one every 6 hours 7 minutes.
const GENERATED_VIDEO_SPACING_MS: i64 = (6 * 3600 + 7 * 60) * 1000;

/// A fixture file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    /// Developer apps. The first is "the demo app".
    #[serde(default)]
    pub apps: Vec<App>,
    /// Creators with their videos.
    #[serde(default)]
    pub creators: Vec<FixtureCreator>,
    /// Comments on videos.
    #[serde(default)]
    pub comments: Vec<FixtureComment>,
    /// Settings applied when the mock starts, by group, as `POST /_mock/settings` takes
    /// them: `{api: {...}, oauth: {...}, posting: {...}, webhooks: {...}}`.
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
}

/// A creator of a fixture file: the `Creator` fields plus videos and generation counts.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "serde_yaml::Mapping")]
pub struct FixtureCreator {
    /// The profile.
    pub creator: Creator,
    /// Videos given one by one.
    #[serde(default)]
    pub videos: Vec<FixtureVideo>,
    /// How many synthetic videos to add (newest an hour before load time, then every ~6 h).
    #[serde(default)]
    pub generate_videos: u32,
    /// How many synthetic comments to add on each generated video.
    #[serde(default)]
    pub generate_comments: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureCreatorExtras {
    #[serde(default)]
    videos: Vec<FixtureVideo>,
    #[serde(default)]
    generate_videos: u32,
    #[serde(default)]
    generate_comments: u32,
}

impl TryFrom<serde_yaml::Mapping> for FixtureCreator {
    type Error = serde_yaml::Error;

    /// Splits the mapping so both parts keep `deny_unknown_fields` (serde's flatten loses it).
    fn try_from(mut mapping: serde_yaml::Mapping) -> Result<Self, Self::Error> {
        let mut extras = serde_yaml::Mapping::new();
        for key in ["videos", "generate_videos", "generate_comments"] {
            if let Some(value) = mapping.remove(key) {
                extras.insert(serde_yaml::Value::from(key), value);
            }
        }
        let creator: Creator = serde_yaml::from_value(serde_yaml::Value::Mapping(mapping))?;
        let extras: FixtureCreatorExtras =
            serde_yaml::from_value(serde_yaml::Value::Mapping(extras))?;
        Ok(FixtureCreator {
            creator,
            videos: extras.videos,
            generate_videos: extras.generate_videos,
            generate_comments: extras.generate_comments,
        })
    }
}

/// A video of a fixture file; everything but the title has a default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureVideo {
    /// The id; generated when absent.
    pub id: Option<String>,
    /// Unix seconds.
    pub create_time: Option<i64>,
    /// Unix milliseconds (wins over `create_time`).
    pub create_time_ms: Option<i64>,
    /// The title.
    #[serde(default)]
    pub title: String,
    /// The description.
    #[serde(default)]
    pub video_description: String,
    /// Length in seconds.
    pub duration: Option<i32>,
    /// Height in pixels.
    pub height: Option<i32>,
    /// Width in pixels.
    pub width: Option<i32>,
    /// Likes.
    #[serde(default)]
    pub like_count: i32,
    /// Comments.
    #[serde(default)]
    pub comment_count: i32,
    /// Shares.
    #[serde(default)]
    pub share_count: i32,
    /// Views.
    #[serde(default)]
    pub view_count: i64,
    /// Who can see it; default `PUBLIC_TO_EVERYONE`. Only public videos are listed.
    pub privacy_level: Option<String>,
}

/// A comment of a fixture file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureComment {
    /// The comment id.
    pub id: i64,
    /// The video.
    pub video_id: i64,
    /// The text.
    #[serde(default)]
    pub text: String,
    /// Likes.
    #[serde(default)]
    pub like_count: i64,
    /// Replies.
    #[serde(default)]
    pub reply_count: i64,
    /// The comment replied to; the video id when absent.
    pub parent_comment_id: Option<i64>,
    /// Unix seconds; load time when absent.
    pub create_time: Option<i64>,
}

/// Why a fixture file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The YAML does not match the format.
    #[error("fixtures: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// The store refused an item (a duplicate id, a video of an unknown creator).
    #[error("fixtures: {0}")]
    Store(#[from] StoreError),
    /// The file has no app.
    #[error("fixtures: at least one app is needed")]
    NoApp,
    /// A video's privacy level is not a `PrivacyLevel`.
    #[error("fixtures: {0}")]
    Invalid(String),
    /// A setting is unknown or out of range.
    #[error("fixtures: settings.{0}")]
    Settings(String),
}

impl Fixtures {
    /// Parses a fixture file.
    pub fn from_yaml(text: &str) -> Result<Fixtures, FixtureError> {
        let fixtures: Fixtures = serde_yaml::from_str(text)?;
        if fixtures.apps.is_empty() {
            return Err(FixtureError::NoApp);
        }
        Ok(fixtures)
    }

    /// The embedded demo data.
    pub fn demo() -> Fixtures {
        // The demo file is part of the crate and tested; failing to parse it is a build bug.
        Fixtures::from_yaml(DEMO_YAML).expect("the embedded demo.yaml parses")
    }

    /// Loads everything into `store`, with relative times counted from `now_ms`.
    pub fn load_into(&self, store: &dyn Store, now_ms: i64) -> Result<(), FixtureError> {
        for app in &self.apps {
            store.put_app(app.clone());
        }
        let mut next_video_id = GENERATED_VIDEO_ID_BASE;
        let mut next_comment_id = GENERATED_COMMENT_ID_BASE;
        for (creator_index, fixture) in self.creators.iter().enumerate() {
            let creator = &fixture.creator;
            store.put_creator(creator.clone());
            let handle = if creator.username.is_empty() {
                creator.open_id.clone()
            } else {
                creator.username.clone()
            };
            for (index, video) in fixture.videos.iter().enumerate() {
                let id = match &video.id {
                    Some(id) => id.clone(),
                    None => {
                        next_video_id += 1;
                        next_video_id.to_string()
                    }
                };
                let create_time_ms = video
                    .create_time_ms
                    .or(video
                        .create_time
                        .map(|seconds| seconds.saturating_mul(1000)))
                    .unwrap_or(now_ms - 1_800_000 - index as i64 * 1000);
                if let Some(level) = &video.privacy_level
                    && !tiktok_api::PrivacyLevel::parse(level).is_known()
                {
                    return Err(FixtureError::Invalid(format!(
                        "creators[{creator_index}].videos[{index}].privacy_level: {level:?} is not a PrivacyLevel"
                    )));
                }
                store.insert_video(build_video(
                    &handle,
                    &creator.open_id,
                    id,
                    create_time_ms,
                    video,
                ))?;
            }
            for n in 0..fixture.generate_videos {
                next_video_id += 1;
                let n = i64::from(n);
                let create_time_ms =
                    now_ms - 3_600_000 - n * GENERATED_VIDEO_SPACING_MS - (n * 7919) % 1000;
                let template = FixtureVideo {
                    title: format!("{} #{}", creator.display_name, n + 1),
                    video_description: format!("Video {} of {} #demo", n + 1, handle),
                    like_count: ((n * 37) % 900) as i32,
                    comment_count: fixture.generate_comments as i32,
                    share_count: ((n * 11) % 50) as i32,
                    view_count: 1000 + n * 113,
                    ..FixtureVideo::default()
                };
                let video = store.insert_video(build_video(
                    &handle,
                    &creator.open_id,
                    next_video_id.to_string(),
                    create_time_ms,
                    &template,
                ))?;
                for c in 0..fixture.generate_comments {
                    next_comment_id += 1;
                    let video_id: i64 = video.id.parse().unwrap_or_default();
                    store.insert_comment(Comment {
                        id: next_comment_id,
                        video_id,
                        text: format!("Comment {} on video {}", c + 1, n + 1),
                        like_count: i64::from(c) * 2,
                        reply_count: 0,
                        parent_comment_id: video_id,
                        create_time: video.create_time_ms / 1000 + 60 * (i64::from(c) + 1),
                    })?;
                }
            }
        }
        for comment in &self.comments {
            store.insert_comment(Comment {
                id: comment.id,
                video_id: comment.video_id,
                text: comment.text.clone(),
                like_count: comment.like_count,
                reply_count: comment.reply_count,
                parent_comment_id: comment.parent_comment_id.unwrap_or(comment.video_id),
                create_time: comment.create_time.unwrap_or(now_ms / 1000),
            })?;
        }
        Ok(())
    }
}

/// A stored video from a fixture's fields, with URLs derived from the id in TikTok's forms
/// (the cover is signed and the share link gets its utm parameters when answered).
pub fn build_video(
    handle: &str,
    open_id: &str,
    id: String,
    create_time_ms: i64,
    video: &FixtureVideo,
) -> Video {
    Video {
        cover_image_url: format!("https://p16-sign.tiktokcdn.example/obj/cover/{id}.jpeg"),
        share_url: format!("https://www.tiktok.example/@{handle}/video/{id}"),
        embed_html: format!(
            "<blockquote class=\"tiktok-embed\" cite=\"https://www.tiktok.example/@{handle}/video/{id}\" data-video-id=\"{id}\"><section></section></blockquote> <script async src=\"https://www.tiktok.example/embed.js\"></script>"
        ),
        embed_link: format!("https://www.tiktok.example/static/profile-video?id={id}&hide_author=1"),
        privacy_level: video
            .privacy_level
            .clone()
            .unwrap_or_else(|| crate::store::records::PUBLIC.to_owned()),
        id,
        open_id: open_id.to_owned(),
        create_time_ms,
        title: video.title.clone(),
        video_description: video.video_description.clone(),
        duration: video.duration.unwrap_or(15),
        height: video.height.unwrap_or(1920),
        width: video.width.unwrap_or(1080),
        like_count: video.like_count,
        comment_count: video.comment_count,
        share_count: video.share_count,
        view_count: video.view_count,
    }
}
