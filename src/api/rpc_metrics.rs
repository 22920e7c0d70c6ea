//! The per-call metrics layer: `gongshi_rpc_requests_total{service,method,code}`
//! and `gongshi_rpc_duration_seconds{service,method}` for every gRPC call,
//! recorded at the edge rather than in each handler.
//!
//! A call's status travels in one of two places: in the response headers
//! when the call failed before any message (a "trailers-only" response:
//! every error a handler returns, a shed call, an unknown method), or in the
//! trailers after the last message. So the layer reads `grpc-status` from the
//! headers when it is there and otherwise wraps the body and reads it from the
//! trailers frame. A call counts once, when its status is known: a stream
//! (watch, export) when it ends; one whose client went away before the end
//! counts as `CANCELLED`.
//!
//! Labels are bounded: `service` and `method` come from the request path only
//! when the path names a method of a service this server offers (from the
//! descriptor sets it was built with); anything else is `unknown`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use prost::Message;
use tower::{Layer, Service};

use crate::app::metrics::{CODE_CANCELLED, CODE_UNKNOWN, Metrics, RpcMethod};

/// The label value for a service or method this server does not offer.
pub const UNKNOWN: &str = "unknown";

/// The known methods and their counters.
#[derive(Debug)]
struct Table {
    /// `/package.Service/Method` → its figures.
    methods: HashMap<String, Arc<RpcMethod>>,
    /// `package.Service` → the figures of unknown methods on a known service.
    services: HashMap<String, Arc<RpcMethod>>,
    /// Anything else.
    unknown: Arc<RpcMethod>,
}

impl Table {
    fn new(metrics: &Metrics, descriptor_sets: &[&[u8]]) -> Table {
        let mut methods = HashMap::new();
        let mut services = HashMap::new();
        for set in descriptor_sets {
            // The sets are compiled into the binary; one that does not decode
            // would only leave its methods labelled `unknown`.
            let Ok(fds) = prost_types::FileDescriptorSet::decode(*set) else {
                tracing::warn!("a descriptor set does not decode; its methods are counted as unknown");
                continue;
            };
            for file in &fds.file {
                for svc in &file.service {
                    let service = match file.package() {
                        "" => svc.name().to_string(),
                        p => format!("{p}.{}", svc.name()),
                    };
                    services
                        .entry(service.clone())
                        .or_insert_with(|| Arc::new(metrics.rpc_method(&service, UNKNOWN)));
                    for m in &svc.method {
                        methods.insert(
                            format!("/{service}/{}", m.name()),
                            Arc::new(metrics.rpc_method(&service, m.name())),
                        );
                    }
                }
            }
        }
        Table {
            methods,
            services,
            unknown: Arc::new(metrics.rpc_method(UNKNOWN, UNKNOWN)),
        }
    }

    fn lookup(&self, path: &str) -> Arc<RpcMethod> {
        if let Some(m) = self.methods.get(path) {
            return m.clone();
        }
        let service = path.trim_start_matches('/').split('/').next().unwrap_or_default();
        self.services.get(service).unwrap_or(&self.unknown).clone()
    }
}

/// The layer; cheap to clone.
#[derive(Debug, Clone)]
pub struct RpcMetricsLayer {
    table: Arc<Table>,
}

impl RpcMetricsLayer {
    /// Counts into `metrics` the calls of the services described by
    /// `descriptor_sets` (encoded `FileDescriptorSet`s).
    pub fn new(metrics: &Metrics, descriptor_sets: &[&[u8]]) -> Self {
        RpcMetricsLayer {
            table: Arc::new(Table::new(metrics, descriptor_sets)),
        }
    }
}

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics {
            inner,
            table: self.table.clone(),
        }
    }
}

/// The service made by [`RpcMetricsLayer`].
#[derive(Debug, Clone)]
pub struct RpcMetrics<S> {
    inner: S,
    table: Arc<Table>,
}

/// One call being measured.
#[derive(Debug)]
struct Recorder {
    method: Arc<RpcMethod>,
    started: Instant,
}

impl Recorder {
    fn finish(self, code: usize) {
        self.method.observe(code, self.started.elapsed());
    }
}

/// The `grpc-status` of a header map, if it has one.
fn grpc_status(headers: &http::HeaderMap) -> Option<usize> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

impl<S, B> Service<http::Request<B>> for RpcMetrics<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Unpin,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let rec = Recorder {
            method: self.table.lookup(req.uri().path()),
            started: Instant::now(),
        };
        ResponseFuture {
            inner: self.inner.call(req),
            rec: Some(rec),
        }
    }
}

/// The future of [`RpcMetrics`].
#[derive(Debug)]
pub struct ResponseFuture<F> {
    inner: F,
    rec: Option<Recorder>,
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<tonic::body::Body>, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let out = ready!(Pin::new(&mut this.inner).poll(cx));
        let Some(rec) = this.rec.take() else {
            return Poll::Ready(out);
        };
        Poll::Ready(match out {
            Ok(resp) => match grpc_status(resp.headers()) {
                // Trailers-only: the status is all there is.
                Some(code) => {
                    rec.finish(code);
                    Ok(resp)
                }
                None => Ok(resp.map(|inner| tonic::body::Body::new(MeteredBody { inner, rec: Some(rec) }))),
            },
            Err(e) => {
                rec.finish(CODE_UNKNOWN);
                Err(e)
            }
        })
    }
}

/// A response body that records its call when the trailers pass (or when it
/// is dropped unfinished: the client went away).
struct MeteredBody {
    inner: tonic::body::Body,
    rec: Option<Recorder>,
}

impl Body for MeteredBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let out = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(item) = &out {
            let code = match item {
                Some(Ok(frame)) => frame.trailers_ref().map(|t| grpc_status(t).unwrap_or(CODE_UNKNOWN)),
                Some(Err(status)) => Some(status.code() as usize),
                // Ended without trailers: not a complete gRPC response.
                None => Some(CODE_UNKNOWN),
            };
            if let Some(code) = code
                && let Some(rec) = this.rec.take()
            {
                rec.finish(code);
            }
        }
        out
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        if let Some(rec) = self.rec.take() {
            rec.finish(CODE_CANCELLED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_known_names_only() {
        let m = Metrics::new();
        let t = Table::new(
            &m,
            &[crate::api::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET],
        );
        let known = t.lookup("/gongshi.v1.DisclosureService/GetDisclosure");
        assert!(Arc::ptr_eq(
            &known,
            &t.methods["/gongshi.v1.DisclosureService/GetDisclosure"]
        ));
        assert!(t.methods.contains_key("/grpc.health.v1.Health/Check"));
        // An unknown method of a known service, and an unknown service.
        let m1 = t.lookup("/gongshi.v1.DisclosureService/91310000MA1K000006");
        assert!(Arc::ptr_eq(&m1, &t.services["gongshi.v1.DisclosureService"]));
        let m2 = t.lookup("/whatever/at/all");
        assert!(Arc::ptr_eq(&m2, &t.unknown));
        assert!(Arc::ptr_eq(&t.lookup(""), &t.unknown));
    }
}
