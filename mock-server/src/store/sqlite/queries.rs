//! `impl Store for SqliteStore`: each method as one query, or one transaction that reads,
//! changes and writes back a record.

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::{SqliteStore, json};
use crate::store::{
    App, AuthCode, CallEntry, CallRecord, Comment, Creator, Delivery, Fault, PendingFault,
    PostRecord, RateDecision, RefreshRecord, Store, StoreError, TokenRecord, Video, VideoPage,
};

const POST_COLUMNS: &str = "json, access_token, upload_token";

impl Store for SqliteStore {
    fn clear(&self) {
        self.write(|tx| {
            tx.execute_batch(
                "DELETE FROM apps; DELETE FROM creators; DELETE FROM videos;
                 DELETE FROM comments; DELETE FROM tokens; DELETE FROM auth_codes;
                 DELETE FROM refresh_tokens; DELETE FROM posts; DELETE FROM deliveries;",
            )
        });
        self.ephemeral.clear();
    }

    fn put_app(&self, app: App) {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO apps (client_key, json) VALUES (?1, ?2)")?
                .execute(params![app.client_key, json(&app)])
        });
    }

    fn apps(&self) -> Vec<App> {
        self.all("SELECT json FROM apps ORDER BY client_key", &[])
    }

    fn app(&self, client_key: &str) -> Option<App> {
        self.one("SELECT json FROM apps WHERE client_key = ?1", &client_key)
    }

    fn put_creator(&self, creator: Creator) {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO creators (open_id, json) VALUES (?1, ?2)")?
                .execute(params![creator.open_id, json(&creator)])
        });
    }

    fn creator(&self, open_id: &str) -> Option<Creator> {
        self.creator_shared(open_id).map(Arc::unwrap_or_clone)
    }

    fn creator_shared(&self, open_id: &str) -> Option<Arc<Creator>> {
        let load = || self.one("SELECT json FROM creators WHERE open_id = ?1", &open_id);
        if self.in_step() {
            return load().map(Arc::new);
        }
        self.cache.creator(open_id, load)
    }

    fn creators(&self) -> Vec<Creator> {
        self.all("SELECT json FROM creators ORDER BY open_id", &[])
    }

    fn insert_video(&self, mut video: Video) -> Result<Video, StoreError> {
        self.write(|tx| {
            let creator_known = tx
                .prepare_cached("SELECT 1 FROM creators WHERE open_id = ?1")?
                .exists([&video.open_id])?;
            if !creator_known {
                return Ok(Err(StoreError::UnknownCreator(video.open_id.clone())));
            }
            {
                let mut taken = tx.prepare_cached(
                    "SELECT 1 FROM videos WHERE open_id = ?1 AND create_time_ms = ?2",
                )?;
                while taken.exists(params![video.open_id, video.create_time_ms])? {
                    match video.create_time_ms.checked_add(1) {
                        Some(next) => video.create_time_ms = next,
                        None => return Ok(Err(StoreError::TimeOutOfRange)),
                    }
                }
            }
            let duplicate = tx
                .prepare_cached("SELECT 1 FROM videos WHERE id = ?1")?
                .exists([&video.id])?;
            if duplicate {
                return Ok(Err(StoreError::DuplicateId(video.id.clone())));
            }
            tx.prepare_cached(
                "INSERT INTO videos (id, open_id, public, create_time_ms, json) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                video.id,
                video.open_id,
                video.is_public(),
                video.create_time_ms,
                json(&video)
            ])?;
            Ok(Ok(video.clone()))
        })
    }

    fn video(&self, id: &str) -> Option<Video> {
        self.one("SELECT json FROM videos WHERE id = ?1", &id)
    }

    fn video_page(&self, open_id: &str, before_ms: Option<i64>, max_count: usize) -> VideoPage {
        let limit = i64::try_from(max_count).unwrap_or(i64::MAX - 1) + 1;
        let before = before_ms.unwrap_or(i64::MAX);
        // `create_time_ms < i64::MAX` would leave out a video at i64::MAX: no bound then.
        let mut videos: Vec<Video> = if before_ms.is_some() {
            self.all(
                "SELECT json FROM videos WHERE open_id = ?1 AND public = 1 AND create_time_ms < ?2
                 ORDER BY create_time_ms DESC LIMIT ?3",
                &[&open_id, &before, &limit],
            )
        } else {
            self.all(
                "SELECT json FROM videos WHERE open_id = ?1 AND public = 1
                 ORDER BY create_time_ms DESC LIMIT ?2",
                &[&open_id, &limit],
            )
        };
        let has_more = videos.len() > max_count;
        videos.truncate(max_count);
        VideoPage { videos, has_more }
    }

    fn video_count(&self, open_id: &str) -> u64 {
        let count: i64 = self.read(|connection| {
            connection
                .prepare_cached("SELECT count(*) FROM videos WHERE open_id = ?1 AND public = 1")?
                .query_row([open_id], |row| row.get(0))
        });
        u64::try_from(count).unwrap_or(0)
    }

    fn hidden_videos(&self, open_id: &str) -> Vec<Video> {
        self.all(
            "SELECT json FROM videos WHERE open_id = ?1 AND public = 0 ORDER BY create_time_ms DESC",
            &[&open_id],
        )
    }

    fn insert_comment(&self, comment: Comment) -> Result<Comment, StoreError> {
        let inserted = self.write(|tx| {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO comments (id, video_id, create_time, json) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                comment.id,
                comment.video_id,
                comment.create_time,
                json(&comment)
            ])
        });
        if inserted == 0 {
            return Err(StoreError::DuplicateId(comment.id.to_string()));
        }
        Ok(comment)
    }

    fn comments(&self, video_id: i64) -> Vec<Comment> {
        self.all(
            "SELECT json FROM comments WHERE video_id = ?1 ORDER BY create_time, id",
            &[&video_id],
        )
    }

    fn comment(&self, id: i64) -> Option<Comment> {
        self.one("SELECT json FROM comments WHERE id = ?1", &id)
    }

    fn put_token(&self, token: TokenRecord) {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO tokens (access_token, client_key, open_id, json) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                token.access_token,
                token.client_key,
                token.open_id,
                json(&token)
            ])
        });
    }

    fn token(&self, access_token: &str) -> Option<TokenRecord> {
        self.token_shared(access_token).map(Arc::unwrap_or_clone)
    }

    fn token_shared(&self, access_token: &str) -> Option<Arc<TokenRecord>> {
        let load = || {
            self.one(
                "SELECT json FROM tokens WHERE access_token = ?1",
                &access_token,
            )
        };
        if self.in_step() {
            return load().map(Arc::new);
        }
        self.cache.token(access_token, load)
    }

    fn revoke_token(&self, access_token: &str) -> bool {
        self.write(|tx| {
            let text: Option<String> = tx
                .prepare_cached("SELECT json FROM tokens WHERE access_token = ?1")?
                .query_row([access_token], |row| row.get(0))
                .optional()?;
            let Some(text) = text else {
                return Ok(false);
            };
            let mut token: TokenRecord = self.decode(&text);
            token.revoked = true;
            tx.prepare_cached("UPDATE tokens SET json = ?2 WHERE access_token = ?1")?
                .execute(params![access_token, json(&token)])?;
            Ok(true)
        })
    }

    fn put_auth_code(&self, code: AuthCode) {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO auth_codes (code, json) VALUES (?1, ?2)")?
                .execute(params![code.code, json(&code)])
        });
    }

    fn redeem_auth_code(&self, code: &str) -> Option<AuthCode> {
        self.write(|tx| {
            let text: Option<String> = tx
                .prepare_cached("SELECT json FROM auth_codes WHERE code = ?1")?
                .query_row([code], |row| row.get(0))
                .optional()?;
            let Some(text) = text else {
                return Ok(None);
            };
            let before: AuthCode = self.decode(&text);
            let mut after = before.clone();
            after.used = true;
            tx.prepare_cached("UPDATE auth_codes SET json = ?2 WHERE code = ?1")?
                .execute(params![code, json(&after)])?;
            Ok(Some(before))
        })
    }

    fn put_refresh_token(&self, record: RefreshRecord) {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO refresh_tokens (refresh_token, json) VALUES (?1, ?2)",
            )?
            .execute(params![record.refresh_token, json(&record)])
        });
    }

    fn refresh_token(&self, refresh_token: &str) -> Option<RefreshRecord> {
        self.one(
            "SELECT json FROM refresh_tokens WHERE refresh_token = ?1",
            &refresh_token,
        )
    }

    fn update_refresh_token(
        &self,
        refresh_token: &str,
        change: &mut dyn FnMut(&mut RefreshRecord),
    ) -> Option<RefreshRecord> {
        self.write(|tx| {
            let text: Option<String> = tx
                .prepare_cached("SELECT json FROM refresh_tokens WHERE refresh_token = ?1")?
                .query_row([refresh_token], |row| row.get(0))
                .optional()?;
            let Some(text) = text else {
                return Ok(None);
            };
            let before: RefreshRecord = self.decode(&text);
            let mut after = before.clone();
            change(&mut after);
            tx.prepare_cached("UPDATE refresh_tokens SET json = ?2 WHERE refresh_token = ?1")?
                .execute(params![refresh_token, json(&after)])?;
            Ok(Some(before))
        })
    }

    fn tokens_of(&self, client_key: &str, open_id: &str) -> Vec<TokenRecord> {
        self.all(
            "SELECT json FROM tokens WHERE client_key = ?1 AND open_id = ?2 ORDER BY access_token",
            &[&client_key, &open_id],
        )
    }

    fn try_acquire(&self, key: &str, now_ms: i64, limit: u32, window_ms: i64) -> RateDecision {
        self.ephemeral.try_acquire(key, now_ms, limit, window_ms)
    }

    fn push_fault(&self, fault: PendingFault) {
        self.ephemeral.push_fault(fault);
    }

    fn take_fault(&self, endpoint: &str) -> Option<Fault> {
        self.ephemeral.take_fault(endpoint)
    }

    fn faults(&self) -> Vec<PendingFault> {
        self.ephemeral.faults()
    }

    fn record_call(&self, call: CallEntry) {
        self.ephemeral.record_call(call);
    }

    fn calls(&self) -> Vec<CallRecord> {
        self.ephemeral.calls()
    }

    fn newest_calls(
        &self,
        limit: Option<usize>,
        wanted: &dyn Fn(&CallEntry) -> bool,
    ) -> Vec<CallRecord> {
        self.ephemeral.newest_calls(limit, wanted)
    }

    fn insert_post(&self, post: PostRecord) -> Result<(), StoreError> {
        self.write(|tx| {
            let publish_taken = tx
                .prepare_cached("SELECT 1 FROM posts WHERE publish_id = ?1")?
                .exists([&post.publish_id])?;
            if publish_taken {
                return Ok(Err(StoreError::DuplicateId(post.publish_id.clone())));
            }
            if let Some(upload_id) = &post.upload_id {
                let upload_taken = tx
                    .prepare_cached("SELECT 1 FROM posts WHERE upload_id = ?1")?
                    .exists([upload_id])?;
                if upload_taken {
                    return Ok(Err(StoreError::DuplicateId(upload_id.clone())));
                }
            }
            tx.prepare_cached(
                "INSERT INTO posts (publish_id, upload_id, open_id, created_ms, open, access_token, upload_token, json)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)",
            )?
            .execute(params![
                post.publish_id,
                post.upload_id,
                post.open_id,
                post.created_ms,
                post.access_token,
                post.upload_token,
                json(&post)
            ])?;
            Ok(Ok(()))
        })
    }

    fn post(&self, publish_id: &str) -> Option<PostRecord> {
        self.posts_where(
            &format!("SELECT {POST_COLUMNS} FROM posts WHERE publish_id = ?1"),
            &[&publish_id],
        )
        .pop()
    }

    fn post_by_upload_id(&self, upload_id: &str) -> Option<PostRecord> {
        self.posts_where(
            &format!("SELECT {POST_COLUMNS} FROM posts WHERE upload_id = ?1"),
            &[&upload_id],
        )
        .pop()
    }

    fn update_post(&self, publish_id: &str, change: &mut dyn FnMut(&mut PostRecord)) -> bool {
        self.write(|tx| {
            let row: Option<(String, String, Option<String>)> = tx
                .prepare_cached(&format!(
                    "SELECT {POST_COLUMNS} FROM posts WHERE publish_id = ?1"
                ))?
                .query_row([publish_id], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            let Some(row) = row else {
                return Ok(false);
            };
            let mut post = self.post_from(row);
            change(&mut post);
            tx.prepare_cached(
                "UPDATE posts SET json = ?2, access_token = ?3, upload_token = ?4, created_ms = ?5
                 WHERE publish_id = ?1",
            )?
            .execute(params![
                publish_id,
                json(&post),
                post.access_token,
                post.upload_token,
                post.created_ms
            ])?;
            Ok(true)
        })
    }

    fn creator_posts(&self, open_id: &str) -> Vec<PostRecord> {
        self.posts_where(
            &format!("SELECT {POST_COLUMNS} FROM posts WHERE open_id = ?1 ORDER BY seq"),
            &[&open_id],
        )
    }

    fn posts(&self) -> Vec<PostRecord> {
        self.posts_where(
            &format!("SELECT {POST_COLUMNS} FROM posts ORDER BY created_ms, publish_id"),
            &[],
        )
    }

    fn set_post_open(&self, open_id: &str, publish_id: &str, open: bool) {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE posts SET open = ?3 WHERE publish_id = ?1 AND open_id = ?2 AND open != ?3",
            )?
            .execute(params![publish_id, open_id, open])
        });
    }

    fn open_posts(&self, open_id: Option<&str>) -> Vec<String> {
        let Some(open_id) = open_id else {
            return self.read(|connection| {
                let mut statement = connection.prepare_cached(
                    "SELECT publish_id FROM posts WHERE open = 1 ORDER BY open_id, publish_id",
                )?;
                let rows = statement.query_map([], |row| row.get(0))?;
                rows.collect()
            });
        };
        let load = || {
            self.read(|connection| {
                let mut statement = connection.prepare_cached(
                    "SELECT publish_id FROM posts WHERE open = 1 AND open_id = ?1 ORDER BY publish_id",
                )?;
                let rows = statement.query_map([open_id], |row| row.get(0))?;
                rows.collect()
            })
        };
        if self.in_step() {
            return load();
        }
        Arc::unwrap_or_clone(self.cache.open_posts(open_id, load))
    }

    fn durable(&self) -> bool {
        true
    }

    fn atomically(&self, change: &mut dyn FnMut() -> bool) {
        self.atomic_step(change);
    }

    fn health(&self) -> Value {
        SqliteStore::health(self)
    }

    fn put_delivery(&self, delivery: &Delivery) {
        let id = i64::try_from(delivery.id).unwrap_or(i64::MAX);
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO deliveries (id, json) VALUES (?1, ?2)")?
                .execute(params![id, json(delivery)])
        });
    }

    fn forget_delivery(&self, id: u64) {
        let id = i64::try_from(id).unwrap_or(i64::MAX);
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM deliveries WHERE id = ?1")?
                .execute(params![id])
        });
    }

    fn saved_deliveries(&self) -> Vec<Delivery> {
        self.all("SELECT json FROM deliveries ORDER BY id", &[])
    }

    fn put_meta(&self, key: &str, value: &Value) {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO meta (key, json) VALUES (?1, ?2)")?
                .execute(params![key, json(value)])
        });
    }

    fn meta(&self, key: &str) -> Option<Value> {
        self.one("SELECT json FROM meta WHERE key = ?1", &key)
    }
}
