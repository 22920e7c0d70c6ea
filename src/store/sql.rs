//! The SQL both backends share. Written once as a macro and instantiated for
//! PostgreSQL and SQLite with the few dialect differences as parameters, so
//! the two implementations cannot drift apart.

use chrono::NaiveDate;

use super::{ChangeView, DecisionRow, DisclosureRow, EventRow, KeyRow, Result, StoreError};
use crate::domain::lifecycle::{ChangeKind, DecisionState, DisclosureState, EventKind, Role, TerminationReason};
use crate::domain::record::PublicRecord;

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(what, e))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(format!("encoding JSON: {e}")))
}

pub(crate) fn parse_enum<T>(what: &str, s: &str, f: fn(&str) -> Option<T>) -> Result<T> {
    f(s).ok_or_else(|| corrupt(what, format!("unknown value {s:?}")))
}

pub(crate) fn date_str(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// A row as sqlx reads it (`Raw*`: text and integers), turned into the
/// store's typed row; fails with [`StoreError::Corrupt`] on a stored value
/// the code does not know.
pub(crate) trait IntoRow {
    /// The typed row.
    type Row;
    /// Converts.
    fn into_row(self) -> Result<Self::Row>;
}

/// What `fetch_all` or `fetch_optional` of raw rows answers, made the
/// store's answer in one step: the error classified ([`super::classify`]),
/// each row converted ([`IntoRow`]).
pub(crate) trait IntoRows {
    /// `Vec` or `Option` of typed rows.
    type Rows;
    /// Classifies and converts.
    fn into_rows(self) -> Result<Self::Rows>;
}

impl<R: IntoRow> IntoRows for std::result::Result<Vec<R>, sqlx::Error> {
    type Rows = Vec<R::Row>;
    fn into_rows(self) -> Result<Self::Rows> {
        self.map_err(super::classify)?.into_iter().map(R::into_row).collect()
    }
}

impl<R: IntoRow> IntoRows for std::result::Result<Option<R>, sqlx::Error> {
    type Rows = Option<R::Row>;
    fn into_rows(self) -> Result<Self::Rows> {
        self.map_err(super::classify)?.map(R::into_row).transpose()
    }
}

/// `SELECT` of the columns a [`RawDecision`] reads `FROM penalty_decisions`, as a
/// literal for `concat!`.
macro_rules! select_decisions {
    () => {
        "SELECT id, state, disclosure_id, version, doc, meta, create_time, update_time FROM penalty_decisions"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawDecision {
    id: String,
    state: String,
    disclosure_id: Option<String>,
    version: i64,
    doc: String,
    meta: String,
    create_time: i64,
    update_time: i64,
}

impl IntoRow for RawDecision {
    type Row = DecisionRow;
    fn into_row(self) -> Result<DecisionRow> {
        Ok(DecisionRow {
            state: parse_enum("decision state", &self.state, DecisionState::parse)?,
            doc: json("decision doc", &self.doc)?,
            meta: json("decision meta", &self.meta)?,
            id: self.id,
            disclosure_id: self.disclosure_id,
            version: self.version,
            create_time: self.create_time,
            update_time: self.update_time,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawDisclosure {
    id: String,
    decision_id: String,
    state: String,
    version: i64,
    content: String,
    content_sha256: String,
    repair_pending: bool,
    published_at: i64,
    published_at_known: bool,
    terminated_at: Option<i64>,
    termination_reason: Option<String>,
    update_time: i64,
}

impl IntoRow for RawDisclosure {
    type Row = DisclosureRow;
    fn into_row(self) -> Result<DisclosureRow> {
        Ok(DisclosureRow {
            state: parse_enum("disclosure state", &self.state, DisclosureState::parse)?,
            content: json("disclosure content", &self.content)?,
            termination_reason: match self.termination_reason.as_deref() {
                Some(r) => Some(parse_enum("termination reason", r, TerminationReason::parse)?),
                None => None,
            },
            id: self.id,
            decision_id: self.decision_id,
            version: self.version,
            content_sha256: self.content_sha256,
            repair_pending: self.repair_pending,
            published_at: self.published_at_known.then_some(self.published_at),
            terminated_at: self.terminated_at,
            update_time: self.update_time,
        })
    }
}

/// The columns every read of a feed change has.
#[derive(sqlx::FromRow)]
pub(crate) struct RawChangeHead {
    sequence: i64,
    disclosure_id: String,
    kind: String,
    reason: Option<String>,
    version: i64,
    content_sha256: String,
    public_reason: Option<String>,
    effective_time: i64,
}

impl RawChangeHead {
    fn kind_and_reason(&self) -> Result<(ChangeKind, Option<TerminationReason>)> {
        let kind = parse_enum("change kind", &self.kind, ChangeKind::parse)?;
        let reason = match self.reason.as_deref() {
            Some(r) => Some(parse_enum("termination reason", r, TerminationReason::parse)?),
            None => None,
        };
        Ok((kind, reason))
    }

    /// The change with `record` (a `Disclosure` encoding) as its record.
    fn into_encoded(self, record: Option<bytes::Bytes>) -> Result<crate::store::EncodedChange> {
        let (kind, reason) = self.kind_and_reason()?;
        Ok(crate::store::EncodedChange {
            kind,
            reason,
            record,
            sequence: self.sequence,
            disclosure_id: self.disclosure_id,
            version: self.version,
            content_sha256: self.content_sha256,
            public_reason: self.public_reason,
            effective_time: self.effective_time,
        })
    }
}

/// A change as served decoded ([`ChangeView`]): read by
/// [`change_view_sql!`].
#[derive(sqlx::FromRow)]
pub(crate) struct RawChange {
    #[sqlx(flatten)]
    head: RawChangeHead,
    decision_id: String,
    repair_pending: bool,
    published_at: i64,
    published_at_known: bool,
    content: Option<String>,
}

/// A statement reading [`RawChange`]s: the columns and joins, then `$rest`
/// (`WHERE …`, `ORDER BY …`). Content is joined only while the disclosure is
/// active: once terminated, no change of it carries its content again.
macro_rules! change_view_sql {
    ($rest:literal) => {
        concat!(
            "SELECT c.sequence, c.disclosure_id, d.decision_id, c.kind, c.reason, c.version, \
                    c.content_sha256, c.public_reason, c.effective_time, d.repair_pending, d.published_at, d.published_at_known, \
                    CASE WHEN d.state = 'ACTIVE' AND c.kind <> 'TERMINATED' THEN v.content END AS content \
             FROM disclosure_changes c \
             JOIN disclosures d ON d.id = c.disclosure_id \
             LEFT JOIN disclosure_versions v ON v.disclosure_id = c.disclosure_id AND v.version = c.version ",
            $rest
        )
    };
}
pub(crate) use change_view_sql;

/// The text of [`FEED_PAGE_SQL`], for statements built around it.
macro_rules! feed_page_sql {
    () => {
        "SELECT c.sequence, c.disclosure_id, c.kind, c.reason, c.version, c.content_sha256, \
            c.public_reason, c.effective_time, \
            CASE WHEN d.state = 'ACTIVE' AND c.kind <> 'TERMINATED' AND c.version = d.version THEN d.encoded END AS encoded, \
            CASE WHEN d.state = 'ACTIVE' AND c.kind <> 'TERMINATED' AND (c.version <> d.version OR d.encoded IS NULL) \
                 THEN 1 ELSE 0 END AS needs_content \
     FROM disclosure_changes c \
     JOIN disclosures d ON d.id = c.disclosure_id \
     WHERE c.sequence > $1 ORDER BY c.sequence LIMIT CAST($2 AS BIGINT)"
    };
}

/// The feed's page query (issue 18): changes after `$1`, at most `$2`, each
/// with its record's stored encoding when the change is of the current
/// version of an active disclosure. Only the change's columns and one join:
/// a change that needs its version's content instead (an older version, or a
/// disclosure without a stored encoding) is only flagged (`needs_content`),
/// and a page with one is read again whole (`FEED_PAGE_FULL_SQL`).
pub const FEED_PAGE_SQL: &str = feed_page_sql!();

/// [`FEED_PAGE_SQL`]'s page read as one aggregated row (SQLite; see
/// `split_feed_page`): the rows, how many need their version's content,
/// each row's short columns and lengths (`sequence,version,effective_time,
/// kind,reason,content_sha256,id bytes,public reason bytes or -1,encoding
/// bytes or -1`, rows joined by `;`), the ids and public reasons
/// concatenated, and the encodings concatenated.
pub const FEED_PAGE_ONE_ROW_SQL: &str = concat!(
    "SELECT COUNT(*), COALESCE(SUM(needs_content), 0), \
            group_concat(sequence || ',' || version || ',' || effective_time || ',' || kind || ',' || \
                COALESCE(reason, '') || ',' || content_sha256 || ',' || length(CAST(disclosure_id AS BLOB)) || ',' || \
                COALESCE(length(CAST(public_reason AS BLOB)), -1) || ',' || COALESCE(length(encoded), -1), ';'), \
            CAST(group_concat(disclosure_id || COALESCE(public_reason, ''), '') AS BLOB), \
            CAST(group_concat(encoded, '') AS BLOB) \
     FROM (",
    feed_page_sql!(),
    ")"
);

/// The feed's page query with what an older version's record is built from
/// (its content and the disclosure's columns), for a page with such a change.
/// As the decoded path: content only while the disclosure is active.
pub(crate) const FEED_PAGE_FULL_SQL: &str = "SELECT c.sequence, c.disclosure_id, d.decision_id, c.kind, c.reason, c.version, \
            c.content_sha256, c.public_reason, c.effective_time, d.repair_pending, d.published_at, d.published_at_known, \
            CASE WHEN d.state = 'ACTIVE' AND c.kind <> 'TERMINATED' AND c.version = d.version THEN d.encoded END AS encoded, \
            CASE WHEN d.state = 'ACTIVE' AND c.kind <> 'TERMINATED' AND (c.version <> d.version OR d.encoded IS NULL) \
                 THEN v.content END AS content \
     FROM disclosure_changes c \
     JOIN disclosures d ON d.id = c.disclosure_id \
     LEFT JOIN disclosure_versions v ON v.disclosure_id = c.disclosure_id AND v.version = c.version \
       AND (c.version <> d.version OR d.encoded IS NULL) \
     WHERE c.sequence > $1 ORDER BY c.sequence LIMIT CAST($2 AS BIGINT)";

/// A row of [`FEED_PAGE_SQL`].
#[derive(sqlx::FromRow)]
pub(crate) struct RawFeedRow {
    #[sqlx(flatten)]
    head: RawChangeHead,
    encoded: Option<Vec<u8>>,
    needs_content: i32,
}

impl RawFeedRow {
    /// Whether the row's record must be built from its version's content.
    pub(crate) fn needs_content(&self) -> bool {
        self.needs_content != 0
    }

    /// The change, its record the stored encoding (or none); call only for
    /// a row that does not [`need content`](Self::needs_content).
    pub(crate) fn into_change(self) -> Result<crate::store::EncodedChange> {
        self.head.into_encoded(self.encoded.map(bytes::Bytes::from))
    }
}

/// A row of [`FEED_PAGE_FULL_SQL`]: a [`RawChange`] and the stored encoding.
#[derive(sqlx::FromRow)]
pub(crate) struct RawEncodedChange {
    #[sqlx(flatten)]
    change: RawChange,
    encoded: Option<Vec<u8>>,
}

impl RawEncodedChange {
    pub(crate) fn into_change(self) -> Result<crate::store::EncodedChange> {
        let c = self.change;
        let record = match (self.encoded, c.content.as_deref()) {
            (Some(bytes), _) => Some(bytes::Bytes::from(bytes)),
            // A change of an older version (or of a disclosure without a
            // stored encoding, migration 0010): its content, as the decoded
            // path shows it (api::change_out).
            (None, Some(content)) => {
                let content: PublicRecord = json("change content", content)?;
                Some(bytes::Bytes::from(crate::wire::disclosure_bytes(
                    crate::wire::DisclosureParts {
                        id: &c.head.disclosure_id,
                        decision_id: &c.decision_id,
                        state: DisclosureState::Active,
                        version: c.head.version,
                        content: &content,
                        content_sha256: &c.head.content_sha256,
                        repair_pending: c.repair_pending,
                        published_at: c.published_at_known.then_some(c.published_at),
                        terminated_at: None,
                    },
                )))
            }
            (None, None) => None,
        };
        c.head.into_encoded(record)
    }
}

impl IntoRow for RawChange {
    type Row = ChangeView;
    fn into_row(self) -> Result<ChangeView> {
        let (kind, reason) = self.head.kind_and_reason()?;
        let h = self.head;
        Ok(ChangeView {
            kind,
            reason,
            record: match self.content.as_deref() {
                Some(c) => Some(json("change content", c)?),
                None => None,
            },
            sequence: h.sequence,
            disclosure_id: h.disclosure_id,
            decision_id: self.decision_id,
            version: h.version,
            content_sha256: h.content_sha256,
            public_reason: h.public_reason,
            effective_time: h.effective_time,
            repair_pending: self.repair_pending,
            published_at: self.published_at_known.then_some(self.published_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawEvent {
    id: i64,
    decision_id: String,
    kind: String,
    actor: String,
    at: i64,
    summary: String,
    details: String,
    hashes: String,
}

impl IntoRow for RawEvent {
    type Row = EventRow;
    fn into_row(self) -> Result<EventRow> {
        Ok(EventRow {
            kind: parse_enum("event kind", &self.kind, EventKind::parse)?,
            actor: json("event actor", &self.actor)?,
            details: json("event details", &self.details)?,
            document_sha256: json("event hashes", &self.hashes)?,
            id: self.id,
            decision_id: self.decision_id,
            at: self.at,
            summary: self.summary,
        })
    }
}

/// `SELECT` of the columns a [`RawKey`] reads `FROM api_keys`, as a
/// literal for `concat!`.
macro_rules! select_keys {
    () => {
        "SELECT id, secret_hash, role, label, credit_code, expires_on, created_at, revoked_at FROM api_keys"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawKey {
    id: String,
    secret_hash: String,
    role: String,
    label: String,
    credit_code: Option<String>,
    expires_on: Option<String>,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl IntoRow for RawKey {
    type Row = KeyRow;
    fn into_row(self) -> Result<KeyRow> {
        Ok(KeyRow {
            role: parse_enum("key role", &self.role, Role::parse)?,
            expires_on: match self.expires_on.as_deref() {
                Some(d) => Some(d.parse().map_err(|e| corrupt("key expiry", e))?),
                None => None,
            },
            id: self.id,
            secret_hash: self.secret_hash,
            label: self.label,
            credit_code: self.credit_code,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        })
    }
}

/// Binds what a decision's `INSERT` and `UPDATE` both write, in this order:
/// `$1` id, `$2` authority_code, `$3` decision_number, `$4`
/// party_credit_code, `$5` state, `$6` decided_on, `$7` disclosure_id, `$8`
/// version, `$9` doc, `$10` meta, `$11` update_time. The columns taken from
/// the document are taken here once, so an insert and an update cannot
/// derive them differently.
macro_rules! bind_decision {
    ($query:expr, $row:expr) => {
        $query
            .bind(&$row.id)
            .bind(&$row.doc.authority.credit_code)
            .bind(&$row.doc.decision_number)
            .bind(&$row.doc.party.credit_code)
            .bind($row.state.as_str())
            .bind($row.doc.decided_on.to_string())
            .bind(&$row.disclosure_id)
            .bind($row.version)
            .bind($crate::store::sql::to_json(&$row.doc)?)
            .bind($crate::store::sql::to_json(&$row.meta)?)
            .bind($row.update_time)
    };
}

/// Binds what a disclosure's `INSERT` and `UPDATE` both write, in this
/// order: `$1` id, `$2` state, `$3` version, `$4` content (`$content`, its
/// JSON), `$5` content_sha256, `$6` party_credit_code, `$7` authority_code,
/// `$8` decided_on, `$9` publicity_ends_on, `$10` repair_eligible_on, `$11`
/// repair_pending, `$12` terminated_at, `$13` termination_reason, `$14`
/// update_time, `$15` encoded. As [`bind_decision!`]: the searchable columns
/// are taken from the content once for both.
macro_rules! bind_disclosure {
    ($query:expr, $row:expr, $content:expr) => {
        $query
            .bind(&$row.id)
            .bind($row.state.as_str())
            .bind($row.version)
            .bind($content)
            .bind(&$row.content_sha256)
            .bind(&$row.content.party_credit_code)
            .bind(&$row.content.authority.credit_code)
            .bind($row.content.decided_on.to_string())
            .bind($row.content.publicity_ends_on.to_string())
            .bind($row.content.repair_eligible_on.to_string())
            .bind($row.repair_pending)
            .bind($row.terminated_at)
            .bind($row.termination_reason.map(|r| r.as_str()))
            .bind($row.update_time)
            .bind($crate::store::encode_disclosure($row))
    };
}

/// The columns a [`RawDisclosure`] reads, as a literal for `concat!`.
macro_rules! disclosure_columns {
    () => {
        "id, decision_id, state, version, content, content_sha256, repair_pending, \
         published_at, published_at_known, terminated_at, termination_reason, update_time"
    };
}

/// A page of disclosures in id order with the given columns: the one filter
/// (`DisclosureFilter`, binds $1 after-id .. $7 limit) of the decoded and the
/// encoded list, so both select the same rows.
macro_rules! disclosure_page_sql {
    ($($columns:tt)+) => {
        concat!(
            "SELECT ",
            $($columns)+,
            " FROM disclosures \
             WHERE id > $1 AND ($2 = '' OR party_credit_code = $2) AND ($3 = '' OR authority_code = $3) \
               AND ($4 = '' OR state = $4) AND ($5 = '' OR decided_on >= $5) AND ($6 = '' OR decided_on <= $6) \
             ORDER BY id LIMIT CAST($7 AS BIGINT)"
        )
    };
}

/// `ListDisclosures`' page of stored encodings: `(id, encoded)` in id order,
/// bound by `bind_disclosure_page!`.
pub const LIST_PAGE_SQL: &str = disclosure_page_sql!("id, encoded");

/// [`LIST_PAGE_SQL`]'s page read as one aggregated row (SQLite; see
/// `sql_store!`'s `page_as_one_row` and `split_page`), bound the same way.
pub const LIST_PAGE_ONE_ROW_SQL: &str = concat!(
    "SELECT COUNT(*), COUNT(encoded), group_concat(id, ','), group_concat(length(encoded), ','), \
     CAST(group_concat(encoded, '') AS BLOB) FROM (",
    disclosure_page_sql!("id, encoded"),
    ")"
);

/// Binds a [`disclosure_page_sql!`] query's parameters: `$1` the id to start
/// after, `$2`..`$6` the filter, `$7` the limit.
macro_rules! bind_disclosure_page {
    ($query:expr, $f:expr, $after_id:expr, $limit:expr) => {
        $query
            .bind($after_id)
            .bind(&$f.party_credit_code)
            .bind(&$f.authority_code)
            .bind($f.state.map(|s| s.as_str()).unwrap_or(""))
            .bind(date_str($f.decided_from))
            .bind(date_str($f.decided_to))
            .bind($limit)
    };
}

/// Implements [`super::Store`] and [`super::Tx`] for one backend.
///
/// - `begin`: the statement that opens a write transaction (`BEGIN IMMEDIATE`
///   on SQLite takes the write lock up front, so concurrent writers queue on
///   the busy timeout instead of failing to upgrade a read lock).
/// - `for_update`: row-lock suffix (`FOR UPDATE` on PostgreSQL; SQLite's
///   single writer makes it unnecessary).
/// - `feed_lock`: run before appending a change. On PostgreSQL an advisory
///   transaction lock serialises feed writers until commit, so sequence
///   numbers become visible in increasing order and a reader paging by
///   `after_sequence` never skips one that commits late.
/// - `export_begin`: opens the snapshot an export reads from.
/// - `id_list`: a subquery yielding the elements of the JSON array of text
///   bound as `$1`, so that one statement reads a whole page's ids.
/// - `expiry_index`: what names the index the expiry sweep reads
///   (`INDEXED BY disclosures_expiry` on SQLite, nothing on PostgreSQL).
///   SQLite keeps no statistics unless told to (`ANALYZE`), and without
///   them its planner takes `state = 'ACTIVE'` for a rare value and reads
///   every active disclosure through `disclosures_state`, then sorts them:
///   1.6 s of a core every minute at 1,000,000 records (BENCHMARKS.md,
///   session 12). PostgreSQL's statistics choose the partial index.
/// - `page_as_one_row`: read a `ListDisclosures` page as one aggregated row
///   (`group_concat` of the ids, the encodings' lengths and the encodings;
///   SQLite) and split it with [`split_page`], instead of row by row.
///   sqlx hands each SQLite row from the connection's thread to the caller
///   on its own; a page of 100 cost 4-8 thread switches a request under
///   h2load, and one row 1.4-4.6 (BENCHMARKS.md, session 12). A page the
///   split refuses is read again row by row. The feed's pages of 1,000 are
///   read the same way ([`FEED_PAGE_ONE_ROW_SQL`], [`split_feed_page`]):
///   at 200,000 records the feed went from 135,674 to 194,391 rows/s
///   (BENCHMARKS.md, session 13).
macro_rules! sql_store {
    (
        store = $store:ident, tx = $tx:ident, db = $db:ty,
        migrations = $migrations:literal,
        begin = $begin:literal, for_update = $fu:literal,
        feed_lock = $feed_lock:literal, export_begin = $export_begin:literal,
        id_list = $id_list:literal, expiry_index = $expiry_index:literal,
        page_as_one_row = $page_as_one_row:literal $(,)?
    ) => {
        /// A write transaction of this backend.
        pub struct $tx {
            tx: sqlx::Transaction<'static, $db>,
        }

        impl $store {
            /// The expiry sweep's statement: active disclosures whose
            /// publicity ended before `$1`, oldest end first, at most `$2`.
            pub const EXPIRY_CANDIDATES_SQL: &'static str = concat!(
                "SELECT id FROM disclosures ",
                $expiry_index,
                " WHERE state = 'ACTIVE' AND publicity_ends_on < $1 ORDER BY publicity_ends_on, id LIMIT CAST($2 AS BIGINT)"
            );

            /// This backend's migrations, embedded at build time.
            fn migrator() -> sqlx::migrate::Migrator {
                sqlx::migrate!($migrations)
            }

            /// `(id, state, encoded)` of the disclosures whose ids the JSON
            /// array `ids` holds: the gathered `GetDisclosure` reads'
            /// statement (`store::readers::Gets`).
            pub(crate) fn read_encoded(
                conn: &mut <$db as sqlx::Database>::Connection,
                ids: String,
            ) -> futures::future::BoxFuture<'_, std::result::Result<Vec<$crate::store::readers::StoredRow>, sqlx::Error>> {
                Box::pin(async move {
                    sqlx::query_as::<$db, $crate::store::readers::StoredRow>(concat!(
                        "SELECT id, state, encoded FROM disclosures WHERE id IN ",
                        $id_list
                    ))
                    .bind(ids)
                    .fetch_all(&mut *conn)
                    .await
                })
            }

            /// A pooled connection, its wait told to `on_acquire`
            /// (`gongshi_db_pool_acquire_seconds`). Every read and write goes
            /// through here rather than handing `&self.pool` to sqlx, which
            /// would acquire out of sight.
            async fn conn(&self) -> $crate::store::Result<sqlx::pool::PoolConnection<$db>> {
                let started = std::time::Instant::now();
                let conn = self.pool.acquire().await.map_err(classify);
                if let Some(observe) = &self.on_acquire {
                    observe(started.elapsed());
                }
                conn
            }

            /// A transaction opened with `begin` on a connection from [`Self::conn`].
            async fn begin_timed(&self, begin: &'static str) -> $crate::store::Result<sqlx::Transaction<'static, $db>> {
                let conn = self.conn().await?;
                // What `Pool::begin_with` does, with the acquire measured
                // (sqlx keeps `Transaction::begin` out of its docs, but public).
                sqlx::Transaction::begin(conn, Some(sqlx::SqlSafeStr::into_sql_str(begin)))
                    .await
                    .map_err(classify)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                Self::BACKEND
            }

            async fn migrate(&self) -> $crate::store::Result<()> {
                Self::migrator()
                    .run(&self.pool)
                    .await
                    .map_err(|e| $crate::store::StoreError::Other(format!("migration failed: {e}")))?;
                self.backfill_search().await?;
                self.backfill_encoded().await.map(|_| ())
            }

            async fn ping(&self) -> $crate::store::Result<()> {
                // On a connection of its own, not the pool's: a busy pool is
                // not a database outage, and a refused connection shows at once
                // (the pool would retry until its acquire timeout).
                use sqlx::{ConnectOptions, Connection};
                let mut slot = self.probe.lock().await;
                if let Some(conn) = slot.as_mut() {
                    if conn.ping().await.is_ok() {
                        return Ok(());
                    }
                    *slot = None;
                }
                let mut conn = self.pool.connect_options().connect().await.map_err(classify)?;
                conn.ping().await.map_err(classify)?;
                *slot = Some(conn);
                Ok(())
            }

            async fn begin(&self) -> $crate::store::Result<Box<dyn $crate::store::Tx>> {
                let tx = self.begin_timed($begin).await?;
                Ok(Box::new($tx { tx }))
            }

            async fn get_decision(&self, id: &str) -> $crate::store::Result<Option<$crate::store::DecisionRow>> {
                sqlx::query_as::<$db, RawDecision>(
                    concat!($crate::store::sql::select_decisions!(), " WHERE id = $1"),
                )
                .bind(id)
                .fetch_optional(&mut *self.conn().await?)
                .await
                .into_rows()
            }

            async fn get_decisions(&self, ids: &[String]) -> $crate::store::Result<Vec<$crate::store::DecisionRow>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                sqlx::query_as::<$db, RawDecision>(concat!(
                    $crate::store::sql::select_decisions!(),
                    " WHERE id IN ",
                    $id_list,
                    " ORDER BY id"
                ))
                .bind(to_json(&ids)?)
                .fetch_all(&self.pool)
                .await
                .into_rows()
            }

            async fn decisions_of_disclosures(
                &self,
                disclosure_ids: &[String],
            ) -> $crate::store::Result<Vec<(String, String)>> {
                if disclosure_ids.is_empty() {
                    return Ok(Vec::new());
                }
                sqlx::query_as::<$db, (String, String)>(concat!(
                    "SELECT id, decision_id FROM disclosures WHERE id IN ",
                    $id_list,
                    " ORDER BY id"
                ))
                .bind(to_json(&disclosure_ids)?)
                .fetch_all(&self.pool)
                .await
                .map_err(classify)
            }

            async fn list_decisions(
                &self,
                f: &$crate::store::DecisionFilter,
                after_id: &str,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::DecisionRow>> {
                sqlx::query_as::<$db, RawDecision>(
                    concat!($crate::store::sql::select_decisions!(), " \
                     WHERE id > $1 AND ($2 = '' OR party_credit_code = $2) AND ($3 = '' OR state = $3) \
                       AND ($4 = '' OR decided_on >= $4) AND ($5 = '' OR decided_on <= $5) \
                       AND ($6 = '' OR authority_code = $6) \
                     ORDER BY id LIMIT CAST($7 AS BIGINT)"),
                )
                .bind(after_id)
                .bind(&f.party_credit_code)
                .bind(f.state.map(|s| s.as_str()).unwrap_or(""))
                .bind(date_str(f.decided_from))
                .bind(date_str(f.decided_to))
                .bind(&f.authority_code)
                .bind(limit)
                .fetch_all(&mut *self.conn().await?)
                .await
                .into_rows()
            }

            async fn list_events(
                &self,
                decision_id: &str,
                after_id: i64,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::EventRow>> {
                sqlx::query_as::<$db, RawEvent>(
                    "SELECT id, decision_id, kind, actor, at, summary, details, hashes \
                     FROM decision_events WHERE decision_id = $1 AND id > $2 ORDER BY id LIMIT CAST($3 AS BIGINT)",
                )
                .bind(decision_id)
                .bind(after_id)
                .bind(limit)
                .fetch_all(&mut *self.conn().await?)
                .await
                .into_rows()
            }

            async fn get_disclosure(&self, id: &str) -> $crate::store::Result<Option<$crate::store::DisclosureRow>> {
                sqlx::query_as::<$db, RawDisclosure>(concat!(
                    "SELECT ",
                    $crate::store::sql::disclosure_columns!(),
                    " FROM disclosures WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&mut *self.conn().await?)
                .await
                .into_rows()
            }

            async fn list_disclosures(
                &self,
                f: &$crate::store::DisclosureFilter,
                after_id: &str,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::DisclosureRow>> {
                $crate::store::sql::bind_disclosure_page!(
                    sqlx::query_as::<$db, RawDisclosure>($crate::store::sql::disclosure_page_sql!(
                        $crate::store::sql::disclosure_columns!()
                    )),
                    f,
                    after_id,
                    limit
                )
                .fetch_all(&mut *self.conn().await?)
                .await
                .into_rows()
            }

            async fn get_disclosure_encoded(
                &self,
                id: &str,
            ) -> $crate::store::Result<Option<($crate::domain::lifecycle::DisclosureState, bytes::Bytes)>> {
                // Gathered with the other reads waiting (store::readers::Gets),
                // by `read_encoded`.
                let Some((state, encoded)) = self.gets.get(id).await? else { return Ok(None) };
                let Some(encoded) = encoded else {
                    // No stored encoding (cleared by a plain UPDATE, migration
                    // 0010; or not yet filled): the row encoded as the decoded
                    // path does, its state and content from one read.
                    return Ok(self
                        .get_disclosure(id)
                        .await?
                        .map(|row| (row.state, bytes::Bytes::from($crate::store::encode_disclosure(&row)))));
                };
                let state = parse_enum("disclosure state", &state, $crate::domain::lifecycle::DisclosureState::parse)?;
                Ok(Some((state, encoded)))
            }

            async fn list_disclosures_encoded(
                &self,
                f: &$crate::store::DisclosureFilter,
                after_id: &str,
                limit: i64,
            ) -> $crate::store::Result<Vec<(String, bytes::Bytes)>> {
                if $page_as_one_row {
                    let one = $crate::store::readers::lent_read!(self.readers, |conn| {
                        $crate::store::sql::bind_disclosure_page!(
                            sqlx::query_as::<$db, $crate::store::sql::OneRowPage>($crate::store::sql::LIST_PAGE_ONE_ROW_SQL),
                            f,
                            after_id,
                            limit
                        )
                        .fetch_one(&mut *conn)
                    })?;
                    if let Some(page) = $crate::store::sql::split_page(one) {
                        return Ok(page);
                    }
                }
                // A page walked in id order on connections that keep their
                // plans; a narrowing filter's on those that plan for its
                // values (`DisclosureFilter::narrows`, `postgres::page_read_options`).
                let readers = if f.narrows() { &self.readers } else { &self.page_readers };
                let rows = $crate::store::readers::lent_read!(readers, |conn| {
                    $crate::store::sql::bind_disclosure_page!(
                        sqlx::query_as::<$db, (String, Option<Vec<u8>>)>($crate::store::sql::LIST_PAGE_SQL),
                        f,
                        after_id,
                        limit
                    )
                    .fetch_all(&mut *conn)
                })?;
                if rows.iter().any(|(_, encoded)| encoded.is_none()) {
                    // A row without its encoding (see get_disclosure_encoded):
                    // the page read again whole, in one statement so that each
                    // row's filter and content agree, and encoded here.
                    return Ok(self
                        .list_disclosures(f, after_id, limit)
                        .await?
                        .into_iter()
                        .map(|row| {
                            let bytes = bytes::Bytes::from($crate::store::encode_disclosure(&row));
                            (row.id, bytes)
                        })
                        .collect());
                }
                Ok(rows
                    .into_iter()
                    .map(|(id, encoded)| (id, bytes::Bytes::from(encoded.unwrap_or_default())))
                    .collect())
            }

            async fn list_changes_encoded(
                &self,
                after: i64,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::EncodedChange>> {
                use $crate::store::sql::FeedSplit;
                // SQLite: the page as one row first (see `page_as_one_row`).
                let needs_content = if $page_as_one_row {
                    let one = $crate::store::readers::lent_read!(self.readers, |conn| {
                        sqlx::query_as::<$db, $crate::store::sql::OneRowFeedPage>(
                            $crate::store::sql::FEED_PAGE_ONE_ROW_SQL,
                        )
                        .bind(after)
                        .bind(limit)
                        .fetch_one(&mut *conn)
                    })?;
                    match $crate::store::sql::split_feed_page(one) {
                        FeedSplit::Changes(changes) => return Ok(changes),
                        FeedSplit::NeedsContent => true,
                        FeedSplit::Doubtful => false,
                    }
                } else {
                    false
                };
                if !needs_content {
                    let rows = $crate::store::readers::lent_read!(self.readers, |conn| {
                        sqlx::query_as::<$db, $crate::store::sql::RawFeedRow>($crate::store::sql::FEED_PAGE_SQL)
                            .bind(after)
                            .bind(limit)
                            .fetch_all(&mut *conn)
                    })?;
                    if !rows.iter().any(|r| r.needs_content()) {
                        return rows.into_iter().map(|r| r.into_change()).collect();
                    }
                }
                // A change of an older version (or of a disclosure without a
                // stored encoding, migration 0010): the page read again whole,
                // in one statement, so that each record and its state agree.
                let rows = $crate::store::readers::lent_read!(self.readers, |conn| {
                    sqlx::query_as::<$db, RawEncodedChange>($crate::store::sql::FEED_PAGE_FULL_SQL)
                        .bind(after)
                        .bind(limit)
                        .fetch_all(&mut *conn)
                })?;
                rows.into_iter().map(RawEncodedChange::into_change).collect()
            }

            async fn feed_head(&self) -> $crate::store::Result<i64> {
                $crate::store::readers::lent_read!(self.readers, |conn| {
                    sqlx::query_scalar::<$db, i64>("SELECT COALESCE(MAX(sequence), 0) FROM disclosure_changes")
                        .fetch_one(&mut *conn)
                })
            }

            async fn list_changes(&self, after: i64, limit: i64) -> $crate::store::Result<Vec<$crate::store::ChangeView>> {
                sqlx::query_as::<$db, RawChange>($crate::store::sql::change_view_sql!(
                    "WHERE c.sequence > $1 ORDER BY c.sequence LIMIT CAST($2 AS BIGINT)"
                ))
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *self.conn().await?)
                .await
                .into_rows()
            }

            async fn export_active(
                &self,
                batch: i64,
                out: tokio::sync::mpsc::Sender<$crate::store::Result<$crate::store::ExportItem>>,
            ) -> $crate::store::Result<()> {
                let mut tx = self.begin_timed($export_begin).await?;
                let as_of_sequence: i64 = sqlx::query_scalar::<$db, i64>(
                    "SELECT COALESCE(MAX(sequence), 0) FROM disclosure_changes",
                )
                .fetch_one(&mut *tx)
                .await
                .map_err(classify)?;
                if out.send(Ok($crate::store::ExportItem::Start { as_of_sequence })).await.is_err() {
                    return Ok(());
                }
                let mut after = String::new();
                loop {
                    let rows: Vec<(String, String)> = sqlx::query_as::<$db, (String, String)>(
                        "SELECT id, content FROM disclosures WHERE state = 'ACTIVE' AND id > $1 ORDER BY id LIMIT CAST($2 AS BIGINT)",
                    )
                    .bind(&after)
                    .bind(batch)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(classify)?;
                    let Some((last, _)) = rows.last() else { break };
                    after = last.clone();
                    let mut records = Vec::with_capacity(rows.len());
                    for (_, content) in &rows {
                        records.push(json("disclosure content", content)?);
                    }
                    if out.send(Ok($crate::store::ExportItem::Rows(records))).await.is_err() {
                        break; // the client went away
                    }
                }
                tx.rollback().await.map_err(classify)?;
                Ok(())
            }

            async fn expiry_candidates(&self, today: chrono::NaiveDate, limit: i64) -> $crate::store::Result<Vec<String>> {
                sqlx::query_scalar::<$db, String>(Self::EXPIRY_CANDIDATES_SQL)
                .bind(today.to_string())
                .bind(limit)
                .fetch_all(&mut *self.conn().await?)
                .await
                .map_err(classify)
            }

            async fn insert_key(&self, k: &$crate::store::KeyRow) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO api_keys (id, secret_hash, role, label, credit_code, expires_on, created_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&k.id)
                .bind(&k.secret_hash)
                .bind(k.role.as_str())
                .bind(&k.label)
                .bind(&k.credit_code)
                .bind(k.expires_on.map(|d| d.to_string()))
                .bind(k.created_at)
                .bind(k.revoked_at)
                .execute(&mut *self.conn().await?)
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn get_key(&self, id: &str) -> $crate::store::Result<Option<$crate::store::KeyRow>> {
                sqlx::query_as::<$db, RawKey>(
                    concat!($crate::store::sql::select_keys!(), " WHERE id = $1"),
                )
                .bind(id)
                .fetch_optional(&mut *self.conn().await?)
                .await
                .into_rows()
            }

            async fn list_keys(&self) -> $crate::store::Result<Vec<$crate::store::KeyRow>> {
                sqlx::query_as::<$db, RawKey>(
                    concat!($crate::store::sql::select_keys!(), " ORDER BY created_at, id"),
                )
                .fetch_all(&mut *self.conn().await?)
                .await
                .into_rows()
            }

            async fn revoke_key(&self, id: &str, at: i64) -> $crate::store::Result<bool> {
                let r = sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(at)
                    .execute(&mut *self.conn().await?)
                    .await
                    .map_err(classify)?;
                Ok(r.rows_affected() == 1)
            }

            async fn revoke_key_recorded(&self, ev: &$crate::store::KeyEvent) -> $crate::store::Result<bool> {
                let mut tx = self.begin_timed($begin).await?;
                let r = sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(&ev.key_id)
                    .bind(ev.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                if r.rows_affected() != 1 {
                    return Ok(false); // dropped: rolled back
                }
                sqlx::query("INSERT INTO key_events (key_id, kind, at, by_whom, reason) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&ev.key_id)
                    .bind(&ev.kind)
                    .bind(ev.at)
                    .bind(&ev.by_whom)
                    .bind(&ev.reason)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                tx.commit().await.map_err(classify)?;
                Ok(true)
            }

            async fn key_events(&self, key_id: &str) -> $crate::store::Result<Vec<$crate::store::KeyEvent>> {
                sqlx::query_as::<$db, $crate::store::KeyEvent>(
                    "SELECT key_id, kind, at, by_whom, reason FROM key_events WHERE key_id = $1 ORDER BY id",
                )
                .bind(key_id)
                .fetch_all(&mut *self.conn().await?)
                .await
                .map_err(classify)
            }

            async fn operational_figures(
                &self,
                today: chrono::NaiveDate,
            ) -> $crate::store::Result<$crate::store::OperationalFigures> {
                let mut conn = self.conn().await?;
                let feed_head_sequence: i64 =
                    sqlx::query_scalar::<$db, i64>("SELECT COALESCE(MAX(sequence), 0) FROM disclosure_changes")
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(classify)?;
                let disclosures_active: i64 =
                    sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM disclosures WHERE state = 'ACTIVE'")
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(classify)?;
                // `open_disclosure_id` is set exactly while an application is open.
                let open: Vec<(String, i64)> = sqlx::query_as::<$db, (String, i64)>(
                    "SELECT state, COUNT(*) FROM repair_applications \
                     WHERE open_disclosure_id IS NOT NULL GROUP BY state",
                )
                .fetch_all(&mut *conn)
                .await
                .map_err(classify)?;
                let mut repairs_open = Vec::with_capacity(open.len());
                for (state, n) in open {
                    let state = $crate::domain::repair::RepairState::parse(&state)
                        .ok_or_else(|| {
                            $crate::store::StoreError::Corrupt(format!("repair state: unknown value {state:?}"))
                        })?;
                    repairs_open.push((state, n));
                }
                // The list filter `overdue_on` (repair_sql.rs) with the same rule.
                let repairs_overdue: i64 = sqlx::query_scalar::<$db, i64>(
                    "SELECT COUNT(*) FROM repair_applications \
                     WHERE (state = 'SUBMITTED' AND (accept_due_on < $1 OR overall_due_on < $1)) \
                        OR (state = 'ACCEPTED' AND (decide_due_on < $1 OR overall_due_on < $1))",
                )
                .bind(today.to_string())
                .fetch_one(&mut *conn)
                .await
                .map_err(classify)?;
                Ok($crate::store::OperationalFigures {
                    feed_head_sequence,
                    disclosures_active,
                    repairs_open,
                    repairs_overdue,
                })
            }

            fn pool_stats(&self) -> $crate::store::PoolStats {
                $crate::store::PoolStats {
                    size: self.pool.size(),
                    idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    max: self.pool.options().get_max_connections(),
                }
            }

            async fn pending_migrations(&self) -> $crate::store::Result<Vec<i64>> {
                use sqlx::ConnectOptions;
                use sqlx::migrate::Migrate;
                let migrator = Self::migrator();
                let mut slot = self.probe.lock().await;
                let mut conn = match slot.take() {
                    Some(c) => c,
                    None => self.pool.connect_options().connect().await.map_err(classify)?,
                };
                let unavailable = |e: sqlx::migrate::MigrateError| match e {
                    sqlx::migrate::MigrateError::Execute(e) => classify(e),
                    other => $crate::store::StoreError::Other(other.to_string()),
                };
                let dirty = conn.dirty_version(&migrator.table_name).await.map_err(unavailable)?;
                let applied = conn.list_applied_migrations(&migrator.table_name).await.map_err(unavailable)?;
                // Kept only after it answered, as `ping` does.
                *slot = Some(conn);
                let mut pending: Vec<i64> = migrator
                    .iter()
                    .filter(|m| !m.migration_type.is_down_migration())
                    .map(|m| m.version)
                    .filter(|v| !applied.iter().any(|a| a.version == *v) || dirty == Some(*v))
                    .collect();
                pending.dedup();
                Ok(pending)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Tx for $tx {
            async fn decision_for_update(&mut self, id: &str) -> $crate::store::Result<Option<$crate::store::DecisionRow>> {
                sqlx::query_as::<$db, RawDecision>(concat!(
                    $crate::store::sql::select_decisions!(),
                    " WHERE id = $1 ",
                    $fu
                ))
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await
                .into_rows()
            }

            async fn decision_by_request_key(&mut self, key: &str) -> $crate::store::Result<Option<$crate::store::DecisionRow>> {
                sqlx::query_as::<$db, RawDecision>(
                    concat!($crate::store::sql::select_decisions!(), " WHERE request_key = $1"),
                )
                .bind(key)
                .fetch_optional(&mut *self.tx)
                .await
                .into_rows()
            }

            async fn insert_decision(
                &mut self,
                row: &$crate::store::DecisionRow,
                request_key: Option<&str>,
            ) -> $crate::store::Result<bool> {
                let r = $crate::store::sql::bind_decision!(
                    sqlx::query(
                        "INSERT INTO penalty_decisions (id, authority_code, decision_number, party_credit_code, \
                           state, decided_on, disclosure_id, version, doc, meta, update_time, request_key, create_time) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
                    ),
                    row
                )
                .bind(request_key)
                .bind(row.create_time)
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                Ok(r.rows_affected() == 1)
            }

            async fn update_decision(&mut self, row: &$crate::store::DecisionRow) -> $crate::store::Result<()> {
                $crate::store::sql::bind_decision!(
                    sqlx::query(
                        "UPDATE penalty_decisions SET authority_code = $2, decision_number = $3, party_credit_code = $4, \
                           state = $5, decided_on = $6, disclosure_id = $7, version = $8, doc = $9, meta = $10, update_time = $11 \
                         WHERE id = $1",
                    ),
                    row
                )
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn disclosure_for_update(&mut self, id: &str) -> $crate::store::Result<Option<$crate::store::DisclosureRow>> {
                sqlx::query_as::<$db, RawDisclosure>(concat!(
                    "SELECT ",
                    $crate::store::sql::disclosure_columns!(),
                    " FROM disclosures WHERE id = $1 ",
                    $fu
                ))
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await
                .into_rows()
            }

            async fn insert_disclosure(&mut self, row: &$crate::store::DisclosureRow) -> $crate::store::Result<()> {
                let content = to_json(&row.content)?;
                $crate::store::sql::bind_disclosure!(
                    sqlx::query(
                        "INSERT INTO disclosures (id, state, version, content, content_sha256, party_credit_code, \
                           authority_code, decided_on, publicity_ends_on, repair_eligible_on, repair_pending, \
                           terminated_at, termination_reason, update_time, encoded, decision_id, published_at, \
                           published_at_known) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                    ),
                    row,
                    &content
                )
                .bind(&row.decision_id)
                // Unknown (imported history without 公示日期): the column keeps
                // when it was recorded, and the flag says it is not the date.
                .bind(row.published_at.unwrap_or(row.update_time))
                .bind(row.published_at.is_some())
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                self.insert_version(row, &content).await?;
                self.index_for_search(row).await
            }

            async fn update_disclosure(
                &mut self,
                row: &$crate::store::DisclosureRow,
                new_version: bool,
            ) -> $crate::store::Result<()> {
                let content = to_json(&row.content)?;
                $crate::store::sql::bind_disclosure!(
                    sqlx::query(
                        "UPDATE disclosures SET state = $2, version = $3, content = $4, content_sha256 = $5, \
                           party_credit_code = $6, authority_code = $7, decided_on = $8, publicity_ends_on = $9, \
                           repair_eligible_on = $10, repair_pending = $11, terminated_at = $12, \
                           termination_reason = $13, update_time = $14, encoded = $15 \
                         WHERE id = $1",
                    ),
                    row,
                    &content
                )
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                if new_version {
                    self.insert_version(row, &content).await?;
                }
                self.index_for_search(row).await
            }

            async fn append_event(&mut self, ev: &$crate::store::NewEvent) -> $crate::store::Result<i64> {
                sqlx::query_scalar::<$db, i64>(
                    "INSERT INTO decision_events (decision_id, kind, actor, at, summary, details, hashes) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(&ev.decision_id)
                .bind(ev.kind.as_str())
                .bind(to_json(&ev.actor)?)
                .bind(ev.at)
                .bind(&ev.summary)
                .bind(to_json(&ev.details)?)
                .bind(to_json(&ev.document_sha256)?)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(classify)
            }

            async fn append_change(&mut self, ch: &$crate::store::NewChange) -> $crate::store::Result<i64> {
                sqlx::query($feed_lock).execute(&mut *self.tx).await.map_err(classify)?;
                sqlx::query_scalar::<$db, i64>(
                    "INSERT INTO disclosure_changes (disclosure_id, kind, reason, version, content_sha256, public_reason, effective_time) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING sequence",
                )
                .bind(&ch.disclosure_id)
                .bind(ch.kind.as_str())
                .bind(ch.reason.map(|r| r.as_str()))
                .bind(ch.version)
                .bind(&ch.content_sha256)
                .bind(&ch.public_reason)
                .bind(ch.effective_time)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(classify)
            }

            async fn commit(self: Box<Self>) -> $crate::store::Result<()> {
                self.tx.commit().await.map_err(classify)
            }
        }

        impl $tx {
            async fn insert_version(
                &mut self,
                row: &$crate::store::DisclosureRow,
                content: &str,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO disclosure_versions (disclosure_id, version, content, content_sha256, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&row.id)
                .bind(row.version)
                .bind(content)
                .bind(&row.content_sha256)
                .bind(row.update_time)
                .execute(&mut *self.tx)
                .await
                .map_err(classify)?;
                Ok(())
            }
        }
    };
}

/// Gives one backend (`store`, an alias of [`super::SqlStore`]) all its SQL:
/// `sql_store!`, `sql_repair!`, `sql_notice!`, `sql_calendar!` and
/// `sql_public!` with the dialect's parameters (each macro says what its
/// parameters mean; `for_update` serves the first three, `calendar_for_*`
/// the calendar's). They expand in a module of their own, which sees the
/// backend's file through `use super::*`.
macro_rules! sql_backend {
    (
        store = $store:ident, tx = $tx:ident, db = $db:ty,
        migrations = $migrations:literal, begin = $begin:literal, for_update = $fu:literal,
        feed_lock = $feed_lock:literal, export_begin = $export_begin:literal,
        id_list = $id_list:literal, expiry_index = $expiry_index:literal,
        page_as_one_row = $page_as_one_row:literal,
        calendar_for_share = $calendar_for_share:literal, calendar_for_update = $calendar_for_update:literal,
        contains = $contains:literal, distinct = $distinct:literal, unindexed_index = $unindexed_index:literal $(,)?
    ) => {
        mod sql_impl {
            use super::*;
            use $crate::store::calendar_sql::{RawCalendarDay, calendar_snapshot_on};
            use $crate::store::notice_sql::{RawBundle, RawPdf, attach_pdfs};
            use $crate::store::repair_sql::{RawRepair, RawRepairEvent, encode_doc, opt_date};
            use $crate::store::sql::{
                IntoRow, IntoRows, RawChange, RawDecision, RawDisclosure, RawEncodedChange, RawEvent, RawKey, date_str,
                json, parse_enum, to_json,
            };

            $crate::store::sql::sql_store!(
                store = $store,
                tx = $tx,
                db = $db,
                migrations = $migrations,
                begin = $begin,
                for_update = $fu,
                feed_lock = $feed_lock,
                export_begin = $export_begin,
                id_list = $id_list,
                expiry_index = $expiry_index,
                page_as_one_row = $page_as_one_row,
            );
            $crate::store::repair_sql::sql_repair!(store = $store, tx = $tx, db = $db, for_update = $fu);
            $crate::store::notice_sql::sql_notice!(store = $store, tx = $tx, db = $db, for_update = $fu);
            $crate::store::calendar_sql::sql_calendar!(
                store = $store,
                tx = $tx,
                db = $db,
                for_share = $calendar_for_share,
                for_update = $calendar_for_update,
            );
            $crate::store::public_sql::sql_public!(
                store = $store,
                tx = $tx,
                db = $db,
                contains = $contains,
                distinct = $distinct,
                unindexed_index = $unindexed_index,
            );
        }
    };
}

pub(crate) use {
    bind_decision, bind_disclosure, bind_disclosure_page, disclosure_columns, disclosure_page_sql, select_decisions,
    select_keys, sql_backend, sql_store,
};

/// A list page read as one row: `(rows, rows with an encoding, ids joined by
/// commas, the encodings' lengths joined by commas, the encodings
/// concatenated)`, in the order the aggregate met them.
pub type OneRowPage = (i64, i64, Option<String>, Option<String>, Option<Vec<u8>>);

/// Splits a page read as one row into its records, without copying them.
/// `None` (read the page row by row instead) unless every row has its
/// encoding, the ids came in ascending order (the aggregate's order is the
/// subquery's in practice, not by promise) and the lengths add up.
pub(crate) fn split_page(page: OneRowPage) -> Option<Vec<(String, bytes::Bytes)>> {
    let (count, encoded, ids, lengths, blob) = page;
    if count == 0 {
        return Some(Vec::new());
    }
    if count != encoded {
        return None;
    }
    let (ids, lengths) = (ids?, lengths?);
    let ids: Vec<&str> = ids.split(',').collect();
    let lengths: Vec<&str> = lengths.split(',').collect();
    let count = usize::try_from(count).ok()?;
    if ids.len() != count || lengths.len() != count {
        return None;
    }
    let blob = bytes::Bytes::from(blob?);
    let mut out = Vec::with_capacity(count);
    let mut at = 0usize;
    let mut last: Option<&str> = None;
    for (id, len) in ids.into_iter().zip(lengths) {
        if last.is_some_and(|l| l >= id) {
            return None;
        }
        last = Some(id);
        let len: usize = len.parse().ok()?;
        let end = at.checked_add(len).filter(|e| *e <= blob.len())?;
        out.push((id.to_string(), blob.slice(at..end)));
        at = end;
    }
    (at == blob.len()).then_some(out)
}

/// A feed page read as one row ([`FEED_PAGE_ONE_ROW_SQL`]): `(rows, rows
/// that need their version's content, each row's short columns and lengths,
/// the ids and public reasons concatenated, the encodings concatenated)`.
pub type OneRowFeedPage = (i64, i64, Option<String>, Option<Vec<u8>>, Option<Vec<u8>>);

/// What [`split_feed_page`] makes of a feed page read as one row.
#[derive(Debug, PartialEq)]
pub(crate) enum FeedSplit {
    /// The page's changes, in sequence order.
    Changes(Vec<crate::store::EncodedChange>),
    /// A change of the page needs its version's content: read the page whole
    /// (`FEED_PAGE_FULL_SQL`).
    NeedsContent,
    /// The row cannot be trusted: read the page row by row.
    Doubtful,
}

/// Splits a feed page read as one row into its changes; the records'
/// encodings are cut out of the one buffer without copying.
/// [`FeedSplit::Doubtful`] unless every row's columns parse, the sequences
/// came in ascending order (the aggregate's order is the subquery's in
/// practice, not by promise) and the lengths add up.
pub(crate) fn split_feed_page(page: OneRowFeedPage) -> FeedSplit {
    let (count, needs_content, rows, texts, encodings) = page;
    if count == 0 {
        return FeedSplit::Changes(Vec::new());
    }
    if needs_content != 0 {
        return FeedSplit::NeedsContent;
    }
    match split_feed_rows(count, rows, texts, encodings) {
        Some(changes) => FeedSplit::Changes(changes),
        None => FeedSplit::Doubtful,
    }
}

fn split_feed_rows(
    count: i64,
    rows: Option<String>,
    texts: Option<Vec<u8>>,
    encodings: Option<Vec<u8>>,
) -> Option<Vec<crate::store::EncodedChange>> {
    let (rows, texts) = (rows?, texts?);
    // No row with an encoding: the aggregate is NULL.
    let encodings = bytes::Bytes::from(encodings.unwrap_or_default());
    let count = usize::try_from(count).ok()?;
    let mut out = Vec::with_capacity(count);
    let (mut at_text, mut at_encoding) = (0usize, 0usize);
    let mut last: Option<i64> = None;
    // A length, or none for -1 (a NULL column).
    let length = |s: &str| -> Option<Option<usize>> {
        if s == "-1" {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    let mut text = |len: usize| -> Option<String> {
        let end = at_text.checked_add(len).filter(|e| *e <= texts.len())?;
        let s = std::str::from_utf8(&texts[at_text..end]).ok()?.to_owned();
        at_text = end;
        Some(s)
    };
    for row in rows.split(';') {
        let mut f = row.split(',');
        let mut field = || f.next();
        let sequence: i64 = field()?.parse().ok()?;
        let version: i64 = field()?.parse().ok()?;
        let effective_time: i64 = field()?.parse().ok()?;
        let kind = ChangeKind::parse(field()?)?;
        let reason = match field()? {
            "" => None,
            r => Some(TerminationReason::parse(r)?),
        };
        let content_sha256 = field()?.to_owned();
        let id_len = length(field()?)??;
        let reason_len = length(field()?)?;
        let encoding_len = length(field()?)?;
        if field().is_some() || last.is_some_and(|l| l >= sequence) {
            return None;
        }
        last = Some(sequence);
        let disclosure_id = text(id_len)?;
        let public_reason = match reason_len {
            Some(len) => Some(text(len)?),
            None => None,
        };
        let record = match encoding_len {
            Some(len) => {
                let end = at_encoding.checked_add(len).filter(|e| *e <= encodings.len())?;
                let record = encodings.slice(at_encoding..end);
                at_encoding = end;
                Some(record)
            }
            None => None,
        };
        out.push(crate::store::EncodedChange {
            sequence,
            disclosure_id,
            kind,
            reason,
            version,
            content_sha256,
            public_reason,
            effective_time,
            record,
        });
    }
    (out.len() == count && at_text == texts.len() && at_encoding == encodings.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::split_page;

    fn page(ids: &str, lengths: &str, blob: &[u8], count: i64, encoded: i64) -> super::OneRowPage {
        (
            count,
            encoded,
            Some(ids.into()),
            Some(lengths.into()),
            Some(blob.to_vec()),
        )
    }

    #[test]
    fn a_page_read_as_one_row_splits_into_its_records() {
        let out = split_page(page("01A,01B,01C", "2,0,3", b"xyabc", 3, 3)).expect("split");
        let got: Vec<(&str, &[u8])> = out.iter().map(|(id, b)| (id.as_str(), b.as_ref())).collect();
        assert_eq!(got, vec![("01A", &b"xy"[..]), ("01B", &b""[..]), ("01C", &b"abc"[..])]);
        assert_eq!(split_page((0, 0, None, None, None)), Some(Vec::new()));
    }

    /// Whenever the one row cannot be trusted, the page is read row by row.
    #[test]
    fn a_doubtful_one_row_page_is_refused() {
        let cases = [
            ("a row without its encoding", page("01A,01B", "2,3", b"xyabc", 2, 1)),
            ("ids out of order", page("01B,01A", "2,3", b"xyabc", 2, 2)),
            ("an id twice", page("01A,01A", "2,3", b"xyabc", 2, 2)),
            ("lengths short of the bytes", page("01A,01B", "2,2", b"xyabc", 2, 2)),
            ("lengths past the bytes", page("01A,01B", "2,4", b"xyabc", 2, 2)),
            ("more ids than rows", page("01A,01B,01C", "2,3", b"xyabc", 2, 2)),
            ("fewer lengths than rows", page("01A,01B", "5", b"xyabc", 2, 2)),
            ("a length that is not a number", page("01A,01B", "2,x", b"xyabc", 2, 2)),
            ("no bytes", (2, 2, Some("01A,01B".into()), Some("2,3".into()), None)),
        ];
        for (what, case) in cases {
            assert_eq!(split_page(case), None, "{what}");
        }
    }

    use super::{FeedSplit, OneRowFeedPage, split_feed_page};
    use crate::domain::lifecycle::{ChangeKind, TerminationReason};
    use crate::store::EncodedChange;

    /// Two changes as `FEED_PAGE_ONE_ROW_SQL` aggregates them: a publication
    /// with its record, then a withdrawal with a public reason and none.
    const ROWS: &str = "7,1,100,PUBLISHED,,aa,3,-1,2;9,2,200,TERMINATED,WITHDRAWN,bb,3,6,-1";
    const TEXTS: &str = "01A01B撤销";

    fn feed(rows: &str, texts: &[u8], encodings: &[u8], count: i64) -> OneRowFeedPage {
        (
            count,
            0,
            Some(rows.into()),
            Some(texts.to_vec()),
            Some(encodings.to_vec()),
        )
    }

    #[test]
    fn a_feed_page_read_as_one_row_splits_into_its_changes() {
        let split = split_feed_page(feed(ROWS, TEXTS.as_bytes(), b"xy", 2));
        let expected = vec![
            EncodedChange {
                sequence: 7,
                disclosure_id: "01A".into(),
                kind: ChangeKind::Published,
                reason: None,
                version: 1,
                content_sha256: "aa".into(),
                public_reason: None,
                effective_time: 100,
                record: Some(bytes::Bytes::from_static(b"xy")),
            },
            EncodedChange {
                sequence: 9,
                disclosure_id: "01B".into(),
                kind: ChangeKind::Terminated,
                reason: Some(TerminationReason::Withdrawn),
                version: 2,
                content_sha256: "bb".into(),
                public_reason: Some("撤销".into()),
                effective_time: 200,
                record: None,
            },
        ];
        assert_eq!(split, FeedSplit::Changes(expected));
        // No row with an encoding: that aggregate is NULL.
        let no_records = "9,2,200,TERMINATED,EXPIRED,bb,3,-1,-1";
        match split_feed_page((1, 0, Some(no_records.into()), Some(b"01B".to_vec()), None)) {
            FeedSplit::Changes(c) => assert_eq!((c.len(), c[0].record.is_none()), (1, true)),
            other => panic!("one change without a record, got {other:?}"),
        }
        assert_eq!(
            split_feed_page((0, 0, None, None, None)),
            FeedSplit::Changes(Vec::new())
        );
        // A change that needs its version's content sends the page to the
        // whole read, whatever the rest of the row says.
        let mut needs = feed(ROWS, TEXTS.as_bytes(), b"xy", 2);
        needs.1 = 1;
        assert_eq!(split_feed_page(needs), FeedSplit::NeedsContent);
    }

    /// Whenever the one row cannot be trusted, the page is read row by row.
    #[test]
    fn a_doubtful_one_row_feed_page_is_refused() {
        let t = TEXTS.as_bytes();
        // Two rows over the texts and encodings of ROWS.
        let two = |rows: &str| feed(rows, t, b"xy", 2);
        let cases = [
            (
                "sequences out of order",
                two("9,1,100,PUBLISHED,,aa,3,-1,2;7,2,200,TERMINATED,WITHDRAWN,bb,3,6,-1"),
            ),
            (
                "a sequence twice",
                two("7,1,100,PUBLISHED,,aa,3,-1,2;7,2,200,TERMINATED,WITHDRAWN,bb,3,6,-1"),
            ),
            ("more rows than counted", feed(ROWS, t, b"xy", 1)),
            ("fewer rows than counted", feed(ROWS, t, b"xy", 3)),
            (
                "a field too many",
                two("7,1,100,PUBLISHED,,aa,3,-1,2,0;9,2,200,TERMINATED,WITHDRAWN,bb,3,6,-1"),
            ),
            (
                "a field short",
                two("7,1,100,PUBLISHED,,aa,3,-1;9,2,200,TERMINATED,WITHDRAWN,bb,3,6,-1"),
            ),
            (
                "an unknown kind",
                two("7,1,100,REVISED,,aa,3,-1,2;9,2,200,TERMINATED,WITHDRAWN,bb,3,6,-1"),
            ),
            (
                "an unknown reason",
                two("7,1,100,PUBLISHED,,aa,3,-1,2;9,2,200,TERMINATED,LOST,bb,3,6,-1"),
            ),
            (
                "a sequence that is not a number",
                two("x,1,100,PUBLISHED,,aa,3,-1,2;9,2,200,TERMINATED,WITHDRAWN,bb,3,6,-1"),
            ),
            (
                "an id without a length",
                two("7,1,100,PUBLISHED,,aa,-1,-1,2;9,2,200,TERMINATED,WITHDRAWN,bb,3,6,-1"),
            ),
            (
                "texts past their bytes",
                two("7,1,100,PUBLISHED,,aa,3,-1,2;9,2,200,TERMINATED,WITHDRAWN,bb,3,7,-1"),
            ),
            (
                "texts short of their bytes",
                two("7,1,100,PUBLISHED,,aa,3,-1,2;9,2,200,TERMINATED,WITHDRAWN,bb,3,3,-1"),
            ),
            (
                "a length that cuts a character",
                two("7,1,100,PUBLISHED,,aa,3,-1,2;9,2,200,TERMINATED,WITHDRAWN,bb,4,5,-1"),
            ),
            ("encodings past their bytes", feed(ROWS, t, b"x", 2)),
            ("encodings short of their bytes", feed(ROWS, t, b"xyz", 2)),
            ("no rows", (2, 0, None, Some(t.to_vec()), Some(b"xy".to_vec()))),
            ("no texts", (2, 0, Some(ROWS.into()), None, Some(b"xy".to_vec()))),
        ];
        for (what, case) in cases {
            assert_eq!(split_feed_page(case), FeedSplit::Doubtful, "{what}");
        }
    }
}
