//! The instance's metrics (Prometheus), and the operations that keep the
//! gauges needing a database query up to date.
//!
//! One [`Metrics`] per [`App`]: every family lives in its own registry, so
//! two servers in one process (the tests) never count each other's calls.
//! The adapters record into it (the gRPC layer `api::rpc_metrics`, the
//! admission layer, authentication, the watch) and the admin listener
//! (`crate::admin`) encodes it. Names are part of the contract with partner
//! dashboards (issue 17): change none without a release note.
//!
//! Labels carry only bounded values: service and method names from the
//! contract (anything else is `unknown`), gRPC code names, repair states,
//! limit and pool-state names, the build version. Never a credit code, key,
//! name or request field.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::{App, AppError, AppResult};
use crate::domain::repair::RepairState;

/// How often the gauges that need a database query are refreshed (at most).
pub const REFRESH_EVERY: Duration = Duration::from_secs(15);

/// gRPC status code names by number (0..=16), the values of the `code` label.
pub const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The `code` label index of `UNKNOWN`, for codes outside 0..=16.
pub const CODE_UNKNOWN: usize = 2;
/// The `code` label index of `CANCELLED`: a call whose client went away.
pub const CODE_CANCELLED: usize = 1;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    service: String,
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    service: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

/// Which limit refused a call (`gongshi_rate_limited_total{limit}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The per-API-key token bucket (`key_requests_per_second`).
    Key,
    /// Receipt-code look-ups per client address (`lookups_per_minute`).
    Lookup,
    /// The public listener's per-address limit (`http_requests_per_second`).
    Http,
}

fn rpc_buckets() -> Histogram {
    // 0.5 ms … ~16 s: a health check to a slow export's first chunk.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn acquire_buckets() -> Histogram {
    // 50 µs … ~3.3 s; the acquire timeout (default 5 s) lands in +Inf.
    Histogram::new(exponential_buckets(0.00005, 2.0, 17))
}

type F64Gauge = Gauge<f64, AtomicU64>;

/// A family listed even before its first sample: `HELP` and `TYPE` say it
/// exists (prometheus-client leaves empty families out of a scrape), so a
/// dashboard or alert written against it finds it on a fresh instance.
#[derive(Debug, Clone)]
struct Listed<M>(M);

impl<M: EncodeMetric> EncodeMetric for Listed<M> {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }

    fn is_empty(&self) -> bool {
        false
    }
}

