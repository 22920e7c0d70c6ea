//! SQL of the repair tables, shared by both backends like `sql.rs`.

use super::repair::{NewRepairEvent, RepairEventRow, RepairRow};
use super::sql::{IntoRow, json, to_json};
use super::{Result, StoreError};
use crate::domain::repair::RepairState;

/// `SELECT` of the columns a [`RawRepair`] reads `FROM repair_applications`, as a
/// literal for `concat!`.
macro_rules! select_repairs {
    () => {
        "SELECT id, disclosure_id, applicant_code, state, receipt_code, accept_due_on, decide_due_on, \
         overall_due_on, doc, version, create_time, update_time FROM repair_applications"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawRepair {
    id: String,
    disclosure_id: String,
    applicant_code: String,
    state: String,
    receipt_code: String,
    accept_due_on: Option<String>,
    decide_due_on: Option<String>,
    overall_due_on: Option<String>,
    doc: String,
    version: i64,
    create_time: i64,
    update_time: i64,
}

fn date(what: &str, s: Option<String>) -> Result<Option<chrono::NaiveDate>> {
    s.filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|e| StoreError::Corrupt(format!("{what}: {e}"))))
        .transpose()
}

fn state(s: &str) -> Result<RepairState> {
    RepairState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("repair state {s:?}")))
}

