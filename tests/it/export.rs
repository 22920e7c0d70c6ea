//! ExportDisclosures: the national CSV, its integrity fields, and streaming
//! 100,000 records from a real server process with bounded memory.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gongshi::api::pb;
use gongshi::app::new_id;
use gongshi::config::Config;
use gongshi::domain::clock::{Clock, SystemClock};
use gongshi::domain::lifecycle::{Actor, DecisionMeta, Role};
use gongshi::domain::policy::{PartyKind, PenaltyKind, PolicyInput, Procedure, PublicationDecision, Sector, Severity};
use gongshi::domain::record::{CSV_HEADER, Org, PublicDates, PublicRecord, sha256_hex};
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

use crate::feed::{DisclosureClient, whole_feed_one_pass, withdraw};
use crate::support::calls;
use crate::support::publish_sample;
use crate::support::{
    self, KNOWN_ID, KNOWN_ID_2, TestServer, clock_at, create_and_publish, credit_code, decision, req,
    set_personal_party,
};

/// Runs an export and returns its bytes and the last chunk (without data),
/// checking that only the last chunk is marked last and carries totals.
pub(crate) async fn export_all(client: &mut DisclosureClient, key: &str) -> (Vec<u8>, pb::ExportChunk) {
    let mut stream = calls::export_csv(client, key).await;
    let mut bytes = Vec::new();
    let mut last = None;
    while let Some(chunk) = stream.message().await.expect("export stream") {
        assert!(last.is_none(), "a chunk arrived after the one marked last");
        bytes.extend_from_slice(&chunk.data);
        if chunk.last {
            last = Some(pb::ExportChunk {
                data: Vec::new(),
                ..chunk
            });
        } else {
            assert_eq!(chunk.row_count, 0, "only the last chunk carries row_count");
            assert!(chunk.sha256.is_empty(), "only the last chunk carries sha256");
            assert_eq!(chunk.as_of_sequence, 0, "only the last chunk carries as_of_sequence");
        }
    }
    (bytes, last.expect("the export ended without a chunk marked last"))
}

/// An individual business whose own ID number is recorded.
fn individual_business(number: &str, code: &str) -> pb::PenaltyDecision {
    let mut d = decision(number, "2026-05-08", code);
    let (name, address) = ("上海市浦东新区李四五金店", "上海市浦东新区某路1号");
    set_personal_party(&mut d, pb::PartyKind::IndividualBusiness, name, KNOWN_ID, address);
    d.penalty_kinds = vec![
        pb::PenaltyKind::Fine as i32,
        pb::PenaltyKind::ConfiscateIllegalGains as i32,
    ];
    d.fine_fen = 200_000; // 2,000 元
    d.confiscation_fen = 12_345_678;
    d.penalty_content = "罚款人民币贰仟元整，没收违法所得".into();
    d
}

