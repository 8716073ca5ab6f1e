//! The in-memory [`Store`]: sharded maps with a lock per key, no global lock on the hot path.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard};

use crate::store::{
    App, AuthCode, CallRecord, Comment, Creator, Fault, PendingFault, PostRecord, RateDecision,
    RefreshRecord, Store, StoreError, TokenRecord, Video, VideoPage,
};

const SHARDS: usize = 32;
const CALLS_PER_SHARD: usize = 1024;

/// A string-keyed map split into shards, each behind its own mutex.
#[derive(Debug)]
struct Sharded<V> {
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<String, V>>>,
}

impl<V: Clone> Sharded<V> {
    fn new() -> Self {
        Sharded {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, HashMap<String, V>> {
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        self.shards[index].lock()
    }

    fn get(&self, key: &str) -> Option<V> {
        self.shard(key).get(key).cloned()
    }

    fn insert(&self, key: String, value: V) {
        self.shard(&key).insert(key, value);
    }

    fn values(&self) -> Vec<V> {
        self.shards
            .iter()
            .flat_map(|shard| shard.lock().values().cloned().collect::<Vec<_>>())
            .collect()
    }

    fn clear(&self) {
        for shard in &self.shards {
            shard.lock().clear();
        }
    }
}

impl<V> Sharded<Arc<Mutex<V>>> {
    /// The per-key cell, created with `make` if missing. The shard lock is held only for the lookup.
    fn cell(&self, key: &str, make: impl FnOnce() -> V) -> Arc<Mutex<V>> {
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        let mut shard = self.shards[index].lock();
        if let Some(cell) = shard.get(key) {
            return Arc::clone(cell);
        }
        let cell = Arc::new(Mutex::new(make()));
        shard.insert(key.to_owned(), Arc::clone(&cell));
        cell
    }

    fn existing_cell(&self, key: &str) -> Option<Arc<Mutex<V>>> {
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        self.shards[index].lock().get(key).map(Arc::clone)
    }
}

/// One creator's videos, keyed by their `create_time_ms` (unique across both maps): the
/// public ones, which the API lists, and the others, kept apart so a page stays one range
/// query of public videos.
#[derive(Debug, Default)]
struct Timeline {
    public: BTreeMap<i64, Video>,
    hidden: BTreeMap<i64, Video>,
}

impl Timeline {
    fn contains(&self, at_ms: i64) -> bool {
        self.public.contains_key(&at_ms) || self.hidden.contains_key(&at_ms)
    }

    fn get(&self, at_ms: i64) -> Option<&Video> {
        self.public.get(&at_ms).or_else(|| self.hidden.get(&at_ms))
    }
}

/// The in-memory store.
#[derive(Debug)]
pub struct MemoryStore {
    apps: Sharded<App>,
    creators: Sharded<Creator>,
    timelines: Sharded<Arc<Mutex<Timeline>>>,
    /// Video id to (open_id, create_time_ms).
    video_index: Sharded<(String, i64)>,
    comments: Sharded<Arc<Mutex<Vec<Comment>>>>,
    /// Comment id to its video id.
    comment_ids: Sharded<i64>,
    auth_codes: Sharded<AuthCode>,
    refresh_tokens: Sharded<RefreshRecord>,
    tokens: Sharded<TokenRecord>,
    windows: Sharded<Arc<Mutex<VecDeque<i64>>>>,
    faults: Mutex<Vec<PendingFault>>,
    fault_count: AtomicUsize,
    calls: Vec<Mutex<VecDeque<CallRecord>>>,
    call_seq: AtomicU64,
    /// Content posting: each post behind its own mutex, by publish_id.
    posts: Sharded<Arc<Mutex<PostRecord>>>,
    /// upload_id to publish_id.
    upload_index: Sharded<String>,
    /// open_id to the creator's publish_ids, oldest first.
    creator_posts: Sharded<Arc<Mutex<Vec<String>>>>,
    /// open_id to the creator's open posts.
    open_posts: Sharded<Arc<Mutex<BTreeSet<String>>>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore {
            apps: Sharded::new(),
            creators: Sharded::new(),
            timelines: Sharded::new(),
            video_index: Sharded::new(),
            comments: Sharded::new(),
            comment_ids: Sharded::new(),
            auth_codes: Sharded::new(),
            refresh_tokens: Sharded::new(),
            tokens: Sharded::new(),
            windows: Sharded::new(),
            faults: Mutex::new(Vec::new()),
            fault_count: AtomicUsize::new(0),
            calls: (0..SHARDS).map(|_| Mutex::new(VecDeque::new())).collect(),
            call_seq: AtomicU64::new(0),
            posts: Sharded::new(),
            upload_index: Sharded::new(),
            creator_posts: Sharded::new(),
            open_posts: Sharded::new(),
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
        for shard in &self.calls {
            shard.lock().clear();
        }
        self.posts.clear();
        self.upload_index.clear();
        self.creator_posts.clear();
        self.open_posts.clear();
    }

    fn put_app(&self, app: App) {
        self.apps.insert(app.client_key.clone(), app);
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
        self.creators.insert(creator.open_id.clone(), creator);
    }

    fn creator(&self, open_id: &str) -> Option<Creator> {
        self.creators.get(open_id)
    }

    fn creators(&self) -> Vec<Creator> {
        let mut creators = self.creators.values();
        creators.sort_by(|a, b| a.open_id.cmp(&b.open_id));
        creators
    }

    fn insert_video(&self, mut video: Video) -> Result<Video, StoreError> {
        if self.creators.get(&video.open_id).is_none() {
            return Err(StoreError::UnknownCreator(video.open_id));
        }
        // Lock order: a timeline, then an index shard (readers never hold both).
        let timeline = self.timelines.cell(&video.open_id, Timeline::default);
        let mut timeline = timeline.lock();
        while timeline.contains(video.create_time_ms) {
            video.create_time_ms = video
                .create_time_ms
                .checked_add(1)
                .ok_or(StoreError::TimeOutOfRange)?;
        }
        {
            let mut shard = self.video_index.shard(&video.id);
            if shard.contains_key(&video.id) {
                return Err(StoreError::DuplicateId(video.id));
            }
            shard.insert(
                video.id.clone(),
                (video.open_id.clone(), video.create_time_ms),
            );
        }
        if video.is_public() {
            timeline.public.insert(video.create_time_ms, video.clone());
        } else {
            timeline.hidden.insert(video.create_time_ms, video.clone());
        }
        Ok(video)
    }

    fn video(&self, id: &str) -> Option<Video> {
        let (open_id, create_time_ms) = self.video_index.get(id)?;
        let timeline = self.timelines.existing_cell(&open_id)?;
        let timeline = timeline.lock();
        timeline.get(create_time_ms).cloned()
    }

    fn video_page(&self, open_id: &str, before_ms: Option<i64>, max_count: usize) -> VideoPage {
        let Some(timeline) = self.timelines.existing_cell(open_id) else {
            return VideoPage {
                videos: Vec::new(),
                has_more: false,
            };
        };
        let timeline = timeline.lock();
        let mut range = match before_ms {
            Some(before) => timeline.public.range(..before),
            None => timeline.public.range(..),
        }
        .rev();
        let videos: Vec<Video> = range
            .by_ref()
            .take(max_count)
            .map(|(_, video)| video.clone())
            .collect();
        let has_more = range.next().is_some();
        VideoPage { videos, has_more }
    }

    fn videos_by_ids(&self, open_id: &str, ids: &[String]) -> Vec<Video> {
        let mut seen = HashSet::new();
        ids.iter()
            .filter(|id| seen.insert(id.as_str()))
            .filter_map(|id| self.video(id))
            .filter(|video| video.open_id == open_id && video.is_public())
            .collect()
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
            .map(|timeline| timeline.lock().hidden.values().rev().cloned().collect())
            .unwrap_or_default()
    }

    fn insert_comment(&self, comment: Comment) -> Result<Comment, StoreError> {
        let id = comment.id.to_string();
        {
            let mut shard = self.comment_ids.shard(&id);
            if shard.contains_key(&id) {
                return Err(StoreError::DuplicateId(id));
            }
            shard.insert(id, comment.video_id);
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
            .collect()
    }

    fn put_auth_code(&self, code: AuthCode) {
        self.auth_codes.insert(code.code.clone(), code);
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
            .insert(record.refresh_token.clone(), record);
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
        self.tokens.insert(token.access_token.clone(), token);
    }

    fn token(&self, access_token: &str) -> Option<TokenRecord> {
        self.tokens.get(access_token)
    }

    fn revoke_token(&self, access_token: &str) -> bool {
        let mut shard = self.tokens.shard(access_token);
        match shard.get_mut(access_token) {
            Some(token) => {
                token.revoked = true;
                true
            }
            None => false,
        }
    }

    fn try_acquire(&self, key: &str, now_ms: i64, limit: u32, window_ms: i64) -> RateDecision {
        let window = self.windows.cell(key, VecDeque::new);
        let mut window = window.lock();
        // A call made at t counts while now - t < window_ms.
        let oldest_counted = now_ms.saturating_sub(window_ms);
        while window.front().is_some_and(|&at| at <= oldest_counted) {
            window.pop_front();
        }
        let in_window = u32::try_from(window.len()).unwrap_or(u32::MAX);
        if in_window < limit {
            window.push_back(now_ms);
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
        self.faults.lock().push(fault);
        self.fault_count.fetch_add(1, Ordering::SeqCst);
    }

    fn take_fault(&self, endpoint: &str) -> Option<Fault> {
        if self.fault_count.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut faults = self.faults.lock();
        let index = faults.iter().position(|fault| fault.endpoint == endpoint)?;
        let fault = faults[index].fault.clone();
        faults[index].remaining -= 1;
        if faults[index].remaining == 0 {
            faults.remove(index);
            self.fault_count.fetch_sub(1, Ordering::SeqCst);
        }
        Some(fault)
    }

    fn faults(&self) -> Vec<PendingFault> {
        self.faults.lock().clone()
    }

    fn record_call(&self, mut call: CallRecord) {
        call.seq = self.call_seq.fetch_add(1, Ordering::SeqCst);
        let mut shard = self.calls[(call.seq as usize) % SHARDS].lock();
        if shard.len() == CALLS_PER_SHARD {
            shard.pop_front();
        }
        shard.push_back(call);
    }

    fn calls(&self) -> Vec<CallRecord> {
        let mut calls: Vec<CallRecord> = self
            .calls
            .iter()
            .flat_map(|shard| shard.lock().iter().cloned().collect::<Vec<_>>())
            .collect();
        calls.sort_by_key(|call| call.seq);
        calls
    }

    fn insert_post(&self, post: PostRecord) -> Result<(), StoreError> {
        {
            let mut shard = self.posts.shard(&post.publish_id);
            if shard.contains_key(&post.publish_id) {
                return Err(StoreError::DuplicateId(post.publish_id));
            }
            if let Some(upload_id) = &post.upload_id {
                let mut index = self.upload_index.shard(upload_id);
                if index.contains_key(upload_id) {
                    return Err(StoreError::DuplicateId(upload_id.clone()));
                }
                index.insert(upload_id.clone(), post.publish_id.clone());
            }
            shard.insert(post.publish_id.clone(), Arc::new(Mutex::new(post.clone())));
        }
        let open = self.open_posts.cell(&post.open_id, BTreeSet::new);
        open.lock().insert(post.publish_id.clone());
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
            set.lock().insert(publish_id.to_owned());
        } else if let Some(set) = self.open_posts.existing_cell(open_id) {
            set.lock().remove(publish_id);
        }
    }

    fn open_posts(&self, open_id: Option<&str>) -> Vec<String> {
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
mod tests {
    use super::*;

    fn creator(open_id: &str) -> Creator {
        serde_json::from_value(serde_json::json!({"open_id": open_id})).expect("creator")
    }

    fn video(id: u64, open_id: &str, create_time_ms: i64) -> Video {
        serde_json::from_value(serde_json::json!({
            "id": id.to_string(), "open_id": open_id, "create_time_ms": create_time_ms,
        }))
        .expect("video")
    }

    #[test]
    fn ties_on_one_millisecond_are_shifted() {
        let store = MemoryStore::new();
        store.put_creator(creator("a"));
        let first = store.insert_video(video(1, "a", 1000)).expect("insert");
        let second = store.insert_video(video(2, "a", 1000)).expect("insert");
        assert_eq!(first.create_time_ms, 1000);
        assert_eq!(second.create_time_ms, 1001);
        assert_eq!(
            store.insert_video(video(1, "a", 5)),
            Err(StoreError::DuplicateId("1".to_owned()))
        );
    }

    #[test]
    fn a_tie_at_the_end_of_time_is_refused_not_looped() {
        let store = MemoryStore::new();
        store.put_creator(creator("a"));
        store.insert_video(video(1, "a", i64::MAX)).expect("insert");
        assert_eq!(
            store.insert_video(video(2, "a", i64::MAX)),
            Err(StoreError::TimeOutOfRange)
        );
        // The refused video did not claim its id.
        assert!(store.video("2").is_none());
        store.insert_video(video(2, "a", 5)).expect("insert");
    }

    #[test]
    fn pages_are_newest_first_and_exclusive() {
        let store = MemoryStore::new();
        store.put_creator(creator("a"));
        for n in 0..5 {
            store
                .insert_video(video(n, "a", 1000 + n as i64))
                .expect("insert");
        }
        let page = store.video_page("a", None, 2);
        let times: Vec<i64> = page.videos.iter().map(|v| v.create_time_ms).collect();
        assert_eq!(times, vec![1004, 1003]);
        assert!(page.has_more);
        let page = store.video_page("a", Some(1001), 2);
        assert_eq!(page.videos.len(), 1);
        assert!(!page.has_more);
    }

    #[test]
    fn window_slides() {
        let store = MemoryStore::new();
        assert!(store.try_acquire("k", 0, 2, 60_000).allowed);
        assert!(store.try_acquire("k", 30_000, 2, 60_000).allowed);
        assert!(!store.try_acquire("k", 59_999, 2, 60_000).allowed);
        assert!(store.try_acquire("k", 60_000, 2, 60_000).allowed);
        assert!(!store.try_acquire("k", 60_001, 2, 60_000).allowed);
    }
}
