//! The scenarios, their measurements and the report (table and JSON).

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use gongshi::api::{page, pb};
use gongshi::app::App;
use gongshi::domain::lifecycle::DisclosureState;
use gongshi::store::DisclosureFilter;
use serde_json::json;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::ServerProcess;
use crate::cpu;

/// Scenario names, in running order (`get` and `list` are followed by their
/// plain-SQL references `get-sql` and `list-sql`; `json-list`, `page` and
/// `search` are the public HTTP listener's, `web.rs`).
pub const ALL: [&str; 12] = [
    "health",
    "get",
    "metrics",
    "list",
    "json-list",
    "page",
    "search",
    "deep",
    "changes",
    "h2load",
    "export",
    "submit",
];

type DisclosureClient = pb::disclosure_service_client::DisclosureServiceClient<Channel>;

/// What a backend's run shares.
pub struct Setup {
    pub url: String,
    pub app: Arc<App>,
    pub key_id: String,
    pub secret: String,
    pub channels: Vec<Channel>,
    pub records: usize,
    pub duration: Duration,
    pub concurrency: usize,
    /// Eligible records per submit phase (gRPC, then plain SQL).
    pub submit_records: usize,
    pub server: ServerProcess,
    /// The floor server (floor.rs) and its connections.
    pub floor: ServerProcess,
    pub floor_channels: Vec<Channel>,
    /// The same server with `serve_stored_bytes = false`: the decoded path,
    /// the "before" of issue 18 in the same run (`get-decoded`, …).
    pub decoded: (ServerProcess, Vec<Channel>),
    /// The bytes floor (bytes_floor.rs) and its connections.
    pub bytes_floor: (ServerProcess, Vec<Channel>),
    /// Two more servers, with and without the per-call metrics layer (only
    /// when `metrics` runs).
    pub metrics_pair: Option<MetricsPair>,
}

/// The servers of the `metrics` scenario, with their connections.
pub struct MetricsPair {
    /// Metrics on (the default).
    pub on: (ServerProcess, Vec<Channel>),
    /// `metrics = false`.
    pub off: (ServerProcess, Vec<Channel>),
}

/// A target and whether it is met.
#[derive(Debug, Clone)]
pub struct Target {
    pub what: String,
    pub value: f64,
    pub met: bool,
    /// The best value this machine allows, where a reference bounds it (see `add_ratios`).
    pub limit: Option<f64>,
}

/// One measured line of the report.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub name: String,
    pub concurrency: usize,
    pub requests: u64,
    pub rows: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub secs: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// requests/s ÷ health requests/s, same run.
    pub vs_health: Option<f64>,
    /// requests/s (rows/s for the feed) ÷ the bytes floor's for the same
    /// answer (`*-bytes`, `h2-*-bytes`), same run.
    pub vs_bytes: Option<f64>,
    pub target: Option<Target>,
    pub extra: serde_json::Value,
    /// CPU used while it ran.
    pub cpu: Option<cpu::Used>,
}

impl Outcome {
    pub fn failed(name: &str, error: String) -> Outcome {
        eprintln!("   {name} FAILED: {error}");
        Outcome {
            name: name.to_string(),
            errors: 1,
            first_error: Some(error),
            ..Outcome::default()
        }
    }

    pub fn from_rec(name: &str, concurrency: usize, mut rec: Rec, secs: f64) -> Outcome {
        rec.lat_us.sort_unstable();
        let pct = |p: f64| -> f64 {
            if rec.lat_us.is_empty() {
                return 0.0;
            }
            let i = ((rec.lat_us.len() as f64 * p).ceil() as usize).clamp(1, rec.lat_us.len()) - 1;
            rec.lat_us[i] as f64 / 1000.0
        };
        if let Some(e) = &rec.first_error {
            eprintln!("   {name}: {} errors, first: {e}", rec.errors);
        }
        Outcome {
            name: name.to_string(),
            concurrency,
            requests: rec.requests,
            rows: rec.rows,
            errors: rec.errors + u64::from(rec.requests == 0),
            first_error: rec
                .first_error
                .clone()
                .or_else(|| (rec.requests == 0).then(|| "no request completed".into())),
            secs,
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            ..Outcome::default()
        }
    }

    pub fn req_per_s(&self) -> f64 {
        if self.secs > 0.0 {
            self.requests as f64 / self.secs
        } else {
            0.0
        }
    }

    pub fn rows_per_s(&self) -> f64 {
        if self.secs > 0.0 {
            self.rows as f64 / self.secs
        } else {
            0.0
        }
    }

