//! OAuth and content posting as one state machine: random sequences of authorize,
//! exchange, refresh, revoke, calls, video init, chunk upload and clock advances, run
//! through the generated client against the mock and, side by side, through a model
//! written from the spec's constants and tables (token and code lifetimes, refresh-token
//! rotation, which endpoint needs which scope, which event each endpoint fires). After
//! every step the mock's observable state equals the model's: each call's outcome, the
//! status of every post, the creator's video list; at the end of each sequence, every
//! token alive or dead as the model says, and the webhooks fired.
//!
//! Why it matters: an app's whole lifecycle (sign-in, refresh, sign-out, posting while
//! tokens expire or are revoked) behaves against the mock as the spec says TikTok does,
//! so a bug in that lifecycle shows up in the app's tests, not in production.

mod model;
mod wire;

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use tiktok_api::oauth::{AuthorizeUrl, Pkce};
use tiktok_api::spec_constants::{
    ACCESS_TOKEN_TTL_SECONDS, CODE_TTL_SECONDS, REFRESH_ROTATION_ALWAYS, REFRESH_TOKEN_TTL_SECONDS,
    UPLOAD_URL_TTL_SECONDS,
};
use tiktok_api::{
    ErrorCode, InboxVideoInitRequest, PostInfo, PostStatus, PrivacyLevel, Scope, Source,
    StatusFetchRequest, UserField, VideoField, VideoInitRequest, VideoListRequest, VideoSourceInfo,
    endpoints,
};
use tiktok_conformance::tap::assert_conforms;
use tiktok_conformance::{Harness, cases, runtime};
use tiktok_mock::ClockKind;
use tiktok_mock::receiver::Receiver;

use model::{
    Auth, Code, ENDED, MAX_POSTS, Model, Op, Outcome, Post, SCOPES, VIDEO_SIZE, op, outcome,
};
use wire::{ENDING_EVENTS, late_put};

