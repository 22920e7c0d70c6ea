//! Storage of the working-day calendar's official years (DOMAIN.md §8): the
//! [`CalendarStore`] and [`CalendarTx`] halves of [`super::Store`] and
//! [`super::Tx`]. Every instance on one database reads the same years; a
//! single-row `calendar_state.version` names the stored state, so an instance
//! can tell with one read whether its copy is current.

use async_trait::async_trait;
use chrono::NaiveDate;

use super::Result;
use crate::domain::calendar::DayKind;
use crate::domain::lifecycle::Micros;

/// An official year as stored: when, by whom and from which file it was loaded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CalendarYearRow {
    /// The calendar year.
    pub year: i32,
    /// When it was loaded.
    pub loaded_at: Micros,
    /// Who loaded it (an operator's name, or the seed).
    pub loaded_by: String,
    /// The file it came from (its name as given).
    pub source: String,
    /// SHA-256 (hex) of that file's bytes.
    pub sha256: String,
}

/// One row of an official year's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDayRow {
    /// The notice's year (a December row may belong to the next year's notice).
    pub year: i32,
    /// The date.
    pub date: NaiveDate,
    /// Off, or an adjusted working day.
    pub kind: DayKind,
    /// The festival.
    pub name: String,
}

/// Everything stored of the calendar, read in one go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarSnapshot {
    /// `calendar_state.version`: bumped by every load that changed a year.
    pub version: i64,
    /// The official years.
    pub years: Vec<CalendarYearRow>,
    /// Their rows.
    pub days: Vec<CalendarDayRow>,
}

/// The record of one `calendar load` (or of the seed): kept for ever.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CalendarLoadRow {
    /// Id, increasing.
    pub id: i64,
    /// When.
    pub at: Micros,
    /// Who.
    pub loaded_by: String,
    /// The file's name.
    pub source: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// The years the file holds, comma-separated.
    pub years: String,
    /// The years whose schedule changed (were added or replaced), comma-separated.
    pub replaced: String,
    /// The calendar version after the load.
    pub version: i64,
}

/// Reads of the calendar.
#[async_trait]
pub trait CalendarStore: Send + Sync {
    /// The stored calendar's version (0: never loaded).
    async fn calendar_version(&self) -> Result<i64>;
    /// The official years and their rows.
    async fn calendar_snapshot(&self) -> Result<CalendarSnapshot>;
    /// The most recent loads, newest first.
    async fn list_calendar_loads(&self, limit: i64) -> Result<Vec<CalendarLoadRow>>;
}

/// Writes (and consistent reads) of the calendar, inside a [`super::Tx`].
#[async_trait]
pub trait CalendarTx: Send {
    /// The calendar version, under a shared lock held to commit: a load of
    /// the calendar waits until this transaction ends, so what it computes
    /// with that version cannot be overtaken by a load it does not see.
    async fn calendar_version_shared(&mut self) -> Result<i64>;
    /// The calendar version, locked exclusively for a load.
    async fn lock_calendar(&mut self) -> Result<i64>;
    /// The official years and their rows, seen inside the transaction.
    async fn calendar_snapshot_in_tx(&mut self) -> Result<CalendarSnapshot>;
    /// Stores a year's schedule, replacing any earlier one of that year.
    async fn replace_calendar_year(&mut self, year: &CalendarYearRow, days: &[CalendarDayRow]) -> Result<()>;
    /// Records a load and sets the calendar version to `load.version`.
    async fn record_calendar_load(&mut self, load: &CalendarLoadRow) -> Result<i64>;
}
