//! Overload and transport security (issue 7 items 6 and 7): the per-key rate
//! limit, load shedding with health exempt, the server-side deadline, and TLS
//! with and without client certificates, using certificates made here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gongshi::api::pb;
use gongshi::app::App;
use gongshi::app::guard::KeyRate;
use gongshi::config::Config;
use gongshi::domain::lifecycle::Role;
use gongshi::server::{ServerOptions, TlsFiles};
use sqlx::Connection as _;
use tokio::sync::oneshot;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

use crate::support::{self, backends, clock_at, credit_code, decision, labelled_key, reason, req};

/// A server on 127.0.0.1:0 with the given options; stops when dropped.
pub struct Served {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
    pub handle: tokio::task::JoinHandle<Result<(), gongshi::server::ServerError>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Opens `url` and serves it with `opts` (the real clock's date is irrelevant
/// here: a fixed test date is used).
pub async fn serve(url: &str, opts: ServerOptions) -> Served {
    let cfg = Config {
        database_url: url.to_string(),
        max_connections: 8,
        ..Config::default()
    };
    let app = cfg.open_app(clock_at("2026-06-01")).await.expect("open app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let a = app.clone();
    let handle = tokio::spawn(async move {
        gongshi::server::run(listener, a, opts, async {
            let _ = stopped.await;
        })
        .await
    });
    Served {
        addr,
        app,
        stop: Some(stop),
        handle,
    }
}

async fn plain_channel(addr: SocketAddr) -> Channel {
    let url = format!("http://{addr}");
    for _ in 0..100 {
        if let Ok(ch) = Channel::from_shared(url.clone()).expect("uri").connect().await {
            return ch;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("server at {url} did not accept connections");
}

async fn health_of(ch: Channel) -> Result<i32, tonic::Status> {
    HealthClient::new(ch)
        .check(HealthCheckRequest { service: String::new() })
        .await
        .map(|r| r.into_inner().status)
}

fn create(number: &str, key: &str) -> tonic::Request<pb::CreatePenaltyDecisionRequest> {
    req(
        pb::CreatePenaltyDecisionRequest {
            request_id: String::new(),
            penalty_decision: Some(decision(number, "2026-05-20", &credit_code("91", 7))),
        },
        key,
    )
}

#[tokio::test]
async fn a_key_over_its_rate_is_refused_with_retry_info_and_others_are_not() {
    let db = support::sqlite_db();
    let opts = ServerOptions {
        key_rate: KeyRate {
            rate_per_second: 2.0,
            burst: 5,
        },
        ..ServerOptions::default()
    };
    let s = serve(&db.url, opts).await;
    let busy = labelled_key(&s.app, Role::Auditor, "busy").await;
    let calm = labelled_key(&s.app, Role::Auditor, "calm").await;
    let mut client = pb::enforcement_service_client::EnforcementServiceClient::new(plain_channel(s.addr).await);
    let list = |key: &str| {
        req(
            pb::ListPenaltyDecisionsRequest {
                page_size: 1,
                ..Default::default()
            },
            key,
        )
    };
    let mut ok = 0;
    let mut limited = None;
    for _ in 0..20 {
        match client.list_penalty_decisions(list(&busy)).await {
            Ok(_) => ok += 1,
            Err(e) => {
                limited = Some(e);
                break;
            }
        }
    }
    // The burst of 5 passes (a few more may refill while the loop runs).
    assert!((5..=7).contains(&ok), "{ok} calls before the limit");
    let e = limited.expect("the key was limited");
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert_eq!(reason(&e), "RATE_LIMITED");
    let retry = e
        .get_details_retry_info()
        .and_then(|r| r.retry_delay)
        .expect("RetryInfo");
    assert!(retry > Duration::ZERO && retry <= Duration::from_secs(1), "{retry:?}");
    // Another key is not affected; health needs no key and is not limited.
    client.list_penalty_decisions(list(&calm)).await.expect("other key");
    assert_eq!(
        health_of(plain_channel(s.addr).await).await.expect("health"),
        ServingStatus::Serving as i32
    );
    // After the advised wait the key is served again.
    tokio::time::sleep(retry + Duration::from_millis(50)).await;
    client
        .list_penalty_decisions(list(&busy))
        .await
        .expect("served after waiting");
}

/// Holds the database's write lock from outside the server until dropped, so
/// a write call stays in flight: SQLite `BEGIN IMMEDIATE`, PostgreSQL the
/// feed's advisory lock (every publication needs it).
enum Blocker {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

impl Blocker {
    async fn hold(url: &str) -> Blocker {
        if url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(url).await.expect("connect");
            sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut c).await.expect("lock");
            Blocker::Sqlite(c)
        } else {
            let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::raw_sql("SELECT pg_advisory_lock(1735616100)")
                .execute(&mut c)
                .await
                .expect("lock");
            Blocker::Pg(c)
        }
    }

    async fn release(self) {
        match self {
            Blocker::Sqlite(mut c) => {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut c).await;
            }
            Blocker::Pg(mut c) => {
                let _ = sqlx::raw_sql("SELECT pg_advisory_unlock_all()").execute(&mut c).await;
            }
        }
    }
}

#[tokio::test]
async fn excess_calls_are_shed_health_is_not_and_slow_calls_hit_the_deadline() {
    for db in backends().await {
        let opts = ServerOptions {
            max_in_flight: 1,
            request_deadline: Duration::from_secs(2),
            key_rate: KeyRate::OFF,
            ..ServerOptions::default()
        };
        let s = serve(&db.url, opts).await;
        let officer = labelled_key(&s.app, Role::Officer, "officer").await;
        let ch = plain_channel(s.addr).await;
        let mut client = pb::enforcement_service_client::EnforcementServiceClient::new(ch.clone());
        // A published decision to publish again is not needed: creating one
        // writes, and the write waits on the held lock. On PostgreSQL the
        // advisory lock blocks publication, so publish a created decision.
        let created = client
            .create_penalty_decision(create("沪应急罚〔2026〕1号", &officer))
            .await;
        let blocker = Blocker::hold(&db.url).await;
        let slow = {
            let mut c = client.clone();
            let officer = officer.clone();
            let name = created.as_ref().map(|r| r.get_ref().name.clone()).unwrap_or_default();
            let etag = created.as_ref().map(|r| r.get_ref().etag.clone()).unwrap_or_default();
            let sqlite = db.backend == "sqlite";
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let r = if sqlite {
                    c.create_penalty_decision(create("沪应急罚〔2026〕2号", &officer))
                        .await
                        .map(|_| ())
                } else {
                    c.publish_penalty_decision(req(crate::support::calls::publication(&name, &etag), &officer))
                        .await
                        .map(|_| ())
                };
                (r, started.elapsed())
            })
        };
        // Wait until the slow call holds the only permit: the next call is shed.
        let mut shed = None;
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let r = client
                .list_penalty_decisions(req(pb::ListPenaltyDecisionsRequest::default(), &officer))
                .await;
            if let Err(e) = r
                && e.code() == Code::ResourceExhausted
            {
                shed = Some(e);
                break;
            }
        }
        let e = shed.unwrap_or_else(|| panic!("{}: no call was shed while one was in flight", db.backend));
        assert_eq!(reason(&e), "OVERLOADED", "{}", db.backend);
        assert_eq!(
            s.app.metrics.overload_shed.get(),
            1,
            "{}: gongshi_overload_shed_total counts the shed call",
            db.backend
        );
        assert!(e.get_details_retry_info().is_some(), "{}: RetryInfo", db.backend);
        // Health is exempt from the limit.
        assert_eq!(
            health_of(ch.clone()).await.expect("health"),
            ServingStatus::Serving as i32,
            "{}",
            db.backend
        );
        // The slow call ends at the server's deadline with DEADLINE_EXCEEDED.
        let (r, took) = slow.await.expect("join");
        let e = r.expect_err("the blocked call cannot finish");
        assert_eq!(e.code(), Code::DeadlineExceeded, "{}: {e:?}", db.backend);
        assert_eq!(reason(&e), "DEADLINE_EXCEEDED");
        assert!(
            took >= Duration::from_millis(1900),
            "{}: ended after {took:?}",
            db.backend
        );
        blocker.release().await;
        // The permit is back: calls are served again.
        client
            .list_penalty_decisions(req(pb::ListPenaltyDecisionsRequest::default(), &officer))
            .await
            .unwrap_or_else(|e| panic!("{}: served after the deadline: {e:?}", db.backend));
    }
}

