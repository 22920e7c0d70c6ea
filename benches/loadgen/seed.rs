//! Seeding N active disclosures by plain multi-row INSERTs (adapted from the
//! `seed` of tests/it/export.rs; both write through tests/testkit/bulk_seed.rs): the JSON columns are produced with
//! gongshi's own types, so the rows are exactly what the store would write.

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use gongshi::app::{App, new_id};
use gongshi::domain::clock::{Clock, SystemClock};
use gongshi::domain::ids::compute_check_char;
use gongshi::domain::lifecycle::{Actor, DecisionMeta, Fulfillment, Role};
use gongshi::domain::policy::{
    PartyKind, PenaltyKind, PolicyInput, Procedure, PublicationDecision, PublicityPeriods, Sector, Severity,
};
use gongshi::domain::record::{Org, PublicDates, PublicRecord, sha256_hex};

/// Rows per multi-row INSERT (16 binds a row: within SQLite's 32,766).
const STATEMENT_ROWS: usize = 1_000;
/// Rows per transaction.
const TX_ROWS: usize = 50_000;

/// Characters of the seeded brand names (字号): common in company names.
const BRAND_CHARS: &str = "华鑫盛恒泰昌隆丰瑞祥宏达兴源通利嘉信诚德安康永新欣宝金银鼎佳荣福禄益顺和美优辰星海川林森晨阳光明正中天东南西北航远鸿运腾飞博雅锦绣凯旋精工创智慧科技联合众志远景蓝图汇聚力达成卓越先锋宇宙龙凤麟虎豹鹰鹏程万里千秋百合青松翠竹梅兰菊桂红橙黄绿紫";
/// Trades (行业) of the seeded names: the demo's, then these.
const MORE_TRADES: [&str; 10] = [
    "贸易",
    "建筑工程",
    "新材料",
    "医药",
    "纺织",
    "汽车零部件",
    "环保科技",
    "包装",
    "五金",
    "塑料制品",
];
/// How many trades the seeded names draw from.
const TRADE_COUNT: usize = gongshi::demo::TRADES.len() + MORE_TRADES.len();

/// The party name of seeded record `i`: 上海 + a two-character brand + a
/// trade + 有限公司, like the register's names. With the 120-odd brand
/// characters there are ~14,000 brands, so at 1,000,000 records a brand is
/// shared by ~70 records and a brand with its trade by ~4 — what a name
/// search sees in a city's register.
pub fn party_name(i: usize) -> String {
    let chars: Vec<char> = BRAND_CHARS.chars().collect();
    let n = chars.len();
    // Spread consecutive records over brands (a multiplicative hash).
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16;
    let a = chars[(h % n as u64) as usize];
    let b = chars[((h / n as u64) % n as u64) as usize];
    let t = ((h / (n * n) as u64) % TRADE_COUNT as u64) as usize;
    let mut trades = gongshi::demo::TRADES.iter().chain(&MORE_TRADES);
    let trade = trades.nth(t).expect("t < TRADE_COUNT");
    format!("上海{a}{b}{trade}有限公司")
}

/// The brand (two characters) and trade of seeded record `i`'s name.
pub fn brand_and_trade(i: usize) -> (String, String) {
    let name = party_name(i);
    let rest: String = name.chars().skip(2).collect();
    let brand: String = rest.chars().take(2).collect();
    let trade = rest
        .trim_start_matches(brand.as_str())
        .trim_end_matches("有限公司")
        .to_string();
    (brand, trade)
}

/// The party credit code of seeded record `i` of a batch starting at `first`.
pub fn party_code(first: u64, i: usize) -> String {
    credit_code("91310115", 1_000_000 + first + i as u64)
}

/// A valid unified social credit code: `prefix` + zero-padded `n` + check character.
pub fn credit_code(prefix: &str, n: u64) -> String {
    let body = format!("{prefix}{:0width$}", n, width = 17 - prefix.len());
    let check = compute_check_char(&body).expect("valid credit code body");
    format!("{body}{check}")
}