    /// Whether this is a reference run by the load generator itself, with
    /// the server idle beside it.
    pub fn is_reference(&self) -> bool {
        ["-sql", "-copy", "-select"].iter().any(|end| self.name.ends_with(end))
    }

    /// CPU time of the whole machine per request, in µs, less what idle
    /// servers that are not part of the scenario used meanwhile (the server
    /// during a reference, the main server during a floor scenario).
    pub fn cpu_us_per_req(&self) -> Option<f64> {
        self.cpu.filter(|_| self.requests > 0).map(|c| {
            let idle = c.bystander_s + if self.is_reference() { c.server_s } else { 0.0 };
            (c.machine_s - idle) * 1e6 / self.requests as f64
        })
    }
}

/// Latencies and counts of one or more workers.
#[derive(Default)]
pub struct Rec {
    lat_us: Vec<u64>,
    requests: u64,
    rows: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Rec {
    pub fn ok(&mut self, t0: Instant, rows: u64) {
        self.lat_us.push(t0.elapsed().as_micros() as u64);
        self.requests += 1;
        self.rows += rows;
    }

    pub fn err(&mut self, e: impl Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }

    pub fn merge(&mut self, o: Rec) {
        self.lat_us.extend(o.lat_us);
        self.requests += o.requests;
        self.rows += o.rows;
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
}

/// Runs `concurrency` workers on the server until the scenario's time is up.
pub async fn timed<F, Fut>(s: &Setup, name: &str, concurrency: usize, worker: F) -> Outcome
where
    F: Fn(usize, Channel, Instant) -> Fut,
    Fut: Future<Output = Rec> + Send + 'static,
{
    timed_on(s, &s.channels, &s.server, name, concurrency, worker).await
}

/// Runs `concurrency` workers on `channels` to `server` until the time is up.
pub async fn timed_on<F, Fut>(
    s: &Setup,
    channels: &[Channel],
    server: &ServerProcess,
    name: &str,
    concurrency: usize,
    worker: F,
) -> Outcome
where
    F: Fn(usize, Channel, Instant) -> Fut,
    Fut: Future<Output = Rec> + Send + 'static,
{
    let (rec, secs, cpu) = block(s, channels, server, concurrency, s.duration, worker).await;
    let mut o = Outcome::from_rec(name, concurrency, rec, secs);
    o.cpu = Some(cpu);
    o
}

/// Runs `concurrency` workers on `channels` to `server` for `duration`:
/// what they recorded, the seconds it took, and the CPU used meanwhile.
pub async fn block<F, Fut>(
    s: &Setup,
    channels: &[Channel],
    server: &ServerProcess,
    concurrency: usize,
    duration: Duration,
    worker: F,
) -> (Rec, f64, cpu::Used)
where
    F: Fn(usize, Channel, Instant) -> Fut,
    Fut: Future<Output = Rec> + Send + 'static,
{
    let bystander = (server.pid() != s.server.pid()).then(|| s.server.pid());
    let cpu0 = cpu::snap(server.pid(), bystander);
    let started = Instant::now();
    let deadline = started + duration;
    let handles: Vec<_> = (0..concurrency)
        .map(|i| tokio::spawn(worker(i, channels[i % channels.len()].clone(), deadline)))
        .collect();
    let mut rec = Rec::default();
    for h in handles {
        match h.await {
            Ok(r) => rec.merge(r),
            Err(e) => rec.err(format!("worker panicked: {e}")),
        }
    }
    (
        rec,
        started.elapsed().as_secs_f64(),
        cpu::since(cpu0, server.pid(), bystander),
    )
}

/// A request with the caller's key.
pub fn req<T>(msg: T, secret: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {secret}").parse().expect("ascii key"));
    r
}

pub fn disclosures(ch: Channel) -> DisclosureClient {
    DisclosureClient::new(ch).max_decoding_message_size(64 * 1024 * 1024)
}

/// A small per-worker PRNG (xorshift64*): no shared state, `Send`.
pub struct Xorshift(u64);

impl Xorshift {
    /// Worker `i`'s generator.
    pub fn seeded(i: usize) -> Xorshift {
        Xorshift(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0x1234_5678_9ABC_DEF1))
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

pub async fn run(s: &Setup, name: &str) -> Result<Vec<Outcome>, String> {
    match name {
        "health" => Ok(vec![health(s).await]),
        "get" => get(s).await,
        "metrics" => crate::metrics_cost::run(s).await,
        "list" => list(s).await,
        "deep" => deep(s).await,
        "changes" => changes(s).await,
        "h2load" => crate::h2load::run(s).await,
        "export" => export(s).await.map(|o| vec![o]),
        "submit" => crate::submit::run(s).await,
        "json-list" => crate::web::json_list(s).await.map(|o| vec![o]),
        "page" => crate::web::page(s).await.map(|o| vec![o]),
        "search" => crate::web::search(s).await,
        other => Err(format!("unknown scenario {other:?}")),
    }
}

async fn health(s: &Setup) -> Outcome {
    timed(s, "health", s.concurrency, health_client).await
}

/// One `Health/Check` client until `deadline` (the worker's number is unused).
pub async fn health_client(_: usize, ch: Channel, deadline: Instant) -> Rec {
    let mut c = HealthClient::new(ch);
    let mut r = Rec::default();
    while Instant::now() < deadline {
        let t0 = Instant::now();
        match c.check(HealthCheckRequest { service: String::new() }).await {
            Ok(_) => r.ok(t0, 0),
            Err(e) => r.err(e),
        }
    }
    r
}

// ------------------------------------------------------------ SQL helpers

/// Up to `limit` random disclosure ids.
pub async fn sample_ids(url: &str, limit: i64) -> Result<Vec<String>, String> {
    let sql = "SELECT id FROM disclosures ORDER BY random() LIMIT $1";
    let e = |e: sqlx::Error| format!("sample ids: {e}");
    with_fresh_pool!(url, e, |pool| sqlx::query_scalar(sql).bind(limit).fetch_all(&pool))
}

/// The id of the active disclosure at 0-based position `pos` in id order.
async fn id_at(url: &str, pos: usize) -> Result<String, String> {
    let sql = "SELECT id FROM disclosures WHERE state = 'ACTIVE' ORDER BY id LIMIT 1 OFFSET $1";
    let e = |e: sqlx::Error| format!("id at {pos}: {e}");
    with_fresh_pool!(url, e, |pool| sqlx::query_scalar(sql).bind(pos as i64).fetch_one(&pool))
}

// ------------------------------------------------------------ reads

/// One `GetDisclosure` client until `deadline`: records of `ids` drawn at
/// random (seeded by the worker's number `i`), named `{prefix}{id}`.
pub async fn get_client(
    i: usize,
    ch: Channel,
    deadline: Instant,
    ids: Arc<Vec<String>>,
    secret: String,
    prefix: &'static str,
) -> Rec {
    let mut c = disclosures(ch);
    let mut rng = Xorshift::seeded(i);
    let mut r = Rec::default();
    while Instant::now() < deadline {
        let name = format!("{prefix}{}", ids[rng.below(ids.len())]);
        let t0 = Instant::now();
        match c.get_disclosure(req(pb::GetDisclosureRequest { name }, &secret)).await {
            Ok(_) => r.ok(t0, 1),
            Err(e) => r.err(e),
        }
    }
    r
}

async fn get(s: &Setup) -> Result<Vec<Outcome>, String> {
    let ids = Arc::new(sample_ids(&s.url, 10_000).await?);
    if ids.is_empty() {
        return Err("no records".into());
    }
    let worker = |prefix: &'static str| {
        let (ids, secret) = (ids.clone(), s.secret.clone());
        move |i: usize, ch: Channel, deadline: Instant| get_client(i, ch, deadline, ids.clone(), secret.clone(), prefix)
    };
    let name = "disclosures/";
    let grpc = timed(s, "get", s.concurrency, worker(name)).await;
    let ((ds, dc), (bs, bc)) = (&s.decoded, &s.bytes_floor);
    let decoded = timed_on(s, dc, ds, "get-decoded", s.concurrency, worker(name)).await;
    let bytes = timed_on(s, bc, bs, "get-bytes", s.concurrency, worker(name)).await;
    let (fc, fs) = (&s.floor_channels, &s.floor);
    let floor = timed_on(s, fc, fs, "get-floor", s.concurrency, worker(name)).await;
    let read = crate::floor::READ_PREFIX;
    let floor_read = timed_on(s, fc, fs, "get-floor-read", s.concurrency, worker(read)).await;
    Ok(vec![
        grpc,
        decoded,
        bytes,
        floor,
        floor_read,
        crate::reference::get(s, ids.clone()).await?,
    ])
}

async fn list(s: &Setup) -> Result<Vec<Outcome>, String> {
    let secret = s.secret.clone();
    let worker = |_: usize, ch: Channel, deadline: Instant| {
        let secret = secret.clone();
        async move {
            let mut c = disclosures(ch);
            let mut r = Rec::default();
            let mut token = String::new();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let msg = pb::ListDisclosuresRequest {
                    page_size: 100,
                    page_token: token.clone(),
                    ..Default::default()
                };
                match c.list_disclosures(req(msg, &secret)).await {
                    Ok(resp) => {
                        let resp = resp.into_inner();
                        r.ok(t0, resp.disclosures.len() as u64);
                        if !resp.next_page_token.is_empty() && resp.disclosures.len() != 100 {
                            r.err(format!("a page of {} with a next page", resp.disclosures.len()));
                        }
                        token = resp.next_page_token;
                    }
                    Err(e) => {
                        r.err(e);
                        token.clear();
                    }
                }
            }
            r
        }
    };
    let grpc = timed(s, "list", s.concurrency, worker).await;
    let ((ds, dc), (bs, bc)) = (&s.decoded, &s.bytes_floor);
    let decoded = timed_on(s, dc, ds, "list-decoded", s.concurrency, worker).await;
    let bytes = timed_on(s, bc, bs, "list-bytes", s.concurrency, worker).await;
    let floor = timed_on(s, &s.floor_channels, &s.floor, "list-floor", s.concurrency, worker).await;
    Ok(vec![grpc, decoded, bytes, floor, crate::reference::list(s).await?])
}

/// The scope string `ListDisclosures` binds its tokens to for an unfiltered
/// list by this key (src/api/disclosure.rs).
fn list_scope(key_id: &str) -> String {
    let filter = DisclosureFilter {
        state: Some(DisclosureState::Active),
        ..DisclosureFilter::default()
    };
    format!("disclosures|{key_id}|{filter:?}")
}

async fn deep(s: &Setup) -> Result<Vec<Outcome>, String> {
    let scope = list_scope(&s.key_id);
    let mut c = disclosures(s.channels[0].clone());
    // Our computed token must be the server's own.
    let first = c
        .list_disclosures(req(
            pb::ListDisclosuresRequest {
                page_size: 100,
                ..Default::default()
            },
            &s.secret,
        ))
        .await
        .map_err(|e| format!("first page: {e}"))?
        .into_inner();
    let last = first.disclosures.last().ok_or("empty first page")?;
    let last_id = last.name.strip_prefix("disclosures/").unwrap_or(&last.name);
    if !first.next_page_token.is_empty() && page::token(&scope, last_id) != first.next_page_token {
        return Err("computed page token differs from the server's (scope changed?)".into());
    }
    let pos = 999_900.min(s.records.saturating_sub(100)).max(1);
    let deep_token = page::token(&scope, &id_at(&s.url, pos - 1).await?);
    // One client asks for the two pages in turn, in one window, so that
    // both see the same machine: measured one after the other, the first
    // page gained from the list scenarios just before it (it is the page
    // they all ask for). Each pair swaps which page goes first.
    let tokens = [String::new(), deep_token];
    let mut c = disclosures(s.channels[0].clone());
    let mut recs = [Rec::default(), Rec::default()];
    let cpu0 = cpu::snap(s.server.pid(), None);
    let started = Instant::now();
    let deadline = started + s.duration;
    let mut pair = 0usize;
    while Instant::now() < deadline {
        for k in [pair % 2, (pair + 1) % 2] {
            let t0 = Instant::now();
            let msg = pb::ListDisclosuresRequest {
                page_size: 100,
                page_token: tokens[k].clone(),
                ..Default::default()
            };
            match c.list_disclosures(req(msg, &s.secret)).await {
                Ok(resp) if resp.get_ref().disclosures.len() == 100 => recs[k].ok(t0, 100),
                Ok(resp) => recs[k].err(format!("page of {} rows, not 100", resp.get_ref().disclosures.len())),
                Err(e) => recs[k].err(e),
            }
        }
        pair += 1;
    }
    let (secs, cpu) = (started.elapsed().as_secs_f64(), cpu::since(cpu0, s.server.pid(), None));
    let [first_rec, deep] = recs;
    let total = (first_rec.requests + deep.requests).max(1) as f64;
    let mut out = Vec::new();
    for (name, rec) in [("deep-first".to_string(), first_rec), (format!("deep-{pos}"), deep)] {
        // The window's CPU, shared by the requests of both pages.
        let share = rec.requests as f64 / total;
        let mut o = Outcome::from_rec(&name, 1, rec, secs);
        o.cpu = Some(cpu.share(share));
        out.push(o);
    }
    out[1].extra = json!({ "position": pos });
    Ok(out)
}

/// The store's feed query (`gongshi::store::FEED_PAGE_SQL`) as one query for
/// the whole feed: from 0, no limit (`$2`, bound to `i64::MAX`; for COPY,
/// `LIMIT CAST($2 AS BIGINT)` written `LIMIT ALL`).
const FEED_SQL: &str = gongshi::store::FEED_PAGE_SQL;

async fn changes(s: &Setup) -> Result<Vec<Outcome>, String> {
    // One consumer, pages of 1000, from 0 to the end.
    let feed = walk_feed(s, &s.channels, &s.server, "changes", None).await;

    // The same rows straight from the database.
    let e = |e: sqlx::Error| format!("reference read: {e}");
    let cpu0 = cpu::snap(s.server.pid(), None);
    let started = Instant::now();
    let (name, rows) = if s.url.starts_with("sqlite:") {
        // One connection set as the server's read connections are.
        let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&s.url).map_err(e)?;
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(gongshi::store::sqlite_read_options(options))
            .await
            .map_err(e)?;
        let mut rows = 0u64;
        let mut stream = sqlx::query(FEED_SQL).bind(0i64).bind(i64::MAX).fetch(&pool);
        while let Some(row) = stream.next().await {
            let row = row.map_err(e)?;
            // Read what the server reads most of: the record.
            let encoded: Option<Vec<u8>> = sqlx::Row::try_get(&row, "encoded").map_err(e)?;
            std::hint::black_box(encoded);
            rows += 1;
        }
        drop(stream);
        pool.close().await;
        ("changes-select", rows)
    } else {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&s.url).await.map_err(e)?;
        let mut rows = 0u64;
        {
            let whole = FEED_SQL.replace("$1", "0").replace("CAST($2 AS BIGINT)", "ALL");
            if !whole.contains("LIMIT ALL") {
                return Err(format!("reference read: cannot unlimit the feed query: {FEED_SQL}"));
            }
            let mut stream = conn
                .copy_out_raw(&format!("COPY ({whole}) TO STDOUT"))
                .await
                .map_err(e)?;
            while let Some(bytes) = stream.next().await {
                rows += bytes.map_err(e)?.iter().filter(|b| **b == b'\n').count() as u64;
            }
        }
        let _ = conn.close().await;
        ("changes-copy", rows)
    };
    let secs = started.elapsed().as_secs_f64();
    let mut reference = Outcome {
        name: name.into(),
        concurrency: 1,
        requests: 1,
        rows,
        secs,
        cpu: Some(cpu::since(cpu0, s.server.pid(), None)),
        ..Outcome::default()
    };
    reference.p50_ms = secs * 1000.0;
    reference.p99_ms = secs * 1000.0;
    if rows != feed.rows {
        reference.errors = 1;
        reference.first_error = Some(format!("{rows} rows from SQL but {} from the feed", feed.rows));
    }
    let paged = crate::reference::changes(s).await?;
    let pages = feed.rows.div_ceil(1000);
    let ((ds, dc), (bs, bc)) = (&s.decoded, &s.bytes_floor);
    let decoded = walk_feed(s, dc, ds, "changes-decoded", None).await;
    let bytes = walk_feed(s, bc, bs, "changes-bytes", Some(pages)).await;
    let floor = walk_feed(s, &s.floor_channels, &s.floor, "changes-floor", Some(pages)).await;
    Ok(vec![feed, decoded, reference, paged, bytes, floor])
}