#[tokio::test]
async fn export_matches_sha256_and_column_order() {
    for db in support::backends().await {
        let server = TestServer::start(&db.url, clock_at("2026-06-01")).await;
        let [officer, discloser] = server.keys([Role::Officer, Role::Discloser]).await;
        let mut enf = server.enforcement().await;
        let mut dis = server.disclosures().await;

        let plain = publish_sample(&mut enf, &officer, "沪应急罚〔2026〕出-1号", "2026-05-06", 601).await;
        let ib = create_and_publish(
            &mut enf,
            &officer,
            individual_business("沪应急罚〔2026〕出-2号", &credit_code("92310115", 602)),
        )
        .await;
        // CSV quoting: commas, quotes and a line break in a field.
        let tricky_facts = "经查，该公司\"安全台账\"缺失,\r\n且未整改。";
        let mut tricky = decision("沪应急罚〔2026〕出-3号", "2026-05-07", &credit_code("91310115", 603));
        tricky.violation_facts = tricky_facts.into();
        tricky.remarks = "备注, 含逗号".into();
        let tricky = create_and_publish(&mut enf, &officer, tricky).await;
        // Withdrawn: not exported.
        let gone = publish_sample(&mut enf, &officer, "沪应急罚〔2026〕出-4号", "2026-05-06", 604).await;
        withdraw(&mut enf, &officer, &gone, "该处罚决定已被依法变更").await;

        let (bytes, last) = export_all(&mut dis, &discloser).await;
        let feed = whole_feed_one_pass(&mut dis, &discloser).await;
        assert_eq!(last.row_count, 3, "{}", db.backend);
        assert_eq!(
            last.as_of_sequence, feed.last_sequence,
            "{}: as_of_sequence is the feed position",
            db.backend
        );
        assert_eq!(
            last.sha256,
            hex::encode(Sha256::digest(&bytes)),
            "{}: sha256 of the bytes sent",
            db.backend
        );
        assert_eq!(last.sha256.len(), 64);

        // No ID number anywhere, in any case.
        let text = String::from_utf8(bytes.clone()).expect("UTF-8");
        for id in [KNOWN_ID, KNOWN_ID_2, &KNOWN_ID.to_lowercase()] {
            assert!(!text.contains(id), "{}: export leaks ID number {id}", db.backend);
        }
        assert!(text.ends_with("\r\n"), "CRLF line ends");

        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes.as_slice());
        let records: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("valid CSV")).collect();
        assert_eq!(records.len(), 4, "header + 3 rows");
        let header: Vec<&str> = records[0].iter().collect();
        assert_eq!(header, CSV_HEADER.to_vec(), "header names and order");
        for r in &records {
            assert_eq!(r.len(), 30, "30 columns: {r:?}");
        }
        let row = |number: &str| -> csv::StringRecord {
            records[1..]
                .iter()
                .find(|r| &r[13] == number)
                .unwrap_or_else(|| panic!("no row for {number}"))
                .clone()
        };
        for r in &records[1..] {
            assert_eq!(&r[10], "", "CF_FR_ZJHM is never published");
            assert_eq!(&r[12], "", "CF_XDR_ZJHM is never published");
        }
        assert!(
            records[1..].iter().all(|r| &r[13] != "沪应急罚〔2026〕出-4号"),
            "withdrawn rows are not exported"
        );

        let p = row(&plain.decision_number);
        assert_eq!(&p[0], "上海某某化工有限公司");
        assert_eq!(&p[1], "法人及非法人组织");
        assert_eq!(&p[2], credit_code("91310115", 601));
        assert_eq!(&p[8], "张三");
        assert_eq!(&p[9], "身份证", "the legal representative's ID type is public");
        assert_eq!(&p[11], "");
        assert_eq!(&p[14], "未按规定开展安全生产教育和培训");
        assert_eq!(&p[15], "经查，该公司未如实记录安全生产教育和培训情况。");
        assert_eq!(&p[16], "《中华人民共和国安全生产法》第九十七条第三项");
        assert_eq!(&p[17], "罚款");
        assert_eq!(&p[18], "罚款人民币贰万元整");
        assert_eq!(&p[19], "2.000000", "2,000,000 fen is 2 万元 with six decimals");
        assert_eq!(&p[20], "0.000000");
        assert_eq!(&p[22], "2026-05-06");
        assert_eq!(
            &p[24], "2027-05-06",
            "公示截止期: general class under 令第36号, one year"
        );
        assert_eq!(&p[25], "上海市浦东新区应急管理局");
        assert_eq!(&p[26], support::authority_code());
        assert_eq!(
            &p[27], "上海市浦东新区应急管理局",
            "the authority is the default data source"
        );
        assert_eq!(&p[28], support::authority_code());

        let i = row(&ib.decision_number);
        assert_eq!(&i[1], "个体工商户");
        assert_eq!(&i[2], credit_code("92310115", 602));
        assert_eq!(&i[11], "身份证", "the party's ID type is public, its number is not");
        assert_eq!(&i[17], "罚款;没收违法所得");
        assert_eq!(&i[19], "0.200000");
        assert_eq!(&i[20], "12.345678");

        let t = row(&tricky.decision_number);
        assert_eq!(&t[15], tricky_facts, "quoted field survives the round trip");
        assert_eq!(&t[29], "备注, 含逗号");

        // The feed's records agree with the export's dates.
        let rec = feed
            .changes
            .iter()
            .find(|c| c.disclosure == plain.disclosure)
            .and_then(|c| c.record.clone())
            .expect("record in feed");
        assert_eq!(rec.publicity_ends_on, &p[24]);
        server.stop().await;
    }
}