// The rows and their INSERTs are shared with the export test.
#[path = "../../tests/testkit/bulk_seed.rs"]
mod bulk_seed;
use bulk_seed::{BulkCommon as Common, BulkRow as Row, bulk_doc, insert_bulk_chunk};

/// What to seed.
pub struct Batch {
    /// How many records.
    pub n: usize,
    /// Party credit codes are numbered from here (distinct across batches).
    pub first: u64,
    /// Repair-eligible records: decided long enough ago that the minimum
    /// publicity period has passed (still published), fulfilment recorded.
    pub eligible: bool,
}

/// Today's policy outcome for a decision `days_back` days ago.
fn publication(app: &App, days_back: i64) -> Result<(NaiveDate, PublicityPeriods), String> {
    let decided_on = SystemClock.today_cst() - chrono::Duration::days(days_back);
    match app
        .policy
        .decide(&PolicyInput {
            decided_on,
            severity: Severity::General,
            sector: Sector::Other,
            procedure: Procedure::Ordinary,
            penalty_kinds: vec![PenaltyKind::Fine],
            party_kind: PartyKind::LegalPerson,
        })
        .map_err(|e| format!("policy: {e}"))?
    {
        PublicationDecision::Publish(p) => Ok((decided_on, p)),
        PublicationDecision::NotPublished { rule, .. } => Err(format!("not published: {rule}")),
    }
}

/// Seeds a batch of active, distinct disclosures (decision, first version,
/// PUBLISHED change each); ordinary ones are decided today (CST) so the
/// real-clock server serves them. `app` has already migrated the schema.
/// Returns (disclosure id, party credit code) of each record.
pub async fn seed(app: &Arc<App>, url: &str, batch: &Batch) -> Result<Vec<(String, String)>, String> {
    let n = batch.n;
    let today = SystemClock.today_cst();
    let (decided_on, p) = if batch.eligible {
        let mut found = None;
        for days_back in [100, 200, 300, 400, 500, 700] {
            let (on, p) = publication(app, days_back)?;
            if p.repair_eligible_on <= today && p.publicity_ends_on > today {
                found = Some((on, p));
                break;
            }
        }
        found.ok_or("no decision date is repair-eligible today and still published")?
    } else {
        publication(app, 0)?
    };
    let dates = PublicDates::from(&p);
    let authority = Org {
        name: "上海市浦东新区应急管理局".into(),
        credit_code: credit_code("11310115", 1),
    };
    let template = bulk_doc("@NUM@", "@NAME@", "@CODE@", decided_on, &authority, 2);
    let doc_tpl = serde_json::to_string(&template).map_err(|e| e.to_string())?;
    let content_tpl = PublicRecord::from_decision(&template, &dates).canonical_json();
    let now = app.now_micros();
    let meta = DecisionMeta {
        recorded_by: Actor {
            key_id: "loadgen".into(),
            label: "loadgen".into(),
            role: Role::Officer,
            on_behalf_of: None,
        },
        review: None,
        fulfillment: batch.eligible.then(|| Fulfillment {
            fulfilled_on: decided_on + chrono::Duration::days(10),
            evidence: "罚款已缴入国库（缴款书号 0001）".into(),
            recorded_by: Actor {
                key_id: "loadgen".into(),
                label: "loadgen".into(),
                role: Role::Officer,
                on_behalf_of: None,
            },
            at: now,
        }),
        exclusion: None,
        withdrawal: None,
        publish_time: Some(now),
        publish_date_unknown: false,
        correction_awaiting_review: None,
    };
    let common = Common {
        authority_code: authority.credit_code.clone(),
        decided_on: decided_on.to_string(),
        publicity_ends_on: dates.publicity_ends_on.to_string(),
        repair_eligible_on: dates.repair_eligible_on.to_string(),
        meta_json: serde_json::to_string(&meta).map_err(|e| e.to_string())?,
        now,
    };
    // Per-run prefix, so a second seeding of the same database does not
    // collide with the unique decision numbers.
    let run = &new_id()[16..];
    let make = |i: usize| {
        let number = format!("沪应急罚〔2026〕压-{run}-{i}号");
        let name = party_name(batch.first as usize + i);
        let code = party_code(batch.first, i);
        let fill = |tpl: &str| {
            tpl.replace("@NUM@", &number)
                .replace("@NAME@", &name)
                .replace("@CODE@", &code)
        };
        let content_json = fill(&content_tpl);
        Row {
            decision_id: new_id(),
            disclosure_id: new_id(),
            decision_number: number.clone(),
            party_credit_code: code.clone(),
            search_name: Some(gongshi::domain::search::normalize(&name)),
            doc_json: fill(&doc_tpl),
            content_sha256: sha256_hex(content_json.as_bytes()),
            content_json,
        }
    };

    let started = Instant::now();
    let db_err = |e: sqlx::Error| format!("seeding: {e}");
    let mut done = 0;
    let mut out = Vec::with_capacity(if batch.eligible { n } else { 0 });
    // The same batches on either backend; only the pool and database types differ.
    macro_rules! seed_batches {
        ($pool:expr, $db:ty) => {{
            let pool = $pool;
            while done < n {
                let end = (done + TX_ROWS).min(n);
                let rows: Vec<Row> = (done..end).map(make).collect();
                if batch.eligible {
                    out.extend(
                        rows.iter()
                            .map(|r| (r.disclosure_id.clone(), r.party_credit_code.clone())),
                    );
                }
                let r: Result<(), sqlx::Error> = async {
                    let mut tx = pool.begin().await?;
                    for chunk in rows.chunks(STATEMENT_ROWS) {
                        insert_bulk_chunk!(tx, $db, chunk, &common);
                    }
                    tx.commit().await
                }
                .await;
                r.map_err(db_err)?;
                done = end;
                eprint!("\r  seeded {done}/{n} ({:.0} s)", started.elapsed().as_secs_f64());
            }
            pool
        }};
    }
    if url.starts_with("sqlite:") {
        let pool = seed_batches!(sqlx::SqlitePool::connect(url).await.map_err(db_err)?, sqlx::Sqlite);
        pool.close().await;
    } else {
        let pool = seed_batches!(sqlx::PgPool::connect(url).await.map_err(db_err)?, sqlx::Postgres);
        sqlx::query("ANALYZE").execute(&pool).await.map_err(db_err)?;
        pool.close().await;
    }
    eprintln!();
    Ok(out)
}

