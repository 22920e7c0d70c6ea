//! The official mainland working-day calendar (DOMAIN.md §8) and working-day deadline
//! arithmetic (DOMAIN.md §4 "Deadlines").
//!
//! Weekends are off, statutory holidays (放假) are off, and adjusted weekend working days
//! (调休上班) are on. The schedule is data: the State Council General Office publishes the next
//! year's 《部分节假日安排的通知》 each autumn, and it becomes more rows of
//! `data/cn-holidays.csv`. A date outside the loaded years is an error the operator sees, never a
//! silent weekends-only guess.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate, Weekday};

/// The built-in schedule, 2023–2026 (sources in `data/cn-holidays-sources.md`).
const BUILTIN_CSV: &str = include_str!("../../data/cn-holidays.csv");

/// The header the calendar CSV must start with.
const HEADER: &str = "date,kind,name";

/// Why a calendar could not be loaded or could not answer.
///
/// Line numbers are 1-based and count the header as line 1, so they match an editor's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The first line is not `date,kind,name`.
    #[error("line 1: expected header \"date,kind,name\", found {found:?}")]
    Header {
        /// The first line as found.
        found: String,
    },
    /// A data line without the three comma-separated fields.
    #[error("line {line}: expected three fields \"date,kind,name\"")]
    MissingField {
        /// 1-based line number.
        line: usize,
    },
    /// The date field is not an ISO date (YYYY-MM-DD).
    #[error("line {line}: {value:?} is not a date in YYYY-MM-DD form")]
    BadDate {
        /// 1-based line number.
        line: usize,
        /// The field as found.
        value: String,
    },
    /// The kind field is neither `holiday` nor `workday`.
    #[error("line {line}: kind {value:?} is neither \"holiday\" nor \"workday\"")]
    BadKind {
        /// 1-based line number.
        line: usize,
        /// The field as found.
        value: String,
    },
    /// The same date appears twice.
    #[error("line {line}: date {date} was already listed on line {first_line}")]
    DuplicateDate {
        /// 1-based line number of the second occurrence.
        line: usize,
        /// The repeated date.
        date: NaiveDate,
        /// 1-based line number of the first occurrence.
        first_line: usize,
    },
    /// A `workday` row on a Monday–Friday: 调休上班 days are always weekend days, so this is a
    /// data-entry mistake (the notices list them with their weekday, e.g. "2月14日（周六）上班").
    #[error("line {line}: {date} is a {weekday:?}, but an adjusted working day must be a Saturday or Sunday")]
    WorkdayNotWeekend {
        /// 1-based line number.
        line: usize,
        /// The date of the row.
        date: NaiveDate,
        /// Its weekday.
        weekday: Weekday,
    },
    /// No calendar year is covered (see [`WorkingCalendar::covered_years`]).
    #[error("the calendar covers no year: each year needs at least one row dated before December")]
    NoCoverage,
    /// The covered years are not contiguous, so a deadline could silently cross a missing year.
    #[error("the calendar has no schedule for {year}, between covered years {first}..={last}")]
    CoverageGap {
        /// The missing year.
        year: i32,
        /// First covered year.
        first: i32,
        /// Last covered year.
        last: i32,
    },
    /// A date (or a deadline count running into it) lies outside the loaded schedule.
    #[error(
        "{date} is outside the working-day calendar, which covers the years {covered:?}; \
         load the State Council holiday notice for {year}",
        year = .date.year()
    )]
    NotCovered {
        /// The first date that could not be classified.
        date: NaiveDate,
        /// The covered calendar years.
        covered: RangeInclusive<i32>,
    },
}

/// What a row of the calendar CSV says about a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayKind {
    /// 放假: a day off, weekend days inside a break included.
    Holiday,
    /// 调休上班: a Saturday or Sunday that is a working day.
    Workday,
}

/// The mainland working-day calendar: which dates are working days, for the covered years.
///
/// Loaded from data, never hard-coded, because the State Council sets the schedule anew each
/// year (DOMAIN.md §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    /// Listed dates and what they are; unlisted dates follow the weekday rule.
    days: BTreeMap<NaiveDate, DayKind>,
    /// Calendar years for which the schedule is known.
    covered: RangeInclusive<i32>,
}

