//! Fixture files: apps, creators, videos and comments in YAML (the embedded demo data and `--fixtures`).

use serde::Deserialize;

use crate::store::{App, Comment, Creator, Store, StoreError, Video, views};

/// The embedded demo data.
pub const DEMO_YAML: &str = include_str!("../demo.yaml");

/// The first id of generated videos.
const GENERATED_VIDEO_ID_BASE: u64 = 7_301_000_000_000_000_000;
/// The first id of generated comments.
const GENERATED_COMMENT_ID_BASE: i64 = 7_302_000_000_000_000_000;
/// Spacing of generated videos: one every 6 hours 7 minutes.
const GENERATED_VIDEO_SPACING_MS: i64 = (6 * 3600 + 7 * 60) * 1000;
/// Spacing of synthetic videos (`--synthetic-videos`): one a minute, so a million span
/// about two years and every cursor stays a positive Unix time.
pub const SYNTHETIC_VIDEO_SPACING_MS: i64 = 60_000;

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
    /// The text the fixtures were read from, to place a problem found later (a setting).
    #[serde(skip)]
    pub source: Option<String>,
    /// Extra videos for the first creator, made at load (`--synthetic-videos N`, for
    /// benchmarks at scale): the newest an hour and a half minute before load, then one a
    /// minute ([`SYNTHETIC_VIDEO_SPACING_MS`]), without comments. Not read from YAML.
    #[serde(skip)]
    pub synthetic_videos: u64,
}

/// A creator of a fixture file: the `Creator` fields plus videos and generation counts.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawCreator")]
pub struct FixtureCreator {
    /// The profile.
    pub creator: Creator,
    /// Videos given one by one.
    pub videos: Vec<FixtureVideo>,
    /// How many synthetic videos to add (newest an hour before load time, then every ~6 h).
    pub generate_videos: u32,
    /// How many synthetic comments to add on each generated video.
    pub generate_comments: u32,
}

/// A creator as written: every field of [`Creator`] (kept in step by a test) and the
/// extras, read directly so that an error names its path and line (serde's `flatten` and a
/// detour through a YAML value would lose both).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCreator {
    open_id: String,
    #[serde(default)]
    union_id: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    avatar_url: String,
    #[serde(default)]
    avatar_url_100: String,
    #[serde(default)]
    avatar_large_url: String,
    #[serde(default)]
    bio_description: String,
    #[serde(default)]
    profile_deep_link: String,
    #[serde(default)]
    profile_web_link: String,
    #[serde(default)]
    is_verified: bool,
    #[serde(default)]
    follower_count: i64,
    #[serde(default)]
    following_count: i64,
    #[serde(default)]
    likes_count: i64,
    #[serde(default)]
    posting: Option<crate::store::PostingProfile>,
    #[serde(default)]
    videos: Vec<FixtureVideo>,
    #[serde(default)]
    generate_videos: u32,
    #[serde(default)]
    generate_comments: u32,
}

impl From<RawCreator> for FixtureCreator {
    fn from(raw: RawCreator) -> Self {
        FixtureCreator {
            creator: Creator {
                open_id: raw.open_id,
                union_id: raw.union_id,
                display_name: raw.display_name,
                username: raw.username,
                avatar_url: raw.avatar_url,
                avatar_url_100: raw.avatar_url_100,
                avatar_large_url: raw.avatar_large_url,
                bio_description: raw.bio_description,
                profile_deep_link: raw.profile_deep_link,
                profile_web_link: raw.profile_web_link,
                is_verified: raw.is_verified,
                follower_count: raw.follower_count,
                following_count: raw.following_count,
                likes_count: raw.likes_count,
                posting: raw.posting,
            },
            videos: raw.videos,
            generate_videos: raw.generate_videos,
            generate_comments: raw.generate_comments,
        }
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

/// Why a fixture file could not be loaded. The message names the field's path; the line
/// and column, where known, are apart ([`FixtureError::location`]), so a caller prints them
/// once, beside the file name.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The YAML does not match the format.
    #[error("{message}")]
    Yaml {
        /// The path and the problem (`apps[0]: missing field client_secret`).
        message: String,
        /// Line and column, 1-based.
        location: Option<(usize, usize)>,
    },
    /// The store refused an item (a duplicate id, a video of an unknown creator).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The file has no app.
    #[error("apps: at least one app is needed")]
    NoApp,
    /// A value out of its set (a video's privacy level).
    #[error("{0}")]
    Invalid(String),
    /// A setting is unknown or out of range.
    #[error("{}", setting_message(message))]
    Settings {
        /// The path under `settings` and the problem.
        message: String,
        /// Line and column of the setting, 1-based, when known.
        location: Option<(usize, usize)>,
    },
}

/// A setting's problem under its full path in the file (`settings.api.short_pages: …`).
fn setting_message(message: &str) -> String {
    if message.starts_with("settings") {
        message.to_owned()
    } else {
        format!("settings.{message}")
    }
}

impl FixtureError {
    /// Line and column of the problem, 1-based, when known.
    pub fn location(&self) -> Option<(usize, usize)> {
        match self {
            FixtureError::Yaml { location, .. } | FixtureError::Settings { location, .. } => {
                *location
            }
            _ => None,
        }
    }

