//! The publicity policy through the API: which rule set fixes a disclosure's
//! periods (DOMAIN.md §3), the Civil Code month reckoning, and the decisions
//! that are recorded but never published.

use gongshi::api::pb;
use gongshi::domain::clock::cst_midnight;
use gongshi::domain::lifecycle::Role;
use tonic::Code;

use crate::decisions::decision;
use crate::support::calls::{self, Dis, Enf, event_of, events, feed, publish};
use crate::support::kit::server_with_keys;
use crate::support::{KNOWN_ID, TestDb, TestServer, backends, credit_code, d, reason, set_personal_party};

/// A server at `today`, clients of both its services, and a new key of each
/// of `roles`, in order.
async fn started<const N: usize>(db: &TestDb, today: &str, roles: [Role; N]) -> (TestServer, Enf, Dis, [String; N]) {
    let (server, keys) = server_with_keys(db, today, roles).await;
    let (enf, dis) = (server.enforcement().await, server.disclosures().await);
    (server, enf, dis, keys)
}

/// Moves the injected clock to noon CST of a date.
fn set_today(server: &TestServer, date: &str) {
    server.clock.set(cst_midnight(d(date)) + chrono::Duration::hours(12));
}

async fn create(c: &mut Enf, key: &str, p: pb::PenaltyDecision) -> pb::PenaltyDecision {
    calls::create(c, key, "", p).await.expect("create")
}

/// Records a decision and publishes it (the publish answered OK, whether it
/// published or excluded it, else it fails `what`): the recorded and the
/// published-or-excluded decision.
async fn recorded_then_published(
    enf: &mut Enf,
    key: &str,
    p: pb::PenaltyDecision,
    what: &str,
) -> (pb::PenaltyDecision, pb::PenaltyDecision) {
    let created = create(enf, key, p).await;
    let out = publish(enf, key, &created.name, &created.etag).await.expect(what);
    (created, out)
}

async fn active(dis: &mut Dis, key: &str) -> Vec<pb::Disclosure> {
    calls::list_disclosures(dis, key).await.disclosures
}

/// One expectation of the period table.
struct Case {
    decided_on: &'static str,
    severity: pb::Severity,
    sector: pb::Sector,
    /// Today when it is recorded and published.
    today: &'static str,
    rule_set: &'static str,
    min_ends: &'static str,
    eligible: &'static str,
    ends: &'static str,
}

