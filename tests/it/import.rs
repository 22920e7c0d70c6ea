//! `gongshi import FILE` as an operator runs it: 10,000 rows in the national
//! column order with 50 bad ones, as CSV and as XLSX, on every backend.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gongshi::domain::record::{CSV_HEADER, fen_to_wanyuan};

use crate::support::{self, KNOWN_ID, KNOWN_ID_2, TestDb};

const ROWS: usize = 10_000;
const BAD: usize = 50;

/// The 30 national columns, then the optional extras.
const EXTRAS: [&str; 3] = ["程序", "行业", "信息类别"];
/// Column indexes (national order, DOMAIN.md §3).
const C_KIND: usize = 1;
const C_CODE: usize = 2;
const C_REP_ID: usize = 10;
const C_ID: usize = 12;
const C_FACTS: usize = 15;
const C_KINDS: usize = 17;
const C_FINE: usize = 19;
const C_DATE: usize = 22;
const C_AUTH_CODE: usize = 26;

/// ID numbers that appear in the file: none may appear in the report.
const BAD_REP_ID: &str = "110105194912310039";
const BAD_PARTY_ID: &str = "11010519491231002Y";

#[derive(Clone)]
enum Cell {
    Text(String),
    /// A number cell in XLSX (its decimal text in CSV).
    Number(String),
    /// A date cell in XLSX (ISO text in CSV).
    Date(u16, u8, u8),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) | Cell::Number(s) => s.clone(),
            Cell::Date(y, m, d) => format!("{y:04}-{m:02}-{d:02}"),
        }
    }
}

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn flip_check(code: &str) -> String {
    let last = code.chars().last().unwrap();
    let other = if last == '1' { '2' } else { '1' };
    format!("{}{other}", &code[..code.len() - 1])
}

fn decision_number(i: usize) -> String {
    format!("沪浦应急罚〔{}〕{i}号", 2022 + i % 4)
}

/// Row `i` (file row i + 2) and, for a bad one, the column index at fault.
fn row(i: usize) -> (Vec<Cell>, Option<usize>) {
    let year = 2022 + (i % 4) as u16;
    let (month, day) = (1 + (i % 12) as u8, 1 + (i % 28) as u8);
    let natural = i.is_multiple_of(20);
    let individual = i % 20 == 1;
    let major_by_fine = i % 500 == 7;
    let fine_fen: i64 = if major_by_fine {
        12_500_000
    } else {
        200_000 + (i as i64 % 1000) * 100
    };
    let (kinds, confiscation) = match i % 7 {
        0 => ("警告;罚款", String::new()),
        1 => ("罚款、没收违法所得", "0.05".to_string()),
        _ if i % 97 == 3 => ("罚款；责令停产停业", String::new()),
        _ => ("罚款", String::new()),
    };
    let mut c: Vec<Cell> = vec![
        t(if natural {
            format!("李某{i}")
        } else {
            format!("上海某某{i}有限公司")
        }),
        t(if natural {
            "自然人"
        } else if individual {
            "个体工商户"
        } else {
            "法人及非法人组织"
        }),
        t(if natural {
            String::new()
        } else if individual {
            support::credit_code("92310115", i as u64)
        } else {
            support::credit_code("91310115", i as u64)
        }),
        t(""),
        t(""),
        t(""),
        t(""),
        t(""),
        t(if natural { "" } else { "张三" }),
        t(if natural { "" } else { "身份证" }),
        t(if natural { "" } else { KNOWN_ID_2 }),
        t(if natural { "身份证" } else { "" }),
        t(if natural { KNOWN_ID } else { "" }),
        t(decision_number(i)),
        t("未按规定开展安全生产教育和培训"),
        t(format!("经查，当事人未如实记录安全生产教育和培训情况（第{i}号案）。")),
        t("《中华人民共和国安全生产法》第九十七条第三项"),
        t(kinds),
        t("罚款人民币若干元"),
        Cell::Number(
            fen_to_wanyuan(fine_fen)
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
        ),
        if confiscation.is_empty() {
            t("")
        } else {
            Cell::Number(confiscation)
        },
        t(""),
        Cell::Date(year, month, day),
        t(""),
        t("2099-12-31"), // 公示截止期: not read, the policy computes it
        t("上海市浦东新区应急管理局"),
        t(support::authority_code()),
        t(""),
        t(""),
        t(if i.is_multiple_of(11) { "历史数据迁移" } else { "" }),
        // 程序, 行业, 信息类别
        t(if i % 50 == 5 { "简易程序" } else { "" }),
        t(if i.is_multiple_of(5) { "安全生产" } else { "" }),
        t(match i % 3 {
            0 => "严重",
            1 => "",
            _ => "一般",
        }),
    ];
    if i % (ROWS / BAD) != 99 {
        return (c, None);
    }
    c[C_KINDS] = t("罚款");
    let fault = match (i / (ROWS / BAD)) % 10 {
        0 => {
            c[C_CODE] = t(flip_check(&c[C_CODE].text()));
            C_CODE
        }
        1 => {
            c[C_REP_ID] = t(BAD_REP_ID);
            C_REP_ID
        }
        2 => {
            c[C_FACTS] = t("");
            C_FACTS
        }
        3 => {
            c[C_DATE] = t("2024-02-30");
            C_DATE
        }
        4 => {
            c[C_KINDS] = t("罚金");
            C_KINDS
        }
        5 => {
            c[C_FINE] = Cell::Number("-0.5".into());
            C_FINE
        }
        6 => {
            c[C_FINE] = Cell::Number("0.1234567".into());
            C_FINE
        }
        7 => {
            c[C_KIND] = t("企业");
            C_KIND
        }
        8 => {
            c[C_AUTH_CODE] = t(flip_check(&support::authority_code()));
            C_AUTH_CODE
        }
        _ => {
            c[11] = t("身份证");
            c[C_ID] = t(BAD_PARTY_ID);
            C_ID
        }
    };
    (c, Some(fault))
}

