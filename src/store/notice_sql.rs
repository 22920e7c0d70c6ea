//! SQL of notice bundles, shared by both backends like `sql.rs`.

use super::notice::{BundleRow, PdfRow};
use super::sql::{IntoRow, json};
use super::{Result, StoreError};
use crate::domain::notice::{DeliveryState, DocumentKind};

#[derive(sqlx::FromRow)]
pub(crate) struct RawBundle {
    decision_id: String,
    version: i64,
    context_sha256: String,
    party_credit_code: String,
    documents: String,
    rendered_at: i64,
    delivery_state: String,
    delivery: Option<String>,
    row_version: i64,
    update_time: i64,
}

impl IntoRow for RawBundle {
    type Row = BundleRow;
    fn into_row(self) -> Result<BundleRow> {
        Ok(BundleRow {
            documents: json("bundle documents", &self.documents)?,
            delivery_state: DeliveryState::parse(&self.delivery_state)
                .ok_or_else(|| StoreError::Corrupt(format!("delivery state {:?}", self.delivery_state)))?,
            delivery: self
                .delivery
                .as_deref()
                .map(|d| json("bundle delivery", d))
                .transpose()?,
            decision_id: self.decision_id,
            version: self.version,
            context_sha256: self.context_sha256,
            party_credit_code: self.party_credit_code,
            rendered_at: self.rendered_at,
            row_version: self.row_version,
            update_time: self.update_time,
            pdfs: Vec::new(),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawPdf {
    decision_id: String,
    version: i64,
    kind: String,
    sha256: String,
    page_count: i64,
    size_bytes: i64,
    renderer: String,
    rendered_at: i64,
}

impl IntoRow for RawPdf {
    type Row = PdfRow;
    fn into_row(self) -> Result<PdfRow> {
        Ok(PdfRow {
            kind: DocumentKind::parse(&self.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("document kind {:?}", self.kind)))?,
            decision_id: self.decision_id,
            version: self.version,
            sha256: self.sha256,
            page_count: self.page_count,
            size_bytes: self.size_bytes,
            renderer: self.renderer,
            rendered_at: self.rendered_at,
        })
    }
}

/// Gives each bundle its stored PDFs.
pub(crate) fn attach_pdfs(bundles: &mut [BundleRow], pdfs: Vec<PdfRow>) {
    for pdf in pdfs {
        if let Some(b) = bundles
            .iter_mut()
            .find(|b| b.decision_id == pdf.decision_id && b.version == pdf.version)
        {
            b.pdfs.push(pdf);
        }
    }
    for b in bundles {
        b.pdfs.sort_by_key(|p| p.kind);
    }
}

/// The columns a [`RawPdf`] reads `FROM notice_pdfs p`, as a literal for
/// `concat!`.
macro_rules! pdf_columns {
    () => {
        "p.decision_id, p.version, p.kind, p.sha256, p.page_count, p.size_bytes, p.renderer, p.rendered_at"
    };
}
pub(crate) use pdf_columns;

/// The records of one bundle version's PDFs (`$1` decision, `$2` version).
pub(crate) const PDFS_OF_VERSION_SQL: &str = concat!(
    "SELECT ",
    pdf_columns!(),
    " FROM notice_pdfs p WHERE p.decision_id = $1 AND p.version = $2"
);

/// `$row` (a [`BundleRow`] just read) with its version's PDF records, read
/// on `$conn`: the same for a read of the pool and one in a transaction.
macro_rules! with_version_pdfs {
    ($db:ty, $row:expr, $conn:expr) => {{
        let mut row: $crate::store::BundleRow = $row;
        let pdfs = sqlx::query_as::<$db, RawPdf>($crate::store::notice_sql::PDFS_OF_VERSION_SQL)
            .bind(&row.decision_id)
            .bind(row.version)
            .fetch_all($conn)
            .await
            .into_rows()?;
        attach_pdfs(std::slice::from_mut(&mut row), pdfs);
        row
    }};
}
pub(crate) use with_version_pdfs;

/// A bundle's delivery record as stored (JSON), if it has one.
pub(crate) fn delivery_json(row: &BundleRow) -> Result<Option<String>> {
    row.delivery.as_ref().map(super::sql::to_json).transpose()
}

/// A statement reading [`RawBundle`]s: the columns, then `$rest` (`WHERE …`).
macro_rules! bundle_sql {
    ($($rest:expr),+ $(,)?) => {
        concat!(
            "SELECT decision_id, version, context_sha256, party_credit_code, documents, rendered_at, \
             delivery_state, delivery, row_version, update_time FROM notice_bundles ",
            $($rest),+
        )
    };
}
pub(crate) use bundle_sql;

/// Binds what a bundle's `INSERT` and its delivery's `UPDATE` both write,
/// in this order: `$1` decision_id and `$2` version (the key), `$3`
/// delivery_state, `$4` delivery, `$5` row_version, `$6` update_time.
macro_rules! bind_delivery {
    ($query:expr, $row:expr) => {
        $query
            .bind(&$row.decision_id)
            .bind($row.version)
            .bind($row.delivery_state.as_str())
            .bind($crate::store::notice_sql::delivery_json($row)?)
            .bind($row.row_version)
            .bind($row.update_time)
    };
}
pub(crate) use bind_delivery;

/// Implements [`super::NoticeStore`] and [`super::NoticeTx`] for one backend.
macro_rules! sql_notice {
    (store = $store:ident, tx = $tx:ident, db = $db:ty, for_update = $fu:literal $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::NoticeStore for $store {
            async fn get_bundle(
                &self,
                decision_id: &str,
                version: Option<i64>,
            ) -> $crate::store::Result<Option<$crate::store::BundleRow>> {
                let Some(row) = sqlx::query_as::<$db, RawBundle>($crate::store::notice_sql::bundle_sql!(
                    "WHERE decision_id = $1 AND (($2 = 0 AND is_latest) OR version = $2)"
                ))
                .bind(decision_id)
                .bind(version.unwrap_or(0))
                .fetch_optional(&mut *self.conn().await?)
                .await
                .into_rows()?
                else {
                    return Ok(None);
                };
                Ok(Some($crate::store::notice_sql::with_version_pdfs!(
                    $db, row, &self.pool
                )))
            }

            async fn list_bundles(
                &self,
                f: &$crate::store::BundleFilter,
                after: &str,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::BundleRow>> {
                let mut rows: Vec<$crate::store::BundleRow> =
                    sqlx::query_as::<$db, RawBundle>($crate::store::notice_sql::bundle_sql!(
                        "WHERE is_latest AND decision_id > $1 AND ($2 = '' OR delivery_state = $2) \
                       AND ($3 = '' OR party_credit_code = $3) ORDER BY decision_id LIMIT CAST($4 AS BIGINT)",
                    ))
                    .bind(after)
                    .bind(f.delivery_state.map(|s| s.as_str()).unwrap_or(""))
                    .bind(&f.party_credit_code)
                    .bind(limit)
                    .fetch_all(&mut *self.conn().await?)
                    .await
                    .into_rows()?;
                if let Some(last) = rows.last().map(|r| r.decision_id.clone()) {
                    // The PDFs of exactly this page's bundles: the same filter over the same key range.
                    let pdfs = sqlx::query_as::<$db, RawPdf>(concat!(
                        "SELECT ",
                        $crate::store::notice_sql::pdf_columns!(),
                        " FROM notice_pdfs p JOIN notice_bundles b \
                         ON b.decision_id = p.decision_id AND b.version = p.version \
                         WHERE b.is_latest AND b.decision_id > $1 AND b.decision_id <= $2 \
                           AND ($3 = '' OR b.delivery_state = $3) AND ($4 = '' OR b.party_credit_code = $4)"
                    ))
                    .bind(after)
                    .bind(&last)
                    .bind(f.delivery_state.map(|s| s.as_str()).unwrap_or(""))
                    .bind(&f.party_credit_code)
                    .fetch_all(&self.pool)
                    .await
                    .into_rows()?;
                    attach_pdfs(&mut rows, pdfs);
                }
                Ok(rows)
            }

            async fn get_pdf(
                &self,
                decision_id: &str,
                version: i64,
                kind: $crate::domain::notice::DocumentKind,
            ) -> $crate::store::Result<Option<($crate::store::PdfRow, Vec<u8>)>> {
                #[derive(sqlx::FromRow)]
                struct WithContent {
                    #[sqlx(flatten)]
                    pdf: RawPdf,
                    content: Vec<u8>,
                }
                impl IntoRow for WithContent {
                    type Row = ($crate::store::PdfRow, Vec<u8>);
                    fn into_row(self) -> $crate::store::Result<Self::Row> {
                        Ok((self.pdf.into_row()?, self.content))
                    }
                }
                sqlx::query_as::<$db, WithContent>(concat!(
                    "SELECT ",
                    $crate::store::notice_sql::pdf_columns!(),
                    ", p.content FROM notice_pdfs p \
                     WHERE p.decision_id = $1 AND p.version = $2 AND p.kind = $3"
                ))
                .bind(decision_id)
                .bind(version)
                .bind(kind.as_str())
                .fetch_optional(&self.pool)
                .await
                .into_rows()
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::NoticeTx for $tx {
            async fn latest_bundle_for_update(
                &mut self,
                decision_id: &str,
            ) -> $crate::store::Result<Option<$crate::store::BundleRow>> {
                let Some(row) = sqlx::query_as::<$db, RawBundle>($crate::store::notice_sql::bundle_sql!(
                    "WHERE decision_id = $1 AND is_latest ",
                    $fu
                ))
                .bind(decision_id)
                .fetch_optional(&mut *self.tx)
                .await
                .into_rows()?
                else {
                    return Ok(None);
                };
                Ok(Some($crate::store::notice_sql::with_version_pdfs!(
                    $db,
                    row,
                    &mut *self.tx
                )))
            }

            async fn insert_bundle(&mut self, row: &$crate::store::BundleRow) -> $crate::store::Result<()> {
                sqlx::query("UPDATE notice_bundles SET is_latest = FALSE WHERE decision_id = $1 AND is_latest")
                    .bind(&row.decision_id)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(classify)?;
                $crate::store::notice_sql::bind_delivery!(
                    sqlx::query(
                        "INSERT INTO notice_bundles (decision_id, version, delivery_state, delivery, row_version, \
                           update_time, is_latest, context_sha256, party_credit_code, documents, rendered_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $8, $9, $10)",
                    ),
                    row
                )
                .bind(&row.context_sha256)
                .bind(&row.party_credit_code)
                .bind($crate::store::sql::to_json(&row.documents)?)
                .bind(row.rendered_at)
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn update_bundle_delivery(&mut self, row: &$crate::store::BundleRow) -> $crate::store::Result<()> {
                $crate::store::notice_sql::bind_delivery!(
                    sqlx::query(
                        "UPDATE notice_bundles SET delivery_state = $3, delivery = $4, row_version = $5, update_time = $6 \
                         WHERE decision_id = $1 AND version = $2",
                    ),
                    row
                )
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn insert_pdf(&mut self, row: &$crate::store::PdfRow, content: &[u8]) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO notice_pdfs (decision_id, version, kind, sha256, page_count, size_bytes, renderer, \
                       content, rendered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&row.decision_id)
                .bind(row.version)
                .bind(row.kind.as_str())
                .bind(&row.sha256)
                .bind(row.page_count)
                .bind(row.size_bytes)
                .bind(&row.renderer)
                .bind(content)
                .bind(row.rendered_at)
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                Ok(())
            }
        }
    };
}

pub(crate) use sql_notice;
