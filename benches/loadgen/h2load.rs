//! The `h2load` scenario (issue 18): the same gRPC calls driven by nghttp2's
//! own load generator (`h2load`, Debian's nghttp2-client) instead of the tonic
//! client, which caps the health check far below what the server can answer;
//! and beside them the machine's limit for the same bytes: `nghttpd`
//! (nghttp2-server) serving static files of exactly each answer's size.
//!
//! Every run: one h2load thread, 4 connections × 16 streams, one second of
//! warm-up, then the scenario's duration.
//!
//! | line | target | request |
//! |---|---|---|
//! | `h2-health` | server | Health/Check |
//! | `h2-get`, `h2-get-decoded`, `h2-get-bytes` | server, decoded server, bytes floor | GetDisclosure of one record |
//! | `h2-list`, `h2-list-decoded`, `h2-list-bytes` | the same three | ListDisclosures(page_size 100), first page |
//! | `h2-static-health`, `-get`, `-list` | nghttpd | GET of a file of the answer's size |
//!
//! h2load counts HTTP status codes, not gRPC ones, so each line also checks
//! that the data it received per request is at least the answer's size: an
//! error (a `grpc-status` trailer with no body) would show as a shortfall.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gongshi::api::pb;
use prost::Message as _;
use serde_json::json;
use tonic_health::pb::HealthCheckRequest;

use crate::ServerProcess;
use crate::cpu;
use crate::scenarios::{Outcome, Setup, disclosures, req, sample_ids};

/// Connections and streams per connection of every h2load run.
const CLIENTS: usize = 4;
const STREAMS: usize = 16;

/// What one h2load run printed.
struct H2Run {
    secs: f64,
    done: u64,
    succeeded: u64,
    data_bytes: u64,
    mean_ms: f64,
}

/// A message in gRPC's length-prefixed framing (uncompressed).
fn grpc_frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(0);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The number before `unit` in `line` ("12345 succeeded," → 12345).
fn count_before(line: &str, unit: &str) -> Option<u64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[1].trim_end_matches(',') == unit)
        .and_then(|w| w[0].parse().ok())
}

/// Reads h2load's summary.
fn parse(out: &str) -> Result<H2Run, String> {
    let line = |start: &str| {
        out.lines()
            .map(str::trim)
            .find(|l| l.starts_with(start))
            .ok_or_else(|| format!("no {start:?} line in h2load's output:\n{out}"))
    };
    let finished = line("finished in")?;
    let secs = finished
        .strip_prefix("finished in ")
        .and_then(|r| r.split(',').next())
        .map(str::trim)
        .and_then(|t| {
            t.strip_suffix("ms")
                .and_then(|v| v.parse::<f64>().ok().map(|v| v / 1000.0))
                .or_else(|| t.strip_suffix('s').and_then(|v| v.parse().ok()))
        })
        .ok_or_else(|| format!("cannot read {finished:?}"))?;
    let requests = line("requests:")?;
    let done = count_before(requests, "done").ok_or("no done count")?;
    let succeeded = count_before(requests, "succeeded").ok_or("no succeeded count")?;
    // "traffic: 1.23MB (1290000) total, … 1.00MB (1048576) data"
    let traffic = line("traffic:")?;
    let data_bytes = traffic
        .split(',')
        .find(|p| p.trim_end().ends_with("data"))
        .and_then(|p| p.split('(').nth(1))
        .and_then(|p| p.split(')').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("cannot read {traffic:?}"))?;
    // "time for request:  min  max  mean  sd  +/- sd"
    let mean_ms = line("time for request:")
        .ok()
        .and_then(|l| l.split_whitespace().nth(5))
        .and_then(|m| {
            m.strip_suffix("us")
                .and_then(|v| v.parse::<f64>().ok().map(|v| v / 1000.0))
                .or_else(|| m.strip_suffix("ms").and_then(|v| v.parse().ok()))
                .or_else(|| {
                    m.strip_suffix('s')
                        .and_then(|v| v.parse::<f64>().ok().map(|v| v * 1000.0))
                })
        })
        .unwrap_or(0.0);
    Ok(H2Run {
        secs,
        done,
        succeeded,
        data_bytes,
        mean_ms,
    })
}

