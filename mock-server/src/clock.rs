//! The mock's notion of time: the system clock, or a manual clock tests advance.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time, in Unix milliseconds.
///
/// Token expiries, rate-limit windows, video timestamps and log ids all read it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time, Unix milliseconds UTC.
    fn now_ms(&self) -> i64;

    /// The manual clock behind this one, if it can be advanced.
    fn as_manual(&self) -> Option<&ManualClock> {
        None
    }
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        system_now_ms()
    }
}

/// The wall clock, Unix milliseconds.
pub fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A clock that stands still until advanced (`POST /_mock/clock/advance`).
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    /// A manual clock starting at `start_ms` (Unix milliseconds).
    pub fn new(start_ms: i64) -> Self {
        ManualClock {
            now_ms: AtomicI64::new(start_ms),
        }
    }

    /// A manual clock starting at the current wall-clock time.
    pub fn starting_now() -> Self {
        ManualClock::new(system_now_ms())
    }

    /// Moves the clock forward by `millis` (backwards if negative); returns the new time.
    pub fn advance_ms(&self, millis: i64) -> i64 {
        let previous = self
            .now_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(millis))
            })
            .unwrap_or_else(|now| now);
        previous.saturating_add(millis)
    }

    /// Sets the clock to `now_ms`.
    pub fn set_ms(&self, now_ms: i64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        Some(self)
    }
}

/// Which clock the server runs on (`--clock system|manual`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ClockKind {
    /// The wall clock.
    #[default]
    System,
    /// Stands still until advanced through the control API (starts at the wall-clock time).
    Manual,
}

/// Splits Unix milliseconds into UTC `(year, month, day, hour, minute, second)`.
pub fn utc_parts(unix_ms: i64) -> (i64, u32, u32, u32, u32, u32) {
    let seconds = unix_ms.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (second_of_day / 3600) as u32,
        ((second_of_day % 3600) / 60) as u32,
        (second_of_day % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_parts_of_known_instants() {
        assert_eq!(utc_parts(0), (1970, 1, 1, 0, 0, 0));
        // 2022-10-11 22:48:44 UTC, the log_id of the reference's example.
        assert_eq!(utc_parts(1_665_528_524_000), (2022, 10, 11, 22, 48, 44));
        assert_eq!(utc_parts(951_782_400_000), (2000, 2, 29, 0, 0, 0));
    }

    #[test]
    fn manual_clock_advances() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.advance_ms(500), 1_500);
        assert_eq!(clock.now_ms(), 1_500);
    }
}
