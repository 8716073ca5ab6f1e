//! The model of the state machine, written from the spec's constants and tables: the
//! steps drawn, the codes, authorizations and posts, what each step should do, and the
//! outcome of a call.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tiktok_api::spec_constants::{
    ACCESS_TOKEN_TTL_SECONDS, CODE_TTL_SECONDS, REFRESH_TOKEN_TTL_SECONDS, UPLOAD_URL_TTL_SECONDS,
};
use tiktok_api::{ErrorCode, PostStatus, Scope, endpoints};

/// The scopes an authorization draws from (a bit mask picks them).
pub(crate) const SCOPES: [Scope; 4] = [
    Scope::UserInfoBasic,
    Scope::VideoList,
    Scope::VideoPublish,
    Scope::VideoUpload,
];
/// The size of every posted video: one whole chunk.
pub(crate) const VIDEO_SIZE: i64 = 1_000;
/// Posts per sequence at most (the creator's daily caps are not this property's subject).
pub(crate) const MAX_POSTS: usize = 5;

/// One step.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// The user approves these scopes (a non-empty mask over `SCOPES`).
    Authorize { mask: u8 },
    /// The app exchanges the newest code not yet presented (`None`), or the code this
    /// many places before the newest (presenting a code twice is a mistake apps make).
    Exchange { code: Option<usize> },
    /// The app refreshes the n-th authorization, with its latest refresh token or an older one.
    Refresh { auth: usize, stale: bool },
    /// The app revokes the n-th authorization through one of its access tokens.
    Revoke { auth: usize, token: usize },
    /// The mock's clock moves.
    Advance { seconds: i64 },
    /// User info with one of an authorization's access tokens.
    UserInfo { auth: usize, token: usize },
    /// A video init (direct or to the inbox) with an authorization's latest access token.
    Init { auth: usize, direct: bool },
    /// The n-th post's single chunk is uploaded.
    Upload { post: usize },
    /// The n-th post's chunk starts, the clock moves by `seconds` while its body is on the
    /// way (after the mock checked everything it checks on arrival), then the body ends.
    LateUpload { post: usize, seconds: i64 },
    /// The n-th post fails through the control API (`POST /_mock/posts/fail`).
    Fail { post: usize },
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    let seconds = prop_oneof![
        Just(1i64),
        Just(CODE_TTL_SECONDS as i64 - 1),
        Just(CODE_TTL_SECONDS as i64),
        Just(UPLOAD_URL_TTL_SECONDS as i64),
        Just(ACCESS_TOKEN_TTL_SECONDS as i64 - 1),
        Just(ACCESS_TOKEN_TTL_SECONDS as i64),
        Just(REFRESH_TOKEN_TTL_SECONDS as i64),
        1i64..20,
    ];
    // Indices count back from the newest code, authorization or post, mostly the newest:
    // so sequences reach deep states (exchanged, posted, uploaded, published) often.
    let recent = || prop_oneof![3 => Just(0usize), 1 => 0usize..8];
    prop_oneof![
        3 => (1u8..16).prop_map(|mask| Op::Authorize { mask }),
        3 => prop_oneof![3 => Just(None), 1 => (0usize..8).prop_map(Some)]
            .prop_map(|code| Op::Exchange { code }),
        2 => (recent(), any::<bool>()).prop_map(|(auth, stale)| Op::Refresh { auth, stale }),
        1 => (recent(), 0usize..8).prop_map(|(auth, token)| Op::Revoke { auth, token }),
        3 => seconds.prop_map(|seconds| Op::Advance { seconds }),
        2 => (recent(), 0usize..8).prop_map(|(auth, token)| Op::UserInfo { auth, token }),
        3 => (recent(), any::<bool>()).prop_map(|(auth, direct)| Op::Init { auth, direct }),
        3 => recent().prop_map(|post| Op::Upload { post }),
        2 => (recent(), prop_oneof![Just(0i64), Just(1), Just(UPLOAD_URL_TTL_SECONDS as i64)])
            .prop_map(|(post, seconds)| Op::LateUpload { post, seconds }),
        1 => recent().prop_map(|post| Op::Fail { post }),
    ]
}

/// An authorization code in the model.
#[derive(Debug)]
pub(crate) struct Code {
    pub(crate) code: String,
    pub(crate) verifier: String,
    pub(crate) scopes: Vec<Scope>,
    pub(crate) expires_ms: i64,
    /// Presented at least once (a code is good for one presentation).
    pub(crate) presented: bool,
    /// The authorization it was exchanged for.
    pub(crate) exchanged_into: Option<usize>,
}

/// One authorization (a code exchange and everything refreshed from it).
#[derive(Debug)]
pub(crate) struct Auth {
    pub(crate) scopes: Vec<Scope>,
    /// Every access token with its expiry, oldest first.
    pub(crate) access: Vec<(String, i64)>,
    pub(crate) refresh: String,
    /// Refresh tokens replaced by rotation.
    pub(crate) rotated: Vec<String>,
    pub(crate) refresh_expires_ms: i64,
    pub(crate) alive: bool,
}

