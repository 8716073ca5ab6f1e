//! The client-side rate limiter: a sliding window per access token and endpoint, sized by
//! the spec's per-minute figure of each endpoint, so an app stays under TikTok's limits
//! instead of learning them from 429s.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

use parking_lot::Mutex;
use rustc_hash::FxBuildHasher;
use tokio::time::Instant;

use crate::Error;
use crate::meta::{Auth, EndpointMeta};
use crate::runtime::window::SlidingWindow;

/// What the limiter does with a call over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimiterMode {
    /// Waits until the window lets the call through (the default).
    #[default]
    Wait,
    /// Refuses the call at once with [`Error::RateLimited`], which says how long to wait.
    FailFast,
}

/// Windows a shard keeps before its expired ones are swept.
const SWEEP_ABOVE: usize = 256;

/// Shards of the windows: a call locks the one its token falls in, so calls with different
/// tokens on different threads seldom wait for each other.
const SHARDS: usize = 16;

/// A token (as a keyed hash) and an endpoint id.
type WindowKey = (u64, &'static str);

/// The windows of one shard. Keys are already a keyed hash, so the map hashes them with
/// FxHash rather than SipHash again.
type Windows = HashMap<WindowKey, SlidingWindow, FxBuildHasher>;

/// A sliding-window limiter keyed by (token, endpoint), in [`SHARDS`] shards. Tokens are
/// kept only as a keyed hash: std's SipHash-1-3 under this limiter's random key (64 bits;
/// two tokens that collide would only share a window, erring on the side of fewer calls),
/// computed once per call; the key never leaves the process.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    mode: LimiterMode,
    /// Every spec limit times this (1 but against a mock with `--rate-limit-scale`).
    scale: f64,
    key: RandomState,
    shards: Box<[Mutex<Windows>]>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(LimiterMode::default(), 1.0)
    }
}

