//! The `gongshi` command: `serve` (the default), `migrate`, `keys`.
//! Thin: parses the command line and calls into the library.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use gongshi::config::Config;
use gongshi::domain::clock::SystemClock;
use gongshi::domain::lifecycle::Role;

#[derive(Parser)]
#[command(name = "gongshi", version, about = "Administrative-penalty disclosure, credit repair and notice service (gRPC)")]
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
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC server (what `gongshi` alone does).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DbArgs),
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
        #[command(flatten)]
        db: DbArgs,
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
    /// Revoke a key by id.
    Revoke {
        /// The key id (as `keys list` shows it).
        id: String,
    },
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
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
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

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let cfg = load_config(&args.db, args.listen.as_deref())?;
    init_logging(&cfg);
    let app = cfg.open_app(Arc::new(SystemClock)).await?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let opts = cfg.server_options();
    gongshi::server::run(listener, app, opts, shutdown_signal()).await?;
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
                bail!("unknown role {role:?}: use officer, legal_reviewer, repair_reviewer, portal, enterprise, discloser or auditor");
            };
            let expires_on = match expires_on {
                Some(d) => Some(
                    chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").with_context(|| format!("--expires-on {d:?} is not a date YYYY-MM-DD"))?,
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
            println!("{:<28} {:<16} {:<20} {:<12} {:<8} LABEL", "ID", "ROLE", "CREDIT CODE", "EXPIRES", "STATE");
            for k in app.store.list_keys().await? {
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
        KeysCommand::Revoke { id } => {
            if !app.store.revoke_key(&id, app.now_micros()).await? {
                bail!("no active key with id {id:?}");
            }
            eprintln!("revoked key {id}");
        }
    }
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
            eprintln!("migrations applied to {}", gongshi::store::redact_url(&cfg.database_url));
            Ok(())
        }
        Some(Command::Keys { action, db }) => keys(action, db).await,
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
