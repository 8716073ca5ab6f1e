//! The mock's state behind one trait: apps, creators, videos, comments, tokens,
//! rate-limit windows, faults and the call log.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tiktok_api::{ErrorCode, Scope};

pub use crate::posting::PostRecord;

/// A developer app registered with the mock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// The app's client key.
    pub client_key: String,
    /// The app's client secret.
    pub client_secret: String,
    /// A display name.
    #[serde(default)]
    pub name: String,
    /// The redirect URIs registered for Login Kit.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Where webhooks are delivered.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// Whether the app passed the content audit.
    #[serde(default)]
    pub audited: bool,
    /// Which content-posting webhook events the app receives: `seed` (default) or `real`.
    #[serde(default)]
    pub webhook_family: crate::webhooks::EventFamily,
    /// Whether the app may use the Research API (grant_type=client_credentials); default true.
    #[serde(default = "research_api_default")]
    pub research_api: bool,
}

fn research_api_default() -> bool {
    true
}

/// A creator: a TikTok user who can connect to apps. Field names follow the `User` schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Creator {
    /// The user's id within the apps of this mock.
    pub open_id: String,
    /// The user's id across a developer's apps.
    #[serde(default)]
    pub union_id: String,
    /// The profile name.
    #[serde(default)]
    pub display_name: String,
    /// The unique handle.
    #[serde(default)]
    pub username: String,
    /// Profile image URL.
    #[serde(default)]
    pub avatar_url: String,
    /// Profile image URL, 100x100.
    #[serde(default)]
    pub avatar_url_100: String,
    /// Profile image URL, large.
    #[serde(default)]
    pub avatar_large_url: String,
    /// The profile bio.
    #[serde(default)]
    pub bio_description: String,
    /// A link to the profile page.
    #[serde(default)]
    pub profile_deep_link: String,
    /// Whether TikTok verified the account.
    #[serde(default)]
    pub is_verified: bool,
    /// Followers.
    #[serde(default)]
    pub follower_count: i64,
    /// Accounts followed.
    #[serde(default)]
    pub following_count: i64,
    /// Likes across all videos.
    #[serde(default)]
    pub likes_count: i64,
    /// Posting settings: privacy, interaction toggles, blocks (`crate::posting`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posting: Option<crate::posting::PostingProfile>,
}

impl Creator {
    /// The creator as a `User` object, every field present (`video_count` from the store).
    pub fn to_user_json(&self, video_count: u64) -> Map<String, Value> {
        let mut object = match serde_json::to_value(self) {
            Ok(Value::Object(object)) => object,
            _ => Map::new(),
        };
        object.insert("video_count".to_owned(), Value::from(video_count));
        object
    }
}

/// A posted video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Video {
    /// The video id (19 digits).
    pub id: String,
    /// The creator's open_id.
    pub open_id: String,
    /// When it was posted, Unix milliseconds; unique per creator (the store shifts ties by 1 ms).
    pub create_time_ms: i64,
    /// The title.
    #[serde(default)]
    pub title: String,
    /// The description.
    #[serde(default)]
    pub video_description: String,
    /// Length in seconds.
    #[serde(default)]
    pub duration: i32,
    /// Height in pixels.
    #[serde(default)]
    pub height: i32,
    /// Width in pixels.
    #[serde(default)]
    pub width: i32,
    /// Cover image URL.
    #[serde(default)]
    pub cover_image_url: String,
    /// Shareable link.
    #[serde(default)]
    pub share_url: String,
    /// An HTML embed snippet.
    #[serde(default)]
    pub embed_html: String,
    /// The embed URL.
    #[serde(default)]
    pub embed_link: String,
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
}

impl Video {
    /// The video as a `Video` object, every field present (`create_time` in seconds).
    pub fn to_api_json(&self) -> Map<String, Value> {
        let mut object = match serde_json::to_value(self) {
            Ok(Value::Object(object)) => object,
            _ => Map::new(),
        };
        object.remove("open_id");
        object.remove("create_time_ms");
        object.insert(
            "create_time".to_owned(),
            Value::from(self.create_time_ms.div_euclid(1000)),
        );
        object
    }
}

/// A public comment on a video, or a reply to a comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comment {
    /// The comment id.
    pub id: i64,
    /// The video commented on.
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
    /// The comment replied to, or the video id for a top-level comment.
    #[serde(default)]
    pub parent_comment_id: i64,
    /// Unix seconds UTC.
    #[serde(default)]
    pub create_time: i64,
}

/// Which kind of access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A user access token (`act.`), acting for one creator.
    User,
    /// A client access token (`clt.`), acting for the app (Research API).
    Client,
}