// ---------------------------------------------------------------- 100k

const ROWS: usize = 100_000;
/// Rows per multi-row INSERT (well within both backends' bind limits).
const SEED_STATEMENT_ROWS: usize = 1_000;

use crate::support::bin::{gongshi, serve_grpc_only};
// The rows and their INSERTs are shared with the load generator.
use crate::support::bulk_seed::{BulkCommon as SeedCommon, BulkRow as SeedRow, bulk_doc, insert_bulk_chunk};

/// Inserts `rows` with multi-row INSERTs, on a pool of either backend, in one
/// transaction, and returns the last feed sequence. (Going through `Tx` one
/// row at a time costs four round trips per row: over a minute per backend
/// here.)
macro_rules! bulk_insert {
    ($pool:expr, $db:ty, $rows:expr, $c:expr) => {{
        let r: Result<i64, sqlx::Error> = async {
            let mut tx = $pool.begin().await?;
            for chunk in $rows.chunks(SEED_STATEMENT_ROWS) {
                insert_bulk_chunk!(tx, $db, chunk, $c);
            }
            let last: i64 = sqlx::query_scalar("SELECT MAX(sequence) FROM disclosure_changes")
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(last)
        }
        .await;
        r.expect("bulk insert")
    }};
}

/// Seeds `ROWS` active, distinct disclosures (with their decisions, first
/// versions and PUBLISHED changes) whose JSON is what the store itself
/// writes. Returns the last feed sequence.
async fn seed(url: &str) -> i64 {
    // Schema through the application (migrations), and the policy's dates.
    let cfg = Config {
        database_url: url.to_string(),
        max_connections: 2,
        ..Config::default()
    };
    // The child server uses the wall clock: the records must be active today.
    let app = cfg.open_app(Arc::new(SystemClock)).await.expect("open app for seeding");
    let today = SystemClock.today_cst();
    let p = match app
        .policy
        .decide(&PolicyInput {
            decided_on: today,
            severity: Severity::General,
            sector: Sector::Other,
            procedure: Procedure::Ordinary,
            penalty_kinds: vec![PenaltyKind::Fine],
            party_kind: PartyKind::LegalPerson,
        })
        .expect("policy")
    {
        PublicationDecision::Publish(p) => p,
        PublicationDecision::NotPublished { rule, .. } => panic!("not published: {rule}"),
    };
    assert!(p.publicity_ends_on > today);
    let dates = PublicDates::from(&p);
    let authority = Org {
        name: "上海市浦东新区应急管理局".into(),
        credit_code: support::authority_code(),
    };
    // Long facts, so the CSV is far larger than a server's baseline memory.
    let doc_for = |number: &str, name: &str, code: &str| bulk_doc(number, name, code, today, &authority, 8);
    // Serialise once with placeholders, then fill them in per row.
    let number_of = |n: usize| format!("沪应急罚〔2026〕批-{n}号");
    let name_of = |n: usize| format!("上海批量测试第{n}化工有限公司");
    let code_of = |n: usize| credit_code("91310115", 1_000_000 + n as u64);
    let template = doc_for("@NUM@", "@NAME@", "@CODE@");
    let doc_tpl = serde_json::to_string(&template).unwrap();
    let content_tpl = PublicRecord::from_decision(&template, &dates).canonical_json();
    let fill = |tpl: &str, n: usize| {
        tpl.replace("@NUM@", &number_of(n))
            .replace("@NAME@", &name_of(n))
            .replace("@CODE@", &code_of(n))
    };
    let now = app.now_micros();
    let meta = DecisionMeta {
        publish_time: Some(now),
        ..DecisionMeta::recorded_by(Actor {
            key_id: "seed".into(),
            label: "seed".into(),
            role: Role::Officer,
            on_behalf_of: None,
        })
    };
    let common = SeedCommon {
        authority_code: authority.credit_code.clone(),
        decided_on: today.to_string(),
        publicity_ends_on: dates.publicity_ends_on.to_string(),
        repair_eligible_on: dates.repair_eligible_on.to_string(),
        meta_json: serde_json::to_string(&meta).unwrap(),
        now,
    };
    let rows: Vec<SeedRow> = (0..ROWS)
        .map(|n| {
            let content_json = fill(&content_tpl, n);
            SeedRow {
                decision_id: new_id(),
                disclosure_id: new_id(),
                decision_number: number_of(n),
                party_credit_code: code_of(n),
                search_name: None,
                doc_json: fill(&doc_tpl, n),
                content_sha256: sha256_hex(content_json.as_bytes()),
                content_json,
            }
        })
        .collect();
    // The placeholders produce exactly what the store would write.
    let real = doc_for(&number_of(7), &name_of(7), &code_of(7));
    let record = PublicRecord::from_decision(&real, &dates);
    assert_eq!(rows[7].content_json, record.canonical_json());
    assert_eq!(rows[7].content_sha256, record.content_sha256());
    assert_eq!(rows[7].doc_json, serde_json::to_string(&real).unwrap());
    drop(app);

    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.expect("connect SQLite");
        let last = bulk_insert!(pool, sqlx::Sqlite, rows, &common);
        pool.close().await;
        last
    } else {
        let pool = sqlx::PgPool::connect(url).await.expect("connect PostgreSQL");
        let last = bulk_insert!(pool, sqlx::Postgres, rows, &common);
        pool.close().await;
        last
    }
}

