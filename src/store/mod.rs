//! Storage: one [`Store`] trait, implemented for PostgreSQL and SQLite.
//!
//! The store owns all SQL, transactions and cursors; it never sees tonic or
//! protobuf types. Both backends share their SQL text (see `sql.rs`), which is
//! written in the common subset of the two dialects; the few differences
//! (`FOR UPDATE`, how a write transaction begins, how change-feed sequence
//! numbers are serialised) are parameters of the shared implementation.
//!
//! The backend is chosen by the database URL's scheme: `postgres://` or
//! `postgresql://` for PostgreSQL, `sqlite:` for SQLite.

mod calendar;
mod calendar_sql;
mod notice;
mod notice_sql;
mod postgres;
pub mod public;
mod public_sql;
pub(crate) mod readers;
mod repair;
mod repair_sql;
pub(crate) mod sql;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use tokio::sync::mpsc;

use crate::domain::lifecycle::{
    Actor, ChangeKind, DecisionMeta, DecisionState, DisclosureState, EventKind, Micros, Role, TerminationReason,
};
use crate::domain::record::{DecisionDoc, PublicRecord};
use crate::domain::repair::RepairState;

pub use calendar::{CalendarDayRow, CalendarLoadRow, CalendarSnapshot, CalendarStore, CalendarTx, CalendarYearRow};
pub use notice::{BundleFilter, BundleRow, NoticeStore, NoticeTx, PdfRow};
pub use postgres::{PgStore, page_read_options as postgres_page_read_options, read_options as postgres_read_options};
pub use public::PublicStore;
pub(crate) use readers::{Gets, Readers};
pub use repair::{NewRepairEvent, RepairEventRow, RepairFilter, RepairRow, RepairStore, RepairTx};
pub use sql::{FEED_PAGE_ONE_ROW_SQL, FEED_PAGE_SQL, LIST_PAGE_ONE_ROW_SQL, LIST_PAGE_SQL, OneRowFeedPage, OneRowPage};
pub use sqlite::{SqliteStore, connect_options as sqlite_connect_options, read_options as sqlite_read_options};

/// One backend's store, [`PgStore`] or [`SqliteStore`]: the write pool,
/// the public reads' own connections, the gathered gets and the health
/// probe's connection. Each backend's `connect` fills it and `sql_backend!`
/// gives it its SQL.
pub struct SqlStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
    /// Told how long each acquire waited (see `StoreOptions::on_acquire`).
    on_acquire: Option<AcquireObserver>,
    /// The public reads' own connections (issue 18): the feed's pages and
    /// the list pages narrowed by party, authority or date.
    readers: Arc<Readers<DB>>,
    /// The gathered gets' and the list pages' walked in id order: on
    /// PostgreSQL with one plan kept per statement
    /// (`postgres_page_read_options`), on SQLite the same as `readers`.
    page_readers: Arc<Readers<DB>>,
    /// `GetDisclosure`'s reads, gathered (on `page_readers`).
    gets: Gets<DB>,
    /// The health probe's own connection (see `Store::ping`).
    probe: tokio::sync::Mutex<Option<DB::Connection>>,
}

/// A storage failure, classified so the API can answer with the right code.
/// The message is for logs only: it may contain SQL details and is never
/// sent to clients.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (connection refused, pool timeout).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A concurrent transaction won (serialization failure, deadlock, busy).
    #[error("concurrent update: {0}")]
    Conflict(String),
    /// A uniqueness rule was violated (e.g. decision number at an authority).
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// A stored value could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Other(String),
}

/// Result alias of the store.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A stored penalty decision.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRow {
    /// Server-assigned id (ULID).
    pub id: String,
    /// Content, sensitive fields included.
    pub doc: DecisionDoc,
    /// Review, fulfilment, exclusion, withdrawal.
    pub meta: DecisionMeta,
    /// State.
    pub state: DecisionState,
    /// The disclosure, once published.
    pub disclosure_id: Option<String>,
    /// Row version: the etag.
    pub version: i64,
    /// Created.
    pub create_time: Micros,
    /// Last changed.
    pub update_time: Micros,
}

