//! The working-day calendar as the service keeps it (DOMAIN.md §8): official
//! years in the database, shared by every instance and loadable while they
//! run; provisional years from the statutory holidays after them; and the
//! recomputation of open repair deadlines when an official year arrives.
//!
//! Each instance holds a copy ([`CalendarCell`]) tagged with the stored
//! calendar version. A background task refreshes it (`server.rs`), and every
//! repair transaction reads the version under a shared lock before it counts
//! (`App::calendar_in_tx`), so no due date is ever computed with a calendar
//! older than the one committed, and a load waits for the transactions that
//! are counting with the old one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use chrono::{Datelike, NaiveDate};

use super::{App, AppError, AppResult};
use crate::domain::calendar::{
    BUILTIN_OFFICIAL_CSV, CalendarDay, OfficialSchedule, StatutoryHolidays, WorkingCalendar, YearStatus,
};
use crate::domain::lifecycle::{Actor, Micros};
use crate::domain::record::sha256_hex;
use crate::domain::repair::{self, RepairState};
use crate::store::{
    CalendarDayRow, CalendarLoadRow, CalendarSnapshot, CalendarYearRow, NewRepairEvent, RepairFilter, Tx,
};

/// Who the built-in seed is recorded as.
pub const SEED_LOADED_BY: &str = "gongshi (built-in seed)";
/// The seed's source name.
pub const SEED_SOURCE: &str = "data/cn-holidays.csv (built in)";
/// The reason prefix of a due-date recomputation event.
pub const DUE_DATES_RECOMPUTED: &str = "DUE_DATES_RECOMPUTED";

/// This instance's copy of the calendar.
pub struct CalendarCell {
    statutory: StatutoryHolidays,
    current: RwLock<Arc<WorkingCalendar>>,
}

impl CalendarCell {
    /// A cell holding `initial` (replaced by the stored calendar on first refresh).
    pub fn new(initial: WorkingCalendar, statutory: StatutoryHolidays) -> Self {
        CalendarCell {
            statutory,
            current: RwLock::new(Arc::new(initial)),
        }
    }

    /// The current copy.
    pub fn get(&self) -> Arc<WorkingCalendar> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Installs `cal` unless a newer version is already installed.
    fn install(&self, cal: Arc<WorkingCalendar>) {
        let mut g = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if cal.version() >= g.version() {
            *g = cal;
        }
    }

    /// The calendar a stored snapshot describes.
    fn calendar_of(&self, snap: &CalendarSnapshot) -> WorkingCalendar {
        let mut schedule = OfficialSchedule::default();
        for y in &snap.years {
            schedule.years.insert(y.year, Vec::new());
        }
        for d in &snap.days {
            schedule.years.entry(d.year).or_default().push(CalendarDay {
                date: d.date,
                kind: d.kind,
                name: d.name.clone(),
            });
        }
        WorkingCalendar::new(&schedule, self.statutory.clone(), snap.version)
    }
}

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// The load's record id.
    pub load_id: i64,
    /// The years the file holds.
    pub years: Vec<i32>,
    /// Those that were added or replaced (their schedule differed).
    pub replaced: Vec<i32>,
    /// The calendar version after the load.
    pub version: i64,
    /// SHA-256 of the file.
    pub sha256: String,
}

/// What a recomputation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecomputeReport {
    /// Open applications looked at.
    pub examined: usize,
    /// Those whose due dates (or their provisional flag) changed, each with an event.
    pub changed: usize,
}

/// A year as `gongshi calendar list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearInfo {
    /// The year.
    pub year: i32,
    /// Official, provisional or beyond every schedule.
    pub status: YearStatus,
    /// For an official year: when, by whom, from which file.
    pub loaded: Option<CalendarYearRow>,
}

/// How [`App::store_schedule`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The built-in seed: only into a calendar never loaded.
    Seed,
    /// An operator's load: always recorded.
    Load,
    /// The `calendar_file` setting at start: recorded only when it changes a year.
    LoadIfChanged,
}