/// How many disclosures have no stored encoding.
pub async fn count_unencoded(url: &str) -> Result<i64, String> {
    let sql = "SELECT count(*) FROM disclosures WHERE encoded IS NULL";
    let e = |e: sqlx::Error| format!("count unencoded: {e}");
    with_fresh_pool!(url, e, |pool| sqlx::query_scalar(sql).fetch_one(&pool))
}

/// Brings the seeded and filled database to rest, as a running
/// installation's would be after the fill's bulk UPDATE: on SQLite the WAL
/// checkpointed into the file and truncated (else every read looks its pages
/// up in a WAL of the whole fill); on PostgreSQL the fill's dead row versions
/// vacuumed and the statistics taken (else reads step over them until
/// autovacuum runs, in the middle of some scenario).
pub async fn settle(url: &str) -> Result<(), String> {
    let e = |e: sqlx::Error| format!("settle the database: {e}");
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.map_err(e)?;
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&pool)
            .await
            .map_err(e)?;
        pool.close().await;
        if busy != 0 {
            return Err("settle the database: the WAL checkpoint could not finish (a reader is open)".into());
        }
    } else {
        let pool = sqlx::PgPool::connect(url).await.map_err(e)?;
        sqlx::raw_sql("VACUUM (ANALYZE) disclosures, disclosure_changes, disclosure_versions, penalty_decisions")
            .execute(&pool)
            .await
            .map_err(e)?;
        pool.close().await;
    }
    Ok(())
}
