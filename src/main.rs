//! The `gongshi` command: `serve` (the default), `migrate`, `keys`, `calendar`,
//! `import`, `demo`, `notices pdf`.
//! Thin: parses the command line and calls into the library.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use gongshi::config::Config;
use gongshi::domain::clock::{Clock, SystemClock};
use gongshi::domain::lifecycle::Role;

/// mimalloc instead of glibc's malloc. A page of `ListDisclosures(100)` is
/// ~72 KB, assembled on tokio's threads and read on sqlx's: glibc gives the
/// freed blocks back to the kernel from its per-thread arenas (`madvise`)
/// and faults them in again on the next page, with a TLB shoot-down to the
/// other core each time. With mimalloc, h2load's ListDisclosures(100) on a
/// 100,000-record SQLite database went from ~5,400 to ~6,100 req/s
/// (BENCHMARKS.md, session 14).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "gongshi",
    version,
    about = "Administrative-penalty disclosure, credit repair and notice service (gRPC)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Args, Clone, Default)]
struct DbArgs {
    /// Database URL: sqlite:PATH or postgres://… [env: GONGSHI_DATABASE_URL] [default: sqlite:data/gongshi.db]
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Config file (TOML) [env: GONGSHI_CONFIG]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// Address to listen on [env: GONGSHI_LISTEN] [default: 127.0.0.1:50051]
    #[arg(long)]
    listen: Option<String>,
    /// The operator's listener: /metrics, /livez, /readyz; `off` disables it
    /// [env: GONGSHI_ADMIN_LISTEN] [default: 127.0.0.1:9464]
    #[arg(long)]
    admin_listen: Option<String>,
    /// The public page, JSON and Atom; `off` disables it
    /// [env: GONGSHI_HTTP_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long)]
    http_listen: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC server (what `gongshi` alone does).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DbArgs),
    /// Fill an empty database with a realistic demo history and print one key per role.
    Demo {
        #[command(flatten)]
        db: DbArgs,
        /// How many enterprises.
        #[arg(long, default_value_t = 220)]
        enterprises: usize,
        /// Random seed (the same seed gives the same history).
        #[arg(long, default_value_t = 2023)]
        seed: u64,
    },
    /// Import historical decisions from a CSV or XLSX file in the national
    /// column order; bad rows go to FILE.errors.csv. Exits 1 if any row failed.
    Import(ImportArgs),
    /// The working-day calendar: load an official year (a State Council
    /// holiday notice) while servers run, or list each year's status.
    Calendar {
        #[command(subcommand)]
        action: CalendarCommand,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Notice documents for the service window.
    Notices {
        #[command(subcommand)]
        action: NoticesCommand,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Args)]
struct ImportArgs {
    /// The file: .csv (UTF-8 or GB18030) or .xlsx (first worksheet); the first
    /// row is the header (national column names or field codes).
    file: PathBuf,
    /// Sector of rows without a 行业 column: safety_production, fire, food, drug,
    /// special_equipment or other.
    #[arg(long, default_value = "OTHER")]
    sector: String,
    /// Information class of rows without a 信息类别 column: minor, general or serious.
    #[arg(long, default_value = "GENERAL")]
    severity: String,
    /// Procedure of rows without a 程序 column: simple or ordinary.
    #[arg(long, default_value = "ORDINARY")]
    procedure: String,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// Load one or more official years from a CSV in the format of
    /// data/cn-holidays.csv (header date,kind,name; kind holiday or workday),
    /// replacing those years; then recompute the due dates of open repair
    /// applications. Running servers use it within a minute.
    Load {
        /// The CSV file.
        file: PathBuf,
        /// Who loads it, for the record [default: $SUDO_USER or $USER].
        #[arg(long)]
        by: Option<String>,
    },
    /// Each year from 2023 to 2036 with its status: official (and when and
    /// by whom it was loaded) or provisional.
    List,
}