/// An access token the mock issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token string.
    pub access_token: String,
    /// User or client token.
    pub kind: TokenKind,
    /// The creator a user token acts for.
    pub open_id: Option<String>,
    /// The app it was issued to.
    pub client_key: String,
    /// The granted scopes.
    pub scopes: Vec<Scope>,
    /// Expiry, Unix milliseconds on the mock's clock.
    pub expires_at_ms: i64,
    /// The refresh token of a user token.
    pub refresh_token: Option<String>,
    /// The refresh token's expiry, Unix milliseconds.
    pub refresh_expires_at_ms: Option<i64>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// An authorization code issued by the consent page (or the control API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthCode {
    /// The code as sent in the redirect.
    pub code: String,
    /// The app it was issued to.
    pub client_key: String,
    /// The user who consented.
    pub open_id: String,
    /// The scopes granted.
    pub scopes: Vec<Scope>,
    /// The redirect_uri of the authorize request (the exchange must repeat it).
    pub redirect_uri: String,
    /// The PKCE code_challenge (hex or base64url of SHA-256), if one was sent.
    pub code_challenge: Option<String>,
    /// Expiry, Unix milliseconds on the mock's clock.
    pub expires_at_ms: i64,
    /// Whether it was presented to the token endpoint already.
    pub used: bool,
    /// The access token issued for it, revoked if the code is presented again.
    pub access_token: Option<String>,
}

/// A refresh token and the authorization (app, user, scopes) it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshRecord {
    /// The token string.
    pub refresh_token: String,
    /// The app.
    pub client_key: String,
    /// The user.
    pub open_id: String,
    /// The granted scopes.
    pub scopes: Vec<Scope>,
    /// Expiry, Unix milliseconds on the mock's clock.
    pub expires_at_ms: i64,
    /// Revoked, or replaced by rotation.
    pub revoked: bool,
    /// The refresh token that replaced this one.
    pub rotated_to: Option<String>,
    /// Every access token minted under this authorization so far.
    pub access_tokens: Vec<String>,
}

/// One page of a creator's videos, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoPage {
    /// The videos.
    pub videos: Vec<Video>,
    /// Whether older videos remain.
    pub has_more: bool,
}

/// The result of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the call may go ahead (and was counted).
    pub allowed: bool,
    /// Calls in the window, this one included when allowed.
    pub in_window: u32,
}

/// What an injected fault does to a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Fault {
    /// The call fails with this catalog error.
    Error {
        /// The catalog code.
        #[serde(serialize_with = "serialize_code")]
        code: ErrorCode,
        /// The HTTP status (the endpoint's or the catalog's when built from the control API).
        status: u16,
        /// The message.
        message: String,
    },
    /// The call is answered normally after a delay.
    Latency {
        /// Delay in milliseconds.
        latency_ms: u64,
    },
}

fn serialize_code<S: serde::Serializer>(
    code: &ErrorCode,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(code.as_str())
}

/// A pending fault and how many more calls it hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingFault {
    /// The endpoint id.
    pub endpoint: String,
    /// What happens.
    pub fault: Fault,
    /// Calls left.
    pub remaining: u32,
}

/// One line of the call log. Never holds a token or a secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    /// Order of arrival.
    pub seq: u64,
    /// When the call arrived, Unix milliseconds on the mock's clock.
    pub at_ms: i64,
    /// HTTP method.
    pub method: String,
    /// Path, without the query string.
    pub path: String,
    /// The endpoint id, when the path is an API endpoint.
    pub endpoint: Option<String>,
    /// The creator of the token, once authenticated.
    pub open_id: Option<String>,
    /// `ok` or the error code the call got.
    pub decision: String,
    /// The HTTP status sent.
    pub status: u16,
    /// Time spent in the mock, milliseconds.
    pub latency_ms: f64,
    /// The response's log id.
    pub log_id: Option<String>,
}

/// Why the store refused a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No creator has this open_id.
    #[error("unknown creator {0:?}")]
    UnknownCreator(String),
    /// The id is taken.
    #[error("duplicate id {0:?}")]
    DuplicateId(String),
    /// No free millisecond is left at or after the video's create time.
    #[error("create_time_ms out of range")]
    TimeOutOfRange,
    /// No video has this id.
    #[error("unknown video {0:?}")]
    UnknownVideo(String),
}

