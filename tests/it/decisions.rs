//! EnforcementService: recording penalty decisions (validation, idempotency,
//! duplicate numbers), legal review, etags, correction, withdrawal, fulfilment,
//! the append-only 全过程记录, and listing. Every test runs against SQLite and
//! PostgreSQL through a real tonic client.

use std::collections::HashSet;

use gongshi::api::pb;
use gongshi::app::keys::Caller;
use gongshi::app::{AppError, ReviewInput};
use gongshi::domain::ids::compute_id_check_char;
use gongshi::domain::lifecycle::{ReviewChecklist, ReviewOpinion, Role};
use tonic::{Code, Status};

use crate::support::publish_sample;
use crate::support::{
    self, KNOWN_ID_2, TestDb, TestServer, authority_code, backends, bad_fields, clock_at, create_and_publish,
    credit_code, full_checklist, reason, req,
};

use crate::support::calls::{
    Enf, all_decisions, correct, create, event_of, events, feed, fulfil, get, get_disclosure, kinds, list_all,
    list_page, publish, review, withdraw,
};

/// Today by the injected clock in most tests.
const TODAY: &str = "2026-11-29";
/// A decision date a few days before it (NDRC_36, general: public until 2027-11-20).
const DECIDED: &str = "2026-11-20";

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// Asserts an error with this code and ErrorInfo reason; returns the status.
#[track_caller]
fn expect_err<T: std::fmt::Debug>(r: Result<T, Status>, code: Code, why: &str, ctx: &str) -> Status {
    match r {
        Ok(v) => panic!("{ctx}: expected {code:?} {why}, got Ok({v:?})"),
        Err(s) => {
            assert_eq!(s.code(), code, "{ctx}: wrong code: {s:?}");
            assert_eq!(reason(&s), why, "{ctx}: wrong ErrorInfo reason: {s:?}");
            s
        }
    }
}

/// Asserts INVALID_ARGUMENT with this reason naming exactly these fields (in any order).
#[track_caller]
fn expect_invalid<T: std::fmt::Debug>(r: Result<T, Status>, why: &str, fields: &[&str], ctx: &str) -> Status {
    let s = expect_err(r, Code::InvalidArgument, why, ctx);
    let got: HashSet<String> = bad_fields(&s).into_iter().collect();
    let want: HashSet<String> = fields.iter().map(|f| f.to_string()).collect();
    assert_eq!(got, want, "{ctx}: field violations: {s:?}");
    s
}

/// A new key; returns (secret, key id).
async fn new_key(server: &TestServer, role: Role) -> (String, String) {
    let k = server
        .app
        .create_key(role, &format!("decisions test {role}"), None, None)
        .await
        .expect("create key");
    (k.secret, k.row.id)
}

/// KNOWN_ID_2's first 17 digits with the right check character. (support's
/// KNOWN_ID_2, "110105194912310037", fails GB 11643-1999: Σ mod 11 = 4, so the
/// check character is '8'.) Equal to KNOWN_ID_2 once that is corrected.
pub fn valid_id_2() -> String {
    let first17 = &KNOWN_ID_2[..17];
    format!("{first17}{}", compute_id_check_char(first17).expect("17 digits"))
}

/// support::decision with a legal representative whose ID number is valid.
pub fn decision(number: &str, decided_on: &str, party_code: &str) -> pb::PenaltyDecision {
    let mut d = support::decision(number, decided_on, party_code);
    if let Some(rep) = d.party.as_mut().and_then(|p| p.legal_representative.as_mut()) {
        rep.id_number = valid_id_2();
    }
    d
}

/// A valid credit code with its check character replaced by another one.
fn flip_last(code: &str) -> String {
    let mut s = code.to_string();
    let last = s.pop().expect("non-empty");
    s.push(if last == '0' { '1' } else { '0' });
    s
}

/// A valid-looking resident ID number with a correct check character but an impossible birth date.
fn id_with_bad_birth_date() -> String {
    let first17 = "11010519490230123"; // 1949-02-30
    let check = compute_id_check_char(first17).expect("17 digits");
    format!("{first17}{check}")
}

fn id_of(name: &str) -> &str {
    name.strip_prefix("penaltyDecisions/").expect("decision name")
}

struct Env {
    db: TestDb,
    server: TestServer,
    enf: Enf,
    officer: String,
    officer_id: String,
}

async fn env(db: TestDb, today: &str) -> Env {
    let server = TestServer::start(&db.url, clock_at(today)).await;
    let enf = server.enforcement().await;
    let (officer, officer_id) = new_key(&server, Role::Officer).await;
    Env {
        db,
        server,
        enf,
        officer,
        officer_id,
    }
}

