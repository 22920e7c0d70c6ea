//! ReportService: the annual figures with worked examples (DOMAIN.md §7).

use gongshi::api::pb;
use gongshi::domain::lifecycle::Role;
use pb::report_service_client::ReportServiceClient;
use tonic::transport::Channel;

type Reports = ReportServiceClient<Channel>;

use crate::support::calls::{self, Enf};
use crate::support::{self, NoonUtc, TestServer, credit_code, d, req};

async fn create(e: &mut Enf, officer: &str, p: pb::PenaltyDecision) -> pb::PenaltyDecision {
    calls::create(e, officer, "", p).await.expect("create")
}

async fn publish(e: &mut Enf, officer: &str, name: &str) -> pb::PenaltyDecision {
    calls::publish(e, officer, name, "").await.expect("publish")
}

/// The annual report of `year` for one authority ("" for all), as `key` reads it.
async fn annual_report(
    r: &mut Reports,
    key: &str,
    year: i32,
    authority: &str,
) -> Result<pb::AnnualReport, tonic::Status> {
    let request = pb::GetAnnualReportRequest {
        year,
        authority_credit_code: authority.to_string(),
    };
    r.get_annual_report(req(request, key)).await.map(|r| r.into_inner())
}

fn fined(n: u64, decided_on: &str, yuan: i64) -> pb::PenaltyDecision {
    let mut p = support::decision(
        &format!("沪浦应急罚〔{}〕{n}号", &decided_on[..4]),
        decided_on,
        &credit_code("91310115", n),
    );
    p.fine_fen = yuan * 100;
    p
}

#[tokio::test]
async fn annual_figures_reproduce_worked_examples() {
    for db in support::backends().await {
        let clock = support::clock_at("2025-05-10");
        let server = TestServer::start(&db.url, clock.clone()).await;
        let [officer, auditor] = server.keys([Role::Officer, Role::Auditor]).await;
        let mut e = server.enforcement().await;

        // 2025: fines of 10,000 and 5,000 元 = 15,000 元, both published on the day.
        for (n, yuan) in [(1, 10_000), (2, 5_000)] {
            let c = create(&mut e, &officer, fined(n, "2025-05-06", yuan)).await;
            publish(&mut e, &officer, &c.name).await;
        }

        // 2026: 71,000 元 in all. Decided Mon 2026-03-02; 7 working days later is Wed 03-11.
        clock.set(support::clock_at("2026-03-02").now_utc());
        let on_time = create(&mut e, &officer, fined(11, "2026-03-02", 20_000)).await;
        let late = create(&mut e, &officer, fined(12, "2026-03-02", 20_000)).await;
        let mut simple = fined(13, "2026-03-02", 1_000);
        simple.procedure = pb::Procedure::Simple as i32; // not to be published
        let simple = create(&mut e, &officer, simple).await;
        let _never = create(&mut e, &officer, fined(14, "2026-03-02", 30_000)).await; // must be, never published
        clock.set(support::clock_at("2026-03-11").now_utc());
        publish(&mut e, &officer, &on_time.name).await;
        publish(&mut e, &officer, &simple.name).await;
        clock.set(support::clock_at("2026-03-12").now_utc());
        publish(&mut e, &officer, &late.name).await;

        // A withdrawal within 3 working days of its legal event (Fri 03-20 → due Wed 03-25).
        clock.set(support::clock_at("2026-03-25").now_utc());
        e.withdraw_penalty_decision(req(
            pb::WithdrawPenaltyDecisionRequest {
                name: late.name.clone(),
                legal_event: pb::WithdrawalEvent::Revoked as i32,
                public_reason: "经行政复议撤销".into(),
                etag: String::new(),
                legal_event_on: "2026-03-20".into(),
            },
            &officer,
        ))
        .await
        .expect("withdraw");

        let mut r = Reports::new(server.channel().await);
        let report = annual_report(&mut r, &auditor, 2026, "").await.expect("report");
        let cur = report.current.unwrap();
        let prev = report.previous.unwrap();
        let g = report.growth.unwrap();
        let b = db.backend;
        assert_eq!((prev.year, prev.fines_fen, prev.decisions), (2025, 1_500_000, 2), "{b}");
        assert_eq!((cur.year, cur.fines_fen, cur.decisions), (2026, 7_100_000, 4), "{b}");
        assert_eq!(g.fines_pct, "373.33", "{b}: 15,000 → 71,000 元");
        assert_eq!(g.decisions_pct, "100.00", "{b}");
        assert_eq!(cur.enterprises_penalized, 4, "{b}");
        // 公示率: 2 of the 3 that must be published; 及时率: 1 of 3 within 7 working days.
        assert_eq!(
            (cur.must_publish, cur.published, cur.published_on_time),
            (3, 2, 1),
            "{b}"
        );
        assert_eq!(cur.disclosure_rate_pct, "66.67", "{b}");
        assert_eq!(cur.timeliness_rate_pct, "33.33", "{b}");
        assert_eq!(prev.disclosure_rate_pct, "100.00", "{b}");
        assert_eq!(prev.timeliness_rate_pct, "100.00", "{b}");
        assert_eq!((cur.withdrawals, cur.withdrawals_within_3_days), (1, 1), "{b}");
        assert_eq!(cur.withdrawal_timeliness_pct, "100.00", "{b}");

        // Per authority: another authority has nothing.
        let other = annual_report(&mut r, &auditor, 2026, &credit_code("11310115", 999))
            .await
            .unwrap();
        assert_eq!(other.current.unwrap().decisions, 0, "{b}");
        let own = annual_report(&mut r, &auditor, 2026, &support::authority_code())
            .await
            .unwrap();
        assert_eq!(own.current.unwrap().fines_fen, 7_100_000, "{b}");

        // Roles and input.
        let discloser = server.key(Role::Discloser, None).await;
        let err = annual_report(&mut r, &discloser, 2026, "").await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        let err = annual_report(&mut r, &auditor, 0, "").await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let _ = d("2026-01-01");
    }
}
