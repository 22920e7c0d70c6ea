//! PostgreSQL for the integration tests: one server per test process, one
//! brand-new empty database per call.
//!
//! [`fresh_database_url`] returns the URL of a new, empty database named
//! `gongshi_test_<n>_<pid>`. The server it lives on is found once per test
//! process, trying in this order:
//!
//! 1. **`TEST_DATABASE_URL`** — the URL of a server you run yourself
//!    (e.g. `postgres://postgres:pw@127.0.0.1:5432/postgres`). Each new
//!    database is made with `CREATE DATABASE` over a connection to exactly
//!    that URL, so its role needs `CREATEDB`. These databases are *not*
//!    dropped afterwards; they all start with `gongshi_test_`.
//! 2. **A Docker engine**, if `docker info` succeeds within 5 s: a
//!    throw-away `postgres:15-alpine` container (`docker run -d --rm`,
//!    published on a random 127.0.0.1 port, fsync off). It is removed when
//!    the test process exits.
//! 3. **Local PostgreSQL server binaries**: the directory in
//!    `GONGSHI_PG_BINDIR` if that is set (and then only that), else
//!    `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin`.
//!    A private cluster is made with `initdb` in a fresh directory under
//!    `/tmp` and started with `pg_ctl` on a free 127.0.0.1 port, with
//!    durability switched off (fsync, synchronous_commit, full_page_writes)
//!    and `max_connections=300`. As root (PostgreSQL refuses to run as root)
//!    every PostgreSQL command runs as the `postgres` OS user through
//!    `runuser -u postgres --`. A watchdog process stops the cluster and
//!    deletes its directory as soon as the test process exits, however it
//!    exits.
//!
//! If none of these gives a server, [`fresh_database_url`] prints one
//! `PostgreSQL tests SKIPPED: …` line to stderr (once per process) and
//! returns `None`; callers then return early. With
//! `GONGSHI_REQUIRE_POSTGRES=1` (as CI sets it) it panics with the reason
//! instead, so a missing server fails the run rather than skipping tests.
//! A server that is found but then fails (cannot connect, cannot create a
//! database) always panics.
//!
//! Environment variables:
//!
//! | variable                     | effect                                              |
//! |------------------------------|-----------------------------------------------------|
//! | `TEST_DATABASE_URL`          | use this server (source 1)                          |
//! | `GONGSHI_REQUIRE_POSTGRES=1` | panic instead of skipping when no server is found   |
//! | `GONGSHI_PG_BINDIR`          | the only directory searched for `initdb`/`pg_ctl`   |
//!
//! The one-time server start-up uses blocking `std::process` calls under a
//! `std::sync::OnceLock` (every `#[tokio::test]` has its own runtime, so
//! nothing here may belong to one runtime); each database is then created
//! over a short-lived connection on the caller's runtime.

// Not every test module uses every helper.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

/// The Docker image used by source 2 (pinned major version).
const DOCKER_IMAGE: &str = "postgres:15-alpine";
const DOCKER_PASSWORD: &str = "gongshi-test";

/// Server settings for the throw-away servers (sources 2 and 3).
const SERVER_SETTINGS: &[&str] = &[
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
    "shared_buffers=128MB",
];

/// Where the server used by this test process came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// `TEST_DATABASE_URL`: settings are whatever that server has.
    EnvUrl,
    /// A `postgres:15-alpine` container (fsync off).
    Docker,
    /// A private cluster from local binaries (fsync off).
    LocalCluster,
}