impl Auth {
    pub(crate) fn token_alive(&self, index: usize, now_ms: i64) -> bool {
        self.alive && now_ms < self.access[index].1
    }
}

/// A post in the model.
#[derive(Debug)]
pub(crate) struct Post {
    pub(crate) publish_id: String,
    pub(crate) upload_url: String,
    pub(crate) direct: bool,
    pub(crate) auth: usize,
    pub(crate) upload_expires_ms: i64,
    pub(crate) uploaded_ms: Option<i64>,
    pub(crate) failed: bool,
    /// The transition's effects (video listed, event fired) happened.
    pub(crate) settled: bool,
}

/// The model's whole state.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub(crate) now_ms: i64,
    pub(crate) processing_ms: i64,
    pub(crate) codes: Vec<Code>,
    pub(crate) auths: Vec<Auth>,
    pub(crate) posts: Vec<Post>,
    /// Events the app must have received, by name.
    pub(crate) events: BTreeMap<String, usize>,
    pub(crate) videos: usize,
}

impl Model {
    pub(crate) fn fire(&mut self, event: &str) {
        *self.events.entry(event.to_owned()).or_default() += 1;
    }

    /// The status the spec gives a post now, applying each transition's effects once.
    pub(crate) fn status(&mut self, index: usize) -> PostStatus {
        let now_ms = self.now_ms;
        let processing_ms = self.processing_ms;
        let post = &self.posts[index];
        if post.failed {
            return PostStatus::Failed;
        }
        let Some(uploaded_ms) = post.uploaded_ms else {
            if now_ms < post.upload_expires_ms {
                return PostStatus::ProcessingUpload;
            }
            // The upload URL expired before the upload: the post fails, once.
            let endpoint = if post.direct {
                &endpoints::VIDEO_INIT
            } else {
                &endpoints::INBOX_VIDEO_INIT
            };
            self.posts[index].failed = true;
            if endpoint.webhooks.contains(&"video.upload.failed") {
                self.fire("video.upload.failed");
            }
            return PostStatus::Failed;
        };
        if now_ms < uploaded_ms + processing_ms {
            return PostStatus::ProcessingUpload;
        }
        let direct = post.direct;
        if !post.settled {
            self.posts[index].settled = true;
            if direct {
                self.videos += 1;
                if endpoints::VIDEO_INIT
                    .webhooks
                    .contains(&"video.publish.completed")
                {
                    self.fire("video.publish.completed");
                }
            }
        }
        if direct {
            PostStatus::PublishComplete
        } else {
            PostStatus::SendToUserInbox
        }
    }

    /// The post fails through the control API now: refused (`false`) if it has already
    /// ended, else it fails with its event.
    pub(crate) fn fail(&mut self, index: usize) -> bool {
        if ENDED.contains(&self.status(index)) {
            return false;
        }
        let post = &mut self.posts[index];
        post.failed = true;
        let endpoint = if post.direct {
            &endpoints::VIDEO_INIT
        } else {
            &endpoints::INBOX_VIDEO_INIT
        };
        if endpoint.webhooks.contains(&"video.upload.failed") {
            self.fire("video.upload.failed");
        }
        true
    }

    /// An authorization ends: its tokens die, and its posts still processing fail.
    pub(crate) fn end(&mut self, auth: usize) {
        if !self.auths[auth].alive {
            return;
        }
        // Settle first: a post already through is not affected.
        for index in 0..self.posts.len() {
            self.status(index);
        }
        self.auths[auth].alive = false;
        let mut failed = 0;
        for post in &mut self.posts {
            if post.auth == auth && !post.failed && !post.settled {
                post.failed = true;
                let endpoint = if post.direct {
                    &endpoints::VIDEO_INIT
                } else {
                    &endpoints::INBOX_VIDEO_INIT
                };
                if endpoint.webhooks.contains(&"video.upload.failed") {
                    failed += 1;
                }
            }
        }
        for _ in 0..failed {
            self.fire("video.upload.failed");
        }
    }
}

/// The statuses a post ends in: once observed, a post's status never changes again (no
/// step of this machine posts an inbox draft for the creator).
pub(crate) const ENDED: [PostStatus; 3] = [
    PostStatus::Failed,
    PostStatus::PublishComplete,
    PostStatus::SendToUserInbox,
];

/// What the mock answered to a step, reduced to what the model predicts.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Error(ErrorCode),
    Skipped,
    Http(u16),
}

pub(crate) fn outcome<T>(result: &Result<T, tiktok_api::Error>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(error) => match error.code() {
            Some(code) => Outcome::Error(code.clone()),
            None => panic!("an error without a code: {error}"),
        },
    }
}
