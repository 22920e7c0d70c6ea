//! Wiring: the gRPC services (and gRPC-Web on the same port), health,
//! reflection, the edge layers (request IDs, per-call metrics, admission),
//! the admin listener, the public HTTP listener (`crate::web`), the
//! background jobs (expiry, calendar, database watch, metric refresh), and
//! graceful shutdown with a hard deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::api::admission::{AdmissionLayer, AdmissionOptions};
use crate::api::pb::credit_repair_service_server::CreditRepairServiceServer;
use crate::api::pb::disclosure_service_server::DisclosureServiceServer;
use crate::api::pb::enforcement_service_server::EnforcementServiceServer;
use crate::api::pb::notice_service_server::NoticeServiceServer;
use crate::api::pb::report_service_server::ReportServiceServer;
use crate::api::request_id::RequestIdLayer;
use crate::api::rpc_metrics::RpcMetricsLayer;
use crate::api::{self, CreditRepairApi, DisclosureApi, EnforcementApi, NoticeApi, ReportApi};
use crate::app::App;
use crate::app::guard::KeyRate;

pub use crate::api::disclosure_options::FeedOptions;

/// The fully-qualified names of the five gongshi.v1 services.
pub const SERVICES: [&str; 5] = [
    "gongshi.v1.EnforcementService",
    "gongshi.v1.DisclosureService",
    "gongshi.v1.CreditRepairService",
    "gongshi.v1.NoticeService",
    "gongshi.v1.ReportService",
];

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Feed and export tuning.
    pub feed: FeedOptions,
    /// GetDisclosure, ListDisclosures and the feed from stored encodings
    /// (`api/served.rs`); `false` serves the decoded path (every record read
    /// and encoded per call): a fallback for operators, and the "before" of
    /// the benchmarks.
    pub serve_stored_bytes: bool,
    /// Hard deadline for in-flight calls once shutdown starts.
    pub shutdown_grace: Duration,
    /// How often the expiry job runs (it also runs once at start).
    pub expiry_interval: Duration,
    /// How often this instance looks for an official calendar year loaded
    /// (by `gongshi calendar load`) since it last read the calendar. Repair
    /// acts check on every transaction anyway; this keeps reports and the
    /// operator's warning current.
    pub calendar_refresh: Duration,
    /// Unauthenticated receipt-code look-ups allowed per client address per minute.
    pub lookups_per_minute: u32,
    /// Largest request message accepted (bytes); larger ones get RESOURCE_EXHAUSTED.
    pub max_message_bytes: usize,
    /// Requests per second per API key (RESOURCE_EXHAUSTED `RATE_LIMITED` beyond).
    pub key_rate: KeyRate,
    /// How long an API-key row is cached (revocation takes effect on this
    /// instance within it); zero reads the key on every call.
    pub key_cache_ttl: Duration,
    /// Calls in flight on this instance at most (the excess is shed with
    /// RESOURCE_EXHAUSTED `OVERLOADED`; health and reflection are exempt); 0 = no limit.
    pub max_in_flight: usize,
    /// Server-side deadline of every call until its response starts
    /// (DEADLINE_EXCEEDED beyond). A client's shorter `grpc-timeout` also applies.
    pub request_deadline: Duration,
    /// How often the database is pinged; a failed ping turns health
    /// NOT_SERVING and makes calls fail fast with UNAVAILABLE until one succeeds.
    pub db_check_interval: Duration,
    /// HTTP/2 PING to an idle connection after this long (dead peers are dropped).
    pub keepalive_interval: Duration,
    /// A connection whose PING is not answered within this is closed.
    pub keepalive_timeout: Duration,
    /// Concurrent HTTP/2 streams one connection may open.
    pub max_concurrent_streams: u32,
    /// Streams a client may reset before being answered (the "rapid reset"
    /// flood, CVE-2023-44487): at most this many pending reset streams per connection.
    pub max_pending_reset_streams: usize,
    /// TLS, optionally requiring client certificates; plaintext when `None`.
    pub tls: Option<TlsFiles>,
    /// Count every gRPC call (`gongshi_rpc_*`); false leaves the layer out
    /// (only to measure what it costs, BENCHMARKS.md).
    pub rpc_metrics: bool,
    /// How often the gauges that need a query are refreshed.
    pub metrics_refresh: Duration,
    /// The public page, JSON and Atom (served when [`run_with`] is given a public listener).
    pub web: crate::web::WebOptions,
    /// Browser origins allowed to make gRPC-Web calls (CORS); empty: none.
    pub grpc_web_cors_origins: Vec<String>,
}

