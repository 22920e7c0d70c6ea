//! Shared test support: databases on both backends, an in-process server on
//! a real TCP socket, keys, and sample decisions.

#![allow(dead_code)]

pub mod bin;
/// The bulk seeder shared with the load generator (benches/loadgen).
#[path = "../../testkit/bulk_seed.rs"]
pub mod bulk_seed;
pub mod calls;
pub mod counting;
pub mod http;
pub mod kit;
pub mod pg;
pub mod raw;
/// The sample decision shared with the benchmarks.
#[path = "../../testkit/sample.rs"]
pub mod sample;
pub mod sql;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use gongshi::api::pb;
use gongshi::app::App;
use gongshi::config::Config;
use gongshi::domain::clock::ManualClock;
use gongshi::domain::ids::compute_check_char;
use gongshi::domain::lifecycle::Role;
use gongshi::server::{FeedOptions, ServerOptions};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// Held by tests that run the binary on its default port 127.0.0.1:50051.
pub static DEFAULT_PORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A database for one test; SQLite files live in a temp dir removed on drop.
pub struct TestDb {
    pub backend: &'static str,
    pub url: String,
    _dir: Option<TempDir>,
}

/// A fresh SQLite database file.
pub fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("gongshi.db").display());
    TestDb {
        backend: "sqlite",
        url,
        _dir: Some(dir),
    }
}

/// A fresh PostgreSQL database, if a server can be had (see `pg`).
pub async fn pg_db() -> Option<TestDb> {
    pg::fresh_database_url().await.map(|url| TestDb {
        backend: "postgres",
        url,
        _dir: None,
    })
}

/// One fresh database per available backend: SQLite always, PostgreSQL when
/// available (with GONGSHI_REQUIRE_POSTGRES=1 its absence fails the test).
pub async fn backends() -> Vec<TestDb> {
    let mut v = vec![sqlite_db()];
    if let Some(pg) = pg_db().await {
        v.push(pg);
    }
    v
}

/// A date.
pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// Noon CST of a date as an instant.
pub trait NoonUtc {
    fn now_utc(&self) -> chrono::DateTime<chrono::Utc>;
}

impl NoonUtc for Arc<ManualClock> {
    fn now_utc(&self) -> chrono::DateTime<chrono::Utc> {
        use gongshi::domain::clock::Clock;
        self.now()
    }
}

/// A clock stopped at noon CST of a date.
pub fn clock_at(date: &str) -> Arc<ManualClock> {
    Arc::new(ManualClock::at_cst_noon(d(date)))
}

/// A valid unified social credit code, distinct for each `n` and `prefix`.
pub fn credit_code(prefix: &str, n: u64) -> String {
    // prefix (e.g. "91310115") + digits up to 17 characters + check character.
    let body = format!("{prefix}{:0width$}", n, width = 17 - prefix.len());
    let check = compute_check_char(&body).expect("valid body");
    format!("{body}{check}")
}

/// The bureau used as the deciding authority in tests.
pub fn authority_code() -> String {
    credit_code("11310115", 1)
}

/// Every role a key can have (`Role::ALL` without `system`; `access_matrix`
/// checks the two agree).
pub const ROLES: [Role; 7] = [
    Role::Officer,
    Role::LegalReviewer,
    Role::RepairReviewer,
    Role::Portal,
    Role::Enterprise,
    Role::Discloser,
    Role::Auditor,
];

/// A known, valid resident ID number (GB 11643-1999's example).
pub const KNOWN_ID: &str = "11010519491231002X";
/// Another valid one, for the legal representative.
pub const KNOWN_ID_2: &str = "110105194912310038";

/// A complete, valid, publishable general-class decision of a legal person
/// (its legal representative's ID number is KNOWN_ID_2), by the test bureau.
pub fn decision(number: &str, decided_on: &str, party_code: &str) -> pb::PenaltyDecision {
    sample::sample_decision(number, decided_on, party_code, &authority_code())
}