/// One consumer reading the feed in pages of 1000 from sequence 0: to the
/// first empty page, or for `pages` pages (`changes-floor`, whose pages never end).
async fn walk_feed(s: &Setup, channels: &[Channel], server: &ServerProcess, name: &str, pages: Option<u64>) -> Outcome {
    let mut c = disclosures(channels[0].clone());
    let mut rec = Rec::default();
    let bystander = (server.pid() != s.server.pid()).then(|| s.server.pid());
    let cpu0 = cpu::snap(server.pid(), bystander);
    let started = Instant::now();
    let mut after = 0;
    while pages.is_none_or(|p| rec.requests < p) {
        let t0 = Instant::now();
        let msg = pb::ListDisclosureChangesRequest {
            after_sequence: after,
            page_size: 1000,
        };
        match c.list_disclosure_changes(req(msg, &s.secret)).await {
            Ok(resp) => {
                let resp = resp.into_inner();
                rec.ok(t0, resp.changes.len() as u64);
                if resp.changes.is_empty() {
                    break;
                }
                after = resp.last_sequence;
            }
            Err(e) => {
                rec.err(e);
                break;
            }
        }
    }
    let mut o = Outcome::from_rec(name, 1, rec, started.elapsed().as_secs_f64());
    o.cpu = Some(cpu::since(cpu0, server.pid(), bystander));
    o
}

