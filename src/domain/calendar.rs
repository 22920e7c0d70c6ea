//! The mainland working-day calendar (DOMAIN.md §8) and working-day deadline arithmetic
//! (DOMAIN.md §4 "Deadlines").
//!
//! Weekends are off, statutory holidays (放假) are off, and adjusted weekend working days
//! (调休上班) are on. The schedule is data, in two kinds:
//!
//! - **official years**: the State Council General Office publishes the next year's
//!   《部分节假日安排的通知》 each autumn. Its rows (`data/cn-holidays.csv` for 2023–2026, then
//!   whatever an operator loads with `gongshi calendar load`) are parsed by
//!   [`OfficialSchedule::parse`] and kept in the database, where every instance reads them;
//! - **provisional years**: a later year without an official schedule counts weekends plus the
//!   statutory holidays and their 补假 of 《全国年节及纪念日放假办法》
//!   (`data/cn-statutory-holidays.csv`, 2027–2036, parsed by [`StatutoryHolidays::parse`]). No
//!   调休 swap is guessed: those exist only in the notice. Every count that touches such a year
//!   says so ([`Counted::provisional`]), so a deadline shown to a citizen is marked provisional.
//!
//! Only a date after the last provisional year (and not official) is an error: no request is ever
//! refused because an operator has not loaded next year's notice yet.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, Weekday};

/// The built-in official schedules, 2023–2026 (sources in `data/cn-holidays-sources.md`): the
/// seed of the database's official years.
pub const BUILTIN_OFFICIAL_CSV: &str = include_str!("../../data/cn-holidays.csv");

/// The statutory holidays and 补假 of 2027–2036 for provisional years (sources in
/// `data/cn-holidays-sources.md`, "Provisional years").
pub const BUILTIN_STATUTORY_CSV: &str = include_str!("../../data/cn-statutory-holidays.csv");

/// The header both calendar CSV files start with.
const HEADER: &str = "date,kind,name";

/// Why a calendar file could not be loaded, or a date could not be counted.
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
    /// The kind field is not one this file allows (`holiday`/`workday` in an official schedule,
    /// `statutory`/`observed` in the statutory-holiday file).
    #[error("line {line}: kind {value:?} is not one of {allowed}")]
    BadKind {
        /// 1-based line number.
        line: usize,
        /// The field as found.
        value: String,
        /// The kinds allowed in this file.
        allowed: &'static str,
    },
    /// The name field is empty or longer than 100 characters.
    #[error("line {line}: the name must be 1 to 100 characters")]
    BadName {
        /// 1-based line number.
        line: usize,
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
    /// A December row whose year's notice is not in the file: a notice for year Y may list
    /// Y-1-12-31 (its 元旦 break), but then year Y must be in the same file.
    #[error("line {line}: {date} belongs to no year of this file (a December row is part of the next year's notice)")]
    OrphanDecemberRow {
        /// 1-based line number.
        line: usize,
        /// The date of the row.
        date: NaiveDate,
    },
    /// No calendar year is covered.
    #[error("the calendar covers no year: each year needs at least one row dated before December")]
    NoCoverage,
    /// The covered years are not contiguous (a file with 2027 and 2029 but not 2028 is a mistake).
    #[error("the calendar has no schedule for {year}, between covered years {first}..={last}")]
    CoverageGap {
        /// The missing year.
        year: i32,
        /// First covered year.
        first: i32,
        /// Last covered year.
        last: i32,
    },
    /// A date (or a deadline count running into it) is beyond every schedule: its year has no
    /// official notice loaded and lies after the last year of the statutory holidays.
    #[error(
        "{date} is beyond the working-day calendar: no official schedule for {year} is loaded and the \
         statutory holidays are known only through {provisional_through}; load the State Council holiday \
         notice for {year}",
        year = .date.year()
    )]
    NotCovered {
        /// The first date that could not be classified.
        date: NaiveDate,
        /// The last year counted provisionally.
        provisional_through: i32,
    },
}

/// What a row of an official schedule says about a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayKind {
    /// 放假: a day off, weekend days inside a break included.
    Holiday,
    /// 调休上班: a Saturday or Sunday that is a working day.
    Workday,
}

impl DayKind {
    /// The CSV and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        }
    }

    /// Parses the CSV and storage spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "holiday" => Some(DayKind::Holiday),
            "workday" => Some(DayKind::Workday),
            _ => None,
        }
    }
}