/// A CA, a server certificate for `localhost` signed by it, a client
/// certificate signed by it, and a client certificate signed by a stranger.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    client: Identity,
    stranger: Identity,
}

fn make_pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let ca_params = {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    };
    let ca = CertifiedIssuer::self_signed(ca_params.clone(), KeyPair::generate().expect("key")).expect("ca");
    // A certificate for `name` with a key of its own, signed by `issuer`.
    let leaf = |name: &str, issuer: &CertifiedIssuer<'static, KeyPair>| {
        let key = KeyPair::generate().expect("key");
        let cert = CertificateParams::new(vec![name.to_string()])
            .expect("params")
            .signed_by(&key, issuer)
            .unwrap_or_else(|e| panic!("{name} certificate: {e}"));
        (cert, key)
    };
    let (server, server_key) = leaf("localhost", &ca);
    let (client, client_key) = leaf("partner.example", &ca);
    let other_ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
    let (stranger, stranger_key) = leaf("stranger.example", &other_ca);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write");
    std::fs::write(dir.path().join("server.pem"), server.pem()).expect("write");
    std::fs::write(dir.path().join("server.key"), server_key.serialize_pem()).expect("write");
    Pki {
        ca_pem: ca.pem(),
        client: Identity::from_pem(client.pem(), client_key.serialize_pem()),
        stranger: Identity::from_pem(stranger.pem(), stranger_key.serialize_pem()),
        dir,
    }
}

