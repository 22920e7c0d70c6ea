//! `submit`: SubmitRepairApplication on distinct eligible disclosures
//! (fulfilment recorded, minimum publicity period passed), against the same
//! rows inserted by plain SQL on a pool of the server's size.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use gongshi::api::pb;
use gongshi::app::new_id;
use gongshi::domain::lifecycle::Role;
use tonic::transport::Channel;

use crate::reference::Pool;
use crate::scenarios::{Outcome, Rec, Setup, req, timed};
use crate::seed::{Batch, seed};

#[path = "../../tests/testkit/repair_sample.rs"]
#[allow(dead_code)]
mod repair_sample;
use repair_sample::application_for;

type RepairClient = pb::credit_repair_service_client::CreditRepairServiceClient<Channel>;

/// The plain-SQL equivalent of one submission: copies of a real
/// application's rows (application, material, commitment, event) for another
/// disclosure, and the disclosure's repair_pending flag, in one transaction
/// (on SQLite begun with `BEGIN IMMEDIATE`, as the store does).
const COPY_APPLICATION: &str = "INSERT INTO repair_applications (id, disclosure_id, applicant_code, state, receipt_code, \
     request_key, open_disclosure_id, accept_due_on, decide_due_on, overall_due_on, doc, version, create_time, update_time) \
     SELECT $1, $2, $3, state, $4, NULL, $2, accept_due_on, decide_due_on, overall_due_on, doc, version, create_time, \
     update_time FROM repair_applications WHERE id = $5";
const COPY_MATERIAL: &str = "INSERT INTO repair_materials (application_id, seq, kind, file_name, media_type, sha256, \
     size_bytes, content, created_at) SELECT $1, seq, kind, file_name, media_type, sha256, size_bytes, content, created_at \
     FROM repair_materials WHERE application_id = $2";
const COPY_COMMITMENT: &str = "INSERT INTO credit_commitments (code, application_id, committer_name, committer_code, \
     commitment_type, reason, content, liability, made_on, signer, fulfillment_status, created_at) \
     SELECT $1, $2, committer_name, $3, commitment_type, reason, content, liability, made_on, signer, fulfillment_status, \
     created_at FROM credit_commitments WHERE application_id = $4";
const COPY_EVENT: &str = "INSERT INTO repair_events (application_id, actor, at, from_state, to_state, reason) \
     SELECT $1, actor, at, from_state, to_state, reason FROM repair_events WHERE application_id = $2";
const SET_PENDING: &str = "UPDATE disclosures SET repair_pending = TRUE, update_time = update_time + 1 WHERE id = $1";

macro_rules! sql_submit {
    ($begin:expr, $template:expr, $disclosure:expr, $code:expr) => {{
        let id = new_id();
        let mut tx = $begin.await?;
        sqlx::query(COPY_APPLICATION)
            .bind(&id)
            .bind($disclosure)
            .bind($code)
            .bind(format!("R{}", &id[10..]))
            .bind($template)
            .execute(&mut *tx)
            .await?;
        sqlx::query(COPY_COMMITMENT)
            .bind(format!("XYCN-{id}"))
            .bind(&id)
            .bind($code)
            .bind($template)
            .execute(&mut *tx)
            .await?;
        // The template's materials and events, copied the same way.
        for copy in [COPY_MATERIAL, COPY_EVENT] {
            sqlx::query(copy).bind(&id).bind($template).execute(&mut *tx).await?;
        }
        sqlx::query(SET_PENDING).bind($disclosure).execute(&mut *tx).await?;
        tx.commit().await
    }};
}

pub async fn run(s: &Setup) -> Result<Vec<Outcome>, String> {
    let per_phase = s.submit_records;
    let eligible = seed(
        &s.app,
        &s.url,
        &Batch {
            n: 2 * per_phase,
            first: 10_000_000,
            eligible: true,
        },
    )
    .await?;
    let (grpc_set, sql_set) = eligible.split_at(per_phase);
    let grpc_set = Arc::new(grpc_set.to_vec());
    let sql_set = Arc::new(sql_set.to_vec());
    let portal = s
        .app
        .create_key(Role::Portal, "loadgen portal", None, None)
        .await
        .map_err(|e| e.to_string())?
        .secret;

    // Through the server.
    let next = Arc::new(AtomicUsize::new(0));
    let mut grpc = timed(s, "submit", s.concurrency, |_, ch, deadline| {
        let (set, next, portal) = (grpc_set.clone(), next.clone(), portal.clone());
        async move {
            let mut c = RepairClient::new(ch);
            let mut r = Rec::default();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((disclosure, code)) = set.get(i) else { break };
                let mut request = req(
                    pb::SubmitRepairApplicationRequest {
                        request_id: String::new(),
                        repair_application: Some(application_for(&format!("disclosures/{disclosure}"), code)),
                    },
                    &portal,
                );
                request
                    .metadata_mut()
                    .insert("x-gongshi-on-behalf-of", code.parse().expect("ascii code"));
                let t0 = Instant::now();
                match c.submit_repair_application(request).await {
                    Ok(_) => r.ok(t0, 1),
                    Err(e) => r.err(e),
                }
            }
            r
        }
    })
    .await;
    let used = next.load(Ordering::Relaxed).min(per_phase);
    grpc.extra = serde_json::json!({ "eligible_records": per_phase, "exhausted": used >= per_phase });

    // The same rows by plain SQL, on a pool of the server's size.
    let template: String = {
        let e = |e: sqlx::Error| format!("template: {e}");
        let sql = "SELECT id FROM repair_applications ORDER BY create_time LIMIT 1";
        with_fresh_pool!(&s.url, e, |pool| sqlx::query_scalar(sql).fetch_one(&pool))?
    };
    let pool_size = crate::reference::pool_size();
    let next = Arc::new(AtomicUsize::new(0));
    // One timed run of `sql_submit!` on `$pool`, whose transactions `$begin` opens.
    macro_rules! timed_submit {
        ($pool:ident, $begin:expr) => {
            timed(s, "submit-sql", s.concurrency, |_, _, deadline| {
                let (set, next, $pool, template) = (sql_set.clone(), next.clone(), $pool.clone(), template.clone());
                async move {
                    let mut r = Rec::default();
                    while Instant::now() < deadline {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((disclosure, code)) = set.get(i) else {
                            break;
                        };
                        let t0 = Instant::now();
                        let res: Result<(), sqlx::Error> =
                            async { sql_submit!($begin, &template, disclosure, code) }.await;
                        match res {
                            Ok(()) => r.ok(t0, 1),
                            Err(e) => r.err(e),
                        }
                    }
                    r
                }
            })
            .await
        };
    }
    let mut sql = match Pool::open(&s.url).await? {
        Pool::Sqlite(pool) => timed_submit!(pool, pool.begin_with("BEGIN IMMEDIATE")),
        Pool::Postgres(pool) => timed_submit!(pool, pool.begin()),
    };
    let used = next.load(Ordering::Relaxed).min(per_phase);
    sql.extra = serde_json::json!({ "pool_size": pool_size, "exhausted": used >= per_phase });
    Ok(vec![grpc, sql])
}
