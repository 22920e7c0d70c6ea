//! Bulk seeding of active disclosures by multi-row INSERTs, shared by the
//! export test (tests/it/export.rs) and the load generator
//! (benches/loadgen/seed.rs), which both include this file with `#[path]`.
//! The callers produce the JSON columns with gongshi's own types, so the rows
//! are exactly what the store would write; this file only writes them.

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
