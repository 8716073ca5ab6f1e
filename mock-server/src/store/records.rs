//! The records the store keeps: apps, creators, videos, comments, tokens, authorization
//! codes, refresh tokens, faults, the call log and webhook deliveries (the queue is
//! `crate::webhook_queue`). Posts are in [`super::posts`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tiktok_api::meta::WebhookFamily;
use tiktok_api::{ErrorCode, Scope};

use crate::store::posts::PostingProfile;

/// A developer app registered with the mock.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub webhook_family: WebhookFamily,
    /// Whether the app may use the Research API (grant_type=client_credentials); default true.
    #[serde(default = "research_api_default")]
    pub research_api: bool,
    /// Domains verified for `PULL_FROM_URL` (the developer portal's "URL properties"): a
    /// domain covers itself and its subdomains.
    #[serde(default)]
    pub verified_domains: Vec<String>,
    /// URL prefixes verified for `PULL_FROM_URL` (`https://host/path/`): a prefix covers
    /// exactly the URLs that start with it, on that host only.
    #[serde(default)]
    pub verified_url_prefixes: Vec<String>,
}

fn research_api_default() -> bool {
    true
}

/// The privacy level a video has when its fixture does not say.
pub const PUBLIC: &str = "PUBLIC_TO_EVERYONE";

fn public_default() -> String {
    PUBLIC.to_owned()
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
    /// A link to the profile on the web (`user.info.profile`; may be empty).
    #[serde(default)]
    pub profile_web_link: String,
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
    /// Posting settings: privacy, interaction toggles, blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posting: Option<PostingProfile>,
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
    /// Who can see it (`PrivacyLevel`); only `PUBLIC_TO_EVERYONE` videos are listed,
    /// queried and counted by the API, as TikTok shows only public posts.
    #[serde(default = "public_default")]
    pub privacy_level: String,
}

impl Video {
    /// Whether the API shows it: only public posts are listed, queried and counted.
    pub fn is_public(&self) -> bool {
        self.privacy_level == PUBLIC
    }

    /// The video as a `Video` object, every field present (`create_time` in seconds).
    pub fn to_api_json(&self) -> Map<String, Value> {
        let mut object = match serde_json::to_value(self) {
            Ok(Value::Object(object)) => object,
            _ => Map::new(),
        };
        object.remove("open_id");
        object.remove("create_time_ms");
        object.remove("privacy_level");
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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// What an injected fault does to a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// The call is answered with this status and body as given (a stub).
    Stub {
        /// The HTTP status.
        status: u16,
        /// The whole JSON body.
        body: Value,
    },
}

fn serialize_code<S: serde::Serializer>(
    code: &ErrorCode,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(code.as_str())
}

/// A pending fault and how many more calls it hits.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// The query string, secrets masked.
    pub query: Option<String>,
    /// The request body (JSON as JSON, a form as an object of its fields), secrets masked;
    /// absent when the route reads none or it was longer than the log keeps.
    pub body: Option<Value>,
    /// The endpoint id, when the path is an API endpoint.
    pub endpoint: Option<String>,
    /// The creator of the token, once authenticated.
    pub open_id: Option<String>,
    /// `ok` or the error code the call got.
    pub decision: String,
    /// The error's message, when the call failed.
    pub message: Option<String>,
    /// The HTTP status sent.
    pub status: u16,
    /// Time spent in the mock, whole microseconds.
    pub latency_us: u64,
    /// The response's log id.
    pub log_id: Option<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its due time (first attempt or a retry).
    Pending,
    /// An attempt is under way.
    InFlight,
    /// A 200 came back.
    Delivered,
    /// Given up after the retry window, or the app disappeared.
    Dropped,
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When it was made, Unix milliseconds on the mock's clock.
    pub at_ms: i64,
    /// The `t` of the `TikTok-Signature` header sent.
    pub signed_at: i64,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why it failed without an HTTP answer (connection refused, timeout).
    pub error: Option<String>,
}

/// One event on its way to one app's callback URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Order of creation.
    pub id: u64,
    /// The app.
    pub client_key: String,
    /// The event name.
    pub event: String,
    /// The user, when the event has one.
    pub user_openid: Option<String>,
    /// The callback URL at the time the event was queued.
    pub url: String,
    /// The exact body sent on every attempt.
    pub body: String,
    /// When the event was queued, Unix milliseconds on the mock's clock.
    pub created_at_ms: i64,
    /// Where it stands.
    pub state: DeliveryState,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_ms: Option<i64>,
    /// Every attempt so far, oldest first.
    pub attempts: Vec<Attempt>,
    /// The delivery this one repeats (the duplicate option).
    pub duplicate_of: Option<u64>,
    /// The post the event is about (`publish_id`, or `share_id` of the seed's events): the
    /// deliveries of one post go out in the order they happened, each after the one before
    /// it was delivered or dropped.
    pub order_key: Option<String>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::redact::debug_json("App", self, f)
    }
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::redact::debug_json("TokenRecord", self, f)
    }
}

impl std::fmt::Debug for AuthCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::redact::debug_json("AuthCode", self, f)
    }
}

impl std::fmt::Debug for RefreshRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::redact::debug_json("RefreshRecord", self, f)
    }
}
