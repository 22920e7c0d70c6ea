//! Operable in production (issue 17), against real servers: the admin
//! listener's `/metrics` serves every family and its values follow the calls
//! made (per code, on SQLite and PostgreSQL); `promtool check metrics`
//! accepts the scrape, and every metric the alert rules and the dashboard
//! name is in it; `/readyz` follows the database, the migrations and
//! draining; the overdue gauge counts an application past its due date
//! (injected clock); the request ID comes back as `x-request-id` and marks
//! the request's log lines.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gongshi::api::pb;
use gongshi::domain::lifecycle::Role;
use gongshi::domain::repair::RepairAction;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::repair_support::Env;
use crate::support::pg::OwnCluster;
use crate::support::{self, HttpReply, TestServer, backends, clock_at, create_and_publish, credit_code, decision, req};

/// Every family the issue names, as the Prometheus text format types them.
const FAMILIES: &[&str] = &[
    "gongshi_rpc_requests_total",
    "gongshi_rpc_duration_seconds",
    "gongshi_http_requests_total",
    "gongshi_http_duration_seconds",
    "gongshi_feed_head_sequence",
    "gongshi_watch_streams_open",
    "gongshi_disclosures_active",
    "gongshi_repair_applications_open",
    "gongshi_repair_applications_overdue",
    "gongshi_expiry_last_run_timestamp_seconds",
    "gongshi_expiry_terminated_total",
    "gongshi_calendar_official_through_year",
    "gongshi_db_pool_connections",
    "gongshi_db_pool_acquire_seconds",
    "gongshi_rate_limited_total",
    "gongshi_overload_shed_total",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
    "gongshi_build_info",
];

const ENF: &str = "gongshi.v1.EnforcementService";
const DIS: &str = "gongshi.v1.DisclosureService";
const REPAIR: &str = "gongshi.v1.CreditRepairService";
const HEALTH: &str = "grpc.health.v1.Health";
const REQUESTS: &str = "gongshi_rpc_requests_total";

// ------------------------------------------------------------------ scrapes

/// One sample line.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed scrape.
#[derive(Debug, Clone)]
struct Scrape {
    text: String,
    samples: Vec<Sample>,
    /// `# TYPE` lines: family name → type.
    types: BTreeMap<String, String>,
}

fn parse_value(v: &str) -> f64 {
    match v {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().unwrap_or_else(|_| panic!("sample value {v:?}")),
    }
}

/// Parses the text formats (the subset both encoders write).
fn parse(text: &str) -> Scrape {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').expect("TYPE line");
            types.insert(name.to_string(), ty.to_string());
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).expect("sample name");
        let name = line[..name_end].to_string();
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices();
            let mut key = String::new();
            let mut end = 0;
            while let Some((i, c)) = chars.next() {
                match c {
                    '}' => {
                        end = i + 1;
                        break;
                    }
                    ',' | ' ' => {}
                    '=' => {
                        // A quoted value with \\, \" and \n escapes.
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                        let mut value = String::new();
                        while let Some((_, c)) = chars.next() {
                            match c {
                                '\\' => match chars.next().map(|(_, c)| c) {
                                    Some('n') => value.push('\n'),
                                    Some(c) => value.push(c),
                                    None => break,
                                },
                                '"' => break,
                                c => value.push(c),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), value);
                    }
                    c => key.push(c),
                }
            }
            rest = &inner[end..];
        }
        let value = rest.split_whitespace().next().expect("sample value");
        samples.push(Sample {
            name,
            labels,
            value: parse_value(value),
        });
    }
    Scrape {
        text: text.to_string(),
        samples,
        types,
    }
}

impl Scrape {
    fn matching<'a>(&'a self, name: &'a str, labels: &'a [(&str, &str)]) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The value of the one sample with this name and (at least) these labels.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<_> = self.matching(name, labels).collect();
        assert!(found.len() <= 1, "{name} {labels:?} is ambiguous: {found:?}");
        found.first().map(|s| s.value)
    }

    /// Like `get`, 0 when absent.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }

    /// Whether a metric name (as a query would write it) is served: a sample
    /// name, a family, or a histogram's `_bucket`/`_sum`/`_count`.
    fn serves(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
            || self.types.contains_key(name)
            || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|base| self.types.get(base).is_some_and(|t| t == "histogram"))
            })
    }
}