impl IntoRow for RawRepair {
    type Row = RepairRow;
    fn into_row(self) -> Result<RepairRow> {
        Ok(RepairRow {
            state: state(&self.state)?,
            accept_due_on: date("accept_due_on", self.accept_due_on)?,
            decide_due_on: date("decide_due_on", self.decide_due_on)?,
            overall_due_on: date("overall_due_on", self.overall_due_on)?,
            doc: json("repair doc", &self.doc)?,
            id: self.id,
            disclosure_id: self.disclosure_id,
            applicant_code: self.applicant_code,
            receipt_code: self.receipt_code,
            version: self.version,
            create_time: self.create_time,
            update_time: self.update_time,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawRepairEvent {
    id: i64,
    application_id: String,
    actor: String,
    at: i64,
    from_state: Option<String>,
    to_state: String,
    reason: String,
}

impl IntoRow for RawRepairEvent {
    type Row = RepairEventRow;
    fn into_row(self) -> Result<RepairEventRow> {
        Ok(RepairEventRow {
            id: self.id,
            event: NewRepairEvent {
                actor: json("repair event actor", &self.actor)?,
                from: self.from_state.as_deref().map(state).transpose()?,
                to: state(&self.to_state)?,
                application_id: self.application_id,
                at: self.at,
                reason: self.reason,
            },
        })
    }
}

pub(crate) fn opt_date(d: Option<chrono::NaiveDate>) -> Option<String> {
    d.map(|d| d.to_string())
}

pub(crate) fn encode_doc(row: &RepairRow) -> Result<String> {
    to_json(&row.doc)
}

/// Binds what an application's `INSERT` and `UPDATE` both write, in this
/// order: `$1` id, `$2` state, `$3` open_disclosure_id (the disclosure while
/// the application is open, so that only one can be), `$4` accept_due_on,
/// `$5` decide_due_on, `$6` overall_due_on, `$7` doc, `$8` version, `$9`
/// update_time.
macro_rules! bind_repair {
    ($query:expr, $row:expr) => {
        $query
            .bind(&$row.id)
            .bind($row.state.as_str())
            .bind($row.state.is_open().then_some(&$row.disclosure_id))
            .bind(opt_date($row.accept_due_on))
            .bind(opt_date($row.decide_due_on))
            .bind(opt_date($row.overall_due_on))
            .bind(encode_doc($row)?)
            .bind($row.version)
            .bind($row.update_time)
    };
}

/// Implements [`super::RepairStore`] and [`super::RepairTx`] for one backend.
macro_rules! sql_repair {
    (store = $store:ident, tx = $tx:ident, db = $db:ty, for_update = $fu:literal $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::RepairStore for $store {
            async fn get_repair(&self, id: &str) -> $crate::store::Result<Option<$crate::store::RepairRow>> {
                sqlx::query_as::<$db, RawRepair>(
                    concat!($crate::store::repair_sql::select_repairs!(), " WHERE id = $1"),
                )
                .bind(id)
                .fetch_optional(&mut *self.conn().await?)
                .await
                .into_rows()
            }

            async fn list_repairs(
                &self,
                f: &$crate::store::RepairFilter,
                after_id: &str,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::RepairRow>> {
                sqlx::query_as::<$db, RawRepair>(
                    concat!($crate::store::repair_sql::select_repairs!(), " \
                     WHERE id > $1 AND ($2 = '' OR state = $2) AND ($3 = '' OR applicant_code = $3) \
                       AND ($4 = '' OR (state = 'SUBMITTED' AND (accept_due_on < $4 OR overall_due_on < $4)) \
                                    OR (state = 'ACCEPTED' AND (decide_due_on < $4 OR overall_due_on < $4))) \
                     ORDER BY id LIMIT CAST($5 AS BIGINT)"),
                )
                .bind(after_id)
                .bind(f.state.map(|s| s.as_str()).unwrap_or(""))
                .bind(&f.applicant_code)
                .bind(f.overdue_on.map(|d| d.to_string()).unwrap_or_default())
                .bind(limit)
                .fetch_all(&mut *self.conn().await?)
                .await
                .into_rows()
            }

            async fn list_repair_events(
                &self,
                application_id: &str,
                after_id: i64,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::RepairEventRow>> {
                sqlx::query_as::<$db, RawRepairEvent>(
                    "SELECT id, application_id, actor, at, from_state, to_state, reason FROM repair_events \
                     WHERE application_id = $1 AND id > $2 ORDER BY id LIMIT CAST($3 AS BIGINT)",
                )
                .bind(application_id)
                .bind(after_id)
                .bind(limit)
                .fetch_all(&mut *self.conn().await?)
                .await
                .into_rows()
            }

            async fn lookup_repair(
                &self,
                receipt_code: &str,
                applicant_code: &str,
            ) -> $crate::store::Result<Option<$crate::store::RepairRow>> {
                sqlx::query_as::<$db, RawRepair>(
                    concat!($crate::store::repair_sql::select_repairs!(), " \
                     WHERE receipt_code = $1 AND applicant_code = $2"),
                )
                .bind(receipt_code)
                .bind(applicant_code)
                .fetch_optional(&mut *self.conn().await?)
                .await
                .into_rows()
            }

            async fn open_repair(&self, disclosure_id: &str) -> $crate::store::Result<Option<String>> {
                sqlx::query_scalar::<$db, String>("SELECT id FROM repair_applications WHERE open_disclosure_id = $1")
                    .bind(disclosure_id)
                    .fetch_optional(&mut *self.conn().await?)
                    .await
                    .map_err(classify)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::RepairTx for $tx {
            async fn insert_repair(
                &mut self,
                row: &$crate::store::RepairRow,
                request_key: Option<&str>,
            ) -> $crate::store::Result<bool> {
                let r = $crate::store::repair_sql::bind_repair!(
                    sqlx::query(
                        "INSERT INTO repair_applications (id, state, open_disclosure_id, accept_due_on, decide_due_on, \
                           overall_due_on, doc, version, update_time, disclosure_id, applicant_code, receipt_code, \
                           request_key, create_time) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
                    ),
                    row
                )
                .bind(&row.disclosure_id)
                .bind(&row.applicant_code)
                .bind(&row.receipt_code)
                .bind(request_key)
                .bind(row.create_time)
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                Ok(r.rows_affected() == 1)
            }

            async fn repair_by_request_key(&mut self, key: &str) -> $crate::store::Result<Option<$crate::store::RepairRow>> {
                sqlx::query_as::<$db, RawRepair>(
                    concat!($crate::store::repair_sql::select_repairs!(), " WHERE request_key = $1"),
                )
                .bind(key)
                .fetch_optional(&mut *self.tx)
                .await
                .into_rows()
            }

            async fn repair_for_update(&mut self, id: &str) -> $crate::store::Result<Option<$crate::store::RepairRow>> {
                sqlx::query_as::<$db, RawRepair>(concat!(
                    $crate::store::repair_sql::select_repairs!(),
                    " WHERE id = $1 ",
                    $fu
                ))
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await
                .into_rows()
            }

            async fn open_repair_in_tx(&mut self, disclosure_id: &str) -> $crate::store::Result<Option<String>> {
                sqlx::query_scalar::<$db, String>("SELECT id FROM repair_applications WHERE open_disclosure_id = $1")
                    .bind(disclosure_id)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(classify)
            }

            async fn update_repair(&mut self, row: &$crate::store::RepairRow) -> $crate::store::Result<()> {
                $crate::store::repair_sql::bind_repair!(
                    sqlx::query(
                        "UPDATE repair_applications SET state = $2, open_disclosure_id = $3, accept_due_on = $4, \
                           decide_due_on = $5, overall_due_on = $6, doc = $7, version = $8, update_time = $9 WHERE id = $1",
                    ),
                    row
                )
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn insert_material(
                &mut self,
                application_id: &str,
                seq: i64,
                m: &$crate::domain::repair::MaterialMeta,
                content: &[u8],
                at: i64,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO repair_materials (application_id, seq, kind, file_name, media_type, sha256, size_bytes, content, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(application_id)
                .bind(seq)
                .bind(m.kind.as_str())
                .bind(&m.file_name)
                .bind(&m.media_type)
                .bind(&m.sha256)
                .bind(m.size_bytes)
                .bind(content)
                .bind(at)
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn insert_commitment(
                &mut self,
                application_id: &str,
                c: &$crate::domain::repair::Commitment,
                at: i64,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO credit_commitments (code, application_id, committer_name, committer_code, commitment_type, \
                       reason, content, liability, made_on, signer, fulfillment_status, created_at) \
                     VALUES ($1, $2, $3, $4, '信用修复型', $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&c.code)
                .bind(application_id)
                .bind(&c.committer_name)
                .bind(&c.committer_code)
                .bind(&c.reason)
                .bind(&c.content)
                .bind(&c.liability)
                .bind(c.made_on.to_string())
                .bind(&c.signer)
                .bind(c.fulfillment_status.as_str())
                .bind(at)
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn append_repair_event(&mut self, ev: &$crate::store::NewRepairEvent) -> $crate::store::Result<i64> {
                sqlx::query_scalar::<$db, i64>(
                    "INSERT INTO repair_events (application_id, actor, at, from_state, to_state, reason) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(&ev.application_id)
                .bind(to_json(&ev.actor)?)
                .bind(ev.at)
                .bind(ev.from.map(|s| s.as_str()))
                .bind(ev.to.as_str())
                .bind(&ev.reason)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(classify)
            }
        }
    };
}

pub(crate) use {bind_repair, select_repairs, sql_repair};
