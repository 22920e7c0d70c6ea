//! What printing notices costs (issue 19; BENCHMARKS.md "Printed notices").
//!
//! ```text
//! cargo bench --bench notice_pdf -- [--documents N] [--repeat R]
//! ```
//!
//! 1. The renderer alone (`gongshi::render::pdf`, in this process): each
//!    shipped document kind (the golden texts of `tests/golden/notices/`)
//!    and a long decision, rendered R times: time per document, size, pages.
//! 2. The server: the `gongshi` binary started on a fresh SQLite database,
//!    N decisions recorded and published through gRPC, then
//!    `RenderNoticeDocument` called for each in a row — each call renders the
//!    decision's bundle (text and three PDFs) and stores it — and then again
//!    for each, now served from storage. The server process's resident
//!    memory (VmRSS) is sampled throughout, with its peak (VmHWM).

#![forbid(unsafe_code)]

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clap::Parser;
use gongshi::api::pb;
use gongshi::domain::ids::compute_check_char;
use gongshi::render::{PrintDocument, pdf};
use tonic::transport::Channel;

#[path = "../tests/testkit/sample.rs"]
mod sample;
use sample::sample_decision;

#[derive(Parser, Debug)]
struct Args {
    /// Decisions printed through the server.
    #[arg(long, default_value_t = 1000)]
    documents: usize,
    /// Renders of each document in the renderer-alone part.
    #[arg(long, default_value_t = 50)]
    repeat: usize,
    /// Accepted for `cargo bench` compatibility.
    #[arg(long)]
    bench: bool,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb / 1024 / 1024)
        .unwrap_or(0);
    format!("{cpu}, {cores} cores, {mem} GiB")
}

fn renderer_alone(repeat: usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/notices");
    let long_facts = (1..=30)
        .map(|i| {
            format!(
                "{i}. 经查，当事人于2025年3月至5月间未按规定组织从业人员参加安全生产教育和培训，\
                 未如实记录培训的时间、内容、参加人员以及考核结果等情况，现场检查时亦未能提供相关台账。"
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let decision = std::fs::read_to_string(dir.join("document_kind_penalty_decision.txt")).expect("golden");
    let docs = [
        ("行政处罚决定书", "沪浦应急罚〔2025〕15号", decision.clone()),
        (
            "信用修复告知书",
            "沪浦应急罚〔2025〕15号（信用修复告知）",
            std::fs::read_to_string(dir.join("document_kind_credit_repair_notice.txt")).expect("golden"),
        ),
        (
            "信用承诺书",
            "沪浦应急罚〔2025〕15号（信用承诺）",
            std::fs::read_to_string(dir.join("document_kind_credit_commitment.txt")).expect("golden"),
        ),
        (
            "行政处罚决定书",
            "沪浦应急罚〔2025〕15号",
            decision.replace("经查，该公司未如实记录安全生产教育和培训情况。", &long_facts),
        ),
    ];
    println!("renderer alone ({repeat} renders each, after one warm-up):");
    println!(
        "  {:<28} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "document", "pages", "bytes", "p50 ms", "p90 ms", "max ms"
    );
    for (i, (title, number, body)) in docs.iter().enumerate() {
        let doc = PrintDocument {
            title,
            number,
            body,
            authority: "上海市浦东新区应急管理局",
            dated: NaiveDate::from_ymd_opt(2025, 6, 10).expect("date"),
        };
        let first = pdf(&doc).expect("render");
        let mut times = Vec::with_capacity(repeat);
        for _ in 0..repeat {
            let t = Instant::now();
            let again = pdf(&doc).expect("render");
            times.push(t.elapsed());
            assert_eq!(again.sha256, first.sha256, "deterministic");
        }
        times.sort();
        let label = if i == 3 {
            format!("{title} (30 long paragraphs)")
        } else {
            title.to_string()
        };
        println!(
            "  {:<28} {:>6} {:>9} {:>9.1} {:>9.1} {:>9.1}",
            label,
            first.page_count,
            first.bytes.len(),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.9)),
            ms(percentile(&times, 1.0))
        );
    }
}

fn gongshi() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gongshi"));
    for (k, _) in std::env::vars() {
        if k.starts_with("GONGSHI_") {
            c.env_remove(k);
        }
    }
    c
}

struct Server(Child);

impl Server {
    fn status_kb(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.0.id()))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn req<T>(msg: T, key: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().expect("ascii key"));
    r
}

fn decision(i: usize) -> pb::PenaltyDecision {
    let body = format!("91310115{:09}", 500_000 + i);
    let code = format!("{body}{}", compute_check_char(&body).expect("check"));
    let authority = format!(
        "11310115000000001{}",
        compute_check_char("11310115000000001").expect("check")
    );
    let mut p = sample_decision(
        &format!("沪浦应急罚〔2025〕{}号", 10_000 + i),
        "2025-06-10",
        &code,
        &authority,
    );
    let party = p.party.as_mut().expect("party");
    party.name = format!("上海某某化工有限公司第{i}分公司");
    party.legal_representative = Some(pb::LegalRepresentative {
        name: "张三".into(),
        ..Default::default()
    });
    p.sector = pb::Sector::SafetyProduction as i32;
    p
}