/// PEM files for TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain.
    pub cert: std::path::PathBuf,
    /// The server's private key.
    pub key: std::path::PathBuf,
    /// CA certificates that sign partner platforms' client certificates; when
    /// set, mutual TLS is on.
    pub client_ca: Option<std::path::PathBuf>,
    /// With `client_ca`: also accept clients without a certificate (their API
    /// key still decides). Default false: a certificate is required.
    pub client_auth_optional: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            feed: FeedOptions::default(),
            serve_stored_bytes: true,
            shutdown_grace: Duration::from_secs(10),
            expiry_interval: Duration::from_secs(60),
            calendar_refresh: Duration::from_secs(30),
            lookups_per_minute: 10,
            // Room for 10 materials of 5 MiB in one submission.
            max_message_bytes: 52 * 1024 * 1024,
            key_rate: KeyRate::default(),
            key_cache_ttl: crate::app::guard::DEFAULT_KEY_CACHE_TTL,
            max_in_flight: 256,
            request_deadline: Duration::from_secs(30),
            db_check_interval: Duration::from_millis(500),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_concurrent_streams: 200,
            max_pending_reset_streams: 50,
            tls: None,
            rpc_metrics: true,
            metrics_refresh: crate::app::metrics::REFRESH_EVERY,
            web: crate::web::WebOptions::default(),
            grpc_web_cors_origins: Vec::new(),
        }
    }
}

/// A failure to start serving.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Reflection could not be built from the descriptors.
    #[error("reflection: {0}")]
    Reflection(String),
    /// The TLS files cannot be read or used.
    #[error("tls: {0}")]
    Tls(String),
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

fn read_pem(what: &str, path: &std::path::Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|e| ServerError::Tls(format!("cannot read {what} {}: {e}", path.display())))
}

/// The rustls server configuration for `files`.
fn tls_config(files: &TlsFiles) -> Result<tonic::transport::ServerTlsConfig, ServerError> {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let identity = Identity::from_pem(
        read_pem("tls_cert_file", &files.cert)?,
        read_pem("tls_key_file", &files.key)?,
    );
    let mut cfg = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &files.client_ca {
        cfg = cfg
            .client_ca_root(Certificate::from_pem(read_pem("tls_client_ca_file", ca)?))
            .client_auth_optional(files.client_auth_optional);
    }
    Ok(cfg)
}

/// Serves on `listener` until `shutdown` resolves. Then health turns
/// NOT_SERVING, open watches end, in-flight calls get `shutdown_grace` to
/// finish, and the function returns. No admin or public listener: see [`run_with`].
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    run_with(listener, None, None, app, opts, shutdown).await
}

/// The gRPC-Web CORS layer for an allow-list of origins (`None` when empty:
/// no browser origin may call).
fn grpc_web_cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use http::{HeaderName, HeaderValue, Method};
    if origins.is_empty() {
        return None;
    }
    let h = HeaderName::from_static;
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(tower_http::cors::AllowOrigin::list(
                origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()),
            ))
            .allow_methods([Method::POST])
            .allow_headers([
                h("content-type"),
                h("x-grpc-web"),
                h("x-user-agent"),
                h("grpc-timeout"),
                h("authorization"),
                h("x-gongshi-on-behalf-of"),
            ])
            .expose_headers([h("grpc-status"), h("grpc-message"), h("grpc-status-details-bin")])
            .max_age(Duration::from_secs(24 * 3600)),
    )
}

