//! Plain-SQL references for the read scenarios: the store's own `get`,
//! `list` and feed queries (those of the answers served from stored bytes,
//! issue 18) run by this process straight on the database, each
//! row decoded into its columns (no JSON parse, no protobuf, no gRPC; on
//! SQLite a list or feed page is one aggregated row, as the store reads it), on
//! connections of their own without a pool's per-use checks (sqlx's pool pings
//! a connection before handing it out and again when it comes back): the
//! cheapest read of the rows a response must carry. A `GetDisclosure` or a
//! page cannot cost the machine less than its share of this read plus the gRPC
//! work measured by the matching `*-floor` scenario (`floor.rs`), which bounds
//! the ratio any implementation on this machine can reach (see `add_ratios`).
//!
//! `Pool` is also here: a sqlx pool like the server's, for `submit-sql`.

use std::sync::Arc;
use std::time::Instant;

use gongshi::config::Config;

use crate::scenarios::{Outcome, Rec, Setup, timed};

/// A pool on the benchmark's database like the server's: its size, its
/// check of idle connections (`gongshi::store::IDLE_CHECK`) and, on SQLite,
/// the store's connection settings (WAL, synchronous NORMAL, 30 s busy
/// timeout, foreign keys), so a reference differs from the server only in the work.
pub enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// The server's pool size: `GONGSHI_MAX_CONNECTIONS` as gongshi reads it,
/// else gongshi's default. The load generator passes it to the server it
/// starts and uses it for the references.
pub fn pool_size() -> u32 {
    std::env::var("GONGSHI_MAX_CONNECTIONS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(Config::default().max_connections)
}

impl Pool {
    pub async fn open(url: &str) -> Result<Pool, String> {
        let size = pool_size();
        if url.starts_with("sqlite:") {
            let options = gongshi::store::sqlite_connect_options(url).map_err(|e| e.to_string())?;
            let pool = gongshi::store::pool_options(size)
                .connect_with(options)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Pool::Sqlite(pool))
        } else {
            let pool = gongshi::store::pool_options(size)
                .connect(url)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Pool::Postgres(pool))
        }
    }
}

/// One connection of the reference's own (SQLite with the store's settings).
enum Conn {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

/// `pool_size()` connections opened up front and lent out one per query,
/// with no check on the way out or back.
pub struct Conns {
    idle: std::sync::Mutex<Vec<Conn>>,
    permits: tokio::sync::Semaphore,
}

impl Conns {
    /// Connections set as the server's for gets and list pages (on
    /// PostgreSQL `page_read_options`: one plan per statement).
    pub async fn open(url: &str) -> Result<Arc<Conns>, String> {
        Conns::open_as(url, gongshi::store::postgres_page_read_options).await
    }

    /// Connections set as the server's for feed pages (on PostgreSQL
    /// `read_options`).
    pub async fn open_for_feed(url: &str) -> Result<Arc<Conns>, String> {
        Conns::open_as(url, gongshi::store::postgres_read_options).await
    }

    async fn open_as(
        url: &str,
        postgres: fn(sqlx::postgres::PgConnectOptions) -> sqlx::postgres::PgConnectOptions,
    ) -> Result<Arc<Conns>, String> {
        use sqlx::Connection as _;
        let n = pool_size() as usize;
        let mut idle = Vec::with_capacity(n);
        for _ in 0..n {
            idle.push(if url.starts_with("sqlite:") {
                // As the server's read connections are set (store::readers).
                let options = gongshi::store::sqlite_read_options(
                    gongshi::store::sqlite_connect_options(url).map_err(|e| e.to_string())?,
                );
                Conn::Sqlite(
                    sqlx::SqliteConnection::connect_with(&options)
                        .await
                        .map_err(|e| e.to_string())?,
                )
            } else {
                // As the server's read connections are set (store::postgres).
                let options = postgres(
                    <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(url)
                        .map_err(|e| e.to_string())?,
                );
                Conn::Postgres(
                    sqlx::PgConnection::connect_with(&options)
                        .await
                        .map_err(|e| e.to_string())?,
                )
            });
        }
        Ok(Arc::new(Conns {
            idle: std::sync::Mutex::new(idle),
            permits: tokio::sync::Semaphore::new(n),
        }))
    }

