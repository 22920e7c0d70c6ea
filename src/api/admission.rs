//! Admission at the edge: one tower layer that bounds the calls in flight on
//! the whole instance (shedding the excess at once) and gives every call a
//! server-side deadline.
//!
//! Why a layer of our own rather than tower's `ConcurrencyLimit` + `LoadShed`:
//! those would also shed `grpc.health.v1.Health/Check` (a balancer must still
//! see an overloaded instance as up), they answer without `ErrorInfo`, and
//! tonic turns its own timeout into `CANCELLED`. Here health and reflection
//! are exempt, a shed call gets `RESOURCE_EXHAUSTED` (reason `OVERLOADED`)
//! with `RetryInfo`, and a call past its deadline gets `DEADLINE_EXCEEDED`
//! (reason `DEADLINE_EXCEEDED`).
//!
//! The permit and the deadline cover a call until its response headers: a
//! server-streaming call (watch, export) is admitted like any other, then
//! streams for as long as it needs (watches end at shutdown; exports are
//! bounded by the data).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Semaphore;
use tonic::Status;
use tower::{Layer, Service};

use crate::app::AppError;
use crate::app::metrics::Metrics;

/// Limits of the admission layer.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionOptions {
    /// Calls of the gongshi services in flight on this instance at most; the
    /// next one is shed. 0 turns the limit off.
    pub max_in_flight: usize,
    /// The longest a call may take to produce its response.
    pub deadline: Duration,
}

/// The layer; clone it freely (the permits are shared).
#[derive(Debug, Clone)]
pub struct AdmissionLayer {
    permits: Option<Arc<Semaphore>>,
    deadline: Duration,
    metrics: Option<Arc<Metrics>>,
}

impl AdmissionLayer {
    /// A layer with these limits.
    pub fn new(opts: AdmissionOptions) -> Self {
        AdmissionLayer {
            permits: (opts.max_in_flight > 0).then(|| Arc::new(Semaphore::new(opts.max_in_flight))),
            deadline: opts.deadline,
            metrics: None,
        }
    }

    /// Counts shed calls in `gongshi_overload_shed_total`.
    pub fn counting_into(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = Admission<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Admission {
            inner,
            permits: self.permits.clone(),
            deadline: self.deadline,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service made by [`AdmissionLayer`].
#[derive(Debug, Clone)]
pub struct Admission<S> {
    inner: S,
    permits: Option<Arc<Semaphore>>,
    deadline: Duration,
    metrics: Option<Arc<Metrics>>,
}

/// Paths never shed nor timed out: the standard services a balancer and an
/// operator need most when the instance is busy.
fn exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.")
}

fn overloaded() -> Status {
    AppError::Exhausted {
        reason: "OVERLOADED",
        message: "the server is at its limit of calls in flight; retry shortly".into(),
        retry_after: Duration::from_secs(1),
    }
    .into()
}

fn deadline_exceeded(deadline: Duration) -> Status {
    super::status::simple(
        tonic::Code::DeadlineExceeded,
        "DEADLINE_EXCEEDED",
        format!(
            "the call did not finish within the server's deadline of {} s",
            deadline.as_secs_f64()
        ),
    )
}

impl<S, B> Service<http::Request<B>> for Admission<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // The clone is the one polled ready; keep it for this call (tower's
        // usual swap, since `inner` may not be ready again).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if exempt(req.uri().path()) {
            return Box::pin(inner.call(req));
        }
        let permit = match &self.permits {
            None => None,
            Some(p) => match p.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    if let Some(m) = &self.metrics {
                        m.overload_shed.inc();
                    }
                    tracing::warn!(path = req.uri().path(), "shed: too many calls in flight");
                    return Box::pin(async { Ok(overloaded().into_http()) });
                }
            },
        };
        let deadline = self.deadline;
        Box::pin(async move {
            let out = match tokio::time::timeout(deadline, inner.call(req)).await {
                Ok(r) => r,
                Err(_) => Ok(deadline_exceeded(deadline).into_http()),
            };
            drop(permit);
            out
        })
    }
}