#[derive(Subcommand)]
enum NoticesCommand {
    /// Write the PDFs of a decision's notice bundle (rendering it first if
    /// need be) into DIR, with their SHA-256 sums in DIR/SHA256SUMS
    /// (`sha256sum -c` format), for printing.
    Pdf {
        /// The decision: its id or `penaltyDecisions/{id}`.
        decision_id: String,
        /// Directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; prints it once, alone on the last line of stdout.
    Create {
        /// officer, legal_reviewer, repair_reviewer, portal, enterprise, discloser or auditor.
        #[arg(long)]
        role: String,
        /// Who or what the key is for.
        #[arg(long)]
        label: String,
        /// The credit code an enterprise key is bound to.
        #[arg(long)]
        credit_code: Option<String>,
        /// Last day the key is valid (YYYY-MM-DD, China Standard Time).
        #[arg(long)]
        expires_on: Option<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id; the key's record keeps who did it and why.
    Revoke {
        /// The key id (as `keys list` shows it).
        id: String,
        /// Why it is revoked, for the record (e.g. "staff member left").
        #[arg(long)]
        reason: String,
        /// Who revokes it, for the record [default: $SUDO_USER or $USER].
        #[arg(long)]
        by: Option<String>,
    },
}

/// Who runs an act from the command line: `--by`, else the OS user.
fn operator(by: Option<String>) -> String {
    by.or_else(|| std::env::var("SUDO_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into())
}

fn load_config(db: &DbArgs, listen: Option<&str>) -> anyhow::Result<Config> {
    let mut cfg = Config::load(db.config.as_deref())?;
    if let Some(url) = &db.database_url {
        cfg.database_url = url.clone();
    }
    if let Some(l) = listen {
        cfg.listen = l.to_string();
    }
    Ok(cfg)
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// A listener on `addr` when the configuration gives one; `setting` names it
/// in the error.
async fn bind_optional(addr: Option<&str>, setting: &str) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    let Some(addr) = addr else { return Ok(None) };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} ({setting})"))?;
    Ok(Some(listener))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut cfg = load_config(&args.db, args.listen.as_deref())?;
    if let Some(a) = args.admin_listen {
        cfg.admin_listen = a;
    }
    if let Some(h) = args.http_listen {
        cfg.http_listen = h;
    }
    cfg.validate()?;
    init_logging(&cfg);
    let app = cfg.open_app(Arc::new(SystemClock)).await?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let admin = bind_optional(cfg.admin_address(), "admin_listen").await?;
    let http = bind_optional(cfg.http_address(), "http_listen; `off` disables it").await?;
    let opts = cfg.server_options();
    gongshi::server::run_with(listener, admin, http, app, opts, shutdown_signal()).await?;
    Ok(())
}

async fn keys(action: KeysCommand, db: DbArgs) -> anyhow::Result<()> {
    let cfg = load_config(&db, None)?;
    let app = cfg.open_app(Arc::new(SystemClock)).await?;
    match action {
        KeysCommand::Create {
            role,
            label,
            credit_code,
            expires_on,
        } => {
            let Some(role) = Role::parse(&role).filter(|r| *r != Role::System) else {
                bail!(
                    "unknown role {role:?}: use officer, legal_reviewer, repair_reviewer, portal, enterprise, discloser or auditor"
                );
            };
            let expires_on = match expires_on {
                Some(d) => Some(
                    chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                        .with_context(|| format!("--expires-on {d:?} is not a date YYYY-MM-DD"))?,
                ),
                None => None,
            };
            let key = app.create_key(role, &label, credit_code.as_deref(), expires_on).await?;
            eprintln!(
                "created {} key {} ({}); it is shown once, store it now:",
                key.row.role, key.row.id, key.row.label
            );
            println!("{}", key.secret);
        }
        KeysCommand::List => {
            println!(
                "{:<28} {:<16} {:<20} {:<12} {:<8} LABEL",
                "ID", "ROLE", "CREDIT CODE", "EXPIRES", "STATE"
            );
            for k in app.list_keys().await? {
                println!(
                    "{:<28} {:<16} {:<20} {:<12} {:<8} {}",
                    k.id,
                    k.role,
                    k.credit_code.as_deref().unwrap_or("-"),
                    k.expires_on.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
                    if k.revoked_at.is_some() { "revoked" } else { "active" },
                    k.label
                );
            }
        }
        KeysCommand::Revoke { id, reason, by } => {
            app.revoke_key(&id, &operator(by), &reason).await?;
            eprintln!("revoked key {id}; running servers refuse it within their key_cache_millis (default 1 s)");
        }
    }
    Ok(())
}

async fn calendar(action: CalendarCommand, db: DbArgs) -> anyhow::Result<()> {
    use gongshi::app::calendar::loaded_at_text;
    use gongshi::domain::calendar::YearStatus;
    let cfg = load_config(&db, None)?;
    let app = cfg.open_app(Arc::new(SystemClock)).await?;
    match action {
        CalendarCommand::Load { file, by } => {
            let by = operator(by);
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let source = file.display().to_string();
            let load = app
                .load_calendar(&bytes, &source, &by, true)
                .await
                .with_context(|| format!("calendar file {source}: nothing was loaded"))?;
            let list = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
            println!(
                "loaded {} from {source} (sha256 {}), load {} by {by}: {}; calendar version {}",
                list(&load.years),
                load.sha256,
                load.load_id,
                if load.replaced.is_empty() {
                    "no year changed (the same schedule was already loaded)".to_string()
                } else {
                    format!("official now: {}", list(&load.replaced))
                },
                load.version
            );
            eprintln!("recomputing the due dates of open repair applications …");
            let r = app.recompute_due_dates(&load, &by).await?;
            println!(
                "{} open repair application(s) examined, {} changed (each with a DUE_DATES_RECOMPUTED event)",
                r.examined, r.changed
            );
            eprintln!("running servers use the new calendar within calendar_refresh_seconds (default 30 s)");
        }
        CalendarCommand::List => {
            println!(
                "{:<6} {:<12} {:<26} {:<28} SOURCE (SHA-256)",
                "YEAR", "STATUS", "LOADED", "BY"
            );
            for y in app.calendar_years(2023, 2036).await? {
                match (&y.status, &y.loaded) {
                    (YearStatus::Official, Some(l)) => println!(
                        "{:<6} {:<12} {:<26} {:<28} {} ({})",
                        y.year,
                        "official",
                        loaded_at_text(l.loaded_at),
                        l.loaded_by,
                        l.source,
                        l.sha256
                    ),
                    (YearStatus::Provisional, _) => println!(
                        "{:<6} {:<12} {:<26} {:<28} weekends + statutory holidays and 补假; load the State Council notice",
                        y.year, "provisional", "-", "-"
                    ),
                    _ => println!(
                        "{:<6} {:<12} beyond every schedule: load the notice",
                        y.year, "unavailable"
                    ),
                }
            }
        }
    }
    Ok(())
}

async fn demo(db: DbArgs, enterprises: usize, seed: u64) -> anyhow::Result<()> {
    if !(1..=5000).contains(&enterprises) {
        bail!("--enterprises must be between 1 and 5000");
    }
    let cfg = load_config(&db, None)?;
    let today = SystemClock.today_cst();
    let clock = Arc::new(gongshi::domain::clock::ManualClock::at_cst_noon(today));
    let app = cfg.open_app(clock.clone()).await?;
    eprintln!(
        "gongshi demo: replaying history 2022–{today} into {} …",
        gongshi::store::redact_url(&cfg.database_url)
    );
    let s = gongshi::demo::run(&app, &clock, today, enterprises, seed).await?;
    println!(
        "demo data: {} enterprises, {} decisions ({} published, {} not published by policy, {} corrected, {} withdrawn, \
         {} expired), {} repaired, {} under repair, {} notice bundles delivered",
        s.enterprises,
        s.decisions,
        s.published,
        s.not_published,
        s.corrected,
        s.withdrawn,
        s.expired,
        s.repaired,
        s.under_repair,
        s.delivered
    );
    println!();
    println!(
        "keys (shown once; the enterprise key is bound to {}):",
        s.enterprise_code
    );
    for (role, key) in &s.keys {
        println!("  {:<16} {key}", role.as_str());
    }
    let discloser = s
        .keys
        .iter()
        .find(|(r, _)| *r == Role::Discloser)
        .map(|(_, k)| k.as_str())
        .unwrap_or("");
    println!();
    println!("start the server (README: cargo run --release), then try:");
    println!();
    println!("{}", gongshi::demo::first_call(&cfg.listen, discloser));
    Ok(())
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    use gongshi::import::{ImportOptions, parse_procedure, parse_sector, parse_severity};
    use std::io::IsTerminal;
    let Some(sector) = parse_sector(&args.sector) else {
        bail!(
            "--sector {:?}: use safety_production, fire, food, drug, special_equipment or other",
            args.sector
        );
    };
    let Some(severity) = parse_severity(&args.severity) else {
        bail!("--severity {:?}: use minor, general or serious", args.severity);
    };
    let Some(procedure) = parse_procedure(&args.procedure) else {
        bail!("--procedure {:?}: use simple or ordinary", args.procedure);
    };
    let cfg = load_config(&args.db, None)?;
    let app = cfg.open_app(Arc::new(SystemClock)).await?;
    let opts = ImportOptions {
        sector,
        severity,
        procedure,
        progress: std::io::stderr().is_terminal(),
    };
    let s = gongshi::import::import_file(&app, &args.file, &opts).await?;
    // Notes on stdout, the summary last; stderr keeps the one-line error.
    if !s.ignored_columns.is_empty() {
        println!("columns not imported (unknown): {}", s.ignored_columns.join(", "));
    }
    println!(
        "{} rows in {:.1} s ({:.0} rows/s)",
        s.rows,
        s.elapsed.as_secs_f64(),
        s.rows_per_second()
    );
    println!("{}", s.line());
    if s.failed > 0 {
        let report = s.report.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        bail!("{} row(s) failed; see {report}", s.failed);
    }
    Ok(())
}

async fn notices_pdf(db: DbArgs, decision_id: &str, out: &std::path::Path) -> anyhow::Result<()> {
    let cfg = load_config(&db, None)?;
    let app = cfg.open_app(Arc::new(SystemClock)).await?;
    let id = decision_id.strip_prefix("penaltyDecisions/").unwrap_or(decision_id);
    let via = "gongshi notices pdf";
    let printed = app
        .print_bundle(&gongshi::app::notice::cli_caller(via), id, via)
        .await?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut sums = String::new();
    for p in &printed {
        let path = out.join(&p.file_name);
        std::fs::write(&path, &p.content).with_context(|| format!("cannot write {}", path.display()))?;
        sums.push_str(&format!("{}  {}\n", p.sha256, p.file_name));
        println!("{}  {} ({} pages)", p.sha256, path.display(), p.page_count);
    }
    let path = out.join("SHA256SUMS");
    std::fs::write(&path, sums).with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "{} documents of penaltyDecisions/{id}/noticeBundle version {}; sums in {}",
        printed.len(),
        printed.first().map(|p| p.bundle.version).unwrap_or_default(),
        path.display()
    );
    Ok(())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Migrate(db)) => {
            let cfg = load_config(&db, None)?;
            cfg.open_app(Arc::new(SystemClock)).await?;
            eprintln!(
                "migrations applied to {}",
                gongshi::store::redact_url(&cfg.database_url)
            );
            Ok(())
        }
        Some(Command::Keys { action, db }) => keys(action, db).await,
        Some(Command::Calendar { action, db }) => calendar(action, db).await,
        Some(Command::Notices {
            action: NoticesCommand::Pdf { decision_id, out },
            db,
        }) => notices_pdf(db, &decision_id, &out).await,
        Some(Command::Import(args)) => import(args).await,
        Some(Command::Demo { db, enterprises, seed }) => demo(db, enterprises, seed).await,
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        // One line on stderr, non-zero exit (API.md "Operator command line").
        let msg = format!("{e:#}").replace('\n', " ");
        eprintln!("gongshi: {msg}");
        std::process::exit(1);
    }
}