impl DecisionRow {
    /// A decision as first recorded: state `Recorded`, version 1, created
    /// and changed at `now`.
    pub fn recorded(id: String, doc: DecisionDoc, recorded_by: Actor, now: Micros) -> DecisionRow {
        DecisionRow {
            id,
            doc,
            meta: DecisionMeta::recorded_by(recorded_by),
            state: DecisionState::Recorded,
            disclosure_id: None,
            version: 1,
            create_time: now,
            update_time: now,
        }
    }
}

/// The `Disclosure` encoding the store keeps beside a disclosure, written in
/// the same statement as every change of the row.
pub fn encode_disclosure(d: &DisclosureRow) -> Vec<u8> {
    crate::wire::disclosure_bytes(crate::wire::disclosure_parts!(d))
}

/// A stored disclosure (current version).
#[derive(Debug, Clone, PartialEq)]
pub struct DisclosureRow {
    /// Server-assigned id.
    pub id: String,
    /// The decision it publishes.
    pub decision_id: String,
    /// State.
    pub state: DisclosureState,
    /// Content version, from 1.
    pub version: i64,
    /// Current public content.
    pub content: PublicRecord,
    /// SHA-256 of the content's canonical JSON.
    pub content_sha256: String,
    /// An open repair application exists.
    pub repair_pending: bool,
    /// First published; `None` when that is unknown (imported history
    /// without a 公示日期).
    pub published_at: Option<Micros>,
    /// When it stopped being public.
    pub terminated_at: Option<Micros>,
    /// Why.
    pub termination_reason: Option<TerminationReason>,
    /// Last changed.
    pub update_time: Micros,
}

impl DisclosureRow {
    /// Takes the disclosure down at `now`: `state` (one of the terminal
    /// states) for `reason`.
    pub fn terminate(&mut self, state: DisclosureState, reason: TerminationReason, now: Micros) {
        self.state = state;
        self.terminated_at = Some(now);
        self.termination_reason = Some(reason);
        self.update_time = now;
    }

    /// The feed entry of `kind` for this disclosure's current version, in
    /// effect from `now`: a TERMINATED one carries the row's termination
    /// reason. `public_reason` is only for withdrawals.
    pub fn change(&self, kind: ChangeKind, public_reason: Option<String>, now: Micros) -> NewChange {
        NewChange {
            disclosure_id: self.id.clone(),
            kind,
            reason: if kind == ChangeKind::Terminated {
                self.termination_reason
            } else {
                None
            },
            version: self.version,
            content_sha256: self.content_sha256.clone(),
            public_reason,
            effective_time: now,
        }
    }
}

/// A change to append to the feed.
#[derive(Debug, Clone)]
pub struct NewChange {
    /// The disclosure.
    pub disclosure_id: String,
    /// Kind.
    pub kind: ChangeKind,
    /// For TERMINATED.
    pub reason: Option<TerminationReason>,
    /// Content version the change refers to.
    pub version: i64,
    /// Content hash of that version.
    pub content_sha256: String,
    /// Public reason, for withdrawals.
    pub public_reason: Option<String>,
    /// When it takes effect.
    pub effective_time: Micros,
}

/// A change of the feed with its record already encoded (issue 18): the
/// disclosure's stored `Disclosure` encoding when the change is of its
/// current version; content only while the disclosure is active, as in
/// [`ChangeView`].
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedChange {
    /// Feed sequence.
    pub sequence: i64,
    /// The disclosure.
    pub disclosure_id: String,
    /// Kind.
    pub kind: ChangeKind,
    /// For TERMINATED.
    pub reason: Option<TerminationReason>,
    /// Content version the change is of.
    pub version: i64,
    /// SHA-256 of that version's content.
    pub content_sha256: String,
    /// For WITHDRAWN terminations.
    pub public_reason: Option<String>,
    /// When it took effect.
    pub effective_time: Micros,
    /// The record as it appears in the change (a `Disclosure` encoding), or
    /// `None` once the disclosure is terminated and for TERMINATED changes.
    pub record: Option<bytes::Bytes>,
}