/// Whether `GONGSHI_REQUIRE_POSTGRES` asks for a failure instead of a skip
/// when no PostgreSQL server can be found (`1`, `true` or `yes`).
pub fn postgres_required() -> bool {
    std::env::var("GONGSHI_REQUIRE_POSTGRES")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// The kind of server that [`fresh_database_url`] uses, once it has been
/// looked for (`None` before the first call and when there is none).
pub fn server_kind() -> Option<ServerKind> {
    match SERVER.get() {
        Some(Ok(server)) => Some(server.kind),
        _ => None,
    }
}

/// The URL of a brand-new, empty database, or `None` (after one loud line
/// on stderr) when no PostgreSQL server is available. See the module docs.
///
/// # Panics
///
/// If `GONGSHI_REQUIRE_POSTGRES=1` and there is no server, or if the server
/// that was found cannot be reached or cannot create the database.
pub async fn fresh_database_url() -> Option<String> {
    let found = match SERVER.get() {
        Some(found) => found,
        None => tokio::task::spawn_blocking(|| SERVER.get_or_init(find_server))
            .await
            .expect("PostgreSQL test server start-up panicked"),
    };
    match found {
        Ok(server) => Some(server.create_database().await),
        Err(reason) if postgres_required() => {
            panic!("GONGSHI_REQUIRE_POSTGRES=1 but no PostgreSQL server: {reason}")
        }
        Err(_) => None,
    }
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT_DB: AtomicU64 = AtomicU64::new(1);

struct Server {
    kind: ServerKind,
    /// Where `CREATE DATABASE` is sent.
    admin_url: String,
    /// How long to keep retrying the first connection (the server may still
    /// be starting up).
    connect_timeout: Duration,
    /// Write end of the watchdog's stdin. Never written and never dropped:
    /// the kernel closes it when this process exits, the watchdog then reads
    /// EOF and tears the server down.
    _watchdog: Option<ChildStdin>,
}

impl Server {
    async fn create_database(&self) -> String {
        let deadline = Instant::now() + self.connect_timeout;
        let mut conn = loop {
            match PgConnection::connect(&self.admin_url).await {
                Ok(conn) => break conn,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!(
                    "cannot connect to the {:?} PostgreSQL test server at {}: {e}",
                    self.kind,
                    redact(&self.admin_url)
                ),
            }
        };
        let mut attempts = 0;
        let name = loop {
            attempts += 1;
            let name = format!(
                "gongshi_test_{}_{}",
                NEXT_DB.fetch_add(1, Ordering::Relaxed),
                std::process::id()
            );
            let sql = format!("CREATE DATABASE \"{name}\"");
            match sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await {
                Ok(_) => break name,
                Err(e) => {
                    let code = e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned());
                    match code.as_deref() {
                        // duplicate_database: left over from an earlier run
                        // with the same pid on a shared server.
                        Some("42P04") if attempts < 50 => {}
                        // object_in_use: someone else is connected to the
                        // template database right now.
                        Some("55006") if attempts < 50 => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        _ => panic!("cannot create test database {name} on {}: {e}", redact(&self.admin_url)),
                    }
                }
            }
        };
        let _ = conn.close().await;
        with_database(&self.admin_url, &name)
    }
}

/// Looks for a server in the documented order; on failure, the reason.
/// Runs once per process, blocking.
fn find_server() -> Result<Server, String> {
    if let Ok(url) = std::env::var("TEST_DATABASE_URL")
        && !url.trim().is_empty()
    {
        loud(&format!(
            "PostgreSQL tests: TEST_DATABASE_URL server {}",
            redact(url.trim())
        ));
        return Ok(Server {
            kind: ServerKind::EnvUrl,
            admin_url: url.trim().to_owned(),
            connect_timeout: Duration::from_secs(5),
            _watchdog: None,
        });
    }
    let mut why = String::from("no TEST_DATABASE_URL");

    match start_docker() {
        Ok(server) => return Ok(server),
        Err(reason) => {
            let _ = write!(why, ", no Docker engine ({reason})");
        }
    }

    let started = Instant::now();
    match find_bindir().and_then(|bindir| match start_local_cluster(&bindir) {
        Ok((server, port)) => Ok((server, port, bindir)),
        Err(e) => Err(format!("local cluster from {} failed: {e}", bindir.display())),
    }) {
        Ok((server, port, bindir)) => {
            loud(&format!(
                "PostgreSQL tests: private cluster from {} on 127.0.0.1:{port}, \
                 started in {:.1} s",
                bindir.display(),
                started.elapsed().as_secs_f64()
            ));
            return Ok(server);
        }
        Err(reason) => {
            let _ = write!(why, ", {reason}");
        }
    }

    if postgres_required() {
        loud(&format!("PostgreSQL tests FAIL (GONGSHI_REQUIRE_POSTGRES=1): {why}"));
    } else {
        loud(&format!(
            "PostgreSQL tests SKIPPED: {why}; set TEST_DATABASE_URL, start \
             Docker or install PostgreSQL server binaries"
        ));
    }
    Err(why)
}

/// One line straight to stderr: not swallowed by the test harness's output
/// capture, so it shows in a plain `cargo test` run.
fn loud(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

// ---------------------------------------------------------------- Docker

fn start_docker() -> Result<Server, String> {
    let mut info = Command::new("docker");
    info.arg("info");
    match status_within(&mut info, Duration::from_secs(5)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("docker CLI not found".into());
        }
        Err(e) => return Err(format!("docker info: {e}")),
        Ok(None) => return Err("docker info timed out after 5 s".into()),
        Ok(Some(status)) if !status.success() => {
            return Err(format!("docker info failed ({status})"));
        }
        Ok(Some(_)) => {}
    }

    let mut run = Command::new("docker");
    run.args(["run", "-d", "--rm", "--label", "gongshi-test=1"])
        .args(["-e", &format!("POSTGRES_PASSWORD={DOCKER_PASSWORD}")])
        .args(["-p", "127.0.0.1::5432", DOCKER_IMAGE, "postgres"]);
    for setting in SERVER_SETTINGS {
        run.args(["-c", setting]);
    }
    let out = run
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("docker run: {e}"))?;
    if !out.status.success() {
        return Err(format!("docker run {DOCKER_IMAGE} failed: {}", last_line(&out.stderr)));
    }
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();

    // Remove the container when this process exits, whatever happens next.
    let watchdog = spawn_watchdog("docker rm -f \"$1\" >/dev/null 2>&1", &[&id])
        .map_err(|e| format!("cannot start the container watchdog: {e}"))?;

    // From here on, returning an error drops `watchdog`, which removes the
    // container.
    let port = match Command::new("docker").args(["port", &id, "5432/tcp"]).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .and_then(|line| line.trim().rsplit_once(':'))
            .and_then(|(_, port)| port.parse::<u16>().ok()),
        _ => None,
    };
    let Some(port) = port else {
        return Err(format!("docker port {id}: no port for 5432/tcp"));
    };

    // The image's entrypoint first runs a socket-only server for its init
    // scripts, so a TCP pg_isready only succeeds against the final server.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new("docker")
            .args(["exec", &id, "pg_isready", "-q", "-h", "127.0.0.1"])
            .args(["-U", "postgres"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("container {id} not ready after 60 s"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    loud(&format!(
        "PostgreSQL tests: Docker container {} ({DOCKER_IMAGE}) on 127.0.0.1:{port}",
        &id[..id.len().min(12)]
    ));
    Ok(Server {
        kind: ServerKind::Docker,
        admin_url: format!("postgres://postgres:{DOCKER_PASSWORD}@127.0.0.1:{port}/postgres"),
        connect_timeout: Duration::from_secs(30),
        _watchdog: Some(watchdog),
    })
}

// ---------------------------------------------------------------- local

/// Starts a private cluster from `bindir`; returns it with its port.
fn start_local_cluster(bindir: &Path) -> Result<(Server, u16), String> {
    let cluster = OwnCluster::start_new(bindir)?;
    let port = cluster.port;
    let server = Server {
        kind: ServerKind::LocalCluster,
        admin_url: cluster.admin_url.clone(),
        connect_timeout: Duration::from_secs(10),
        _watchdog: cluster.watchdog,
    };
    Ok((server, port))
}

/// A private cluster of one's own, which a test may stop and start again
/// (e.g. to take the database away from a running server). Local binaries
/// only: a `TEST_DATABASE_URL` server or a container is not ours to stop.
/// Cleaned up when the test process exits, like the shared cluster.
pub struct OwnCluster {
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub admin_url: String,
    /// Its port (the same after a restart).
    pub port: u16,
    pg_ctl: PathBuf,
    top: PathBuf,
    data: PathBuf,
    log: PathBuf,
    options: String,
    as_root: bool,
    watchdog: Option<ChildStdin>,
}

/// A cluster of the test's own (see [`OwnCluster`]), or `None` after a loud
/// line when there are no local binaries (a panic with
/// `GONGSHI_REQUIRE_POSTGRES=1`).
pub fn own_cluster() -> Option<OwnCluster> {
    match find_bindir().and_then(|b| OwnCluster::start_new(&b)) {
        Ok(c) => Some(c),
        Err(e) if postgres_required() => panic!("GONGSHI_REQUIRE_POSTGRES=1 but no own PostgreSQL cluster: {e}"),
        Err(e) => {
            loud(&format!("PostgreSQL outage tests SKIPPED: {e}"));
            None
        }
    }
}

impl OwnCluster {
    fn start_new(bindir: &Path) -> Result<OwnCluster, String> {
        let initdb = bindir.join("initdb");
        let pg_ctl = bindir.join("pg_ctl");

        let as_root = is_root();
        let postgres_ids = if as_root { Some(postgres_user_ids()?) } else { None };

        // /tmp is traversable by the postgres user (TMPDIR might not be).
        let top = tempfile::Builder::new()
            .prefix("gongshi-pg-")
            .permissions(std::fs::Permissions::from_mode(0o755))
            .tempdir_in(if as_root {
                PathBuf::from("/tmp")
            } else {
                std::env::temp_dir()
            })
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            // The watchdog removes it, not a destructor (statics are never dropped).
            .keep();
        let data = top.join("data");
        let sock = top.join("sock");
        let log = top.join("server.log");
        let remove_top = || {
            let _ = std::fs::remove_dir_all(&top);
        };
        if let Err(e) = std::fs::create_dir(&sock) {
            remove_top();
            return Err(format!("cannot create {}: {e}", sock.display()));
        }
        if let Some((uid, gid)) = postgres_ids {
            for dir in [&top, &sock] {
                if let Err(e) = std::os::unix::fs::chown(dir, Some(uid), Some(gid)) {
                    remove_top();
                    return Err(format!("cannot chown {} to postgres: {e}", dir.display()));
                }
            }
        }

        // Started before initdb, so that even a start-up cut short is cleaned up:
        // once this process is gone, stop whatever runs in DATA, delete TOP.
        let stop = if as_root {
            "runuser -u postgres -- \"$1\" -D \"$2\" stop -m immediate -t 30 >/dev/null 2>&1"
        } else {
            "\"$1\" -D \"$2\" stop -m immediate -t 30 >/dev/null 2>&1"
        };
        let script = format!("{stop}; rm -rf \"$3\"");
        let watchdog = match spawn_watchdog(
            &script,
            &[
                pg_ctl.to_str().unwrap_or_default(),
                data.to_str().unwrap_or_default(),
                top.to_str().unwrap_or_default(),
            ],
        ) {
            Ok(watchdog) => watchdog,
            Err(e) => {
                remove_top();
                return Err(format!("cannot start the cluster watchdog: {e}"));
            }
        };
        // From here on, dropping `watchdog` (on an error) cleans up.

        let out = pg_command(as_root, &initdb, &top)
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .args(["-E", "UTF8", "--locale=C", "-D"])
            .arg(&data)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", initdb.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                initdb.display(),
                out.status,
                last_line(&out.stderr)
            ));
        }

        let mut last_error = String::new();
        for _attempt in 0..5 {
            let port = TcpListener::bind(("127.0.0.1", 0))
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("cannot find a free port: {e}"))?
                .port();
            let mut options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", sock.display());
            for setting in SERVER_SETTINGS {
                let _ = write!(options, " -c {setting}");
            }
            let mut cluster = OwnCluster {
                admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                port,
                pg_ctl: pg_ctl.clone(),
                top: top.clone(),
                data: data.clone(),
                log: log.clone(),
                options,
                as_root,
                watchdog: None,
            };
            match cluster.start() {
                Ok(()) => {
                    cluster.watchdog = Some(watchdog);
                    return Ok(cluster);
                }
                // Most likely the port was taken between the check and the
                // start: try another one.
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// Starts the (stopped) cluster on its port, waiting until it accepts
    /// connections.
    pub fn start(&self) -> Result<(), String> {
        let out = pg_command(self.as_root, &self.pg_ctl, &self.top)
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-o", &self.options])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.pg_ctl.display()))?;
        if out.status.success() {
            return Ok(());
        }
        let log_text = std::fs::read(&self.log).unwrap_or_default();
        Err(format!(
            "pg_ctl start failed ({}): {}",
            out.status,
            last_line(&log_text)
        ))
    }

    /// Stops the cluster at once (`-m immediate`: connections are cut as in
    /// a crash or a network loss), waiting until it is down.
    pub fn stop(&self) -> Result<(), String> {
        let out = pg_command(self.as_root, &self.pg_ctl, &self.top)
            .args(["stop", "-w", "-m", "immediate", "-t", "60", "-D"])
            .arg(&self.data)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.pg_ctl.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl stop failed ({}): {}",
                out.status,
                last_line(&out.stderr)
            ))
        }
    }

    /// A new empty database on this cluster.
    pub async fn create_database(&self) -> String {
        Server {
            kind: ServerKind::LocalCluster,
            admin_url: self.admin_url.clone(),
            connect_timeout: Duration::from_secs(10),
            _watchdog: None,
        }
        .create_database()
        .await
    }
}

