//! Bulk seeding of active disclosures by multi-row INSERTs, shared by the
//! export test (tests/it/export.rs) and the load generator
//! (benches/loadgen/seed.rs), which both include this file with `#[path]`.
//! The callers produce the JSON columns with gongshi's own types, so the rows
//! are exactly what the store would write; this file only writes them.

use chrono::NaiveDate;
use gongshi::domain::policy::{PenaltyKind, Procedure, Sector, Severity};
use gongshi::domain::record::{DecisionDoc, IdType, LegalRepresentative, Org, Party};

/// A seeded decision: an ordinary fine on a legal person decided on
/// `decided_on` by `authority`; its facts repeat a sentence `facts_repeat`
/// times (the export test wants a large CSV). Callers serialise it once with
/// placeholders and fill them in per row.
pub fn bulk_doc(
    number: &str,
    name: &str,
    code: &str,
    decided_on: NaiveDate,
    authority: &Org,
    facts_repeat: usize,
) -> DecisionDoc {
    DecisionDoc {
        decision_number: number.into(),
        party: Party::legal_person(
            name.into(),
            code.into(),
            LegalRepresentative {
                name: "张三".into(),
                id_type: IdType::ResidentIdCard,
                id_number: "110105194912310038".into(),
            },
            "上海市浦东新区某路1号".into(),
        ),
        violation_type: "未按规定开展安全生产教育和培训".into(),
        violation_facts: format!(
            "经查，该公司存在以下违法事实：{}",
            "未如实记录安全生产教育和培训情况，".repeat(facts_repeat)
        ),
        legal_basis: "《中华人民共和国安全生产法》第九十七条第三项".into(),
        penalty_kinds: vec![PenaltyKind::Fine],
        penalty_content: "罚款人民币贰万元整".into(),
        fine_fen: 2_000_000,
        confiscation_fen: 0,
        license_action: String::new(),
        procedure: Procedure::Ordinary,
        sector: Sector::Other,
        severity: Severity::General,
        major: false,
        major_flag: None,
        decided_on,
        effective_until: None,
        authority: authority.clone(),
        data_source: authority.clone(),
        remarks: String::new(),
    }
}

/// One seeded record: everything the tables need.
pub struct BulkRow {
    /// Decision id.
    pub decision_id: String,
    /// Disclosure id.
    pub disclosure_id: String,
    /// 决定书文号.
    pub decision_number: String,
    /// Party credit code.
    pub party_credit_code: String,
    /// The search index's normalised name (src/domain/search.rs); `None`
    /// leaves the record for the server's background indexer.
    pub search_name: Option<String>,
    /// The decision's content (JSON).
    pub doc_json: String,
    /// The disclosure's content (canonical JSON).
    pub content_json: String,
    /// Its SHA-256.
    pub content_sha256: String,
}

/// Values shared by every seeded row.
pub struct BulkCommon {
    /// Authority credit code.
    pub authority_code: String,
    /// Decided on (ISO date).
    pub decided_on: String,
    /// Publicity ends on.
    pub publicity_ends_on: String,
    /// Repair eligible on.
    pub repair_eligible_on: String,
    /// The decisions' meta (JSON).
    pub meta_json: String,
    /// Timestamps (micros).
    pub now: i64,
}

/// Inserts one chunk of [`BulkRow`]s (decision, disclosure, search grams
/// where named, first version, PUBLISHED change) in transaction `$tx` of
/// database type `$db`; `?` on every statement, so use it in a function or
/// block returning `Result<_, sqlx::Error>` (or a `From` of it).
macro_rules! insert_bulk_chunk {
    ($tx:expr, $db:ty, $chunk:expr, $c:expr) => {{
        use gongshi::domain::lifecycle::{ChangeKind, DecisionState, DisclosureState};
        let c = $c;
        let chunk = $chunk;
        sqlx::QueryBuilder::<$db>::new(
            "INSERT INTO penalty_decisions (id, authority_code, decision_number, request_key, party_credit_code, \
             state, decided_on, disclosure_id, version, doc, meta, create_time, update_time) ",
        )
        .push_values(chunk, |mut b, r| {
            b.push_bind(r.decision_id.clone())
                .push_bind(c.authority_code.clone())
                .push_bind(r.decision_number.clone())
                .push_bind(None::<String>)
                .push_bind(r.party_credit_code.clone())
                .push_bind(DecisionState::Published.as_str())
                .push_bind(c.decided_on.clone())
                .push_bind(r.disclosure_id.clone())
                .push_bind(2_i64)
                .push_bind(r.doc_json.clone())
                .push_bind(c.meta_json.clone())
                .push_bind(c.now)
                .push_bind(c.now);
        })
        .build()
        .execute(&mut *$tx)
        .await?;
        sqlx::QueryBuilder::<$db>::new(
            "INSERT INTO disclosures (id, decision_id, state, version, content, content_sha256, party_credit_code, \
             authority_code, decided_on, publicity_ends_on, repair_eligible_on, repair_pending, published_at, \
             terminated_at, termination_reason, update_time, search_name) ",
        )
        .push_values(chunk, |mut b, r| {
            b.push_bind(r.disclosure_id.clone())
                .push_bind(r.decision_id.clone())
                .push_bind(DisclosureState::Active.as_str())
                .push_bind(1_i64)
                .push_bind(r.content_json.clone())
                .push_bind(r.content_sha256.clone())
                .push_bind(r.party_credit_code.clone())
                .push_bind(c.authority_code.clone())
                .push_bind(c.decided_on.clone())
                .push_bind(c.publicity_ends_on.clone())
                .push_bind(c.repair_eligible_on.clone())
                .push_bind(false)
                .push_bind(c.now)
                .push_bind(None::<i64>)
                .push_bind(None::<String>)
                .push_bind(c.now)
                .push_bind(r.search_name.clone());
        })
        .build()
        .execute(&mut *$tx)
        .await?;
        // The search index, as the store writes it for an active record.
        let grams: Vec<(String, &str)> = chunk
            .iter()
            .flat_map(|r| {
                r.search_name
                    .as_deref()
                    .map(gongshi::domain::search::bigrams)
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |g| (g, r.disclosure_id.as_str()))
            })
            .collect();
        for part in grams.chunks(10_000) {
            sqlx::QueryBuilder::<$db>::new("INSERT INTO disclosure_grams (gram, disclosure_id) ")
                .push_values(part, |mut b, (g, id)| {
                    b.push_bind(g.clone()).push_bind(id.to_string());
                })
                .build()
                .execute(&mut *$tx)
                .await?;
        }
        sqlx::QueryBuilder::<$db>::new(
            "INSERT INTO disclosure_versions (disclosure_id, version, content, content_sha256, created_at) ",
        )
        .push_values(chunk, |mut b, r| {
            b.push_bind(r.disclosure_id.clone())
                .push_bind(1_i64)
                .push_bind(r.content_json.clone())
                .push_bind(r.content_sha256.clone())
                .push_bind(c.now);
        })
        .build()
        .execute(&mut *$tx)
        .await?;
        sqlx::QueryBuilder::<$db>::new(
            "INSERT INTO disclosure_changes (disclosure_id, kind, reason, version, content_sha256, public_reason, \
             effective_time) ",
        )
        .push_values(chunk, |mut b, r| {
            b.push_bind(r.disclosure_id.clone())
                .push_bind(ChangeKind::Published.as_str())
                .push_bind(None::<String>)
                .push_bind(1_i64)
                .push_bind(r.content_sha256.clone())
                .push_bind(None::<String>)
                .push_bind(c.now);
        })
        .build()
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(crate) use insert_bulk_chunk;