fn years_text(years: &[i32]) -> String {
    years.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

fn date_text(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| "none".to_string(), |d| d.to_string())
}

impl App {
    /// This instance's current calendar.
    pub fn calendar(&self) -> Arc<WorkingCalendar> {
        self.calendar.get()
    }

    /// Reads the stored calendar if its version differs from this instance's
    /// copy; true when a newer one was installed.
    pub async fn refresh_calendar(&self) -> AppResult<bool> {
        let version = self.store.calendar_version().await?;
        if version == self.calendar.get().version() {
            return Ok(false);
        }
        let snap = self.store.calendar_snapshot().await?;
        self.calendar.install(Arc::new(self.calendar.calendar_of(&snap)));
        Ok(true)
    }

    /// The calendar to count with inside a repair transaction: the stored
    /// version is read under a shared lock held to commit, and this instance's
    /// copy replaced first if it is older.
    pub(crate) async fn calendar_in_tx(&self, tx: &mut Box<dyn Tx>) -> AppResult<Arc<WorkingCalendar>> {
        let version = tx.calendar_version_shared().await?;
        let current = self.calendar.get();
        if current.version() == version {
            return Ok(current);
        }
        let snap = tx.calendar_snapshot_in_tx().await?;
        let cal = Arc::new(self.calendar.calendar_of(&snap));
        self.calendar.install(cal.clone());
        Ok(cal)
    }

    /// Seeds the official years from the built-in `data/cn-holidays.csv` if
    /// the database's calendar was never loaded (run after every migrate; a
    /// no-op afterwards). Returns the seed's load when it happened.
    pub async fn seed_calendar(&self) -> AppResult<Option<LoadReport>> {
        if self.store.calendar_version().await? != 0 {
            return Ok(None);
        }
        let schedule =
            OfficialSchedule::builtin().map_err(|e| AppError::Internal(format!("built-in calendar: {e}")))?;
        self.store_schedule(
            &schedule,
            BUILTIN_OFFICIAL_CSV.as_bytes(),
            SEED_SOURCE,
            SEED_LOADED_BY,
            Mode::Seed,
        )
        .await
    }