/// A change as served: content only while the disclosure is active.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeView {
    /// Feed sequence.
    pub sequence: i64,
    /// The disclosure.
    pub disclosure_id: String,
    /// Its decision.
    pub decision_id: String,
    /// Kind.
    pub kind: ChangeKind,
    /// For TERMINATED.
    pub reason: Option<TerminationReason>,
    /// Version the change refers to.
    pub version: i64,
    /// Its content hash.
    pub content_sha256: String,
    /// Public reason of a withdrawal.
    pub public_reason: Option<String>,
    /// Effective time.
    pub effective_time: Micros,
    /// The content of that version; `None` for TERMINATED changes and for
    /// every change of a disclosure that is no longer active.
    pub record: Option<PublicRecord>,
    /// Current repair-pending flag of the disclosure.
    pub repair_pending: bool,
    /// When the disclosure was first published, if known.
    pub published_at: Option<Micros>,
}

/// An event to append to a decision's record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The decision.
    pub decision_id: String,
    /// What happened.
    pub kind: EventKind,
    /// Who.
    pub actor: Actor,
    /// When.
    pub at: Micros,
    /// One line, human readable.
    pub summary: String,
    /// Details (JSON object; never ID numbers or contacts).
    pub details: serde_json::Value,
    /// Hashes of documents involved.
    pub document_sha256: Vec<String>,
}

/// A stored event.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Global, strictly increasing id.
    pub id: i64,
    /// The decision.
    pub decision_id: String,
    /// Kind.
    pub kind: EventKind,
    /// Who.
    pub actor: Actor,
    /// When.
    pub at: Micros,
    /// Summary.
    pub summary: String,
    /// Details.
    pub details: serde_json::Value,
    /// Document hashes.
    pub document_sha256: Vec<String>,
}

/// An API key as stored: the secret only as a hash.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Public id (part of the key string).
    pub id: String,
    /// SHA-256 (hex) of the secret part.
    pub secret_hash: String,
    /// Role.
    pub role: Role,
    /// Label.
    pub label: String,
    /// Bound credit code (enterprise keys).
    pub credit_code: Option<String>,
    /// Last valid day (CST), if any.
    pub expires_on: Option<NaiveDate>,
    /// Created.
    pub created_at: Micros,
    /// Revoked.
    pub revoked_at: Option<Micros>,
}

impl std::fmt::Debug for KeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRow")
            .field("id", &self.id)
            .field("secret_hash", &"<redacted>")
            .field("role", &self.role)
            .field("label", &self.label)
            .field("credit_code", &self.credit_code)
            .field("expires_on", &self.expires_on)
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
}

/// One entry of an API key's record (append-only `key_events`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyEvent {
    /// The key.
    pub key_id: String,
    /// What happened (`REVOKED`).
    pub kind: String,
    /// When.
    pub at: Micros,
    /// Who did it (the operator's name, e.g. `--by`).
    pub by_whom: String,
    /// Why.
    pub reason: String,
}

/// Filters of `ListPenaltyDecisions`. Empty strings mean "any".
#[derive(Debug, Clone, Default)]
pub struct DecisionFilter {
    /// Party credit code.
    pub party_credit_code: String,
    /// State.
    pub state: Option<DecisionState>,
    /// Decided on or after (ISO date).
    pub decided_from: Option<NaiveDate>,
    /// Decided on or before.
    pub decided_to: Option<NaiveDate>,
    /// Deciding authority's credit code.
    pub authority_code: String,
}

/// Filters of `ListDisclosures`.
#[derive(Debug, Clone, Default)]
pub struct DisclosureFilter {
    /// Party credit code.
    pub party_credit_code: String,
    /// Authority credit code.
    pub authority_code: String,
    /// State (callers restrict non-auditors to ACTIVE).
    pub state: Option<DisclosureState>,
    /// Decided on or after.
    pub decided_from: Option<NaiveDate>,
    /// Decided on or before.
    pub decided_to: Option<NaiveDate>,
}

