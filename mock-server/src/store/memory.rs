//! The in-memory [`Store`]: sharded maps with a lock per key, no global lock on the hot
//! path. Videos live in compact per-creator [`Timeline`]s; tokens and creators are shared
//! (`Arc`) so the pipeline reads them without copying; a rate-limit window keeps one entry
//! per millisecond that saw calls, not one per call.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::store::call_ring::CallRing;
use crate::store::sharded::Sharded;
use crate::store::timeline::Timeline;
use crate::store::{
    App, AuthCode, CallEntry, CallRecord, Comment, Creator, Fault, PendingFault, PostRecord,
    RateDecision, RefreshRecord, Store, StoreError, TokenRecord, Video, VideoPage, VideoView,
};

/// The calls of one rate-limit key in its window: runs of (millisecond, calls), oldest
/// first, and their total. Exact like a list of timestamps, bounded by the window's
/// milliseconds however high the limit.
#[derive(Debug, Default)]
struct Window {
    runs: VecDeque<(i64, u32)>,
    total: u32,
}

/// The in-memory store.
#[derive(Debug)]
pub struct MemoryStore {
    apps: Sharded<App>,
    creators: Sharded<Arc<Creator>>,
    timelines: Sharded<Arc<Mutex<Timeline>>>,
    /// Video id to (open_id, create_time_ms).
    video_index: Sharded<(Arc<str>, i64)>,
    comments: Sharded<Arc<Mutex<Vec<Comment>>>>,
    /// Comment id to its video id.
    comment_ids: Sharded<i64>,
    auth_codes: Sharded<AuthCode>,
    refresh_tokens: Sharded<RefreshRecord>,
    tokens: Sharded<Arc<TokenRecord>>,
    windows: Sharded<Arc<Mutex<Window>>>,
    /// Pending faults by endpoint id, each queue in the order pushed; with the number each
    /// was pushed as, to list them all in that order.
    faults: Mutex<HashMap<String, VecDeque<(u64, PendingFault)>>>,
    fault_count: AtomicUsize,
    fault_seq: AtomicU64,
    calls: CallRing,
    /// Content posting: each post behind its own mutex, by publish_id.
    posts: Sharded<Arc<Mutex<PostRecord>>>,
    /// upload_id to publish_id.
    upload_index: Sharded<String>,
    /// open_id to the creator's publish_ids, oldest first.
    creator_posts: Sharded<Arc<Mutex<Vec<String>>>>,
    /// open_id to the creator's open posts.
    open_posts: Sharded<Arc<Mutex<BTreeSet<String>>>>,
    /// Open posts in all, so reads skip the lookup when there are none.
    open_post_count: AtomicUsize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store whose call log keeps the newest
    /// [`DEFAULT_CALL_LOG_SIZE`](crate::store::call_ring::DEFAULT_CALL_LOG_SIZE) calls.
    pub fn new() -> Self {
        MemoryStore::with_call_log(CallRing::default())
    }

    /// An empty store with this call log.
    pub fn with_call_log(calls: CallRing) -> Self {
        MemoryStore {
            apps: Sharded::default(),
            creators: Sharded::default(),
            timelines: Sharded::default(),
            video_index: Sharded::default(),
            comments: Sharded::default(),
            comment_ids: Sharded::default(),
            auth_codes: Sharded::default(),
            refresh_tokens: Sharded::default(),
            tokens: Sharded::default(),
            windows: Sharded::default(),
            faults: Mutex::new(HashMap::new()),
            fault_count: AtomicUsize::new(0),
            fault_seq: AtomicU64::new(0),
            calls,
            posts: Sharded::default(),
            upload_index: Sharded::default(),
            creator_posts: Sharded::default(),
            open_posts: Sharded::default(),
            open_post_count: AtomicUsize::new(0),
        }
    }
}

impl Store for MemoryStore {
    fn clear(&self) {
        self.apps.clear();
        self.creators.clear();
        self.timelines.clear();
        self.video_index.clear();
        self.comments.clear();
        self.comment_ids.clear();
        self.auth_codes.clear();
        self.refresh_tokens.clear();
        self.tokens.clear();
        self.windows.clear();
        self.faults.lock().clear();
        self.fault_count.store(0, Ordering::SeqCst);
        self.calls.clear();
        self.posts.clear();
        self.upload_index.clear();
        self.creator_posts.clear();
        self.open_posts.clear();
        self.open_post_count.store(0, Ordering::SeqCst);
    }

