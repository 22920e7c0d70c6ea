//! PostgreSQL backend.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::calendar_sql::{RawCalendarDay, RawCalendarLoad, RawCalendarYear, calendar_snapshot_on, sql_calendar};
use super::notice_sql::{RawBundle, RawPdf, attach_pdfs, sql_notice};
use super::public_sql::sql_public;
use super::repair_sql::{RawRepair, RawRepairEvent, encode_doc, opt_date, sql_repair};
use super::sql::{
    RawChange, RawDecision, RawDisclosure, RawEncodedChange, RawEvent, RawKey, date_str, json, parse_enum, sql_store,
    to_json,
};
use super::{Result, StoreOptions, classify, redact_url};

/// PostgreSQL store: for production and for several instances on one database.
pub struct PgStore {
    pool: PgPool,
    /// Told how long each acquire waited (see `StoreOptions::on_acquire`).
    on_acquire: Option<super::AcquireObserver>,
    /// The public reads' own connections (issue 18): the feed's pages and
    /// the list pages narrowed by party, authority or date.
    readers: std::sync::Arc<super::Readers<sqlx::Postgres>>,
    /// The same, keeping one plan per statement (`page_read_options`): the
    /// gathered gets and the list pages walked in id order.
    page_readers: std::sync::Arc<super::Readers<sqlx::Postgres>>,
    /// `GetDisclosure`'s reads, gathered (on `page_readers`).
    gets: super::Gets<sqlx::Postgres>,
    /// The health probe's own connection (see `Store::ping`).
    probe: tokio::sync::Mutex<Option<sqlx::PgConnection>>,
}

impl PgStore {
    const BACKEND: &'static str = "postgres";

    /// Connects a pool. Connections are made lazily, so a server can start
    /// while the database is down and serve once it returns.
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections)
            .test_before_acquire(false)
            .before_acquire(super::check_if_idle)
            .acquire_timeout(opts.acquire_timeout)
            .connect(url)
            .await
            .map_err(|e| {
                let e = classify(e);
                tracing::warn!(url = %redact_url(url), error = %e, "cannot connect to PostgreSQL");
                e
            })?;
        let readers_with = |options: PgConnectOptions| {
            std::sync::Arc::new(super::Readers::new(
                opts.read_connections,
                std::sync::Arc::new(options),
                opts.on_acquire.clone(),
                opts.acquire_timeout,
            ))
        };
        let readers = readers_with(read_options((*pool.connect_options()).clone()));
        let page_readers = readers_with(page_read_options((*pool.connect_options()).clone()));
        Ok(PgStore {
            gets: super::Gets::new(page_readers.clone(), Self::read_encoded),
            readers,
            page_readers,
            pool,
            on_acquire: opts.on_acquire.clone(),
            probe: tokio::sync::Mutex::new(None),
        })
    }
}

/// The public reads' connection settings: no parallel query.
///
/// Their statements are keyset pages (at most 1,000 feed changes, 100
/// records) and gathered look-ups. With parallel query allowed, PostgreSQL 15
/// planned a feed page over 1,000,000 records as a Gather Merge with two
/// workers: 16–18 ms a page, about 6 ms of it before the first row, against
/// 3.9–4.6 ms for the same page as a plain nested loop (EXPLAIN ANALYZE,
/// BENCHMARKS.md, session 11). Starting workers costs more than the work.
pub fn read_options(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("max_parallel_workers_per_gather", "0")])
}

/// [`read_options`], keeping one plan per statement
/// (`plan_cache_mode = force_generic_plan`): the connections of the gathered
/// gets and of the list pages walked in id order.
///
/// PostgreSQL planned the list page anew on every call (a custom plan:
/// 41–114 µs of planning against 30–38 µs of execution for the first page of
/// 100), because the generic plan's estimate (unknown `id > $1`, unknown
/// limit) never beat the custom ones, though both are the same index scan
/// of `disclosures_pkey`. The gets' generic plan is the custom one too, a
/// nested loop over `disclosures_pkey`. The feed's pages stay on
/// [`read_options`]: on every connection with this setting, feed pages at
/// 1,000,000 records were read at less than half the rate (BENCHMARKS.md,
/// session 13). So do list pages narrowed by party, authority or date,
/// whose best plan depends on the values (`DisclosureFilter::narrows`).
pub fn page_read_options(options: PgConnectOptions) -> PgConnectOptions {
    read_options(options).options([("plan_cache_mode", "force_generic_plan")])
}

sql_store!(
    store = PgStore,
    tx = PgTx,
    db = sqlx::Postgres,
    migrations = "./migrations/postgres",
    begin = "BEGIN",
    // Updates never change a key, so foreign-key checks elsewhere need not wait.
    for_update = "FOR NO KEY UPDATE",
    // 0x67_73_66_64 = "gsfd": the gongshi feed lock.
    feed_lock = "SELECT pg_advisory_xact_lock(1735616100)",
    export_begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    id_list = "(SELECT jsonb_array_elements_text(CAST($1 AS jsonb)))",
    expiry_index = "",
    // Rows arrive in one buffer from the server; nothing to gain.
    page_as_one_row = false,
);

sql_repair!(
    store = PgStore,
    tx = PgTx,
    db = sqlx::Postgres,
    for_update = "FOR NO KEY UPDATE"
);
sql_notice!(
    store = PgStore,
    tx = PgTx,
    db = sqlx::Postgres,
    for_update = "FOR NO KEY UPDATE"
);
sql_calendar!(
    store = PgStore,
    tx = PgTx,
    db = sqlx::Postgres,
    for_share = "FOR SHARE",
    for_update = "FOR UPDATE",
);
sql_public!(
    store = PgStore,
    tx = PgTx,
    db = sqlx::Postgres,
    contains = "strpos",
    distinct = "IS DISTINCT FROM",
    unindexed_index = "",
);
