//! SQLite backend: the embedded default, needing no server.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use super::{Result, SqlStore, StoreError, StoreOptions, classify};

/// SQLite store. One writer at a time (`BEGIN IMMEDIATE`), so commit order is
/// sequence order; WAL lets readers and an export run beside the writer.
pub type SqliteStore = SqlStore<sqlx::Sqlite>;

impl SqliteStore {
    const BACKEND: &'static str = "sqlite";

    /// Opens (creating if missing) the database file and its directory.
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Self> {
        let options = connect_options(url)?;
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Other(format!("cannot create database directory {}: {e}", dir.display())))?;
        }
        let pool = super::pool_options::<sqlx::Sqlite>(opts.max_connections.clamp(1, 64))
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(options.clone())
            .await
            .map_err(classify)?;
        let readers = std::sync::Arc::new(super::Readers::new(
            opts.read_connections,
            std::sync::Arc::new(read_options(options)),
            opts.on_acquire.clone(),
            opts.acquire_timeout,
        ));
        Ok(SqlStore {
            gets: super::Gets::new(readers.clone(), Self::read_encoded),
            page_readers: readers.clone(),
            readers,
            pool,
            on_acquire: opts.on_acquire.clone(),
            probe: tokio::sync::Mutex::new(None),
        })
    }
}

/// The settings of every SQLite connection the store opens (the load
/// generator's references use them too): the file created if missing, WAL,
/// `synchronous = NORMAL`, a 30 s busy timeout, foreign keys on.
pub fn connect_options(url: &str) -> Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Other(format!("bad SQLite URL: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL in WAL mode: a process crash loses nothing committed.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(std::time::Duration::from_secs(30))
        .foreign_keys(true))
}

/// The options of the public reads' connections (`store::readers`): the
/// pool's, with room for a whole feed page of rows between the connection's
/// thread and the caller, so the thread never waits for the caller in the
/// middle of a page. (Mapping the file, `mmap_size`, was tried: it sped the
/// feed's read but counted every mapped page of the file in the server's
/// RSS, 1.7 GiB at 1,000,000 records; BENCHMARKS.md, issue 18.)
pub fn read_options(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options.row_buffer_size(1024)
}

super::sql::sql_backend!(
    store = SqliteStore,
    tx = SqliteTx,
    db = sqlx::Sqlite,
    migrations = "./migrations/sqlite",
    begin = "BEGIN IMMEDIATE",
    for_update = "",
    feed_lock = "SELECT 1",
    export_begin = "BEGIN",
    id_list = "(SELECT value FROM json_each($1))",
    // Without statistics SQLite reads every active row through
    // `disclosures_state` instead (see `sql_store!`).
    expiry_index = "INDEXED BY disclosures_expiry",
    // One hand-off between the connection's thread and the caller per list
    // page, not one per record (see `sql_store!`).
    page_as_one_row = true,
    calendar_for_share = "",
    calendar_for_update = "",
    contains = "instr",
    distinct = "IS NOT",
    // As `expiry_index`: the partial index of the rows still to index.
    unindexed_index = "INDEXED BY disclosures_unindexed",
);

#[cfg(test)]
mod tests {
    use super::SqliteStore;
    use crate::store::{Store, StoreOptions};

    /// The details of `EXPLAIN QUERY PLAN sql` on a migrated, empty store
    /// (no statistics, as every SQLite database the service makes).
    async fn plan(store: &SqliteStore, sql: &str, binds: usize) -> String {
        let mut q = sqlx::query_as::<sqlx::Sqlite, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {sql}"
        )));
        for _ in 0..binds {
            q = q.bind("2026-12-07");
        }
        let rows = q.fetch_all(&store.pool).await.expect("explain");
        rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
    }

    /// The expiry sweep (every minute) and the search backfill (every start)
    /// read their partial indexes. Left to itself SQLite's planner reads
    /// every active disclosure through `disclosures_state` for both: a full
    /// pass over the table, 1.6 s at 1,000,000 records.
    #[tokio::test]
    async fn sweeps_read_their_partial_indexes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("plan.db").display());
        let store = SqliteStore::connect(&url, &StoreOptions::default())
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        let expiry = plan(&store, SqliteStore::EXPIRY_CANDIDATES_SQL, 2).await;
        assert!(
            expiry.contains("USING INDEX disclosures_expiry") && !expiry.contains("disclosures_state"),
            "expiry sweep plan: {expiry}"
        );
        let unindexed = plan(&store, SqliteStore::UNINDEXED_SQL, 0).await;
        assert!(
            unindexed.contains("USING INDEX disclosures_unindexed") && !unindexed.contains("disclosures_state"),
            "search backfill plan: {unindexed}"
        );
    }
}
