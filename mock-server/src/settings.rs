//! The settings of one mock that control calls change: token lifetimes and refresh-token
//! rotation, and the content-posting runtime (base URL, processing time, publish ids).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

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
/// The first publish id number.
const PUBLISH_ID_BASE: u64 = 7_320_000_000_000_000_000;

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

/// Token lifetimes and refresh-token rotation.
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
}

impl OAuthSettings {
    /// As TikTok documents it today: 2 h, 180 days, always rotated.
    pub fn current() -> Self {
        OAuthSettings {
            access_token_ttl_seconds: ACCESS_TOKEN_TTL_SECONDS as i64,
            refresh_token_ttl_seconds: REFRESH_TOKEN_TTL_SECONDS as i64,
            rotation: Rotation::from_flag(REFRESH_ROTATION_ALWAYS),
            code_ttl_seconds: CODE_TTL_SECONDS as i64,
        }
    }

    /// As TikTok documented it before Nov 2026: 24 h, 365 days, the same refresh token back.
    pub fn previous() -> Self {
        OAuthSettings {
            access_token_ttl_seconds: ACCESS_TOKEN_TTL_SECONDS_PREVIOUS as i64,
            refresh_token_ttl_seconds: REFRESH_TOKEN_TTL_SECONDS_PREVIOUS as i64,
            rotation: Rotation::from_flag(REFRESH_ROTATION_ALWAYS_PREVIOUS),
            code_ttl_seconds: CODE_TTL_SECONDS as i64,
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
}

/// The posting runtime of one mock: its base URL (for upload URLs), settings and id counter.
#[derive(Debug)]
pub struct Posting {
    base_url: RwLock<String>,
    processing_ms: AtomicI64,
    pull_bytes: AtomicI64,
    next_id: AtomicU64,
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
            processing_ms: AtomicI64::new(DEFAULT_PROCESSING_MS),
            pull_bytes: AtomicI64::new(DEFAULT_PULL_BYTES),
            next_id: AtomicU64::new(PUBLISH_ID_BASE),
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
        PostingSettings {
            processing_ms: self.processing_ms.load(Ordering::SeqCst),
            pull_bytes: self.pull_bytes.load(Ordering::SeqCst),
        }
    }

    /// Changes the settings (negative values become 0).
    pub fn set_settings(&self, settings: PostingSettings) {
        self.processing_ms
            .store(settings.processing_ms.max(0), Ordering::SeqCst);
        self.pull_bytes
            .store(settings.pull_bytes.max(0), Ordering::SeqCst);
    }

    /// A fresh publish id number.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::SeqCst)
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
