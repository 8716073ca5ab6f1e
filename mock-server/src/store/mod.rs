//! The mock's state behind one trait: apps, creators, videos, comments, tokens,
//! rate-limit windows, faults, the call log and posts. The records are in [`records`] and
//! [`posts`]; the in-memory implementation is [`memory`], the durable one (`--state FILE`)
//! [`sqlite`].

pub mod call_ring;
pub mod memory;
pub mod posts;
pub mod records;
pub mod sharded;
pub mod sqlite;
pub mod timeline;
pub mod views;

use std::sync::Arc;

use serde_json::Value;

pub use posts::{
    MediaKind, Milestone, PostFlow, PostRecord, PostingBlock, PostingProfile, SourceKind,
};
pub use records::{
    App, Attempt, AuthCode, CallRecord, Comment, Creator, Delivery, DeliveryState, Fault,
    PendingFault, RefreshRecord, TokenKind, TokenRecord, Video,
};
pub use views::{ApiUser, ApiVideo, CallEntry, VideoCall, VideoUrls, VideoView};

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
    /// The creator with this open_id, shared rather than copied (for the hot path).
    fn creator_shared(&self, open_id: &str) -> Option<Arc<Creator>> {
        self.creator(open_id).map(Arc::new)
    }
    /// Every creator, by open_id.
    fn creators(&self) -> Vec<Creator>;

    /// Adds a video, public or not. Its `create_time_ms` moves forward to the next free
    /// millisecond of its creator if taken, so the cursor of the video list is unambiguous.
    /// Returns it as stored.
    fn insert_video(&self, video: Video) -> Result<Video, StoreError>;
    /// The video with this id.
    fn video(&self, id: &str) -> Option<Video>;
    /// Up to `max_count` public videos of `open_id` posted strictly before `before_ms` (all
    /// when `None`), newest first. Costs O(log n + max_count).
    fn video_page(&self, open_id: &str, before_ms: Option<i64>, max_count: usize) -> VideoPage;
    /// [`Store::video_page`] without copying: visits each public video of the page, newest
    /// first, and returns `has_more`. The read the video list serves.
    fn visit_video_page(
        &self,
        open_id: &str,
        before_ms: Option<i64>,
        max_count: usize,
        visit: &mut dyn FnMut(VideoView<'_>),
    ) -> bool {
        let page = self.video_page(open_id, before_ms, max_count);
        for video in &page.videos {
            visit(video.as_view());
        }
        page.has_more
    }
    /// The public videos among `ids` that belong to `open_id`, in the order asked, without
    /// repeats.
    fn videos_by_ids(&self, open_id: &str, ids: &[String]) -> Vec<Video> {
        let mut seen = std::collections::HashSet::new();
        ids.iter()
            .filter(|id| seen.insert(id.as_str()))
            .filter_map(|id| self.video(id))
            .filter(|video| video.open_id == open_id && video.is_public())
            .collect()
    }
    /// How many public videos `open_id` has.
    fn video_count(&self, open_id: &str) -> u64;
    /// The videos of `open_id` that are not public (kept, never listed by the API), newest first.
    fn hidden_videos(&self, open_id: &str) -> Vec<Video>;

    /// Adds a comment.
    fn insert_comment(&self, comment: Comment) -> Result<Comment, StoreError>;
    /// The comments on a video, oldest first.
    fn comments(&self, video_id: i64) -> Vec<Comment>;

    /// Adds or replaces a token.
    fn put_token(&self, token: TokenRecord);
    /// The token record for this string, whatever its state.
    fn token(&self, access_token: &str) -> Option<TokenRecord>;
    /// [`Store::token`], shared rather than copied (for the hot path).
    fn token_shared(&self, access_token: &str) -> Option<Arc<TokenRecord>> {
        self.token(access_token).map(Arc::new)
    }
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

    /// Appends to the call log (the store numbers it: `seq` of [`CallRecord`]).
    fn record_call(&self, call: CallEntry);
    /// The call log, oldest first (the most recent calls, up to a bound).
    fn calls(&self) -> Vec<CallRecord>;
    /// The newest `limit` calls of the log that `wanted` keeps (every one for `None`),
    /// oldest first; only those are copied out of the log.
    fn newest_calls(
        &self,
        limit: Option<usize>,
        wanted: &dyn Fn(&CallEntry) -> bool,
    ) -> Vec<CallRecord>;

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

    /// Runs `change` as one step: on a durable store one transaction, committed if
    /// `change` returns true and rolled back otherwise (or if it panics), so no crash leaves
    /// it half done and no other connection sees it half done. The memory store just runs
    /// it (calls are kept out by the state's reset gate).
    fn atomically(&self, change: &mut dyn FnMut() -> bool) {
        change();
    }

    /// The store's state for `GET /_mock/health`: its kind, and for a file its name and
    /// whether its storage works (`status`: `ok` or `failing`, with the last `error`).
    fn health(&self) -> Value {
        serde_json::json!({ "kind": "memory", "status": "ok" })
    }

    /// Whether the contents outlive the process (the SQLite store). A durable store also
    /// keeps what the methods below hand it; the memory store keeps none of it (the
    /// defaults do nothing and cost nothing).
    fn durable(&self) -> bool {
        false
    }
    /// Keeps a webhook delivery as it now stands (added or changed); [`Store::clear`]
    /// forgets them.
    fn put_delivery(&self, _delivery: &Delivery) {}
    /// Forgets a delivery kept by [`Store::put_delivery`] (a finished one the queue no
    /// longer lists).
    fn forget_delivery(&self, _id: u64) {}
    /// The deliveries kept by [`Store::put_delivery`], oldest first.
    fn saved_deliveries(&self) -> Vec<Delivery> {
        Vec::new()
    }
    /// Keeps one value of the mock's own state (settings, the manual clock, the demo
    /// tokens) under `key`; [`Store::clear`] keeps these.
    fn put_meta(&self, _key: &str, _value: &Value) {}
    /// The value kept under `key`.
    fn meta(&self, _key: &str) -> Option<Value> {
        None
    }
}
