//! Load generator for gongshi (issue 6): seeds N records, starts the server
//! (this binary re-executed with `--serve`, so its RSS is the server's
//! alone), and drives it through a real tonic client over loopback TCP.
//!
//! ```text
//! cargo bench --bench loadgen -- [--records N] [--seconds S] [--concurrency C]
//!     [--backend sqlite|postgres|both] [--postgres-url URL] [--json FILE] [--smoke]
//! ```
//!
//! See BENCHMARKS.md for what each scenario measures and the latest figures.

#![forbid(unsafe_code)]

/// Runs the query future `$body` once on a fresh pool opened on `$url`
/// (SQLite or PostgreSQL), with `$pool` bound to it, then closes the pool.
/// Errors of both go through `$e`; the value is `Result<_, String>`.
/// For the generator's one-off reads (sample ids, counts).
macro_rules! with_fresh_pool {
    ($url:expr, $e:expr, |$pool:ident| $body:expr) => {{
        let url: &str = $url;
        if url.starts_with("sqlite:") {
            let $pool = sqlx::SqlitePool::connect(url).await.map_err($e)?;
            let out = $body.await.map_err($e);
            $pool.close().await;
            out
        } else {
            let $pool = sqlx::PgPool::connect(url).await.map_err($e)?;
            let out = $body.await.map_err($e);
            $pool.close().await;
            out
        }
    }};
}

// Formatted (or not) where it lives, in tests/it.
#[rustfmt::skip]
#[path = "../../tests/it/support/pg.rs"]
mod pg;
mod bytes_floor;
mod cpu;
mod floor;
mod h2load;
mod metrics_cost;
mod reference;
mod scenarios;
mod seed;
mod submit;
mod web;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use gongshi::config::Config;
use gongshi::domain::clock::SystemClock;
use gongshi::domain::lifecycle::Role;
use gongshi::server::ServerOptions;
use tonic::transport::Channel;

use crate::scenarios::{Outcome, Setup};