/// Makes a decision's party one who answers in person — a natural person or
/// an individual business (`kind`) — identified by a resident ID number,
/// with no legal representative.
pub fn set_personal_party(
    p: &mut pb::PenaltyDecision,
    kind: pb::PartyKind,
    name: impl Into<String>,
    id_number: &str,
    address: impl Into<String>,
) {
    let party = p.party.as_mut().expect("party");
    party.kind = kind as i32;
    party.name = name.into();
    party.legal_representative = None;
    party.id_type = pb::IdType::ResidentIdCard as i32;
    party.id_number = id_number.into();
    party.address = address.into();
}

/// Wraps a message with a bearer key (and optional on-behalf-of).
pub fn req<T>(msg: T, key: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().expect("ascii key"));
    r
}

/// The secret of a new key of a role, bound to no enterprise, under `label`.
pub async fn labelled_key(app: &App, role: Role, label: &str) -> String {
    app.create_key(role, label, None, None).await.expect("key").secret
}

/// An in-process server on 127.0.0.1:0, with its own pool (a separate
/// instance when two share a database), and its admin listener (metrics,
/// probes) on another port 0.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The admin listener (`/metrics`, `/livez`, `/readyz`).
    pub admin: SocketAddr,
    /// The public listener (page, JSON, Atom).
    pub http: SocketAddr,
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on `url` with the given clock.
    pub async fn start(url: &str, clock: Arc<ManualClock>) -> TestServer {
        Self::start_with(url, clock, Duration::from_millis(100)).await
    }

    /// Starts a server whose expiry job runs every `expiry_every`.
    pub async fn start_with(url: &str, clock: Arc<ManualClock>, expiry_every: Duration) -> TestServer {
        Self::start_tuned(url, clock, |o| o.expiry_interval = expiry_every).await
    }

    /// Starts a server like [`TestServer::start`], with its options adjusted
    /// by `tune` (e.g. a higher look-up rate limit).
    pub async fn start_tuned(url: &str, clock: Arc<ManualClock>, tune: impl FnOnce(&mut ServerOptions)) -> TestServer {
        let cfg = Config {
            database_url: url.to_string(),
            max_connections: 8,
            ..Config::default()
        };
        let app = cfg.open_app(clock.clone()).await.expect("open app");
        Self::serve(app, clock, tune).await
    }

    /// Starts a server like [`TestServer::start`] whose store is wrapped in
    /// a [`counting::CountingStore`], to count what a call reads.
    pub async fn start_counting(url: &str, clock: Arc<ManualClock>) -> (TestServer, Arc<counting::CountingStore>) {
        let cfg = Config {
            database_url: url.to_string(),
            max_connections: 8,
            ..Config::default()
        };
        let plain = cfg.open_app(clock.clone()).await.expect("open app");
        let store = Arc::new(counting::CountingStore::new(plain.store.clone()));
        let app = App::new(
            store.clone(),
            plain.clock.clone(),
            plain.policy.clone(),
            cfg.calendar().expect("calendar"),
            plain.major.clone(),
        )
        .with_repair(plain.repair.clone())
        .with_notices(plain.notices.clone());
        (Self::serve(Arc::new(app), clock, |_| {}).await, store)
    }

    /// Serves `app` on 127.0.0.1:0.
    async fn serve(app: Arc<App>, clock: Arc<ManualClock>, tune: impl FnOnce(&mut ServerOptions)) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
        let admin = admin_listener.local_addr().expect("admin addr");
        let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind http");
        let http = http_listener.local_addr().expect("http addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let mut opts = ServerOptions {
            feed: FeedOptions {
                watch_poll: Duration::from_millis(50),
                ..FeedOptions::default()
            },
            shutdown_grace: Duration::from_secs(2),
            expiry_interval: Duration::from_millis(100),
            calendar_refresh: Duration::from_millis(200),
            // Tests drive hundreds of calls a second through one key; whether
            // a test passes must not depend on how fast the machine is. The
            // per-key limit itself is tested in `overload`.
            key_rate: gongshi::app::guard::KeyRate::OFF,
            // Likewise the public per-address limit (tested in `web`).
            web: gongshi::web::WebOptions {
                requests_per_second: 0,
                ..Default::default()
            },
            ..ServerOptions::default()
        };
        tune(&mut opts);
        let a = app.clone();
        let handle = tokio::spawn(async move {
            let _ = gongshi::server::run_with(listener, Some(admin_listener), Some(http_listener), a, opts, async {
                let _ = stopped.await;
            })
            .await;
        });
        TestServer {
            addr,
            admin,
            http,
            app,
            clock,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// A channel to the server.
    pub async fn channel(&self) -> Channel {
        let url = format!("http://{}", self.addr);
        for _ in 0..50 {
            if let Ok(ch) = Channel::from_shared(url.clone()).expect("uri").connect().await {
                return ch;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server at {url} did not accept connections");
    }

    /// A new key of a role (credit code for enterprise keys).
    pub async fn key(&self, role: Role, credit_code: Option<&str>) -> String {
        self.app
            .create_key(role, &format!("test {role}"), credit_code, None)
            .await
            .expect("create key")
            .secret
    }

    /// A new key of each role, in order (no credit codes).
    pub async fn keys<const N: usize>(&self, roles: [Role; N]) -> [String; N] {
        let mut out = [const { String::new() }; N];
        for (key, role) in out.iter_mut().zip(roles) {
            *key = self.key(role, None).await;
        }
        out
    }

    pub async fn enforcement(&self) -> pb::enforcement_service_client::EnforcementServiceClient<Channel> {
        pb::enforcement_service_client::EnforcementServiceClient::new(self.channel().await)
    }

    pub async fn disclosures(&self) -> pb::disclosure_service_client::DisclosureServiceClient<Channel> {
        pb::disclosure_service_client::DisclosureServiceClient::new(self.channel().await)
            .max_decoding_message_size(16 * 1024 * 1024)
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// An HTTP/1.1 response, as read off the socket.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// `GET path` on `addr` over a fresh connection (`Connection: close`), with
/// extra request headers; the body is read to the end.
pub async fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> std::io::Result<HttpReply> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await?;
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), conn.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 30 s"))??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not HTTP: {text:.200}"));
    let (head, mut body) = text.split_once("\r\n\r\n").ok_or_else(bad)?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let mut decoded = String::new();
    if chunked {
        // size CRLF data CRLF ... 0 CRLF CRLF
        while let Some((size, rest)) = body.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).map_err(|_| bad())?;
            if n == 0 {
                break;
            }
            decoded.push_str(rest.get(..n).ok_or_else(bad)?);
            body = rest.get(n + 2..).unwrap_or_default();
        }
    } else {
        decoded = body.to_string();
    }
    Ok(HttpReply {
        status,
        headers,
        body: decoded,
    })
}

