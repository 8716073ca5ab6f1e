//! The settings of one mock that control calls change: token lifetimes, refresh-token
//! rotation and the OAuth endpoints' answers, the API's behaviour where TikTok's varies
//! (`fields` names it lacks, short pages), and the content-posting runtime (base URL,
//! processing and moderation time, publish ids).

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use tiktok_api::spec_constants::{
    ACCESS_TOKEN_TTL_SECONDS, ACCESS_TOKEN_TTL_SECONDS_PREVIOUS, CODE_TTL_SECONDS,
    REFRESH_ROTATION_ALWAYS, REFRESH_ROTATION_ALWAYS_PREVIOUS, REFRESH_TOKEN_TTL_SECONDS,
    REFRESH_TOKEN_TTL_SECONDS_PREVIOUS,
};

/// Processing time after the upload (or from init, for `PULL_FROM_URL`) by default: 5 s.
pub const DEFAULT_PROCESSING_MS: i64 = 5_000;
/// The size a `PULL_FROM_URL` video or photo set pretends to have (`downloaded_bytes`).
pub const DEFAULT_PULL_BYTES: i64 = 10_000_000;

/// Whether a refresh hands back a new refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rotation {
    /// Every refresh returns a new refresh token; the one sent stops working at once (today).
    Always,
    /// The refresh token sent comes back and stays valid (the behaviour before Nov 2026).
    May,
}

impl Rotation {
    fn from_flag(always: bool) -> Rotation {
        if always {
            Rotation::Always
        } else {
            Rotation::May
        }
    }
}

/// Token lifetimes, refresh-token rotation, and how the OAuth endpoints answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthSettings {
    /// Access token lifetime, seconds.
    pub access_token_ttl_seconds: i64,
    /// Refresh token lifetime, seconds (rotated tokens keep the remaining lifetime).
    pub refresh_token_ttl_seconds: i64,
    /// Refresh-token rotation.
    pub rotation: Rotation,
    /// Authorization code lifetime, seconds.
    pub code_ttl_seconds: i64,
    /// Calls per minute per app on the token and revoke endpoints. `None` (the default): no
    /// limit, as TikTok documents none; when set, the call over it gets 429
    /// `rate_limit_exceeded` in the flat OAuth shape.
    #[serde(default)]
    pub rate_limit_per_minute: Option<u32>,
    /// Send the OAuth endpoints' errors with HTTP 200 (the body still says `error`), as
    /// TikTok has been seen to; default false (400, 401, …).
    #[serde(default)]
    pub errors_with_http_200: bool,
}

/// The longest lifetime a setting accepts: 100 years, in seconds.
const MAX_TTL_SECONDS: i64 = 100 * 365 * 86_400;

impl OAuthSettings {
    /// As TikTok documents it today: 2 h, 180 days, always rotated.
    pub fn current() -> Self {
        OAuthSettings {
            access_token_ttl_seconds: ACCESS_TOKEN_TTL_SECONDS as i64,
            refresh_token_ttl_seconds: REFRESH_TOKEN_TTL_SECONDS as i64,
            rotation: Rotation::from_flag(REFRESH_ROTATION_ALWAYS),
            code_ttl_seconds: CODE_TTL_SECONDS as i64,
            rate_limit_per_minute: None,
            errors_with_http_200: false,
        }
    }

    /// As TikTok documented it before Nov 2026: 24 h, 365 days, the same refresh token back.
    pub fn previous() -> Self {
        OAuthSettings {
            access_token_ttl_seconds: ACCESS_TOKEN_TTL_SECONDS_PREVIOUS as i64,
            refresh_token_ttl_seconds: REFRESH_TOKEN_TTL_SECONDS_PREVIOUS as i64,
            rotation: Rotation::from_flag(REFRESH_ROTATION_ALWAYS_PREVIOUS),
            code_ttl_seconds: CODE_TTL_SECONDS as i64,
            rate_limit_per_minute: None,
            errors_with_http_200: false,
        }
    }

    /// These settings with the lifetimes and rotation of `preset` (`current` or `previous`).
    pub fn with_lifetimes(self, preset: &str) -> Result<Self, String> {
        let preset = match preset {
            "current" => OAuthSettings::current(),
            "previous" => OAuthSettings::previous(),
            other => {
                return Err(format!(
                    "lifetimes: expected current or previous, found {other:?}"
                ));
            }
        };
        Ok(OAuthSettings {
            rate_limit_per_minute: self.rate_limit_per_minute,
            errors_with_http_200: self.errors_with_http_200,
            ..preset
        })
    }

    /// Why these settings can't be used, if they can't.
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("access_token_ttl_seconds", self.access_token_ttl_seconds),
            ("refresh_token_ttl_seconds", self.refresh_token_ttl_seconds),
            ("code_ttl_seconds", self.code_ttl_seconds),
        ] {
            if !(0..=MAX_TTL_SECONDS).contains(&value) {
                return Err(format!("{name}: must be 0..{MAX_TTL_SECONDS} seconds"));
            }
        }
        if self.rate_limit_per_minute == Some(0) {
            return Err("rate_limit_per_minute: must be at least 1 (null for no limit)".to_owned());
        }
        Ok(())
    }
}

