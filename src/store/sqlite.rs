//! SQLite backend: the embedded default, needing no server.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::calendar_sql::{RawCalendarDay, RawCalendarLoad, RawCalendarYear, calendar_snapshot_on, sql_calendar};
use super::notice_sql::{RawBundle, RawPdf, attach_pdfs, sql_notice};
use super::public_sql::sql_public;
use super::repair_sql::{RawRepair, RawRepairEvent, encode_doc, opt_date, sql_repair};
use super::sql::{
    RawChange, RawDecision, RawDisclosure, RawEncodedChange, RawEvent, RawKey, date_str, json, parse_enum, sql_store,
    to_json,
};
use super::{Result, StoreError, StoreOptions, classify};

/// SQLite store. One writer at a time (`BEGIN IMMEDIATE`), so commit order is
/// sequence order; WAL lets readers and an export run beside the writer.
pub struct SqliteStore {
    pool: SqlitePool,
    /// Told how long each acquire waited (see `StoreOptions::on_acquire`).
    on_acquire: Option<super::AcquireObserver>,
    /// The public reads' own connections (issue 18).
    readers: std::sync::Arc<super::Readers<sqlx::Sqlite>>,
    /// `GetDisclosure`'s reads, gathered (on `readers`).
    gets: super::Gets<sqlx::Sqlite>,
    /// The health probe's own connection (see `Store::ping`).
    probe: tokio::sync::Mutex<Option<sqlx::SqliteConnection>>,
}

impl SqliteStore {
    const BACKEND: &'static str = "sqlite";

    /// Opens (creating if missing) the database file and its directory.
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a process crash loses nothing committed.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(30))
            .foreign_keys(true);
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Other(format!("cannot create database directory {}: {e}", dir.display())))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.clamp(1, 64))
            .test_before_acquire(false)
            .before_acquire(super::check_if_idle)
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
        Ok(SqliteStore {
            gets: super::Gets::new(readers.clone(), Self::read_encoded),
            readers,
            pool,
            on_acquire: opts.on_acquire.clone(),
            probe: tokio::sync::Mutex::new(None),
        })
    }
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

sql_store!(
    store = SqliteStore,
    tx = SqliteTx,
    db = sqlx::Sqlite,
    migrations = "./migrations/sqlite",
    begin = "BEGIN IMMEDIATE",
    for_update = "",
    feed_lock = "SELECT 1",
    export_begin = "BEGIN",
    id_list = "(SELECT value FROM json_each($1))",
);

sql_repair!(store = SqliteStore, tx = SqliteTx, db = sqlx::Sqlite, for_update = "");
sql_notice!(store = SqliteStore, tx = SqliteTx, db = sqlx::Sqlite, for_update = "");
sql_calendar!(
    store = SqliteStore,
    tx = SqliteTx,
    db = sqlx::Sqlite,
    for_share = "",
    for_update = "",
);
sql_public!(
    store = SqliteStore,
    tx = SqliteTx,
    db = sqlx::Sqlite,
    contains = "instr",
    distinct = "IS NOT",
);
