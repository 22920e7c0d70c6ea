//! Dedicated read connections for the public read paths (issue 18).
//!
//! `GetDisclosure`, `ListDisclosures` and the feed are one short read-only
//! statement each. Through sqlx's pool every such statement pays a second
//! round trip: the pool pings each connection as it comes back (its guard
//! against a statement cancelled half-way), which on SQLite is two more
//! hand-offs to the connection's thread and on PostgreSQL one more message
//! exchange with the server. [`Readers`] lends a small fixed set of
//! connections instead and guards against cancellation itself: a connection
//! comes back only after its statement finished; one whose call was dropped
//! half-way, or that failed below the database (I/O, protocol), is closed and
//! replaced by a new one on the next loan.
//!
//! Every call is a read, so one that fails on a reused connection because
//! the connection died (a database restart) is run again on another.
//!
//! [`Gets`] gathers the `GetDisclosure` reads waiting at one moment into one
//! statement (`WHERE id IN …`): under load a record costs the database, and
//! on SQLite the hand-offs to the connection's thread, a share of one
//! statement instead of a statement each. A read is never delayed to wait
//! for company: a worker takes whatever is waiting when it is free, alone
//! when nothing else is, and every read it takes was asked before its
//! statement starts, so each answer is at least as new as the request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use sqlx::{ConnectOptions, Connection, Database};
use tokio::sync::{mpsc, oneshot};

use super::{AcquireObserver, Result, classify};

/// A fixed number of read connections lent one per call.
pub(crate) struct Readers<DB: Database> {
    /// Connections not lent out; fewer than `size` while some are lent or
    /// after a broken one was closed (a new one is made on demand).
    idle: Mutex<Vec<DB::Connection>>,
    /// One permit per connection.
    permits: tokio::sync::Semaphore,
    /// How to open a new connection: the pool's own options.
    options: Arc<<DB::Connection as Connection>::Options>,
    /// Told how long each loan waited, as the pool's acquires are.
    on_acquire: Option<AcquireObserver>,
    /// How long a loan may wait for a free connection.
    acquire_timeout: Duration,
    /// How many connections (at least 1).
    size: usize,
}

impl<DB: Database> Readers<DB> {
    /// `size` connections (at least 1), opened as they are first needed.
    pub(crate) fn new(
        size: u32,
        options: Arc<<DB::Connection as Connection>::Options>,
        on_acquire: Option<AcquireObserver>,
        acquire_timeout: Duration,
    ) -> Self {
        let size = size.max(1) as usize;
        Readers {
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: tokio::sync::Semaphore::new(size),
            options,
            on_acquire,
            acquire_timeout,
            size,
        }
    }

    /// Lends a connection: wait for a permit (at most the acquire timeout),
    /// then an idle connection, or a new one when none is idle.
    pub(crate) async fn lend(&self) -> Result<Lent<'_, DB>> {
        let started = Instant::now();
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.acquire()).await;
        if let Some(observe) = &self.on_acquire {
            observe(started.elapsed());
        }
        let permit = match permit {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(classify(sqlx::Error::PoolClosed)),
            Err(_) => return Err(classify(sqlx::Error::PoolTimedOut)),
        };
        let (conn, reused) = match self.take() {
            Some(conn) => (conn, true),
            None => (self.options.connect().await.map_err(classify)?, false),
        };
        Ok(Lent {
            readers: self,
            conn,
            reused,
            _permit: permit,
        })
    }

    fn take(&self) -> Option<DB::Connection> {
        self.idle.lock().ok()?.pop()
    }

    fn put(&self, conn: DB::Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }
}

/// A lent connection. [`Lent::settle`] gives it back; dropped unsettled
/// (its call cancelled half-way), it is closed.
pub(crate) struct Lent<'r, DB: Database> {
    readers: &'r Readers<DB>,
    conn: DB::Connection,
    /// Taken idle (it may have died while idle), not opened for this loan.
    reused: bool,
    _permit: tokio::sync::SemaphorePermit<'r>,
}