/// The CSV header: the export's combined form, then the extras.
fn csv_header() -> Vec<String> {
    CSV_HEADER.iter().chain(EXTRAS.iter()).map(|s| s.to_string()).collect()
}

/// The XLSX header: the field codes, then the extras.
fn xlsx_header() -> Vec<String> {
    CSV_HEADER
        .iter()
        .map(|h| h.rsplit_once('(').unwrap().1.trim_end_matches(')').to_string())
        .chain(EXTRAS.iter().map(|s| s.to_string()))
        .collect()
}

fn write_csv(path: &Path) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(csv_header()).unwrap();
    for i in 0..ROWS {
        w.write_record(row(i).0.iter().map(Cell::text)).unwrap();
    }
    w.flush().unwrap();
}

fn write_xlsx(path: &Path) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = book.add_worksheet();
    for (j, h) in xlsx_header().iter().enumerate() {
        sheet.write_string(0, j as u16, h).unwrap();
    }
    for i in 0..ROWS {
        let r = i as u32 + 1;
        for (j, cell) in row(i).0.iter().enumerate() {
            let j = j as u16;
            match cell {
                Cell::Text(s) if s.is_empty() => {}
                Cell::Text(s) => {
                    sheet.write_string(r, j, s).unwrap();
                }
                Cell::Number(s) => {
                    sheet.write_number(r, j, s.parse::<f64>().unwrap()).unwrap();
                }
                Cell::Date(y, m, d) => {
                    sheet
                        .write_datetime_with_format(r, j, ExcelDateTime::from_ymd(*y, *m, *d).unwrap(), &date)
                        .unwrap();
                }
            }
        }
    }
    book.save(path).unwrap();
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn import(file: &Path, url: &str) -> Run {
    let mut c = support::bin::gongshi();
    let started = Instant::now();
    let out = c
        .args(["import", file.to_str().unwrap(), "--database-url", url])
        .output()
        .expect("run gongshi import");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    eprintln!(
        "import {} ({}): {:.1} s: {}",
        file.file_name().unwrap().to_string_lossy(),
        url.split(':').next().unwrap(),
        started.elapsed().as_secs_f64(),
        run.stdout.replace('\n', " | ")
    );
    run
}

fn report_of(file: &Path) -> PathBuf {
    let mut p = file.as_os_str().to_owned();
    p.push(".errors.csv");
    PathBuf::from(p)
}

/// The expected problems: (file row, column index) of every bad row.
fn expected_faults() -> Vec<(u64, usize)> {
    (0..ROWS).filter_map(|i| row(i).1.map(|c| (i as u64 + 2, c))).collect()
}