    fn put_app(&self, app: App) {
        self.apps.insert(&app.client_key.clone(), app);
    }

    fn apps(&self) -> Vec<App> {
        let mut apps = self.apps.values();
        apps.sort_by(|a, b| a.client_key.cmp(&b.client_key));
        apps
    }

    fn app(&self, client_key: &str) -> Option<App> {
        self.apps.get(client_key)
    }

    fn put_creator(&self, creator: Creator) {
        self.creators
            .insert(&creator.open_id.clone(), Arc::new(creator));
    }

    fn creator(&self, open_id: &str) -> Option<Creator> {
        self.creators.get(open_id).map(Arc::unwrap_or_clone)
    }

    fn creator_shared(&self, open_id: &str) -> Option<Arc<Creator>> {
        self.creators.get(open_id)
    }

    fn creators(&self) -> Vec<Creator> {
        let mut creators: Vec<Creator> = self
            .creators
            .values()
            .into_iter()
            .map(Arc::unwrap_or_clone)
            .collect();
        creators.sort_by(|a, b| a.open_id.cmp(&b.open_id));
        creators
    }

    fn insert_video(&self, mut video: Video) -> Result<Video, StoreError> {
        let Some(creator) = self.creators.get(&video.open_id) else {
            return Err(StoreError::UnknownCreator(video.open_id));
        };
        // Lock order: a timeline, then an index shard (readers never hold both).
        let timeline = self.timelines.cell(&video.open_id, || {
            let handle = if creator.username.is_empty() {
                &creator.open_id
            } else {
                &creator.username
            };
            Timeline::new(&creator.open_id, handle)
        });
        let mut timeline = timeline.lock();
        while timeline.contains(video.create_time_ms) {
            video.create_time_ms = video
                .create_time_ms
                .checked_add(1)
                .ok_or(StoreError::TimeOutOfRange)?;
        }
        {
            let mut shard = self.video_index.shard(&video.id);
            if shard.contains_key(video.id.as_str()) {
                return Err(StoreError::DuplicateId(video.id));
            }
            shard.insert(
                video.id.as_str().into(),
                (Arc::clone(&timeline.open_id), video.create_time_ms),
            );
        }
        timeline.insert(&video);
        Ok(video)
    }

    fn video(&self, id: &str) -> Option<Video> {
        let (open_id, create_time_ms) = self.video_index.get(id)?;
        let timeline = self.timelines.existing_cell(&open_id)?;
        let timeline = timeline.lock();
        timeline.view(create_time_ms).map(|view| view.to_video())
    }

    fn video_page(&self, open_id: &str, before_ms: Option<i64>, max_count: usize) -> VideoPage {
        let mut videos = Vec::new();
        let has_more = self.visit_video_page(open_id, before_ms, max_count, &mut |view| {
            videos.push(view.to_video());
        });
        VideoPage { videos, has_more }
    }