    fn take(&self) -> Option<Conn> {
        self.idle.lock().ok()?.pop()
    }

    fn put(&self, c: Conn) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(c);
        }
    }
}

/// Runs `$body` with `$conn` bound to a lent connection (`&mut` of the
/// backend's connection type); the connection goes back afterwards.
/// `on_conn!(conns, sqlite(c) => a, postgres(c) => b)`: a body for each backend,
/// where the store reads differently.
macro_rules! on_conn {
    ($conns:expr, |$conn:ident| $body:expr) => {
        on_conn!($conns, sqlite($conn) => $body, postgres($conn) => $body)
    };
    ($conns:expr, sqlite($sconn:ident) => $sbody:expr, postgres($pconn:ident) => $pbody:expr) => {{
        let conns = &$conns;
        match conns.permits.acquire().await {
            Err(e) => Err(sqlx::Error::Protocol(e.to_string())),
            Ok(_permit) => match conns.take() {
                None => Err(sqlx::Error::Protocol("no idle connection".into())),
                Some(mut c) => {
                    let out = match &mut c {
                        Conn::Sqlite($sconn) => $sbody,
                        Conn::Postgres($pconn) => $pbody,
                    };
                    conns.put(c);
                    out
                }
            },
        }
    }};
}

/// The store's `get_disclosure_encoded` query: the state and the stored encoding.
const GET_SQL: &str = "SELECT state, encoded FROM disclosures WHERE id = $1";

/// The store's `list_disclosures_encoded` query, bound as an unfiltered list
/// of active records: row by row on PostgreSQL, as one aggregated row on
/// SQLite (`LIST_PAGE_ONE_ROW_SQL`), as the store reads it.
const LIST_SQL: &str = gongshi::store::LIST_PAGE_SQL;
const LIST_ONE_ROW_SQL: &str = gongshi::store::LIST_PAGE_ONE_ROW_SQL;

/// What the get and list queries read.
type EncodedColumns = (String, Option<Vec<u8>>);

/// The store's `get_disclosure` read of `id`.
pub async fn read_one(conns: &Conns, id: &str) -> Result<Option<impl Send + 'static>, sqlx::Error> {
    on_conn!(conns, |conn| {
        sqlx::query_as::<_, EncodedColumns>(GET_SQL)
            .bind(id)
            .fetch_optional(conn)
            .await
    })
}

/// `get-sql`: random records by id, C in flight.
pub async fn get(s: &Setup, ids: Arc<Vec<String>>) -> Result<Outcome, String> {
    let conns = Conns::open(&s.url).await?;
    Ok(timed(s, "get-sql", s.concurrency, |i, _, deadline| {
        let (ids, conns) = (ids.clone(), conns.clone());
        async move {
            let mut rng = crate::scenarios::Xorshift::seeded(i);
            let mut r = Rec::default();
            while Instant::now() < deadline {
                let id = &ids[rng.below(ids.len())];
                let t0 = Instant::now();
                match read_one(&conns, id).await {
                    Ok(Some(row)) => {
                        std::hint::black_box(row);
                        r.ok(t0, 1)
                    }
                    Ok(None) => r.err(format!("no record {id}")),
                    Err(e) => r.err(e),
                }
            }
            r
        }
    })
    .await)
}