impl DisclosureFilter {
    /// Whether the filter narrows the list beyond a state: by party,
    /// authority or decision date. On PostgreSQL such a page is read on the
    /// read connections that plan each statement for its values (a party's
    /// page through `disclosures_party`); the others keep one plan for every
    /// call (`postgres::page_read_options`), which suits only the pages
    /// walked in id order.
    pub fn narrows(&self) -> bool {
        !self.party_credit_code.is_empty()
            || !self.authority_code.is_empty()
            || self.decided_from.is_some()
            || self.decided_to.is_some()
    }
}

/// What an export reads, sent in order through a bounded channel.
#[derive(Debug)]
pub enum ExportItem {
    /// First: the feed position the snapshot corresponds to.
    Start {
        /// Every change up to this sequence is reflected, none after.
        as_of_sequence: i64,
    },
    /// A batch of active records, in id order.
    Rows(Vec<PublicRecord>),
}

/// Storage of gongshi. Reads are single statements; writes go through a
/// [`Tx`] so that each RPC commits all or nothing.
#[async_trait]
pub trait Store: RepairStore + NoticeStore + CalendarStore + PublicStore + Send + Sync + 'static {
    /// `postgres` or `sqlite`.
    fn backend(&self) -> &'static str;
    /// Applies this backend's migrations.
    async fn migrate(&self) -> Result<()>;
    /// Checks the database answers, on a dedicated connection kept between
    /// calls (re-made after a failure), so it neither waits for nor disturbs
    /// the pool.
    async fn ping(&self) -> Result<()>;
    /// Begins a write transaction.
    async fn begin(&self) -> Result<Box<dyn Tx>>;

    /// A decision by id.
    async fn get_decision(&self, id: &str) -> Result<Option<DecisionRow>>;
    /// The decisions with these ids (those that exist, in id order), in one
    /// query: what a page of a list needs for its audit records.
    async fn get_decisions(&self, ids: &[String]) -> Result<Vec<DecisionRow>>;
    /// `(disclosure id, decision id)` of the disclosures with these ids, in
    /// one query.
    async fn decisions_of_disclosures(&self, disclosure_ids: &[String]) -> Result<Vec<(String, String)>>;
    /// Decisions after `after_id` in id order.
    async fn list_decisions(&self, f: &DecisionFilter, after_id: &str, limit: i64) -> Result<Vec<DecisionRow>>;
    /// Events of a decision with id > `after_id`.
    async fn list_events(&self, decision_id: &str, after_id: i64, limit: i64) -> Result<Vec<EventRow>>;
    /// A disclosure by id.
    async fn get_disclosure(&self, id: &str) -> Result<Option<DisclosureRow>>;
    /// Disclosures after `after_id` in id order.
    async fn list_disclosures(&self, f: &DisclosureFilter, after_id: &str, limit: i64) -> Result<Vec<DisclosureRow>>;
    /// A disclosure's state and its stored `Disclosure` encoding (src/wire.rs);
    /// a row without one (cleared by a plain UPDATE, migration 0010) is
    /// encoded from its columns, as the decoded path does.
    async fn get_disclosure_encoded(&self, id: &str) -> Result<Option<(DisclosureState, bytes::Bytes)>>;
    /// The stored `Disclosure` encodings of the disclosures after `after_id`
    /// in id order, each with its id: only the key and the encoded column
    /// are read (the whole rows, encoded here, only for a page with a row
    /// without its encoding).
    async fn list_disclosures_encoded(
        &self,
        f: &DisclosureFilter,
        after_id: &str,
        limit: i64,
    ) -> Result<Vec<(String, bytes::Bytes)>>;
    /// Changes with sequence > `after`, in order, with their records
    /// encoded: the stored encoding for a change of the current version
    /// (the common case, no content read), encoded from the version's
    /// content for an older one or a disclosure without its encoding.
    async fn list_changes_encoded(&self, after: i64, limit: i64) -> Result<Vec<EncodedChange>>;
    /// The feed's head: the highest change sequence committed (0 for an
    /// empty feed). Feed writers are serialised until commit (`feed_lock`),
    /// so while the head stays the same no change has been appended.
    async fn feed_head(&self) -> Result<i64>;
    /// Changes with sequence > `after`, in order.
    async fn list_changes(&self, after: i64, limit: i64) -> Result<Vec<ChangeView>>;
    /// Reads every active record from one consistent snapshot into `out`.
    async fn export_active(&self, batch: i64, out: mpsc::Sender<Result<ExportItem>>) -> Result<()>;
    /// Active disclosures whose publicity ended before `today`.
    async fn expiry_candidates(&self, today: NaiveDate, limit: i64) -> Result<Vec<String>>;

    /// Stores a new key.
    async fn insert_key(&self, k: &KeyRow) -> Result<()>;
    /// A key by id.
    async fn get_key(&self, id: &str) -> Result<Option<KeyRow>>;
    /// All keys.
    async fn list_keys(&self) -> Result<Vec<KeyRow>>;
    /// Revokes a key; false when there is no such key or it was revoked already.
    async fn revoke_key(&self, id: &str, at: Micros) -> Result<bool>;
    /// Revokes a key and appends `ev` (kind `REVOKED`) to its record, in one
    /// transaction; false (nothing written) when there is no such active key.
    async fn revoke_key_recorded(&self, ev: &KeyEvent) -> Result<bool>;
    /// The record of a key (who revoked it, when, why), oldest first.
    async fn key_events(&self, key_id: &str) -> Result<Vec<KeyEvent>>;

    /// The figures behind the operator's gauges, as of `today` (CST).
    async fn operational_figures(&self, today: NaiveDate) -> Result<OperationalFigures>;
    /// The pool's connections now (no query).
    fn pool_stats(&self) -> PoolStats;
    /// Versions of this build's migrations that the database has not applied
    /// successfully (empty: current). Runs on the health probe's connection,
    /// like [`Store::ping`], so a busy pool does not delay the answer.
    async fn pending_migrations(&self) -> Result<Vec<i64>>;
}