/// One run of h2load against `url` (POSTing `body` as gRPC when given),
/// expecting `answer` bytes of data per request, with the CPU used.
async fn h2load(
    s: &Setup,
    name: &str,
    server: Option<&ServerProcess>,
    url: &str,
    body: Option<&Path>,
    answer: usize,
) -> Outcome {
    let secs = s.duration.as_secs_f64().ceil().max(1.0) as u64;
    let mut cmd = Command::new("h2load");
    cmd.args(["-t", "1", "-c", &CLIENTS.to_string(), "-m", &STREAMS.to_string()])
        .args(["-D", &secs.to_string(), "--warm-up-time", "1"]);
    if let Some(body) = body {
        cmd.args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
            .args(["-H", &format!("authorization: Bearer {}", s.secret)])
            .arg("-d")
            .arg(body);
    }
    cmd.arg(url).stdout(Stdio::piped()).stderr(Stdio::piped());
    // The command as a reader may repeat it, without the key.
    let shown = format!(
        "h2load -t 1 -c {CLIENTS} -m {STREAMS} -D {secs} --warm-up-time 1{} {url}",
        if body.is_some() {
            " -H 'content-type: application/grpc' -H 'te: trailers' -H 'authorization: Bearer <key>' -d <request>"
        } else {
            ""
        }
    );
    let pid = server.map_or(s.server.pid(), ServerProcess::pid);
    let bystander = (pid != s.server.pid()).then(|| s.server.pid());
    let cpu0 = cpu::snap(pid, bystander);
    let output = match tokio::task::spawn_blocking(move || cmd.output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Outcome::failed(name, format!("h2load: {e} (install nghttp2-client)")),
        Err(e) => return Outcome::failed(name, format!("h2load: {e}")),
    };
    let used = cpu::since(cpu0, pid, bystander);
    let text = String::from_utf8_lossy(&output.stdout);
    let run = match parse(&text) {
        Ok(r) => r,
        Err(e) => return Outcome::failed(name, e),
    };
    let per_request = run.data_bytes.checked_div(run.done).unwrap_or(0);
    let mut o = Outcome {
        name: name.to_string(),
        concurrency: CLIENTS * STREAMS,
        requests: run.succeeded,
        secs: run.secs,
        cpu: Some(used),
        ..Outcome::default()
    };
    o.rows = if name.contains("list") {
        run.succeeded * 100
    } else {
        run.succeeded
    };
    if run.succeeded == 0 || run.succeeded < run.done {
        o.errors = (run.done - run.succeeded).max(1);
        o.first_error = Some(format!("{} of {} requests failed", run.done - run.succeeded, run.done));
    } else if per_request < answer as u64 {
        // The data counted includes the warm-up's answers, the requests
        // not: at least `answer` a request, where a failed call brings none.
        o.errors = 1;
        o.first_error = Some(format!("{per_request} bytes of data per request, less than {answer}"));
    }
    if let Some(e) = &o.first_error {
        eprintln!("   {name}: {e}");
    }
    o.extra = json!({
        "tool": "h2load",
        "command": shown,
        "answer_bytes": answer,
        "data_bytes_per_request": per_request,
        "mean_ms": run.mean_ms,
    });
    o
}

/// `nghttpd` serving `dir` on a free port of 127.0.0.1, killed when dropped.
struct Nghttpd(std::process::Child, u16);

impl Nghttpd {
    async fn start(dir: &Path) -> Result<Nghttpd, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let child = Command::new("nghttpd")
            .args(["--no-tls", "-a", "127.0.0.1", "-n", &workers.to_string(), "-d"])
            .arg(dir)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("nghttpd: {e} (install nghttp2-server)"))?;
        let d = Nghttpd(child, port);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if Instant::now() > deadline {
                return Err("nghttpd did not start listening".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(d)
    }
}