impl WorkingCalendar {
    /// The calendar built into the binary from `data/cn-holidays.csv` (official schedules
    /// 2023–2026, sources in `data/cn-holidays-sources.md`).
    ///
    /// Fallible only so that a bad edit of the data file surfaces as an error at start-up rather
    /// than a panic; the shipped file is checked by the tests.
    pub fn builtin() -> Result<Self, CalendarError> {
        Self::from_csv(BUILTIN_CSV)
    }

    /// Loads a calendar from CSV text with the header `date,kind,name`, one row per listed date:
    /// `kind` is `holiday` (放假, weekend days of a break included) or `workday` (调休上班, must be
    /// a Saturday or Sunday). The name is free text and may not contain line breaks; fields are
    /// not quoted. Blank lines, a UTF-8 BOM and CRLF line ends are tolerated.
    ///
    /// A calendar year is *covered* when at least one row is dated in that year before December:
    /// the notice for year Y may start its 元旦 break on Y-1-12-31, which does not make Y-1
    /// known. Covered years must be contiguous.
    pub fn from_csv(text: &str) -> Result<Self, CalendarError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let header = lines.next().map_or("", |(_, l)| l.trim_end_matches('\r'));
        if header.trim() != HEADER {
            return Err(CalendarError::Header {
                found: header.chars().take(80).collect(),
            });
        }

        let mut days = BTreeMap::new();
        let mut first_seen: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        let mut years = BTreeSet::new();
        for (line, raw) in lines {
            let raw = raw.trim_end_matches('\r');
            if raw.trim().is_empty() {
                continue;
            }
            let mut fields = raw.splitn(3, ',');
            let (Some(date_field), Some(kind_field), Some(_name)) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(CalendarError::MissingField { line });
            };
            let date_field = date_field.trim();
            let date = NaiveDate::parse_from_str(date_field, "%Y-%m-%d")
                .ok()
                .filter(|_| date_field.len() == 10)
                .ok_or_else(|| CalendarError::BadDate {
                    line,
                    value: date_field.chars().take(40).collect(),
                })?;
            let kind = match kind_field.trim() {
                "holiday" => DayKind::Holiday,
                "workday" => DayKind::Workday,
                other => {
                    return Err(CalendarError::BadKind {
                        line,
                        value: other.chars().take(40).collect(),
                    });
                }
            };
            if let Some(&first_line) = first_seen.get(&date) {
                return Err(CalendarError::DuplicateDate { line, date, first_line });
            }
            if kind == DayKind::Workday && !is_weekend(date) {
                return Err(CalendarError::WorkdayNotWeekend {
                    line,
                    date,
                    weekday: date.weekday(),
                });
            }
            first_seen.insert(date, line);
            days.insert(date, kind);
            if date.month() < 12 {
                years.insert(date.year());
            }
        }

        let (Some(&first), Some(&last)) = (years.first(), years.last()) else {
            return Err(CalendarError::NoCoverage);
        };
        if let Some(year) = (first..=last).find(|y| !years.contains(y)) {
            return Err(CalendarError::CoverageGap { year, first, last });
        }
        Ok(Self {
            days,
            covered: first..=last,
        })
    }

    /// The calendar years whose official schedule is loaded; deadlines are computable only
    /// inside them.
    pub fn covered_years(&self) -> RangeInclusive<i32> {
        self.covered.clone()
    }

    /// Whether `d` is a working day: an adjusted working day (调休上班), or a Monday–Friday that is
    /// not a holiday. Errors with [`CalendarError::NotCovered`] outside the covered years, rather
    /// than guessing from weekdays alone (DOMAIN.md §8).
    pub fn is_working_day(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        if !self.covered.contains(&d.year()) {
            return Err(self.not_covered(d));
        }
        Ok(match self.days.get(&d) {
            Some(DayKind::Workday) => true,
            Some(DayKind::Holiday) => false,
            None => !is_weekend(d),
        })
    }

    /// The due date of an "N working days" deadline (DOMAIN.md §4): the `n`-th working day
    /// strictly after `start`. The start day never counts, whatever it is, so a Saturday start
    /// counts from Monday (or from an adjusted working Saturday/Sunday). `n = 0` returns `start`
    /// unchanged, without consulting the calendar.
    ///
    /// Errors with [`CalendarError::NotCovered`] if the count runs past the loaded years.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut d = start;
        let mut remaining = n;
        while remaining > 0 {
            d = d.succ_opt().ok_or_else(|| self.not_covered(d))?;
            if self.is_working_day(d)? {
                remaining -= 1;
            }
        }
        Ok(d)
    }

    /// The number of working days `d` with `from < d <= to` — the working days elapsed since a
    /// clock started on `from` (DOMAIN.md §4 overdue checks, §7 timeliness). Zero when
    /// `to <= from`. Inverse of [`add_working_days`](Self::add_working_days):
    /// `working_days_between(s, add_working_days(s, n)) == n`.
    ///
    /// Errors with [`CalendarError::NotCovered`] if any day in the span is outside the loaded
    /// years.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> Result<u32, CalendarError> {
        if to <= from {
            return Ok(0);
        }
        // Check both ends first: the covered years are contiguous, so every day between is
        // covered too, and a far-away `to` fails at once instead of after a long walk.
        let first = from.succ_opt().ok_or_else(|| self.not_covered(from))?;
        self.is_working_day(first)?;
        self.is_working_day(to)?;
        let mut count = 0u32;
        for d in first.iter_days().take_while(|d| *d <= to) {
            if self.is_working_day(d)? {
                count = count.saturating_add(1);
            }
        }
        Ok(count)
    }

    /// The error for a date outside the covered years.
    fn not_covered(&self, date: NaiveDate) -> CalendarError {
        CalendarError::NotCovered {
            date,
            covered: self.covered.clone(),
        }
    }
}

