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
                Some(now.saturating_add(millis).min(LATEST_MS.max(now)))
            })
            .unwrap_or_else(|now| now);
        previous.saturating_add(millis).min(LATEST_MS.max(previous))
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

/// The wall clock shifted by a fixed offset: it runs at real speed from a chosen start
/// (`--clock-start` with the system clock).
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    offset_ms: i64,
}

impl OffsetClock {
    /// A clock that reads `start_ms` now and runs on from there.
    pub fn starting_at(start_ms: i64) -> Self {
        OffsetClock {
            offset_ms: start_ms.saturating_sub(system_now_ms()),
        }
    }
}

impl Clock for OffsetClock {
    fn now_ms(&self) -> i64 {
        system_now_ms().saturating_add(self.offset_ms)
    }
}

/// The latest instant the mock's clock keeps, 9999-12-31T23:59:59.999Z: far enough for any
/// test, and far from `i64::MAX`, so every lifetime and backoff added to it still fits.
pub const LATEST_MS: i64 = 253_402_300_799_999;

/// Reads a start time: Unix seconds (`1800000000`), Unix milliseconds (13 digits or more),
/// or an RFC 3339 UTC time (`2027-01-15T08:00:00Z`, fractions of a second allowed).
pub fn parse_instant(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        let value: i64 = text
            .parse()
            .map_err(|_| format!("{text:?} is out of range"))?;
        return Ok(if text.len() >= 13 {
            value
        } else {
            value.saturating_mul(1000)
        });
    }
    let bad = || {
        format!(
            "expected Unix seconds, Unix milliseconds or an RFC 3339 UTC time (2027-01-15T08:00:00Z), found {text:?}"
        )
    };
    let body = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))
        .ok_or_else(bad)?;
    let (date, time) = body.split_once(['T', 't', ' ']).ok_or_else(bad)?;
    let number = |part: &str| part.parse::<i64>().map_err(|_| bad());
    let date: Vec<&str> = date.split('-').collect();
    let (time, fraction) = time.split_once('.').unwrap_or((time, ""));
    let time: Vec<&str> = time.split(':').collect();
    if date.len() != 3 || time.len() != 3 {
        return Err(bad());
    }
    let (year, month, day) = (number(date[0])?, number(date[1])?, number(date[2])?);
    let (hour, minute, second) = (number(time[0])?, number(time[1])?, number(time[2])?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let millis = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
        number(&digits)?
    };
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let day_of_year = (153 * mp + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Ok(((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + millis)
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
    fn instants_parse_in_every_form() {
        assert_eq!(parse_instant("2027-01-15T08:00:00Z"), Ok(1_800_000_000_000));
        assert_eq!(
            parse_instant("2027-01-15T08:00:00.5Z"),
            Ok(1_800_000_000_500)
        );
        assert_eq!(parse_instant("1800000000"), Ok(1_800_000_000_000));
        assert_eq!(parse_instant("1800000000123"), Ok(1_800_000_000_123));
        assert_eq!(
            parse_instant("2000-02-29T00:00:00+00:00"),
            Ok(951_782_400_000)
        );
        assert!(parse_instant("tomorrow").is_err());
        assert!(parse_instant("2027-13-01T00:00:00Z").is_err());
    }

    #[test]
    fn manual_clock_advances() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.advance_ms(500), 1_500);
        assert_eq!(clock.now_ms(), 1_500);
    }
}
