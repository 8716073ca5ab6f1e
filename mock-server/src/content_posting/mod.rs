//! The `content_posting` group: creator info, direct and inbox video init (`FILE_UPLOAD` with the chunk
//! rules checked exactly, `PULL_FROM_URL`), photo posts through content init, status fetch,
//! the upload host, and the posting part of the control API (`/_mock/posts`, `/_mock/posting`).
//!
//! [`rules`] checks an init (chunk rules, pull URLs, privacy, daily caps); [`endpoints`]
//! holds the behaviours; [`lifecycle`] computes and settles a post's status; [`upload`] is
//! the upload host; [`control`] the control routes.
//!
//! A post's status is never advanced by a timer: it is computed from its timestamps on the
//! mock's clock whenever it is observed ([`lifecycle::settle`]): by a status fetch, by the creator's
//! video list, video query or user info, by `GET /_mock/posts`, and by every clock advance
//! (`POST /_mock/clock/advance`, `MockServer::advance`). On the system clock a one-shot task
//! also settles a post when its processing time is up, so webhooks fire without polling.
//! Each transition's side effects (the video added to the creator's list, the webhook
//! events) happen exactly once: the post records the milestones already applied, under its
//! own lock in the store.

use axum::Router;

use crate::state::AppState;

pub mod control;
pub mod endpoints;
pub mod lifecycle;
pub mod rules;
pub mod upload;

/// The upload host and the posting control routes.
pub fn routes() -> Router<AppState> {
    control::routes().merge(upload::routes())
}