/// Saturday or Sunday.
fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn cal() -> WorkingCalendar {
        WorkingCalendar::builtin().unwrap()
    }

    #[test]
    fn builtin_loads_and_covers_2023_to_2026() {
        let c = cal();
        // 2022's only row is 2022-12-31 (from the 2023 notice), so 2022 is not covered.
        assert_eq!(c.covered_years(), 2023..=2026);
        assert_eq!(c.days.len(), 146);
        assert_eq!(c.days.values().filter(|k| **k == DayKind::Workday).count(), 26);
    }

    #[test]
    fn spring_festival_2026_block() {
        let c = cal();
        // Holidays 2026-02-15 (Sun) ..= 2026-02-23 (Mon), 9 days.
        for day in 15..=23 {
            assert!(!c.is_working_day(date(2026, 2, day)).unwrap(), "02-{day}");
        }
        // Adjusted working Saturdays 2026-02-14 and 2026-02-28.
        assert_eq!(date(2026, 2, 14).weekday(), Weekday::Sat);
        assert_eq!(date(2026, 2, 28).weekday(), Weekday::Sat);
        assert!(c.is_working_day(date(2026, 2, 14)).unwrap());
        assert!(c.is_working_day(date(2026, 2, 28)).unwrap());
        // An ordinary Sunday after it is off, an ordinary Friday before it is on.
        assert!(!c.is_working_day(date(2026, 3, 1)).unwrap());
        assert!(c.is_working_day(date(2026, 2, 13)).unwrap());
    }

    #[test]
    fn add_working_days_across_spring_festival_2026() {
        let c = cal();
        let fri = date(2026, 2, 13);
        assert_eq!(fri.weekday(), Weekday::Fri);
        // 1st working day after Fri 02-13: Sat 02-14 (调休上班).
        assert_eq!(c.add_working_days(fri, 1).unwrap(), date(2026, 2, 14));
        // 02-15..02-23 are off, so the 2nd is Tue 02-24 and the 3rd Wed 02-25.
        assert_eq!(c.add_working_days(fri, 2).unwrap(), date(2026, 2, 24));
        assert_eq!(c.add_working_days(fri, 3).unwrap(), date(2026, 2, 25));
        // 10 working days: 02-14, 24, 25, 26, 27, 28 (Sat, 调休), 03-02, 03, 04, 05.
        assert_eq!(c.add_working_days(fri, 10).unwrap(), date(2026, 3, 5));
        assert_eq!(c.working_days_between(fri, date(2026, 3, 5)).unwrap(), 10);
        assert_eq!(c.working_days_between(fri, date(2026, 2, 25)).unwrap(), 3);
        // A submission on the working Saturday itself: that day does not count, 1st is 02-24.
        assert_eq!(c.add_working_days(date(2026, 2, 14), 1).unwrap(), date(2026, 2, 24));
        // Fri 02-27 + 1 = Sat 02-28 (调休); + 2 skips Sun 03-01 to Mon 03-02.
        assert_eq!(c.add_working_days(date(2026, 2, 27), 1).unwrap(), date(2026, 2, 28));
        assert_eq!(c.add_working_days(date(2026, 2, 27), 2).unwrap(), date(2026, 3, 2));
    }

    #[test]
    fn national_day_2026_block() {
        let c = cal();
        for day in 1..=7 {
            assert!(!c.is_working_day(date(2026, 10, day)).unwrap(), "10-{day}");
        }
        assert_eq!(date(2026, 9, 20).weekday(), Weekday::Sun);
        assert_eq!(date(2026, 10, 10).weekday(), Weekday::Sat);
        assert!(c.is_working_day(date(2026, 9, 20)).unwrap());
        assert!(c.is_working_day(date(2026, 10, 10)).unwrap());
        // Fri 09-18 + 1: Sat 09-19 is off, Sun 09-20 is 调休上班.
        assert_eq!(c.add_working_days(date(2026, 9, 18), 1).unwrap(), date(2026, 9, 20));
        // Wed 09-30 + 1: 10-01..07 off, Thu 10-08. + 3: 10-08, 10-09 Fri, 10-10 Sat (调休).
        // + 4: Sun 10-11 off, Mon 10-12.
        let wed = date(2026, 9, 30);
        assert_eq!(c.add_working_days(wed, 1).unwrap(), date(2026, 10, 8));
        assert_eq!(c.add_working_days(wed, 3).unwrap(), date(2026, 10, 10));
        assert_eq!(c.add_working_days(wed, 4).unwrap(), date(2026, 10, 12));
        assert_eq!(c.working_days_between(wed, date(2026, 10, 12)).unwrap(), 4);
        // Mid-Autumn 09-25 (Fri)..09-27 is off: Thu 09-24 + 1 = Mon 09-28.
        assert_eq!(c.add_working_days(date(2026, 9, 24), 1).unwrap(), date(2026, 9, 28));
    }

    #[test]
    fn saturday_start_counts_from_monday() {
        let c = cal();
        let sat = date(2026, 3, 7);
        assert_eq!(sat.weekday(), Weekday::Sat);
        assert_eq!(c.add_working_days(sat, 1).unwrap(), date(2026, 3, 9));
        assert_eq!(c.add_working_days(sat, 3).unwrap(), date(2026, 3, 11));
        // Sunday start too.
        assert_eq!(c.add_working_days(date(2026, 3, 8), 1).unwrap(), date(2026, 3, 9));
    }

    #[test]
    fn zero_days_and_reverse_spans() {
        let c = cal();
        let d = date(2026, 2, 15);
        assert_eq!(c.add_working_days(d, 0).unwrap(), d);
        assert_eq!(c.working_days_between(d, d).unwrap(), 0);
        assert_eq!(c.working_days_between(d, date(2026, 2, 1)).unwrap(), 0);
    }

    #[test]
    fn dates_outside_coverage_error() {
        let c = cal();
        let err = c.is_working_day(date(2027, 1, 4)).unwrap_err();
        assert_eq!(
            err,
            CalendarError::NotCovered {
                date: date(2027, 1, 4),
                covered: 2023..=2026
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("2023..=2026"), "{msg}");
        assert!(msg.contains("notice for 2027"), "{msg}");
        // 2022-12-31 is listed, but 2022 is not a covered year.
        assert!(matches!(
            c.is_working_day(date(2022, 12, 31)),
            Err(CalendarError::NotCovered { .. })
        ));
        // Thu 2026-12-31 + 1 runs into 2027.
        assert_eq!(
            c.add_working_days(date(2026, 12, 31), 1),
            Err(CalendarError::NotCovered {
                date: date(2027, 1, 1),
                covered: 2023..=2026
            })
        );
        assert!(c.add_working_days(date(2026, 12, 30), 1).is_ok());
        assert!(c.working_days_between(date(2026, 12, 1), date(2027, 1, 5)).is_err());
        assert!(c.working_days_between(date(2022, 1, 1), date(2023, 1, 5)).is_err());
        // Starting on the last day before coverage is fine: only later days are counted.
        // 2023-01-01/02 are 元旦 holidays, Tue 01-03 is the first working day.
        assert_eq!(c.add_working_days(date(2022, 12, 31), 1).unwrap(), date(2023, 1, 3));
    }

    #[test]
    fn from_csv_errors_carry_line_numbers() {
        let bad_header = "day,kind,name\n2024-01-01,holiday,元旦\n";
        assert!(matches!(
            WorkingCalendar::from_csv(bad_header),
            Err(CalendarError::Header { .. })
        ));
        let bad_date = "date,kind,name\n2024-01-01,holiday,元旦\n2024-02-30,holiday,春节\n";
        assert_eq!(
            WorkingCalendar::from_csv(bad_date),
            Err(CalendarError::BadDate {
                line: 3,
                value: "2024-02-30".into()
            })
        );
        let bad_kind = "date,kind,name\n2024-01-01,off,元旦\n";
        assert_eq!(
            WorkingCalendar::from_csv(bad_kind),
            Err(CalendarError::BadKind {
                line: 2,
                value: "off".into()
            })
        );
        let dup = "date,kind,name\n2024-01-01,holiday,元旦\n\n2024-01-01,holiday,元旦\n";
        assert_eq!(
            WorkingCalendar::from_csv(dup),
            Err(CalendarError::DuplicateDate {
                line: 4,
                date: date(2024, 1, 1),
                first_line: 2
            })
        );
        // 2026-02-13 is a Friday.
        let weekday_workday = "date,kind,name\n2026-02-13,workday,春节\n";
        assert_eq!(
            WorkingCalendar::from_csv(weekday_workday),
            Err(CalendarError::WorkdayNotWeekend {
                line: 2,
                date: date(2026, 2, 13),
                weekday: Weekday::Fri
            })
        );
        let missing = "date,kind,name\n2024-01-01,holiday\n";
        assert_eq!(
            WorkingCalendar::from_csv(missing),
            Err(CalendarError::MissingField { line: 2 })
        );
    }

    #[test]
    fn from_csv_coverage_rules() {
        assert_eq!(
            WorkingCalendar::from_csv("date,kind,name\n"),
            Err(CalendarError::NoCoverage)
        );
        // Only a December row: the year is not covered.
        assert_eq!(
            WorkingCalendar::from_csv("date,kind,name\n2022-12-31,holiday,元旦\n"),
            Err(CalendarError::NoCoverage)
        );
        let gap = "date,kind,name\n2023-01-02,holiday,元旦\n2025-01-01,holiday,元旦\n";
        assert_eq!(
            WorkingCalendar::from_csv(gap),
            Err(CalendarError::CoverageGap {
                year: 2024,
                first: 2023,
                last: 2025
            })
        );
        let crlf = "\u{feff}date,kind,name\r\n2025-01-01,holiday,元旦\r\n";
        let c = WorkingCalendar::from_csv(crlf).unwrap();
        assert_eq!(c.covered_years(), 2025..=2025);
        assert!(!c.is_working_day(date(2025, 1, 1)).unwrap());
    }

    proptest! {
        #[test]
        fn add_then_count_round_trips(offset in 0u64..1300, n in 0u32..80) {
            let c = cal();
            let start = date(2023, 1, 1) + chrono::Days::new(offset);
            let due = c.add_working_days(start, n).unwrap();
            if n > 0 {
                prop_assert!(due > start);
                prop_assert!(c.is_working_day(due).unwrap());
            } else {
                prop_assert_eq!(due, start);
            }
            prop_assert_eq!(c.working_days_between(start, due).unwrap(), n);
        }

        #[test]
        fn between_is_additive(a in 0u64..1340, b in 0u64..60, k in 0u64..60) {
            let c = cal();
            let x = date(2023, 1, 1) + chrono::Days::new(a);
            let y = x + chrono::Days::new(b);
            let z = y + chrono::Days::new(k);
            let xy = c.working_days_between(x, y).unwrap();
            let yz = c.working_days_between(y, z).unwrap();
            prop_assert_eq!(c.working_days_between(x, z).unwrap(), xy + yz);
        }
    }
}
