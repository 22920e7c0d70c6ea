//! Notice bundles (两书/三书同达): stable rendering, golden documents, the
//! dates the 告知书 states, delivery rules, isolation — on both backends.

use std::time::Duration;

use gongshi::api::pb;
use gongshi::domain::lifecycle::Role;
use pb::notice_service_client::NoticeServiceClient;
use tonic::transport::Channel;

use crate::support::calls::{self, slip_correction};
use crate::support::calls::{Enf, notice_bundle, notice_bundles};
use crate::support::{self, TestServer, credit_code, req};

fn golden_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/notices")
}

async fn notices(s: &TestServer) -> NoticeServiceClient<Channel> {
    NoticeServiceClient::new(s.channel().await)
}

fn safety(number: &str, decided_on: &str, party: &str) -> pb::PenaltyDecision {
    let mut d = support::decision(number, decided_on, party);
    d.sector = pb::Sector::SafetyProduction as i32;
    d
}

/// A server on 2026-05-10, an officer's key, and clients of the
/// enforcement and notice services.
async fn at_may_10(url: &str) -> (TestServer, String, Enf, NoticeServiceClient<Channel>) {
    let server = TestServer::start(url, support::clock_at("2026-05-10")).await;
    let officer = server.key(Role::Officer, None).await;
    let (e, n) = (server.enforcement().await, notices(&server).await);
    (server, officer, e, n)
}

/// Records and publishes 安全生产 decision 沪浦应急罚〔year〕`n`号 of the
/// party with credit code number `party`.
async fn publish_safety(e: &mut Enf, officer: &str, decided_on: &str, n: u32, party: u64) -> pb::PenaltyDecision {
    let number = format!("沪浦应急罚〔{}〕{n}号", &decided_on[..4]);
    let d = safety(&number, decided_on, &credit_code("91310115", party));
    support::create_and_publish(e, officer, d).await
}

/// [`publish_safety`] of number and party `n`, and its notice bundle.
async fn published_with_bundle(
    e: &mut Enf,
    n: &mut NoticeServiceClient<Channel>,
    officer: &str,
    decided_on: &str,
    number: u32,
) -> (pb::PenaltyDecision, pb::NoticeBundle) {
    let d = publish_safety(e, officer, decided_on, number, number.into()).await;
    let b = bundle(n, officer, &d.name, 0)
        .await
        .expect("the bundle of a published decision");
    (d, b)
}

async fn bundle(
    c: &mut NoticeServiceClient<Channel>,
    key: &str,
    decision: &str,
    version: i32,
) -> Result<pb::NoticeBundle, tonic::Status> {
    c.get_notice_bundle(req(notice_bundle(decision, version), key))
        .await
        .map(|r| r.into_inner())
}

fn doc(b: &pb::NoticeBundle, kind: pb::DocumentKind) -> &pb::NoticeDocument {
    b.documents
        .iter()
        .find(|d| d.kind == kind as i32)
        .unwrap_or_else(|| panic!("no {kind:?} in bundle"))
}