    fn visit_video_page(
        &self,
        open_id: &str,
        before_ms: Option<i64>,
        max_count: usize,
        visit: &mut dyn FnMut(VideoView<'_>),
    ) -> bool {
        let Some(timeline) = self.timelines.existing_cell(open_id) else {
            return false;
        };
        let timeline = timeline.lock();
        let mut range = match before_ms {
            Some(before) => timeline.public.range(..before),
            None => timeline.public.range(..),
        }
        .rev();
        for (create_time_ms, stored) in range.by_ref().take(max_count) {
            visit(timeline.view_of(*create_time_ms, stored));
        }
        range.next().is_some()
    }

    fn video_count(&self, open_id: &str) -> u64 {
        self.timelines
            .existing_cell(open_id)
            .map(|timeline| timeline.lock().public.len() as u64)
            .unwrap_or(0)
    }

    fn hidden_videos(&self, open_id: &str) -> Vec<Video> {
        self.timelines
            .existing_cell(open_id)
            .map(|timeline| {
                let timeline = timeline.lock();
                timeline
                    .hidden
                    .iter()
                    .rev()
                    .map(|(at_ms, stored)| timeline.view_of(*at_ms, stored).to_video())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn insert_comment(&self, comment: Comment) -> Result<Comment, StoreError> {
        let id = comment.id.to_string();
        {
            let mut shard = self.comment_ids.shard(&id);
            if shard.contains_key(id.as_str()) {
                return Err(StoreError::DuplicateId(id));
            }
            shard.insert(id.into(), comment.video_id);
        }
        let cell = self.comments.cell(&comment.video_id.to_string(), Vec::new);
        cell.lock().push(comment.clone());
        Ok(comment)
    }

    fn comments(&self, video_id: i64) -> Vec<Comment> {
        self.comments
            .existing_cell(&video_id.to_string())
            .map(|cell| {
                let mut comments = cell.lock().clone();
                comments.sort_by_key(|comment| (comment.create_time, comment.id));
                comments
            })
            .unwrap_or_default()
    }

    fn comment(&self, id: i64) -> Option<Comment> {
        let video_id = self.comment_ids.get(&id.to_string())?;
        let cell = self.comments.existing_cell(&video_id.to_string())?;
        cell.lock().iter().find(|comment| comment.id == id).cloned()
    }

    fn tokens_of(&self, client_key: &str, open_id: &str) -> Vec<TokenRecord> {
        self.tokens
            .values()
            .into_iter()
            .filter(|token| {
                token.client_key == client_key && token.open_id.as_deref() == Some(open_id)
            })
            .map(Arc::unwrap_or_clone)
            .collect()
    }

    fn put_auth_code(&self, code: AuthCode) {
        self.auth_codes.insert(&code.code.clone(), code);
    }

    fn redeem_auth_code(&self, code: &str) -> Option<AuthCode> {
        let mut shard = self.auth_codes.shard(code);
        let record = shard.get_mut(code)?;
        let before = record.clone();
        record.used = true;
        Some(before)
    }

    fn put_refresh_token(&self, record: RefreshRecord) {
        self.refresh_tokens
            .insert(&record.refresh_token.clone(), record);
    }

    fn refresh_token(&self, refresh_token: &str) -> Option<RefreshRecord> {
        self.refresh_tokens.get(refresh_token)
    }

    fn update_refresh_token(
        &self,
        refresh_token: &str,
        change: &mut dyn FnMut(&mut RefreshRecord),
    ) -> Option<RefreshRecord> {
        let mut shard = self.refresh_tokens.shard(refresh_token);
        let record = shard.get_mut(refresh_token)?;
        let before = record.clone();
        change(record);
        Some(before)
    }

    fn put_token(&self, token: TokenRecord) {
        self.tokens
            .insert(&token.access_token.clone(), Arc::new(token));
    }

    fn token(&self, access_token: &str) -> Option<TokenRecord> {
        self.tokens.get(access_token).map(Arc::unwrap_or_clone)
    }

    fn token_shared(&self, access_token: &str) -> Option<Arc<TokenRecord>> {
        self.tokens.get(access_token)
    }

    fn revoke_token(&self, access_token: &str) -> bool {
        let mut shard = self.tokens.shard(access_token);
        match shard.get_mut(access_token) {
            Some(token) => {
                Arc::make_mut(token).revoked = true;
                true
            }
            None => false,
        }
    }

    fn try_acquire(&self, key: &str, now_ms: i64, limit: u32, window_ms: i64) -> RateDecision {
        let window = self.windows.cell(key, Window::default);
        let mut window = window.lock();
        // A call made at t counts while now - t < window_ms.
        let oldest_counted = now_ms.saturating_sub(window_ms);
        while let Some(&(at, calls)) = window.runs.front()
            && at <= oldest_counted
        {
            window.runs.pop_front();
            window.total -= calls;
        }
        let in_window = window.total;
        if in_window < limit {
            match window.runs.back_mut() {
                Some((at, calls)) if *at == now_ms => *calls += 1,
                _ => window.runs.push_back((now_ms, 1)),
            }
            window.total += 1;
            RateDecision {
                allowed: true,
                in_window: in_window + 1,
            }
        } else {
            RateDecision {
                allowed: false,
                in_window,
            }
        }
    }

    fn push_fault(&self, fault: PendingFault) {
        if fault.remaining == 0 {
            return;
        }
        let seq = self.fault_seq.fetch_add(1, Ordering::SeqCst);
        self.faults
            .lock()
            .entry(fault.endpoint.clone())
            .or_default()
            .push_back((seq, fault));
        self.fault_count.fetch_add(1, Ordering::SeqCst);
    }

    fn take_fault(&self, endpoint: &str) -> Option<Fault> {
        if self.fault_count.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut faults = self.faults.lock();
        let queue = faults.get_mut(endpoint)?;
        let (_, first) = queue.front_mut()?;
        let fault = first.fault.clone();
        first.remaining -= 1;
        if first.remaining == 0 {
            queue.pop_front();
            self.fault_count.fetch_sub(1, Ordering::SeqCst);
            if queue.is_empty() {
                faults.remove(endpoint);
            }
        }
        Some(fault)
    }

    fn faults(&self) -> Vec<PendingFault> {
        let faults = self.faults.lock();
        let mut all: Vec<&(u64, PendingFault)> = faults.values().flatten().collect();
        all.sort_unstable_by_key(|(seq, _)| *seq);
        all.into_iter().map(|(_, fault)| fault.clone()).collect()
    }

    fn record_call(&self, call: CallEntry) {
        self.calls.push(call);
    }

    fn calls(&self) -> Vec<CallRecord> {
        self.calls.records()
    }

    fn newest_calls(
        &self,
        limit: Option<usize>,
        wanted: &dyn Fn(&CallEntry) -> bool,
    ) -> Vec<CallRecord> {
        self.calls.newest(limit, wanted)
    }

    fn insert_post(&self, post: PostRecord) -> Result<(), StoreError> {
        {
            let mut shard = self.posts.shard(&post.publish_id);
            if shard.contains_key(post.publish_id.as_str()) {
                return Err(StoreError::DuplicateId(post.publish_id));
            }
            if let Some(upload_id) = &post.upload_id {
                let mut index = self.upload_index.shard(upload_id);
                if index.contains_key(upload_id.as_str()) {
                    return Err(StoreError::DuplicateId(upload_id.clone()));
                }
                index.insert(upload_id.as_str().into(), post.publish_id.clone());
            }
            shard.insert(
                post.publish_id.as_str().into(),
                Arc::new(Mutex::new(post.clone())),
            );
        }
        let open = self.open_posts.cell(&post.open_id, BTreeSet::new);
        if open.lock().insert(post.publish_id.clone()) {
            self.open_post_count.fetch_add(1, Ordering::SeqCst);
        }
        let list = self.creator_posts.cell(&post.open_id, Vec::new);
        list.lock().push(post.publish_id);
        Ok(())
    }

    fn post(&self, publish_id: &str) -> Option<PostRecord> {
        let cell = self.posts.existing_cell(publish_id)?;
        let post = cell.lock().clone();
        Some(post)
    }

    fn post_by_upload_id(&self, upload_id: &str) -> Option<PostRecord> {
        let publish_id = self.upload_index.get(upload_id)?;
        self.post(&publish_id)
    }

    fn update_post(&self, publish_id: &str, change: &mut dyn FnMut(&mut PostRecord)) -> bool {
        match self.posts.existing_cell(publish_id) {
            Some(cell) => {
                change(&mut cell.lock());
                true
            }
            None => false,
        }
    }

    fn creator_posts(&self, open_id: &str) -> Vec<PostRecord> {
        let ids = self
            .creator_posts
            .existing_cell(open_id)
            .map(|list| list.lock().clone())
            .unwrap_or_default();
        ids.iter().filter_map(|id| self.post(id)).collect()
    }

    fn posts(&self) -> Vec<PostRecord> {
        let mut posts: Vec<PostRecord> = self
            .posts
            .values()
            .iter()
            .map(|cell| cell.lock().clone())
            .collect();
        posts.sort_by(|a, b| (a.created_ms, &a.publish_id).cmp(&(b.created_ms, &b.publish_id)));
        posts
    }

    fn set_post_open(&self, open_id: &str, publish_id: &str, open: bool) {
        if open {
            let set = self.open_posts.cell(open_id, BTreeSet::new);
            if set.lock().insert(publish_id.to_owned()) {
                self.open_post_count.fetch_add(1, Ordering::SeqCst);
            }
        } else if let Some(set) = self.open_posts.existing_cell(open_id)
            && set.lock().remove(publish_id)
        {
            self.open_post_count.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn open_posts(&self, open_id: Option<&str>) -> Vec<String> {
        if self.open_post_count.load(Ordering::SeqCst) == 0 {
            return Vec::new();
        }
        match open_id {
            Some(open_id) => self
                .open_posts
                .existing_cell(open_id)
                .map(|set| set.lock().iter().cloned().collect())
                .unwrap_or_default(),
            None => self
                .open_posts
                .values()
                .iter()
                .flat_map(|set| set.lock().iter().cloned().collect::<Vec<_>>())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
