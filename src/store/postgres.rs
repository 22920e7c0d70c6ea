//! PostgreSQL backend.

use sqlx::postgres::PgConnectOptions;

use super::{Result, SqlStore, StoreOptions, classify, redact_url};

/// PostgreSQL store: for production and for several instances on one database.
pub type PgStore = SqlStore<sqlx::Postgres>;

impl PgStore {
    const BACKEND: &'static str = "postgres";

    /// Connects a pool. Connections are made lazily, so a server can start
    /// while the database is down and serve once it returns.
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Self> {
        let pool = super::pool_options::<sqlx::Postgres>(opts.max_connections)
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
        Ok(SqlStore {
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

super::sql::sql_backend!(
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
    calendar_for_share = "FOR SHARE",
    calendar_for_update = "FOR UPDATE",
    contains = "strpos",
    distinct = "IS DISTINCT FROM",
    unindexed_index = "",
);