/// Every metric family of one instance.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    rpc_requests: Family<RpcLabels, Counter>,
    rpc_duration: Family<MethodLabels, Histogram, fn() -> Histogram>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// `gongshi_feed_head_sequence`: the last sequence of the change feed.
    pub feed_head_sequence: Gauge,
    /// `gongshi_watch_streams_open`: WatchDisclosureChanges streams open on this instance.
    pub watch_streams_open: Gauge,
    /// `gongshi_disclosures_active`: disclosures currently public.
    pub disclosures_active: Gauge,
    repair_open: Family<StateLabels, Gauge>,
    /// `gongshi_repair_applications_overdue`: open applications past a due date.
    pub repair_overdue: Gauge,
    /// `gongshi_expiry_last_run_timestamp_seconds`: when the expiry job last finished its work.
    pub expiry_last_run: F64Gauge,
    /// `gongshi_expiry_terminated_total`: disclosures this instance expired.
    pub expiry_terminated: Counter,
    /// `gongshi_calendar_official_through_year`.
    pub calendar_official_through_year: Gauge,
    db_pool: Family<StateLabels, Gauge>,
    /// `gongshi_db_pool_max_connections`: the pool's configured size.
    pub db_pool_max: Gauge,
    /// `gongshi_db_pool_acquire_seconds`: time to get a pooled connection.
    pub db_pool_acquire: Histogram,
    rate_limited: Family<LimitLabels, Counter>,
    /// `gongshi_overload_shed_total`: calls shed at `max_in_flight`.
    pub overload_shed: Counter,
    /// `gongshi_metrics_refresh_errors_total`: refreshes of the queried gauges that failed.
    pub refresh_errors: Counter,
    /// Held by a refresh of the queried gauges from reading the date until
    /// the gauges are set, so an older refresh never overwrites a newer one.
    refresh_lock: tokio::sync::Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every family registered (a family with no
    /// sample yet still shows its HELP and TYPE).
    pub fn new() -> Self {
        let mut r = Registry::default();
        let rpc_requests = Family::<RpcLabels, Counter>::default();
        r.register(
            "gongshi_rpc_requests",
            "gRPC calls finished, by service, method and status code",
            Listed(rpc_requests.clone()),
        );
        let rpc_duration = Family::<MethodLabels, Histogram, fn() -> Histogram>::new_with_constructor(rpc_buckets);
        r.register(
            "gongshi_rpc_duration_seconds",
            "gRPC call duration until the last response frame (streams: until they end)",
            Listed(rpc_duration.clone()),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        r.register(
            "gongshi_http_requests",
            "Plain-HTTP requests served on the public listener, by route and status",
            Listed(http_requests.clone()),
        );
        let http_duration = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(rpc_buckets);
        r.register(
            "gongshi_http_duration_seconds",
            "Plain-HTTP request duration on the public listener, by route",
            Listed(http_duration.clone()),
        );
        let feed_head_sequence = Gauge::default();
        r.register(
            "gongshi_feed_head_sequence",
            "Sequence of the newest change in the disclosure feed (refreshed every 15 s)",
            feed_head_sequence.clone(),
        );
        let watch_streams_open = Gauge::default();
        r.register(
            "gongshi_watch_streams_open",
            "WatchDisclosureChanges streams open on this instance",
            watch_streams_open.clone(),
        );
        let disclosures_active = Gauge::default();
        r.register(
            "gongshi_disclosures_active",
            "Disclosures currently public (refreshed every 15 s)",
            disclosures_active.clone(),
        );
        let repair_open = Family::<StateLabels, Gauge>::default();
        r.register(
            "gongshi_repair_applications_open",
            "Open credit-repair applications by state (refreshed every 15 s)",
            Listed(repair_open.clone()),
        );
        let repair_overdue = Gauge::default();
        r.register(
            "gongshi_repair_applications_overdue",
            "Open credit-repair applications past a legal due date (refreshed every 15 s)",
            repair_overdue.clone(),
        );
        let expiry_last_run = F64Gauge::default();
        r.register(
            "gongshi_expiry_last_run_timestamp_seconds",
            "Unix time the expiry job last completed on this instance (0: not since start)",
            expiry_last_run.clone(),
        );
        let expiry_terminated = Counter::default();
        r.register(
            "gongshi_expiry_terminated",
            "Disclosures terminated by the expiry job on this instance",
            expiry_terminated.clone(),
        );
        let calendar_official_through_year = Gauge::default();
        r.register(
            "gongshi_calendar_official_through_year",
            "Last year of the working-day calendar loaded from a State Council notice",
            calendar_official_through_year.clone(),
        );
        let db_pool = Family::<StateLabels, Gauge>::default();
        r.register(
            "gongshi_db_pool_connections",
            "Pooled database connections by state (idle, in_use)",
            Listed(db_pool.clone()),
        );
        let db_pool_max = Gauge::default();
        r.register(
            "gongshi_db_pool_max_connections",
            "Most connections the pool may open (max_connections)",
            db_pool_max.clone(),
        );
        let db_pool_acquire = acquire_buckets();
        r.register(
            "gongshi_db_pool_acquire_seconds",
            "Time to acquire a pooled database connection",
            db_pool_acquire.clone(),
        );
        let rate_limited = Family::<LimitLabels, Counter>::default();
        r.register(
            "gongshi_rate_limited",
            "Calls refused by a rate limit (limit: key or lookup)",
            Listed(rate_limited.clone()),
        );
        let overload_shed = Counter::default();
        r.register(
            "gongshi_overload_shed",
            "Calls shed with RESOURCE_EXHAUSTED because max_in_flight calls were running",
            overload_shed.clone(),
        );
        let refresh_errors = Counter::default();
        r.register(
            "gongshi_metrics_refresh_errors",
            "Refreshes of the queried gauges that failed (the gauges keep their last values)",
            refresh_errors.clone(),
        );
        r.register(
            "gongshi_build",
            "The running build",
            Info::new(VersionLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            }),
        );
        // Series that should exist from the start, so an alert or a ratio
        // never sees "no data" where zero is meant.
        for state in open_states() {
            repair_open.get_or_create(&state_labels(state)).set(0);
        }
        for limit in [Limit::Key, Limit::Lookup, Limit::Http] {
            let _ = rate_limited.get_or_create(&limit_labels(limit));
        }
        for state in ["idle", "in_use"] {
            let _ = db_pool.get_or_create(&StateLabels { state: state.into() });
        }
        Metrics {
            registry: r,
            rpc_requests,
            rpc_duration,
            http_requests,
            http_duration,
            feed_head_sequence,
            watch_streams_open,
            disclosures_active,
            repair_open,
            repair_overdue,
            expiry_last_run,
            expiry_terminated,
            calendar_official_through_year,
            db_pool,
            db_pool_max,
            db_pool_acquire,
            rate_limited,
            overload_shed,
            refresh_errors,
            refresh_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The registry, for encoding.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The per-call figures of one gRPC method, for the RPC layer to keep
    /// (series are created on first use, so unused methods add no lines).
    pub fn rpc_method(&self, service: &str, method: &str) -> RpcMethod {
        RpcMethod {
            family: self.rpc_requests.clone(),
            durations: self.rpc_duration.clone(),
            labels: MethodLabels {
                service: service.to_string(),
                method: method.to_string(),
            },
            codes: Default::default(),
            duration: OnceLock::new(),
        }
    }

    /// Counts one plain-HTTP request (`route` must be a route pattern, never a raw path).
    pub fn observe_http(&self, route: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a call refused by `limit`.
    pub fn rate_limited(&self, limit: Limit) {
        self.rate_limited.get_or_create(&limit_labels(limit)).inc();
    }

    /// Counts an open watch until the returned guard is dropped.
    pub fn watch_opened(self: &Arc<Self>) -> WatchOpen {
        self.watch_streams_open.inc();
        WatchOpen(self.clone())
    }

    /// Sets the pool gauges.
    pub fn set_pool(&self, size: u32, idle: u32, max: u32) {
        let idle = i64::from(idle.min(size));
        self.db_pool
            .get_or_create(&StateLabels { state: "idle".into() })
            .set(idle);
        self.db_pool
            .get_or_create(&StateLabels { state: "in_use".into() })
            .set(i64::from(size) - idle);
        self.db_pool_max.set(i64::from(max));
    }

    /// An observer of pool acquire times, for the store.
    pub fn acquire_observer(self: &Arc<Self>) -> crate::store::AcquireObserver {
        let h = self.db_pool_acquire.clone();
        Arc::new(move |d: Duration| h.observe(d.as_secs_f64()))
    }

    /// Records that the expiry job completed now.
    pub fn expiry_ran(&self) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.expiry_last_run.set(now.as_secs_f64());
    }
}

/// Decrements `gongshi_watch_streams_open` when dropped.
#[derive(Debug)]
pub struct WatchOpen(Arc<Metrics>);

impl Drop for WatchOpen {
    fn drop(&mut self) {
        self.0.watch_streams_open.dec();
    }
}

/// One method's counters (one per code, made on first use) and histogram.
#[derive(Debug)]
pub struct RpcMethod {
    family: Family<RpcLabels, Counter>,
    durations: Family<MethodLabels, Histogram, fn() -> Histogram>,
    labels: MethodLabels,
    codes: [OnceLock<Counter>; 17],
    duration: OnceLock<Histogram>,
}

impl RpcMethod {
    /// Counts one finished call with status `code` (its number; unknown
    /// numbers count as UNKNOWN) that took `elapsed`.
    pub fn observe(&self, code: usize, elapsed: Duration) {
        let i = if code < CODE_NAMES.len() { code } else { CODE_UNKNOWN };
        self.codes[i]
            .get_or_init(|| {
                self.family.get_or_create_owned(&RpcLabels {
                    service: self.labels.service.clone(),
                    method: self.labels.method.clone(),
                    code: CODE_NAMES[i].to_string(),
                })
            })
            .inc();
        self.duration
            .get_or_init(|| self.durations.get_or_create_owned(&self.labels))
            .observe(elapsed.as_secs_f64());
    }
}

/// The states an application is open in (`gongshi_repair_applications_open{state}`).
fn open_states() -> impl Iterator<Item = RepairState> {
    RepairState::ALL.iter().copied().filter(|s| s.is_open())
}

fn state_labels(s: RepairState) -> StateLabels {
    StateLabels {
        state: s.as_str().to_ascii_lowercase(),
    }
}

fn limit_labels(l: Limit) -> LimitLabels {
    LimitLabels {
        limit: match l {
            Limit::Key => "key",
            Limit::Lookup => "lookup",
            Limit::Http => "http",
        }
        .into(),
    }
}

/// Why the instance is not ready for traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady(pub String);

impl App {
    /// The last year of the working-day calendar that comes from a State
    /// Council notice (the stored official years, as this instance last read
    /// them; 0 when none is loaded).
    pub fn calendar_official_through_year(&self) -> i32 {
        self.calendar().official_through_year().unwrap_or(0)
    }

    /// Refreshes the gauges that need a query: feed head, active
    /// disclosures, open and overdue repair applications; and the calendar
    /// year. The server calls it every [`REFRESH_EVERY`]; on an error the
    /// gauges keep their last values. Refreshes take turns: one that read
    /// the date later always sets the gauges later.
    pub async fn refresh_gauges(&self) -> AppResult<()> {
        let m = &self.metrics;
        let _turn = m.refresh_lock.lock().await;
        m.calendar_official_through_year
            .set(i64::from(self.calendar_official_through_year()));
        let f = match self.store.operational_figures(self.clock.today_cst()).await {
            Ok(f) => f,
            Err(e) => {
                m.refresh_errors.inc();
                return Err(AppError::from(e));
            }
        };
        m.feed_head_sequence.set(f.feed_head_sequence);
        m.disclosures_active.set(f.disclosures_active);
        for state in open_states() {
            let n = f.repairs_open.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n);
            m.repair_open.get_or_create(&state_labels(state)).set(n);
        }
        m.repair_overdue.set(f.repairs_overdue);
        Ok(())
    }

    /// Reads the pool's figures into the pool gauges (no query; done per scrape).
    pub fn refresh_pool_gauges(&self) {
        let p = self.store.pool_stats();
        self.metrics.set_pool(p.size, p.idle, p.max);
    }

    /// Whether this instance can serve: the database answers (on the health
    /// probe's own connection, within `limit`) and every migration this
    /// build knows is applied.
    pub async fn readiness(&self, limit: Duration) -> Result<(), NotReady> {
        let pending = match tokio::time::timeout(limit, self.store.pending_migrations()).await {
            Err(_) => {
                return Err(NotReady(format!(
                    "database did not answer within {} ms",
                    limit.as_millis()
                )));
            }
            Ok(Err(e)) => return Err(NotReady(format!("database does not answer: {e}"))),
            Ok(Ok(p)) => p,
        };
        if pending.is_empty() {
            Ok(())
        } else {
            let list = pending.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            Err(NotReady(format!("migrations not applied: {list}")))
        }
    }
}