/// What the operator's gauges show (`crate::app::metrics`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationalFigures {
    /// Sequence of the newest feed change (0: none yet).
    pub feed_head_sequence: i64,
    /// Disclosures in state ACTIVE.
    pub disclosures_active: i64,
    /// Open repair applications per state (states with none are absent).
    pub repairs_open: Vec<(RepairState, i64)>,
    /// Open repair applications past a due date on `today`: submitted past
    /// acceptance or overall due, accepted past decision or overall due
    /// (`domain::repair::overdue`).
    pub repairs_overdue: i64,
}

/// A pool's connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open (idle or in use).
    pub size: u32,
    /// Of which idle.
    pub idle: u32,
    /// Most the pool may open.
    pub max: u32,
}

/// One write transaction. Dropping it without [`Tx::commit`] rolls back.
#[async_trait]
pub trait Tx: RepairTx + NoticeTx + CalendarTx + Send {
    /// A decision, locked for the rest of the transaction.
    async fn decision_for_update(&mut self, id: &str) -> Result<Option<DecisionRow>>;
    /// The decision created by an earlier request with this idempotency key.
    async fn decision_by_request_key(&mut self, request_key: &str) -> Result<Option<DecisionRow>>;
    /// Inserts a decision; `false` when the request key or (authority,
    /// decision number) already exists, in which case nothing was written.
    async fn insert_decision(&mut self, row: &DecisionRow, request_key: Option<&str>) -> Result<bool>;
    /// Rewrites a decision (content, meta, state, version).
    async fn update_decision(&mut self, row: &DecisionRow) -> Result<()>;
    /// A disclosure, locked for the rest of the transaction.
    async fn disclosure_for_update(&mut self, id: &str) -> Result<Option<DisclosureRow>>;
    /// Inserts a disclosure and its first content version.
    async fn insert_disclosure(&mut self, row: &DisclosureRow) -> Result<()>;
    /// Updates a disclosure; with `new_version`, also stores its content as a
    /// new version.
    async fn update_disclosure(&mut self, row: &DisclosureRow, new_version: bool) -> Result<()>;
    /// Appends an event to a decision's record.
    async fn append_event(&mut self, ev: &NewEvent) -> Result<i64>;
    /// Appends a change to the feed and returns its sequence. Call it last,
    /// just before commit: on PostgreSQL it serialises feed writers until
    /// commit so that sequences become visible in order.
    async fn append_change(&mut self, ch: &NewChange) -> Result<i64>;
    /// Commits.
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Dedicated read connections by default: enough to keep two cores busy
/// while some wait on the database (BENCHMARKS.md, issue 18).
pub const DEFAULT_READ_CONNECTIONS: u32 = 4;

/// Told how long each wait for a pooled connection took (successful or not).
pub type AcquireObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// Options for opening a store.
#[derive(Clone)]
pub struct StoreOptions {
    /// Maximum pooled connections.
    pub max_connections: u32,
    /// Dedicated connections for the public reads (`GetDisclosure`,
    /// `ListDisclosures`, the feed), beside the pool (see `readers`).
    pub read_connections: u32,
    /// How long to wait for a connection before answering UNAVAILABLE.
    pub acquire_timeout: std::time::Duration,
    /// Told every pool acquire's wait (the `gongshi_db_pool_acquire_seconds` histogram).
    pub on_acquire: Option<AcquireObserver>,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("max_connections", &self.max_connections)
            .field("read_connections", &self.read_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("on_acquire", &self.on_acquire.is_some())
            .finish()
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            read_connections: DEFAULT_READ_CONNECTIONS,
            acquire_timeout: std::time::Duration::from_secs(5),
            on_acquire: None,
        }
    }
}

