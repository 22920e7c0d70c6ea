//! Issue 14, "rules that bend in real use", on both backends through the
//! API: concurrent corrections, `major` and `data_source` after a correction,
//! repair applications closed with their disclosure, imported publication
//! dates in the annual report, delivery by public notice, and list audits
//! that read a page in one query.

use std::collections::HashMap;
use std::path::Path;

use gongshi::api::pb;
use gongshi::domain::clock::cst_midnight;
use gongshi::domain::lifecycle::Role;
use gongshi::domain::repair::RepairAction;
use gongshi::import::{ImportOptions, import_file};
use pb::notice_service_client::NoticeServiceClient;
use pb::report_service_client::ReportServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::repair_support::{Case, EnfClient, Env};
use crate::support::calls::notice_bundle;
use crate::support::calls::{self, correction, patch_of};
use crate::support::kit::server_with_keys;
use crate::support::publish_sample;
use crate::support::{
    self, TestServer, bad_fields, clock_at, create_and_publish, credit_code, d, full_checklist, reason, req,
};

type Events = Vec<pb::PenaltyDecisionEvent>;

/// Every event of a decision, read by `key`.
async fn events(e: &EnfClient, key: &str, name: &str) -> Events {
    calls::all_events(&mut e.clone(), key, name).await
}

fn details(e: &pb::PenaltyDecisionEvent) -> serde_json::Value {
    serde_json::from_str(&e.details_json).expect("details are JSON")
}

async fn get(e: &EnfClient, key: &str, name: &str) -> pb::PenaltyDecision {
    e.clone()
        .get_penalty_decision(req(pb::GetPenaltyDecisionRequest { name: name.to_string() }, key))
        .await
        .expect("GetPenaltyDecision")
        .into_inner()
}

/// A lawful correction (依法更正) of a decision's remarks, at `etag`.
fn remarks_correction(name: &str, remarks: &str, etag: &str) -> pb::CorrectPenaltyDecisionRequest {
    correction(name, patch_of("remarks", remarks), &["remarks"], "依法更正", etag)
}

/// Corrects a decision's fine to `fine_fen`, which must be accepted.
async fn correct_fine(e: &EnfClient, key: &str, name: &str, fine_fen: i64) -> pb::PenaltyDecision {
    let patch = pb::PenaltyDecision {
        fine_fen,
        ..Default::default()
    };
    correct(e, key, name, patch, &["fine_fen"])
        .await
        .expect("correct the fine")
}

async fn correct(
    e: &EnfClient,
    key: &str,
    name: &str,
    patch: pb::PenaltyDecision,
    paths: &[&str],
) -> Result<pb::PenaltyDecision, tonic::Status> {
    e.clone()
        .correct_penalty_decision(req(correction(name, patch, paths, "依法更正", ""), key))
        .await
        .map(|r| r.into_inner())
}

async fn review(e: &EnfClient, key: &str, name: &str) -> pb::PenaltyDecision {
    e.clone()
        .review_penalty_decision(req(
            pb::ReviewPenaltyDecisionRequest {
                name: name.to_string(),
                opinion: pb::ReviewOpinion::Approve as i32,
                checklist: Some(full_checklist()),
                comment: "同意".into(),
                etag: String::new(),
            },
            key,
        ))
        .await
        .expect("ReviewPenaltyDecision")
        .into_inner()
}

async fn publish(e: &EnfClient, key: &str, name: &str) -> Result<pb::PenaltyDecision, tonic::Status> {
    e.clone()
        .publish_penalty_decision(req(
            pb::PublishPenaltyDecisionRequest {
                name: name.to_string(),
                etag: String::new(),
            },
            key,
        ))
        .await
        .map(|r| r.into_inner())
}

/// A disclosure as the auditor sees it.
async fn disclosure(s: &TestServer, auditor: &str, name: &str) -> pb::Disclosure {
    s.disclosures()
        .await
        .get_disclosure(req(pb::GetDisclosureRequest { name: name.to_string() }, auditor))
        .await
        .expect("GetDisclosure")
        .into_inner()
}

/// The feed's changes of one disclosure.
async fn feed_of(s: &TestServer, discloser: &str, name: &str) -> Vec<pb::DisclosureChange> {
    let mut c = s.disclosures().await;
    calls::feed(&mut c, discloser)
        .await
        .into_iter()
        .filter(|c| c.disclosure == name)
        .collect()
}

/// (must publish, published, published on an unknown date, published on time).
fn publication_counts(f: &pb::YearFigures) -> (i64, i64, i64, i64) {
    (
        f.must_publish,
        f.published,
        f.published_date_unknown,
        f.published_on_time,
    )
}