/// What the pipeline does with names in `fields` that the schema lacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownFields {
    /// 400 `invalid_params` naming them (the default; TikTok documents nothing).
    #[default]
    Reject,
    /// Leave them out of the answer, as if not asked for (some published clients still
    /// ask for v1 names such as `avatar_url_200`).
    Ignore,
}

/// How the API endpoints behave where TikTok's behaviour varies (`GET|POST /_mock/settings`,
/// group `api`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// Unknown names in `fields`: `reject` (400) or `ignore`.
    pub unknown_fields: UnknownFields,
    /// Pages of the video list and the research comment list hold at most half of
    /// `max_count` (at least one) while `has_more` stays true, as TikTok may answer, so an
    /// app that stops at the first short page is caught.
    pub short_pages: bool,
}

impl ApiSettings {
    /// How many items a page holds when `max_count` are asked for.
    pub fn page_size(&self, max_count: usize) -> usize {
        if self.short_pages {
            max_count.div_ceil(2).max(1)
        } else {
            max_count
        }
    }
}

impl Default for OAuthSettings {
    fn default() -> Self {
        OAuthSettings::current()
    }
}

/// Settings of the posting state machine (`GET|POST /_mock/posting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostingSettings {
    /// Processing time on the mock's clock, milliseconds: after the last chunk for
    /// `FILE_UPLOAD`, from init for `PULL_FROM_URL`. Applies to posts started afterwards.
    pub processing_ms: i64,
    /// The size a pulled video or photo set pretends to have.
    pub pull_bytes: i64,
    /// Moderation after a public post is published, milliseconds: until it is over,
    /// `publicaly_available_post_id` stays empty and `post.publish.publicly_available` is
    /// not sent. Default 0. Applies to posts published afterwards.
    #[serde(default)]
    pub moderation_ms: i64,
    /// The length every posted video pretends to have, seconds (the mock reads no media):
    /// a direct post longer than the creator's `max_video_post_duration_sec` fails with
    /// `duration_check_failed` once its bytes are in (never at init, where TikTok cannot
    /// know the length); a published video is listed with it. Default 15.
    #[serde(default = "default_video_duration_sec")]
    pub video_duration_sec: i32,
}

fn default_video_duration_sec() -> i32 {
    DEFAULT_VIDEO_DURATION_SEC
}

/// The length every posted video pretends to have by default, seconds.
pub const DEFAULT_VIDEO_DURATION_SEC: i32 = 15;

impl PostingSettings {
    /// Why these settings can't be used, if they can't.
    pub fn check(&self) -> Result<(), String> {
        if self.processing_ms < 0
            || self.pull_bytes < 0
            || self.moderation_ms < 0
            || self.video_duration_sec < 1
        {
            return Err(
                "processing_ms, pull_bytes and moderation_ms must not be negative, video_duration_sec at least 1"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

/// The posting runtime of one mock: its base URL (for upload URLs) and settings.
#[derive(Debug)]
pub struct Posting {
    base_url: RwLock<String>,
    settings: RwLock<PostingSettings>,
}

impl Default for Posting {
    fn default() -> Self {
        Posting::new()
    }
}

impl Posting {
    /// Defaults: base URL `http://127.0.0.1:8080` until the server says where it listens.
    pub fn new() -> Posting {
        Posting {
            base_url: RwLock::new("http://127.0.0.1:8080".to_owned()),
            settings: RwLock::new(PostingSettings {
                processing_ms: DEFAULT_PROCESSING_MS,
                pull_bytes: DEFAULT_PULL_BYTES,
                moderation_ms: 0,
                video_duration_sec: DEFAULT_VIDEO_DURATION_SEC,
            }),
        }
    }

    /// The mock's own base URL, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.read().clone()
    }

    /// Sets the base URL upload URLs point at (the server calls it once bound).
    pub fn set_base_url(&self, url: &str) {
        *self.base_url.write() = url.trim_end_matches('/').to_owned();
    }

    /// The current settings.
    pub fn settings(&self) -> PostingSettings {
        *self.settings.read()
    }

    /// Changes the settings (negative values become 0, a duration under 1 s becomes 1).
    pub fn set_settings(&self, settings: PostingSettings) {
        *self.settings.write() = PostingSettings {
            processing_ms: settings.processing_ms.max(0),
            pull_bytes: settings.pull_bytes.max(0),
            moderation_ms: settings.moderation_ms.max(0),
            video_duration_sec: settings.video_duration_sec.max(1),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_follow_the_spec_constants() {
        assert_eq!(OAuthSettings::default().access_token_ttl_seconds, 7200);
        assert_eq!(OAuthSettings::default().rotation, Rotation::Always);
        assert_eq!(OAuthSettings::previous().access_token_ttl_seconds, 86_400);
        assert_eq!(OAuthSettings::previous().rotation, Rotation::May);
    }
}