// ---------------------------------------------------------------------------
// validation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn create_rejects_bad_credit_codes_and_id_numbers() {
    for db in backends().await {
        let Env {
            db,
            server,
            mut enf,
            officer,
            ..
        } = env(db, TODAY).await;
        let b = db.backend;
        let party = credit_code("91310115", 101);

        // Party credit code with a wrong check character.
        let mut d = decision("沪浦应急罚〔2026〕101号", DECIDED, &flip_last(&party));
        expect_invalid(
            create(&mut enf, &officer, "", d.clone()).await,
            "INVALID_CREDIT_CODE",
            &["penalty_decision.party.credit_code"],
            &format!("{b}: party credit code"),
        );

        // Authority credit code with a wrong check character.
        d = decision("沪浦应急罚〔2026〕101号", DECIDED, &party);
        d.authority.as_mut().unwrap().credit_code = flip_last(&authority_code());
        expect_invalid(
            create(&mut enf, &officer, "", d).await,
            "INVALID_CREDIT_CODE",
            &["penalty_decision.authority.credit_code"],
            &format!("{b}: authority credit code"),
        );

        // Data source credit code with a wrong check character.
        d = decision("沪浦应急罚〔2026〕101号", DECIDED, &party);
        d.data_source = Some(pb::Organization {
            name: "数据来源".into(),
            credit_code: flip_last(&authority_code()),
        });
        expect_invalid(
            create(&mut enf, &officer, "", d).await,
            "INVALID_CREDIT_CODE",
            &["penalty_decision.data_source.credit_code"],
            &format!("{b}: data source credit code"),
        );

        // Legal representative's ID number with a wrong check character.
        let mut bad_id = valid_id_2();
        let last = bad_id.pop().unwrap();
        bad_id.push(if last == '7' { '6' } else { '7' });
        d = decision("沪浦应急罚〔2026〕101号", DECIDED, &party);
        d.party
            .as_mut()
            .unwrap()
            .legal_representative
            .as_mut()
            .unwrap()
            .id_number = bad_id.clone();
        expect_invalid(
            create(&mut enf, &officer, "", d).await,
            "INVALID_ID_NUMBER",
            &["penalty_decision.party.legal_representative.id_number"],
            &format!("{b}: representative id number"),
        );

        // A correct check character over an impossible birth date (1949-02-30).
        d = decision("沪浦应急罚〔2026〕101号", DECIDED, &party);
        d.party
            .as_mut()
            .unwrap()
            .legal_representative
            .as_mut()
            .unwrap()
            .id_number = id_with_bad_birth_date();
        expect_invalid(
            create(&mut enf, &officer, "", d).await,
            "INVALID_ID_NUMBER",
            &["penalty_decision.party.legal_representative.id_number"],
            &format!("{b}: birth date"),
        );

        // The party's own ID number (individual business).
        d = decision("沪浦应急罚〔2026〕101号", DECIDED, &credit_code("92310115", 101));
        {
            let p = d.party.as_mut().unwrap();
            p.kind = pb::PartyKind::IndividualBusiness as i32;
            p.id_type = pb::IdType::ResidentIdCard as i32;
            p.id_number = bad_id.clone();
        }
        expect_invalid(
            create(&mut enf, &officer, "", d).await,
            "INVALID_ID_NUMBER",
            &["penalty_decision.party.id_number"],
            &format!("{b}: party id number"),
        );

        // Several bad fields at once: every one is reported.
        d = decision("", DECIDED, &flip_last(&party));
        d.authority.as_mut().unwrap().credit_code = flip_last(&authority_code());
        d.party
            .as_mut()
            .unwrap()
            .legal_representative
            .as_mut()
            .unwrap()
            .id_number = bad_id.clone();
        let s = create(&mut enf, &officer, "", d).await.expect_err("several bad fields");
        assert_eq!(s.code(), Code::InvalidArgument, "{b}: {s:?}");
        // One ErrorInfo, whose reason is that of one of the violations.
        assert!(
            ["INVALID_CREDIT_CODE", "INVALID_ID_NUMBER", "FIELD_REQUIRED"].contains(&reason(&s).as_str()),
            "{b}: {s:?}"
        );
        let got: HashSet<String> = bad_fields(&s).into_iter().collect();
        let want: HashSet<String> = [
            "penalty_decision.party.credit_code",
            "penalty_decision.authority.credit_code",
            "penalty_decision.party.legal_representative.id_number",
            "penalty_decision.decision_number",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(got, want, "{b}: all violations are reported: {s:?}");

        // A lower-case x check character is accepted and normalised; nothing invalid was stored.
        assert!(
            all_decisions(&mut enf, &officer).await.is_empty(),
            "{b}: invalid requests stored nothing"
        );
        d = decision("沪浦应急罚〔2026〕102号", DECIDED, &party.to_lowercase());
        d.party
            .as_mut()
            .unwrap()
            .legal_representative
            .as_mut()
            .unwrap()
            .id_number = "11010519491231002x".into();
        let ok = create(&mut enf, &officer, "", d)
            .await
            .expect("lower-case codes are valid");
        let p = ok.party.unwrap();
        assert_eq!(p.credit_code, party, "{b}: credit code normalised to upper case");
        assert_eq!(
            p.legal_representative.unwrap().id_number,
            "11010519491231002X",
            "{b}: x normalised to X"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn create_names_missing_and_invalid_fields() {
    for db in backends().await {
        let Env {
            db,
            server,
            mut enf,
            officer,
            ..
        } = env(db, TODAY).await;
        let b = db.backend;
        let party = credit_code("91310115", 201);
        let base = || decision("沪浦应急罚〔2026〕201号", DECIDED, &party);

        // One invalid field each: (change to a valid decision, reason, field, case).
        type Edit = fn(&mut pb::PenaltyDecision);
        let cases: [(Edit, &str, &str, &str); 7] = [
            (
                |d| d.decision_number = "   ".into(),
                "FIELD_REQUIRED",
                "penalty_decision.decision_number",
                "decision number",
            ),
            (
                |d| {
                    d.penalty_kinds.clear();
                    d.fine_fen = 0;
                },
                "FIELD_REQUIRED",
                "penalty_decision.penalty_kinds",
                "penalty kinds",
            ),
            // Tomorrow by the injected clock (2026-11-29) is in the future.
            (
                |d| d.decided_on = "2026-11-30".into(),
                "INVALID_DATE",
                "penalty_decision.decided_on",
                "future decision date",
            ),
            (
                |d| d.decided_on = "2026/11/20".into(),
                "INVALID_DATE",
                "penalty_decision.decided_on",
                "malformed decision date",
            ),
            (
                |d| d.fine_fen = -1,
                "INVALID_AMOUNT",
                "penalty_decision.fine_fen",
                "negative fine",
            ),
            (
                |d| d.party.as_mut().unwrap().name = String::new(),
                "FIELD_REQUIRED",
                "penalty_decision.party.name",
                "party name",
            ),
            (
                |d| d.party.as_mut().unwrap().kind = 0,
                "FIELD_REQUIRED",
                "penalty_decision.party.kind",
                "party kind",
            ),
        ];
        for (edit, why, field, case) in cases {
            let mut d = base();
            edit(&mut d);
            expect_invalid(
                create(&mut enf, &officer, "", d).await,
                why,
                &[field],
                &format!("{b}: {case}"),
            );
        }

        let r = enf
            .create_penalty_decision(req(
                pb::CreatePenaltyDecisionRequest {
                    request_id: String::new(),
                    penalty_decision: None,
                },
                &officer,
            ))
            .await;
        expect_invalid(r, "FIELD_REQUIRED", &["penalty_decision"], &format!("{b}: no decision"));

        // Several missing fields at once, all named.
        let mut d = base();
        d.decision_number.clear();
        d.penalty_kinds.clear();
        d.fine_fen = 0;
        d.decided_on = "2026-12-01".into();
        d.violation_facts.clear();
        let s = create(&mut enf, &officer, "", d)
            .await
            .expect_err("several missing fields");
        assert_eq!(s.code(), Code::InvalidArgument, "{b}: {s:?}");
        assert!(
            ["FIELD_REQUIRED", "INVALID_DATE"].contains(&reason(&s).as_str()),
            "{b}: {s:?}"
        );
        let got: HashSet<String> = bad_fields(&s).into_iter().collect();
        for f in [
            "penalty_decision.decision_number",
            "penalty_decision.penalty_kinds",
            "penalty_decision.decided_on",
            "penalty_decision.violation_facts",
        ] {
            assert!(got.contains(f), "{b}: {f} not named in {got:?}");
        }

        assert!(
            all_decisions(&mut enf, &officer).await.is_empty(),
            "{b}: nothing invalid was stored"
        );

        // Today itself is not in the future.
        d = base();
        d.decided_on = TODAY.into();
        create(&mut enf, &officer, "", d).await.expect("decided today is valid");
        // "Today" is the China Standard Time date: at 2026-11-29T16:30Z it is already
        // 2026-11-30 in Shanghai, so that date is no longer in the future.
        server.clock.set(
            chrono::DateTime::parse_from_rfc3339("2026-11-29T16:30:00Z")
                .unwrap()
                .to_utc(),
        );
        d = decision("沪浦应急罚〔2026〕202号", "2026-11-30", &party);
        create(&mut enf, &officer, "", d)
            .await
            .expect("2026-11-30 CST has begun");
        server.clock.set(
            chrono::DateTime::parse_from_rfc3339("2026-11-29T15:59:59Z")
                .unwrap()
                .to_utc(),
        );
        d = decision("沪浦应急罚〔2026〕203号", "2026-11-30", &party);
        expect_invalid(
            create(&mut enf, &officer, "", d).await,
            "INVALID_DATE",
            &["penalty_decision.decided_on"],
            &format!("{b}: 23:59:59 CST on the 29th"),
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn request_id_longer_than_64_characters_is_refused() {
    for db in backends().await {
        let Env {
            db,
            server,
            mut enf,
            officer,
            ..
        } = env(db, TODAY).await;
        let b = db.backend;
        let party = credit_code("91310115", 301);
        let long = "r".repeat(65);
        expect_invalid(
            create(
                &mut enf,
                &officer,
                &long,
                decision("沪浦应急罚〔2026〕301号", DECIDED, &party),
            )
            .await,
            "FIELD_TOO_LONG",
            &["request_id"],
            b,
        );
        // Counted in characters: 65 Chinese characters are refused, 64 accepted.
        let long_zh = "请".repeat(65);
        expect_invalid(
            create(
                &mut enf,
                &officer,
                &long_zh,
                decision("沪浦应急罚〔2026〕301号", DECIDED, &party),
            )
            .await,
            "FIELD_TOO_LONG",
            &["request_id"],
            b,
        );
        assert!(all_decisions(&mut enf, &officer).await.is_empty(), "{b}");
        let ok_zh = "请".repeat(64);
        let first = create(
            &mut enf,
            &officer,
            &ok_zh,
            decision("沪浦应急罚〔2026〕301号", DECIDED, &party),
        )
        .await
        .expect("64 characters are fine");
        let again = create(
            &mut enf,
            &officer,
            &ok_zh,
            decision("沪浦应急罚〔2026〕301号", DECIDED, &party),
        )
        .await
        .expect("retry");
        assert_eq!(first.name, again.name, "{b}");
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// idempotency and duplicate numbers
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_is_idempotent_per_key_and_request_id() {
    for db in backends().await {
        let Env {
            db,
            server,
            mut enf,
            officer,
            ..
        } = env(db, TODAY).await;
        let b = db.backend;
        let (officer2, _) = new_key(&server, Role::Officer).await;
        let party = credit_code("91310115", 401);

        let first = create(
            &mut enf,
            &officer,
            "req-1",
            decision("沪浦应急罚〔2026〕401号", DECIDED, &party),
        )
        .await
        .expect("create");
        // A plain retry returns the same decision, unchanged.
        let retry = create(
            &mut enf,
            &officer,
            "req-1",
            decision("沪浦应急罚〔2026〕401号", DECIDED, &party),
        )
        .await
        .expect("retry");
        assert_eq!(retry, first, "{b}: a retry returns the first result");
        // Even with other content, the same key + request_id returns the first result.
        let other = create(
            &mut enf,
            &officer,
            "req-1",
            decision("沪浦应急罚〔2026〕499号", DECIDED, &party),
        )
        .await
        .expect("retry with other content");
        assert_eq!(other.name, first.name, "{b}");
        assert_eq!(
            other.decision_number, "沪浦应急罚〔2026〕401号",
            "{b}: the first result is returned"
        );
        assert_eq!(
            all_decisions(&mut enf, &officer).await.len(),
            1,
            "{b}: retries created nothing"
        );
        assert_eq!(
            kinds(&events(&mut enf, &officer, &first.name).await),
            vec![pb::DecisionEventKind::Recorded],
            "{b}: one RECORDED event"
        );

        // Ten concurrent retries of a new request, each on its own connection and
        // released together: one decision, the same for all. Five rounds, to
        // give a race every chance to show.
        const ROUNDS: usize = 5;
        for round in 0..ROUNDS {
            let number = format!("沪浦应急罚〔2026〕41{round}号");
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(10));
            let mut tasks = Vec::new();
            for _ in 0..10 {
                let mut c = Enf::new(server.channel().await);
                let key = officer.clone();
                let d = decision(&number, DECIDED, &party);
                let barrier = barrier.clone();
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    create(&mut c, &key, &format!("req-concurrent-{round}"), d).await
                }));
            }
            let mut names = HashSet::new();
            for t in futures::future::join_all(tasks).await {
                let d = t
                    .expect("task")
                    .unwrap_or_else(|s| panic!("{b}: round {round}: concurrent retry failed: {s:?}"));
                names.insert(d.name);
            }
            assert_eq!(
                names.len(),
                1,
                "{b}: round {round}: every concurrent retry got the same decision: {names:?}"
            );
            let name = names.into_iter().next().unwrap();
            let all = all_decisions(&mut enf, &officer).await;
            assert_eq!(
                all.len(),
                2 + round,
                "{b}: round {round}: exactly one decision from the concurrent retries"
            );
            assert_eq!(
                all.iter().filter(|d| d.decision_number == number).count(),
                1,
                "{b}: round {round}"
            );
            assert_eq!(
                kinds(&events(&mut enf, &officer, &name).await),
                vec![pb::DecisionEventKind::Recorded],
                "{b}: round {round}: the concurrent retries recorded one event"
            );
        }

        // Another key with the same request_id: a new request. Same number at the
        // same authority is a duplicate.
        // (key, request id, expected code, reason, case)
        let same_number = [
            (
                &officer2,
                "req-1",
                Code::AlreadyExists,
                "DUPLICATE_DECISION_NUMBER",
                "other key, same number",
            ),
            (
                &officer,
                "",
                Code::AlreadyExists,
                "DUPLICATE_DECISION_NUMBER",
                "no request id, same number",
            ),
            (
                &officer,
                "req-2",
                Code::AlreadyExists,
                "DUPLICATE_DECISION_NUMBER",
                "new request id, same number",
            ),
        ];
        for (key, request_id, code, reason, case) in same_number {
            let dup = create(
                &mut enf,
                key,
                request_id,
                decision("沪浦应急罚〔2026〕401号", DECIDED, &party),
            )
            .await;
            expect_err(dup, code, reason, &format!("{b}: {case}"));
        }
        assert_eq!(
            all_decisions(&mut enf, &officer).await.len(),
            1 + ROUNDS,
            "{b}: duplicates created nothing"
        );

        // Another key with the same request_id and a new number: a new decision.
        let second = create(
            &mut enf,
            &officer2,
            "req-1",
            decision("沪浦应急罚〔2026〕403号", DECIDED, &party),
        )
        .await
        .expect("other key, new number");
        assert_ne!(second.name, first.name, "{b}");
        // The same number at another authority is a different decision.
        let mut d = decision("沪浦应急罚〔2026〕401号", DECIDED, &party);
        d.authority = Some(pb::Organization {
            name: "上海市市场监督管理局".into(),
            credit_code: credit_code("11310000", 2),
        });
        let third = create(&mut enf, &officer2, "", d)
            .await
            .expect("same number, other authority");
        assert_ne!(third.name, first.name, "{b}");
        // And the first key's retry still answers with its first decision.
        let retry = create(
            &mut enf,
            &officer,
            "req-1",
            decision("沪浦应急罚〔2026〕401号", DECIDED, &party),
        )
        .await
        .expect("retry");
        assert_eq!(retry.name, first.name, "{b}");
        assert_eq!(all_decisions(&mut enf, &officer).await.len(), 3 + ROUNDS, "{b}");
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// legal review
// ---------------------------------------------------------------------------

#[tokio::test]
async fn major_decisions_need_an_approving_legal_review() {
    for db in backends().await {
        let Env {
            db,
            server,
            mut enf,
            officer,
            officer_id,
        } = env(db, TODAY).await;
        let b = db.backend;
        let (reviewer, reviewer_id) = new_key(&server, Role::LegalReviewer).await;
        let party = credit_code("91310115", 501);

        // Major by the client's flag, by the fine threshold (100,000 元), by the kind.
        let mut flagged = decision("沪浦应急罚〔2026〕501号", DECIDED, &party);
        flagged.major = true;
        let mut big_fine = decision("沪浦应急罚〔2026〕502号", DECIDED, &party);
        big_fine.fine_fen = 10_000_000;
        let mut suspension = decision("沪浦应急罚〔2026〕503号", DECIDED, &party);
        suspension.penalty_kinds.push(pb::PenaltyKind::OrderSuspension as i32);
        let mut majors = Vec::new();
        for d in [flagged, big_fine, suspension] {
            let c = create(&mut enf, &officer, "", d).await.expect("create");
            assert!(c.major, "{b}: {} is major", c.decision_number);
            let r = publish(&mut enf, &officer, &c.name, &c.etag).await;
            let s = expect_err(
                r,
                Code::FailedPrecondition,
                "LEGAL_REVIEW_REQUIRED",
                &format!("{b}: {}", c.decision_number),
            );
            use tonic_types::StatusExt;
            let pf = s
                .get_details_precondition_failure()
                .expect("precondition failure details");
            assert!(
                pf.violations
                    .iter()
                    .any(|v| v.r#type == "LEGAL_REVIEW_REQUIRED" && v.subject == c.name),
                "{b}: {pf:?}"
            );
            let now = get(&mut enf, &officer, &c.name).await;
            assert_eq!(now.state, pb::DecisionState::Recorded as i32, "{b}: still recorded");
            assert!(now.disclosure.is_empty(), "{b}");
            majors.push(c);
        }
        // Just under the threshold is not major: published without review.
        let mut small = decision("沪浦应急罚〔2026〕504号", DECIDED, &party);
        small.fine_fen = 9_999_999;
        let small = create(&mut enf, &officer, "", small).await.expect("create");
        assert!(!small.major, "{b}: 99,999.99 元 is not major");
        let p = publish(&mut enf, &officer, &small.name, &small.etag)
            .await
            .expect("publish non-major");
        assert_eq!(p.state, pb::DecisionState::Published as i32, "{b}");

        let m = &majors[0];
        // 不同意 still blocks publication.
        let rv = review(
            &mut enf,
            &reviewer,
            &m.name,
            &m.etag,
            pb::ReviewOpinion::Disapprove,
            full_checklist(),
            "事实不清",
        )
        .await
        .expect("disapprove");
        let lr = rv.legal_review.clone().expect("review recorded");
        assert_eq!(lr.opinion, pb::ReviewOpinion::Disapprove as i32, "{b}");
        assert_eq!(lr.reviewer.as_ref().unwrap().key_id, reviewer_id, "{b}");
        let r = publish(&mut enf, &officer, &m.name, &rv.etag).await;
        expect_err(
            r,
            Code::FailedPrecondition,
            "LEGAL_REVIEW_REQUIRED",
            &format!("{b}: after DISAPPROVE"),
        );
        // 修改后提交 blocks too.
        let rv = review(
            &mut enf,
            &reviewer,
            &m.name,
            &rv.etag,
            pb::ReviewOpinion::Revise,
            full_checklist(),
            "补充证据后提交",
        )
        .await
        .expect("revise");
        let r = publish(&mut enf, &officer, &m.name, &rv.etag).await;
        expect_err(
            r,
            Code::FailedPrecondition,
            "LEGAL_REVIEW_REQUIRED",
            &format!("{b}: after REVISE"),
        );
        // A refusal needs a comment.
        let r = review(
            &mut enf,
            &reviewer,
            &m.name,
            &rv.etag,
            pb::ReviewOpinion::Disapprove,
            full_checklist(),
            "",
        )
        .await;
        expect_invalid(
            r,
            "FIELD_REQUIRED",
            &["comment"],
            &format!("{b}: disapprove without comment"),
        );

        // An approval with an incomplete checklist is refused, naming every gap.
        let mut partial = full_checklist();
        partial.procedure_ok = false;
        partial.documents_complete = false;
        let r = review(
            &mut enf,
            &reviewer,
            &m.name,
            &rv.etag,
            pb::ReviewOpinion::Approve,
            partial,
            "",
        )
        .await;
        expect_invalid(
            r,
            "INCOMPLETE_CHECKLIST",
            &["checklist.procedure_ok", "checklist.documents_complete"],
            &format!("{b}: incomplete checklist"),
        );
        let mut crime = full_checklist();
        crime.crime_transfer_needed = true;
        let r = review(
            &mut enf,
            &reviewer,
            &m.name,
            &rv.etag,
            pb::ReviewOpinion::Approve,
            crime,
            "",
        )
        .await;
        expect_invalid(
            r,
            "INCOMPLETE_CHECKLIST",
            &["checklist.crime_transfer_needed"],
            &format!("{b}: crime transfer"),
        );
        let still = get(&mut enf, &officer, &m.name).await;
        assert_eq!(
            still.legal_review.unwrap().opinion,
            pb::ReviewOpinion::Revise as i32,
            "{b}: refused reviews change nothing"
        );
        assert_eq!(still.etag, rv.etag, "{b}");
        let r = publish(&mut enf, &officer, &m.name, &rv.etag).await;
        expect_err(
            r,
            Code::FailedPrecondition,
            "LEGAL_REVIEW_REQUIRED",
            &format!("{b}: still blocked"),
        );

        // An officer cannot review at all.
        let r = review(
            &mut enf,
            &officer,
            &m.name,
            &rv.etag,
            pb::ReviewOpinion::Approve,
            full_checklist(),
            "",
        )
        .await;
        expect_err(
            r,
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
            &format!("{b}: officer reviewing"),
        );

        // An approving review by a legal reviewer lets it be published.
        let ok = review(
            &mut enf,
            &reviewer,
            &m.name,
            &rv.etag,
            pb::ReviewOpinion::Approve,
            full_checklist(),
            "同意",
        )
        .await
        .expect("approve");
        assert_eq!(
            ok.legal_review.as_ref().unwrap().opinion,
            pb::ReviewOpinion::Approve as i32,
            "{b}"
        );
        assert_eq!(ok.recorded_by.as_ref().unwrap().key_id, officer_id, "{b}");
        let p = publish(&mut enf, &officer, &m.name, &ok.etag)
            .await
            .expect("publish after approval");
        assert_eq!(p.state, pb::DecisionState::Published as i32, "{b}");
        assert!(p.disclosure.starts_with("disclosures/"), "{b}");
        // A published decision is no longer reviewed.
        let r = review(
            &mut enf,
            &reviewer,
            &m.name,
            &p.etag,
            pb::ReviewOpinion::Approve,
            full_checklist(),
            "",
        )
        .await;
        expect_err(
            r,
            Code::FailedPrecondition,
            "INVALID_STATE_TRANSITION",
            &format!("{b}: review after publish"),
        );

        // The other two majors, once approved, publish as well.
        for c in &majors[1..] {
            let ok = review(
                &mut enf,
                &reviewer,
                &c.name,
                &c.etag,
                pb::ReviewOpinion::Approve,
                full_checklist(),
                "",
            )
            .await
            .expect("approve");
            publish(&mut enf, &officer, &c.name, &ok.etag)
                .await
                .expect("publish after approval");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn the_recorder_cannot_review_their_own_decision() {
    for db in backends().await {
        let Env {
            db,
            server,
            mut enf,
            officer,
            officer_id,
        } = env(db, TODAY).await;
        let b = db.backend;
        let mut d = decision("沪浦应急罚〔2026〕601号", DECIDED, &credit_code("91310115", 601));
        d.major = true;
        let c = create(&mut enf, &officer, "", d).await.expect("create");
        let recorder = c.recorded_by.clone().expect("recorded_by");
        assert_eq!(recorder.key_id, officer_id, "{b}");
        // Roles make this impossible through the API, so ask the application
        // directly with a caller holding the recorder's key id.
        let caller = Caller {
            key_id: recorder.key_id.clone(),
            label: recorder.label.clone(),
            role: Role::LegalReviewer,
            enterprise: None,
        };
        let input = ReviewInput {
            opinion: ReviewOpinion::Approve,
            checklist: ReviewChecklist::all_satisfied(),
            comment: String::new(),
        };
        match server
            .app
            .review_decision(&caller, id_of(&c.name), "", input.clone(), None)
            .await
        {
            Err(AppError::PermissionDenied { reason, .. }) => {
                assert_eq!(reason, "REVIEWER_IS_RECORDER", "{b}")
            }
            other => panic!("{b}: expected REVIEWER_IS_RECORDER, got {other:?}"),
        }
        let now = get(&mut enf, &officer, &c.name).await;
        assert!(now.legal_review.is_none(), "{b}: no review recorded");
        assert_eq!(now.etag, c.etag, "{b}");
        assert_eq!(
            kinds(&events(&mut enf, &officer, &c.name).await),
            vec![pb::DecisionEventKind::Recorded],
            "{b}"
        );
        // Any other key may review it.
        let other = Caller {
            key_id: "someotherkey".into(),
            ..caller
        };
        server
            .app
            .review_decision(&other, id_of(&c.name), "", input, None)
            .await
            .expect("another reviewer may review");
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// etags
// ---------------------------------------------------------------------------

#[tokio::test]
async fn stale_etags_are_refused_and_current_ones_work() {
    for db in backends().await {
        let Env {
            db,
            server,
            mut enf,
            officer,
            ..
        } = env(db, TODAY).await;
        let b = db.backend;
        let (reviewer, _) = new_key(&server, Role::LegalReviewer).await;
        let party = credit_code("91310115", 701);

        let mut d = decision("沪浦应急罚〔2026〕701号", DECIDED, &party);
        d.major = true;
        let c = create(&mut enf, &officer, "", d).await.expect("create");
        let rv = review(
            &mut enf,
            &reviewer,
            &c.name,
            &c.etag,
            pb::ReviewOpinion::Approve,
            full_checklist(),
            "",
        )
        .await
        .expect("review");
        assert_ne!(rv.etag, c.etag, "{b}: a review changes the etag");
        let r = review(
            &mut enf,
            &reviewer,
            &c.name,
            &c.etag,
            pb::ReviewOpinion::Approve,
            full_checklist(),
            "",
        )
        .await;
        expect_err(r, Code::Aborted, "ETAG_MISMATCH", &format!("{b}: review"));

        // Publish.
        let r = publish(&mut enf, &officer, &c.name, &c.etag).await;
        let s = expect_err(r, Code::Aborted, "ETAG_MISMATCH", &format!("{b}: publish"));
        use tonic_types::StatusExt;
        let info = s.get_details_error_info().unwrap();
        assert_eq!(info.domain, "gongshi.v1", "{b}");
        assert_eq!(
            info.metadata.get("current_etag"),
            Some(&rv.etag),
            "{b}: the current etag is reported"
        );
        assert_eq!(
            get(&mut enf, &officer, &c.name).await.state,
            pb::DecisionState::Recorded as i32,
            "{b}"
        );
        let p = publish(&mut enf, &officer, &c.name, &rv.etag)
            .await
            .expect("publish with current etag");

        // RecordFulfillment.
        let r = fulfil(&mut enf, &officer, &c.name, &rv.etag, DECIDED, "缴款凭证").await;
        expect_err(r, Code::Aborted, "ETAG_MISMATCH", &format!("{b}: fulfilment"));
        let f = fulfil(&mut enf, &officer, &c.name, &p.etag, DECIDED, "缴款凭证")
            .await
            .expect("fulfil");

        // Correct.
        let patch = pb::PenaltyDecision {
            violation_facts: "更正后的违法事实".into(),
            ..Default::default()
        };
        let r = correct(
            &mut enf,
            &officer,
            &c.name,
            &p.etag,
            patch.clone(),
            &["violation_facts"],
            "笔误",
        )
        .await;
        expect_err(r, Code::Aborted, "ETAG_MISMATCH", &format!("{b}: correct"));
        assert_ne!(
            get(&mut enf, &officer, &c.name).await.violation_facts,
            "更正后的违法事实",
            "{b}: nothing changed"
        );
        let k = correct(
            &mut enf,
            &officer,
            &c.name,
            &f.etag,
            patch,
            &["violation_facts"],
            "笔误",
        )
        .await
        .expect("correct");

        // Withdraw.
        let r = withdraw(
            &mut enf,
            &officer,
            &c.name,
            &f.etag,
            pb::WithdrawalEvent::Revoked,
            "行政复议撤销",
        )
        .await;
        expect_err(r, Code::Aborted, "ETAG_MISMATCH", &format!("{b}: withdraw"));
        assert_eq!(
            get(&mut enf, &officer, &c.name).await.state,
            pb::DecisionState::Published as i32,
            "{b}"
        );
        let w = withdraw(
            &mut enf,
            &officer,
            &c.name,
            &k.etag,
            pb::WithdrawalEvent::Revoked,
            "行政复议撤销",
        )
        .await
        .expect("withdraw");
        assert_eq!(w.state, pb::DecisionState::Withdrawn as i32, "{b}");

        // Etags were all distinct.
        let tags: HashSet<&String> = [&c.etag, &rv.etag, &p.etag, &f.etag, &k.etag, &w.etag]
            .into_iter()
            .collect();
        assert_eq!(tags.len(), 6, "{b}: each change gives a new etag");
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// correction, withdrawal, fulfilment
// ---------------------------------------------------------------------------

#[tokio::test]
async fn correcting_a_published_decision_versions_its_disclosure() {
    for db in backends().await {
        let Env {
            db,
            server,
            mut enf,
            officer,
            ..
        } = env(db, TODAY).await;
        let b = db.backend;
        let mut dis = server.disclosures().await;
        let (discloser, _) = new_key(&server, Role::Discloser).await;
        let p = publish_sample(&mut enf, &officer, "沪浦应急罚〔2026〕801号", DECIDED, 801).await;
        let v1 = get_disclosure(&mut dis, &discloser, &p.disclosure)
            .await
            .expect("disclosure");
        assert_eq!(v1.version, 1, "{b}");

        // Bad requests first: none changes anything.
        let patch = pb::PenaltyDecision {
            violation_facts: "经复核，违法事实更正为：未如实记录培训情况。".into(),
            fine_fen: 1,
            ..Default::default()
        };
        let r = correct(
            &mut enf,
            &officer,
            &p.name,
            &p.etag,
            patch.clone(),
            &["nonsense"],
            "笔误",
        )
        .await;
        expect_invalid(
            r,
            "INVALID_UPDATE_MASK",
            &["update_mask.paths[0]"],
            &format!("{b}: unknown path"),
        );
        let r = correct(
            &mut enf,
            &officer,
            &p.name,
            &p.etag,
            patch.clone(),
            &["violation_facts", "party.secret"],
            "笔误",
        )
        .await;
        expect_invalid(
            r,
            "INVALID_UPDATE_MASK",
            &["update_mask.paths[1]"],
            &format!("{b}: second path unknown"),
        );
        let r = correct(
            &mut enf,
            &officer,
            &p.name,
            &p.etag,
            patch.clone(),
            &["violation_facts"],
            "",
        )
        .await;
        expect_invalid(r, "FIELD_REQUIRED", &["reason"], &format!("{b}: empty reason"));
        let r = correct(
            &mut enf,
            &officer,
            &p.name,
            &p.etag,
            patch.clone(),
            &["violation_facts"],
            "  \t ",
        )
        .await;
        expect_invalid(r, "FIELD_REQUIRED", &["reason"], &format!("{b}: blank reason"));
        let r = correct(&mut enf, &officer, &p.name, &p.etag, patch.clone(), &[], "笔误").await;
        expect_invalid(r, "FIELD_REQUIRED", &["update_mask"], &format!("{b}: empty mask"));
        // A masked field must still be valid.
        let r = correct(
            &mut enf,
            &officer,
            &p.name,
            &p.etag,
            pb::PenaltyDecision {
                violation_facts: String::new(),
                ..Default::default()
            },
            &["violation_facts"],
            "笔误",
        )
        .await;
        expect_invalid(
            r,
            "FIELD_REQUIRED",
            &["penalty_decision.violation_facts"],
            &format!("{b}: emptied field"),
        );
        assert_eq!(
            get_disclosure(&mut dis, &discloser, &p.disclosure)
                .await
                .unwrap()
                .version,
            1,
            "{b}"
        );

        // Only the masked field changes (the patch's fine_fen is ignored).
        let k = correct(
            &mut enf,
            &officer,
            &p.name,
            &p.etag,
            patch.clone(),
            &["violation_facts"],
            "笔误更正",
        )
        .await
        .expect("correct");
        assert_eq!(k.violation_facts, patch.violation_facts, "{b}");
        assert_eq!(k.fine_fen, 2_000_000, "{b}: unmasked fields keep their values");
        assert_eq!(k.state, pb::DecisionState::Published as i32, "{b}");
        let v2 = get_disclosure(&mut dis, &discloser, &p.disclosure)
            .await
            .expect("disclosure");
        assert_eq!(v2.version, 2, "{b}: a new disclosure version");
        assert_ne!(v2.content_sha256, v1.content_sha256, "{b}: a new content hash");
        assert_eq!(v2.violation_facts, patch.violation_facts, "{b}");
        assert_eq!(v2.fine_fen, 2_000_000, "{b}");
        assert_eq!(v2.publicity_ends_on, v1.publicity_ends_on, "{b}");

        let changes = feed(&mut dis, &discloser).await;
        let kinds_seen: Vec<i32> = changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds_seen,
            vec![pb::ChangeKind::Published as i32, pb::ChangeKind::Corrected as i32],
            "{b}"
        );
        let corrected = &changes[1];
        assert_eq!(corrected.disclosure, p.disclosure, "{b}");
        assert_eq!(corrected.version, 2, "{b}");
        assert_eq!(corrected.content_sha256, v2.content_sha256, "{b}");
        assert_eq!(
            corrected.record.as_ref().expect("record").violation_facts,
            patch.violation_facts,
            "{b}"
        );
        assert!(corrected.sequence > changes[0].sequence, "{b}");

        let ce = event_of(&mut enf, &officer, &p.name, pb::DecisionEventKind::Corrected).await;
        assert!(
            ce.details_json.contains("violation_facts") && ce.details_json.contains("笔误更正"),
            "{b}: {ce:?}"
        );
        assert_eq!(ce.document_sha256, vec![v2.content_sha256.clone()], "{b}");

        // Correcting to the same content makes no new version and no feed entry.
        let k2 = correct(
            &mut enf,
            &officer,
            &p.name,
            &k.etag,
            patch.clone(),
            &["violation_facts"],
            "重复更正",
        )
        .await
        .expect("no-op correct");
        assert_ne!(k2.etag, k.etag, "{b}");
        assert_eq!(
            get_disclosure(&mut dis, &discloser, &p.disclosure)
                .await
                .unwrap()
                .version,
            2,
            "{b}"
        );
        assert_eq!(feed(&mut dis, &discloser).await.len(), 2, "{b}");
        server.stop().await;
    }
}

#[tokio::test]
async fn withdrawal_terminates_the_disclosure_once() {
    for db in backends().await {
        let Env {
            db,
            server,
            mut enf,
            officer,
            ..
        } = env(db, TODAY).await;
        let b = db.backend;
        let mut dis = server.disclosures().await;
        let (discloser, _) = new_key(&server, Role::Discloser).await;
        let (auditor, _) = new_key(&server, Role::Auditor).await;
        let p = publish_sample(&mut enf, &officer, "沪浦应急罚〔2026〕901号", DECIDED, 901).await;

        let r = withdraw(
            &mut enf,
            &officer,
            &p.name,
            &p.etag,
            pb::WithdrawalEvent::Unspecified,
            "x",
        )
        .await;
        expect_invalid(r, "FIELD_REQUIRED", &["legal_event"], &format!("{b}: no legal event"));
        let r = withdraw(&mut enf, &officer, &p.name, &p.etag, pb::WithdrawalEvent::Revoked, " ").await;
        expect_invalid(
            r,
            "FIELD_REQUIRED",
            &["public_reason"],
            &format!("{b}: no public reason"),
        );

        let why = "该处罚决定经行政复议被撤销";
        let w = withdraw(&mut enf, &officer, &p.name, &p.etag, pb::WithdrawalEvent::Revoked, why)
            .await
            .expect("withdraw");
        assert_eq!(w.state, pb::DecisionState::Withdrawn as i32, "{b}");
        let wd = w.withdrawal.clone().expect("withdrawal");
        assert_eq!(wd.legal_event, pb::WithdrawalEvent::Revoked as i32, "{b}");
        assert_eq!(wd.public_reason, why, "{b}");
        assert!(wd.withdraw_time.is_some(), "{b}");
        assert_eq!(
            get(&mut enf, &officer, &p.name).await.state,
            pb::DecisionState::Withdrawn as i32,
            "{b}"
        );

        // The disclosure is no longer shared; auditors see it as WITHDRAWN.
        let r = get_disclosure(&mut dis, &discloser, &p.disclosure).await;
        expect_err(
            r,
            Code::NotFound,
            "NOT_FOUND",
            &format!("{b}: discloser reads withdrawn"),
        );
        let a = get_disclosure(&mut dis, &auditor, &p.disclosure)
            .await
            .expect("auditor reads terminated");
        assert_eq!(a.state, pb::DisclosureState::Withdrawn as i32, "{b}");
        assert!(a.terminated_at.is_some(), "{b}");
        let listed = dis
            .list_disclosures(req(pb::ListDisclosuresRequest::default(), &discloser))
            .await
            .expect("list")
            .into_inner();
        assert!(listed.disclosures.is_empty(), "{b}: no active disclosure left");

        let changes = feed(&mut dis, &discloser).await;
        assert_eq!(changes.len(), 2, "{b}: {changes:?}");
        let t = &changes[1];
        assert_eq!(t.kind, pb::ChangeKind::Terminated as i32, "{b}");
        assert_eq!(t.reason, pb::TerminationReason::Withdrawn as i32, "{b}");
        assert_eq!(t.public_reason, why, "{b}");
        assert_eq!(t.disclosure, p.disclosure, "{b}");
        assert!(t.record.is_none(), "{b}: a termination carries no record");
        assert!(
            changes[0].record.is_none(),
            "{b}: earlier changes of a terminated record are served without content"
        );

        // A second withdrawal is an invalid transition, and changes nothing.
        let r = withdraw(
            &mut enf,
            &officer,
            &p.name,
            &w.etag,
            pb::WithdrawalEvent::Changed,
            "再次撤回",
        )
        .await;
        expect_err(
            r,
            Code::FailedPrecondition,
            "INVALID_STATE_TRANSITION",
            &format!("{b}: second withdrawal"),
        );
        assert_eq!(feed(&mut dis, &discloser).await.len(), 2, "{b}");
        let ev = kinds(&events(&mut enf, &officer, &p.name).await);
        assert_eq!(
            ev.iter().filter(|k| **k == pb::DecisionEventKind::Withdrawn).count(),
            1,
            "{b}"
        );
        // Nor can it be corrected, fulfilled or published.
        let patch = pb::PenaltyDecision {
            remarks: "x".into(),
            ..Default::default()
        };
        let r = correct(&mut enf, &officer, &p.name, &w.etag, patch, &["remarks"], "更正").await;
        expect_err(
            r,
            Code::FailedPrecondition,
            "INVALID_STATE_TRANSITION",
            &format!("{b}: correct withdrawn"),
        );
        let r = publish(&mut enf, &officer, &p.name, &w.etag).await;
        expect_err(
            r,
            Code::FailedPrecondition,
            "INVALID_STATE_TRANSITION",
            &format!("{b}: publish withdrawn"),
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn fulfilment_is_recorded_and_dated_sensibly() {
    for db in backends().await {
        let Env {
            db,
            server,
            mut enf,
            officer,
            officer_id,
        } = env(db, TODAY).await;
        let b = db.backend;
        let p = publish_sample(&mut enf, &officer, "沪浦应急罚〔2026〕1001号", DECIDED, 1001).await;

        let r = fulfil(&mut enf, &officer, &p.name, &p.etag, "2026-11-19", "缴款凭证").await;
        expect_invalid(
            r,
            "INVALID_DATE",
            &["fulfilled_on"],
            &format!("{b}: before the decision"),
        );
        let r = fulfil(&mut enf, &officer, &p.name, &p.etag, "2026-11-30", "缴款凭证").await;
        expect_invalid(r, "INVALID_DATE", &["fulfilled_on"], &format!("{b}: in the future"));
        let r = fulfil(&mut enf, &officer, &p.name, &p.etag, "25/11/2026", "缴款凭证").await;
        expect_invalid(r, "INVALID_DATE", &["fulfilled_on"], &format!("{b}: malformed"));
        let r = fulfil(&mut enf, &officer, &p.name, &p.etag, "", "缴款凭证").await;
        expect_invalid(r, "FIELD_REQUIRED", &["fulfilled_on"], &format!("{b}: missing date"));
        let r = fulfil(&mut enf, &officer, &p.name, &p.etag, "2026-11-25", "").await;
        expect_invalid(r, "FIELD_REQUIRED", &["evidence"], &format!("{b}: missing evidence"));
        assert!(
            get(&mut enf, &officer, &p.name).await.fulfillment.is_none(),
            "{b}: refusals stored nothing"
        );

        let f = fulfil(
            &mut enf,
            &officer,
            &p.name,
            &p.etag,
            "2026-11-25",
            "罚款缴款书 No. 310115-2026-0001",
        )
        .await
        .expect("fulfil");
        let ff = f.fulfillment.expect("fulfilment");
        assert_eq!(ff.fulfilled_on, "2026-11-25", "{b}");
        assert_eq!(ff.evidence, "罚款缴款书 No. 310115-2026-0001", "{b}");
        assert_eq!(ff.recorded_by.unwrap().key_id, officer_id, "{b}");
        let seen = get(&mut enf, &officer, &p.name)
            .await
            .fulfillment
            .expect("visible on read");
        assert_eq!(seen.fulfilled_on, "2026-11-25", "{b}");
        assert_eq!(seen.evidence, "罚款缴款书 No. 310115-2026-0001", "{b}");
        // The decision day itself and today are valid dates.
        let same_day = fulfil(&mut enf, &officer, &p.name, &f.etag, DECIDED, "当场缴纳")
            .await
            .expect("same day");
        fulfil(&mut enf, &officer, &p.name, &same_day.etag, TODAY, "今日缴纳")
            .await
            .expect("today");
        let ev = kinds(&events(&mut enf, &officer, &p.name).await);
        assert_eq!(
            ev.iter()
                .filter(|k| **k == pb::DecisionEventKind::FulfillmentRecorded)
                .count(),
            3,
            "{b}"
        );
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// the 全过程记录
// ---------------------------------------------------------------------------

/// (id, summary) of every event, and (sequence, kind, public_reason) of every change, read raw.
macro_rules! raw_rows {
    ($pool:expr) => {{
        let ev: Vec<(i64, String)> = sqlx::query_as("SELECT id, summary FROM decision_events ORDER BY id")
            .fetch_all($pool)
            .await
            .expect("read events");
        let ch: Vec<(i64, String, Option<String>)> =
            sqlx::query_as("SELECT sequence, kind, public_reason FROM disclosure_changes ORDER BY sequence")
                .fetch_all($pool)
                .await
                .expect("read changes");
        (ev, ch)
    }};
}

macro_rules! try_tamper {
    ($pool:expr, $b:expr) => {{
        for sql in [
            "UPDATE decision_events SET summary = 'x'",
            "DELETE FROM decision_events",
            "UPDATE disclosure_changes SET public_reason = 'x'",
            "DELETE FROM disclosure_changes",
        ] {
            let r = sqlx::query(sql).execute($pool).await;
            assert!(r.is_err(), "{}: `{sql}` must fail, got {r:?}", $b);
        }
    }};
}

#[tokio::test]
async fn events_are_ordered_paged_and_append_only() {
    for db in backends().await {
        let Env {
            db,
            server,
            mut enf,
            officer,
            officer_id,
        } = env(db, TODAY).await;
        let b = db.backend;
        let (reviewer, reviewer_id) = new_key(&server, Role::LegalReviewer).await;
        let (auditor, _) = new_key(&server, Role::Auditor).await;
        let (officer2, _) = new_key(&server, Role::Officer).await;

        let mut d = decision("沪浦应急罚〔2026〕1101号", DECIDED, &credit_code("91310115", 1101));
        d.major = true;
        let c = create(&mut enf, &officer, "", d).await.expect("create");
        let rv = review(
            &mut enf,
            &reviewer,
            &c.name,
            &c.etag,
            pb::ReviewOpinion::Approve,
            full_checklist(),
            "同意",
        )
        .await
        .expect("review");
        let p = publish(&mut enf, &officer, &c.name, &rv.etag).await.expect("publish");
        let f = fulfil(&mut enf, &officer, &c.name, &p.etag, "2026-11-25", "缴款凭证")
            .await
            .expect("fulfil");
        let k = correct(
            &mut enf,
            &officer,
            &c.name,
            &f.etag,
            pb::PenaltyDecision {
                remarks: "已更正备注".into(),
                ..Default::default()
            },
            &["remarks"],
            "补充备注",
        )
        .await
        .expect("correct");
        withdraw(
            &mut enf,
            &officer,
            &c.name,
            &k.etag,
            pb::WithdrawalEvent::ConfirmedIllegal,
            "经法院确认违法",
        )
        .await
        .expect("withdraw");

        use pb::DecisionEventKind as K;
        let all = events(&mut enf, &auditor, &c.name).await;
        // Each response showed the caller the legal representative's ID
        // number: a SENSITIVE_DATA_READ in the act's own transaction (after
        // the act's event; before it for publication, whose feed entry must
        // be the transaction's last write).
        assert_eq!(
            all.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [
                K::Recorded,
                K::SensitiveDataRead,
                K::LegalReviewed,
                K::SensitiveDataRead,
                K::SensitiveDataRead,
                K::Published,
                K::FulfillmentRecorded,
                K::SensitiveDataRead,
                K::Corrected,
                K::SensitiveDataRead,
                K::Withdrawn,
                K::SensitiveDataRead,
            ]
            .iter()
            .map(|k| *k as i32)
            .collect::<Vec<_>>(),
            "{b}: {all:#?}"
        );
        let actors: Vec<(String, String)> = all
            .iter()
            .map(|e| {
                let a = e.actor.clone().expect("actor");
                (a.key_id, a.role)
            })
            .collect();
        let off = (officer_id.clone(), "officer".to_string());
        let rev = (reviewer_id.clone(), "legal_reviewer".to_string());
        assert_eq!(
            actors,
            vec![
                off.clone(),
                off.clone(),
                rev.clone(),
                rev,
                off.clone(),
                off.clone(),
                off.clone(),
                off.clone(),
                off.clone(),
                off.clone(),
                off.clone(),
                off
            ],
            "{b}"
        );
        for w in all.windows(2) {
            assert!(w[0].sequence < w[1].sequence, "{b}: sequences increase");
        }
        for e in &all {
            assert_eq!(e.name, format!("{}/events/{}", c.name, e.sequence), "{b}");
            assert!(e.time.is_some(), "{b}");
            assert!(!e.summary.is_empty(), "{b}");
            serde_json::from_str::<serde_json::Value>(&e.details_json).expect("details are JSON");
        }
        assert_eq!(
            events(&mut enf, &officer, &c.name).await,
            all,
            "{b}: officers read the same record"
        );

        // Paging with page_size 2.
        let mut paged = Vec::new();
        let mut token = String::new();
        let mut first_token = String::new();
        for page_no in 0.. {
            assert!(page_no < 10, "{b}: paging does not end");
            let r = enf
                .list_penalty_decision_events(req(
                    pb::ListPenaltyDecisionEventsRequest {
                        name: c.name.clone(),
                        page_size: 2,
                        page_token: token.clone(),
                    },
                    &auditor,
                ))
                .await
                .expect("page")
                .into_inner();
            assert!(r.events.len() <= 2, "{b}");
            paged.extend(r.events);
            if page_no == 0 {
                first_token = r.next_page_token.clone();
            }
            if r.next_page_token.is_empty() {
                break;
            }
            token = r.next_page_token;
        }
        assert_eq!(paged, all, "{b}: pages give every event once, in order");
        assert!(!first_token.is_empty(), "{b}");
        // The token is refused for another key, another role, another decision.
        for (who, key, name) in [
            ("another officer", &officer2, &c.name),
            ("an officer", &officer, &c.name),
        ] {
            let r = enf
                .list_penalty_decision_events(req(
                    pb::ListPenaltyDecisionEventsRequest {
                        name: name.clone(),
                        page_size: 2,
                        page_token: first_token.clone(),
                    },
                    key,
                ))
                .await;
            expect_invalid(
                r,
                "INVALID_PAGE_TOKEN",
                &["page_token"],
                &format!("{b}: token used by {who}"),
            );
        }
        let other = create(
            &mut enf,
            &officer,
            "",
            decision("沪浦应急罚〔2026〕1102号", DECIDED, &credit_code("91310115", 1102)),
        )
        .await
        .expect("create other");
        let r = enf
            .list_penalty_decision_events(req(
                pb::ListPenaltyDecisionEventsRequest {
                    name: other.name.clone(),
                    page_size: 2,
                    page_token: first_token.clone(),
                },
                &auditor,
            ))
            .await;
        expect_invalid(
            r,
            "INVALID_PAGE_TOKEN",
            &["page_token"],
            &format!("{b}: token used for another decision"),
        );
        let r = enf
            .list_penalty_decision_events(req(
                pb::ListPenaltyDecisionEventsRequest {
                    name: c.name.clone(),
                    page_size: -1,
                    page_token: String::new(),
                },
                &auditor,
            ))
            .await;
        expect_invalid(
            r,
            "INVALID_PAGE_SIZE",
            &["page_size"],
            &format!("{b}: negative page size"),
        );
        let r = enf
            .list_penalty_decision_events(req(
                pb::ListPenaltyDecisionEventsRequest {
                    name: "penaltyDecisions/NOSUCH0000".into(),
                    page_size: 2,
                    page_token: String::new(),
                },
                &auditor,
            ))
            .await;
        expect_err(r, Code::NotFound, "NOT_FOUND", &format!("{b}: unknown decision"));

        // Append-only at the database: a direct UPDATE or DELETE fails and changes nothing.
        if db.backend == "postgres" {
            let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
            let before = raw_rows!(&pool);
            assert!(!before.0.is_empty() && before.1.len() >= 2, "{b}: {before:?}");
            try_tamper!(&pool, b);
            for sql in [
                "TRUNCATE decision_events CASCADE",
                "TRUNCATE disclosure_changes CASCADE",
            ] {
                let r = sqlx::query(sql).execute(&pool).await;
                assert!(r.is_err(), "{b}: `{sql}` must fail, got {r:?}");
            }
            assert_eq!(raw_rows!(&pool), before, "{b}: rows unchanged");
            pool.close().await;
        } else {
            let pool = sqlx::SqlitePool::connect(&db.url).await.expect("connect");
            let before = raw_rows!(&pool);
            assert!(!before.0.is_empty() && before.1.len() >= 2, "{b}: {before:?}");
            try_tamper!(&pool, b);
            assert_eq!(raw_rows!(&pool), before, "{b}: rows unchanged");
            pool.close().await;
        }
        assert_eq!(
            events(&mut enf, &auditor, &c.name).await,
            all,
            "{b}: the record reads the same"
        );
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// listing
// ---------------------------------------------------------------------------

#[tokio::test]
async fn list_filters_and_keyset_pages() {
    for db in backends().await {
        let Env {
            db,
            server,
            mut enf,
            officer,
            ..
        } = env(db, TODAY).await;
        let b = db.backend;
        let (auditor, _) = new_key(&server, Role::Auditor).await;
        let a = credit_code("91310115", 1201);
        let bb = credit_code("91310115", 1202);
        let specs = [
            ("沪浦应急罚〔2026〕1201号", "2026-01-10", &a, true),
            ("沪浦应急罚〔2026〕1202号", "2026-02-10", &a, false),
            ("沪浦应急罚〔2026〕1203号", "2026-03-10", &a, false),
            ("沪浦应急罚〔2026〕1204号", "2026-04-10", &bb, true),
            ("沪浦应急罚〔2026〕1205号", "2026-05-10", &bb, false),
        ];
        let mut names = Vec::new();
        for (number, decided, party, publish_it) in specs {
            let d = decision(number, decided, party);
            let n = if publish_it {
                create_and_publish(&mut enf, &officer, d).await.name
            } else {
                create(&mut enf, &officer, "", d).await.expect("create").name
            };
            names.push(n);
        }
        let numbers = |v: &[pb::PenaltyDecision]| -> Vec<String> {
            let mut n: Vec<String> = v.iter().map(|d| d.decision_number.clone()).collect();
            n.sort();
            n
        };
        let nums = |idx: &[usize]| -> Vec<String> { idx.iter().map(|i| specs[*i].0.to_string()).collect() };
        let q = |f: fn(&mut pb::ListPenaltyDecisionsRequest)| {
            let mut r = pb::ListPenaltyDecisionsRequest {
                page_size: 1000,
                ..Default::default()
            };
            f(&mut r);
            r
        };

        // Each row: the case, who lists, the party filter ("" for none), the
        // other filters, and which of the specs it finds.
        const PUBLISHED: i32 = pb::DecisionState::Published as i32;
        let lower_b = bb.to_lowercase();
        let filtered = [
            ("party A", &officer, a.as_str(), q(|_| {}), &[0, 1, 2][..]),
            ("party B (any case)", &officer, lower_b.as_str(), q(|_| {}), &[3, 4]),
            (
                "party A, published",
                &officer,
                a.as_str(),
                q(|r| r.state = PUBLISHED),
                &[0],
            ),
            ("published", &auditor, "", q(|r| r.state = PUBLISHED), &[0, 3]),
            (
                "recorded",
                &officer,
                "",
                q(|r| r.state = pb::DecisionState::Recorded as i32),
                &[1, 2, 4],
            ),
            (
                "decided range, inclusive",
                &officer,
                "",
                q(|r| {
                    r.decided_on_from = "2026-02-10".into();
                    r.decided_on_to = "2026-04-10".into();
                }),
                &[1, 2, 3],
            ),
            (
                "decided from",
                &officer,
                "",
                q(|r| r.decided_on_from = "2026-04-11".into()),
                &[4],
            ),
            (
                "decided to",
                &officer,
                "",
                q(|r| r.decided_on_to = "2026-01-10".into()),
                &[0],
            ),
        ];
        for (case, key, party, mut r, want) in filtered {
            r.party_credit_code = party.to_string();
            let got = numbers(&list_all(&mut enf, key, r).await);
            assert_eq!(got, nums(want), "{b}: {case}");
        }
        let r = q(|r| r.party_credit_code = credit_code("91310115", 1299));
        assert!(list_all(&mut enf, &officer, r).await.is_empty(), "{b}: unknown party");

        // Keyset pages of 2: three pages, every decision exactly once.
        let page_of = |page_size, page_token: &str| pb::ListPenaltyDecisionsRequest {
            page_size,
            page_token: page_token.to_string(),
            ..Default::default()
        };
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        let mut first_token = String::new();
        loop {
            let page = list_page(&mut enf, &officer, page_of(2, &token)).await.expect("page");
            pages += 1;
            assert!(pages <= 3, "{b}: more than 3 pages");
            assert!(page.penalty_decisions.len() <= 2, "{b}");
            seen.extend(page.penalty_decisions.into_iter().map(|d| d.name));
            if pages == 1 {
                first_token = page.next_page_token.clone();
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(pages, 3, "{b}");
        assert_eq!(seen.len(), 5, "{b}: {seen:?}");
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), 5, "{b}: no decision twice");
        let mut sorted = names.clone();
        sorted.sort();
        let mut got = seen.clone();
        got.sort();
        assert_eq!(got, sorted, "{b}: every decision");

        // Page sizes: a large one is clamped, none is the default.
        let big = list_page(&mut enf, &officer, page_of(5000, ""))
            .await
            .expect("page_size 5000 is clamped, not refused");
        assert_eq!(big.penalty_decisions.len(), 5, "{b}");
        assert!(big.next_page_token.is_empty(), "{b}");
        let dflt = list_page(&mut enf, &officer, Default::default())
            .await
            .expect("default page size");
        assert_eq!(dflt.penalty_decisions.len(), 5, "{b}");

        // A token belongs to its caller and its filter; bad sizes and
        // filters are named.
        let refused = [
            (
                "token of another key",
                &auditor,
                page_of(2, &first_token),
                "INVALID_PAGE_TOKEN",
                "page_token",
            ),
            (
                "token with another filter",
                &officer,
                pb::ListPenaltyDecisionsRequest {
                    party_credit_code: a.clone(),
                    ..page_of(2, &first_token)
                },
                "INVALID_PAGE_TOKEN",
                "page_token",
            ),
            (
                "negative page size",
                &officer,
                page_of(-1, ""),
                "INVALID_PAGE_SIZE",
                "page_size",
            ),
            (
                "bad party filter",
                &officer,
                pb::ListPenaltyDecisionsRequest {
                    party_credit_code: flip_last(&a),
                    ..Default::default()
                },
                "INVALID_CREDIT_CODE",
                "party_credit_code",
            ),
            (
                "bad date filter",
                &officer,
                pb::ListPenaltyDecisionsRequest {
                    decided_on_from: "2026-13-01".into(),
                    ..Default::default()
                },
                "INVALID_DATE",
                "decided_on_from",
            ),
        ];
        for (case, key, r, why, field) in refused {
            let r = list_page(&mut enf, key, r).await;
            expect_invalid(r, why, &[field], &format!("{b}: {case}"));
        }
        server.stop().await;
    }
}