async fn report(s: &TestServer, key: &str, year: i32, authority: &str) -> pb::AnnualReport {
    ReportServiceClient::new(s.channel().await)
        .get_annual_report(req(
            pb::GetAnnualReportRequest {
                year,
                authority_credit_code: authority.to_string(),
            },
            key,
        ))
        .await
        .expect("GetAnnualReport")
        .into_inner()
}

// ---------------------------------------------------------------------------
// 1. Concurrent corrections of different fields without an etag all land.
// ---------------------------------------------------------------------------

const FIELDS: [&str; 2] = ["violation_facts", "remarks"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_corrections_of_two_fields_all_land() {
    const ROUNDS: usize = 3;
    const CONCURRENT: usize = 20;
    for db in support::backends().await {
        let b = db.backend;
        let (server, [officer, auditor]) = server_with_keys(&db, "2025-06-12", [Role::Officer, Role::Auditor]).await;
        let e = server.enforcement().await;
        let published = publish_sample(&mut e.clone(), &officer, "沪应急罚〔2025〕并-1号", "2025-06-10", 71_001).await;
        let name = published.name.clone();
        for round in 0..ROUNDS {
            let mut tasks = Vec::new();
            for i in 0..CONCURRENT {
                let field = FIELDS[i % 2];
                let value = format!("经查，第{round}轮第{i}次更正的{field}。");
                // The reason names the value, so the record says which
                // correction of each field committed last.
                let r = req(
                    correction(
                        &name,
                        patch_of(field, &value),
                        &[field],
                        &format!("{field}={value}"),
                        "",
                    ),
                    &officer,
                );
                let mut c = e.clone();
                tasks.push(tokio::spawn(async move { c.correct_penalty_decision(r).await }));
            }
            for t in tasks {
                t.await.expect("join").expect("an etag-less correction succeeds");
            }
            let record = events(&e, &officer, &name).await;
            let now = get(&e, &officer, &name).await;
            let public = disclosure(&server, &auditor, &published.disclosure).await;
            for field in FIELDS {
                let last = record
                    .iter()
                    .rev()
                    .filter(|ev| ev.kind == pb::DecisionEventKind::Corrected as i32)
                    .map(details)
                    .find(|d| d["paths"] == serde_json::json!([field]))
                    .expect("a correction of the field");
                let reason = last["reason"].as_str().unwrap_or_default();
                let expected = reason.split_once('=').map(|(_, v)| v).unwrap_or_default();
                assert!(expected.contains(&format!("第{round}轮")), "{b}: {reason}");
                let (stored, shown) = match field {
                    "violation_facts" => (&now.violation_facts, &public.violation_facts),
                    _ => (&now.remarks, &public.remarks),
                };
                assert_eq!(
                    stored, expected,
                    "{b}, round {round}: {field} lost its last correction to a concurrent one"
                );
                assert_eq!(
                    shown, expected,
                    "{b}, round {round}: the disclosure shows an older {field}"
                );
            }
        }
        // An etag, when given, is still checked: a stale one is ABORTED.
        let stale = e
            .clone()
            .correct_penalty_decision(req(remarks_correction(&name, "过期的更正", &published.etag), &officer))
            .await
            .expect_err("stale etag");
        assert_eq!(stale.code(), Code::Aborted, "{b}");
        assert_eq!(reason(&stale), "ETAG_MISMATCH", "{b}");
        let current = get(&e, &officer, &name).await;
        assert_ne!(current.remarks, "过期的更正", "{b}");
        let ok = e
            .clone()
            .correct_penalty_decision(req(
                remarks_correction(&name, "以现行版本更正", &current.etag),
                &officer,
            ))
            .await
            .expect("the current etag")
            .into_inner();
        assert_eq!(ok.remarks, "以现行版本更正", "{b}");
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// 2. `major` recomputed; a correction making a published decision major waits
//    for a review of the corrected version; data_source follows the authority.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_crossing_the_major_threshold_waits_for_legal_review() {
    for db in support::backends().await {
        let b = db.backend;
        let (server, [officer, lawyer, auditor, discloser]) = server_with_keys(
            &db,
            "2025-06-12",
            [Role::Officer, Role::LegalReviewer, Role::Auditor, Role::Discloser],
        )
        .await;
        let e = server.enforcement().await;

        // 20,000 元: not major (the threshold is 100,000 元). It was even
        // reviewed before publication — a review of other content.
        let created = e
            .clone()
            .create_penalty_decision(req(
                pb::CreatePenaltyDecisionRequest {
                    request_id: String::new(),
                    penalty_decision: Some(support::decision(
                        "沪应急罚〔2025〕重-1号",
                        "2025-06-10",
                        &credit_code("91310115", 72_001),
                    )),
                },
                &officer,
            ))
            .await
            .expect("create")
            .into_inner();
        assert!(!created.major, "{b}");
        review(&e, &lawyer, &created.name).await;
        let published = publish(&e, &officer, &created.name).await.expect("publish");
        let dname = published.disclosure.clone();
        assert_eq!(feed_of(&server, &discloser, &dname).await.len(), 1, "{b}");

        // Raised to 150,000 元: major now, and not published yet.
        let raised = correct_fine(&e, &officer, &created.name, 15_000_000).await;
        assert!(raised.major, "{b}: major is recomputed from the corrected fine");
        assert!(raised.correction_awaiting_review, "{b}");
        assert_eq!(raised.state, pb::DecisionState::Published as i32, "{b}");
        assert_eq!(raised.fine_fen, 15_000_000, "{b}");
        let shown = disclosure(&server, &auditor, &dname).await;
        assert_eq!(
            shown.fine_fen, 2_000_000,
            "{b}: an unreviewed major correction was published"
        );
        assert_eq!(shown.version, 1, "{b}");
        assert_eq!(
            feed_of(&server, &discloser, &dname).await.len(),
            1,
            "{b}: fed before review"
        );
        let record = events(&e, &officer, &created.name).await;
        let last = record
            .iter()
            .rfind(|ev| ev.kind == pb::DecisionEventKind::Corrected as i32)
            .expect("a CORRECTED event");
        assert!(
            last.summary.contains("legal review"),
            "{b}: the record says why: {}",
            last.summary
        );
        let why = details(last);
        assert_eq!(why["awaiting_legal_review"], true, "{b}");
        assert_eq!(why["major"], true, "{b}");
        assert_eq!(why["was_major"], false, "{b}");

        // The review before the correction does not count.
        let refused = publish(&e, &officer, &created.name).await.expect_err("needs review");
        assert_eq!(refused.code(), Code::FailedPrecondition, "{b}");
        assert_eq!(reason(&refused), "LEGAL_REVIEW_REQUIRED", "{b}");
        review(&e, &lawyer, &created.name).await;
        // A further correction while waiting needs a review of its own version.
        let facts = "经复核，该公司未如实记录安全生产教育和培训情况，且拒不整改。";
        correct(
            &e,
            &officer,
            &created.name,
            pb::PenaltyDecision {
                violation_facts: facts.into(),
                ..Default::default()
            },
            &["violation_facts"],
        )
        .await
        .expect("correct again");
        let refused = publish(&e, &officer, &created.name).await.expect_err("needs review");
        assert_eq!(reason(&refused), "LEGAL_REVIEW_REQUIRED", "{b}");
        assert_eq!(disclosure(&server, &auditor, &dname).await.fine_fen, 2_000_000, "{b}");
        let reviewed = review(&e, &lawyer, &created.name).await;
        assert!(reviewed.correction_awaiting_review, "{b}: a review does not publish");
        let out = publish(&e, &officer, &created.name)
            .await
            .expect("publish the correction");
        assert!(!out.correction_awaiting_review, "{b}");
        let shown = disclosure(&server, &auditor, &dname).await;
        assert_eq!(
            (shown.fine_fen, shown.violation_facts.as_str()),
            (15_000_000, facts),
            "{b}"
        );
        let feed = feed_of(&server, &discloser, &dname).await;
        assert_eq!(feed.len(), 2, "{b}: {feed:?}");
        assert_eq!(feed[1].kind, pb::ChangeKind::Corrected as i32, "{b}");
        assert_eq!(feed[1].record.as_ref().map(|r| r.fine_fen), Some(15_000_000), "{b}");
        let again = publish(&e, &officer, &created.name).await.expect_err("nothing waits");
        assert_eq!(reason(&again), "INVALID_STATE_TRANSITION", "{b}");

        // Lowered to 30,000 元: not major any more, published at once.
        let lowered = correct_fine(&e, &officer, &created.name, 3_000_000).await;
        assert!(!lowered.major, "{b}: major is recomputed when the fine is lowered");
        assert!(!lowered.correction_awaiting_review, "{b}");
        assert_eq!(disclosure(&server, &auditor, &dname).await.fine_fen, 3_000_000, "{b}");
        assert_eq!(feed_of(&server, &discloser, &dname).await.len(), 3, "{b}");

        // The client's own flag is kept across corrections of other fields.
        let flagged = create_and_publish_major(&e, &officer, &lawyer, 72_002).await;
        let remarks = patch_of("remarks", "更正备注");
        let kept = correct(&e, &officer, &flagged.name, remarks, &["remarks"])
            .await
            .expect("correct");
        assert!(kept.major && !kept.correction_awaiting_review, "{b}: {kept:?}");

        // data_source follows a corrected authority unless given on its own.
        let new_authority = pb::Organization {
            name: "上海市普陀区应急管理局".into(),
            credit_code: credit_code("11310107", 9),
        };
        let follows = publish_sample(&mut e.clone(), &officer, "沪应急罚〔2025〕源-1号", "2025-06-10", 72_003).await;
        assert_eq!(follows.data_source, follows.authority, "{b}");
        let mut own = support::decision("沪应急罚〔2025〕源-2号", "2025-06-10", &credit_code("91310115", 72_004));
        let source = pb::Organization {
            name: "上海市应急管理局".into(),
            credit_code: credit_code("11310000", 5),
        };
        own.data_source = Some(source.clone());
        let own = create_and_publish(&mut e.clone(), &officer, own).await;
        for (dec, expected) in [(&follows, new_authority.clone()), (&own, source)] {
            let out = correct(
                &e,
                &officer,
                &dec.name,
                pb::PenaltyDecision {
                    authority: Some(new_authority.clone()),
                    ..Default::default()
                },
                &["authority"],
            )
            .await
            .expect("correct the authority");
            assert_eq!(out.authority.as_ref(), Some(&new_authority), "{b}");
            assert_eq!(
                out.data_source.as_ref(),
                Some(&expected),
                "{b}: {}",
                dec.decision_number
            );
            let shown = disclosure(&server, &auditor, &dec.disclosure).await;
            assert_eq!(shown.data_source.as_ref(), Some(&expected), "{b}");
        }
        server.stop().await;
    }
}

/// A decision the officer flags major itself (a small fine), reviewed and published.
async fn create_and_publish_major(e: &EnfClient, officer: &str, lawyer: &str, n: u64) -> pb::PenaltyDecision {
    let mut p = support::decision(
        &format!("沪应急罚〔2025〕重-{n}号"),
        "2025-06-10",
        &credit_code("91310115", n),
    );
    p.major = true;
    let created = calls::create(&mut e.clone(), officer, "", p).await.expect("create");
    assert!(created.major);
    review(e, lawyer, &created.name).await;
    publish(e, officer, &created.name).await.expect("publish")
}

// ---------------------------------------------------------------------------
// 3. An open repair application is closed with its disclosure (修复终止).
// ---------------------------------------------------------------------------

const DECIDED: &str = "2025-06-10";
const FULFILLED: &str = "2025-06-11";

/// A server whose two published decisions were fulfilled at once, three
/// months on (2025-09-15), with an application for each disclosure: the
/// first's accepted, the second's submitted.
async fn two_open_applications(db: &support::TestDb) -> (Env, Open, Open) {
    let env = Env::start(db, "2025-06-12").await;
    let first = env.case(1, DECIDED, Some(FULFILLED)).await;
    let second = env.case(2, DECIDED, Some(FULFILLED)).await;
    env.set_date("2025-09-15");
    let accepted = env.accepted(&first).await;
    let submitted = env.submit(&second.ent, "", second.application()).await.expect("submit");
    (env, (first, accepted), (second, submitted))
}

/// A case and its open application.
type Open = (Case, pb::RepairApplication);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_withdrawal_close_an_open_application() {
    for db in support::backends().await {
        let (env, (expiring, a), (annulled, w)) = two_open_applications(&db).await;
        let b = env.backend;
        assert!(env.disclosure(&annulled.disclosure).await.repair_pending, "{b}");

        // Withdrawal of the decision (行政处罚法 Art. 48) closes it in the same act.
        env.withdraw(
            &annulled,
            pb::WithdrawalEvent::Revoked,
            "经行政复议，原行政处罚决定被撤销",
        )
        .await;
        check_closed(&env, &annulled, &w, pb::RepairState::Submitted, "DISCLOSURE_WITHDRAWN").await;
        let (withdrawn, event) = (pb::TerminationReason::Withdrawn, pb::DecisionEventKind::Withdrawn);
        check_terminated(&env, &annulled, withdrawn, event, &w).await;

        // Expiry (the job, with nobody calling) closes the other one.
        env.set_date("2028-06-11");
        env.wait_expired(&expiring.disclosure).await;
        check_closed(&env, &expiring, &a, pb::RepairState::Accepted, "DISCLOSURE_EXPIRED").await;
        let (expired, event) = (pb::TerminationReason::Expired, pb::DecisionEventKind::DisclosureExpired);
        check_terminated(&env, &expiring, expired, event, &a).await;

        // The report counts them as closed, not open.
        let r = report(&env.server, &env.officer, 2025, "").await;
        let f = r.current.expect("figures");
        assert_eq!(
            (f.repairs_submitted, f.repairs_closed, f.repairs_open, f.repairs_overdue),
            (2, 2, 0, 0),
            "{b}: {f:?}"
        );
        env.server.stop().await;
    }
}

/// The disclosure's feed ends with its termination for `reason`, and the
/// decision's `kind` event names the application that closed with it.
async fn check_terminated(
    env: &Env,
    case: &Case,
    reason: pb::TerminationReason,
    kind: pb::DecisionEventKind,
    closed: &pb::RepairApplication,
) {
    let b = env.backend;
    let feed = env.feed_of(&case.disclosure).await;
    assert_eq!(
        feed.last().map(|c| (c.kind, c.reason)),
        Some((pb::ChangeKind::Terminated as i32, reason as i32)),
        "{b}: {reason:?}"
    );
    let record = events(&env.enf, &env.officer, &case.decision.name).await;
    let ev = record.iter().find(|ev| ev.kind == kind as i32);
    let ev = ev.unwrap_or_else(|| panic!("{b}: no {kind:?} event"));
    assert_eq!(
        details(ev)["closed_repair_application"],
        closed.name.as_str(),
        "{b}: {kind:?}"
    );
}

/// The application is CLOSED with the cause, the disclosure no longer
/// pending, the receipt look-up shows it, and only the disclosure's end
/// stands in the way of a new application.
async fn check_closed(env: &Env, case: &Case, app: &pb::RepairApplication, from: pb::RepairState, cause: &str) {
    let b = env.backend;
    let now = env.get(&env.reviewer, &app.name).await.expect("get");
    assert_eq!(now.state, pb::RepairState::Closed as i32, "{b}: {now:?}");
    assert_eq!(now.last_reason, cause, "{b}");
    assert!(!now.overdue, "{b}");
    let last = env.events(&app.name).await.pop().expect("events");
    assert_eq!(
        (last.from_state, last.to_state, last.reason.as_str()),
        (from as i32, pb::RepairState::Closed as i32, cause),
        "{b}"
    );
    assert_eq!(last.actor.as_ref().map(|a| a.role.as_str()), Some("system"), "{b}");
    assert!(!env.disclosure(&case.disclosure).await.repair_pending, "{b}");
    let found = env
        .repair
        .clone()
        .lookup_repair_application(pb::LookupRepairApplicationRequest {
            receipt_code: app.receipt_code.clone(),
            applicant_credit_code: case.code.clone(),
        })
        .await
        .expect("look-up")
        .into_inner();
    assert_eq!(found.state, pb::RepairState::Closed as i32, "{b}");
    let e = env.check(&case.ent, &case.disclosure).await.expect("check");
    let unmet: Vec<&str> = e.unmet.iter().map(|u| u.reason.as_str()).collect();
    assert_eq!(unmet, ["DISCLOSURE_NOT_ACTIVE"], "{b}: the closed one is not open");
    let r = env
        .act(RepairAction::Accept, &app.name, &now.etag, &case.ent)
        .await
        .expect_err("final");
    assert_eq!(reason(&r), "INVALID_STATE_TRANSITION", "{b}");
}

// ---------------------------------------------------------------------------
// 4. Imported history: 公示日期 read when given, unknown (not the import day)
//    otherwise; the report leaves unknown dates out of 及时率.
// ---------------------------------------------------------------------------

/// The columns the test files fill (field codes; the rest are optional).
#[rustfmt::skip]
pub(crate) const IMPORT_COLUMNS: [&str; 13] = [
    "CF_XDR_MC", "CF_XDR_LB", "CF_XDR_SHXYM", "CF_WSH", "CF_WFXW", "CF_SY", "CF_YJ",
    "CF_CFLB", "CF_NR", "CF_NR_FK", "CF_JDRQ", "CF_CFJG", "CF_CFJGDM",
];

pub(crate) fn import_row(authority: &str, n: u64, decided_on: &str) -> Vec<String> {
    [
        format!("上海历史{n}有限公司"),
        "法人及非法人组织".into(),
        credit_code("91310107", 80_000 + n),
        format!("普应急罚〔2024〕史-{n}号"),
        "未按规定开展安全生产教育和培训".into(),
        "经查，该公司未如实记录安全生产教育和培训情况。".into(),
        "《中华人民共和国安全生产法》第九十七条第三项".into(),
        "罚款".into(),
        "罚款人民币贰万元整".into(),
        "2.000000".into(),
        decided_on.into(),
        "上海市普陀区应急管理局".into(),
        authority.into(),
    ]
    .to_vec()
}

pub(crate) fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) {
    let mut w = csv::Writer::from_path(path).expect("csv");
    w.write_record(header).expect("header");
    for r in rows {
        w.write_record(r).expect("row");
    }
    w.flush().expect("flush");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_publication_dates_and_the_timeliness_rate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let without_code = credit_code("11310107", 41);
    let with_code = credit_code("11310107", 42);
    // No 公示日期 column at all.
    let without = dir.path().join("无公示日期.csv");
    write_csv(
        &without,
        &IMPORT_COLUMNS,
        &[
            import_row(&without_code, 1, "2024-03-04"),
            import_row(&without_code, 2, "2024-05-06"),
        ],
    );
    // 公示时间 (an alias), with a time of day, a late date, an empty cell, and
    // two bad dates (before the decision, in the future).
    let with = dir.path().join("有公示日期.csv");
    let mut header = IMPORT_COLUMNS.to_vec();
    header.push("公示时间");
    let dated = |n: u64, decided_on: &str, published: &str| {
        let mut r = import_row(&with_code, n, decided_on);
        r.push(published.to_string());
        r
    };
    write_csv(
        &with,
        &header,
        &[
            dated(11, "2024-03-04", "2024-03-08 10:30:00"), // 4 working days: on time
            dated(12, "2024-03-04", "2024/04/20"),          // late
            dated(13, "2024-03-04", ""),                    // unknown
            dated(14, "2024-03-04", "2024-03-01"),          // before the decision
            dated(15, "2024-03-04", "2025-02-01"),          // in the future
        ],
    );

    for db in support::backends().await {
        let b = db.backend;
        let (server, [officer, discloser]) =
            server_with_keys(&db, "2025-01-10", [Role::Officer, Role::Discloser]).await;

        let s = import_file(&server.app, &without, &ImportOptions::default())
            .await
            .expect("import");
        assert_eq!(
            s.line(),
            "imported 2, already present 0, failed 0, publication date unknown 2",
            "{b}"
        );
        let s = import_file(&server.app, &with, &ImportOptions::default())
            .await
            .expect("import");
        assert_eq!((s.imported, s.failed, s.published_date_unknown), (3, 2, 1), "{b}");
        assert!(
            s.line()
                .starts_with("imported 3, already present 0, failed 2, publication date unknown 1 (report: "),
            "{b}: {}",
            s.line()
        );
        let mut bad: Vec<(u64, &str)> = s.problems.iter().map(|p| (p.row, p.column.as_str())).collect();
        bad.sort();
        assert_eq!(bad, [(5, "公示时间"), (6, "公示时间")], "{b}: {:?}", s.problems);

        // What the disclosures say: the given day, or nothing — never the import's.
        let listed = calls::list_disclosures(&mut server.disclosures().await, &discloser)
            .await
            .disclosures;
        let published_at: HashMap<String, Option<i64>> = listed
            .iter()
            .map(|d| (d.decision_number.clone(), d.published_at.as_ref().map(|t| t.seconds)))
            .collect();
        assert_eq!(published_at.len(), 5, "{b}: {published_at:?}");
        let midnight = |day: &str| Some(cst_midnight(d(day)).timestamp());
        assert_eq!(published_at["普应急罚〔2024〕史-1号"], None, "{b}");
        assert_eq!(published_at["普应急罚〔2024〕史-2号"], None, "{b}");
        assert_eq!(published_at["普应急罚〔2024〕史-11号"], midnight("2024-03-08"), "{b}");
        assert_eq!(published_at["普应急罚〔2024〕史-12号"], midnight("2024-04-20"), "{b}");
        assert_eq!(published_at["普应急罚〔2024〕史-13号"], None, "{b}");

        // 及时率 leaves the unknown ones out; they are counted apart.
        let figures_2024 = async |authority: &str| {
            report(&server, &officer, 2024, authority)
                .await
                .current
                .expect("figures")
        };
        let f = figures_2024(&without_code).await;
        assert_eq!(publication_counts(&f), (2, 2, 2, 0), "{b}: {f:?}");
        assert_eq!(f.disclosure_rate_pct, "100.00", "{b}");
        assert_eq!(f.timeliness_rate_pct, "", "{b}: no known date, no rate (not 0.00)");
        let f = figures_2024(&with_code).await;
        assert_eq!(publication_counts(&f), (3, 3, 1, 1), "{b}: {f:?}");
        assert_eq!(f.timeliness_rate_pct, "50.00", "{b}: one on time of two known");
        let all = figures_2024("").await;
        assert_eq!((all.published_date_unknown, all.published_on_time), (3, 1), "{b}");
        assert_eq!(all.timeliness_rate_pct, "50.00", "{b}");
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// 5. recipient_relation by delivery method.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn public_notice_and_delivery_to_the_party_need_no_recipient_relation() {
    for db in support::backends().await {
        let b = db.backend;
        let clock = clock_at("2026-05-10");
        let server = TestServer::start(&db.url, clock.clone()).await;
        let officer = server.key(Role::Officer, None).await;
        let e = server.enforcement().await;
        let mut n = NoticeServiceClient::new(server.channel().await);
        let at = prost_types::Timestamp {
            seconds: cst_midnight(d("2026-05-09")).timestamp() + 10 * 3600,
            nanos: 0,
        };
        let party_name = "上海某某化工有限公司";
        let decision = |k: u64| {
            let mut e = e.clone();
            let officer = officer.clone();
            async move {
                let number = format!("沪应急罚〔2026〕送-{k}号");
                publish_sample(&mut e, &officer, &number, "2026-05-08", 73_000 + k).await
            }
        };
        let deliver =
            |n: &mut NoticeServiceClient<Channel>, name: &str, method: pb::DeliveryMethod, recipient: &str| {
                let r = pb::RecordNoticeDeliveryRequest {
                    name: format!("{name}/noticeBundle"),
                    method: method as i32,
                    recipient: recipient.to_string(),
                    recipient_relation: String::new(),
                    delivered_at: Some(at),
                    consent_ref: if method == pb::DeliveryMethod::Electronic {
                        "电子送达地址确认书 2026-001".into()
                    } else {
                        String::new()
                    },
                    witnesses: if method == pb::DeliveryMethod::LeftAtResidence {
                        vec!["见证人 赵六".into()]
                    } else {
                        vec![]
                    },
                    etag: String::new(),
                };
                let mut n = n.clone();
                let officer = officer.clone();
                async move { n.record_notice_delivery(req(r, &officer)).await.map(|r| r.into_inner()) }
            };
        let render = |n: &mut NoticeServiceClient<Channel>, name: &str| {
            let r = notice_bundle(name, 0);
            let mut n = n.clone();
            let officer = officer.clone();
            async move { n.get_notice_bundle(req(r, &officer)).await.expect("render") }
        };

        // Handed to someone: the relation is required.
        let handed = decision(1).await;
        render(&mut n, &handed.name).await;
        for method in [
            pb::DeliveryMethod::Direct,
            pb::DeliveryMethod::LeftAtResidence,
            pb::DeliveryMethod::Entrusted,
        ] {
            let r = deliver(&mut n, &handed.name, method, "王五")
                .await
                .expect_err("relation required");
            assert_eq!(r.code(), Code::InvalidArgument, "{b}: {method:?}");
            assert_eq!(bad_fields(&r), ["recipient_relation"], "{b}: {method:?}");
        }
        // Posted to someone other than the party: required too.
        let r = deliver(&mut n, &handed.name, pb::DeliveryMethod::Postal, "王五")
            .await
            .expect_err("relation required");
        assert_eq!(bad_fields(&r), ["recipient_relation"], "{b}");

        // 公告送达: nobody receives it in person.
        let noticed = decision(2).await;
        render(&mut n, &noticed.name).await;
        let out = deliver(&mut n, &noticed.name, pb::DeliveryMethod::PublicNotice, party_name)
            .await
            .expect("public notice without a relation");
        let delivery = out.delivery.expect("delivery");
        assert_eq!(delivery.recipient_relation, "", "{b}");
        assert_eq!(delivery.documents, [pb::DocumentKind::PenaltyDecision as i32], "{b}");
        // Post and electronic service to the party itself.
        let posted = decision(3).await;
        render(&mut n, &posted.name).await;
        deliver(&mut n, &posted.name, pb::DeliveryMethod::Postal, party_name)
            .await
            .expect("post to the party");
        let served = decision(4).await;
        render(&mut n, &served.name).await;
        deliver(&mut n, &served.name, pb::DeliveryMethod::Electronic, party_name)
            .await
            .expect("electronic service to the party");
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// 7. Staff list audits read a page's records in one query.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_list_audits_read_each_page_in_one_query() {
    for db in support::backends().await {
        let b = db.backend;
        let (server, store) = TestServer::start_counting(&db.url, clock_at("2025-06-12")).await;
        let env = Env::on(b, server).await;
        let auditor = env.auditor.clone();

        // Natural persons: their bundles print an address, so a staff list
        // of them is audited record by record.
        let mut n = NoticeServiceClient::new(env.server.channel().await);
        for k in 0..12u64 {
            let mut p = support::decision(&format!("沪应急罚〔2025〕人-{k}号"), "2025-06-10", "");
            let (name, address) = (format!("张{k}"), format!("上海市普陀区某路{k}号"));
            support::set_personal_party(&mut p, pb::PartyKind::NaturalPerson, name, support::KNOWN_ID, address);
            let dec = create_and_publish(&mut env.enf.clone(), &env.officer, p).await;
            n.get_notice_bundle(req(notice_bundle(&dec.name, 0), &env.officer))
                .await
                .expect("render");
        }
        for page_size in [12, 5] {
            let before = store.snapshot();
            let mut token = String::new();
            let mut pages = 0;
            let mut seen = 0;
            loop {
                let page = n
                    .list_notice_bundles(req(
                        pb::ListNoticeBundlesRequest {
                            page_size,
                            page_token: token.clone(),
                            ..Default::default()
                        },
                        &auditor,
                    ))
                    .await
                    .expect("ListNoticeBundles")
                    .into_inner();
                pages += 1;
                seen += page.notice_bundles.len();
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            assert_eq!(seen, 12, "{b}");
            assert_eq!(store.since(&before, "list_bundles"), pages, "{b}");
            let (batched, single) = (
                store.since(&before, "get_decisions"),
                store.since(&before, "get_decision"),
            );
            assert_eq!(
                batched, pages,
                "{b}: one read of the page's decisions per page of {page_size}"
            );
            assert_eq!(single, 0, "{b}: a decision read per bundle");
        }

        // Repair applications: each shows staff a contact.
        let mut cases = Vec::new();
        for k in 0..12 {
            cases.push(env.case(100 + k, "2025-06-10", Some("2025-06-11")).await);
        }
        env.set_date("2025-09-15");
        for c in &cases {
            env.submit(&c.ent, "", c.application()).await.expect("submit");
        }
        for page_size in [12, 5] {
            let before = store.snapshot();
            let list = env
                .list(
                    &env.reviewer,
                    pb::ListRepairApplicationsRequest {
                        page_size,
                        ..Default::default()
                    },
                )
                .await
                .expect("list");
            assert_eq!(list.len(), 12, "{b}");
            // Pages of 12 and 0, or of 5, 5 and 2.
            let pages = store.since(&before, "list_repairs");
            assert_eq!(pages, 12 / page_size as u64 + 1, "{b}");
            let batched = store.since(&before, "decisions_of_disclosures");
            assert_eq!(
                batched, pages,
                "{b}: one read of the page's disclosures per page of {page_size}"
            );
            let single = store.since(&before, "get_disclosure");
            assert_eq!(single, 0, "{b}: a disclosure read per application");
        }
        env.server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// 3b. Applications left open by a disclosure that ended before this release
//     are closed by migration 0005.
// ---------------------------------------------------------------------------

/// Runs SQL on the test database with a pool of its own.
async fn run_sql(db: &support::TestDb, sql: &str) {
    support::sql::run_script(&db.url, db.backend, sql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_closes_applications_left_open_by_an_ended_disclosure() {
    for db in support::backends().await {
        let (env, (stale, app), (live, open)) = two_open_applications(&db).await;
        let b = env.backend;
        // What a release without 修复终止 left behind: the disclosure ended,
        // its application still open.
        let id = stale.disclosure.trim_start_matches("disclosures/");
        run_sql(
            &db,
            &format!(
                "UPDATE disclosures SET state = 'WITHDRAWN', termination_reason = 'WITHDRAWN', \
                 terminated_at = update_time WHERE id = '{id}'"
            ),
        )
        .await;
        assert!(env.disclosure(&stale.disclosure).await.repair_pending, "{b}");

        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("migrations/{b}/0005_rules_in_use.sql"));
        let text = std::fs::read_to_string(&file).expect("migration");
        let data = &text[text.find("-- Data:").expect("the data part")..];
        run_sql(&db, data).await;

        check_closed(&env, &stale, &app, pb::RepairState::Accepted, "DISCLOSURE_WITHDRAWN").await;
        let last = env.events(&app.name).await.pop().expect("events");
        assert_eq!(last.actor.map(|a| a.label), Some("migration 0005".into()), "{b}");
        // An application whose disclosure is active is left alone.
        let still = env.get(&env.reviewer, &open.name).await.expect("get");
        assert_eq!(
            (still.state, still.etag),
            (pb::RepairState::Submitted as i32, open.etag),
            "{b}"
        );
        assert!(env.disclosure(&live.disclosure).await.repair_pending, "{b}");
        env.server.stop().await;
    }
}