/// A pooled connection idle longer than this is pinged before it is handed
/// out; one in steady use is not. sqlx's default (`test_before_acquire`) pings
/// before every use, and it pings again on every release, so a one-query read
/// paid three round trips to the database (on PostgreSQL 263 µs of machine
/// CPU per pooled read against 110 µs on a bare connection; BENCHMARKS.md).
/// A connection that died while idle (a database restart) is still caught
/// here, since requests stop while the health check sees the database down;
/// one that dies while in use fails its query, as it would anyway.
pub const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The pool's `before_acquire` hook: [`IDLE_CHECK`] as code.
pub fn check_if_idle<C: sqlx::Connection>(
    conn: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, std::result::Result<bool, sqlx::Error>> {
    Box::pin(async move {
        if meta.idle_for >= IDLE_CHECK {
            conn.ping().await?;
        }
        Ok(true)
    })
}

/// The settings of every pool the store opens, `max_connections` at most:
/// no ping on acquire, [`check_if_idle`] instead. (The load generator's
/// references use it, so they measure the same pool.)
pub fn pool_options<DB: sqlx::Database>(max_connections: u32) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .before_acquire(check_if_idle)
}

/// Opens the store the URL names: `postgres://…` / `postgresql://…` or
/// `sqlite:…` (the file and its directory are created if missing).
pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url, opts).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, opts).await?))
    } else {
        Err(StoreError::Other(format!(
            "unsupported database URL scheme in {:?}: use postgres://… or sqlite:…",
            redact_url(url)
        )))
    }
}

/// The URL with any password replaced by `***`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    // scheme://user:password@host/… → scheme://user:***@host/…
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        if let Some(at) = rest.find('@') {
            let creds = &rest[..at];
            if let Some(colon) = creds.find(':') {
                return format!("{}://{}:***@{}", &url[..scheme_end], &creds[..colon], &rest[at + 1..]);
            }
        }
    }
    url.to_string()
}