impl Drop for Nghttpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(s: &Setup) -> Result<Vec<Outcome>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let write = |name: &str, bytes: &[u8]| -> Result<std::path::PathBuf, String> {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(p)
    };
    // The requests, and the size of each answer as the tonic client sees it.
    let id = sample_ids(&s.url, 1).await?.pop().ok_or("no records")?;
    let get_req = pb::GetDisclosureRequest {
        name: format!("disclosures/{id}"),
    };
    let list_req = pb::ListDisclosuresRequest {
        page_size: 100,
        ..Default::default()
    };
    // The answers' sizes as the tonic client reads them, framed.
    let mut c = disclosures(s.channels[0].clone());
    let failed = |what: &'static str| move |e: tonic::Status| format!("{what}: {e}");
    let get_answer = c
        .get_disclosure(req(get_req.clone(), &s.secret))
        .await
        .map_err(failed("get"))?;
    let list_answer = c
        .list_disclosures(req(list_req.clone(), &s.secret))
        .await
        .map_err(failed("list"))?;
    let (get_answer, list_answer) = (
        get_answer.get_ref().encoded_len() + 5,
        list_answer.get_ref().encoded_len() + 5,
    );
    let health_answer = 7; // HealthCheckResponse { status: SERVING }, framed
    let health_body = write(
        "health.req",
        &grpc_frame(&HealthCheckRequest::default().encode_to_vec()),
    )?;
    let get_body = write("get.req", &grpc_frame(&get_req.encode_to_vec()))?;
    let list_body = write("list.req", &grpc_frame(&list_req.encode_to_vec()))?;
    let statics = tempfile::tempdir().map_err(|e| e.to_string())?;
    for (name, len) in [("health", health_answer), ("get", get_answer), ("list", list_answer)] {
        std::fs::write(statics.path().join(name), vec![b'x'; len]).map_err(|e| e.to_string())?;
    }

    let url = |p: &ServerProcess, method: &str| format!("http://{}/{method}", p.addr);
    const HEALTH: &str = "grpc.health.v1.Health/Check";
    const GET: &str = "gongshi.v1.DisclosureService/GetDisclosure";
    const LIST: &str = "gongshi.v1.DisclosureService/ListDisclosures";
    let (main, decoded, bytes) = (&s.server, &s.decoded.0, &s.bytes_floor.0);
    // (line, target, its process when not the main server, method, request, answer size)
    // The bytes floor answers a page of the first 100 records, as the server does.
    let runs = [
        ("h2-health", main, false, HEALTH, &health_body, health_answer),
        ("h2-get", main, false, GET, &get_body, get_answer),
        ("h2-get-decoded", decoded, true, GET, &get_body, get_answer),
        ("h2-get-bytes", bytes, true, GET, &get_body, get_answer),
        ("h2-list", main, false, LIST, &list_body, list_answer),
        ("h2-list-decoded", decoded, true, LIST, &list_body, list_answer),
        ("h2-list-bytes", bytes, true, LIST, &list_body, list_answer),
    ];
    let mut out = Vec::new();
    for (name, target, other, method, body, answer) in runs {
        let process = other.then_some(target);
        out.push(h2load(s, name, process, &url(target, method), Some(body), answer).await);
    }
    let nghttpd = Nghttpd::start(statics.path()).await?;
    for (name, len) in [("health", health_answer), ("get", get_answer), ("list", list_answer)] {
        let u = format!("http://127.0.0.1:{}/{name}", nghttpd.1);
        let mut o = h2load(s, &format!("h2-static-{name}"), None, &u, None, len).await;
        // No gongshi process serves these: the idle server is a bystander.
        if let Some(c) = o.cpu.as_mut() {
            c.bystander_s += c.server_s;
            c.server_s = 0.0;
        }
        out.push(o);
    }
    drop(nghttpd);
    // Ratios to the h2load health check of the same server, and of each
    // bytes floor to nghttpd's static answer of the same size.
    let rate = |out: &[Outcome], n: &str| {
        out.iter()
            .find(|o| o.name == n && o.errors == 0)
            .map(Outcome::req_per_s)
            .filter(|r| *r > 0.0)
    };
    let health = rate(&out, "h2-health");
    let statics_rate: Vec<(String, Option<f64>)> = ["get", "list"]
        .iter()
        .map(|n| (format!("h2-{n}-bytes"), rate(&out, &format!("h2-static-{n}"))))
        .collect();
    for o in out.iter_mut() {
        if o.name.starts_with("h2-static") || o.name == "h2-health" {
            continue;
        }
        o.vs_health = health.map(|h| o.req_per_s() / h);
        if let Some((_, Some(st))) = statics_rate.iter().find(|(n, _)| *n == o.name) {
            o.extra["ratio_vs_static_same_size"] = json!(o.req_per_s() / st);
        }
    }
    Ok(out)
}