/// The server binary, stopped (SIGKILL) if the test fails before SIGTERM.
struct ServerProcess {
    child: Child,
    log: std::path::PathBuf,
}

impl ServerProcess {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn status_field(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("read /proc status");
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in /proc/<pid>/status"));
        // "VmHWM:	   12345 kB"
        let kb: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .expect("kB value");
        kb * 1024
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, then wait (bounded) for a clean exit.
    fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                panic!("the server did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A discloser key made with `gongshi keys create`: the key is the last stdout line.
fn cli_discloser_key(url: &str) -> String {
    let out = gongshi()
        .args([
            "keys",
            "create",
            "--role",
            "discloser",
            "--label",
            "export test",
            "--database-url",
            url,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run gongshi keys create");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "keys create failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let key = BufReader::new(stdout.as_bytes())
        .lines()
        .map_while(Result::ok)
        .last()
        .expect("a key line");
    assert!(key.starts_with("gsk_"), "unexpected key line {key:?}");
    key
}

async fn start_server_process(url: &str, dir: &std::path::Path) -> (ServerProcess, Channel) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let log = dir.join("server.log");
    let child = serve_grpc_only(&mut gongshi(), &addr, url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn gongshi serve");
    let mut server = ServerProcess { child, log };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("gongshi serve exited ({status}):\n{}", server.log_tail());
        }
        if let Ok(ch) = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await {
            return (server, ch);
        }
        assert!(
            Instant::now() < deadline,
            "gongshi serve did not listen on {addr}:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_of_100k_streams_with_bounded_memory() {
    for db in support::backends().await {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let feed_last = seed(&db.url).await;
        let seeded = started.elapsed();
        let key = cli_discloser_key(&db.url);
        let (server, ch) = start_server_process(&db.url, dir.path()).await;
        let mut client = pb::disclosure_service_client::DisclosureServiceClient::new(ch);
        let rss_start = server.status_field("VmRSS");

        // The feed ends at the last seeded change.
        let tail = client
            .list_disclosure_changes(req(
                pb::ListDisclosureChangesRequest {
                    after_sequence: feed_last - 1,
                    page_size: 10,
                },
                &key,
            ))
            .await
            .expect("ListDisclosureChanges")
            .into_inner();
        assert_eq!(
            (tail.changes.len(), tail.last_sequence),
            (1, feed_last),
            "{}",
            db.backend
        );
        let hwm_before = server.status_field("VmHWM");

        // Export, hashing and discarding the data as it arrives.
        let export_started = Instant::now();
        let mut stream = calls::export_csv(&mut client, &key).await;
        let mut hasher = Sha256::new();
        let mut total = 0usize;
        let mut chunks = 0usize;
        let mut largest_chunk = 0usize;
        let mut lines = 0usize;
        let mut line_len = 0usize;
        let mut longest_line = 0usize;
        let mut last = None;
        while let Some(chunk) = tokio::time::timeout(Duration::from_secs(60), stream.message())
            .await
            .expect("export stalled")
            .expect("export")
        {
            assert!(last.is_none(), "a chunk after the last");
            hasher.update(&chunk.data);
            total += chunk.data.len();
            chunks += 1;
            for &b in &chunk.data {
                line_len += 1;
                if b == b'\n' {
                    lines += 1;
                    longest_line = longest_line.max(line_len);
                    line_len = 0;
                }
            }
            if chunk.last {
                last = Some(pb::ExportChunk {
                    data: Vec::new(),
                    ..chunk
                });
            } else {
                largest_chunk = largest_chunk.max(chunk.data.len());
            }
            if chunks == 1 {
                // A slow client: a server without backpressure would now
                // read the whole table into memory while waiting for it.
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
        }
        let exported_in = export_started.elapsed();
        let hwm = server.status_field("VmHWM");
        let last = last.expect("a last chunk");
        let status = server.terminate();
        assert!(
            status.success(),
            "{}: the server exited with {status} after SIGTERM",
            db.backend
        );

        eprintln!(
            "{}: seeded {ROWS} in {:.1} s; exported {total} bytes ({:.1} MB) in {chunks} chunks in {:.1} s; \
             server VmRSS at start {:.1} MB, VmHWM before export {:.1} MB, VmHWM at end {:.1} MB",
            db.backend,
            seeded.as_secs_f64(),
            total as f64 / 1e6,
            exported_in.as_secs_f64(),
            rss_start as f64 / 1e6,
            hwm_before as f64 / 1e6,
            hwm as f64 / 1e6
        );
        assert_eq!(last.row_count, ROWS as i64, "{}", db.backend);
        assert_eq!(lines, ROWS + 1, "{}: header plus one line per record", db.backend);
        assert_eq!(last.sha256, hex::encode(hasher.finalize()), "{}: sha256", db.backend);
        assert_eq!(last.as_of_sequence, feed_last, "{}: as_of_sequence", db.backend);
        assert!(
            total > 60_000_000,
            "{}: the CSV ({total} bytes) must dwarf the server's memory",
            db.backend
        );
        assert!(
            largest_chunk <= 64 * 1024 + longest_line,
            "{}: a chunk of {largest_chunk} bytes (limit 64 KiB + one row of {longest_line})",
            db.backend
        );
        assert!(
            chunks >= total / (64 * 1024 + longest_line),
            "{}: streamed in many chunks ({chunks})",
            db.backend
        );
        // Streaming, not buffering: what the export added to the server's
        // resident memory, and its peak over its whole life, stay far below
        // the size of what it sent (a server holding the file, or reading
        // ahead of a slow client without bound, would exceed it).
        let growth = hwm.saturating_sub(hwm_before);
        assert!(
            growth < total as u64 / 3,
            "{}: the export raised the server's peak RSS by {growth} bytes for a {total}-byte file",
            db.backend
        );
        assert!(
            hwm < total as u64 * 6 / 10,
            "{}: server peak RSS {hwm} bytes is not well below the {total}-byte export",
            db.backend
        );
    }
}