/// [`run`], with the operator's listener (`crate::admin`: metrics and
/// probes) on `admin` and the public page, JSON and Atom (`crate::web`) on
/// `http` when given: same process, same application, and the same shutdown.
/// `/readyz` answers 503 from the moment shutdown begins; the admin listener
/// closes when the gRPC server has finished; the public one stops accepting
/// when shutdown begins and its open requests get `shutdown_grace`.
pub async fn run_with(
    listener: TcpListener,
    admin: Option<TcpListener>,
    http: Option<TcpListener>,
    app: Arc<App>,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    set_health(&health_reporter, tonic_health::ServingStatus::Serving).await;

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServerError::Reflection(e.to_string()))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ServerError::Reflection(e.to_string()))?;

    app.guard.set_key_rate(opts.key_rate);
    app.guard.set_key_cache_ttl(opts.key_cache_ttl);
    let mut builder = Server::builder();
    if let Some(files) = &opts.tls {
        builder = builder.tls_config(tls_config(files)?)?;
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let expiry = tokio::spawn(expiry_job(app.clone(), opts.expiry_interval, stop_rx.clone()));
    let calendar = tokio::spawn(calendar_job(app.clone(), opts.calendar_refresh, stop_rx.clone()));
    let db_watch = tokio::spawn(db_watch(
        app.clone(),
        health_reporter.clone(),
        opts.db_check_interval,
        stop_rx.clone(),
    ));
    let refresh = tokio::spawn(metrics_job(app.clone(), opts.metrics_refresh, stop_rx.clone()));
    let (admin_done_tx, mut admin_done_rx) = watch::channel(false);
    let admin = admin.map(|listener| {
        if let Ok(a) = listener.local_addr() {
            tracing::info!(addr = %a, "admin listener: /metrics /livez /readyz");
        }
        let done = async move {
            let _ = admin_done_rx.wait_for(|d| *d).await;
        };
        tokio::spawn(crate::admin::serve(listener, app.clone(), stop_rx.clone(), done))
    });
    let rpc_metrics = opts.rpc_metrics.then(|| {
        RpcMetricsLayer::new(
            &app.metrics,
            &[
                api::FILE_DESCRIPTOR_SET,
                tonic_health::pb::FILE_DESCRIPTOR_SET,
                tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            ],
        )
    });

    let web = http.map(|listener| {
        if let Ok(a) = listener.local_addr() {
            tracing::info!(addr = %a, "public listener: page /, JSON /v1/disclosures, Atom /feeds/disclosures.atom");
        }
        let mut stop = stop_rx.clone();
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        tokio::spawn(crate::web::serve(
            listener,
            app.clone(),
            opts.web.clone(),
            stopped,
            opts.shutdown_grace,
        ))
    });

    let fired = Arc::new(Notify::new());
    let signal = {
        let fired = fired.clone();
        let reporter = health_reporter.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down: health NOT_SERVING, finishing in-flight calls");
            set_health(&reporter, tonic_health::ServingStatus::NotServing).await;
            let _ = stop_tx.send(true);
            fired.notify_one();
        }
    };

    let addr = listener.local_addr().ok();
    tracing::info!(addr = ?addr, backend = app.store.backend(), "gongshi serving");
    let serve = builder
        .http2_keepalive_interval(Some(opts.keepalive_interval))
        .http2_keepalive_timeout(Some(opts.keepalive_timeout))
        .max_concurrent_streams(Some(opts.max_concurrent_streams))
        .http2_max_pending_accept_reset_streams(Some(opts.max_pending_reset_streams))
        // Outermost first: gRPC-Web (HTTP/1.1 from browsers) on the same
        // port — CORS for the allowed origins, then the translation; then a
        // request ID for every call (and its log lines), then the per-call
        // metrics, which so see shed and timed-out calls too.
        .accept_http1(true)
        .layer(tower::util::option_layer(grpc_web_cors(&opts.grpc_web_cors_origins)))
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(RequestIdLayer)
        .layer(tower::util::option_layer(rpc_metrics))
        .layer(
            AdmissionLayer::new(AdmissionOptions {
                max_in_flight: opts.max_in_flight,
                deadline: opts.request_deadline,
            })
            .counting_into(app.metrics.clone()),
        )
        .layer(api::codec::WireErrorsLayer) // hostile input: ErrorInfo on tonic's own errors (api/codec.rs)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            EnforcementServiceServer::new(EnforcementApi::new(app.clone()))
                .max_decoding_message_size(opts.max_message_bytes),
        )
        // DisclosureService's reads from stored bytes (api/served.rs), or, if an
        // operator turned that off, the decoded path.
        .add_optional_service(opts.serve_stored_bytes.then(|| {
            api::served::DisclosureServer::new(
                DisclosureApi::new(app.clone(), opts.feed.clone(), stop_rx.clone()),
                opts.max_message_bytes,
            )
        }))
        .add_optional_service((!opts.serve_stored_bytes).then(|| {
            DisclosureServiceServer::new(DisclosureApi::new(app.clone(), opts.feed.clone(), stop_rx.clone()))
                .max_decoding_message_size(opts.max_message_bytes)
        }))
        .add_service(
            CreditRepairServiceServer::new(CreditRepairApi::new(app.clone(), opts.lookups_per_minute))
                .max_decoding_message_size(opts.max_message_bytes),
        )
        .add_service(
            NoticeServiceServer::new(NoticeApi::new(app.clone())).max_decoding_message_size(opts.max_message_bytes),
        )
        .add_service(
            ReportServiceServer::new(ReportApi::new(app.clone())).max_decoding_message_size(opts.max_message_bytes),
        )
        // TCP_NODELAY on every accepted connection: with Nagle's algorithm a
        // response written in two parts waits for the client's delayed ACK
        // (~40 ms per call).
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .with_keepalive(Some(Duration::from_secs(60))),
            signal,
        );
    let grace = opts.shutdown_grace;
    let result = tokio::select! {
        r = serve => r.map_err(ServerError::from),
        _ = async { fired.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_secs = grace.as_secs(), "shutdown deadline reached; dropping remaining calls");
            Ok(())
        }
    };
    expiry.abort();
    calendar.abort();
    db_watch.abort();
    if let Some(mut web) = web {
        // It began closing with the shutdown signal (or when the gRPC server
        // failed) and has its own deadline.
        if tokio::time::timeout(grace + Duration::from_secs(1), &mut web)
            .await
            .is_err()
        {
            tracing::warn!("public listener did not close in time; dropped");
            web.abort();
        }
    }
    refresh.abort();
    if let Some(admin) = admin {
        let _ = admin_done_tx.send(true);
        // Open scrape connections get a moment to finish, no more.
        if tokio::time::timeout(Duration::from_secs(1), admin).await.is_err() {
            tracing::debug!("admin listener did not close within 1 s; dropped");
        }
    }
    result
}