/// Checks the run's summary, exit and the report against the bad rows.
fn check_run(run: &Run, file: &Path, header: &[String], imported: usize, present: usize) {
    let report = report_of(file);
    assert_eq!(
        run.code, 1,
        "exit status 1 when a row failed: {}{}",
        run.stdout, run.stderr
    );
    let summary = run.stdout.lines().last().unwrap_or("");
    assert_eq!(
        summary,
        format!(
            "imported {imported}, already present {present}, failed {BAD}, publication date unknown {imported} (report: {})",
            report.display()
        ),
        "{}",
        run.stdout
    );
    let err = run.stderr.trim_end();
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(
        err.starts_with("gongshi: ") && err.contains("50 row(s) failed"),
        "{err}"
    );

    let bytes = std::fs::read(&report).expect("error report written");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM for Excel");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(
        text.contains("\r\n") && !text.replace("\r\n", "").contains('\n'),
        "CRLF line ends"
    );
    for id in [
        KNOWN_ID,
        KNOWN_ID_2,
        BAD_REP_ID,
        BAD_PARTY_ID,
        &BAD_REP_ID[..17],
        &BAD_PARTY_ID[..17],
    ] {
        assert!(!text.contains(id), "the report must not contain an ID number ({id})");
    }
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), ["行号", "列", "原因"]);
    let got: Vec<(u64, String, String)> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[0].parse().unwrap(), rec[1].to_string(), rec[2].to_string())
        })
        .collect();
    let want = expected_faults();
    assert_eq!(want.len(), BAD);
    assert_eq!(got.len(), BAD, "one line per bad row (one fault each): {got:#?}");
    for ((row, col, reason), (want_row, want_col)) in got.iter().zip(&want) {
        assert_eq!(
            (*row, col.as_str()),
            (*want_row, header[*want_col].as_str()),
            "{reason}"
        );
        assert!(!reason.trim().is_empty());
    }
    // A few reasons in full.
    let reason_of = |c: usize| {
        got.iter()
            .zip(&want)
            .find(|(_, w)| w.1 == c)
            .map(|(g, _)| g.2.clone())
            .unwrap()
    };
    assert!(reason_of(C_CODE).contains("check character"), "{}", reason_of(C_CODE));
    assert_eq!(reason_of(C_REP_ID), "check character mismatch (GB 11643-1999)");
    assert_eq!(reason_of(C_FACTS), "is required");
    assert!(reason_of(C_DATE).contains("YYYY-MM-DD"));
    assert!(reason_of(C_KINDS).contains("\"罚金\""), "{}", reason_of(C_KINDS));
    assert!(reason_of(C_KIND).contains("\"企业\""));
    assert!(reason_of(C_ID).contains("position 18"), "{}", reason_of(C_ID));
    let fines: Vec<&String> = got
        .iter()
        .zip(&want)
        .filter(|(_, w)| w.1 == C_FINE)
        .map(|(g, _)| &g.2)
        .collect();
    assert!(
        fines.iter().any(|r| r.contains("negative")) && fines.iter().any(|r| r.contains("six decimals")),
        "{fines:?}"
    );
}

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    support::sql::count(&db.url, db.backend, sql).await
}

/// What the database holds after importing the file once.
async fn check_database(db: &TestDb) {
    let good = (ROWS - BAD) as i64;
    assert_eq!(scalar(db, "SELECT COUNT(*) FROM penalty_decisions").await, good);
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM penalty_decisions WHERE state = 'RECORDED'").await,
        0
    );
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM decision_events WHERE kind = 'RECORDED'").await,
        good
    );
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM decision_events").await,
        2 * good,
        "recorded + published/excluded/expired"
    );
    let with_source = "SELECT COUNT(*) FROM decision_events WHERE summary LIKE '%historical import from %.% row %'";
    assert_eq!(scalar(db, with_source).await, 2 * good);
    let active = scalar(db, "SELECT COUNT(*) FROM disclosures WHERE state = 'ACTIVE'").await;
    let expired = scalar(db, "SELECT COUNT(*) FROM disclosures WHERE state = 'EXPIRED'").await;
    let not_published = scalar(
        db,
        "SELECT COUNT(*) FROM penalty_decisions WHERE state = 'NOT_PUBLISHED'",
    )
    .await;
    assert!(
        active > 0 && expired > 0 && not_published > 0,
        "{active} {expired} {not_published}"
    );
    assert_eq!(active + expired + not_published, good);
    // Only active publications reach the feed; expired history never does.
    assert_eq!(scalar(db, "SELECT COUNT(*) FROM disclosure_changes").await, active);
    // Major decisions (fine of 125,000 元) are published without an in-gongshi review.
    let major = decision_number(507);
    let sql = format!(
        "SELECT COUNT(*) FROM penalty_decisions WHERE decision_number = '{major}' AND state = 'PUBLISHED' AND doc LIKE '%\"major\":true%'"
    );
    assert_eq!(scalar(db, &sql).await, 1, "major decision {major}");
    // ID numbers are stored in the sensitive fields.
    let sql = format!(
        "SELECT COUNT(*) FROM penalty_decisions WHERE decision_number = '{}' AND doc LIKE '%{KNOWN_ID}%'",
        decision_number(20)
    );
    assert_eq!(scalar(db, &sql).await, 1);
    // Amounts in fen, exactly.
    let sql = format!(
        "SELECT COUNT(*) FROM penalty_decisions WHERE decision_number = '{}' AND doc LIKE '%\"fine_fen\":212300,%'",
        decision_number(123)
    );
    assert_eq!(scalar(db, &sql).await, 1);
}