/// The server's allocator, as in `src/main.rs`: the `--serve` child is the
/// server measured, and the floors it is measured against run on the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Load generator for the gongshi gRPC service.
#[derive(Parser, Debug, Clone)]
#[command(name = "loadgen")]
struct Args {
    /// Records to seed per backend.
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Seconds per timed scenario.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Requests in flight for the throughput scenarios (health, get, list, submit).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Repair-eligible records seeded for each half of `submit` (through gRPC, by plain SQL).
    #[arg(long, default_value_t = 40_000)]
    submit_records: usize,
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    backend: String,
    /// Use this PostgreSQL server (a new database is created on it); otherwise a private
    /// cluster is started as tests/it/support/pg.rs does.
    #[arg(long)]
    postgres_url: Option<String>,
    /// Comma-separated scenarios (default: all).
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Where the JSON results go.
    #[arg(long, default_value = "target/loadgen.json")]
    json: PathBuf,
    /// CI smoke run: 2,000 records (1,000 per submit half), 1 s per scenario; exits non-zero on any error.
    #[arg(long)]
    smoke: bool,
    /// Internal: serve DATABASE_URL on 127.0.0.1 (the child server process).
    #[arg(long, hide = true)]
    serve: Option<String>,
    /// Internal, with --serve: leave the per-call metrics layer out (`metrics = false`).
    #[arg(long, hide = true)]
    no_metrics: bool,
    /// Internal, with --serve: the decoded DisclosureService (`serve_stored_bytes = false`).
    #[arg(long, hide = true)]
    decoded: bool,
    /// Internal: serve the floor server (floor.rs) with answers read from DATABASE_URL.
    #[arg(long, hide = true)]
    serve_floor: Option<String>,
    /// Internal: serve the bytes floor (bytes_floor.rs) with answers read from DATABASE_URL.
    #[arg(long, hide = true)]
    serve_bytes_floor: Option<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let mut args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Some(url) = args.serve.clone() {
        rt.block_on(serve_child(url, !args.no_metrics, !args.decoded));
        return;
    }
    if let Some(url) = args.serve_bytes_floor.clone() {
        rt.block_on(bytes_floor::serve(url));
        return;
    }
    if let Some(url) = args.serve_floor.clone() {
        rt.block_on(floor::serve(url));
        return;
    }
    if args.smoke {
        args.records = 2_000;
        args.submit_records = 1_000;
        args.seconds = 1.0;
    }
    // Progress of the long steps (the encoding fill logs every 10,000 rows).
    let filter = std::env::var("LOADGEN_LOG").unwrap_or_else(|_| "warn,gongshi::store=info".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
    let code = rt.block_on(run(args));
    std::process::exit(code);
}

/// The child: serves `url` until its stdin closes (the parent exited or is done),
/// with its admin listener on a port of its own as in production, and the
/// per-call metrics layer unless `rpc_metrics` is false, and the
/// DisclosureService from stored bytes unless `stored_bytes` is false.
async fn serve_child(url: String, rpc_metrics: bool, stored_bytes: bool) {
    let filter = std::env::var("LOADGEN_SERVER_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
    // The environment as gongshi reads it (GONGSHI_READ_CONNECTIONS, …),
    // then this run's database and the references' pool size.
    let mut cfg = Config::load(None).expect("config from the environment");
    cfg.database_url = url;
    cfg.max_connections = reference::pool_size();
    let app = cfg.open_app(Arc::new(SystemClock)).await.expect("open app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    // The public listener too (page, JSON, Atom: the `json-list`, `page` and
    // `search` scenarios).
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind http");
    let http_addr = http.local_addr().expect("http addr");
    println!("LISTEN {addr} HTTP {http_addr}");
    let _ = std::io::stdout().flush();
    let shutdown = async {
        let mut sink = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::stdin(), &mut sink).await;
    };
    // Defaults, except the per-key rate limit: the generator is one key
    // standing in for many clients (the limit is measured by tests, not here).
    // Likewise the public per-address limit: every worker shares one address.
    let opts = ServerOptions {
        shutdown_grace: Duration::from_secs(2),
        key_rate: gongshi::app::guard::KeyRate::OFF,
        rpc_metrics,
        serve_stored_bytes: stored_bytes,
        web: gongshi::web::WebOptions {
            requests_per_second: 0,
            ..Default::default()
        },
        ..ServerOptions::default()
    };
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
    gongshi::server::run_with(listener, Some(admin), Some(http), app, opts, shutdown)
        .await
        .expect("serve");
}

/// The server process, killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// Its address.
    pub addr: String,
    /// Its public listener's address (the main server only).
    pub http: Option<String>,
}

impl ServerProcess {
    /// Starts this binary with `args` (`--serve URL [--decoded]`,
    /// `--serve-floor URL` or `--serve-bytes-floor URL`).
    fn start(args: &[&str]) -> Result<ServerProcess, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn server: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
        let Some(addrs) = line.trim().strip_prefix("LISTEN ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("server did not start (said {line:?})"));
        };
        let (addr, http) = match addrs.split_once(" HTTP ") {
            Some((a, h)) => (a, Some(h.to_string())),
            None => (addrs, None),
        };
        Ok(ServerProcess {
            addr: addr.to_string(),
            http,
            child,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A `/proc/<pid>/status` field in bytes (VmRSS, VmHWM).
    pub fn status_bytes(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    async fn channel(&self) -> Result<Channel, String> {
        let url = format!("http://{}", self.addr);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match Channel::from_shared(url.clone())
                .map_err(|e| e.to_string())?
                .connect()
                .await
            {
                Ok(ch) => return Ok(ch),
                Err(e) if Instant::now() > deadline => return Err(format!("connect {url}: {e}")),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn run(args: Args) -> i32 {
    let backends: Vec<&str> = match args.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        other => {
            eprintln!("--backend must be sqlite, postgres or both, not {other:?}");
            return 2;
        }
    };
    let machine = scenarios::machine();
    eprintln!(
        "loadgen: {} records, {} s per scenario, {} in flight; machine: {}",
        args.records, args.seconds, args.concurrency, machine
    );
    let mut all: Vec<(String, Vec<Outcome>)> = Vec::new();
    let mut failed = false;
    let tmp = tempfile::tempdir().expect("temp dir");
    for backend in backends {
        let url = match backend {
            "sqlite" => format!("sqlite://{}?mode=rwc", tmp.path().join("loadgen.db").display()),
            _ => match postgres_url(&args).await {
                Ok(url) => url,
                Err(e) => {
                    eprintln!("postgres: {e}");
                    failed = true;
                    continue;
                }
            },
        };
        match run_backend(&args, backend, &url).await {
            Ok(outcomes) => {
                failed |= outcomes.iter().any(|o| o.errors > 0);
                scenarios::print_table(backend, &outcomes);
                all.push((backend.to_string(), outcomes));
            }
            Err(e) => {
                eprintln!("{backend}: {e}");
                failed = true;
            }
        }
    }
    let json = scenarios::to_json(&args.records, args.seconds, args.concurrency, &machine, &all);
    if let Some(dir) = args.json.parent()
        && !dir.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(&args.json, serde_json::to_string_pretty(&json).unwrap_or_default()) {
        Ok(()) => eprintln!("results written to {}", args.json.display()),
        Err(e) => {
            eprintln!("cannot write {}: {e}", args.json.display());
            failed = true;
        }
    }
    if failed {
        eprintln!("loadgen: FAILED (a scenario had errors)");
        1
    } else {
        0
    }
}

async fn postgres_url(args: &Args) -> Result<String, String> {
    if let Some(url) = &args.postgres_url {
        // A fresh database on the given server, like the tests do.
        // SAFETY of intent: TEST_DATABASE_URL is only read by pg.rs in this process.
        return pg_fresh_on(url).await;
    }
    pg::fresh_database_url()
        .await
        .ok_or_else(|| "no PostgreSQL server (see tests/it/support/pg.rs)".to_string())
}

/// A new database `gongshi_loadgen_<pid>_<n>` on the server at `url`.
async fn pg_fresh_on(url: &str) -> Result<String, String> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let name = format!(
        "gongshi_loadgen_{}_{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() % 1000
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("create database: {e}"))?;
    let _ = conn.close().await;
    let (base, query) = url.split_at(url.find('?').unwrap_or(url.len()));
    let (scheme, rest) = base.split_once("://").ok_or("bad URL")?;
    let authority = rest.split('/').next().unwrap_or_default();
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}

async fn run_backend(args: &Args, backend: &str, url: &str) -> Result<Vec<Outcome>, String> {
    eprintln!("== {backend}: seeding {} records", args.records);
    let cfg = Config {
        database_url: url.to_string(),
        max_connections: 4,
        ..Config::default()
    };
    let app = cfg
        .open_app(Arc::new(SystemClock))
        .await
        .map_err(|e| format!("open app: {e}"))?;
    let started = Instant::now();
    seed::seed(
        &app,
        url,
        &seed::Batch {
            n: args.records,
            first: 0,
            eligible: false,
        },
    )
    .await?;
    let seed_secs = started.elapsed().as_secs_f64();
    eprintln!("   seeded in {seed_secs:.1} s");
    // The seeder writes rows as an older gongshi did, without their stored
    // encoding; `migrate` fills it as it would on an upgrade (progress in the
    // log), so the server reads what a production one reads.
    let started = Instant::now();
    eprintln!("   storing the records' encodings (gongshi migrate)");
    app.store.migrate().await.map_err(|e| format!("migrate: {e}"))?;
    let missing = seed::count_unencoded(url).await?;
    if missing > 0 {
        return Err(format!("{missing} records still without their stored encoding"));
    }
    eprintln!("   encodings stored in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    seed::settle(url).await?;
    eprintln!(
        "   database at rest in {:.1} s (SQLite: WAL checkpointed; PostgreSQL: vacuumed and analysed)",
        started.elapsed().as_secs_f64()
    );
    let key = app
        .create_key(Role::Discloser, "loadgen", None, None)
        .await
        .map_err(|e| format!("key: {e}"))?;
    let server = ServerProcess::start(&["--serve", url])?;
    let floor = ServerProcess::start(&["--serve-floor", url])?;
    let decoded = ServerProcess::start(&["--serve", url, "--decoded"])?;
    let bytes_floor = ServerProcess::start(&["--serve-bytes-floor", url])?;
    let mut channels = Vec::new();
    let mut floor_channels = Vec::new();
    let mut decoded_channels = Vec::new();
    let mut bytes_channels = Vec::new();
    for _ in 0..4 {
        channels.push(server.channel().await?);
        floor_channels.push(floor.channel().await?);
        decoded_channels.push(decoded.channel().await?);
        bytes_channels.push(bytes_floor.channel().await?);
    }
    let wanted = |name: &str| args.scenarios.is_empty() || args.scenarios.iter().any(|s| s == name);
    // For `metrics` (the layer's cost): two fresh servers, alike but for the
    // layer, neither warmed by the other scenarios (the one without first).
    let metrics_pair = if wanted("metrics") {
        let mut pair = Vec::new();
        for extra in [Some("--no-metrics"), None] {
            let mut a = vec!["--serve", url];
            a.extend(extra);
            let server = ServerProcess::start(&a)?;
            let mut channels = Vec::new();
            for _ in 0..4 {
                channels.push(server.channel().await?);
            }
            pair.push((server, channels));
        }
        let on = pair.pop().ok_or("server with metrics")?;
        let off = pair.pop().ok_or("server without metrics")?;
        Some(scenarios::MetricsPair { on, off })
    } else {
        None
    };
    let setup = Setup {
        url: url.to_string(),
        app,
        key_id: key.row.id.clone(),
        secret: key.secret.clone(),
        channels,
        records: args.records,
        duration: Duration::from_secs_f64(args.seconds),
        concurrency: args.concurrency,
        submit_records: args.submit_records,
        server,
        floor,
        floor_channels,
        decoded: (decoded, decoded_channels),
        bytes_floor: (bytes_floor, bytes_channels),
        metrics_pair,
    };
    let mut outcomes = Vec::new();
    for name in scenarios::ALL {
        if !wanted(name) {
            continue;
        }
        eprintln!("   {backend}: {name}");
        match scenarios::run(&setup, name).await {
            Ok(mut o) => outcomes.append(&mut o),
            Err(e) => outcomes.push(Outcome::failed(name, e)),
        }
    }
    scenarios::add_ratios(&mut outcomes);
    Ok(outcomes)
}