/// What a settled loan says to do.
pub(crate) enum Settled<T> {
    /// The answer (an error already classified).
    Done(Result<T>),
    /// The reused connection had died: run the read again on another.
    Retry,
}

impl<DB: Database> Lent<'_, DB> {
    /// The connection, to run the read on.
    pub(crate) fn conn(&mut self) -> &mut DB::Connection {
        &mut self.conn
    }

    /// Gives the connection back after its read, or closes it when the
    /// read failed below the database; a read that failed so on a reused
    /// connection is to be run again. Each retry closes one dead idle
    /// connection, so retries end once a new connection is opened.
    pub(crate) fn settle<T>(self, out: std::result::Result<T, sqlx::Error>) -> Settled<T> {
        match out {
            Ok(value) => {
                self.readers.put(self.conn);
                Settled::Done(Ok(value))
            }
            Err(e) if broken(&e) => {
                drop(self.conn);
                if self.reused {
                    Settled::Retry
                } else {
                    Settled::Done(Err(classify(e)))
                }
            }
            Err(e) => {
                // A statement error leaves the connection usable.
                self.readers.put(self.conn);
                Settled::Done(Err(classify(e)))
            }
        }
    }
}

/// Runs a read on a connection lent by `$readers` (a [`Readers`]), with
/// `$conn` bound to it (`&mut` connection); `$body` is the read's future.
/// Evaluates to the read's `store::Result`.
macro_rules! lent_read {
    ($readers:expr, |$conn:ident| $body:expr) => {
        loop {
            let mut lent = $readers.lend().await?;
            let out = {
                let $conn = lent.conn();
                $body.await
            };
            match lent.settle(out) {
                $crate::store::readers::Settled::Done(result) => break result,
                $crate::store::readers::Settled::Retry => continue,
            }
        }
    };
}
pub(crate) use lent_read;

/// Whether an error says the connection itself is gone, not the statement.
fn broken(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed
    ) || matches!(e, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("57P01" | "57P02" | "57P03" | "08000" | "08003" | "08006")))
}

/// A record's stored state and encoding (`None`: not stored, see
/// `get_disclosure_encoded`), as [`Gets::get`] answers.
pub(crate) type StateAndEncoding = (String, Option<bytes::Bytes>);

/// One record as the gathered statement returns it: `(id, state, encoded)`.
pub(crate) type StoredRow = (String, String, Option<Vec<u8>>);

/// Reads `(id, state, encoded)` of the records whose ids a JSON array holds,
/// on one connection: the backend's statement for [`Gets`].
pub(crate) type ReadMany<DB> = for<'c> fn(
    &'c mut <DB as Database>::Connection,
    String,
) -> BoxFuture<'c, std::result::Result<Vec<StoredRow>, sqlx::Error>>;

/// At most this many reads in one statement.
pub(crate) const MAX_GATHERED: usize = 64;

/// One waiting read.
struct Wanted {
    id: String,
    reply: oneshot::Sender<Result<Option<StateAndEncoding>>>,
}

/// Single-record reads gathered into shared statements (see the module
/// documentation): one worker task per read connection, started on the first
/// read, takes every read waiting when it is free and answers each.
pub(crate) struct Gets<DB: Database> {
    readers: Arc<Readers<DB>>,
    read: ReadMany<DB>,
    /// The workers' queue; made, and the workers spawned, on the first read.
    queue: OnceLock<mpsc::UnboundedSender<Wanted>>,
}

impl<DB: Database> Gets<DB> {
    pub(crate) fn new(readers: Arc<Readers<DB>>, read: ReadMany<DB>) -> Self {
        Gets {
            readers,
            read,
            queue: OnceLock::new(),
        }
    }