async fn fresh(backend: &str) -> TestDb {
    match backend {
        "sqlite" => support::sqlite_db(),
        _ => support::pg_db().await.expect("a second PostgreSQL database"),
    }
}

/// Done-when: 10,000 rows with 50 bad ones import 9,950 and report the 50
/// with row, column and reason; a second run imports 0 and finds 9,950
/// already present; the same rows as XLSX give the same result. Both backends.
#[tokio::test]
async fn import_csv_and_xlsx_with_bad_rows_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let csv_file = dir.path().join("历史处罚.csv");
    let xlsx_file = dir.path().join("历史处罚.xlsx");
    let started = Instant::now();
    write_csv(&csv_file);
    write_xlsx(&xlsx_file);
    eprintln!(
        "wrote {ROWS} rows as CSV and XLSX in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let good = ROWS - BAD;

    for db in support::backends().await {
        let run = import(&csv_file, &db.url);
        check_run(&run, &csv_file, &csv_header(), good, 0);
        check_database(&db).await;

        let again = import(&csv_file, &db.url);
        check_run(&again, &csv_file, &csv_header(), 0, good);
        assert_eq!(
            scalar(&db, "SELECT COUNT(*) FROM penalty_decisions").await,
            good as i64,
            "nothing twice"
        );
        assert_eq!(
            scalar(&db, "SELECT COUNT(*) FROM decision_events").await,
            2 * good as i64
        );

        let xdb = fresh(db.backend).await;
        let run = import(&xlsx_file, &xdb.url);
        check_run(&run, &xlsx_file, &xlsx_header(), good, 0);
        check_database(&xdb).await;
    }
}

/// A file without a required column is refused before anything is imported;
/// a clean file leaves no report (a stale one is removed) and exits 0.
#[tokio::test]
async fn missing_columns_refuse_the_file_and_clean_files_leave_no_report() {
    let dir = tempfile::tempdir().unwrap();
    for db in support::backends().await {
        let file = dir.path().join(format!("{}-missing.csv", db.backend));
        let mut w = csv::Writer::from_path(&file).unwrap();
        let header: Vec<String> = csv_header()
            .into_iter()
            .enumerate()
            .filter(|(j, _)| *j != C_FACTS)
            .map(|(_, h)| h)
            .collect();
        w.write_record(&header).unwrap();
        let mut r: Vec<String> = row(2).0.iter().map(Cell::text).collect();
        r.remove(C_FACTS);
        w.write_record(&r).unwrap();
        w.flush().unwrap();
        let run = import(&file, &db.url);
        assert_eq!(run.code, 1);
        assert_eq!(run.stderr.trim_end().lines().count(), 1, "{}", run.stderr);
        assert!(
            run.stderr.starts_with("gongshi: ") && run.stderr.contains("违法事实 (CF_SY)"),
            "{}",
            run.stderr
        );
        assert!(!report_of(&file).exists());
        assert_eq!(scalar(&db, "SELECT COUNT(*) FROM penalty_decisions").await, 0);

        let file = dir.path().join(format!("{}-clean.csv", db.backend));
        std::fs::write(report_of(&file), "stale").unwrap();
        let mut w = csv::Writer::from_path(&file).unwrap();
        // Plain Chinese names in another order, GB-style dates.
        let mut header: Vec<String> = CSV_HEADER
            .iter()
            .map(|h| h.split('(').next().unwrap().to_string())
            .collect();
        header.reverse();
        w.write_record(&header).unwrap();
        for i in [2, 3, 4] {
            let mut r: Vec<String> = row(i).0.iter().take(30).map(Cell::text).collect();
            r[C_DATE] = r[C_DATE].replace('-', "/");
            r.reverse();
            w.write_record(&r).unwrap();
        }
        w.flush().unwrap();
        let run = import(&file, &db.url);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert_eq!(
            run.stdout.lines().last(),
            Some("imported 3, already present 0, failed 0, publication date unknown 3")
        );
        assert!(!report_of(&file).exists(), "stale report removed");
        assert_eq!(scalar(&db, "SELECT COUNT(*) FROM penalty_decisions").await, 3);
    }
}