#[tokio::test]
async fn rendering_is_stable_across_requests_and_restarts_and_matches_golden_files() {
    for db in support::backends().await {
        let clock = support::clock_at("2025-06-20");
        let server = TestServer::start(&db.url, clock.clone()).await;
        let officer = server.key(Role::Officer, None).await;
        let mut e = server.enforcement().await;
        let decision = publish_safety(&mut e, &officer, "2025-06-10", 15, 77).await;
        let mut n = notices(&server).await;
        let first = bundle(&mut n, &officer, &decision.name, 0).await.expect("bundle");
        assert_eq!(first.version, 1);
        assert_eq!(first.delivery_state, pb::DeliveryState::Pending as i32);
        let kinds: Vec<i32> = first.documents.iter().map(|d| d.kind).collect();
        assert_eq!(
            kinds,
            [
                pb::DocumentKind::PenaltyDecision as i32,
                pb::DocumentKind::CreditRepairNotice as i32,
                pb::DocumentKind::CreditCommitment as i32
            ],
            "{}: default 三书同达 set",
            db.backend
        );
        for d in &first.documents {
            assert_eq!(d.sha256, gongshi::domain::record::sha256_hex(d.body.as_bytes()));
            assert!(d.template_version.starts_with("builtin+"));
        }
        clock.advance(chrono::Duration::days(3));
        let again = bundle(&mut n, &officer, &decision.name, 0).await.unwrap();
        assert_eq!(again, first, "{}: second request returns the stored bundle", db.backend);

        // After a restart (a new process would load the same rows).
        let url = db.url.clone();
        server.stop().await;
        let server = TestServer::start(&url, clock.clone()).await;
        let mut n = notices(&server).await;
        let officer2 = server.key(Role::Officer, None).await;
        let after_restart = bundle(&mut n, &officer2, &decision.name, 0).await.unwrap();
        assert_eq!(
            after_restart.documents, first.documents,
            "{}: byte-identical after restart",
            db.backend
        );

        // A fresh rendering from scratch (another database) gives the same bytes too:
        // compare with the golden files, written once with GONGSHI_UPDATE_GOLDEN=1.
        for d in &first.documents {
            let kind = pb::DocumentKind::try_from(d.kind).unwrap().as_str_name().to_lowercase();
            let path = golden_dir().join(format!("{kind}.txt"));
            // The party code differs per test run only in name; the body must match exactly.
            if std::env::var("GONGSHI_UPDATE_GOLDEN").is_ok() {
                std::fs::write(&path, &d.body).unwrap();
            }
            let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("golden file {}: {e}", path.display()));
            assert_eq!(
                d.body,
                want,
                "{}: {} differs from its golden file",
                db.backend,
                path.display()
            );
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn compliance_advice_golden_file_when_configured() {
    // The third document is configuration: a deployment choosing 行政合规建议书.
    let db = support::sqlite_db();
    let cfg = gongshi::config::Config {
        database_url: db.url.clone(),
        notice_documents: vec![
            "PENALTY_DECISION".into(),
            "CREDIT_REPAIR_NOTICE".into(),
            "COMPLIANCE_ADVICE".into(),
        ],
        ..Default::default()
    };
    let app = cfg.open_app(support::clock_at("2025-06-20")).await.unwrap();
    let officer = app.create_key(Role::Officer, "o", None, None).await.unwrap().secret;
    let caller = app.authenticate(&officer, None).await.unwrap();
    let pbdoc = safety("沪浦应急罚〔2025〕15号", "2025-06-10", &credit_code("91310115", 77));
    let doc = gongshi::api::convert::decision_doc(&pbdoc, "", app.clock.today_cst()).unwrap();
    let row = app.create_decision(&caller, "", doc, None).await.unwrap();
    let b = app.notice_bundle(&caller, &row.id, 0).await.unwrap();
    let kinds: Vec<_> = b.documents.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(kinds, ["PENALTY_DECISION", "CREDIT_REPAIR_NOTICE", "COMPLIANCE_ADVICE"]);
    let advice = &b.documents[2];
    let path = golden_dir().join("document_kind_compliance_advice.txt");
    if std::env::var("GONGSHI_UPDATE_GOLDEN").is_ok() {
        std::fs::write(&path, &advice.body).unwrap();
    }
    assert_eq!(advice.body, std::fs::read_to_string(&path).expect("golden file"));
}

#[tokio::test]
async fn repair_notice_states_the_computed_dates() {
    for db in support::backends().await {
        let (_server, officer, mut e, mut n) = at_may_10(&db.url).await;

        // 安全生产, general, decided 2025-06-10 (Shanghai under 令第58号: minimum 1 year, maximum 3 years).
        let (_, b) = published_with_bundle(&mut e, &mut n, &officer, "2025-06-10", 1).await;
        let notice = &doc(&b, pb::DocumentKind::CreditRepairNotice).body;
        assert!(
            notice.contains("自2026年6月11日起，你单位可以申请信用修复"),
            "{}: {notice}",
            db.backend
        );
        assert!(notice.contains("公示至2028年6月10日"), "{notice}");
        assert!(
            notice.contains("最短公示期为1年") && notice.contains("最长公示期为3年"),
            "{notice}"
        );
        assert!(notice.contains("一般失信信息"), "{notice}");

        // Decided 2026-05-06 under NDRC 令第36号: minimum 3 months, maximum 1 year.
        let (_, b) = published_with_bundle(&mut e, &mut n, &officer, "2026-05-06", 2).await;
        let notice = &doc(&b, pb::DocumentKind::CreditRepairNotice).body;
        assert!(notice.contains("自2026年8月7日起"), "{notice}");
        assert!(notice.contains("公示至2027年5月6日"), "{notice}");
        assert!(notice.contains("令第36号"), "{notice}");
        let decision_doc = &doc(&b, pb::DocumentKind::PenaltyDecision).body;
        assert!(
            decision_doc.contains("六十日内") && decision_doc.contains("六个月内"),
            "reconsideration and suit: {decision_doc}"
        );
        assert!(decision_doc.contains("人民币20,000.00元"), "{decision_doc}");
        assert!(
            !decision_doc.contains(support::KNOWN_ID_2),
            "no ID number in the documents"
        );

        // A decision that will not be published gets the decision document alone.
        let mut simple = safety("沪浦应急罚〔2026〕3号", "2026-05-06", &credit_code("91310115", 3));
        simple.procedure = pb::Procedure::Simple as i32;
        let s = support::create_and_publish(&mut e, &officer, simple).await;
        assert_eq!(s.state, pb::DecisionState::NotPublished as i32);
        let b = bundle(&mut n, &officer, &s.name, 0).await.unwrap();
        assert_eq!(b.documents.len(), 1);
        assert_eq!(b.documents[0].kind, pb::DocumentKind::PenaltyDecision as i32);
    }
}

#[tokio::test]
async fn correction_makes_a_new_version_and_keeps_the_old() {
    for db in support::backends().await {
        let (_server, officer, mut e, mut n) = at_may_10(&db.url).await;
        let (d, v1) = published_with_bundle(&mut e, &mut n, &officer, "2026-05-06", 9).await;
        e.correct_penalty_decision(req(
            slip_correction(&d.name, "violation_facts", "经复核，更正后的违法事实。", ""),
            &officer,
        ))
        .await
        .expect("correct");
        let v2 = bundle(&mut n, &officer, &d.name, 0).await.unwrap();
        assert_eq!(v2.version, 2, "{}", db.backend);
        assert!(
            doc(&v2, pb::DocumentKind::PenaltyDecision)
                .body
                .contains("更正后的违法事实")
        );
        let old = bundle(&mut n, &officer, &d.name, 1).await.unwrap();
        assert_eq!(old.documents, v1.documents, "the old version is kept for audit");
        let missing = bundle(&mut n, &officer, &d.name, 7).await.unwrap_err();
        assert_eq!(missing.code(), tonic::Code::NotFound);
    }
}

fn delivery(name: &str, method: pb::DeliveryMethod, at: prost_types::Timestamp) -> pb::RecordNoticeDeliveryRequest {
    pb::RecordNoticeDeliveryRequest {
        name: name.to_string(),
        method: method as i32,
        recipient: "王五".into(),
        recipient_relation: "法定代表人".into(),
        delivered_at: Some(at),
        consent_ref: String::new(),
        witnesses: vec![],
        etag: String::new(),
    }
}

/// Records, as `key`, the delivery of a bundle by `method` at `at`.
async fn deliver(
    n: &mut NoticeServiceClient<Channel>,
    key: &str,
    bundle: &str,
    method: pb::DeliveryMethod,
    at: prost_types::Timestamp,
) -> Result<pb::NoticeBundle, tonic::Status> {
    let delivered = n.record_notice_delivery(req(delivery(bundle, method, at), key)).await;
    delivered.map(|r| r.into_inner())
}

/// The receipt (送达回证) of a bundle, signed by `signed_by` at `at`.
fn receipt(name: &str, signed_by: &str, at: prost_types::Timestamp, etag: &str) -> pb::RecordNoticeReceiptRequest {
    pb::RecordNoticeReceiptRequest {
        name: name.to_string(),
        signed_by: signed_by.to_string(),
        signed_at: Some(at),
        etag: etag.to_string(),
    }
}

#[tokio::test]
async fn delivery_rules() {
    for db in support::backends().await {
        let (server, officer, mut e, mut n) = at_may_10(&db.url).await;
        let now = prost_types::Timestamp {
            seconds: clock_secs(&server),
            nanos: 0,
        };

        // One delivery act covers every document.
        let a = publish_safety(&mut e, &officer, "2026-05-06", 21, 21).await;
        let name = format!("{}/noticeBundle", a.name);
        let b = deliver(&mut n, &officer, &name, pb::DeliveryMethod::Direct, now)
            .await
            .expect("deliver");
        assert_eq!(b.delivery_state, pb::DeliveryState::Delivered as i32, "{}", db.backend);
        let dl = b.delivery.clone().unwrap();
        assert_eq!(dl.documents.len(), 3, "all three documents in the one act");
        assert!(dl.deemed_delivered_at.is_none());
        // A second delivery of a delivered bundle is refused.
        let again = deliver(&mut n, &officer, &name, pb::DeliveryMethod::Postal, now)
            .await
            .unwrap_err();
        assert_eq!(again.code(), tonic::Code::FailedPrecondition);
        assert_eq!(support::reason(&again), "ALREADY_DELIVERED");
        // The receipt (送达回证).
        let r = n
            .record_notice_receipt(req(receipt(&name, "王五", now, &b.etag), &officer))
            .await
            .expect("receipt")
            .into_inner();
        assert_eq!(r.delivery_state, pb::DeliveryState::Receipted as i32);
        assert_eq!(r.delivery.unwrap().receipt.unwrap().signed_by, "王五");
        // Stale etag.
        let stale = n
            .record_notice_receipt(req(receipt(&name, "x", now, &b.etag), &officer))
            .await
            .unwrap_err();
        assert_eq!(stale.code(), tonic::Code::Aborted);

        // ELECTRONIC needs consent_ref.
        let c = publish_safety(&mut e, &officer, "2026-05-06", 22, 22).await;
        let name_c = format!("{}/noticeBundle", c.name);
        let err = deliver(&mut n, &officer, &name_c, pb::DeliveryMethod::Electronic, now)
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(support::reason(&err), "CONSENT_REQUIRED");
        assert_eq!(support::bad_fields(&err), ["consent_ref"]);
        let mut ok = delivery(&name_c, pb::DeliveryMethod::Electronic, now);
        ok.consent_ref = "电子送达确认书 2026-001".into();
        n.record_notice_delivery(req(ok, &officer))
            .await
            .expect("electronic with consent");

        // PUBLIC_NOTICE: the decision alone, deemed delivered 30 days after publication; no 回证.
        let p = publish_safety(&mut e, &officer, "2026-05-06", 23, 23).await;
        let name_p = format!("{}/noticeBundle", p.name);
        let b = deliver(&mut n, &officer, &name_p, pb::DeliveryMethod::PublicNotice, now)
            .await
            .expect("public notice");
        let dl = b.delivery.unwrap();
        assert_eq!(dl.documents, [pb::DocumentKind::PenaltyDecision as i32]);
        assert_eq!(dl.deemed_delivered_at.unwrap().seconds - now.seconds, 30 * 86_400);
        let err = n
            .record_notice_receipt(req(receipt(&name_p, "x", now, ""), &officer))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);

        // Rendering, delivery and receipt are events of the decision.
        let events = calls::events(&mut e, &officer, &a.name).await;
        let kinds: Vec<i32> = events.iter().map(|e| e.kind).collect();
        for k in [
            pb::DecisionEventKind::NoticeRendered,
            pb::DecisionEventKind::NoticeDelivered,
            pb::DecisionEventKind::NoticeReceipted,
        ] {
            assert!(
                kinds.contains(&(k as i32)),
                "{}: {k:?} missing from {kinds:?}",
                db.backend
            );
        }
        let delivered = events
            .iter()
            .find(|e| e.kind == pb::DecisionEventKind::NoticeDelivered as i32)
            .unwrap();
        assert_eq!(
            delivered.document_sha256.len(),
            3,
            "the delivered documents' hashes are recorded"
        );

        // Listing by delivery state.
        let list = n
            .list_notice_bundles(req(
                pb::ListNoticeBundlesRequest {
                    delivery_state: pb::DeliveryState::Receipted as i32,
                    ..Default::default()
                },
                &officer,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(list.notice_bundles.len(), 1);
        assert_eq!(list.notice_bundles[0].penalty_decision, a.name);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn clock_secs(s: &TestServer) -> i64 {
    use gongshi::domain::clock::Clock;
    s.clock.now().timestamp()
}

#[tokio::test]
async fn portal_and_enterprise_see_only_their_own_bundles() {
    for db in support::backends().await {
        let (server, officer, mut e, mut n) = at_may_10(&db.url).await;
        let a_code = credit_code("91310115", 31);
        let b_code = credit_code("91310115", 32);
        let a = support::create_and_publish(
            &mut e,
            &officer,
            safety("沪浦应急罚〔2026〕31号", "2026-05-06", &a_code),
        )
        .await;
        let b = support::create_and_publish(
            &mut e,
            &officer,
            safety("沪浦应急罚〔2026〕32号", "2026-05-06", &b_code),
        )
        .await;
        let ent_a = server.key(Role::Enterprise, Some(&a_code)).await;
        let portal = server.key(Role::Portal, None).await;

        assert!(
            bundle(&mut n, &ent_a, &a.name, 0).await.is_ok(),
            "{}: own bundle",
            db.backend
        );
        let err = bundle(&mut n, &ent_a, &b.name, 0).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound, "another enterprise's bundle");

        let as_portal = |decision: &str, code: &str| {
            let mut r = req(notice_bundle(decision, 0), &portal);
            r.metadata_mut().insert("x-gongshi-on-behalf-of", code.parse().unwrap());
            r
        };
        assert!(n.get_notice_bundle(as_portal(&a.name, &a_code)).await.is_ok());
        let err = n.get_notice_bundle(as_portal(&b.name, &a_code)).await.unwrap_err();
        assert_eq!(
            err.code(),
            tonic::Code::NotFound,
            "portal acting for A cannot read B's bundle"
        );

        // Listing: forced to the own enterprise; asking for another is refused.
        bundle(&mut n, &officer, &b.name, 0).await.unwrap();
        let list = notice_bundles(&mut n, &ent_a).await;
        assert!(
            list.notice_bundles.iter().all(|x| x.party_credit_code == a_code),
            "{list:?}"
        );
        assert_eq!(list.notice_bundles.len(), 1);
        let err = n
            .list_notice_bundles(req(
                pb::ListNoticeBundlesRequest {
                    party_credit_code: b_code.clone(),
                    ..Default::default()
                },
                &ent_a,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);

        // Writes are the officer's.
        let now = prost_types::Timestamp {
            seconds: clock_secs(&server),
            nanos: 0,
        };
        let err = deliver(
            &mut n,
            &ent_a,
            &format!("{}/noticeBundle", a.name),
            pb::DeliveryMethod::Direct,
            now,
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        let discloser = server.key(Role::Discloser, None).await;
        let err = bundle(&mut n, &discloser, &a.name, 0).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        let err = bundle(&mut n, "", &a.name, 0).await;
        assert!(err.is_err());
    }
}
