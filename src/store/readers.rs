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

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::{ConnectOptions, Connection, Database};

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