/// (decided_on, severity, sector) → today, rule set, minimum end, repair eligible, publicity end.
type Row = (
    &'static str,
    pb::Severity,
    pb::Sector,
    (&'static str, &'static str, &'static str, &'static str, &'static str),
);

const fn case(r: Row) -> Case {
    let (decided_on, severity, sector, (today, rule_set, min_ends, eligible, ends)) = r;
    Case {
        decided_on,
        severity,
        sector,
        today,
        rule_set,
        min_ends,
        eligible,
        ends,
    }
}

#[tokio::test]
async fn periods_follow_the_rule_set_of_the_decision_date() {
    use pb::Sector::{Food, Other, SafetyProduction, SpecialEquipment};
    use pb::Severity::{General, Serious};
    // Ordered by `today`, so the clock only moves forward.
    #[rustfmt::skip]
    let cases = [
        // 发改办财金〔2019〕527号: serious 6 months / 3 years; 2022-08-31 + 6 months → 2023-02-28.
        case(("2022-08-31", Serious, Other, ("2022-09-01", "NDRC_2019_527", "2023-02-28", "2023-03-01", "2025-08-31"))),
        // general 3 months / 1 year.
        case(("2022-08-31", General, Other, ("2022-09-01", "NDRC_2019_527", "2022-11-30", "2022-12-01", "2023-08-31"))),
        // The last day of the 2019 rules, then the first day of Shanghai's 令第58号 rules.
        case(("2023-04-30", General, SafetyProduction, ("2023-05-01", "NDRC_2019_527", "2023-07-30", "2023-07-31", "2024-04-30"))),
        case(("2023-05-01", General, SafetyProduction, ("2023-05-01", "SH_NDRC_58", "2024-05-01", "2024-05-02", "2026-05-01"))),
        // Shanghai: 1 year minimum for general safety-production (and fire, food, drug, special
        // equipment); 3 months otherwise; 3 years maximum.
        case(("2025-06-10", General, SafetyProduction, ("2025-06-11", "SH_NDRC_58", "2026-06-10", "2026-06-11", "2028-06-10"))),
        case(("2025-06-10", General, Food, ("2025-06-11", "SH_NDRC_58", "2026-06-10", "2026-06-11", "2028-06-10"))),
        case(("2025-06-10", General, SpecialEquipment, ("2025-06-11", "SH_NDRC_58", "2026-06-10", "2026-06-11", "2028-06-10"))),
        case(("2025-06-10", General, Other, ("2025-06-11", "SH_NDRC_58", "2025-09-10", "2025-09-11", "2028-06-10"))),
        case(("2025-06-10", Serious, Other, ("2025-06-11", "SH_NDRC_58", "2026-06-10", "2026-06-11", "2028-06-10"))),
        // Month end: 2025-11-30 + 3 months → 2026-02-28 (民法典 Art. 202).
        case(("2025-11-30", General, Other, ("2025-12-01", "SH_NDRC_58", "2026-02-28", "2026-03-01", "2028-11-30"))),
        // The last day of 令第58号 and the first of 令第36号.
        case(("2026-03-31", General, SafetyProduction, ("2026-04-01", "SH_NDRC_58", "2027-03-31", "2027-04-01", "2029-03-31"))),
        case(("2026-04-01", General, SafetyProduction, ("2026-04-01", "NDRC_36", "2026-07-01", "2026-07-02", "2027-04-01"))),
        // DOMAIN.md's example: 2026-05-06 general → 2026-08-06, eligible 2026-08-07, ends 2027-05-06.
        case(("2026-05-06", General, Other, ("2026-05-07", "NDRC_36", "2026-08-06", "2026-08-07", "2027-05-06"))),
        case(("2026-05-06", Serious, Other, ("2026-05-07", "NDRC_36", "2027-05-06", "2027-05-07", "2029-05-06"))),
        case(("2026-05-31", General, Other, ("2026-06-01", "NDRC_36", "2026-08-31", "2026-09-01", "2027-05-31"))),
        case(("2026-11-30", General, Other, ("2026-12-01", "NDRC_36", "2027-02-28", "2027-03-01", "2027-11-30"))),
    ];
    for db in backends().await {
        let b = db.backend;
        let roles = [Role::Officer, Role::Discloser];
        let (server, mut enf, mut dis, [officer, discloser]) = started(&db, cases[0].today, roles).await;
        for (i, c) in cases.iter().enumerate() {
            let ctx = format!("{b}: case {i} ({} {:?} {:?})", c.decided_on, c.severity, c.sector);
            set_today(&server, c.today);
            let mut p = decision(
                &format!("沪浦应急罚〔{}〕{i}号", &c.decided_on[..4]),
                c.decided_on,
                &credit_code("91310115", 100 + i as u64),
            );
            p.severity = c.severity as i32;
            p.sector = c.sector as i32;
            let (created, published) = recorded_then_published(&mut enf, &officer, p, &ctx).await;
            assert_eq!(published.state, pb::DecisionState::Published as i32, "{ctx}");
            assert!(published.exclusion.is_none(), "{ctx}");
            assert!(published.publish_time.is_some(), "{ctx}");
            let got = calls::get_disclosure(&mut dis, &discloser, &published.disclosure)
                .await
                .unwrap_or_else(|s| panic!("{ctx}: {s:?}"));
            assert_eq!(got.penalty_decision, created.name, "{ctx}");
            assert_eq!(got.state, pb::DisclosureState::Active as i32, "{ctx}");
            assert_eq!(got.decided_on, c.decided_on, "{ctx}");
            assert_eq!(
                (
                    got.rule_set.as_str(),
                    got.min_publicity_ends_on.as_str(),
                    got.repair_eligible_on.as_str(),
                    got.publicity_ends_on.as_str()
                ),
                (c.rule_set, c.min_ends, c.eligible, c.ends),
                "{ctx}: rule set, minimum end, repair eligible, publicity end"
            );
            assert_eq!(got.severity, c.severity as i32, "{ctx}");
            assert_eq!(got.sector, c.sector as i32, "{ctx}");
            assert_eq!(got.version, 1, "{ctx}");
            // The PUBLISHED change carries the same record.
            let changes = feed(&mut dis, &discloser).await;
            let change = changes
                .iter()
                .find(|ch| ch.disclosure == published.disclosure && ch.kind == pb::ChangeKind::Published as i32)
                .unwrap_or_else(|| panic!("{ctx}: no PUBLISHED change"));
            let rec = change.record.as_ref().expect("record");
            assert_eq!(rec.publicity_ends_on, c.ends, "{ctx}");
            assert_eq!(rec.repair_eligible_on, c.eligible, "{ctx}");
            assert_eq!(rec.rule_set, c.rule_set, "{ctx}");
            assert_eq!(change.content_sha256, got.content_sha256, "{ctx}");
            // The PUBLISHED event names the rule set.
            let pe = event_of(&mut enf, &officer, &created.name, pb::DecisionEventKind::Published).await;
            assert!(
                pe.details_json.contains(c.rule_set) && pe.details_json.contains(c.ends),
                "{ctx}: {pe:?}"
            );
            // Publishing twice is refused.
            let r = publish(&mut enf, &officer, &created.name, &published.etag).await;
            let s = r.expect_err("second publish");
            assert_eq!(s.code(), Code::FailedPrecondition, "{ctx}: {s:?}");
            assert_eq!(reason(&s), "INVALID_STATE_TRANSITION", "{ctx}");
        }
        let n = feed(&mut dis, &discloser)
            .await
            .iter()
            .filter(|c| c.kind == pb::ChangeKind::Published as i32)
            .count();
        assert_eq!(
            n,
            cases.len(),
            "{b}: one PUBLISHED change per decision, none for the refused second publishes"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn excluded_decisions_are_recorded_but_not_published() {
    use pb::PenaltyKind::{CirculatedCriticism, Fine, Warning};
    for db in backends().await {
        let b = db.backend;
        let roles = [Role::Officer, Role::Discloser];
        let (server, mut enf, mut dis, [officer, discloser]) = started(&db, "2026-11-29", roles).await;
        let (party, mut n) = (credit_code("91310115", 500), 0);
        let mut next = || {
            n += 1;
            format!("沪浦应急罚〔2026〕5{n:02}号")
        };

        // What a case is, when it was decided, how it differs from the sample
        // decision, and the rule that keeps it from being published.
        fn unfined(p: &mut pb::PenaltyDecision, kinds: &[pb::PenaltyKind]) {
            p.penalty_kinds = kinds.iter().map(|k| *k as i32).collect();
            p.fine_fen = 0;
        }
        fn minor(p: &mut pb::PenaltyDecision) {
            p.severity = pb::Severity::Minor as i32;
        }
        type Edit = fn(&mut pb::PenaltyDecision);
        #[rustfmt::skip]
        let table: [(&str, &str, Edit, &str); 7] = [
            ("simple procedure", "2026-11-20", |p| p.procedure = pb::Procedure::Simple as i32, "SIMPLE_PROCEDURE"),
            ("warning only", "2026-11-20", |p| unfined(p, &[Warning]), "WARNING_OR_CRITICISM_ONLY"),
            ("warning and criticism", "2026-11-20", |p| unfined(p, &[Warning, CirculatedCriticism]), "WARNING_OR_CRITICISM_ONLY"),
            ("criticism only", "2026-11-20", |p| unfined(p, &[CirculatedCriticism]), "WARNING_OR_CRITICISM_ONLY"),
            ("minor under NDRC_36", "2026-11-20", minor, "MINOR_NOT_PUBLISHED"),
            ("minor under SH_NDRC_58", "2025-06-10", minor, "MINOR_NOT_PUBLISHED"),
            ("minor under the 2019 rules", "2022-08-31", minor, "MINOR_NOT_PUBLISHED"),
        ];
        let mut cases: Vec<(&str, pb::PenaltyDecision, &str)> = Vec::new();
        for (what, decided_on, edit, rule) in table {
            let mut p = decision(&next(), decided_on, &party);
            edit(&mut p);
            cases.push((what, p, rule));
        }
        let mut p = decision(&next(), "2026-11-20", "");
        set_personal_party(
            &mut p,
            pb::PartyKind::NaturalPerson,
            "李四",
            KNOWN_ID,
            "上海市浦东新区某小区1号楼101室",
        );
        cases.push(("natural person", p, "NATURAL_PERSON_NOT_DISCLOSED"));

        let feed_before = feed(&mut dis, &discloser).await;
        assert!(feed_before.is_empty(), "{b}");
        for (what, p, rule) in cases {
            let ctx = format!("{b}: {what}");
            let (created, out) = recorded_then_published(&mut enf, &officer, p, &ctx).await;
            assert_eq!(out.state, pb::DecisionState::NotPublished as i32, "{ctx}");
            assert!(out.disclosure.is_empty(), "{ctx}: no disclosure");
            assert!(out.publish_time.is_none(), "{ctx}");
            let ex = out.exclusion.clone().expect("exclusion");
            assert_eq!(ex.rule, rule, "{ctx}");
            assert!(!ex.citation.is_empty(), "{ctx}: the rule's source is cited");
            assert_ne!(out.etag, created.etag, "{ctx}");
            // The record shows a NOT_PUBLISHED event naming the rule.
            let ev = events(&mut enf, &officer, &created.name).await;
            let np: Vec<_> = ev
                .iter()
                .filter(|e| e.kind == pb::DecisionEventKind::NotPublished as i32)
                .collect();
            assert_eq!(np.len(), 1, "{ctx}: {ev:?}");
            assert!(
                np[0].details_json.contains(rule) && np[0].summary.contains(rule),
                "{ctx}: {:?}",
                np[0]
            );
            assert!(
                !ev.iter().any(|e| e.kind == pb::DecisionEventKind::Published as i32),
                "{ctx}"
            );
            // Nothing public, nothing on the feed.
            assert!(feed(&mut dis, &discloser).await.is_empty(), "{ctx}: no feed change");
            assert!(active(&mut dis, &discloser).await.is_empty(), "{ctx}: no disclosure");
            // Publishing again is refused.
            let s = publish(&mut enf, &officer, &created.name, &out.etag)
                .await
                .expect_err("second publish");
            assert_eq!(s.code(), Code::FailedPrecondition, "{ctx}: {s:?}");
            assert_eq!(reason(&s), "INVALID_STATE_TRANSITION", "{ctx}");
            let now = calls::get(&mut enf, &officer, &created.name).await;
            assert_eq!(now.state, pb::DecisionState::NotPublished as i32, "{ctx}");
            assert_eq!(now.exclusion.map(|e| e.rule).as_deref(), Some(rule), "{ctx}");
        }

        // A warning with a fine is published.
        let mut p = decision(&next(), "2026-11-20", &party);
        p.penalty_kinds = vec![Warning as i32, Fine as i32];
        let (_, out) = recorded_then_published(&mut enf, &officer, p, "warning + fine").await;
        assert_eq!(out.state, pb::DecisionState::Published as i32, "{b}");
        assert!(out.exclusion.is_none(), "{b}");
        let changes = feed(&mut dis, &discloser).await;
        assert_eq!(changes.len(), 1, "{b}");
        assert_eq!(changes[0].disclosure, out.disclosure, "{b}");
        let rec = changes[0].record.as_ref().expect("record");
        assert_eq!(rec.penalty_kinds, vec![Warning as i32, Fine as i32], "{b}");
        assert_eq!(active(&mut dis, &discloser).await.len(), 1, "{b}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_decision_entered_after_its_publicity_ended_is_never_shared() {
    for db in backends().await {
        let b = db.backend;
        // Decided 2022-08-31, serious, 2019 rules: publicity ended 2025-08-31.
        let roles = [Role::Officer, Role::Discloser, Role::Auditor];
        let (server, mut enf, mut dis, [officer, discloser, auditor]) = started(&db, "2026-06-01", roles).await;
        let mut p = decision("沪浦应急罚〔2022〕88号", "2022-08-31", &credit_code("91310115", 88));
        p.severity = pb::Severity::Serious as i32;
        let (_, out) = recorded_then_published(&mut enf, &officer, p, "publish late entry").await;
        assert!(
            feed(&mut dis, &discloser).await.is_empty(),
            "{b}: pullers see no publication"
        );
        assert!(active(&mut dis, &discloser).await.is_empty(), "{b}");
        if !out.disclosure.is_empty() {
            let s = calls::get_disclosure(&mut dis, &discloser, &out.disclosure)
                .await
                .expect_err("not shared");
            assert_eq!(s.code(), Code::NotFound, "{b}: {s:?}");
            let a = calls::get_disclosure(&mut dis, &auditor, &out.disclosure)
                .await
                .expect("auditors see terminated records");
            assert_eq!(
                a.state,
                pb::DisclosureState::Expired as i32,
                "{b}: recorded as expired at once"
            );
            assert_eq!(a.publicity_ends_on, "2025-08-31", "{b}");
        } else {
            assert_eq!(out.state, pb::DecisionState::NotPublished as i32, "{b}");
            assert_eq!(out.exclusion.map(|e| e.rule).as_deref(), Some("ALREADY_EXPIRED"), "{b}");
        }
        server.stop().await;
    }
}