    /// The state and stored encoding of record `id`, if it exists.
    pub(crate) async fn get(&self, id: &str) -> Result<Option<StateAndEncoding>> {
        let (reply, answer) = oneshot::channel();
        let wanted = Wanted {
            id: id.to_owned(),
            reply,
        };
        if self.queue().send(wanted).is_ok()
            && let Ok(answer) = answer.await
        {
            return answer;
        }
        // The workers are gone (the runtime that ran them ended): read alone.
        let mut found = read_gathered(&self.readers, self.read, &[id]).await?;
        Ok(found.remove(id))
    }

    fn queue(&self) -> &mpsc::UnboundedSender<Wanted> {
        self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let rx = Arc::new(tokio::sync::Mutex::new(rx));
            for _ in 0..self.readers.size {
                tokio::spawn(work(self.readers.clone(), self.read, rx.clone()));
            }
            tx
        })
    }
}

/// A worker: until the queue closes (its `Gets` dropped), takes the reads
/// waiting (up to [`MAX_GATHERED`]), reads them in one statement, answers each.
async fn work<DB: Database>(
    readers: Arc<Readers<DB>>,
    read: ReadMany<DB>,
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Wanted>>>,
) {
    let mut batch: Vec<Wanted> = Vec::with_capacity(MAX_GATHERED);
    loop {
        {
            let mut rx = queue.lock().await;
            match rx.recv().await {
                Some(first) => batch.push(first),
                None => return,
            }
            while batch.len() < MAX_GATHERED {
                match rx.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
        }
        // Reads whose callers went away are not made.
        batch.retain(|w| !w.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let ids: Vec<&str> = batch.iter().map(|w| w.id.as_str()).collect();
        match read_gathered(&readers, read, &ids).await {
            Ok(found) => {
                for w in batch.drain(..) {
                    let answer = found.get(&w.id).cloned();
                    let _ = w.reply.send(Ok(answer));
                }
            }
            Err(e) => {
                for w in batch.drain(..) {
                    let _ = w.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Reads `ids` in one statement on a lent connection: each found record's
/// state and encoding by id.
async fn read_gathered<DB: Database>(
    readers: &Readers<DB>,
    read: ReadMany<DB>,
    ids: &[&str],
) -> Result<HashMap<String, StateAndEncoding>> {
    let json = serde_json::to_string(ids).map_err(|e| super::StoreError::Other(format!("ids to JSON: {e}")))?;
    let rows = lent_read!(readers, |conn| read(conn, json.clone()))?;
    Ok(rows
        .into_iter()
        .map(|(id, state, encoded)| (id, (state, encoded.map(bytes::Bytes::from))))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

    use super::*;

    /// A database file with records `r0`..`r9` (`r3` without an encoding).
    async fn records(dir: &tempfile::TempDir) -> Arc<SqliteConnectOptions> {
        let path = dir.path().join("gets.db");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .expect("options")
            .create_if_missing(true);
        let mut conn = options.connect().await.expect("connect");
        sqlx::query("CREATE TABLE disclosures (id TEXT PRIMARY KEY, state TEXT NOT NULL, encoded BLOB)")
            .execute(&mut conn)
            .await
            .expect("create");
        for i in 0..10 {
            let encoded = (i != 3).then(|| format!("bytes of r{i}").into_bytes());
            sqlx::query("INSERT INTO disclosures VALUES ($1, 'PUBLISHED', $2)")
                .bind(format!("r{i}"))
                .bind(encoded)
                .execute(&mut conn)
                .await
                .expect("insert");
        }
        conn.close().await.expect("close");
        Arc::new(options)
    }

    fn readers(options: Arc<SqliteConnectOptions>, size: u32) -> Arc<Readers<sqlx::Sqlite>> {
        Arc::new(Readers::new(size, options, None, Duration::from_secs(5)))
    }

    /// Statements run by `counted_read`.
    static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

    /// Counts its statements in [`STATEMENTS`]: only the test that reads the
    /// count may use it (tests run at once, and another's statements would be
    /// counted with its own).
    fn counted_read(conn: &mut SqliteConnection, ids: String) -> BoxFuture<'_, sqlx::Result<Vec<StoredRow>>> {
        STATEMENTS.fetch_add(1, Ordering::SeqCst);
        plain_read(conn, ids)
    }

    fn plain_read(conn: &mut SqliteConnection, ids: String) -> BoxFuture<'_, sqlx::Result<Vec<StoredRow>>> {
        Box::pin(async move {
            sqlx::query_as("SELECT id, state, encoded FROM disclosures WHERE id IN (SELECT value FROM json_each($1))")
                .bind(ids)
                .fetch_all(&mut *conn)
                .await
        })
    }

    fn failing_read(conn: &mut SqliteConnection, ids: String) -> BoxFuture<'_, sqlx::Result<Vec<StoredRow>>> {
        Box::pin(async move {
            sqlx::query_as("SELECT id, state, encoded FROM no_such_table WHERE id IN (SELECT value FROM json_each($1))")
                .bind(ids)
                .fetch_all(&mut *conn)
                .await
        })
    }

    fn expected(id: &str) -> Option<StateAndEncoding> {
        let i: usize = id.strip_prefix('r')?.parse().ok()?;
        (i < 10).then(|| {
            let encoded = (i != 3).then(|| bytes::Bytes::from(format!("bytes of {id}")));
            ("PUBLISHED".to_owned(), encoded)
        })
    }

    /// Reads waiting together share a statement, and each caller gets its
    /// own record: duplicates, a record without an encoding, missing ids.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_reads_share_statements_and_each_gets_its_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let readers = readers(records(&dir).await, 1);
        let gets = Gets::new(readers.clone(), counted_read);
        // One read alone is one statement of its own.
        assert_eq!(gets.get("r1").await.expect("get"), expected("r1"));
        let before = STATEMENTS.load(Ordering::SeqCst);
        // With the only connection held, 100 reads wait (r0..r12: three
        // missing; each id asked about eight times) …
        let held = readers.lend().await.expect("lend");
        let ids: Vec<String> = (0..100).map(|i| format!("r{}", i % 13)).collect();
        let all = futures::future::join_all(ids.iter().map(|id| gets.get(id)));
        let release = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(held);
        };
        let (answers, ()) = tokio::join!(all, release);
        for (id, answer) in ids.iter().zip(answers) {
            assert_eq!(answer.expect("get"), expected(id), "{id}");
        }
        // … and are answered in at most three statements: what the worker
        // took before it waited for the connection, then up to 64 a time.
        let statements = STATEMENTS.load(Ordering::SeqCst) - before;
        assert!(
            (2..=3).contains(&statements),
            "100 waiting reads took {statements} statements"
        );
    }

    /// A failed statement fails every read it gathered, with the error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_statement_fails_each_of_its_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let readers = readers(records(&dir).await, 2);
        let gets = Gets::new(readers, failing_read);
        let answers = futures::future::join_all((0..20).map(|i| gets.get(if i % 2 == 0 { "r1" } else { "r2" }))).await;
        for answer in answers {
            let err = answer.expect_err("the table does not exist");
            assert!(err.to_string().contains("no_such_table"), "{err}");
        }
    }

    /// When the runtime that ran the workers has ended, a read is made alone.
    #[test]
    fn reads_are_made_alone_once_the_workers_are_gone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = tokio::runtime::Runtime::new().expect("runtime");
        let (readers, gets) = first.block_on(async {
            let readers = readers(records(&dir).await, 1);
            let gets = Gets::new(readers.clone(), plain_read);
            assert_eq!(gets.get("r2").await.expect("get"), expected("r2"));
            (readers, gets)
        });
        drop(first);
        let second = tokio::runtime::Runtime::new().expect("runtime");
        second.block_on(async {
            assert_eq!(gets.get("r4").await.expect("get"), expected("r4"));
            assert_eq!(gets.get("r11").await.expect("get"), None);
            // The connection is still lent and given back as before.
            drop(readers.lend().await.expect("lend"));
        });
    }
}