    /// `FILE:LINE:COLUMN: path: problem` (or `FILE: problem` without a position).
    pub fn in_file(&self, file: &str) -> String {
        match self.location() {
            Some((line, column)) => format!("{file}:{line}:{column}: {self}"),
            None => format!("{file}: {self}"),
        }
    }
}

impl From<serde_yaml::Error> for FixtureError {
    fn from(error: serde_yaml::Error) -> Self {
        let location = error.location().map(|at| (at.line(), at.column()));
        let mut message = error.to_string();
        if let Some(at) = error.location() {
            let suffix = format!(" at line {} column {}", at.line(), at.column());
            if let Some(stripped) = message.strip_suffix(&suffix) {
                message = stripped.to_owned();
            }
        }
        FixtureError::Yaml { message, location }
    }
}

/// The line and column (1-based) of the node at a dotted `path` (`settings.api.short_pages`)
/// of a YAML text, or of its nearest ancestor that exists.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let mut node = marked_yaml::parse_yaml(0, text).ok()?;
    let mut best = None;
    for key in path.split('.').filter(|key| !key.is_empty()) {
        let mapping = node.as_mapping()?;
        let Some((name, value)) = mapping.iter().find(|(name, _)| name.as_str() == key) else {
            break;
        };
        if let Some(marker) = name.span().start() {
            best = Some((marker.line(), marker.column()));
        }
        node = value.clone();
    }
    best
}

impl Fixtures {
    /// Parses a fixture file.
    pub fn from_yaml(text: &str) -> Result<Fixtures, FixtureError> {
        let mut fixtures: Fixtures = serde_yaml::from_str(text)?;
        if fixtures.apps.is_empty() {
            return Err(FixtureError::NoApp);
        }
        fixtures.source = Some(text.to_owned());
        Ok(fixtures)
    }

    /// Where a setting's problem is, `message` starting with its path under `settings`
    /// (`api.short_pages: …`).
    pub fn settings_error(&self, message: String) -> FixtureError {
        let path = setting_message(message.split([':', ' ']).next().unwrap_or_default());
        let location = self.source.as_deref().and_then(|text| locate(text, &path));
        FixtureError::Settings { message, location }
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
            if creator_index == 0 {
                for n in 0..self.synthetic_videos {
                    next_video_id += 1;
                    let n = i64::try_from(n).unwrap_or(i64::MAX);
                    let template = FixtureVideo {
                        title: format!("Synthetic video #{}", n + 1),
                        like_count: (n % 900) as i32,
                        view_count: 1000 + n,
                        ..FixtureVideo::default()
                    };
                    store.insert_video(build_video(
                        &handle,
                        &creator.open_id,
                        next_video_id.to_string(),
                        now_ms - 3_630_000 - n.saturating_mul(SYNTHETIC_VIDEO_SPACING_MS),
                        &template,
                    ))?;
                }
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
    let cover_image_url = views::cover_image_url(&id).text();
    let share_url = views::share_url(handle, &id).text();
    let embed_html = views::embed_html(handle, &id).text();
    let embed_link = views::embed_link(&id).text();
    Video {
        cover_image_url,
        share_url,
        embed_html,
        embed_link,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_creator_takes_every_field_of_a_creator() {
        let creator: Creator = serde_json::from_value(serde_json::json!({
            "open_id": "-000x", "union_id": "u", "display_name": "d", "username": "n",
            "avatar_url": "a", "avatar_url_100": "a1", "avatar_large_url": "al",
            "bio_description": "b", "profile_deep_link": "p", "profile_web_link": "w",
            "is_verified": true, "follower_count": 1, "following_count": 2, "likes_count": 3,
            "posting": {"private_account": true},
        }))
        .expect("creator");
        let as_yaml = serde_yaml::to_string(&creator).expect("yaml");
        let text = format!(
            "apps: [{{client_key: k, client_secret: s}}]\ncreators:\n  - {}\n",
            as_yaml.trim_end().replace('\n', "\n    ")
        );
        let fixtures = Fixtures::from_yaml(&text).expect("fixtures");
        assert_eq!(fixtures.creators[0].creator, creator);
    }

    #[test]
    fn errors_name_the_path_and_the_line_once() {
        let error = Fixtures::from_yaml(
            "apps:\n  - {client_key: k, client_secret: s}\ncreators:\n  - open_id: a\n    videos:\n      - {title: x, duration: long}\n",
        )
        .expect_err("a bad duration");
        assert_eq!(error.location(), Some((6, 30)));
        assert_eq!(
            error.in_file("f.yaml"),
            "f.yaml:6:30: creators[0].videos[0].duration: invalid type: string \"long\", expected i32"
        );
    }
}
