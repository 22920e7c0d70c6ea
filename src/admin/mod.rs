//! The operator's listener (`admin_listen`, default `127.0.0.1:9464`), apart
//! from the public ones so it can stay on a private interface:
//!
//! - `GET /metrics` — every metric family (`app::metrics`) and the process
//!   figures, in the Prometheus text format (0.0.4), or OpenMetrics 1.0 when
//!   the `Accept` header asks for `application/openmetrics-text`;
//! - `GET /livez` — 200 while the process serves HTTP at all;
//! - `GET /readyz` — 200 `ready` when the database answers, every migration
//!   of this build is applied and the server is not draining; else 503 with
//!   the reason in the body.
//!
//! Plain HTTP/1.1 (axum). An adapter like `api`: it reads the application
//! through [`App`], never the store.

pub mod process;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::App;

/// The default address of the admin listener: loopback only, on the port
/// of OpenTelemetry's Prometheus exporter (free on most hosts).
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9464";

/// How long `/readyz` waits for the database before answering 503.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The content type of the OpenMetrics text format.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

struct AdminState {
    app: Arc<App>,
    draining: watch::Receiver<bool>,
    process: Registry,
}

/// The admin routes over `app`; `draining` turns true when shutdown begins.
pub fn router(app: Arc<App>, draining: watch::Receiver<bool>) -> Router {
    let mut process = Registry::default();
    process.register_collector(Box::new(process::ProcessCollector));
    let state = Arc::new(AdminState { app, draining, process });
    Router::new()
        .route("/metrics", get(metrics))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Serves the admin routes on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    draining: watch::Receiver<bool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app, draining))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Whether an `Accept` header asks for OpenMetrics (any media range of that
/// type whose q is not 0).
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let is_om = parts
                .next()
                .is_some_and(|t| t.eq_ignore_ascii_case("application/openmetrics-text"));
            is_om
                && !parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f64>().ok())
                        .is_some_and(|q| q <= 0.0)
                })
        })
    })
}

async fn metrics(State(s): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    s.app.refresh_pool_gauges();
    let openmetrics = wants_openmetrics(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let mut body = String::with_capacity(32 * 1024);
    let encoded = if openmetrics {
        text::encode_registry(&mut body, s.app.metrics.registry())
            .and_then(|()| text::encode_registry(&mut body, &s.process))
            .and_then(|()| text::encode_eof(&mut body))
    } else {
        prometheus_text::encode(&mut body, s.app.metrics.registry())
            .and_then(|()| prometheus_text::encode(&mut body, &s.process))
    };
    if encoded.is_err() {
        tracing::warn!("metrics could not be encoded");
        return (StatusCode::INTERNAL_SERVER_ERROR, "metrics could not be encoded\n").into_response();
    }
    let content_type = if openmetrics {
        OPENMETRICS_CONTENT_TYPE
    } else {
        prometheus_text::CONTENT_TYPE
    };
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response()
}

async fn livez() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<Arc<AdminState>>) -> Response {
    if *s.draining.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready: draining (shutting down)\n").into_response();
    }
    match s.app.readiness(READY_TIMEOUT).await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", e.0)).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::wants_openmetrics;

    #[test]
    fn accept_negotiation() {
        assert!(!wants_openmetrics(None));
        assert!(!wants_openmetrics(Some("*/*")));
        assert!(!wants_openmetrics(Some("text/plain;version=0.0.4")));
        assert!(wants_openmetrics(Some("application/openmetrics-text")));
        // What Prometheus sends.
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        )));
        assert!(!wants_openmetrics(Some(
            "application/openmetrics-text; q=0, text/plain"
        )));
    }
}
