//! The public face over plain HTTP (issue 16): the disclosure query page in
//! Chinese, the JSON API (the proto3 JSON mapping of the gRPC messages) and
//! the Atom feed — anonymous, active records only, on their own listener
//! (`http_listen`) in the same process as the gRPC server.
//!
//! An adapter like `api/`: it calls the application's public read models
//! ([`crate::app::public`]) and the same protobuf conversions as the
//! DisclosureService, and never the store. The HTTP machinery is the
//! ecosystem's: hyper-util serves connections (header size, header read
//! timeout, graceful shutdown), axum routes, tower-http adds request IDs,
//! tracing, compression, timeouts and body limits; `limit.rs` the per-address
//! rate limit.
//!
//! | Route | Answers |
//! |---|---|
//! | `GET /` | the search page: a search box and the newest disclosures, paged |
//! | `GET /disclosures/{id}` | one record; a removed one says 该信息已停止公示 (410) |
//! | `GET /v1/disclosures?page_size=&page_token=&q=` | `ListDisclosuresResponse` as JSON |
//! | `GET /v1/disclosures/{id}` | `Disclosure`; removed: 410 with the `DisclosureChange` that removed it |
//! | `GET /v1/disclosureChanges?after_sequence=&page_size=` | `ListDisclosureChangesResponse` |
//! | `GET /v1/disclosures:export` | the CSV of `ExportDisclosures`, streamed (checksum in trailers) |
//! | `GET /feeds/disclosures.atom?before=&after=` | the change feed as Atom, newest first |

mod atom;
mod errors;
mod http;
mod json;
mod limit;
mod pages;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::app::App;

pub use json::to_json;

/// Largest request head (request line and headers) accepted, in bytes; a
/// larger one is refused by hyper (431 on HTTP/1.1).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header fields in one request.
pub const MAX_HEADERS: usize = 64;
/// Largest request body accepted (every route is a GET).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Exports running at once on this instance; another one gets 429.
pub const MAX_EXPORTS: usize = 2;

/// How the public listener behaves.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// The bureau's name, shown on every page and as the feed's author.
    pub bureau_name: String,
    /// The address the public reaches the site at (e.g.
    /// `https://gongshi.example.gov.cn`), for the feed's links and ids;
    /// empty: `http://` + the request's Host header.
    pub public_url: String,
    /// Requests per second per client address, sustained (0 = no limit).
    pub requests_per_second: u32,
    /// Requests a client address may make at once after being idle.
    pub burst: u32,
    /// A request whose response has not started after this gets 504.
    pub request_timeout: Duration,
    /// Records per page of the search page.
    pub page_size: i64,
    /// Changes per page of the Atom feed.
    pub feed_page_size: i64,
    /// Rows read per batch by the export.
    pub export_batch: i64,
    /// Target size of an export chunk.
    pub export_chunk_bytes: usize,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            bureau_name: DEFAULT_BUREAU.into(),
            public_url: String::new(),
            requests_per_second: 20,
            burst: 100,
            request_timeout: Duration::from_secs(10),
            page_size: 20,
            feed_page_size: 50,
            export_batch: 250,
            export_chunk_bytes: 64 * 1024,
        }
    }
}

/// The default bureau name (the bureau of the demo history).
pub const DEFAULT_BUREAU: &str = "上海市浦东新区应急管理局";

/// What every handler shares.
pub(crate) struct Web {
    app: Arc<App>,
    opts: WebOptions,
    pages: minijinja::Environment<'static>,
    limiter: Option<limit::Limiter>,
    exports: Arc<Semaphore>,
}

/// The public routes with their layers, over `app`.
pub fn router(app: Arc<App>, opts: WebOptions) -> Router {
    let web = Arc::new(Web {
        limiter: limit::Limiter::new(opts.requests_per_second, opts.burst),
        pages: pages::environment(),
        exports: Arc::new(Semaphore::new(MAX_EXPORTS)),
        app,
        opts,
    });
    routes::router(web)
}

/// Serves the public routes on `listener` until `shutdown` resolves; then
/// stops accepting and gives open requests `grace` to finish.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    opts: WebOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) {
    let router = router(app, opts);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(MAX_HEAD_BYTES.max(8192))
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEAD_BYTES as u32)
        .max_concurrent_streams(100)
        .max_pending_accept_reset_streams(50)
        .keep_alive_interval(Duration::from_secs(30));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "public listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Without TCP_NODELAY a response written in parts waits ~40 ms for
        // the client's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            tower::ServiceExt::oneshot(router.clone(), req)
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "public listener: open requests dropped at the deadline"
        );
    }
}
