//! A sliding window of the times of recent calls: the one count behind the client's rate
//! limiter and `tiktok-agent`'s budgets.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The times of the calls in the last `window`, oldest first. A call fits when fewer than
/// `limit` calls were made in the `window` before it.
///
/// ```
/// use std::time::{Duration, Instant};
/// use tiktok_api::rate_limit::SlidingWindow;
///
/// let mut window = SlidingWindow::default();
/// let minute = Duration::from_secs(60);
/// let start = Instant::now();
/// assert_eq!(window.try_take(start, 1, minute), Ok(()));
/// // Full: the first call leaves the window a minute after it was made.
/// assert_eq!(window.try_take(start + Duration::from_secs(20), 1, minute), Err(Duration::from_secs(40)));
/// assert_eq!(window.try_take(start + minute, 1, minute), Ok(()));
/// ```
#[derive(Debug, Clone, Default)]
pub struct SlidingWindow {
    times: VecDeque<Instant>,
}

impl SlidingWindow {
    /// How long from `now` until one more call fits, or `None` if it fits now. Forgets the
    /// calls that have left the window.
    pub fn wait(&mut self, now: Instant, limit: u32, window: Duration) -> Option<Duration> {
        while self
            .times
            .front()
            .is_some_and(|first| now.saturating_duration_since(*first) >= window)
        {
            self.times.pop_front();
        }
        if self.times.len() < limit as usize {
            return None;
        }
        // The oldest call leaves the window at first + window.
        Some(self.times.front().map_or(window, |first| {
            (*first + window).saturating_duration_since(now)
        }))
    }

    /// Counts a call made at `now`, whether or not it fit (see [`SlidingWindow::wait`]).
    pub fn record(&mut self, now: Instant) {
        self.times.push_back(now);
    }

    /// Counts a call at `now` if it fits; otherwise counts nothing and says how long until
    /// one would.
    pub fn try_take(&mut self, now: Instant, limit: u32, window: Duration) -> Result<(), Duration> {
        match self.wait(now, limit, window) {
            Some(wait) => Err(wait),
            None => {
                self.record(now);
                Ok(())
            }
        }
    }

    /// How long from `now` until the oldest call counted leaves the `window`, or `None`
    /// when no call is counted there.
    pub fn oldest_leaves_in(&mut self, now: Instant, window: Duration) -> Option<Duration> {
        self.wait(now, u32::MAX, window);
        self.times
            .front()
            .map(|first| (*first + window).saturating_duration_since(now))
    }

    /// The time of the newest call counted, if any.
    pub fn last(&self) -> Option<Instant> {
        self.times.back().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_of_n_refuses_call_n_plus_one_until_the_oldest_leaves() {
        let mut window = SlidingWindow::default();
        let minute = Duration::from_secs(60);
        let start = Instant::now();
        assert_eq!(window.try_take(start, 2, minute), Ok(()));
        let later = start + Duration::from_secs(10);
        assert_eq!(window.try_take(later, 2, minute), Ok(()));
        assert_eq!(
            window.try_take(start + Duration::from_secs(59), 2, minute),
            Err(Duration::from_secs(1))
        );
        assert_eq!(window.try_take(start + minute, 2, minute), Ok(()));
        assert_eq!(window.last(), Some(start + minute));
        // A limit of zero never lets a call through; it says a whole window.
        assert_eq!(
            SlidingWindow::default().wait(start, 0, minute),
            Some(minute)
        );
    }
}