/// Refreshes the gauges that need a query at start and then every `every`,
/// until shutdown. Errors (database down) are logged at debug level: the
/// database watch already reports the outage.
async fn metrics_job(app: Arc<App>, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = app.refresh_gauges().await {
            tracing::debug!(error = %e, "metric gauges not refreshed; keeping the last values");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Pings the database every `every`. A failed ping (or one slower than
/// `every`, at least a second) turns every service NOT_SERVING and makes calls
/// fail fast with UNAVAILABLE; the next good ping turns them back. Stops at
/// shutdown, which owns the NOT_SERVING state from then on.
async fn db_watch(
    app: Arc<App>,
    reporter: tonic_health::server::HealthReporter,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let limit = every.max(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let up = matches!(tokio::time::timeout(limit, app.store.ping()).await, Ok(Ok(())));
        if *stop.borrow() {
            return;
        }
        if app.guard.set_db_up(up) {
            let status = if up {
                tracing::info!("database reachable again: serving");
                tonic_health::ServingStatus::Serving
            } else {
                tracing::warn!("database unreachable: NOT_SERVING, calls answer UNAVAILABLE");
                tonic_health::ServingStatus::NotServing
            };
            set_health(&reporter, status).await;
        }
    }
}

/// Sets the health of every gongshi service and of the server as a whole ("").
async fn set_health(reporter: &tonic_health::server::HealthReporter, status: tonic_health::ServingStatus) {
    for s in SERVICES {
        reporter.set_service_status(s, status).await;
    }
    reporter.set_service_status("", status).await;
}

/// Reads the stored calendar every `every` when another process loaded an
/// official year, and warns in the log — at start, then once a day — when
/// next year's schedule is not official after 1 November (DOMAIN.md §8).
async fn calendar_job(app: Arc<App>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut warned_on = None;
    loop {
        match app.refresh_calendar().await {
            Ok(true) => {
                let cal = app.calendar();
                tracing::info!(
                    version = cal.version(),
                    official_through = ?cal.official_through_year(),
                    "working-day calendar reloaded: a new official year is in use"
                );
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the working-day calendar; will retry"),
        }
        let today = app.clock.today_cst();
        if warned_on != Some(today) {
            warned_on = Some(today);
            if let Some(w) = app.calendar_warning(today) {
                tracing::warn!("{w}");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Runs expiry at start and then every `every`, until shutdown. Errors
/// (database down) are logged and retried on the next tick.
async fn expiry_job(app: Arc<App>, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        match app.expire_due().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expiry job terminated disclosures"),
            Err(e) => tracing::warn!(error = %e, "expiry job failed; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}