impl RateLimiter {
    pub(crate) fn new(mode: LimiterMode, scale: f64) -> Self {
        RateLimiter {
            mode,
            scale,
            key: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// The token as this limiter keeps it, and the shard its windows are in.
    fn token_key(&self, token: &str) -> (u64, &Mutex<Windows>) {
        let hash = self.key.hash_one(token);
        // The top bits pick the shard; the map's own hash uses the low ones.
        (hash, &self.shards[(hash >> 60) as usize % SHARDS])
    }

    /// An endpoint's rate-limit window, from the spec.
    pub(crate) fn window(endpoint: &EndpointMeta) -> Duration {
        Duration::from_secs(u64::from(endpoint.rate_limit.window_seconds.max(1)))
    }

    /// How long until TikTok's window for (`token`, `endpoint`) lets one more call through,
    /// as far as this client can tell: when the oldest call it sent in the window leaves it
    /// (TikTok counts at least that one), or a whole window when it sent none there.
    pub(crate) fn frees_in(
        &self,
        endpoint: &'static EndpointMeta,
        token: Option<&str>,
    ) -> Duration {
        let window = Self::window(endpoint);
        let Some(token) = token else { return window };
        let (hash, shard) = self.token_key(token);
        let now = Instant::now().into_std();
        shard
            .lock()
            .get_mut(&(hash, endpoint.id))
            .and_then(|sends| sends.oldest_leaves_in(now, window))
            .unwrap_or(window)
    }

    /// Takes one send from the window of (`token`, `endpoint`), waiting or failing when it
    /// is full. Calls authenticated by client credentials (the OAuth endpoints, for which
    /// TikTok documents no limit) and calls without a token pass.
    pub(crate) async fn acquire(
        &self,
        endpoint: &'static EndpointMeta,
        token: Option<&str>,
    ) -> Result<(), Error> {
        let Some(token) = token else { return Ok(()) };
        if endpoint.auth == Auth::ClientCredentials {
            return Ok(());
        }
        let (hash, shard) = self.token_key(token);
        let key = (hash, endpoint.id);
        let limit = endpoint.rate_limit.scaled(self.scale);
        let window = Self::window(endpoint);
        loop {
            let wait = {
                let mut windows = shard.lock();
                let now = Instant::now().into_std();
                if windows.len() > SWEEP_ABOVE {
                    windows.retain(|_, sends| {
                        sends
                            .last()
                            .is_some_and(|last| now.saturating_duration_since(last) < window)
                    });
                }
                match windows.entry(key).or_default().try_take(now, limit, window) {
                    Ok(()) => return Ok(()),
                    Err(wait) => wait,
                }
            };
            match self.mode {
                LimiterMode::FailFast => {
                    return Err(Error::RateLimited {
                        endpoint: endpoint.id,
                        retry_after: wait,
                    });
                }
                LimiterMode::Wait => {
                    tracing::debug!(
                        endpoint = endpoint.id,
                        wait_ms = wait.as_millis() as u64,
                        "waiting for the rate limit window"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints;

    #[tokio::test(start_paused = true)]
    async fn fail_fast_lets_the_spec_figure_through_then_says_how_long_to_wait() {
        let limiter = RateLimiter::new(LimiterMode::FailFast, 1.0);
        let init = &endpoints::VIDEO_INIT;
        let limit = init.rate_limit.per_minute;
        for _ in 0..limit {
            limiter.acquire(init, Some("act.a")).await.unwrap();
        }
        match limiter.acquire(init, Some("act.a")).await {
            Err(Error::RateLimited {
                endpoint,
                retry_after,
            }) => {
                assert_eq!(endpoint, "video_init");
                assert_eq!(retry_after, Duration::from_secs(60));
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
        // Another token and another endpoint have their own windows.
        limiter.acquire(init, Some("act.b")).await.unwrap();
        limiter
            .acquire(&endpoints::STATUS_FETCH, Some("act.a"))
            .await
            .unwrap();
        tokio::time::advance(Duration::from_secs(60)).await;
        limiter.acquire(init, Some("act.a")).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_frees_when_its_oldest_send_leaves_it() {
        let limiter = RateLimiter::new(LimiterMode::Wait, 1.0);
        let info = &endpoints::USER_INFO;
        // Nothing sent with this token: TikTok's window may hold others' calls, a whole one.
        assert_eq!(
            limiter.frees_in(info, Some("act.a")),
            Duration::from_secs(60)
        );
        limiter.acquire(info, Some("act.a")).await.unwrap();
        tokio::time::advance(Duration::from_secs(20)).await;
        limiter.acquire(info, Some("act.a")).await.unwrap();
        assert_eq!(
            limiter.frees_in(info, Some("act.a")),
            Duration::from_secs(40)
        );
        assert_eq!(limiter.frees_in(info, None), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn wait_mode_waits_for_the_window() {
        let limiter = RateLimiter::new(LimiterMode::Wait, 1.0);
        let init = &endpoints::VIDEO_INIT;
        let start = Instant::now();
        for _ in 0..=init.rate_limit.per_minute {
            limiter.acquire(init, Some("act.a")).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn a_scale_multiplies_the_spec_figure_and_never_goes_below_one() {
        let info = &endpoints::USER_INFO;
        let limit = info.rate_limit.per_minute;
        let scaled = RateLimiter::new(LimiterMode::FailFast, 3.0);
        for _ in 0..limit * 3 {
            scaled.acquire(info, Some("act.a")).await.unwrap();
        }
        assert!(scaled.acquire(info, Some("act.a")).await.is_err());
        let tiny = RateLimiter::new(LimiterMode::FailFast, 1e-9);
        tiny.acquire(info, Some("act.a")).await.unwrap();
        assert!(tiny.acquire(info, Some("act.a")).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn oauth_calls_are_not_limited() {
        let limiter = RateLimiter::new(LimiterMode::FailFast, 1.0);
        for _ in 0..10_000 {
            limiter.acquire(&endpoints::TOKEN, Some("x")).await.unwrap();
        }
    }
}
