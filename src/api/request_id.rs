//! Request IDs: every gRPC call gets one, returned to the client as the
//! `x-request-id` response metadata, and every log line written while the
//! call is handled carries it (a tracing span `rpc{request_id=…}` around the
//! call; tasks a call spawns — a watch, an export — run in the same span).
//!
//! A client may send its own `x-request-id` to correlate with its logs; it is
//! kept when it is 1–64 characters of `A–Z a–z 0–9 . _ : -`, else replaced by
//! a new ULID (anything else might not be safe to put in a log line).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::HeaderValue;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::instrument::Instrumented;

/// The header (gRPC metadata key) of the request ID, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// A client's request ID worth keeping.
fn acceptable(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=64).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-'))
}

/// The layer.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestId { inner }
    }
}

/// The service made by [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct RequestId<S> {
    inner: S,
}

impl<S, B, R> Service<http::Request<B>> for RequestId<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Unpin,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let id = match req.headers().get(REQUEST_ID) {
            Some(v) if acceptable(v) => v.clone(),
            _ => {
                let fresh = HeaderValue::try_from(ulid::Ulid::new().to_string())
                    .unwrap_or_else(|_| HeaderValue::from_static("-"));
                req.headers_mut().insert(REQUEST_ID, fresh.clone());
                fresh
            }
        };
        let span = tracing::info_span!(
            "rpc",
            request_id = id.to_str().unwrap_or_default(),
            path = req.uri().path()
        );
        let inner = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        ResponseFuture {
            inner: inner.instrument(span),
            id: Some(id),
        }
    }
}

/// The future of [`RequestId`]: the inner call in its span; adds the ID to
/// the response headers (which a trailers-only error response consists of,
/// so failed calls carry it too).
#[derive(Debug)]
pub struct ResponseFuture<F> {
    inner: Instrumented<F>,
    id: Option<HeaderValue>,
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The layers below box their futures, so this one is `Unpin`.
        let this = self.get_mut();
        let out = ready!(Pin::new(&mut this.inner).poll(cx));
        Poll::Ready(out.map(|mut resp| {
            if let Some(id) = this.id.take() {
                resp.headers_mut().insert(REQUEST_ID, id);
            }
            resp
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_ids_are_kept() {
        for ok in ["abc", "01J9Z7Q3ZC8G6Z6T2Y1V4X5W3E", "a.b_c:d-e", &"x".repeat(64)] {
            assert!(acceptable(&HeaderValue::from_str(ok).unwrap()), "{ok}");
        }
        for bad in ["", "a b", "11010519491231002X/张", &"x".repeat(65), "a\tb", "{\"x\":1}"] {
            let Ok(v) = HeaderValue::from_str(bad) else { continue };
            assert!(!acceptable(&v), "{bad:?}");
        }
    }
}