#[test]
fn the_mock_follows_the_oauth_and_posting_model() {
    let runtime = runtime();
    // Every answer of this run goes through a tap and is checked against the document.
    let harness = Harness::start(
        &runtime,
        // Rate limits are another property's subject; observing must not hit them.
        tiktok_conformance::mock()
            .clock_kind(ClockKind::Manual)
            .rate_limit_scale(1000.0),
    );
    let Harness {
        client,
        control,
        mock,
        ..
    } = &harness;
    let inbox = runtime.block_on(Receiver::recording());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let app = mock
        .state()
        .store()
        .apps()
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("the demo data has an app"));
    let redirect_uri = app.redirect_uris[0].clone();
    runtime.block_on(async {
        let (status, answer) = control
            .post_raw(
                "/_mock/webhooks/callback",
                json!({ "client_key": app.client_key, "callback_url": inbox.url }),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    });

    let strategy = (
        proptest::collection::vec(op(), 1..50),
        prop_oneof![Just(0i64), Just(1_000), Just(5_000), Just(60_000)],
    );
    let counter = std::sync::atomic::AtomicU32::new(0);
    let mut runner = TestRunner::new(Config {
        cases: cases(64),
        ..Config::default()
    });
    let result = runner.run(&strategy, |(ops, processing_ms)| {
        let case = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let open_id = format!("-000machine{case}");
        runtime.block_on(async {
            let (status, answer) = control
                .post_raw(
                    "/_mock/creators",
                    json!({
                        "open_id": open_id, "display_name": open_id, "username": open_id,
                    }),
                )
                .await;
            prop_assert_eq!(status, 200, "{}", answer);
            let (status, answer) = control
                .post_raw("/_mock/posting", json!({ "processing_ms": processing_ms }))
                .await;
            prop_assert_eq!(status, 200, "{}", answer);
            // An observer: a separate authorization of the same user, never revoked.
            let observer = control
                .access_token(
                    Some(&open_id),
                    &[Scope::VideoList, Scope::VideoPublish, Scope::VideoUpload],
                    Some(1_000_000_000),
                )
                .await;
            let mut model = Model {
                now_ms: mock.state().now_ms(),
                processing_ms,
                ..Model::default()
            };

            // The status each post ended in, once observed.
            let mut ended: BTreeMap<usize, PostStatus> = BTreeMap::new();
            for (step, op) in ops.iter().enumerate() {
                let what = format!("step {step} {op:?}");
                let (expected, got) = match *op {
                    Op::Authorize { mask } => {
                        let scopes: Vec<Scope> = SCOPES
                            .iter()
                            .enumerate()
                            .filter(|(bit, _)| mask & (1 << bit) != 0)
                            .map(|(_, scope)| *scope)
                            .collect();
                        let pkce = Pkce::generate();
                        let url = AuthorizeUrl::new(&app.client_key, &redirect_uri)
                            .base(format!("{}/v2/auth/authorize/", mock.uri()))
                            .scopes(&scopes)
                            .state("s")
                            .pkce(&pkce)
                            .build();
                        let response = http
                            .get(format!("{url}&auto_approve=1&open_id={open_id}"))
                            .send()
                            .await
                            .map_err(|error| TestCaseError::fail(format!("{what}: {error}")))?;
                        let location = response
                            .headers()
                            .get("location")
                            .and_then(|value| value.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let query: BTreeMap<String, String> = redirect_query(&location);
                        let code = query.get("code").cloned().ok_or_else(|| {
                            TestCaseError::fail(format!("{what}: no code in {location:?}"))
                        })?;
                        model.codes.push(Code {
                            code,
                            verifier: pkce.verifier().to_owned(),
                            scopes,
                            expires_ms: model.now_ms + CODE_TTL_SECONDS as i64 * 1000,
                            presented: false,
                            exchanged_into: None,
                        });
                        (Outcome::Ok, Outcome::Ok)
                    }
                    Op::Exchange { code } => {
                        let index = match code {
                            None => model.codes.iter().rposition(|code| !code.presented),
                            Some(back) => {
                                (!model.codes.is_empty()).then(|| newest(back, model.codes.len()))
                            }
                        };
                        if let Some(index) = index {
                            let result = client
                                .exchange_code(
                                    &model.codes[index].code,
                                    &redirect_uri,
                                    Some(&model.codes[index].verifier),
                                )
                                .await;
                            let now_ms = model.now_ms;
                            let record = &mut model.codes[index];
                            let expected = if record.presented {
                                // Presented twice: refused, and what it gave is revoked.
                                if let Some(auth) = record.exchanged_into {
                                    model.end(auth);
                                }
                                Outcome::Error(ErrorCode::InvalidGrant)
                            } else if now_ms >= record.expires_ms {
                                record.presented = true;
                                Outcome::Error(ErrorCode::InvalidGrant)
                            } else {
                                record.presented = true;
                                record.exchanged_into = Some(model.auths.len());
                                let scopes = record.scopes.clone();
                                if let Ok(token) = &result {
                                    model.auths.push(Auth {
                                        scopes,
                                        access: vec![(
                                            token.access_token.clone(),
                                            now_ms + ACCESS_TOKEN_TTL_SECONDS as i64 * 1000,
                                        )],
                                        refresh: token.refresh_token.clone().unwrap_or_default(),
                                        rotated: Vec::new(),
                                        refresh_expires_ms: now_ms
                                            + REFRESH_TOKEN_TTL_SECONDS as i64 * 1000,
                                        alive: true,
                                    });
                                }
                                Outcome::Ok
                            };
                            (expected, outcome(&result))
                        } else {
                            (Outcome::Skipped, Outcome::Skipped)
                        }
                    }
                    Op::Refresh { auth, stale } => {
                        if model.auths.is_empty() {
                            (Outcome::Skipped, Outcome::Skipped)
                        } else {
                            let index = newest(auth, model.auths.len());
                            let record = &model.auths[index];
                            let use_stale = stale && !record.rotated.is_empty();
                            let presented = if use_stale {
                                record.rotated[0].clone()
                            } else {
                                record.refresh.clone()
                            };
                            let result = client.refresh_access_token(&presented).await;
                            let now_ms = model.now_ms;
                            let record = &mut model.auths[index];
                            let expected = if use_stale
                                || !record.alive
                                || now_ms >= record.refresh_expires_ms
                            {
                                Outcome::Error(ErrorCode::InvalidGrant)
                            } else {
                                if let Ok(token) = &result {
                                    record.access.push((
                                        token.access_token.clone(),
                                        now_ms + ACCESS_TOKEN_TTL_SECONDS as i64 * 1000,
                                    ));
                                    let next = token.refresh_token.clone().unwrap_or_default();
                                    if REFRESH_ROTATION_ALWAYS {
                                        prop_assert_ne!(
                                            &next,
                                            &record.refresh,
                                            "{}: not rotated",
                                            what
                                        );
                                        let old = std::mem::replace(&mut record.refresh, next);
                                        record.rotated.push(old);
                                    }
                                }
                                Outcome::Ok
                            };
                            (expected, outcome(&result))
                        }
                    }
                    Op::Revoke { auth, token } => {
                        if model.auths.is_empty() {
                            (Outcome::Skipped, Outcome::Skipped)
                        } else {
                            let index = newest(auth, model.auths.len());
                            let record = &model.auths[index];
                            let access = record.access[token % record.access.len()].0.clone();
                            let result = client.revoke_token(&access).await;
                            if model.auths[index].alive
                                && endpoints::REVOKE
                                    .webhooks
                                    .contains(&"authorization.removed")
                            {
                                model.fire("authorization.removed");
                            }
                            model.end(index);
                            (Outcome::Ok, outcome(&result))
                        }
                    }
                    Op::Advance { seconds } => {
                        control.advance_ms(seconds * 1000).await;
                        model.now_ms += seconds * 1000;
                        (Outcome::Ok, Outcome::Ok)
                    }
                    Op::UserInfo { auth, token } => {
                        if model.auths.is_empty() {
                            (Outcome::Skipped, Outcome::Skipped)
                        } else {
                            let index = newest(auth, model.auths.len());
                            let record = &model.auths[index];
                            let token = token % record.access.len();
                            let result = client
                                .user_info(&record.access[token].0, &[UserField::OpenId])
                                .await;
                            let expected = if !record.token_alive(token, model.now_ms) {
                                Outcome::Error(ErrorCode::AccessTokenInvalid)
                            } else if !record.scopes.contains(&Scope::UserInfoBasic) {
                                Outcome::Error(ErrorCode::ScopeNotAuthorized)
                            } else {
                                Outcome::Ok
                            };
                            (expected, outcome(&result))
                        }
                    }
                    Op::Init { auth, direct } => {
                        if model.auths.is_empty() || model.posts.len() >= MAX_POSTS {
                            (Outcome::Skipped, Outcome::Skipped)
                        } else {
                            let index = newest(auth, model.auths.len());
                            let record = &model.auths[index];
                            let latest = record.access.len() - 1;
                            let access = record.access[latest].0.clone();
                            let source_info = VideoSourceInfo {
                                source: Source::FileUpload,
                                video_url: None,
                                video_size: Some(VIDEO_SIZE),
                                chunk_size: Some(VIDEO_SIZE),
                                total_chunk_count: Some(1),
                            };
                            let (endpoint, result) = if direct {
                                let request = VideoInitRequest {
                                    post_info: PostInfo {
                                        // Public, so the published video is listed (the
                                        // video list shows public posts only).
                                        privacy_level: PrivacyLevel::PublicToEveryone,
                                        title: Some(format!("{open_id} {step}")),
                                        disable_duet: None,
                                        disable_stitch: None,
                                        disable_comment: None,
                                        video_cover_timestamp_ms: None,
                                        brand_content_toggle: None,
                                        brand_organic_toggle: None,
                                        is_aigc: None,
                                    },
                                    source_info,
                                };
                                (
                                    &endpoints::VIDEO_INIT,
                                    client.video_init(&access, &request).await,
                                )
                            } else {
                                let request = InboxVideoInitRequest { source_info };
                                (
                                    &endpoints::INBOX_VIDEO_INIT,
                                    client.inbox_video_init(&access, &request).await,
                                )
                            };
                            let expected = if !record.token_alive(latest, model.now_ms) {
                                Outcome::Error(ErrorCode::AccessTokenInvalid)
                            } else if !endpoint
                                .scopes
                                .iter()
                                .any(|scope| record.scopes.contains(scope))
                            {
                                Outcome::Error(ErrorCode::ScopeNotAuthorized)
                            } else {
                                if let Ok(init) = &result {
                                    model.posts.push(Post {
                                        publish_id: init.publish_id.clone(),
                                        upload_url: init.upload_url.clone().unwrap_or_default(),
                                        direct,
                                        auth: index,
                                        upload_expires_ms: model.now_ms
                                            + UPLOAD_URL_TTL_SECONDS as i64 * 1000,
                                        uploaded_ms: None,
                                        failed: false,
                                        settled: false,
                                    });
                                }
                                Outcome::Ok
                            };
                            (expected, outcome(&result))
                        }
                    }
                    Op::Upload { post } => {
                        if model.posts.is_empty() {
                            (Outcome::Skipped, Outcome::Skipped)
                        } else {
                            let index = newest(post, model.posts.len());
                            let record = &model.posts[index];
                            let response = http
                                .put(&record.upload_url)
                                .header("content-type", "video/mp4")
                                .header(
                                    "content-range",
                                    format!("bytes 0-{}/{VIDEO_SIZE}", VIDEO_SIZE - 1),
                                )
                                .body(vec![0x5a_u8; VIDEO_SIZE as usize])
                                .send()
                                .await
                                .map_err(|error| TestCaseError::fail(format!("{what}: {error}")))?;
                            let expected = if model.now_ms >= record.upload_expires_ms {
                                Outcome::Http(403)
                            } else if record.uploaded_ms.is_some() {
                                Outcome::Http(416)
                            } else {
                                model.posts[index].uploaded_ms = Some(model.now_ms);
                                Outcome::Http(201)
                            };
                            (expected, Outcome::Http(response.status().as_u16()))
                        }
                    }
                    Op::LateUpload { post, seconds } => {
                        if model.posts.is_empty() {
                            (Outcome::Skipped, Outcome::Skipped)
                        } else {
                            let index = newest(post, model.posts.len());
                            let record = &model.posts[index];
                            let status =
                                late_put(&record.upload_url, control, seconds * 1000).await;
                            let arrived_ms = model.now_ms;
                            model.now_ms += seconds * 1000;
                            let record = &mut model.posts[index];
                            let expected = if arrived_ms >= record.upload_expires_ms {
                                Outcome::Http(403)
                            } else if record.uploaded_ms.is_some() {
                                Outcome::Http(416)
                            } else if model.now_ms >= record.upload_expires_ms {
                                // Expired while the body was on its way: refused, and
                                // the upload never completes.
                                Outcome::Http(403)
                            } else {
                                record.uploaded_ms = Some(model.now_ms);
                                Outcome::Http(201)
                            };
                            (expected, Outcome::Http(status))
                        }
                    }
                    Op::Fail { post } => {
                        if model.posts.is_empty() {
                            (Outcome::Skipped, Outcome::Skipped)
                        } else {
                            let index = newest(post, model.posts.len());
                            let (status, answer) = control
                                .post_raw(
                                    "/_mock/posts/fail",
                                    json!({ "publish_id": model.posts[index].publish_id }),
                                )
                                .await;
                            let expected = if model.fail(index) { 200 } else { 400 };
                            prop_assert_eq!(status, expected, "{}: {}", what, answer);
                            (Outcome::Ok, Outcome::Ok)
                        }
                    }
                };
                prop_assert_eq!(&got, &expected, "{}", what);

                // The observable state after the step.
                for index in 0..model.posts.len() {
                    let publish_id = model.posts[index].publish_id.clone();
                    let status = client
                        .status_fetch(&observer, &StatusFetchRequest { publish_id })
                        .await
                        .map_err(|error| {
                            TestCaseError::fail(format!("{what}: status fetch: {error}"))
                        })?;
                    let expected = model.status(index);
                    prop_assert_eq!(&status.status, &expected, "{}: post {}", what, index);
                    // Whatever path led here, an ended post keeps the status it ended in.
                    match ended.get(&index) {
                        Some(first) => prop_assert_eq!(
                            &status.status,
                            first,
                            "{}: post {} had ended",
                            what,
                            index
                        ),
                        None if ENDED.contains(&status.status) => {
                            ended.insert(index, status.status.clone());
                        }
                        None => {}
                    }
                }
                let list = client
                    .video_list(
                        &observer,
                        &[VideoField::Id],
                        &VideoListRequest {
                            max_count: Some(20),
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|error| TestCaseError::fail(format!("{what}: video list: {error}")))?;
                prop_assert_eq!(list.videos.len(), model.videos, "{}: video list", what);
            }

            // Every token alive or dead as the model says.
            for (index, auth) in model.auths.iter().enumerate() {
                for (token, (access, _)) in auth.access.iter().enumerate() {
                    let result = client.user_info(access, &[UserField::OpenId]).await;
                    let alive = !matches!(
                        outcome(&result),
                        Outcome::Error(ErrorCode::AccessTokenInvalid)
                    );
                    prop_assert_eq!(
                        alive,
                        auth.token_alive(token, model.now_ms),
                        "authorization {} token {} at the end",
                        index,
                        token
                    );
                }
                let result = client.refresh_access_token(&auth.refresh).await;
                prop_assert_eq!(
                    result.is_ok(),
                    auth.alive && model.now_ms < auth.refresh_expires_ms,
                    "authorization {}: its latest refresh token at the end: {:?}",
                    index,
                    result.err()
                );
            }
            // The webhooks fired: exactly the model's events.
            // (A case cut short by a failure may leave deliveries of its own creator behind.)
            let expected: usize = model.events.values().sum();
            let mut fired: BTreeMap<String, usize> = BTreeMap::new();
            let mut count = 0;
            for _ in 0..500 {
                for arrival in inbox.take() {
                    let payload = tiktok_api::webhook::WebhookPayload::parse(&arrival.body)
                        .map_err(|error| TestCaseError::fail(error.to_string()))?;
                    if payload.user_openid.as_deref() == Some(open_id.as_str()) {
                        *fired.entry(payload.event.as_str().to_owned()).or_default() += 1;
                        count += 1;
                    }
                }
                if count >= expected {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            // Anything more would arrive at once: give it a moment.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            for arrival in inbox.take() {
                let payload = tiktok_api::webhook::WebhookPayload::parse(&arrival.body)
                    .map_err(|error| TestCaseError::fail(error.to_string()))?;
                if payload.user_openid.as_deref() == Some(open_id.as_str()) {
                    *fired.entry(payload.event.as_str().to_owned()).or_default() += 1;
                }
            }
            prop_assert_eq!(fired, model.events, "webhooks fired");
            // One ending per post: never both a failure and a completion for one publish id.
            let mut endings: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let deliveries = control.get("/_mock/webhooks/deliveries").await;
            for delivery in deliveries["deliveries"].as_array().into_iter().flatten() {
                let event = delivery["event"].as_str().unwrap_or_default().to_owned();
                // A delivery with a duplicate repeats one event; it is not a second ending.
                if !delivery["duplicate_of"].is_null() {
                    continue;
                }
                let id = delivery["order_key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if !id.is_empty() && ENDING_EVENTS.contains(&event.as_str()) {
                    endings.entry(id).or_default().push(event);
                }
            }
            for (id, events) in &endings {
                prop_assert!(events.len() <= 1, "post {} ended twice: {:?}", id, events);
            }
            // Every answer of this sequence is on the document.
            harness.tap.check_all().map_err(TestCaseError::fail)?;
            Ok(())
        })
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    assert_conforms(&harness.tap);
}

/// The index `back` places before the newest of `len` (wrapping).
fn newest(back: usize, len: usize) -> usize {
    len - 1 - back % len
}

/// The query of a redirect `Location`, decoded.
fn redirect_query(location: &str) -> BTreeMap<String, String> {
    let query = location.split_once('?').map_or("", |(_, query)| query);
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}