/// Records and publishes a decision through the API; returns the decision.
pub async fn create_and_publish(
    client: &mut pb::enforcement_service_client::EnforcementServiceClient<Channel>,
    officer: &str,
    decision: pb::PenaltyDecision,
) -> pb::PenaltyDecision {
    let created = calls::create(client, officer, "", decision).await.expect("create");
    calls::publish(client, officer, &created.name, &created.etag)
        .await
        .expect("publish")
}

/// Records and publishes the sample [`decision`] numbered `number`, of the
/// enterprise `credit_code("91310115", n)`.
pub async fn publish_sample(
    client: &mut pb::enforcement_service_client::EnforcementServiceClient<Channel>,
    officer: &str,
    number: &str,
    decided_on: &str,
    n: u64,
) -> pb::PenaltyDecision {
    create_and_publish(
        client,
        officer,
        decision(number, decided_on, &credit_code("91310115", n)),
    )
    .await
}

/// The ErrorInfo reason of a status.
pub fn reason(s: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    s.get_details_error_info().map(|e| e.reason).unwrap_or_default()
}

/// The field-violation paths of a status.
pub fn bad_fields(s: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    s.get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// A review checklist with every point satisfied and no transfer for a crime.
pub fn full_checklist() -> pb::ReviewChecklist {
    gongshi::api::convert::checklist_out(&gongshi::domain::lifecycle::ReviewChecklist::all_satisfied())
}