async fn get(addr: SocketAddr, path: &str) -> HttpReply {
    support::http_get(addr, path, &[])
        .await
        .unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"))
}

async fn scrape(addr: SocketAddr) -> Scrape {
    let r = get(addr, "/metrics").await;
    assert_eq!(r.status, 200, "{r:?}");
    parse(&r.body)
}

/// Scrapes until `ok` holds (at most 15 s: the gauges are refreshed in the
/// background, and a dropped stream is noticed asynchronously).
async fn scrape_until(addr: SocketAddr, what: &str, ok: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let m = scrape(addr).await;
        if ok(&m) {
            return m;
        }
        if Instant::now() > deadline {
            let gongshi: Vec<&str> = m.text.lines().filter(|l| !l.starts_with('#')).collect();
            panic!("{what}: not seen within 15 s; last scrape:\n{}", gongshi.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server whose queried gauges refresh every 50 ms.
async fn server(url: &str, date: &str) -> TestServer {
    TestServer::start_tuned(url, clock_at(date), |o| o.metrics_refresh = Duration::from_millis(50)).await
}

/// A call to a path the server does not serve.
async fn call_path(ch: Channel, path: &'static str) -> tonic::Status {
    let mut g = tonic::client::Grpc::new(ch);
    g.ready().await.expect("ready");
    g.unary::<(), (), _>(
        tonic::Request::new(()),
        http::uri::PathAndQuery::from_static(path),
        tonic_prost::ProstCodec::default(),
    )
    .await
    .expect_err("no such method")
}

fn request_id<T>(md: &tonic::metadata::MetadataMap, ctx: T) -> String
where
    T: std::fmt::Display,
{
    md.get("x-request-id")
        .unwrap_or_else(|| panic!("{ctx}: no x-request-id in {md:?}"))
        .to_str()
        .expect("ascii")
        .to_string()
}

fn is_ulid(s: &str) -> bool {
    s.len() == 26 && ulid::Ulid::from_string(s).is_ok()
}

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_is_served_and_follows_the_calls_made() {
    for db in backends().await {
        let b = db.backend;
        let s = server(&db.url, "2026-06-01").await;
        let [officer, discloser] = s.keys([Role::Officer, Role::Discloser]).await;
        let before = scrape(s.admin).await;
        for f in FAMILIES {
            assert!(before.types.contains_key(*f), "{b}: family {f} missing");
        }
        // Families without samples yet still say what they are.
        assert!(before.text.contains("# HELP gongshi_http_requests_total "), "{b}");
        assert_eq!(
            before.get("gongshi_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
            Some(1.0),
            "{b}"
        );

        let ch = s.channel().await;
        // Health, three times; the first sends a request ID not worth keeping.
        let mut health = HealthClient::new(ch.clone());
        let mut hc = tonic::Request::new(HealthCheckRequest { service: String::new() });
        hc.metadata_mut().insert("x-request-id", "a b c".parse().unwrap());
        let r = health.check(hc).await.expect("health");
        let id = request_id(r.metadata(), b);
        assert!(is_ulid(&id), "{b}: a fresh ID replaces a bad one: {id}");
        for _ in 0..2 {
            health
                .check(HealthCheckRequest { service: String::new() })
                .await
                .expect("health");
        }
        // Two decisions recorded and published.
        let mut enf = pb::enforcement_service_client::EnforcementServiceClient::new(ch.clone());
        let mut published = Vec::new();
        for n in 1..=2u64 {
            let number = format!("沪应急罚〔2026〕{n}号");
            published.push(
                create_and_publish(
                    &mut enf,
                    &officer,
                    decision(&number, "2026-05-20", &credit_code("91", n)),
                )
                .await,
            );
        }
        // Reads: two misses (each with its own ID), one hit with the client's ID.
        let mut dis = pb::disclosure_service_client::DisclosureServiceClient::new(ch.clone());
        let mut ids = BTreeSet::new();
        for _ in 0..2 {
            let missing = "disclosures/01ARZ3NDEKTSV4RRFFQ69G5FAV".to_string();
            let e = dis
                .get_disclosure(req(pb::GetDisclosureRequest { name: missing }, &discloser))
                .await
                .expect_err("missing");
            assert_eq!(e.code(), Code::NotFound, "{b}: {e:?}");
            let id = request_id(e.metadata(), b);
            assert!(is_ulid(&id), "{b}: {id}");
            ids.insert(id);
        }
        assert_eq!(ids.len(), 2, "{b}: every call its own ID");
        let mut mine = req(
            pb::GetDisclosureRequest {
                name: published[0].disclosure.clone(),
            },
            &discloser,
        );
        mine.metadata_mut()
            .insert("x-request-id", "partner-42.7:a_b".parse().unwrap());
        let r = dis.get_disclosure(mine).await.expect("get");
        assert_eq!(
            request_id(r.metadata(), b),
            "partner-42.7:a_b",
            "{b}: the client's ID is kept"
        );
        // No key.
        let e = dis
            .list_disclosures(tonic::Request::new(pb::ListDisclosuresRequest::default()))
            .await
            .expect_err("no key");
        assert_eq!(e.code(), Code::Unauthenticated, "{b}");
        // Paths nobody serves: their labels stay bounded.
        let e = call_path(ch.clone(), "/gongshi.v1.DisclosureService/91310000MA1K000006").await;
        assert_eq!(e.code(), Code::Unimplemented, "{b}: {e:?}");
        let e = call_path(ch.clone(), "/no.such.v1.Service/Call").await;
        assert_eq!(e.code(), Code::Unimplemented, "{b}: {e:?}");
        // A watch: open while it streams, counted once when the client leaves.
        {
            let mut stream = dis
                .watch_disclosure_changes(req(pb::WatchDisclosureChangesRequest { after_sequence: 0 }, &discloser))
                .await
                .expect("watch")
                .into_inner();
            for _ in 0..2 {
                stream.message().await.expect("change").expect("a change");
            }
            scrape_until(s.admin, "one watch open", |m| {
                m.get("gongshi_watch_streams_open", &[]) == Some(1.0)
            })
            .await;
        }
        let watch = [
            ("service", DIS),
            ("method", "WatchDisclosureChanges"),
            ("code", "CANCELLED"),
        ];
        let after = scrape_until(s.admin, "the watch closed and counted", |m| {
            m.get("gongshi_watch_streams_open", &[]) == Some(0.0) && m.value(REQUESTS, &watch) == 1.0
        })
        .await;

        // Exactly these calls, and no others.
        let expected: BTreeMap<(&str, &str, &str), f64> = [
            ((HEALTH, "Check", "OK"), 3.0),
            ((ENF, "CreatePenaltyDecision", "OK"), 2.0),
            ((ENF, "PublishPenaltyDecision", "OK"), 2.0),
            ((DIS, "GetDisclosure", "NOT_FOUND"), 2.0),
            ((DIS, "GetDisclosure", "OK"), 1.0),
            ((DIS, "ListDisclosures", "UNAUTHENTICATED"), 1.0),
            ((DIS, "unknown", "UNIMPLEMENTED"), 1.0),
            (("unknown", "unknown", "UNIMPLEMENTED"), 1.0),
            ((DIS, "WatchDisclosureChanges", "CANCELLED"), 1.0),
        ]
        .into_iter()
        .collect();
        let mut seen = BTreeSet::new();
        for sample in after.samples.iter().filter(|x| x.name == REQUESTS) {
            let l = |k: &str| sample.labels.get(k).map(String::as_str).unwrap_or_default();
            let key = (l("service"), l("method"), l("code"));
            let was = before.value(REQUESTS, &[("service", key.0), ("method", key.1), ("code", key.2)]);
            let want = expected.get(&key).copied().unwrap_or(0.0);
            assert_eq!(sample.value - was, want, "{b}: calls counted for {key:?}");
            seen.insert(key);
        }
        for key in expected.keys() {
            assert!(seen.contains(key), "{b}: no series for {key:?}");
        }
        // The histogram: buckets, cumulative, counting the two creations.
        let create = [("service", ENF), ("method", "CreatePenaltyDecision")];
        let mut buckets: Vec<(f64, f64)> = after
            .matching("gongshi_rpc_duration_seconds_bucket", &create)
            .map(|x| (parse_value(&x.labels["le"]), x.value))
            .collect();
        buckets.sort_by(|a, c| a.0.total_cmp(&c.0));
        assert!(buckets.len() >= 10, "{b}: buckets {buckets:?}");
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{b}: cumulative {buckets:?}"
        );
        assert_eq!(buckets.last().map(|x| (x.0, x.1)), Some((f64::INFINITY, 2.0)), "{b}");
        assert_eq!(
            after.get("gongshi_rpc_duration_seconds_count", &create),
            Some(2.0),
            "{b}"
        );
        assert!(after.value("gongshi_rpc_duration_seconds_sum", &create) > 0.0, "{b}");

        // The queried gauges follow, and the rest is there.
        let after = scrape_until(s.admin, "feed head 2 and 2 active", |m| {
            m.get("gongshi_feed_head_sequence", &[]) == Some(2.0)
                && m.get("gongshi_disclosures_active", &[]) == Some(2.0)
        })
        .await;
        assert_eq!(
            after.get("gongshi_calendar_official_through_year", &[]),
            Some(f64::from(s.app.calendar_official_through_year())),
            "{b}"
        );
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        let ran = after.value("gongshi_expiry_last_run_timestamp_seconds", &[]);
        assert!(
            now - ran < 60.0 && ran <= now + 1.0,
            "{b}: expiry ran at {ran}, now {now}"
        );
        let in_use = after.value("gongshi_db_pool_connections", &[("state", "in_use")]);
        let idle = after.value("gongshi_db_pool_connections", &[("state", "idle")]);
        assert!(in_use + idle >= 1.0, "{b}: pool {in_use} in use, {idle} idle");
        assert_eq!(after.get("gongshi_db_pool_max_connections", &[]), Some(8.0), "{b}");
        assert!(after.value("gongshi_db_pool_acquire_seconds_count", &[]) > 0.0, "{b}");
        assert_eq!(
            after.get("gongshi_repair_applications_open", &[("state", "submitted")]),
            Some(0.0)
        );
        assert_eq!(after.get("gongshi_repair_applications_overdue", &[]), Some(0.0), "{b}");
        assert_eq!(
            after.get("gongshi_rate_limited_total", &[("limit", "key")]),
            Some(0.0),
            "{b}"
        );
        assert_eq!(after.get("gongshi_overload_shed_total", &[]), Some(0.0), "{b}");
        assert!(after.value("process_resident_memory_bytes", &[]) > 1e6, "{b}");
        assert!(after.value("process_open_fds", &[]) >= 3.0, "{b}");
        assert!(after.value("process_cpu_seconds_total", &[]) > 0.0, "{b}");

        // Past the publicity period the expiry job ends both disclosures.
        s.clock
            .set(support::d("2029-06-01").and_hms_opt(4, 0, 0).unwrap().and_utc());
        let done = scrape_until(s.admin, "both expired", |m| {
            m.get("gongshi_disclosures_active", &[]) == Some(0.0)
                && m.get("gongshi_feed_head_sequence", &[]) == Some(4.0)
        })
        .await;
        assert_eq!(done.get("gongshi_expiry_terminated_total", &[]), Some(2.0), "{b}");
        s.stop().await;
    }
}

/// `promtool` for the checks below: present in CI (.ci/run installs it);
/// elsewhere its absence is said loudly and those checks are skipped.
fn promtool() -> Option<&'static str> {
    let ok = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some("promtool");
    }
    if std::env::var_os("CI").is_some() {
        panic!("promtool is missing: .ci/run installs Debian's prometheus package");
    }
    eprintln!("\n*** promtool checks SKIPPED: no promtool (apt-get install prometheus) ***\n");
    None
}

fn deploy_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/prometheus")
        .join(name)
}