async fn export(s: &Setup) -> Result<Outcome, String> {
    let hwm_before = s.server.status_bytes("VmHWM");
    let rss_before = s.server.status_bytes("VmRSS");
    let mut c = disclosures(s.channels[0].clone());
    let cpu0 = cpu::snap(s.server.pid(), None);
    let started = Instant::now();
    let mut stream = c
        .export_disclosures(req(
            pb::ExportDisclosuresRequest {
                format: pb::ExportFormat::Csv as i32,
            },
            &s.secret,
        ))
        .await
        .map_err(|e| format!("export: {e}"))?
        .into_inner();
    let mut bytes = 0u64;
    let mut rows = 0u64;
    let mut chunks = 0u64;
    let mut rss_peak_sampled = rss_before;
    let mut lat = Vec::new();
    let mut t0 = Instant::now();
    while let Some(chunk) = stream.message().await.map_err(|e| format!("export stream: {e}"))? {
        lat.push(t0.elapsed().as_micros() as u64);
        t0 = Instant::now();
        chunks += 1;
        bytes += chunk.data.len() as u64;
        if chunks.is_multiple_of(64) {
            rss_peak_sampled = rss_peak_sampled.max(s.server.status_bytes("VmRSS"));
        }
        if chunk.last {
            rows = chunk.row_count as u64;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let hwm_after = s.server.status_bytes("VmHWM");
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let mut o = Outcome::from_rec(
        "export",
        1,
        Rec {
            lat_us: lat,
            requests: 1,
            rows,
            ..Rec::default()
        },
        secs,
    );
    o.requests = 1;
    o.cpu = Some(cpu::since(cpu0, s.server.pid(), None));
    if rows != s.records as u64 {
        o.errors += 1;
        o.first_error = Some(format!("exported {rows} rows, expected {}", s.records));
    }
    o.extra = json!({
        "bytes": bytes,
        "chunks": chunks,
        "server_rss_before_mib": mib(rss_before),
        "server_rss_peak_sampled_mib": mib(rss_peak_sampled),
        "server_vmhwm_before_mib": mib(hwm_before),
        "server_vmhwm_after_mib": mib(hwm_after),
    });
    o.target = Some(Target {
        what: format!("server peak RSS {:.0} MiB <= 150 MiB", mib(hwm_after)),
        value: mib(hwm_after),
        met: mib(hwm_after) <= 150.0,
        limit: None,
    });
    Ok(o)
}

// ------------------------------------------------------------ report

/// Ratios against `health` and the issue's targets.
///
/// For `get`, `list` and `changes` the target also gets the best ratio this
/// machine allows. A `get` or `list` call does at least what the floor server
/// does for the same call (`*-floor`: the gRPC stack carrying the same
/// request and response) plus the cheapest read of its rows (`*-sql`), so it
/// costs the machine at least the sum of their CPU per request (all
/// processes, from `/proc/stat`); with the cores saturated the rate is at most
/// capacity ÷ that sum: `limit = ncpu × 1 s ÷ (cpu_floor + cpu_sql) ÷ health req/s`.
/// The feed has one consumer, so its steps follow one another: per row at
/// least the paged read (`changes-sql`) plus the floor's time per row
/// (`changes-floor`): `limit = 1 ÷ (t_sql + t_floor) ÷ reference rows/s`.
/// For `get` the floor also runs with the bare read inside it
/// (`get-floor-read`), which measures the two together, costs of running both
/// in one process included; the lower of the two figures is the limit.
pub fn add_ratios(outcomes: &mut [Outcome]) {
    let find = |outcomes: &[Outcome], name: &str| outcomes.iter().find(|o| o.name == name).cloned();
    let health = find(outcomes, "health").map(|h| h.req_per_s()).filter(|r| *r > 0.0);
    let first_p50 = find(outcomes, "deep-first").map(|o| o.p50_ms);
    let reference_rows = find(outcomes, "changes-copy")
        .or_else(|| find(outcomes, "changes-select"))
        .map(|o| o.rows_per_s());
    let sql_submit = find(outcomes, "submit-sql").map(|o| o.req_per_s());
    let cores = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
    let clean = |name: &str| find(outcomes, name).filter(|o| o.errors == 0 && o.requests > 0);
    // The ratio to health at best, and the CPU figures behind it.
    // The floor of an answer assembled from stored bytes is the bytes floor
    // (`*-bytes`); without it, the floor that encodes (`*-floor`).
    let floor_of = |scenario: &str| clean(&format!("{scenario}-bytes")).or_else(|| clean(&format!("{scenario}-floor")));
    let limit = |scenario: &str| -> Option<(f64, f64, f64)> {
        let h = health?;
        let cf = floor_of(scenario)?.cpu_us_per_req()?;
        let cs = clean(&format!("{scenario}-sql"))?.cpu_us_per_req()?;
        (cf + cs > 0.0).then(|| (cores * 1e6 / (cf + cs) / h, cf, cs))
    };
    let (get_limit, list_limit) = (limit("get"), limit("list"));
    // The floor doing the bare read too, in one process: measured, not summed.
    let floor_read = health.and_then(|h| Some(clean("get-floor-read")?.req_per_s() / h));
    let changes_limit = (|| -> Option<(f64, f64, f64)> {
        let r = reference_rows.filter(|r| *r > 0.0)?;
        let read_us = 1e6 / clean("changes-sql").filter(|o| o.rows > 0)?.rows_per_s();
        let floor_us = 1e6 / floor_of("changes").filter(|o| o.rows > 0)?.rows_per_s();
        Some((1e6 / (read_us + floor_us) / r, read_us, floor_us))
    })();
    // Each line's bytes floor (`X-decoded` and `X` ÷ `X-bytes`), in rows/s for the feed.
    let bytes_rate = |name: &str| -> Option<f64> {
        let base = name.strip_suffix("-decoded").unwrap_or(name);
        if base.ends_with("-bytes") || base.ends_with("-floor") || base.ends_with("-read") {
            return None;
        }
        let b = clean(&format!("{base}-bytes"))?;
        Some(if base.starts_with("changes") {
            b.rows_per_s()
        } else {
            b.req_per_s()
        })
        .filter(|r| *r > 0.0)
    };
    let bytes_rates: Vec<Option<f64>> = outcomes.iter().map(|o| bytes_rate(&o.name)).collect();
    // Under h2load: a call costs at least the h2load bytes floor's CPU for
    // the same answer plus the bare read's, so at best
    // `cores ÷ (floor + read)` req/s; as a share of h2-health (get) or of
    // the bytes floor's req/s (list).
    let h2_limit = |scenario: &str| -> Option<(f64, f64, f64)> {
        let floor = clean(&format!("h2-{scenario}-bytes"))?;
        let cf = floor.cpu_us_per_req()?;
        let cs = clean(&format!("{scenario}-sql"))?.cpu_us_per_req()?;
        let per_s = cores * 1e6 / (cf + cs);
        let base = if scenario == "get" {
            clean("h2-health")?.req_per_s()
        } else {
            floor.req_per_s()
        };
        (base > 0.0).then(|| (per_s / base, cf, cs))
    };
    let (h2_get_limit, h2_list_limit) = (h2_limit("get"), h2_limit("list"));
    for (o, bytes) in outcomes.iter_mut().zip(bytes_rates) {
        if let Some(b) = bytes {
            let mine = if o.name.starts_with("changes") {
                o.rows_per_s()
            } else {
                o.req_per_s()
            };
            o.vs_bytes = Some(mine / b);
        }
        if let Some(h) = health
            && o.name != "health"
            && !o.name.starts_with("changes")
            && !o.name.starts_with("h2-")
            && !o.name.ends_with("-sql")
            && o.name != "export"
        {
            o.vs_health = Some(o.req_per_s() / h);
        }
        let ratio_target = |what: &str, value: f64, limit: f64, at_least: bool| Target {
            what: format!("{what} {value:.2} {} {limit}", if at_least { ">=" } else { "<=" }),
            value,
            met: if at_least { value >= limit } else { value <= limit },
            limit: None,
        };
        let with_limit = |mut t: Target, l: Option<(f64, f64, f64)>, floor: &str, sql: &str| {
            if let Some((best, cf, cs)) = l {
                t.what = format!(
                    "{}; at most {best:.2} here (CPU/call: {floor} {cf:.0} µs + {sql} {cs:.0} µs)",
                    t.what
                );
                t.limit = Some(best);
            }
            t
        };
        o.target = match o.name.as_str() {
            "get" => o.vs_health.map(|v| {
                let mut t = with_limit(ratio_target("req/s vs health", v, 0.5, true), get_limit, "get floor", "get-sql");
                if let Some(fr) = floor_read {
                    t.what = format!("{}; get-floor-read reaches {fr:.2}", t.what);
                    t.limit = Some(t.limit.map_or(fr, |l| l.min(fr)));
                }
                t
            }),
            "list" => o
                .vs_health
                .map(|v| with_limit(ratio_target("req/s vs health", v, 0.2, true), list_limit, "list floor", "list-sql")),
            n if n.starts_with("deep-") && n != "deep-first" => first_p50
                .filter(|p| *p > 0.0)
                .map(|p| ratio_target("p50 vs first page", o.p50_ms / p, 1.3, false)),
            "changes" => reference_rows.filter(|r| *r > 0.0).map(|r| {
                let mut t = ratio_target("rows/s vs SQL", o.rows_per_s() / r, 0.5, true);
                if let Some((best, read_us, floor_us)) = changes_limit {
                    t.what = format!(
                        "{}; at most {best:.2} here (per row: changes-sql {read_us:.1} µs + changes floor {floor_us:.1} µs)",
                        t.what
                    );
                    t.limit = Some(best);
                }
                t
            }),
            // Issue 18's goals under h2load: get ≥ 40 % of health, a page
            // ≥ 20 % of the bytes floor (h2load.rs sets vs_health).
            "h2-get" => o.vs_health.map(|v| {
                with_limit(ratio_target("req/s vs h2-health", v, 0.4, true), h2_get_limit, "h2-get-bytes", "get-sql")
            }),
            "h2-list" => o.vs_bytes.map(|v| {
                with_limit(ratio_target("req/s vs h2-list-bytes", v, 0.2, true), h2_list_limit, "h2-list-bytes", "list-sql")
            }),
            "submit" => sql_submit
                .filter(|r| *r > 0.0)
                .map(|r| ratio_target("req/s vs plain SQL", o.req_per_s() / r, 0.5, true)),
            _ => o.target.take(),
        };
    }
}

pub fn print_table(backend: &str, outcomes: &[Outcome]) {
    println!();
    println!("{backend}");
    println!(
        "{:<16} {:>5} {:>9} {:>10} {:>11} {:>9} {:>9} {:>8} {:>7} {:>9} {:>5} {:>6}  target",
        "scenario",
        "conc",
        "requests",
        "req/s",
        "rows/s",
        "p50 ms",
        "p99 ms",
        "÷health",
        "÷bytes",
        "cpu µs/r",
        "busy",
        "errors"
    );
    for o in outcomes {
        let target = o.target.as_ref().map_or(String::new(), |t| {
            format!("{} {}", if t.met { "MET" } else { "MISSED" }, t.what)
        });
        println!(
            "{:<16} {:>5} {:>9} {:>10.0} {:>11.0} {:>9.2} {:>9.2} {:>8} {:>7} {:>9} {:>5} {:>6}  {}",
            o.name,
            o.concurrency,
            o.requests,
            o.req_per_s(),
            o.rows_per_s(),
            o.p50_ms,
            o.p99_ms,
            o.vs_health.map_or("-".into(), |v| format!("{:.0}%", v * 100.0)),
            o.vs_bytes.map_or("-".into(), |v| format!("{:.0}%", v * 100.0)),
            o.cpu_us_per_req().map_or("-".into(), |c| format!("{c:.0}")),
            o.cpu.map_or("-".into(), |c| format!("{:.0}%", c.busy_share() * 100.0)),
            o.errors,
            target
        );
    }
}

pub fn to_json(
    records: &usize,
    seconds: f64,
    concurrency: usize,
    machine: &str,
    all: &[(String, Vec<Outcome>)],
) -> serde_json::Value {
    let backends: serde_json::Map<String, serde_json::Value> = all
        .iter()
        .map(|(backend, outcomes)| {
            let list: Vec<_> = outcomes
                .iter()
                .map(|o| {
                    json!({
                        "scenario": o.name,
                        "concurrency": o.concurrency,
                        "requests": o.requests,
                        "rows": o.rows,
                        "seconds": o.secs,
                        "requests_per_s": o.req_per_s(),
                        "rows_per_s": o.rows_per_s(),
                        "p50_ms": o.p50_ms,
                        "p99_ms": o.p99_ms,
                        "ratio_vs_health": o.vs_health,
                        "ratio_vs_bytes_floor": o.vs_bytes,
                        "errors": o.errors,
                        "first_error": o.first_error,
                        "target": o.target.as_ref().map(|t| json!({"what": t.what, "value": t.value, "met": t.met, "limit": t.limit})),
                        "cpu": o.cpu.map(|c| json!({
                            "machine_busy_s": c.machine_s,
                            "machine_capacity_s": c.capacity_s,
                            "busy_share": c.busy_share(),
                            "client_process_s": c.client_s,
                            "server_process_s": c.server_s,
                            "bystander_server_s": c.bystander_s,
                            "machine_us_per_request": o.cpu_us_per_req(),
                        })),
                        "extra": o.extra,
                    })
                })
                .collect();
            (backend.clone(), serde_json::Value::Array(list))
        })
        .collect();
    json!({
        "date_utc": chrono::Utc::now().to_rfc3339(),
        "machine": machine,
        "records": records,
        "seconds_per_scenario": seconds,
        "concurrency": concurrency,
        "backends": backends,
    })
}

/// nproc, memory and CPU model.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_string(), |(_, m)| m.trim().to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    format!("{cpus} CPUs, {:.1} GiB, {model}", mem_kb as f64 / (1024.0 * 1024.0))
}
