//! Admission of public requests: a token bucket per client address (GCRA,
//! `governor`) — `requests_per_second` sustained, `burst` at once — answered
//! `429 Too Many Requests` with `Retry-After`; and, while the database is
//! known to be down, `503` at once instead of a wait for the pool.
//!
//! The address is the TCP peer's: behind a reverse proxy every client shares
//! the proxy's address, so there the proxy should limit per client instead
//! (or this limit be raised).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota};

use super::Web;
use crate::app::AppError;

/// Addresses remembered before idle ones are forgotten.
const FORGET_ABOVE: usize = 10_000;

/// Per-address token buckets.
pub(crate) struct Limiter(DefaultKeyedRateLimiter<IpAddr>);

impl Limiter {
    /// `None` when `per_second` is 0 (no limit).
    pub(crate) fn new(per_second: u32, burst: u32) -> Option<Limiter> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(rate);
        Some(Limiter(DefaultKeyedRateLimiter::keyed(
            Quota::per_second(rate).allow_burst(burst),
        )))
    }

    /// Counts a request from `ip`; `Err(wait)` when over the limit.
    fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        if self.0.len() > FORGET_ABOVE {
            // Buckets back at full capacity hold no information.
            self.0.retain_recent();
        }
        self.0
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(self.0.clock().now()))
    }
}

/// Refuses a request over its address's rate (429) or while the database is
/// down (503), before any work.
pub(crate) async fn admit(State(web): State<Arc<Web>>, req: Request, next: Next) -> Response {
    let json = req.uri().path().starts_with("/v1/");
    if let (Some(limiter), Some(ConnectInfo(peer))) = (&web.limiter, req.extensions().get::<ConnectInfo<SocketAddr>>())
        && let Err(wait) = limiter.check(peer.ip())
    {
        web.app.metrics.rate_limited(crate::app::metrics::Limit::Http);
        let e = AppError::Exhausted {
            reason: "RATE_LIMITED",
            message: "too many requests from this address; retry later".into(),
            retry_after: wait,
        };
        return super::routes::error_response(&web, json, e);
    }
    if !web.app.guard.db_up() {
        let e = AppError::Unavailable("database known down (health check)".into());
        return super::routes::error_response(&web, json, e);
    }
    next.run(req).await
}