/// gongshi and process metric names in a PromQL text.
fn metric_names(promql: &str) -> BTreeSet<String> {
    promql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| w.starts_with("gongshi_") || w.starts_with("process_"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_the_scrape_and_the_rules_and_dashboard_name_served_metrics() {
    let db = support::sqlite_db();
    let s = server(&db.url, "2026-06-01").await;
    let officer = s.key(Role::Officer, None).await;
    let ch = s.channel().await;
    HealthClient::new(ch.clone())
        .check(HealthCheckRequest { service: String::new() })
        .await
        .expect("health");
    let mut enf = pb::enforcement_service_client::EnforcementServiceClient::new(ch.clone());
    create_and_publish(
        &mut enf,
        &officer,
        decision("沪应急罚〔2026〕9号", "2026-05-20", &credit_code("91", 9)),
    )
    .await;
    let _ = call_path(ch.clone(), "/gongshi.v1.EnforcementService/Nope").await;

    // Prometheus text by default, OpenMetrics when asked for.
    let plain = get(s.admin, "/metrics").await;
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(plain.body.contains("# TYPE gongshi_rpc_requests_total counter\n"));
    let om = support::http_get(
        s.admin,
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
        )],
    )
    .await
    .expect("scrape");
    assert_eq!(om.status, 200);
    assert!(
        om.header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text; version=1.0.0")),
        "{om:?}"
    );
    assert!(om.body.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    assert!(om.body.contains("# TYPE gongshi_rpc_requests counter\n"));
    assert!(om.body.contains("# TYPE gongshi_build info\n"));
    let m = parse(&plain.body);
    let m_om = parse(&om.body);
    for f in FAMILIES {
        assert!(m.types.contains_key(*f), "text: {f}");
        assert!(
            m_om.serves(f) || m_om.types.keys().any(|t| f.starts_with(t.as_str())),
            "OpenMetrics: {f}"
        );
    }

    // Every metric an alert rule or a dashboard panel names is served.
    let rules = std::fs::read_to_string(deploy_file("gongshi-alerts.yml")).expect("rules");
    let rule_names = metric_names(&rules);
    for name in &rule_names {
        assert!(m.serves(name), "the alert rules name {name}, which the scrape lacks");
    }
    for must in [
        "gongshi_repair_applications_overdue",
        "gongshi_expiry_last_run_timestamp_seconds",
        "gongshi_feed_head_sequence",
        "gongshi_calendar_official_through_year",
        "gongshi_db_pool_connections",
        "gongshi_db_pool_acquire_seconds_bucket",
        "gongshi_rpc_requests_total",
    ] {
        assert!(rule_names.contains(must), "no rule uses {must}");
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deploy_file("gongshi-dashboard.json")).expect("dashboard"))
            .expect("dashboard JSON");
    let mut exprs = Vec::new();
    for p in dashboard["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            exprs.push(t["expr"].as_str().expect("expr").to_string());
        }
    }
    assert!(exprs.len() >= 20, "{exprs:?}");
    let dash_names: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    for name in &dash_names {
        assert!(m.serves(name), "the dashboard names {name}, which the scrape lacks");
    }
    for f in FAMILIES {
        assert!(
            dash_names.iter().any(|n| n.starts_with(f)),
            "the dashboard shows nothing of {f}"
        );
    }

    let Some(promtool) = promtool() else { return };
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    {
        use std::io::Write;
        let mut stdin = check.stdin.take().expect("stdin");
        stdin.write_all(plain.body.as_bytes()).expect("write scrape");
    }
    let out = check.wait_with_output().expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(promtool)
        .args(["check", "rules", "gongshi-alerts.yml"])
        .current_dir(deploy_file(""))
        .output()
        .expect("promtool");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let out = Command::new(promtool)
        .args(["test", "rules", "gongshi-alerts.test.yml", "gongshi-calendar.test.yml"])
        .current_dir(deploy_file(""))
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    s.stop().await;
}