/// `list-sql`: keyset pages of 100 from the start, each worker on its own walk, C in flight.
pub async fn list(s: &Setup) -> Result<Outcome, String> {
    let conns = Conns::open(&s.url).await?;
    Ok(timed(s, "list-sql", s.concurrency, |_, _, deadline| {
        let conns = conns.clone();
        async move {
            let mut r = Rec::default();
            let mut after = String::new();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                macro_rules! page {
                    ($sql:expr) => {
                        sqlx::query_as($sql)
                            .bind(&after)
                            .bind("")
                            .bind("")
                            .bind("ACTIVE")
                            .bind("")
                            .bind("")
                            .bind(100i64)
                    };
                }
                // (rows read, the last id)
                let read: Result<(usize, String), sqlx::Error> = on_conn!(conns,
                    sqlite(conn) => page!(LIST_ONE_ROW_SQL).fetch_one(conn).await.map(|row: gongshi::store::OneRowPage| {
                        let ids = row.2.as_deref();
                        let last = ids.and_then(|ids| ids.rsplit(',').next()).unwrap_or_default().to_owned();
                        (usize::try_from(std::hint::black_box(row).0).unwrap_or(0), last)
                    }),
                    postgres(conn) => page!(LIST_SQL).fetch_all(conn).await.map(|rows: Vec<EncodedColumns>| {
                        let last = rows.last().map(|row| row.0.clone()).unwrap_or_default();
                        (std::hint::black_box(rows).len(), last)
                    })
                );
                match read {
                    Ok((n, last)) => {
                        r.ok(t0, n as u64);
                        after = if n == 100 { last } else { String::new() };
                    }
                    Err(e) => {
                        r.err(e);
                        after.clear();
                    }
                }
            }
            r
        }
    })
    .await)
}

/// The columns of the store's feed query (`gongshi::store::FEED_PAGE_SQL`),
/// in its order.
type ChangeColumns = (
    i64,
    String,
    String,
    Option<String>,
    i64,
    String,
    Option<String>,
    i64,
    Option<Vec<u8>>,
    i32,
);

/// The store's feed query, paged: row by row on PostgreSQL, as one
/// aggregated row on SQLite (`FEED_PAGE_ONE_ROW_SQL`), as the store reads it.
const CHANGES_SQL: &str = gongshi::store::FEED_PAGE_SQL;
const CHANGES_ONE_ROW_SQL: &str = gongshi::store::FEED_PAGE_ONE_ROW_SQL;

/// `changes-sql`: the feed read as the server must read it — the store's query
/// in pages of 1000 (a unary call cannot keep a cursor open), one consumer,
/// each row decoded into its columns (on SQLite the page's one aggregated row).
pub async fn changes(s: &Setup) -> Result<Outcome, String> {
    let conns = Conns::open_for_feed(&s.url).await?;
    let cpu0 = crate::cpu::snap(s.server.pid(), None);
    let started = Instant::now();
    let mut rec = Rec::default();
    let mut after = 0i64;
    loop {
        let t0 = Instant::now();
        // (rows read, the last sequence)
        let read: Result<(usize, Option<i64>), sqlx::Error> = on_conn!(conns,
            sqlite(conn) => sqlx::query_as(CHANGES_ONE_ROW_SQL).bind(after).bind(1000i64).fetch_one(conn).await.map(
                |row: gongshi::store::OneRowFeedPage| {
                    // The last row's sequence: the first of its columns.
                    let rows = row.2.as_deref();
                    let last = rows.and_then(|rows| rows.rsplit(';').next()?.split(',').next()?.parse().ok());
                    (usize::try_from(std::hint::black_box(row).0).unwrap_or(0), last)
                }
            ),
            postgres(conn) => sqlx::query_as(CHANGES_SQL).bind(after).bind(1000i64).fetch_all(conn).await.map(
                |rows: Vec<ChangeColumns>| {
                    let last = rows.last().map(|row| row.0);
                    (std::hint::black_box(rows).len(), last)
                }
            )
        );
        match read {
            Ok((n, last)) => {
                rec.ok(t0, n as u64);
                match last {
                    Some(last) => after = last,
                    None => break,
                }
            }
            Err(e) => {
                rec.err(e);
                break;
            }
        }
    }
    let mut o = Outcome::from_rec("changes-sql", 1, rec, started.elapsed().as_secs_f64());
    o.cpu = Some(crate::cpu::since(cpu0, s.server.pid(), None));
    Ok(o)
}