/// All the mock's state. Implementations must be safe to call from many tasks at once
/// and must not serialise unrelated calls behind one lock.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Forgets everything.
    fn clear(&self);

    /// Adds or replaces an app.
    fn put_app(&self, app: App);
    /// Every app, by client key.
    fn apps(&self) -> Vec<App>;
    /// The app with this client key.
    fn app(&self, client_key: &str) -> Option<App>;

    /// Adds or replaces a creator.
    fn put_creator(&self, creator: Creator);
    /// The creator with this open_id.
    fn creator(&self, open_id: &str) -> Option<Creator>;
    /// Every creator, by open_id.
    fn creators(&self) -> Vec<Creator>;

    /// Adds a video. Its `create_time_ms` moves forward to the next free millisecond of
    /// its creator if taken, so the cursor of the video list is unambiguous. Returns it as stored.
    fn insert_video(&self, video: Video) -> Result<Video, StoreError>;
    /// The video with this id.
    fn video(&self, id: &str) -> Option<Video>;
    /// Up to `max_count` videos of `open_id` posted strictly before `before_ms` (all when
    /// `None`), newest first. Costs O(log n + max_count).
    fn video_page(&self, open_id: &str, before_ms: Option<i64>, max_count: usize) -> VideoPage;
    /// The videos among `ids` that belong to `open_id`, in the order asked, without repeats.
    fn videos_by_ids(&self, open_id: &str, ids: &[String]) -> Vec<Video>;
    /// How many videos `open_id` has.
    fn video_count(&self, open_id: &str) -> u64;

    /// Adds a comment.
    fn insert_comment(&self, comment: Comment) -> Result<Comment, StoreError>;
    /// The comments on a video, oldest first.
    fn comments(&self, video_id: i64) -> Vec<Comment>;

    /// Adds or replaces a token.
    fn put_token(&self, token: TokenRecord);
    /// The token record for this string, whatever its state.
    fn token(&self, access_token: &str) -> Option<TokenRecord>;
    /// Marks a token revoked; false if unknown.
    fn revoke_token(&self, access_token: &str) -> bool;

    /// Adds or replaces an authorization code.
    fn put_auth_code(&self, code: AuthCode);
    /// Marks a code used and returns it as it was before (its `used` tells a second use).
    fn redeem_auth_code(&self, code: &str) -> Option<AuthCode>;
    /// Adds or replaces a refresh token.
    fn put_refresh_token(&self, record: RefreshRecord);
    /// The refresh token's record, whatever its state.
    fn refresh_token(&self, refresh_token: &str) -> Option<RefreshRecord>;
    /// Changes a refresh token's record under its lock; returns it as it was before.
    fn update_refresh_token(
        &self,
        refresh_token: &str,
        change: &mut dyn FnMut(&mut RefreshRecord),
    ) -> Option<RefreshRecord>;
    /// The comment with this id.
    fn comment(&self, id: i64) -> Option<Comment>;
    /// Every token the app holds for the user (a scan: for control calls, not the hot path).
    fn tokens_of(&self, client_key: &str, open_id: &str) -> Vec<TokenRecord>;

    /// Counts a call against the sliding window of `key` if fewer than `limit` calls
    /// happened in the `window_ms` before `now_ms`. Exact under concurrency.
    fn try_acquire(&self, key: &str, now_ms: i64, limit: u32, window_ms: i64) -> RateDecision;

    /// Makes the next `remaining` calls to `endpoint` hit `fault`.
    fn push_fault(&self, fault: PendingFault);
    /// Takes one hit of the first pending fault of `endpoint`.
    fn take_fault(&self, endpoint: &str) -> Option<Fault>;
    /// Every pending fault.
    fn faults(&self) -> Vec<PendingFault>;

    /// Appends to the call log (its `seq` is assigned by the store).
    fn record_call(&self, call: CallRecord);
    /// The call log, oldest first (the most recent calls, up to a bound).
    fn calls(&self) -> Vec<CallRecord>;

    /// Adds a post of the Content Posting API; its publish_id and upload_id must be new.
    fn insert_post(&self, post: PostRecord) -> Result<(), StoreError>;
    /// The post with this publish_id.
    fn post(&self, publish_id: &str) -> Option<PostRecord>;
    /// The post whose upload URL has this upload_id.
    fn post_by_upload_id(&self, upload_id: &str) -> Option<PostRecord>;
    /// Runs `change` on the post under its own lock; false if unknown.
    fn update_post(&self, publish_id: &str, change: &mut dyn FnMut(&mut PostRecord)) -> bool;
    /// The posts of a creator, oldest first.
    fn creator_posts(&self, open_id: &str) -> Vec<PostRecord>;
    /// Every post, oldest first.
    fn posts(&self) -> Vec<PostRecord>;
    /// Marks a post of `open_id` open (time may still change it) or closed. A new post is
    /// open; settling visits only open posts, so its cost does not grow with old ones.
    fn set_post_open(&self, open_id: &str, publish_id: &str, open: bool);
    /// The publish_ids of the open posts of one creator, or of every creator.
    fn open_posts(&self, open_id: Option<&str>) -> Vec<String>;
}