/// Polls `/readyz` until it answers `status` (at most `within`).
async fn readyz_until(addr: SocketAddr, status: u16, within: Duration) -> HttpReply {
    let deadline = Instant::now() + within;
    loop {
        let r = get(addr, "/readyz").await;
        if r.status == status {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {} {:?} after {within:?}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stops or starts the test's own PostgreSQL server, off the runtime's threads.
async fn switch_postgres(cluster: &Arc<OwnCluster>, switch: fn(&OwnCluster) -> Result<(), String>) {
    let c = cluster.clone();
    let done = tokio::task::spawn_blocking(move || switch(&c)).await.expect("join");
    done.expect("stop or start PostgreSQL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_postgres_server() {
    let Some(cluster) = tokio::task::spawn_blocking(support::pg::own_cluster)
        .await
        .expect("join")
    else {
        return;
    };
    let cluster = Arc::new(cluster);
    let url = cluster.create_database().await;
    let s = server(&url, "2026-06-01").await;
    let r = get(s.admin, "/readyz").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ready\n"));
    // The test cluster runs with synchronous_commit off, and the stop below
    // is a crash: without a checkpoint the migrations just committed could be
    // lost, and /readyz would rightly never be ready again.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("connect");
    sqlx::raw_sql("CHECKPOINT")
        .execute(&mut conn)
        .await
        .expect("checkpoint");
    drop(conn);

    switch_postgres(&cluster, OwnCluster::stop).await;
    let r = readyz_until(s.admin, 503, Duration::from_secs(10)).await;
    assert!(r.body.starts_with("not ready: database"), "{r:?}");
    // Alive, and still scraped, while not ready.
    assert_eq!(get(s.admin, "/livez").await.status, 200);
    let m = scrape(s.admin).await;
    assert!(m.types.contains_key("gongshi_feed_head_sequence"));

    switch_postgres(&cluster, OwnCluster::start).await;
    let r = readyz_until(s.admin, 200, Duration::from_secs(15)).await;
    assert_eq!(r.body, "ready\n");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_missing_migrations_and_draining() {
    for db in backends().await {
        let b = db.backend;
        let s = server(&db.url, "2026-06-01").await;
        assert_eq!(get(s.admin, "/readyz").await.status, 200, "{b}");
        // The database forgets the newest migration: this build is ahead of it.
        let sql = "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations) \
                   RETURNING version";
        let version: i64 = if b == "sqlite" {
            let pool = sqlx::SqlitePool::connect(&db.url).await.expect("connect");
            sqlx::query_scalar(sql).fetch_one(&pool).await.expect("delete")
        } else {
            let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
            sqlx::query_scalar(sql).fetch_one(&pool).await.expect("delete")
        };
        let r = get(s.admin, "/readyz").await;
        assert_eq!(r.status, 503, "{b}: {r:?}");
        assert_eq!(r.body, format!("not ready: migrations not applied: {version}\n"), "{b}");

        // Draining: the admin routes of an instance whose shutdown began.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (_draining_tx, draining) = tokio::sync::watch::channel(true);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let admin = tokio::spawn(gongshi::admin::serve(listener, s.app.clone(), draining, async {
            let _ = stop_rx.await;
        }));
        let r = get(addr, "/readyz").await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (503, "not ready: draining (shutting down)\n"),
            "{b}"
        );
        assert_eq!(get(addr, "/livez").await.status, 200, "{b}");
        assert_eq!(get(addr, "/nothing").await.status, 404, "{b}");
        let _ = stop_tx.send(());
        admin.await.expect("join").expect("admin served");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_gauge_counts_an_application_past_its_due_date() {
    const OPEN: &str = "gongshi_repair_applications_open";
    const OVERDUE: &str = "gongshi_repair_applications_overdue";
    for db in backends().await {
        let b = db.backend;
        let env = Env::on(b, server(&db.url, "2025-06-12").await).await;
        let admin = env.server.admin;
        let refreshed = || async {
            env.server.app.refresh_gauges().await.expect("refresh");
            scrape(admin).await
        };
        let case = env.case(1, "2025-06-10", Some("2025-06-11")).await;
        // Fri 2026-02-13: acceptance due on the third working day after it,
        // Wed 02-25 (the Spring Festival holidays in between).
        env.set_date("2026-02-13");
        let a = env.submit(&case.ent, "", case.application()).await.expect("submit");
        assert_eq!(a.accept_due_on, "2026-02-25", "{b}");
        let m = refreshed().await;
        assert_eq!(m.get(OPEN, &[("state", "submitted")]), Some(1.0), "{b}");
        assert_eq!(m.get(OVERDUE, &[]), Some(0.0), "{b}");
        // The due day itself is not overdue; the day after it is.
        env.set_date("2026-02-25");
        assert_eq!(refreshed().await.get(OVERDUE, &[]), Some(0.0), "{b}");
        env.set_date("2026-02-26");
        let m = refreshed().await;
        assert_eq!(m.get(OVERDUE, &[]), Some(1.0), "{b}");
        // Accepted: a new clock (decision due in three working days).
        let a = env
            .act(RepairAction::Accept, &a.name, &a.etag, &case.ent)
            .await
            .expect("accept");
        let m = refreshed().await;
        assert_eq!(m.get(OPEN, &[("state", "submitted")]), Some(0.0), "{b}");
        assert_eq!(m.get(OPEN, &[("state", "accepted")]), Some(1.0), "{b}");
        assert_eq!(m.get(OVERDUE, &[]), Some(0.0), "{b}: {a:?}");
        env.set_date("2026-03-10");
        assert_eq!(refreshed().await.get(OVERDUE, &[]), Some(1.0), "{b}");
        // The background refresh gets there too.
        env.set_date("2026-03-02");
        scrape_until(admin, "background refresh", |m| m.get(OVERDUE, &[]) == Some(0.0)).await;
        env.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_counted_by_limit() {
    let db = support::sqlite_db();
    let s = TestServer::start_tuned(&db.url, clock_at("2026-06-01"), |o| {
        o.key_rate = gongshi::app::guard::KeyRate {
            rate_per_second: 0.001,
            burst: 2,
        };
        o.lookups_per_minute = 1;
    })
    .await;
    let discloser = s.key(Role::Discloser, None).await;
    let ch = s.channel().await;
    let mut dis = pb::disclosure_service_client::DisclosureServiceClient::new(ch.clone());
    for n in 0..3 {
        let r = dis
            .list_disclosures(req(pb::ListDisclosuresRequest::default(), &discloser))
            .await;
        assert_eq!(r.is_ok(), n < 2, "call {n}: {r:?}");
    }
    let mut repair = pb::credit_repair_service_client::CreditRepairServiceClient::new(ch);
    for n in 0..2 {
        let e = repair
            .lookup_repair_application(pb::LookupRepairApplicationRequest {
                receipt_code: "23456789AB".into(),
                applicant_credit_code: credit_code("91", 1),
            })
            .await
            .expect_err("no such application");
        let want = if n == 0 {
            Code::NotFound
        } else {
            Code::ResourceExhausted
        };
        assert_eq!(e.code(), want, "look-up {n}: {e:?}");
    }
    let m = scrape(s.admin).await;
    assert_eq!(m.get("gongshi_rate_limited_total", &[("limit", "key")]), Some(1.0));
    assert_eq!(m.get("gongshi_rate_limited_total", &[("limit", "lookup")]), Some(1.0));
    let exhausted = |service: &'static str, method: &'static str| {
        m.value(
            REQUESTS,
            &[("service", service), ("method", method), ("code", "RESOURCE_EXHAUSTED")],
        )
    };
    assert_eq!(exhausted(DIS, "ListDisclosures"), 1.0);
    assert_eq!(exhausted(REPAIR, "LookupRepairApplication"), 1.0);
    s.stop().await;
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// JSON logs (GONGSHI_LOG_FORMAT=json's format): a line written while a call
/// is handled carries the request ID the client got back. A current-thread
/// runtime, so the server's tasks log through this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn request_ids_mark_the_requests_log_lines() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let db = support::sqlite_db();
    let s = TestServer::start_tuned(&db.url, clock_at("2026-06-01"), |o| {
        // No health check will undo the outage declared below.
        o.db_check_interval = Duration::from_secs(3600);
    })
    .await;
    let discloser = s.key(Role::Discloser, None).await;
    let mut dis = pb::disclosure_service_client::DisclosureServiceClient::new(s.channel().await);
    s.app.guard.set_db_up(false);
    let e = dis
        .list_disclosures(req(pb::ListDisclosuresRequest::default(), &discloser))
        .await
        .expect_err("database down");
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    let id = request_id(e.metadata(), "unavailable");
    s.app.guard.set_db_up(true);
    s.stop().await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).expect("utf-8 logs");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object per line: {e}: {l}")))
        .collect();
    let line = lines
        .iter()
        .find(|l| l["fields"]["message"] == "database unavailable")
        .unwrap_or_else(|| panic!("no log line of the call in:\n{text}"));
    assert_eq!(line["span"]["request_id"], id.as_str(), "{line}");
    assert_eq!(
        line["span"]["path"], "/gongshi.v1.DisclosureService/ListDisclosures",
        "{line}"
    );
    assert!(!text.contains(&discloser), "the key is never logged");
}

/// The public listener's answers are counted by route pattern and status —
/// never by raw path, so neither a record id nor a crawler's made-up paths
/// become label values — and its per-address refusals count as
/// `limit="http"`.
#[tokio::test]
async fn public_http_answers_are_counted_by_route_pattern() {
    for db in backends().await {
        let b = db.backend;
        let s = TestServer::start_tuned(&db.url, clock_at("2026-06-01"), |o| {
            o.web.requests_per_second = 1;
            o.web.burst = 4;
        })
        .await;
        let missing = "01JZZZZZZZZZZZZZZZZZZZZZZZ";
        for path in [
            "/v1/disclosures?page_size=3".to_string(),
            format!("/disclosures/{missing}"),
            "/wp-login.php".to_string(),
        ] {
            let r = get(s.http, &path).await;
            assert!(r.status == 200 || r.status == 404, "{b}: {path}: {r:?}");
        }
        // The burst of 4 is spent by now (a token may refill each second):
        // ask for the page until the limit refuses it, once.
        let mut pages = 0.0;
        loop {
            let status = get(s.http, "/").await.status;
            if status == 429 {
                break;
            }
            assert_eq!(status, 200, "{b}");
            pages += 1.0;
            assert!(pages < 20.0, "{b}: the per-address limit never refused");
        }

        let m = scrape(s.admin).await;
        let http =
            |route: &str, status: &str| m.value("gongshi_http_requests_total", &[("route", route), ("status", status)]);
        assert_eq!(http("/v1/disclosures", "200"), 1.0, "{b}");
        assert_eq!(http("/disclosures/{id}", "404"), 1.0, "{b}");
        assert_eq!(http("unmatched", "404"), 1.0, "{b}");
        assert_eq!(http("/", "200"), pages, "{b}");
        assert_eq!(http("/", "429"), 1.0, "{b}");
        assert_eq!(
            m.get("gongshi_http_duration_seconds_count", &[("route", "/v1/disclosures")]),
            Some(1.0),
            "{b}"
        );
        assert_eq!(
            m.get("gongshi_rate_limited_total", &[("limit", "http")]),
            Some(1.0),
            "{b}"
        );
        assert!(
            !m.text.contains(missing) && !m.text.contains("wp-login"),
            "{b}: a raw path became a label"
        );
        s.stop().await;
    }
}