/// One row of an official schedule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CalendarDay {
    /// The date.
    pub date: NaiveDate,
    /// Off, or an adjusted working day.
    pub kind: DayKind,
    /// The festival it belongs to (元旦, 春节, …).
    pub name: String,
}

/// The official schedules of one or more calendar years, as a State Council notice gives them:
/// the rows of each year's notice, keyed by that year.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfficialSchedule {
    /// Year of the notice → its rows, by date.
    pub years: BTreeMap<i32, Vec<CalendarDay>>,
}

/// Splits calendar CSV text into numbered data lines after checking the header; blank lines, a
/// UTF-8 BOM and CRLF line ends are tolerated. Each line gives its date, kind and name fields.
fn data_lines(text: &str) -> Result<Vec<(usize, NaiveDate, &str, &str)>, CalendarError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let header = lines.next().map_or("", |(_, l)| l.trim_end_matches('\r'));
    if header.trim() != HEADER {
        return Err(CalendarError::Header {
            found: header.chars().take(80).collect(),
        });
    }
    let mut out = Vec::new();
    let mut first_seen: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    for (line, raw) in lines {
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        let mut fields = raw.splitn(3, ',');
        let (Some(date_field), Some(kind_field), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
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
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(CalendarError::BadName { line });
        }
        if let Some(&first_line) = first_seen.get(&date) {
            return Err(CalendarError::DuplicateDate { line, date, first_line });
        }
        first_seen.insert(date, line);
        out.push((line, date, kind_field.trim(), name));
    }
    Ok(out)
}

impl OfficialSchedule {
    /// Parses an official schedule from CSV text with the header `date,kind,name`, one row per
    /// listed date: `kind` is `holiday` (放假, weekend days of a break included) or `workday`
    /// (调休上班, must be a Saturday or Sunday). The name is free text (1–100 characters, no line
    /// breaks); fields are not quoted. Blank lines, a UTF-8 BOM and CRLF line ends are tolerated.
    ///
    /// A calendar year is *covered* when at least one row is dated in that year before December:
    /// the notice for year Y may start its 元旦 break on Y-1-12-31, which does not make Y-1
    /// known, and that row belongs to Y's notice. Covered years must be contiguous. Any error
    /// rejects the whole file, so nothing is ever half-loaded.
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let rows = data_lines(text)?;
        let mut parsed = Vec::with_capacity(rows.len());
        let mut covered = BTreeSet::new();
        for (line, date, kind, name) in rows {
            let kind = DayKind::parse(kind).ok_or_else(|| CalendarError::BadKind {
                line,
                value: kind.chars().take(40).collect(),
                allowed: "\"holiday\", \"workday\"",
            })?;
            if kind == DayKind::Workday && !is_weekend(date) {
                return Err(CalendarError::WorkdayNotWeekend {
                    line,
                    date,
                    weekday: date.weekday(),
                });
            }
            if date.month() < 12 {
                covered.insert(date.year());
            }
            parsed.push((line, date, kind, name));
        }
        let (Some(&first), Some(&last)) = (covered.first(), covered.last()) else {
            return Err(CalendarError::NoCoverage);
        };
        if let Some(year) = (first..=last).find(|y| !covered.contains(y)) {
            return Err(CalendarError::CoverageGap { year, first, last });
        }
        let mut years: BTreeMap<i32, Vec<CalendarDay>> = covered.iter().map(|y| (*y, Vec::new())).collect();
        for (line, date, kind, name) in parsed {
            // A December row belongs to the next year's notice when that is in the file (the
            // 元旦 break), else to its own year's.
            let year = if date.month() == 12 && covered.contains(&(date.year() + 1)) {
                date.year() + 1
            } else if covered.contains(&date.year()) {
                date.year()
            } else {
                return Err(CalendarError::OrphanDecemberRow { line, date });
            };
            years.entry(year).or_default().push(CalendarDay {
                date,
                kind,
                name: name.to_string(),
            });
        }
        for days in years.values_mut() {
            days.sort_by_key(|d| d.date);
        }
        Ok(OfficialSchedule { years })
    }

    /// The built-in schedules, 2023–2026.
    ///
    /// Fallible only so that a bad edit of the data file surfaces as an error rather than a
    /// panic; the shipped file is checked by the tests.
    pub fn builtin() -> Result<Self, CalendarError> {
        Self::parse(BUILTIN_OFFICIAL_CSV)
    }
}