/// The health answer over TLS once the listener task serves: asked up to 50
/// times, 50 ms apart; the last error if it never answers.
async fn tls_health_when_up(addr: SocketAddr, ca_pem: &str, identity: Option<Identity>) -> Result<i32, String> {
    let mut served = Err(String::new());
    for _ in 0..50 {
        served = tls_health(addr, ca_pem, identity.clone()).await;
        if served.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served
}

async fn tls_health(addr: SocketAddr, ca_pem: &str, identity: Option<Identity>) -> Result<i32, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name("localhost");
    if let Some(id) = identity {
        tls = tls.identity(id);
    }
    let ch = Channel::from_shared(format!("https://localhost:{}", addr.port()))
        .expect("uri")
        .tls_config(tls)
        .map_err(|e| format!("tls config: {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    health_of(ch).await.map_err(|e| format!("call: {e:?}"))
}

#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_trusted_certificate() {
    let pki = make_pki();
    let db = support::sqlite_db();
    let files = TlsFiles {
        cert: pki.dir.path().join("server.pem"),
        key: pki.dir.path().join("server.key"),
        client_ca: Some(pki.dir.path().join("ca.pem")),
        client_auth_optional: false,
    };
    let s = serve(
        &db.url,
        ServerOptions {
            tls: Some(files.clone()),
            ..ServerOptions::default()
        },
    )
    .await;
    // Wait for the listener task to be serving.
    let served = tls_health_when_up(s.addr, &pki.ca_pem, Some(pki.client.clone())).await;
    assert_eq!(
        served,
        Ok(ServingStatus::Serving as i32),
        "a partner certificate is served"
    );

    // A key is still needed on top of the certificate; with both, calls work.
    let officer = labelled_key(&s.app, Role::Officer, "officer").await;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost")
        .identity(pki.client.clone());
    let ch = Channel::from_shared(format!("https://localhost:{}", s.addr.port()))
        .expect("uri")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("connect");
    let mut client = pb::enforcement_service_client::EnforcementServiceClient::new(ch);
    client
        .create_penalty_decision(create("沪应急罚〔2026〕9号", &officer))
        .await
        .expect("a call over mutual TLS");

    let no_cert = tls_health(s.addr, &pki.ca_pem, None).await;
    assert!(
        no_cert.is_err(),
        "a client without a certificate is refused: {no_cert:?}"
    );
    let stranger = tls_health(s.addr, &pki.ca_pem, Some(pki.stranger.clone())).await;
    assert!(
        stranger.is_err(),
        "a certificate of another CA is refused: {stranger:?}"
    );
    let plain = tokio::time::timeout(Duration::from_secs(5), async {
        let ch = Channel::from_shared(format!("http://{}", s.addr))
            .expect("uri")
            .connect()
            .await;
        match ch {
            Ok(ch) => health_of(ch).await.map_err(|e| format!("{e:?}")),
            Err(e) => Err(format!("{e:?}")),
        }
    })
    .await;
    assert!(!matches!(plain, Ok(Ok(_))), "plaintext is refused: {plain:?}");
    drop(s);

    // Server TLS alone (no client CA): a client without a certificate is served.
    let s = serve(
        &db.url,
        ServerOptions {
            tls: Some(TlsFiles {
                client_ca: None,
                ..files
            }),
            ..ServerOptions::default()
        },
    )
    .await;
    let served = tls_health_when_up(s.addr, &pki.ca_pem, None).await;
    assert_eq!(
        served,
        Ok(ServingStatus::Serving as i32),
        "TLS without client certificates"
    );
}

#[tokio::test]
async fn unreadable_tls_files_stop_the_server_with_a_clear_error() {
    let db = support::sqlite_db();
    let s = serve(
        &db.url,
        ServerOptions {
            tls: Some(TlsFiles {
                cert: "/nonexistent/server.pem".into(),
                key: "/nonexistent/server.key".into(),
                client_ca: None,
                client_auth_optional: false,
            }),
            ..ServerOptions::default()
        },
    )
    .await;
    let mut s = s;
    let out = tokio::time::timeout(Duration::from_secs(10), &mut s.handle)
        .await
        .expect("run returns")
        .expect("join");
    let e = out.expect_err("TLS files missing");
    let text = e.to_string();
    assert!(
        text.contains("tls_cert_file") && text.contains("/nonexistent/server.pem"),
        "{text}"
    );
}