/// A command for a PostgreSQL binary: as the `postgres` user when root,
/// run in `cwd` (a directory that user can enter).
fn pg_command(as_root: bool, program: &Path, cwd: &Path) -> Command {
    let mut cmd = if as_root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    };
    cmd.current_dir(cwd).stdin(Stdio::null());
    cmd
}

fn find_bindir() -> Result<PathBuf, String> {
    let has_binaries = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();

    if let Some(dir) = std::env::var_os("GONGSHI_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return if has_binaries(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "no local binaries (GONGSHI_PG_BINDIR={} has no initdb and pg_ctl)",
                dir.display()
            ))
        };
    }

    let pg_config = match Command::new("pg_config").arg("--bindir").stderr(Stdio::null()).output() {
        Ok(out) if out.status.success() => {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if has_binaries(&dir) {
                return Ok(dir);
            }
            format!("pg_config --bindir: {} has no initdb", dir.display())
        }
        Ok(out) => format!("pg_config failed ({})", out.status),
        Err(_) => "no pg_config".to_owned(),
    };

    // Debian/Ubuntu: /usr/lib/postgresql/<major>/bin, newest first.
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_binaries(&bin).then_some((major, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => Err(format!(
            "no local binaries ({pg_config}, no /usr/lib/postgresql/*/bin/initdb)"
        )),
    }
}