/// The statutory days off of 《全国年节及纪念日放假办法》 (and 补假 for those falling on a weekend)
/// for the years after the official data: what a provisional year counts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatutoryHolidays {
    days: BTreeSet<NaiveDate>,
    through: i32,
}

impl StatutoryHolidays {
    /// Parses `date,kind,name` rows with kind `statutory` or `observed` (补假).
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let mut days = BTreeSet::new();
        for (line, date, kind, _) in data_lines(text)? {
            if !matches!(kind, "statutory" | "observed") {
                return Err(CalendarError::BadKind {
                    line,
                    value: kind.chars().take(40).collect(),
                    allowed: "\"statutory\", \"observed\"",
                });
            }
            days.insert(date);
        }
        let through = days.last().map(|d| d.year()).ok_or(CalendarError::NoCoverage)?;
        Ok(StatutoryHolidays { days, through })
    }

    /// The built-in list, 2027–2036.
    pub fn builtin() -> Result<Self, CalendarError> {
        Self::parse(BUILTIN_STATUTORY_CSV)
    }

    /// The last year the list covers: after it (and without an official schedule) no date can be
    /// counted.
    pub fn through(&self) -> i32 {
        self.through
    }
}

/// What the calendar knows of a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearStatus {
    /// From a State Council notice.
    Official,
    /// Weekends plus statutory holidays and 补假: not yet official.
    Provisional,
    /// Beyond every schedule: no date in it can be counted.
    Unavailable,
}

/// A count, and whether any day it rests on lies in a provisional year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted<T> {
    /// The result.
    pub value: T,
    /// True when a provisional year was counted over: the result may move when that year's
    /// notice is loaded.
    pub provisional: bool,
}

/// The mainland working-day calendar: official schedules where loaded, provisional years after
/// them up to the end of the statutory-holiday list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    /// Listed official dates and what they are; unlisted dates follow the weekday rule.
    official_days: BTreeMap<NaiveDate, DayKind>,
    /// Calendar years with an official schedule.
    official_years: BTreeSet<i32>,
    /// Statutory days off and 补假 (used in provisional years only).
    statutory: StatutoryHolidays,
    /// Which stored calendar this is (the database's calendar version; 0 for a built one).
    version: i64,
}

impl WorkingCalendar {
    /// A calendar of these official schedules, provisional beyond them up to the end of
    /// `statutory`; `version` names the stored state it was read from.
    pub fn new(official: &OfficialSchedule, statutory: StatutoryHolidays, version: i64) -> Self {
        let mut official_days = BTreeMap::new();
        for days in official.years.values() {
            for d in days {
                official_days.insert(d.date, d.kind);
            }
        }
        WorkingCalendar {
            official_days,
            official_years: official.years.keys().copied().collect(),
            statutory,
            version,
        }
    }

    /// The calendar built into the binary: official 2023–2026, provisional 2027–2036.
    pub fn builtin() -> Result<Self, CalendarError> {
        Ok(Self::new(
            &OfficialSchedule::builtin()?,
            StatutoryHolidays::builtin()?,
            0,
        ))
    }

    /// A calendar whose official years come from CSV text (see [`OfficialSchedule::parse`]),
    /// provisional after them with the built-in statutory holidays.
    pub fn from_csv(text: &str) -> Result<Self, CalendarError> {
        Ok(Self::new(
            &OfficialSchedule::parse(text)?,
            StatutoryHolidays::builtin()?,
            0,
        ))
    }

    /// The stored calendar version this was read from.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The years with an official schedule.
    pub fn official_years(&self) -> &BTreeSet<i32> {
        &self.official_years
    }

    /// The last year with an official schedule, if any.
    pub fn official_through_year(&self) -> Option<i32> {
        self.official_years.last().copied()
    }

    /// The last year that can be counted without an official schedule.
    pub fn provisional_through(&self) -> i32 {
        self.statutory.through()
    }

    /// What the calendar knows of `year`.
    pub fn year_status(&self, year: i32) -> YearStatus {
        if self.official_years.contains(&year) {
            YearStatus::Official
        } else if year <= self.statutory.through() {
            YearStatus::Provisional
        } else {
            YearStatus::Unavailable
        }
    }

