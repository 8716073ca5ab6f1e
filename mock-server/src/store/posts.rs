//! Post records of the Content Posting API as the store keeps them, and a creator's
//! posting profile.

use serde::{Deserialize, Serialize};
use tiktok_api::{ErrorCode, PrivacyLevel};

/// A creator's posting settings, the `posting` key of a creator in fixtures and in
/// `POST /_mock/creators`. Everything defaults to a public account with every toggle on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostingProfile {
    /// A private account: privacy options `FOLLOWER_OF_CREATOR`, `MUTUAL_FOLLOW_FRIENDS`,
    /// `SELF_ONLY`; duets and stitches off. Unaudited apps may post only to private accounts.
    #[serde(default)]
    pub private_account: bool,
    /// Comments set to "No one".
    #[serde(default)]
    pub comment_disabled: bool,
    /// Duets set to "No one".
    #[serde(default)]
    pub duet_disabled: bool,
    /// Stitches set to "No one".
    #[serde(default)]
    pub stitch_disabled: bool,
    /// The longest video the creator may post (default 300).
    #[serde(default)]
    pub max_video_post_duration_sec: Option<i32>,
    /// The creator can't post now: creator_info answers this code with HTTP 200 and the
    /// init endpoints that list it refuse with it (403).
    #[serde(default)]
    pub blocked: Option<PostingBlock>,
}

/// Why a creator can't post now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostingBlock {
    /// Too many API posts in 24 h.
    SpamRiskTooManyPosts,
    /// The creator is banned from posting.
    SpamRiskUserBannedFromPosting,
    /// The app's 24-hour active-creator cap is reached.
    ReachedActiveUserCap,
}

impl PostingBlock {
    /// The catalog code.
    pub fn code(self) -> ErrorCode {
        match self {
            PostingBlock::SpamRiskTooManyPosts => ErrorCode::SpamRiskTooManyPosts,
            PostingBlock::SpamRiskUserBannedFromPosting => ErrorCode::SpamRiskUserBannedFromPosting,
            PostingBlock::ReachedActiveUserCap => ErrorCode::ReachedActiveUserCap,
        }
    }
}

impl PostingProfile {
    /// The privacy levels a post may use, as creator_info lists them.
    pub fn privacy_level_options(&self) -> Vec<PrivacyLevel> {
        if self.private_account {
            vec![
                PrivacyLevel::FollowerOfCreator,
                PrivacyLevel::MutualFollowFriends,
                PrivacyLevel::SelfOnly,
            ]
        } else {
            vec![
                PrivacyLevel::PublicToEveryone,
                PrivacyLevel::MutualFollowFriends,
                PrivacyLevel::SelfOnly,
            ]
        }
    }
}

/// Direct post to the profile, or upload to the creator's inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostFlow {
    /// Direct Post (`video.publish`).
    Direct,
    /// Upload to the inbox (`video.upload`).
    Inbox,
}

/// What a post carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A video.
    Video,
    /// Photos.
    Photo,
}

/// How the media reaches the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SourceKind {
    /// Chunks PUT to the upload URL.
    FileUpload,
    /// Downloaded from a URL.
    PullFromUrl,
}

/// A transition whose side effects (video list, webhooks) happen once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    /// `PUBLISH_COMPLETE`.
    Published,
    /// The post is public (its id is listed).
    PubliclyAvailable,
    /// `SEND_TO_USER_INBOX`.
    InboxDelivered,
    /// `FAILED`.
    Failed,
}

/// A post started through an init endpoint, as the store keeps it. Its JSON leaves out
/// the two secrets (`access_token`, `upload_token`): a durable store keeps them beside it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostRecord {
    /// The id the init call answered.
    pub publish_id: String,
    /// The init endpoint's id (`video_init`, `inbox_video_init`, `content_init`).
    pub endpoint: String,
    /// The creator.
    pub open_id: String,
    /// The app whose token started it.
    pub client_key: String,
    /// The access token that started it: once revoked, an unfinished post fails with
    /// `auth_removed`.
    #[serde(skip)]
    pub access_token: String,
    /// Direct or inbox.
    pub flow: PostFlow,
    /// Video or photos.
    pub media: MediaKind,
    /// Upload or pull.
    pub source: SourceKind,
    /// Init time, Unix ms on the mock's clock.
    pub created_ms: i64,
    /// Processing time of this post, ms.
    pub processing_ms: i64,
    /// Moderation after publishing, before a public post's id is exposed, ms.
    pub moderation_ms: i64,
    /// The privacy level in force (direct posts; `SELF_ONLY` for unaudited apps).
    pub privacy_level: Option<String>,
    /// The caption (video) or title (photos).
    pub title: String,
    /// The photo description.
    pub description: String,
    /// The pull URL (the first photo for photo posts).
    pub media_url: Option<String>,
    /// Photos in a photo post.
    pub photo_count: usize,
    /// `FILE_UPLOAD`: the declared size; `PULL_FROM_URL`: the pretended size.
    pub video_size: i64,
    /// `FILE_UPLOAD`: bytes per chunk.
    pub chunk_size: i64,
    /// `FILE_UPLOAD`: chunks.
    pub total_chunk_count: i64,
    /// `FILE_UPLOAD`: the id in the upload URL.
    pub upload_id: Option<String>,
    /// `FILE_UPLOAD`: the token in the upload URL.
    #[serde(skip)]
    pub upload_token: Option<String>,
    /// `FILE_UPLOAD`: when the upload URL stops working, Unix ms.
    pub upload_expires_ms: Option<i64>,
    /// Bytes received so far.
    pub uploaded_bytes: i64,
    /// Chunks received so far.
    pub chunks_received: i64,
    /// When the last chunk arrived.
    pub upload_completed_ms: Option<i64>,
    /// The pull URL's host is one that fails (`*.invalid`).
    pub pull_fails: bool,
    /// The video is longer than the creator may post (the posting settings'
    /// `video_duration_sec` over their `max_video_post_duration_sec`, as at init): once its
    /// bytes are in and processed, the post fails with `duration_check_failed`, the one
    /// place TikTok can know a video's length.
    #[serde(default)]
    pub too_long: bool,
    /// A failure forced through the control API.
    pub fail_reason: Option<String>,
    /// When the forced failure happened.
    pub failed_ms: Option<i64>,
    /// Inbox: when the creator posted the draft from the inbox (control API).
    pub user_posted_ms: Option<i64>,
    /// The id of the post once published (the video id in the creator's list).
    pub post_id: String,
    /// Milestones whose side effects already happened.
    pub applied: Vec<Milestone>,
}

impl std::fmt::Debug for PostRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::redact::debug_json("PostRecord", self, f)
    }
}
