//! SQL of the calendar tables, shared by both backends like `sql.rs`.

use super::calendar::CalendarDayRow;
use super::sql::IntoRow;
use super::{Result, StoreError};
use crate::domain::calendar::DayKind;

#[derive(sqlx::FromRow)]
pub(crate) struct RawCalendarDay {
    year: i32,
    day: String,
    kind: String,
    name: String,
}

impl IntoRow for RawCalendarDay {
    type Row = CalendarDayRow;
    fn into_row(self) -> Result<CalendarDayRow> {
        Ok(CalendarDayRow {
            year: self.year,
            date: self
                .day
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("calendar day {:?}: {e}", self.day)))?,
            kind: DayKind::parse(&self.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("calendar day kind {:?}", self.kind)))?,
            name: self.name,
        })
    }
}

/// Implements [`super::CalendarStore`] and [`super::CalendarTx`] for one backend.
/// `for_share` / `for_update`: the row-lock suffixes (empty on SQLite, whose
/// write transactions already run one at a time).
macro_rules! sql_calendar {
    (store = $store:ident, tx = $tx:ident, db = $db:ty, for_share = $fs:literal, for_update = $fu:literal $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::CalendarStore for $store {
            async fn calendar_version(&self) -> $crate::store::Result<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT version FROM calendar_state WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(classify)
            }

            async fn calendar_snapshot(&self) -> $crate::store::Result<$crate::store::CalendarSnapshot> {
                // One read transaction, so the version and the rows agree.
                let mut tx = self.pool.begin().await.map_err(classify)?;
                let snap = calendar_snapshot_on!(&mut *tx, $db);
                tx.commit().await.map_err(classify)?;
                Ok(snap)
            }

            async fn list_calendar_loads(
                &self,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::CalendarLoadRow>> {
                sqlx::query_as::<$db, $crate::store::CalendarLoadRow>(
                    "SELECT id, at, loaded_by, source, sha256, years, replaced, version \
                     FROM calendar_loads ORDER BY id DESC LIMIT CAST($1 AS BIGINT)",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(classify)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::CalendarTx for $tx {
            async fn calendar_version_shared(&mut self) -> $crate::store::Result<i64> {
                sqlx::query_scalar::<$db, i64>(concat!("SELECT version FROM calendar_state WHERE id = 1 ", $fs))
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err(classify)
            }

            async fn lock_calendar(&mut self) -> $crate::store::Result<i64> {
                sqlx::query_scalar::<$db, i64>(concat!("SELECT version FROM calendar_state WHERE id = 1 ", $fu))
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err(classify)
            }

            async fn calendar_snapshot_in_tx(&mut self) -> $crate::store::Result<$crate::store::CalendarSnapshot> {
                Ok(calendar_snapshot_on!(&mut *self.tx, $db))
            }

            async fn replace_calendar_year(
                &mut self,
                year: &$crate::store::CalendarYearRow,
                days: &[$crate::store::CalendarDayRow],
            ) -> $crate::store::Result<()> {
                sqlx::query("DELETE FROM calendar_days WHERE year = $1")
                    .bind(year.year)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(classify)?;
                sqlx::query(
                    "INSERT INTO calendar_years (year, loaded_at, loaded_by, source, sha256) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (year) DO UPDATE SET loaded_at = excluded.loaded_at, loaded_by = excluded.loaded_by, \
                       source = excluded.source, sha256 = excluded.sha256",
                )
                .bind(year.year)
                .bind(year.loaded_at)
                .bind(&year.loaded_by)
                .bind(&year.source)
                .bind(&year.sha256)
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                for d in days {
                    sqlx::query("INSERT INTO calendar_days (year, day, kind, name) VALUES ($1, $2, $3, $4)")
                        .bind(d.year)
                        .bind(d.date.to_string())
                        .bind(d.kind.as_str())
                        .bind(&d.name)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(classify)?;
                }
                Ok(())
            }

            async fn record_calendar_load(&mut self, load: &$crate::store::CalendarLoadRow) -> $crate::store::Result<i64> {
                let id = sqlx::query_scalar::<$db, i64>(
                    "INSERT INTO calendar_loads (at, loaded_by, source, sha256, years, replaced, version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(load.at)
                .bind(&load.loaded_by)
                .bind(&load.source)
                .bind(&load.sha256)
                .bind(&load.years)
                .bind(&load.replaced)
                .bind(load.version)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(classify)?;
                sqlx::query("UPDATE calendar_state SET version = $1 WHERE id = 1")
                    .bind(load.version)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(classify)?;
                Ok(id)
            }
        }
    };
}

/// Reads version, years and days on one connection (an expression macro so
/// that it works on a pool transaction and a write transaction alike).
macro_rules! calendar_snapshot_on {
    ($conn:expr, $db:ty) => {{
        let version = sqlx::query_scalar::<$db, i64>("SELECT version FROM calendar_state WHERE id = 1")
            .fetch_one($conn)
            .await
            .map_err(classify)?;
        let years = sqlx::query_as::<$db, $crate::store::CalendarYearRow>(
            "SELECT year, loaded_at, loaded_by, source, sha256 FROM calendar_years ORDER BY year",
        )
        .fetch_all($conn)
        .await
        .map_err(classify)?;
        let days =
            sqlx::query_as::<$db, RawCalendarDay>("SELECT year, day, kind, name FROM calendar_days ORDER BY year, day")
                .fetch_all($conn)
                .await
                .into_rows()?;
        $crate::store::CalendarSnapshot { version, years, days }
    }};
}

pub(crate) use {calendar_snapshot_on, sql_calendar};