    /// Loads one or more official years from CSV bytes in the format of
    /// `data/cn-holidays.csv` (validated first; any error loads nothing).
    /// A year already stored with the same rows is left as it is; a year with
    /// other rows is replaced. The load is recorded (who, when, the file's
    /// SHA-256, what changed) even when it changed nothing, unless
    /// `record_unchanged` is false (the `calendar_file` setting, applied at
    /// every start: then a load that changes nothing records nothing and
    /// answers with `load_id` 0). Recompute the open deadlines afterwards
    /// with [`App::recompute_due_dates`].
    pub async fn load_calendar(
        &self,
        bytes: &[u8],
        source: &str,
        loaded_by: &str,
        record_unchanged: bool,
    ) -> AppResult<LoadReport> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| AppError::invalid_field("CALENDAR_INVALID", "file", format!("not UTF-8: {e}")))?;
        let schedule = OfficialSchedule::parse(text)
            .map_err(|e| AppError::invalid_field("CALENDAR_INVALID", "file", e.to_string()))?;
        let loaded_by = loaded_by.trim();
        if loaded_by.is_empty() {
            return Err(AppError::invalid_field(
                "REQUIRED",
                "loaded_by",
                "say who loads the calendar",
            ));
        }
        let mode = if record_unchanged {
            Mode::Load
        } else {
            Mode::LoadIfChanged
        };
        match self.store_schedule(&schedule, bytes, source, loaded_by, mode).await? {
            Some(report) => Ok(report),
            None => Ok(LoadReport {
                load_id: 0,
                years: schedule.years.keys().copied().collect(),
                replaced: Vec::new(),
                version: self.calendar().version(),
                sha256: sha256_hex(bytes),
            }),
        }
    }

    /// Stores `schedule` in one transaction under the calendar's exclusive
    /// lock. Returns `None` when `mode` says to record nothing: a seed once
    /// any load has happened (so concurrent first starts seed once), or a
    /// load-if-changed that changes nothing.
    async fn store_schedule(
        &self,
        schedule: &OfficialSchedule,
        bytes: &[u8],
        source: &str,
        loaded_by: &str,
        mode: Mode,
    ) -> AppResult<Option<LoadReport>> {
        let now = self.now_micros();
        let sha256 = sha256_hex(bytes);
        let mut tx = self.store.begin().await?;
        let version = tx.lock_calendar().await?;
        if mode == Mode::Seed && version != 0 {
            return Ok(None);
        }
        let stored = tx.calendar_snapshot_in_tx().await?;
        let mut stored_days: BTreeMap<i32, BTreeSet<(NaiveDate, &'static str, String)>> = BTreeMap::new();
        for d in &stored.days {
            stored_days
                .entry(d.year)
                .or_default()
                .insert((d.date, d.kind.as_str(), d.name.clone()));
        }
        let stored_years: BTreeSet<i32> = stored.years.iter().map(|y| y.year).collect();
        let mut replaced = Vec::new();
        for (year, days) in &schedule.years {
            let new: BTreeSet<(NaiveDate, &'static str, String)> =
                days.iter().map(|d| (d.date, d.kind.as_str(), d.name.clone())).collect();
            if stored_years.contains(year) && stored_days.get(year).cloned().unwrap_or_default() == new {
                continue;
            }
            let rows: Vec<CalendarDayRow> = days
                .iter()
                .map(|d| CalendarDayRow {
                    year: *year,
                    date: d.date,
                    kind: d.kind,
                    name: d.name.clone(),
                })
                .collect();
            tx.replace_calendar_year(
                &CalendarYearRow {
                    year: *year,
                    loaded_at: now,
                    loaded_by: loaded_by.to_string(),
                    source: source.to_string(),
                    sha256: sha256.clone(),
                },
                &rows,
            )
            .await?;
            replaced.push(*year);
        }
        let years: Vec<i32> = schedule.years.keys().copied().collect();
        if replaced.is_empty() && mode == Mode::LoadIfChanged {
            return Ok(None);
        }
        let new_version = if replaced.is_empty() { version } else { version + 1 };
        let load_id = tx
            .record_calendar_load(&CalendarLoadRow {
                id: 0,
                at: now,
                loaded_by: loaded_by.to_string(),
                source: source.to_string(),
                sha256: sha256.clone(),
                years: years_text(&years),
                replaced: years_text(&replaced),
                version: new_version,
            })
            .await?;
        tx.commit().await?;
        tracing::info!(
            load = load_id,
            years = %years_text(&years),
            replaced = %years_text(&replaced),
            version = new_version,
            %sha256,
            "working-day calendar loaded"
        );
        self.refresh_calendar().await?;
        Ok(Some(LoadReport {
            load_id,
            years,
            replaced,
            version: new_version,
            sha256,
        }))
    }

    /// Recomputes the due dates of every application not in a final state
    /// with the stored calendar, one transaction per application (under its
    /// row lock and the calendar's shared lock, so it is safe beside running
    /// instances). Each application whose dates or provisional flag change
    /// gets an event (state unchanged) whose reason starts with
    /// `DUE_DATES_RECOMPUTED` and gives the old and new dates and the load
    /// that caused it. Idempotent: a second run changes nothing.
    pub async fn recompute_due_dates(&self, cause: &LoadReport, loaded_by: &str) -> AppResult<RecomputeReport> {
        let mut report = RecomputeReport::default();
        let open = [
            RepairState::Submitted,
            RepairState::Accepted,
            RepairState::SupplementRequested,
        ];
        for state in open {
            let filter = RepairFilter {
                state: Some(state),
                ..RepairFilter::default()
            };
            let mut after = String::new();
            loop {
                let page = self.store.list_repairs(&filter, &after, 500).await?;
                let Some(last) = page.last() else { break };
                after = last.id.clone();
                for row in page {
                    report.examined += 1;
                    if self.recompute_one(&row.id, cause, loaded_by).await? {
                        report.changed += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    async fn recompute_one(&self, id: &str, cause: &LoadReport, loaded_by: &str) -> AppResult<bool> {
        let now = self.now_micros();
        let mut tx = self.store.begin().await?;
        let Some(mut row) = tx.repair_for_update(id).await? else {
            return Ok(false);
        };
        if !row.state.is_open() {
            return Ok(false);
        }
        let cal = self.calendar_in_tx(&mut tx).await?;
        let due = repair::due_dates(&cal, &self.repair.deadlines, row.state, &row.doc.timeline)
            .map_err(super::repair::calendar_error)?;
        let mut changes = Vec::new();
        for (what, old, new) in [
            ("accept_due_on", row.accept_due_on, due.accept_due_on),
            ("decide_due_on", row.decide_due_on, due.decide_due_on),
            ("overall_due_on", row.overall_due_on, due.overall_due_on),
        ] {
            if old != new {
                changes.push(format!("{what} {} → {}", date_text(old), date_text(new)));
            }
        }
        if row.doc.due_dates_provisional != due.provisional {
            changes.push(format!(
                "due_dates_provisional {} → {}",
                row.doc.due_dates_provisional, due.provisional
            ));
        }
        if changes.is_empty() {
            return Ok(false);
        }
        let years = if cause.replaced.is_empty() {
            years_text(&cause.years)
        } else {
            years_text(&cause.replaced)
        };
        let reason = format!(
            "{DUE_DATES_RECOMPUTED}: official calendar {years} loaded (load {}, sha256 {}); {}",
            cause.load_id,
            cause.sha256,
            changes.join("; ")
        );
        row.accept_due_on = due.accept_due_on;
        row.decide_due_on = due.decide_due_on;
        row.overall_due_on = due.overall_due_on;
        row.doc.due_dates_provisional = due.provisional;
        row.version += 1;
        row.update_time = now;
        tx.update_repair(&row).await?;
        tx.append_repair_event(&NewRepairEvent {
            application_id: row.id.clone(),
            actor: calendar_actor(cause.load_id, loaded_by),
            at: now,
            from: Some(row.state),
            to: row.state,
            reason,
        })
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Each year from `from` to `to` with its status, plus any official year
    /// outside that range.
    pub async fn calendar_years(&self, from: i32, to: i32) -> AppResult<Vec<YearInfo>> {
        let snap = self.store.calendar_snapshot().await?;
        let cal = self.calendar.calendar_of(&snap);
        let mut years: BTreeSet<i32> = (from..=to).collect();
        years.extend(snap.years.iter().map(|y| y.year));
        Ok(years
            .into_iter()
            .map(|year| YearInfo {
                year,
                status: cal.year_status(year),
                loaded: snap.years.iter().find(|y| y.year == year).cloned(),
            })
            .collect())
    }

    /// The operator's warning, if any: from 1 November, next year's schedule
    /// should be official (the State Council publishes it in autumn).
    pub fn calendar_warning(&self, today: NaiveDate) -> Option<String> {
        let next = today.year() + 1;
        let cal = self.calendar();
        if today.month() < 11 || cal.year_status(next) == YearStatus::Official {
            return None;
        }
        Some(format!(
            "the official holiday schedule for {next} is not loaded: deadlines that reach into {next} are \
             provisional (weekends and statutory holidays only, no 调休); load the State Council's notice with \
             `gongshi calendar load FILE` (provisional years end with {})",
            cal.provisional_through()
        ))
    }
}

/// The actor of a recomputation: the calendar load, and who made it.
fn calendar_actor(load_id: i64, loaded_by: &str) -> Actor {
    Actor::system(&format!("calendar load {load_id} by {loaded_by}"))
}

/// Stored time, for callers formatting a load's moment.
pub fn loaded_at_text(at: Micros) -> String {
    crate::domain::clock::from_micros(at)
        .with_timezone(&crate::domain::clock::cst())
        .format("%Y-%m-%d %H:%M:%S%:z")
        .to_string()
}
