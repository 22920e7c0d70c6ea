//! Wiring: the gRPC services, health, reflection, the expiry job, and
//! graceful shutdown with a hard deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::api::pb::credit_repair_service_server::CreditRepairServiceServer;
use crate::api::pb::disclosure_service_server::DisclosureServiceServer;
use crate::api::pb::enforcement_service_server::EnforcementServiceServer;
use crate::api::pb::notice_service_server::NoticeServiceServer;
use crate::api::pb::report_service_server::ReportServiceServer;
use crate::api::{self, CreditRepairApi, DisclosureApi, EnforcementApi, NoticeApi, ReportApi};
use crate::app::App;

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
    /// Hard deadline for in-flight calls once shutdown starts.
    pub shutdown_grace: Duration,
    /// How often the expiry job runs (it also runs once at start).
    pub expiry_interval: Duration,
    /// Unauthenticated receipt-code look-ups allowed per client address per minute.
    pub lookups_per_minute: u32,
    /// Largest request message accepted (bytes); larger ones get RESOURCE_EXHAUSTED.
    pub max_message_bytes: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            feed: FeedOptions::default(),
            shutdown_grace: Duration::from_secs(10),
            expiry_interval: Duration::from_secs(60),
            lookups_per_minute: 10,
            // Room for 10 materials of 5 MiB in one submission.
            max_message_bytes: 52 * 1024 * 1024,
        }
    }
}

/// A failure to start serving.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Reflection could not be built from the descriptors.
    #[error("reflection: {0}")]
    Reflection(String),
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves on `listener` until `shutdown` resolves. Then health turns
/// NOT_SERVING, open watches end, in-flight calls get `shutdown_grace` to
/// finish, and the function returns.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    for s in SERVICES {
        health_reporter
            .set_service_status(s, tonic_health::ServingStatus::Serving)
            .await;
    }
    health_reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;

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

    let (stop_tx, stop_rx) = watch::channel(false);
    let expiry = tokio::spawn(expiry_job(app.clone(), opts.expiry_interval, stop_rx.clone()));

    let fired = Arc::new(Notify::new());
    let signal = {
        let fired = fired.clone();
        let reporter = health_reporter.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down: health NOT_SERVING, finishing in-flight calls");
            for s in SERVICES {
                reporter
                    .set_service_status(s, tonic_health::ServingStatus::NotServing)
                    .await;
            }
            reporter
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
            let _ = stop_tx.send(true);
            fired.notify_one();
        }
    };

    let addr = listener.local_addr().ok();
    tracing::info!(addr = ?addr, backend = app.store.backend(), "gongshi serving");
    let serve = Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            EnforcementServiceServer::new(EnforcementApi::new(app.clone()))
                .max_decoding_message_size(opts.max_message_bytes),
        )
        .add_service(
            DisclosureServiceServer::new(DisclosureApi::new(app.clone(), opts.feed.clone(), stop_rx))
                .max_decoding_message_size(opts.max_message_bytes),
        )
        .add_service(
            CreditRepairServiceServer::new(CreditRepairApi::new(app.clone(), opts.lookups_per_minute))
                .max_decoding_message_size(opts.max_message_bytes),
        )
        .add_service(NoticeServiceServer::new(NoticeApi::new(app.clone())))
        .add_service(ReportServiceServer::new(ReportApi::new(app.clone())))
        // TCP_NODELAY on every accepted connection: with Nagle's algorithm a
        // response written in two parts waits for the client's delayed ACK
        // (~40 ms per call).
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), signal);
    let grace = opts.shutdown_grace;
    let result = tokio::select! {
        r = serve => r.map_err(ServerError::from),
        _ = async { fired.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_secs = grace.as_secs(), "shutdown deadline reached; dropping remaining calls");
            Ok(())
        }
    };
    expiry.abort();
    result
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
