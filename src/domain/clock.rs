//! Time: an injectable clock, and calendar dates in China Standard Time.
//!
//! Every date the rules talk about (decision dates, publicity end dates, due
//! dates) is a calendar date in China Standard Time (UTC+8, no daylight saving),
//! whatever time zone the server runs in. Tests inject a [`ManualClock`] so no
//! test waits for a date to pass.

use std::sync::Mutex;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

/// China Standard Time: a fixed +08:00 offset (checked at compile time).
const CST: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(o) => o,
    None => panic!("+08:00 is a valid offset"),
};

/// China Standard Time: a fixed +08:00 offset.
pub fn cst() -> FixedOffset {
    CST
}

/// The CST calendar date of an instant.
pub fn cst_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&cst()).date_naive()
}

/// The instant at which a CST calendar date begins.
pub fn cst_midnight(d: NaiveDate) -> DateTime<Utc> {
    let naive = d.and_time(chrono::NaiveTime::MIN);
    match cst().from_local_datetime(&naive).single() {
        Some(t) => t.with_timezone(&Utc),
        None => Utc.from_utc_datetime(&naive),
    }
}

/// A stored instant (UTC microseconds) as a date-time.
pub fn from_micros(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(m).unwrap_or_default()
}

/// A source of the current time, injected so tests control it.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Today's date in China Standard Time.
    fn today_cst(&self) -> NaiveDate {
        cst_date(self.now())
    }
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to: for tests and for replaying history.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock stopped at `t`.
    pub fn new(t: DateTime<Utc>) -> Self {
        Self(Mutex::new(t))
    }

    /// A clock stopped at noon CST of the given date.
    pub fn at_cst_noon(d: NaiveDate) -> Self {
        Self::new(cst_midnight(d) + chrono::Duration::hours(12))
    }

    /// Moves the clock to `t`.
    pub fn set(&self, t: DateTime<Utc>) {
        match self.0.lock() {
            Ok(mut g) => *g = t,
            Err(poisoned) => *poisoned.into_inner() = t,
        }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: chrono::Duration) {
        let now = self.now();
        self.set(now + d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        match self.0.lock() {
            Ok(g) => *g,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cst_date_is_utc_plus_8() {
        // 2026-03-31T16:30Z is 2026-04-01 00:30 in Shanghai: the 令第36号 rules apply.
        let t = Utc.with_ymd_and_hms(2026, 3, 31, 16, 30, 0).unwrap();
        assert_eq!(cst_date(t), NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
        let t = Utc.with_ymd_and_hms(2026, 3, 31, 15, 59, 59).unwrap();
        assert_eq!(cst_date(t), NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let d = NaiveDate::from_ymd_opt(2026, 5, 6).unwrap();
        let c = ManualClock::at_cst_noon(d);
        assert_eq!(c.today_cst(), d);
        c.advance(chrono::Duration::days(1));
        assert_eq!(c.today_cst(), d.succ_opt().unwrap());
        assert_eq!(cst_date(cst_midnight(d)), d);
    }
}