async fn through_the_server(n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("bench.db").display());
    let out = gongshi()
        .args([
            "keys",
            "create",
            "--role",
            "officer",
            "--label",
            "bench",
            "--database-url",
            &url,
        ])
        .output()
        .expect("keys create");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .last()
        .expect("key line")
        .to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = gongshi()
        .args([
            "serve",
            "--listen",
            &addr,
            "--http-listen",
            "off",
            "--admin-listen",
            "off",
            "--database-url",
            &url,
        ])
        .env("GONGSHI_LOG", "warn")
        // One key stands in for the whole window: no per-key rate limit.
        .env("GONGSHI_KEY_REQUESTS_PER_SECOND", "1000000")
        .env("GONGSHI_KEY_BURST", "1000000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let mut server = Server(child);
    if let Some(err) = server.0.stderr.take() {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("server: {line}");
            }
        });
    }
    let mut channel = None;
    for _ in 0..300 {
        if let Ok(ch) = Channel::from_shared(format!("http://{addr}"))
            .expect("url")
            .connect()
            .await
        {
            channel = Some(ch);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ch = channel.expect("server listens");
    let mut e = pb::enforcement_service_client::EnforcementServiceClient::new(ch.clone());
    let mut notices = pb::notice_service_client::NoticeServiceClient::new(ch);
    let mut names = Vec::with_capacity(n);
    for i in 0..n {
        let created = e
            .create_penalty_decision(req(
                pb::CreatePenaltyDecisionRequest {
                    request_id: String::new(),
                    penalty_decision: Some(decision(i)),
                },
                &key,
            ))
            .await
            .expect("create")
            .into_inner();
        e.publish_penalty_decision(req(
            pb::PublishPenaltyDecisionRequest {
                name: created.name.clone(),
                etag: created.etag.clone(),
            },
            &key,
        ))
        .await
        .expect("publish");
        names.push(created.name);
    }
    let rss_before = server.status_kb("VmRSS");
    // The request rendering the 行政处罚决定书 of a decision's bundle.
    let render_decision = |name: &str| {
        req(
            pb::RenderNoticeDocumentRequest {
                name: format!("{name}/noticeBundle"),
                kind: pb::DocumentKind::PenaltyDecision as i32,
            },
            &key,
        )
    };
    let mut rss_max = rss_before;
    let mut first = Vec::with_capacity(n);
    let mut bytes = 0usize;
    let started = Instant::now();
    for (i, name) in names.iter().enumerate() {
        let t = Instant::now();
        let r = notices
            .render_notice_document(render_decision(name))
            .await
            .expect("render")
            .into_inner();
        first.push(t.elapsed());
        bytes += r.content.len();
        if i % 10 == 9 {
            rss_max = rss_max.max(server.status_kb("VmRSS"));
        }
    }
    let first_total = started.elapsed();
    let rss_after = server.status_kb("VmRSS");
    let mut again = Vec::with_capacity(n);
    for name in &names {
        let t = Instant::now();
        notices
            .render_notice_document(render_decision(name))
            .await
            .expect("render again");
        again.push(t.elapsed());
    }
    let rss_end = server.status_kb("VmRSS");
    let hwm = server.status_kb("VmHWM");
    first.sort();
    again.sort();
    let db_bytes = std::fs::metadata(dir.path().join("bench.db"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(dir.path().join("bench.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!("server ({n} decisions, SQLite, one client, calls in a row):");
    println!(
        "  first RenderNoticeDocument (renders the bundle: text + 3 PDFs, stores it): p50 {:.1} ms, p99 {:.1} ms, \
         max {:.1} ms; {n} in {:.1} s",
        ms(percentile(&first, 0.5)),
        ms(percentile(&first, 0.99)),
        ms(percentile(&first, 1.0)),
        first_total.as_secs_f64()
    );
    println!(
        "  again (served from storage): p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(&again, 0.5)),
        ms(percentile(&again, 0.99))
    );
    println!("  decision PDFs returned: {} bytes on average", bytes / n.max(1));
    println!(
        "  server RSS: {:.1} MiB before, {:.1} MiB max sampled while rendering, {:.1} MiB after, {:.1} MiB after \
         serving them again; peak (VmHWM) {:.1} MiB",
        rss_before as f64 / 1024.0,
        rss_max as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!("  database after: {:.1} MiB", db_bytes as f64 / 1024.0 / 1024.0);
    drop(server);
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    println!("machine: {}", machine());
    renderer_alone(args.repeat.max(1));
    through_the_server(args.documents.max(1)).await;
}