/// Classifies an sqlx error.
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        // A connection cut mid-message (the server went away).
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            match code.as_str() {
                // PostgreSQL: serialization_failure, deadlock_detected, lock_not_available
                "40001" | "40P01" | "55P03" => StoreError::Conflict(e.to_string()),
                // PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now, connection errors
                "57P01" | "57P02" | "57P03" | "08000" | "08003" | "08006" | "08001" | "08004" => {
                    StoreError::Unavailable(e.to_string())
                }
                // unique_violation (PostgreSQL); SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY
                "23505" | "2067" | "1555" => StoreError::Duplicate(e.to_string()),
                // SQLite: SQLITE_BUSY, SQLITE_LOCKED (and extended codes)
                "5" | "6" | "261" | "517" | "262" => StoreError::Conflict(e.to_string()),
                _ => StoreError::Other(e.to_string()),
            }
        }
        _ => StoreError::Other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    /// Only a filter by party, authority or date narrows a list (and sends
    /// its pages to the read connections that plan for their values); a
    /// state alone walks the ids like no filter.
    #[test]
    fn a_filter_narrows_by_party_authority_or_date_not_by_state() {
        use super::DisclosureFilter;
        use crate::domain::lifecycle::DisclosureState;
        let day = chrono::NaiveDate::from_ymd_opt(2026, 5, 6);
        let none = DisclosureFilter::default();
        let cases = [
            ("no filter", none.clone(), false),
            (
                "a state",
                DisclosureFilter {
                    state: Some(DisclosureState::Active),
                    ..none.clone()
                },
                false,
            ),
            (
                "a party",
                DisclosureFilter {
                    party_credit_code: "91310115MA1K4AAAAA".into(),
                    ..none.clone()
                },
                true,
            ),
            (
                "an authority",
                DisclosureFilter {
                    authority_code: "11310115MB0000000X".into(),
                    ..none.clone()
                },
                true,
            ),
            (
                "decided from",
                DisclosureFilter {
                    decided_from: day,
                    ..none.clone()
                },
                true,
            ),
            (
                "decided to",
                DisclosureFilter {
                    decided_to: day,
                    ..none.clone()
                },
                true,
            ),
        ];
        for (what, filter, narrows) in cases {
            assert_eq!(filter.narrows(), narrows, "{what}");
        }
    }

    /// No statement takes its `LIMIT` as a bare parameter. SQLite (3.47 and
    /// later, as bundled) reads a bare `LIMIT $n`'s bound value when it plans
    /// and marks the statement to be planned again whenever `$n` is bound
    /// anew, which sqlx does on every call: every page read was parsed and
    /// planned again, 8-18% of the reading thread's time (BENCHMARKS.md,
    /// session 12). `LIMIT CAST($n AS BIGINT)` is planned once.
    #[test]
    fn no_statement_limits_by_a_bare_parameter() {
        // Every source of the store but this file, whose comments name the pattern.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
        let mut sources = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("src/store") {
            let path = entry.expect("entry").path();
            let file = path
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or_default()
                .to_string();
            if file.ends_with(".rs") && file != "mod.rs" {
                sources.push((file, std::fs::read_to_string(&path).expect("read")));
            }
        }
        let names: Vec<&str> = sources.iter().map(|(f, _)| f.as_str()).collect();
        assert!(
            names.contains(&"sql.rs") && names.contains(&"sqlite.rs"),
            "the store's sources: {names:?}"
        );
        for (file, text) in &sources {
            for (n, line) in text.lines().enumerate() {
                let squeezed: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(
                    !squeezed.contains("LIMIT $") && !squeezed.contains("OFFSET $"),
                    "src/store/{file}:{}: a bare LIMIT/OFFSET parameter: {line}",
                    n + 1
                );
            }
        }
    }

    #[test]
    fn password_is_redacted() {
        assert_eq!(
            redact_url("postgres://gs:s3cret@db:5432/gongshi"),
            "postgres://gs:***@db:5432/gongshi"
        );
        assert_eq!(redact_url("sqlite:data/g.db"), "sqlite:data/g.db");
    }
}