fn is_root() -> bool {
    match Command::new("id").arg("-u").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim() == "0",
        _ => std::env::var("USER").is_ok_and(|u| u == "root"),
    }
}

/// The uid and gid of the `postgres` OS user.
fn postgres_user_ids() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    match (id("-u"), id("-g")) {
        (Some(uid), Some(gid)) => Ok((uid, gid)),
        _ => Err("running as root but there is no `postgres` OS user to run the server".into()),
    }
}

// ---------------------------------------------------------------- helpers

/// Starts `sh -c 'cat >/dev/null; <cleanup>' watchdog ARGS…` in its own
/// process group (a Ctrl-C at the terminal does not reach it), with a pipe
/// on its stdin. `cat` returns when every write end of that pipe is closed,
/// i.e. when this process exits (the end is close-on-exec, so no child of
/// ours holds it) or when the returned handle is dropped; then `cleanup`
/// runs. Immediate, and immune to pid reuse, unlike polling `kill -0`.
fn spawn_watchdog(cleanup: &str, args: &[&str]) -> std::io::Result<ChildStdin> {
    let script = format!("trap '' HUP INT; cat >/dev/null 2>&1; {cleanup}");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("gongshi-pg-watchdog")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()?;
    Ok(child.stdin.take().expect("piped stdin"))
}

/// Runs `cmd` (output discarded) and waits at most `timeout`; `Ok(None)` if
/// it timed out (the process is then killed).
fn status_within(cmd: &mut Command, timeout: Duration) -> std::io::Result<Option<std::process::ExitStatus>> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last non-empty line of some output, for one-line error messages.
fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("(no output)")
        .trim()
        .to_owned()
}

/// `url` with its database (path) replaced by `db`, query string kept.
fn with_database(url: &str, db: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return format!("{url}/{db}");
    };
    let (before_query, query) = rest.split_at(rest.find('?').unwrap_or(rest.len()));
    let authority = before_query.split('/').next().unwrap_or_default();
    format!("{scheme}://{authority}/{db}{query}")
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        Some(_) => url.to_owned(),
        None => url.to_owned(),
    }
}