    /// Whether `d` is a working day, and whether that answer is provisional. Errors with
    /// [`CalendarError::NotCovered`] only beyond every schedule.
    pub fn day(&self, d: NaiveDate) -> Result<Counted<bool>, CalendarError> {
        let status = self.year_status(d.year());
        if status == YearStatus::Unavailable {
            return Err(self.not_covered(d));
        }
        let official = status == YearStatus::Official;
        let working = match self.official_days.get(&d) {
            Some(DayKind::Workday) => true,
            Some(DayKind::Holiday) => false,
            None => !is_weekend(d) && (official || !self.statutory.days.contains(&d)),
        };
        Ok(Counted {
            value: working,
            provisional: !official,
        })
    }

    /// Whether `d` is a working day: an adjusted working day (调休上班), or a Monday–Friday that is
    /// not a holiday (in a provisional year: not a statutory holiday or 补假).
    pub fn is_working_day(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        self.day(d).map(|c| c.value)
    }

    /// The due date of an "N working days" deadline (DOMAIN.md §4): the `n`-th working day
    /// strictly after `start`, and whether a provisional year was counted over. The start day
    /// never counts, whatever it is, so a Saturday start counts from Monday (or from an adjusted
    /// working Saturday/Sunday). `n = 0` returns `start` unchanged, without consulting the
    /// calendar.
    pub fn add_working_days_counted(&self, start: NaiveDate, n: u32) -> Result<Counted<NaiveDate>, CalendarError> {
        let mut d = start;
        let mut remaining = n;
        let mut provisional = false;
        while remaining > 0 {
            d = d.succ_opt().ok_or_else(|| self.not_covered(d))?;
            let day = self.day(d)?;
            provisional |= day.provisional;
            if day.value {
                remaining -= 1;
            }
        }
        Ok(Counted { value: d, provisional })
    }

