//! The retry policy: exponential backoff with jitter, bounded by attempts and elapsed time,
//! deciding from the error catalog (transient codes) and the endpoint's access (a write is
//! resent only when the failure proves nothing was done).

use std::time::Duration;

use rand::Rng;

use crate::Error;
use crate::meta::{Access, EndpointMeta};

/// When and how often a failed call is sent again.
///
/// The default: up to 3 attempts, backoff from 200 ms doubling to at most 5 s, half of each
/// delay random (so that many clients do not retry in step), giving up once 30 s have
/// passed. [`RetryPolicy::off`] sends every call once.
///
/// A 429 is not backed off: the client waits for its rate-limit window to free, as far as
/// its local limiter can tell, if that happens within the attempts and the elapsed time
/// left ([`RetryPolicy::rate_limit_delay`]; neither `max_backoff` nor jitter applies), and
/// otherwise returns the 429 at once with the time to wait.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    multiplier: f64,
    max_elapsed: Option<Duration>,
    jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            multiplier: 2.0,
            max_elapsed: Some(Duration::from_secs(30)),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// No retries: every call is sent once.
    pub fn off() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// At most `attempts` sends per call, the first included (0 is taken as 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The delay before the second attempt.
    pub fn initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// The longest backoff between two attempts (a 429 waits for its window instead).
    pub fn max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// How much each delay grows over the one before (at least 1).
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier.is_finite() {
            multiplier.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// Gives up when the next attempt would start later than this after the first; `None`
    /// bounds by attempts only.
    pub fn max_elapsed(mut self, elapsed: Option<Duration>) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// Whether half of each delay is random (on by default).
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// The most attempts a call makes.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delay after failed attempt number `attempt` (1-based), before jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        let delay = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exponent);
        Duration::try_from_secs_f64(delay.min(self.max_backoff.as_secs_f64()))
            .unwrap_or(self.max_backoff)
    }

    /// Whether this failure of a call with this access may be sent again at all: a
    /// transient failure, and for a write one that proves nothing was done.
    pub fn may_resend(access: Access, error: &Error) -> bool {
        match access {
            Access::Read => error.is_retryable(),
            Access::Write => error.is_retryable() && error.proves_nothing_done(),
        }
    }

    /// The delay before sending a call again after a 429, given that its rate-limit window
    /// frees in `wait`: `wait` itself if another attempt is allowed and the policy's
    /// elapsed-time limit leaves room for it, else `None` (the 429 is returned at once).
    pub fn rate_limit_delay(
        &self,
        attempt: u32,
        elapsed: Duration,
        wait: Duration,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        match self.max_elapsed {
            Some(limit) if elapsed.saturating_add(wait) > limit => None,
            _ => Some(wait),
        }
    }

    /// The backoff before the next attempt of a call to `endpoint`, or `None` to give up,
    /// for failures other than a 429 (the client hands those to
    /// [`RetryPolicy::rate_limit_delay`]; the upload helper's chunk PUTs use this for all),
    /// after attempt number `attempt` (1-based) failed with `error`, `elapsed` after the
    /// first began.
    pub fn next_delay(
        &self,
        endpoint: &EndpointMeta,
        error: &Error,
        attempt: u32,
        elapsed: Duration,
    ) -> Option<Duration> {
        self.next_delay_for(endpoint.access, error, attempt, elapsed)
    }

    /// [`RetryPolicy::next_delay`] for a request outside the endpoint table (the upload
    /// host's chunk PUTs, which are idempotent: `Access::Read`).
    pub fn next_delay_for(
        &self,
        access: Access,
        error: &Error,
        attempt: u32,
        elapsed: Duration,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts || !Self::may_resend(access, error) {
            return None;
        }
        let full = self.backoff(attempt);
        let delay = if self.jitter {
            let half = full / 2;
            half + full.mul_f64(rand::rng().random_range(0.0..=0.5))
        } else {
            full
        };
        match self.max_elapsed {
            Some(limit) if elapsed.saturating_add(delay) > limit => None,
            _ => Some(delay),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorCode, endpoints};

    fn api(code: ErrorCode, status: u16) -> Error {
        Error::Api {
            status,
            code,
            message: String::new(),
            log_id: "L".into(),
            attempts: crate::Attempts::ONE,
        }
    }

    #[test]
    fn a_429_waits_for_its_window_only_within_the_policy() {
        let policy = RetryPolicy::default();
        let second = Duration::from_secs(1);
        assert_eq!(
            policy.rate_limit_delay(1, Duration::ZERO, second),
            Some(second)
        );
        // Past the 30 s the default policy allows, or out of attempts: returned at once.
        assert_eq!(
            policy.rate_limit_delay(1, Duration::ZERO, 31 * second),
            None
        );
        assert_eq!(policy.rate_limit_delay(1, 29 * second, 2 * second), None);
        assert_eq!(policy.rate_limit_delay(3, Duration::ZERO, second), None);
        let patient = RetryPolicy::default().max_elapsed(None);
        assert_eq!(
            patient.rate_limit_delay(1, Duration::ZERO, 60 * second),
            Some(60 * second)
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default().jitter(false);
        assert_eq!(policy.backoff(1), Duration::from_millis(200));
        assert_eq!(policy.backoff(2), Duration::from_millis(400));
        assert_eq!(policy.backoff(3), Duration::from_millis(800));
        assert_eq!(policy.backoff(30), Duration::from_secs(5));
    }

    #[test]
    fn jitter_stays_within_half_and_full_delay() {
        let policy = RetryPolicy::default().max_attempts(10);
        let error = api(ErrorCode::InternalError, 500);
        for _ in 0..200 {
            let delay = policy
                .next_delay(&endpoints::VIDEO_LIST, &error, 2, Duration::ZERO)
                .unwrap();
            assert!(delay >= Duration::from_millis(200) && delay <= Duration::from_millis(400));
        }
    }

    #[test]
    fn reads_retry_transient_codes_only() {
        let policy = RetryPolicy::default();
        let read = &endpoints::VIDEO_LIST;
        assert!(
            policy
                .next_delay(read, &api(ErrorCode::InternalError, 500), 1, Duration::ZERO)
                .is_some()
        );
        assert!(
            policy
                .next_delay(
                    read,
                    &api(ErrorCode::RateLimitExceeded, 429),
                    1,
                    Duration::ZERO
                )
                .is_some()
        );
        assert!(
            policy
                .next_delay(read, &api(ErrorCode::InvalidParams, 400), 1, Duration::ZERO)
                .is_none()
        );
        assert!(
            policy
                .next_delay(
                    read,
                    &api(ErrorCode::AccessTokenInvalid, 401),
                    1,
                    Duration::ZERO
                )
                .is_none()
        );
    }

    #[test]
    fn writes_retry_only_when_nothing_was_done() {
        let policy = RetryPolicy::default();
        let write = &endpoints::VIDEO_INIT;
        assert!(
            policy
                .next_delay(
                    write,
                    &api(ErrorCode::RateLimitExceeded, 429),
                    1,
                    Duration::ZERO
                )
                .is_some()
        );
        assert!(
            policy
                .next_delay(
                    write,
                    &api(ErrorCode::InternalError, 500),
                    1,
                    Duration::ZERO
                )
                .is_none()
        );
        let token = &endpoints::TOKEN;
        let server_error = Error::OAuth {
            status: 500,
            error: ErrorCode::ServerError,
            description: String::new(),
            log_id: String::new(),
            attempts: crate::Attempts::ONE,
        };
        assert!(
            policy
                .next_delay(token, &server_error, 1, Duration::ZERO)
                .is_none()
        );
    }

    #[test]
    fn attempts_and_elapsed_time_bound_the_retries() {
        let policy = RetryPolicy::default().max_attempts(2).jitter(false);
        let error = api(ErrorCode::InternalError, 500);
        let read = &endpoints::VIDEO_LIST;
        assert!(policy.next_delay(read, &error, 1, Duration::ZERO).is_some());
        assert!(policy.next_delay(read, &error, 2, Duration::ZERO).is_none());
        assert!(
            policy
                .next_delay(read, &error, 1, Duration::from_secs(30))
                .is_none()
        );
        assert!(
            RetryPolicy::off()
                .next_delay(read, &error, 1, Duration::ZERO)
                .is_none()
        );
    }
}
