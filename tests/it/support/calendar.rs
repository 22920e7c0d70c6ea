//! A calendar for runs on the real clock near the end of the official data
//! (`data/cn-holidays.csv`, which ends with 2026): 10-working-day deadlines
//! counted from late December would be refused with CALENDAR_NOT_LOADED.
//! Shared by the crash test and the load generator (`#[path]`).

use std::path::PathBuf;

use chrono::Datelike;
use gongshi::domain::clock::{Clock, SystemClock};

/// Writes the official calendar plus one row (1 January, always a holiday)
/// for each later year up to next year, so those years count as
/// weekends-only, to a temp file named after `purpose` and this process, and
/// returns its path. FOR TESTS AND BENCHMARKS ONLY: production never uses it.
pub fn extended_calendar(purpose: &str) -> PathBuf {
    let official = include_str!("../../../data/cn-holidays.csv");
    let last_official = official
        .lines()
        .filter_map(|l| l.get(..4)?.parse::<i32>().ok())
        .max()
        .unwrap_or(2026);
    let mut text = official.trim_end().to_string();
    for year in (last_official + 1)..=SystemClock.today_cst().year() + 1 {
        text.push_str(&format!("\n{year}-01-01,holiday,元旦 ({purpose} only)"));
    }
    text.push('\n');
    let path = std::env::temp_dir().join(format!("gongshi-{purpose}-calendar-{}.csv", std::process::id()));
    std::fs::write(&path, text).expect("write the extended calendar");
    path
}