    /// [`add_working_days_counted`](Self::add_working_days_counted) without the flag.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        self.add_working_days_counted(start, n).map(|c| c.value)
    }

    /// The number of working days `d` with `from < d <= to` — the working days elapsed since a
    /// clock started on `from` (DOMAIN.md §4 overdue checks, §7 timeliness) — and whether a
    /// provisional year was counted over. Zero when `to <= from`. Inverse of
    /// [`add_working_days`](Self::add_working_days):
    /// `working_days_between(s, add_working_days(s, n)) == n`.
    pub fn working_days_between_counted(&self, from: NaiveDate, to: NaiveDate) -> Result<Counted<u32>, CalendarError> {
        let mut out = Counted {
            value: 0u32,
            provisional: false,
        };
        if to <= from {
            return Ok(out);
        }
        // Check the far end first, so a date beyond every schedule fails at once instead of
        // after a long walk.
        self.day(to)?;
        let first = from.succ_opt().ok_or_else(|| self.not_covered(from))?;
        for d in first.iter_days().take_while(|d| *d <= to) {
            let day = self.day(d)?;
            out.provisional |= day.provisional;
            if day.value {
                out.value = out.value.saturating_add(1);
            }
        }
        Ok(out)
    }

    /// [`working_days_between_counted`](Self::working_days_between_counted) without the flag.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> Result<u32, CalendarError> {
        self.working_days_between_counted(from, to).map(|c| c.value)
    }

    /// The error for a date beyond every schedule.
    fn not_covered(&self, date: NaiveDate) -> CalendarError {
        CalendarError::NotCovered {
            date,
            provisional_through: self.statutory.through(),
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
    use crate::domain::date;
    use proptest::prelude::*;

    fn cal() -> WorkingCalendar {
        WorkingCalendar::builtin().unwrap()
    }

    #[test]
    fn builtin_loads_and_covers_2023_to_2026() {
        let c = cal();
        // 2022's only row is 2022-12-31 (from the 2023 notice), so 2022 is not official.
        assert_eq!(
            c.official_years().iter().copied().collect::<Vec<_>>(),
            vec![2023, 2024, 2025, 2026]
        );
        assert_eq!(c.official_through_year(), Some(2026));
        assert_eq!(c.official_days.len(), 146);
        assert_eq!(c.official_days.values().filter(|k| **k == DayKind::Workday).count(), 26);
        // The 2023 notice's 2022-12-31 belongs to 2023; the 2024 notice's 2023-12-30/31 to 2024.
        let s = OfficialSchedule::builtin().unwrap();
        assert_eq!(s.years[&2023].first().unwrap().date, date(2022, 12, 31));
        assert_eq!(s.years[&2024].first().unwrap().date, date(2023, 12, 30));
        assert_eq!(s.years.values().map(Vec::len).sum::<usize>(), 146);
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
    fn provisional_years_count_weekends_and_statutory_holidays() {
        let c = cal();
        assert_eq!(c.provisional_through(), 2036);
        assert_eq!(c.year_status(2026), YearStatus::Official);
        assert_eq!(c.year_status(2027), YearStatus::Provisional);
        assert_eq!(c.year_status(2036), YearStatus::Provisional);
        assert_eq!(c.year_status(2037), YearStatus::Unavailable);
        // An official day is not provisional; a day of 2027 is.
        assert_eq!(
            c.day(date(2026, 12, 31)).unwrap(),
            Counted {
                value: true,
                provisional: false
            }
        );
        assert_eq!(
            c.day(date(2027, 1, 4)).unwrap(),
            Counted {
                value: true,
                provisional: true
            }
        );
        // 元旦 2027 (Fri 01-01) is a statutory day off.
        assert!(!c.is_working_day(date(2027, 1, 1)).unwrap());
        // Worked by hand from data/cn-statutory-holidays.csv: 春节 2027 is 除夕 Fri 02-05 and
        // 正月初一..初三 Sat 02-06..Mon 02-08 (statutory); two of them fall on the weekend, so
        // Tue 02-09 and Wed 02-10 are 补假 (observed). No 调休 Saturday is guessed.
        assert_eq!(date(2027, 2, 5).weekday(), Weekday::Fri);
        for day in 5..=10 {
            assert!(!c.is_working_day(date(2027, 2, day)).unwrap(), "02-{day}");
        }
        assert!(c.is_working_day(date(2027, 2, 4)).unwrap());
        assert!(c.is_working_day(date(2027, 2, 11)).unwrap());
        assert!(!c.is_working_day(date(2027, 2, 13)).unwrap(), "an ordinary Saturday");
        // Thu 02-04 + 3: Thu 02-11, Fri 02-12, Mon 02-15.
        let thu = date(2027, 2, 4);
        assert_eq!(
            c.add_working_days_counted(thu, 3).unwrap(),
            Counted {
                value: date(2027, 2, 15),
                provisional: true
            }
        );
        // + 10: 02-11, 12, 15, 16, 17, 18, 19, 22, 23, 24.
        assert_eq!(c.add_working_days(thu, 10).unwrap(), date(2027, 2, 24));
        // Mon 2026-12-28 + 3 stays in the official 2026 (12-29, 30, 31): not provisional.
        let mon = date(2026, 12, 28);
        assert_eq!(
            c.add_working_days_counted(mon, 3).unwrap(),
            Counted {
                value: date(2026, 12, 31),
                provisional: false
            }
        );
        // + 10 runs into 2027: 12-29, 30, 31, (01-01 off), 01-04..08, (weekend), 01-11, 01-12.
        assert_eq!(
            c.add_working_days_counted(mon, 10).unwrap(),
            Counted {
                value: date(2027, 1, 12),
                provisional: true
            }
        );
        let between = c.working_days_between_counted(mon, date(2027, 1, 12)).unwrap();
        assert_eq!((between.value, between.provisional), (10, true));
        assert!(
            !c.working_days_between_counted(mon, date(2026, 12, 31))
                .unwrap()
                .provisional
        );
        // A year before the official data counts provisionally too (weekends only: the statutory
        // list starts in 2027); 2022-12-31 is listed by the 2023 notice.
        assert_eq!(
            c.day(date(2022, 6, 1)).unwrap(),
            Counted {
                value: true,
                provisional: true
            }
        );
        assert!(!c.is_working_day(date(2022, 12, 31)).unwrap());
    }

    #[test]
    fn only_dates_beyond_2036_are_refused() {
        let c = cal();
        let err = c.is_working_day(date(2037, 1, 5)).unwrap_err();
        assert_eq!(
            err,
            CalendarError::NotCovered {
                date: date(2037, 1, 5),
                provisional_through: 2036
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("through 2036"), "{msg}");
        assert!(msg.contains("notice for 2037"), "{msg}");
        // Wed 2036-12-31 + 1 runs into 2037.
        assert_eq!(
            c.add_working_days(date(2036, 12, 31), 1),
            Err(CalendarError::NotCovered {
                date: date(2037, 1, 1),
                provisional_through: 2036
            })
        );
        assert!(c.add_working_days(date(2036, 12, 29), 1).is_ok());
        assert!(c.working_days_between(date(2036, 12, 1), date(2037, 1, 5)).is_err());
        // An official 2037 makes it countable.
        let mut s = OfficialSchedule::builtin().unwrap();
        s.years.extend(
            OfficialSchedule::parse("date,kind,name\n2037-01-01,holiday,元旦\n")
                .unwrap()
                .years,
        );
        let with_2037 = WorkingCalendar::new(&s, StatutoryHolidays::builtin().unwrap(), 1);
        assert_eq!(with_2037.year_status(2037), YearStatus::Official);
        assert!(with_2037.is_working_day(date(2037, 1, 5)).unwrap());
        assert_eq!(with_2037.version(), 1);
    }

    #[test]
    fn an_official_year_overrides_the_provisional_one() {
        // A hypothetical 2027 notice: 春节 02-05..02-12 off, Sun 01-31 and Sat 02-20 worked.
        let notice = "date,kind,name\n2027-01-01,holiday,元旦\n2027-01-31,workday,春节\n\
                      2027-02-05,holiday,春节\n2027-02-06,holiday,春节\n2027-02-07,holiday,春节\n\
                      2027-02-08,holiday,春节\n2027-02-09,holiday,春节\n2027-02-10,holiday,春节\n\
                      2027-02-11,holiday,春节\n2027-02-12,holiday,春节\n2027-02-20,workday,春节\n";
        let mut s = OfficialSchedule::builtin().unwrap();
        s.years.extend(OfficialSchedule::parse(notice).unwrap().years);
        let official = WorkingCalendar::new(&s, StatutoryHolidays::builtin().unwrap(), 2);
        let provisional = cal();
        let mon = date(2027, 2, 1);
        // Provisional: 02-02, 03, 04, 11, 12, 15, 16, 17, 18, 19.
        assert_eq!(
            provisional.add_working_days_counted(mon, 10).unwrap(),
            Counted {
                value: date(2027, 2, 19),
                provisional: true
            }
        );
        // Official: 02-02, 03, 04, 15, 16, 17, 18, 19, Sat 02-20 (调休), Mon 02-22.
        assert_eq!(
            official.add_working_days_counted(mon, 10).unwrap(),
            Counted {
                value: date(2027, 2, 22),
                provisional: false
            }
        );
        assert!(official.is_working_day(date(2027, 1, 31)).unwrap());
        assert!(!provisional.is_working_day(date(2027, 1, 31)).unwrap());
    }

    #[test]
    fn statutory_file_loads_and_checks_its_kinds() {
        let s = StatutoryHolidays::builtin().unwrap();
        assert_eq!(s.days.len(), 164);
        assert_eq!(s.through(), 2036);
        assert_eq!(s.days.first(), Some(&date(2027, 1, 1)));
        assert_eq!(
            StatutoryHolidays::parse("date,kind,name\n2027-01-01,holiday,元旦\n"),
            Err(CalendarError::BadKind {
                line: 2,
                value: "holiday".into(),
                allowed: "\"statutory\", \"observed\""
            })
        );
        assert_eq!(
            StatutoryHolidays::parse("date,kind,name\n"),
            Err(CalendarError::NoCoverage)
        );
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
                value: "off".into(),
                allowed: "\"holiday\", \"workday\""
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
        let no_name = "date,kind,name\n2024-01-01,holiday, \n";
        assert_eq!(
            WorkingCalendar::from_csv(no_name),
            Err(CalendarError::BadName { line: 2 })
        );
        // A December row whose next year is not in the file, and whose own year is not either.
        let orphan = "date,kind,name\n2027-12-31,holiday,元旦\n2026-01-01,holiday,元旦\n";
        assert_eq!(
            OfficialSchedule::parse(orphan),
            Err(CalendarError::OrphanDecemberRow {
                line: 2,
                date: date(2027, 12, 31)
            })
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
        assert_eq!(c.official_years().iter().copied().collect::<Vec<_>>(), vec![2025]);
        assert!(!c.is_working_day(date(2025, 1, 1)).unwrap());
    }

    proptest! {
        #[test]
        fn add_then_count_round_trips(offset in 0u64..5000, n in 0u32..80) {
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
        fn between_is_additive(a in 0u64..5000, b in 0u64..60, k in 0u64..60) {
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
