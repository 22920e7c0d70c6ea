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
use pb::DecisionEventKind as K;
use pb::ReviewOpinion as O;
use pb::WithdrawalEvent as W;
use tonic::{Code, Status};

use crate::support::publish_sample;
use crate::support::{
    self, KNOWN_ID_2, TestDb, TestServer, authority_code, backends, bad_fields, clock_at, create_and_publish,
    credit_code, full_checklist, reason, req,
};

use crate::support::calls::{
    Enf, all_decisions, correction, create, event_of, events, events_of, feed, fulfil, get, get_disclosure, kinds,
    list_all, list_page, patch_of, publish, review, slip_correction, withdraw,
};

/// Today by the injected clock in most tests.
const TODAY: &str = "2026-11-29";
/// A decision date a few days before it (NDRC_36, general: public until 2027-11-20).
const DECIDED: &str = "2026-11-20";
/// The field, under `penalty_decision`, of the legal representative's ID number.
const REP_ID: &str = "party.legal_representative.id_number";

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

/// Asserts an error with this code refusing several fields at once: its one
/// ErrorInfo carries the reason of one of the violations, one of `reasons`.
/// Returns the fields its violations name.
#[track_caller]
fn expect_err_among<T: std::fmt::Debug>(
    r: Result<T, Status>,
    code: Code,
    reasons: &[&str],
    ctx: &str,
) -> HashSet<String> {
    let s = r.expect_err(ctx);
    assert_eq!(s.code(), code, "{ctx}: {s:?}");
    assert!(reasons.contains(&reason(&s).as_str()), "{ctx}: {s:?}");
    bad_fields(&s).into_iter().collect()
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

/// The test's decision number `n` (沪浦应急罚〔2026〕`n`号) on the enterprise
/// `credit_code("91310115", n)`, decided on [`DECIDED`].
fn sample(n: u64) -> pb::PenaltyDecision {
    decision(
        &format!("沪浦应急罚〔2026〕{n}号"),
        DECIDED,
        &credit_code("91310115", n),
    )
}

/// A valid credit code with its check character replaced by another one.
fn flip_last(code: &str) -> String {
    let mut s = code.to_string();
    let last = s.pop().expect("non-empty");
    s.push(if last == '0' { '1' } else { '0' });
    s
}

/// [`valid_id_2`] with a wrong check character.
fn id_with_bad_check_char() -> String {
    let mut id = valid_id_2();
    let last = id.pop().expect("non-empty");
    id.push(if last == '7' { '6' } else { '7' });
    id
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

/// The party of a decision.
fn party(d: &mut pb::PenaltyDecision) -> &mut pb::Party {
    d.party.as_mut().expect("party")
}

/// Sets the field at `path` (under `penalty_decision`) of a decision to
/// `value`, written as text. "" for `penalty_kinds` leaves none (and so no
/// fine); a `data_source` is one named 数据来源; the party's own `id_number`
/// makes the party an individual business (credit code 92…) identified by a
/// resident ID card.
fn set_field(d: &mut pb::PenaltyDecision, path: &str, value: &str) {
    let number = |v: &str| v.parse().expect("a number");
    match path {
        "decision_number" => d.decision_number = value.into(),
        "decided_on" => d.decided_on = value.into(),
        "violation_facts" => d.violation_facts = value.into(),
        "fine_fen" => d.fine_fen = number(value),
        "penalty_kinds" if value.is_empty() => {
            d.penalty_kinds.clear();
            d.fine_fen = 0;
        }
        "authority.credit_code" => d.authority.as_mut().expect("authority").credit_code = value.into(),
        "data_source.credit_code" => {
            d.data_source = Some(pb::Organization {
                name: "数据来源".into(),
                credit_code: value.into(),
            })
        }
        "party.name" => party(d).name = value.into(),
        "party.kind" => party(d).kind = number(value) as i32,
        "party.credit_code" => party(d).credit_code = value.into(),
        "party.id_number" => {
            let p = party(d);
            p.credit_code = credit_code("92310115", 101);
            p.kind = pb::PartyKind::IndividualBusiness as i32;
            p.id_type = pb::IdType::ResidentIdCard as i32;
            p.id_number = value.into();
        }
        REP_ID => {
            let rep = party(d).legal_representative.as_mut().expect("legal representative");
            rep.id_number = value.into();
        }
        other => panic!("set_field: no case for {other} = {value:?}"),
    }
}

/// An instant, from RFC 3339.
fn utc(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s).expect("RFC 3339").to_utc()
}

/// The version of a disclosure as a key reads it.
async fn disclosure_version(dis: &mut support::calls::Dis, key: &str, name: &str) -> i32 {
    get_disclosure(dis, key, name).await.expect("disclosure").version
}

/// One page of a decision's events.
async fn events_page(
    enf: &mut Enf,
    key: &str,
    name: &str,
    page_size: i32,
    page_token: &str,
) -> Result<pb::ListPenaltyDecisionEventsResponse, Status> {
    let r = pb::ListPenaltyDecisionEventsRequest {
        name: name.to_string(),
        page_size,
        page_token: page_token.to_string(),
    };
    enf.list_penalty_decision_events(req(r, key))
        .await
        .map(|r| r.into_inner())
}

/// One test's server on one backend, its enforcement client and an
/// officer's key; the methods act as that officer unless given a key.
struct Env {
    db: TestDb,
    /// The backend, for messages.
    b: &'static str,
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
        b: db.backend,
        db,
        server,
        enf,
        officer,
        officer_id,
    }
}

impl Env {
    /// A new key of this server; (secret, key id).
    async fn key(&self, role: Role) -> (String, String) {
        new_key(&self.server, role).await
    }

    /// A DisclosureService client and a new discloser's key.
    async fn discloser(&self) -> (support::calls::Dis, String) {
        (self.server.disclosures().await, self.key(Role::Discloser).await.0)
    }

    /// Asks to record a decision.
    async fn try_record(&mut self, d: pb::PenaltyDecision) -> Result<pb::PenaltyDecision, Status> {
        create(&mut self.enf, &self.officer, "", d).await
    }

    /// Records a decision, which must be accepted.
    async fn record(&mut self, d: pb::PenaltyDecision) -> pb::PenaltyDecision {
        self.try_record(d).await.expect("create")
    }

    /// Records the [`sample`] decision `n`, made major by its `major` flag.
    async fn record_major(&mut self, n: u64) -> pb::PenaltyDecision {
        let mut d = sample(n);
        d.major = true;
        self.record(d).await
    }

    /// Asks `key` to review a decision with every checklist point satisfied.
    async fn review(
        &mut self,
        key: &str,
        name: &str,
        etag: &str,
        opinion: pb::ReviewOpinion,
        comment: &str,
    ) -> Result<pb::PenaltyDecision, Status> {
        review(&mut self.enf, key, name, etag, opinion, full_checklist(), comment).await
    }

    /// A major decision ([`Env::record_major`]) approved by `reviewer`: as
    /// recorded and as reviewed.
    async fn reviewed_major(
        &mut self,
        reviewer: &str,
        n: u64,
        comment: &str,
    ) -> (pb::PenaltyDecision, pb::PenaltyDecision) {
        let c = self.record_major(n).await;
        let rv = self.review(reviewer, &c.name, &c.etag, O::Approve, comment).await;
        (c, rv.expect("approve"))
    }

    /// A major decision approved by `reviewer` ([`Env::reviewed_major`]),
    /// then published: as recorded and as published.
    async fn published_major(
        &mut self,
        reviewer: &str,
        n: u64,
        comment: &str,
    ) -> (pb::PenaltyDecision, pb::PenaltyDecision) {
        let (c, rv) = self.reviewed_major(reviewer, n, comment).await;
        let p = self.publish(&c.name, &rv.etag).await.expect("publish");
        (c, p)
    }

    async fn publish(&mut self, name: &str, etag: &str) -> Result<pb::PenaltyDecision, Status> {
        publish(&mut self.enf, &self.officer, name, etag).await
    }

    async fn fulfil(
        &mut self,
        name: &str,
        etag: &str,
        on: &str,
        evidence: &str,
    ) -> Result<pb::PenaltyDecision, Status> {
        fulfil(&mut self.enf, &self.officer, name, etag, on, evidence).await
    }

    /// Sends a correction ([`correction`], [`slip_correction`]).
    async fn correct(&mut self, r: pb::CorrectPenaltyDecisionRequest) -> Result<pb::PenaltyDecision, Status> {
        let r = self.enf.correct_penalty_decision(req(r, &self.officer)).await;
        r.map(|r| r.into_inner())
    }

    async fn withdraw(&mut self, name: &str, etag: &str, event: W, why: &str) -> Result<pb::PenaltyDecision, Status> {
        withdraw(&mut self.enf, &self.officer, name, etag, event, why).await
    }

    /// A decision as the officer reads it.
    async fn get(&mut self, name: &str) -> pb::PenaltyDecision {
        get(&mut self.enf, &self.officer, name).await
    }

    /// The kinds of a decision's events but sensitive-data reads.
    async fn event_kinds(&mut self, name: &str) -> Vec<K> {
        kinds(&events(&mut self.enf, &self.officer, name).await)
    }

    /// How many events of a kind a decision has.
    async fn count_events(&mut self, name: &str, kind: K) -> usize {
        events_of(&mut self.enf, &self.officer, name, kind).await.len()
    }

    /// Every decision the officer may list.
    async fn all(&mut self) -> Vec<pb::PenaltyDecision> {
        all_decisions(&mut self.enf, &self.officer).await
    }

    /// Records `base` with the field `path` (see [`set_field`]) set to
    /// `value`, which must be refused INVALID_ARGUMENT with `why`, naming
    /// that field alone.
    async fn refuses_field(&mut self, mut base: pb::PenaltyDecision, path: &str, value: &str, why: &str) {
        set_field(&mut base, path, value);
        let ctx = format!("{}: {path} = {value:?}", self.b);
        let r = self.try_record(base).await;
        expect_invalid(r, why, &[&format!("penalty_decision.{path}")], &ctx);
    }

    /// Asserts an error with this code and reason, in a message naming the
    /// backend and `case`.
    #[track_caller]
    fn refused<T: std::fmt::Debug>(&self, r: Result<T, Status>, code: Code, why: &str, case: &str) -> Status {
        expect_err(r, code, why, &format!("{}: {case}", self.b))
    }

    /// [`expect_invalid`], in a message naming the backend and `case`.
    #[track_caller]
    fn invalid<T: std::fmt::Debug>(&self, r: Result<T, Status>, why: &str, fields: &[&str], case: &str) -> Status {
        expect_invalid(r, why, fields, &format!("{}: {case}", self.b))
    }

    async fn stop(self) {
        self.server.stop().await
    }
}

/// Runs `test` once on each backend ([`backends`]): on a fresh [`Env`]
/// whose clock reads [`TODAY`], with the backend's name for messages; then
/// stops the server.
async fn each_backend(mut test: impl AsyncFnMut(&mut Env, &'static str)) {
    for db in backends().await {
        let mut e = env(db, TODAY).await;
        let b = e.b;
        test(&mut e, b).await;
        e.stop().await;
    }
}

// ---------------------------------------------------------------------------
// validation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn create_rejects_bad_credit_codes_and_id_numbers() {
    each_backend(async |e, b| {
        let party = credit_code("91310115", 101);
        let base = || sample(101);
        let bad_party = flip_last(&party);
        let bad_authority = flip_last(&authority_code());
        let bad_id = id_with_bad_check_char();

        // One bad code or ID number each: (field, value, reason). The credit
        // codes and the first ID number have a wrong check character.
        let bad = [
            ("party.credit_code", &bad_party, "INVALID_CREDIT_CODE"),
            ("authority.credit_code", &bad_authority, "INVALID_CREDIT_CODE"),
            ("data_source.credit_code", &bad_authority, "INVALID_CREDIT_CODE"),
            (REP_ID, &bad_id, "INVALID_ID_NUMBER"),
            // A correct check character over an impossible birth date (1949-02-30).
            (REP_ID, &id_with_bad_birth_date(), "INVALID_ID_NUMBER"),
            // The party's own ID number (individual business).
            ("party.id_number", &bad_id, "INVALID_ID_NUMBER"),
        ];
        for (path, value, why) in bad {
            e.refuses_field(base(), path, value, why).await;
        }

        // Several bad fields at once: every one is reported.
        let several = [
            ("decision_number", ""),
            ("party.credit_code", bad_party.as_str()),
            ("authority.credit_code", &bad_authority),
            (REP_ID, &bad_id),
        ];
        let mut d = base();
        for (path, value) in several {
            set_field(&mut d, path, value);
        }
        let r = e.try_record(d).await;
        let reasons = ["INVALID_CREDIT_CODE", "INVALID_ID_NUMBER", "FIELD_REQUIRED"];
        let got = expect_err_among(r, Code::InvalidArgument, &reasons, &format!("{b}: several bad fields"));
        let want: HashSet<String> = several.iter().map(|(f, _)| format!("penalty_decision.{f}")).collect();
        assert_eq!(got, want, "{b}: all violations are reported");

        // A lower-case x check character is accepted and normalised; nothing invalid was stored.
        assert!(e.all().await.is_empty(), "{b}: invalid requests stored nothing");
        let mut d = decision("沪浦应急罚〔2026〕102号", DECIDED, &party.to_lowercase());
        set_field(&mut d, REP_ID, "11010519491231002x");
        let ok = e.try_record(d).await.expect("lower-case codes are valid");
        let p = ok.party.unwrap();
        assert_eq!(p.credit_code, party, "{b}: credit code normalised to upper case");
        let rep_id = p.legal_representative.unwrap().id_number;
        assert_eq!(rep_id, "11010519491231002X", "{b}: x normalised to X");
    })
    .await;
}

#[tokio::test]
async fn create_names_missing_and_invalid_fields() {
    each_backend(async |e, b| {
        let base = || sample(201);

        // One invalid field each: (field, value, reason).
        let cases = [
            ("decision_number", "   ", "FIELD_REQUIRED"),
            ("penalty_kinds", "", "FIELD_REQUIRED"),
            // Tomorrow by the injected clock (2026-11-29) is in the future.
            ("decided_on", "2026-11-30", "INVALID_DATE"),
            ("decided_on", "2026/11/20", "INVALID_DATE"),
            ("fine_fen", "-1", "INVALID_AMOUNT"),
            ("party.name", "", "FIELD_REQUIRED"),
            ("party.kind", "0", "FIELD_REQUIRED"),
        ];
        for (path, value, why) in cases {
            e.refuses_field(base(), path, value, why).await;
        }

        let none = pb::CreatePenaltyDecisionRequest::default();
        let r = e.enf.create_penalty_decision(req(none, &e.officer)).await;
        e.invalid(r, "FIELD_REQUIRED", &["penalty_decision"], "no decision");

        // Several missing fields at once, all named.
        let missing = [
            ("decision_number", ""),
            ("penalty_kinds", ""),
            ("decided_on", "2026-12-01"),
            ("violation_facts", ""),
        ];
        let mut d = base();
        for (path, value) in missing {
            set_field(&mut d, path, value);
        }
        let r = e.try_record(d).await;
        let reasons = ["FIELD_REQUIRED", "INVALID_DATE"];
        let got = expect_err_among(
            r,
            Code::InvalidArgument,
            &reasons,
            &format!("{b}: several missing fields"),
        );
        for (path, _) in missing {
            let f = format!("penalty_decision.{path}");
            assert!(got.contains(&f), "{b}: {f} not named in {got:?}");
        }

        assert!(e.all().await.is_empty(), "{b}: nothing invalid was stored");

        // Today itself is not in the future.
        let mut d = base();
        set_field(&mut d, "decided_on", TODAY);
        e.try_record(d).await.expect("decided today is valid");
        // "Today" is the China Standard Time date: at 2026-11-29T16:30Z it is already
        // 2026-11-30 in Shanghai, so that date is no longer in the future.
        e.server.clock.set(utc("2026-11-29T16:30:00Z"));
        let party = credit_code("91310115", 201);
        let d = decision("沪浦应急罚〔2026〕202号", "2026-11-30", &party);
        e.try_record(d).await.expect("2026-11-30 CST has begun");
        e.server.clock.set(utc("2026-11-29T15:59:59Z"));
        let d = decision("沪浦应急罚〔2026〕203号", "2026-11-30", &party);
        let r = e.try_record(d).await;
        e.invalid(
            r,
            "INVALID_DATE",
            &["penalty_decision.decided_on"],
            "23:59:59 CST on the 29th",
        );
    })
    .await;
}

#[tokio::test]
async fn request_id_longer_than_64_characters_is_refused() {
    each_backend(async |e, b| {
        let d = || sample(301);
        let r = create(&mut e.enf, &e.officer, &"r".repeat(65), d()).await;
        expect_invalid(r, "FIELD_TOO_LONG", &["request_id"], b);
        // Counted in characters: 65 Chinese characters are refused, 64 accepted.
        let r = create(&mut e.enf, &e.officer, &"请".repeat(65), d()).await;
        expect_invalid(r, "FIELD_TOO_LONG", &["request_id"], b);
        assert!(e.all().await.is_empty(), "{b}");
        let ok_zh = "请".repeat(64);
        let first = create(&mut e.enf, &e.officer, &ok_zh, d())
            .await
            .expect("64 characters are fine");
        let again = create(&mut e.enf, &e.officer, &ok_zh, d()).await.expect("retry");
        assert_eq!(first.name, again.name, "{b}");
    })
    .await;
}

// ---------------------------------------------------------------------------
// idempotency and duplicate numbers
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_is_idempotent_per_key_and_request_id() {
    each_backend(async |e, b| {
        let (officer2, _) = e.key(Role::Officer).await;
        let party = credit_code("91310115", 401);
        let d = |number: &str| decision(number, DECIDED, &party);
        let n401 = "沪浦应急罚〔2026〕401号";

        let first = create(&mut e.enf, &e.officer, "req-1", d(n401)).await.expect("create");
        // A plain retry returns the same decision, unchanged.
        let retry = create(&mut e.enf, &e.officer, "req-1", d(n401)).await.expect("retry");
        assert_eq!(retry, first, "{b}: a retry returns the first result");
        // Even with other content, the same key + request_id returns the first result.
        let other = create(&mut e.enf, &e.officer, "req-1", d("沪浦应急罚〔2026〕499号"))
            .await
            .expect("retry with other content");
        assert_eq!(other.name, first.name, "{b}");
        assert_eq!(
            other.decision_number, "沪浦应急罚〔2026〕401号",
            "{b}: the first result is returned"
        );
        assert_eq!(e.all().await.len(), 1, "{b}: retries created nothing");
        assert_eq!(
            e.event_kinds(&first.name).await,
            [K::Recorded],
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
                let mut c = Enf::new(e.server.channel().await);
                let key = e.officer.clone();
                let d = d(&number);
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
            let ctx = format!("{b}: round {round}");
            assert_eq!(
                names.len(),
                1,
                "{ctx}: every concurrent retry got the same decision: {names:?}"
            );
            let name = names.into_iter().next().unwrap();
            let all = e.all().await;
            let ones = all.iter().filter(|d| d.decision_number == number).count();
            assert_eq!(
                all.len(),
                2 + round,
                "{ctx}: exactly one decision from the concurrent retries"
            );
            assert_eq!(ones, 1, "{ctx}");
            let recorded = e.event_kinds(&name).await;
            assert_eq!(
                recorded,
                [K::Recorded],
                "{ctx}: the concurrent retries recorded one event"
            );
        }

        // Another key with the same request_id: a new request. Same number at the
        // same authority is a duplicate. (key, request id, code, reason, case)
        let same_number = [
            (
                &officer2,
                "req-1",
                Code::AlreadyExists,
                "DUPLICATE_DECISION_NUMBER",
                "other key",
            ),
            (
                &e.officer,
                "",
                Code::AlreadyExists,
                "DUPLICATE_DECISION_NUMBER",
                "no request id",
            ),
            (
                &e.officer,
                "req-2",
                Code::AlreadyExists,
                "DUPLICATE_DECISION_NUMBER",
                "new request id",
            ),
        ];
        for (key, request_id, code, why, case) in same_number {
            let dup = create(&mut e.enf, key, request_id, d(n401)).await;
            expect_err(dup, code, why, &format!("{b}: {case}, same number"));
        }
        assert_eq!(e.all().await.len(), 1 + ROUNDS, "{b}: duplicates created nothing");

        // Another key with the same request_id and a new number: a new decision.
        let second = create(&mut e.enf, &officer2, "req-1", d("沪浦应急罚〔2026〕403号"))
            .await
            .expect("other key, new number");
        assert_ne!(second.name, first.name, "{b}");
        // The same number at another authority is a different decision.
        let mut other_authority = d(n401);
        other_authority.authority = Some(pb::Organization {
            name: "上海市市场监督管理局".into(),
            credit_code: credit_code("11310000", 2),
        });
        let third = create(&mut e.enf, &officer2, "", other_authority)
            .await
            .expect("same number, other authority");
        assert_ne!(third.name, first.name, "{b}");
        // And the first key's retry still answers with its first decision.
        let retry = create(&mut e.enf, &e.officer, "req-1", d(n401)).await.expect("retry");
        assert_eq!(retry.name, first.name, "{b}");
        assert_eq!(e.all().await.len(), 3 + ROUNDS, "{b}");
    })
    .await;
}

// ---------------------------------------------------------------------------
// legal review
// ---------------------------------------------------------------------------

#[tokio::test]
async fn major_decisions_need_an_approving_legal_review() {
    each_backend(async |e, b| {
        let (reviewer, reviewer_id) = e.key(Role::LegalReviewer).await;
        let party = credit_code("91310115", 501);

        // Major by the client's flag, by the fine threshold (100,000 元), by the kind.
        type Edit = fn(&mut pb::PenaltyDecision);
        let majors: [(&str, Edit); 3] = [
            ("沪浦应急罚〔2026〕501号", |d| d.major = true),
            ("沪浦应急罚〔2026〕502号", |d| d.fine_fen = 10_000_000),
            ("沪浦应急罚〔2026〕503号", |d| {
                d.penalty_kinds.push(pb::PenaltyKind::OrderSuspension as i32)
            }),
        ];
        let mut recorded = Vec::new();
        for (number, edit) in majors {
            let mut d = decision(number, DECIDED, &party);
            edit(&mut d);
            let c = e.record(d).await;
            assert!(c.major, "{b}: {} is major", c.decision_number);
            let r = e.publish(&c.name, &c.etag).await;
            let s = e.refused(r, Code::FailedPrecondition, "LEGAL_REVIEW_REQUIRED", number);
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
            let now = e.get(&c.name).await;
            assert_eq!(now.state, pb::DecisionState::Recorded as i32, "{b}: still recorded");
            assert!(now.disclosure.is_empty(), "{b}");
            recorded.push(c);
        }
        // Just under the threshold is not major: published without review.
        let mut small = decision("沪浦应急罚〔2026〕504号", DECIDED, &party);
        small.fine_fen = 9_999_999;
        let small = e.record(small).await;
        assert!(!small.major, "{b}: 99,999.99 元 is not major");
        let p = e.publish(&small.name, &small.etag).await.expect("publish non-major");
        assert_eq!(p.state, pb::DecisionState::Published as i32, "{b}");

        let m = &recorded[0];
        // 不同意 still blocks publication.
        let rv = e
            .review(&reviewer, &m.name, &m.etag, O::Disapprove, "事实不清")
            .await
            .expect("disapprove");
        let lr = rv.legal_review.clone().expect("review recorded");
        assert_eq!(lr.opinion, pb::ReviewOpinion::Disapprove as i32, "{b}");
        assert_eq!(lr.reviewer.as_ref().unwrap().key_id, reviewer_id, "{b}");
        let r = e.publish(&m.name, &rv.etag).await;
        e.refused(r, Code::FailedPrecondition, "LEGAL_REVIEW_REQUIRED", "after DISAPPROVE");
        // 修改后提交 blocks too.
        let rv = e
            .review(&reviewer, &m.name, &rv.etag, O::Revise, "补充证据后提交")
            .await
            .expect("revise");
        let r = e.publish(&m.name, &rv.etag).await;
        e.refused(r, Code::FailedPrecondition, "LEGAL_REVIEW_REQUIRED", "after REVISE");
        // A refusal needs a comment.
        let r = e.review(&reviewer, &m.name, &rv.etag, O::Disapprove, "").await;
        e.invalid(r, "FIELD_REQUIRED", &["comment"], "disapprove without comment");

        // An approval with an incomplete checklist is refused, naming every gap.
        let mut partial = full_checklist();
        partial.procedure_ok = false;
        partial.documents_complete = false;
        let r = review(&mut e.enf, &reviewer, &m.name, &rv.etag, O::Approve, partial, "").await;
        let gaps = ["checklist.procedure_ok", "checklist.documents_complete"];
        e.invalid(r, "INCOMPLETE_CHECKLIST", &gaps, "incomplete checklist");
        let mut crime = full_checklist();
        crime.crime_transfer_needed = true;
        let r = review(&mut e.enf, &reviewer, &m.name, &rv.etag, O::Approve, crime, "").await;
        e.invalid(
            r,
            "INCOMPLETE_CHECKLIST",
            &["checklist.crime_transfer_needed"],
            "crime transfer",
        );
        let still = e.get(&m.name).await;
        assert_eq!(
            still.legal_review.unwrap().opinion,
            pb::ReviewOpinion::Revise as i32,
            "{b}: refused reviews change nothing"
        );
        assert_eq!(still.etag, rv.etag, "{b}");
        let r = e.publish(&m.name, &rv.etag).await;
        e.refused(r, Code::FailedPrecondition, "LEGAL_REVIEW_REQUIRED", "still blocked");

        // An officer cannot review at all.
        let officer = e.officer.clone();
        let r = e.review(&officer, &m.name, &rv.etag, O::Approve, "").await;
        e.refused(r, Code::PermissionDenied, "ROLE_NOT_ALLOWED", "officer reviewing");

        // An approving review by a legal reviewer lets it be published.
        let ok = e
            .review(&reviewer, &m.name, &rv.etag, O::Approve, "同意")
            .await
            .expect("approve");
        let opinion = ok.legal_review.as_ref().unwrap().opinion;
        assert_eq!(opinion, pb::ReviewOpinion::Approve as i32, "{b}");
        assert_eq!(ok.recorded_by.as_ref().unwrap().key_id, e.officer_id, "{b}");
        let p = e.publish(&m.name, &ok.etag).await.expect("publish after approval");
        assert_eq!(p.state, pb::DecisionState::Published as i32, "{b}");
        assert!(p.disclosure.starts_with("disclosures/"), "{b}");
        // A published decision is no longer reviewed.
        let r = e.review(&reviewer, &m.name, &p.etag, O::Approve, "").await;
        e.refused(
            r,
            Code::FailedPrecondition,
            "INVALID_STATE_TRANSITION",
            "review after publish",
        );

        // The other two majors, once approved, publish as well.
        for c in &recorded[1..] {
            let ok = e
                .review(&reviewer, &c.name, &c.etag, O::Approve, "")
                .await
                .expect("approve");
            e.publish(&c.name, &ok.etag).await.expect("publish after approval");
        }
    })
    .await;
}

#[tokio::test]
async fn the_recorder_cannot_review_their_own_decision() {
    each_backend(async |e, b| {
        let c = e.record_major(601).await;
        let recorder = c.recorded_by.clone().expect("recorded_by");
        assert_eq!(recorder.key_id, e.officer_id, "{b}");
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
        let app = e.server.app.clone();
        match app
            .review_decision(&caller, id_of(&c.name), "", input.clone(), None)
            .await
        {
            Err(AppError::PermissionDenied { reason, .. }) => {
                assert_eq!(reason, "REVIEWER_IS_RECORDER", "{b}")
            }
            other => panic!("{b}: expected REVIEWER_IS_RECORDER, got {other:?}"),
        }
        let now = e.get(&c.name).await;
        assert!(now.legal_review.is_none(), "{b}: no review recorded");
        assert_eq!(now.etag, c.etag, "{b}");
        assert_eq!(e.event_kinds(&c.name).await, vec![K::Recorded], "{b}");
        // Any other key may review it.
        let other = Caller {
            key_id: "someotherkey".into(),
            ..caller
        };
        app.review_decision(&other, id_of(&c.name), "", input, None)
            .await
            .expect("another reviewer may review");
    })
    .await;
}

// ---------------------------------------------------------------------------
// etags
// ---------------------------------------------------------------------------

#[tokio::test]
async fn stale_etags_are_refused_and_current_ones_work() {
    each_backend(async |e, b| {
        let (reviewer, _) = e.key(Role::LegalReviewer).await;
        let (c, rv) = e.reviewed_major(&reviewer, 701, "").await;
        assert_ne!(rv.etag, c.etag, "{b}: a review changes the etag");
        let r = e.review(&reviewer, &c.name, &c.etag, O::Approve, "").await;
        e.refused(r, Code::Aborted, "ETAG_MISMATCH", "review");

        // Publish.
        let r = e.publish(&c.name, &c.etag).await;
        let s = e.refused(r, Code::Aborted, "ETAG_MISMATCH", "publish");
        use tonic_types::StatusExt;
        let info = s.get_details_error_info().unwrap();
        assert_eq!(info.domain, "gongshi.v1", "{b}");
        let current = info.metadata.get("current_etag");
        assert_eq!(current, Some(&rv.etag), "{b}: the current etag is reported");
        assert_eq!(e.get(&c.name).await.state, pb::DecisionState::Recorded as i32, "{b}");
        let p = e.publish(&c.name, &rv.etag).await.expect("publish with current etag");

        // RecordFulfillment.
        let r = e.fulfil(&c.name, &rv.etag, DECIDED, "缴款凭证").await;
        e.refused(r, Code::Aborted, "ETAG_MISMATCH", "fulfilment");
        let f = e.fulfil(&c.name, &p.etag, DECIDED, "缴款凭证").await.expect("fulfil");

        // Correct.
        let slip = |etag: &str| slip_correction(&c.name, "violation_facts", "更正后的违法事实", etag);
        let r = e.correct(slip(&p.etag)).await;
        e.refused(r, Code::Aborted, "ETAG_MISMATCH", "correct");
        let facts = e.get(&c.name).await.violation_facts;
        assert_ne!(facts, "更正后的违法事实", "{b}: nothing changed");
        let k = e.correct(slip(&f.etag)).await.expect("correct");

        // Withdraw.
        let r = e.withdraw(&c.name, &f.etag, W::Revoked, "行政复议撤销").await;
        e.refused(r, Code::Aborted, "ETAG_MISMATCH", "withdraw");
        assert_eq!(e.get(&c.name).await.state, pb::DecisionState::Published as i32, "{b}");
        let w = e
            .withdraw(&c.name, &k.etag, W::Revoked, "行政复议撤销")
            .await
            .expect("withdraw");
        assert_eq!(w.state, pb::DecisionState::Withdrawn as i32, "{b}");

        // Etags were all distinct.
        let tags: HashSet<&String> = [&c.etag, &rv.etag, &p.etag, &f.etag, &k.etag, &w.etag]
            .into_iter()
            .collect();
        assert_eq!(tags.len(), 6, "{b}: each change gives a new etag");
    })
    .await;
}

// ---------------------------------------------------------------------------
// correction, withdrawal, fulfilment
// ---------------------------------------------------------------------------

#[tokio::test]
async fn correcting_a_published_decision_versions_its_disclosure() {
    each_backend(async |e, b| {
        let (mut dis, discloser) = e.discloser().await;
        let p = publish_sample(&mut e.enf, &e.officer, "沪浦应急罚〔2026〕801号", DECIDED, 801).await;
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
        let facts = ["violation_facts"];
        // (mask, reason given, expected reason, the field it names, case)
        let bad: [(&[&str], &str, &str, &str, &str); 5] = [
            (
                &["nonsense"],
                "笔误",
                "INVALID_UPDATE_MASK",
                "update_mask.paths[0]",
                "unknown path",
            ),
            (
                &["violation_facts", "party.secret"],
                "笔误",
                "INVALID_UPDATE_MASK",
                "update_mask.paths[1]",
                "second path unknown",
            ),
            (&facts, "", "FIELD_REQUIRED", "reason", "empty reason"),
            (&facts, "  \t ", "FIELD_REQUIRED", "reason", "blank reason"),
            (&[], "笔误", "FIELD_REQUIRED", "update_mask", "empty mask"),
        ];
        for (paths, why, want, field, case) in bad {
            let r = e.correct(correction(&p.name, patch.clone(), paths, why, &p.etag)).await;
            e.invalid(r, want, &[field], case);
        }
        // A masked field must still be valid.
        let r = e
            .correct(slip_correction(&p.name, "violation_facts", "", &p.etag))
            .await;
        e.invalid(
            r,
            "FIELD_REQUIRED",
            &["penalty_decision.violation_facts"],
            "emptied field",
        );
        assert_eq!(disclosure_version(&mut dis, &discloser, &p.disclosure).await, 1, "{b}");

        // Only the masked field changes (the patch's fine_fen is ignored).
        let k = e
            .correct(correction(&p.name, patch.clone(), &facts, "笔误更正", &p.etag))
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
        let record = corrected.record.as_ref().expect("record");
        assert_eq!(record.violation_facts, patch.violation_facts, "{b}");
        assert!(corrected.sequence > changes[0].sequence, "{b}");

        let ce = event_of(&mut e.enf, &e.officer, &p.name, K::Corrected).await;
        assert!(
            ce.details_json.contains("violation_facts") && ce.details_json.contains("笔误更正"),
            "{b}: {ce:?}"
        );
        assert_eq!(ce.document_sha256, vec![v2.content_sha256.clone()], "{b}");

        // Correcting to the same content makes no new version and no feed entry.
        let k2 = e
            .correct(correction(&p.name, patch.clone(), &facts, "重复更正", &k.etag))
            .await
            .expect("no-op correct");
        assert_ne!(k2.etag, k.etag, "{b}");
        assert_eq!(disclosure_version(&mut dis, &discloser, &p.disclosure).await, 2, "{b}");
        assert_eq!(feed(&mut dis, &discloser).await.len(), 2, "{b}");
    })
    .await;
}

#[tokio::test]
async fn withdrawal_terminates_the_disclosure_once() {
    each_backend(async |e, b| {
        let (mut dis, discloser) = e.discloser().await;
        let (auditor, _) = e.key(Role::Auditor).await;
        let p = publish_sample(&mut e.enf, &e.officer, "沪浦应急罚〔2026〕901号", DECIDED, 901).await;

        let r = e.withdraw(&p.name, &p.etag, W::Unspecified, "x").await;
        e.invalid(r, "FIELD_REQUIRED", &["legal_event"], "no legal event");
        let r = e.withdraw(&p.name, &p.etag, W::Revoked, " ").await;
        e.invalid(r, "FIELD_REQUIRED", &["public_reason"], "no public reason");

        let why = "该处罚决定经行政复议被撤销";
        let w = e.withdraw(&p.name, &p.etag, W::Revoked, why).await.expect("withdraw");
        assert_eq!(w.state, pb::DecisionState::Withdrawn as i32, "{b}");
        let wd = w.withdrawal.clone().expect("withdrawal");
        assert_eq!(wd.legal_event, pb::WithdrawalEvent::Revoked as i32, "{b}");
        assert_eq!(wd.public_reason, why, "{b}");
        assert!(wd.withdraw_time.is_some(), "{b}");
        assert_eq!(e.get(&p.name).await.state, pb::DecisionState::Withdrawn as i32, "{b}");

        // The disclosure is no longer shared; auditors see it as WITHDRAWN.
        let r = get_disclosure(&mut dis, &discloser, &p.disclosure).await;
        e.refused(r, Code::NotFound, "NOT_FOUND", "discloser reads withdrawn");
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
        let r = e.withdraw(&p.name, &w.etag, W::Changed, "再次撤回").await;
        e.refused(
            r,
            Code::FailedPrecondition,
            "INVALID_STATE_TRANSITION",
            "second withdrawal",
        );
        assert_eq!(feed(&mut dis, &discloser).await.len(), 2, "{b}");
        assert_eq!(e.count_events(&p.name, K::Withdrawn).await, 1, "{b}");
        // Nor can it be corrected or published.
        let remarks = patch_of("remarks", "x");
        let r = e
            .correct(correction(&p.name, remarks, &["remarks"], "更正", &w.etag))
            .await;
        e.refused(
            r,
            Code::FailedPrecondition,
            "INVALID_STATE_TRANSITION",
            "correct withdrawn",
        );
        let r = e.publish(&p.name, &w.etag).await;
        e.refused(
            r,
            Code::FailedPrecondition,
            "INVALID_STATE_TRANSITION",
            "publish withdrawn",
        );
    })
    .await;
}

#[tokio::test]
async fn fulfilment_is_recorded_and_dated_sensibly() {
    each_backend(async |e, b| {
        let p = publish_sample(&mut e.enf, &e.officer, "沪浦应急罚〔2026〕1001号", DECIDED, 1001).await;

        // (fulfilled on, evidence, reason, the field it names, case)
        let refused = [
            (
                "2026-11-19",
                "缴款凭证",
                "INVALID_DATE",
                "fulfilled_on",
                "before the decision",
            ),
            (
                "2026-11-30",
                "缴款凭证",
                "INVALID_DATE",
                "fulfilled_on",
                "in the future",
            ),
            ("25/11/2026", "缴款凭证", "INVALID_DATE", "fulfilled_on", "malformed"),
            ("", "缴款凭证", "FIELD_REQUIRED", "fulfilled_on", "missing date"),
            ("2026-11-25", "", "FIELD_REQUIRED", "evidence", "missing evidence"),
        ];
        for (on, evidence, why, field, case) in refused {
            let r = e.fulfil(&p.name, &p.etag, on, evidence).await;
            e.invalid(r, why, &[field], case);
        }
        let stored = e.get(&p.name).await.fulfillment;
        assert!(stored.is_none(), "{b}: refusals stored nothing");

        let evidence = "罚款缴款书 No. 310115-2026-0001";
        let f = e
            .fulfil(&p.name, &p.etag, "2026-11-25", evidence)
            .await
            .expect("fulfil");
        let ff = f.fulfillment.expect("fulfilment");
        assert_eq!(ff.fulfilled_on, "2026-11-25", "{b}");
        assert_eq!(ff.evidence, "罚款缴款书 No. 310115-2026-0001", "{b}");
        assert_eq!(ff.recorded_by.unwrap().key_id, e.officer_id, "{b}");
        let seen = e.get(&p.name).await.fulfillment.expect("visible on read");
        assert_eq!(seen.fulfilled_on, "2026-11-25", "{b}");
        assert_eq!(seen.evidence, "罚款缴款书 No. 310115-2026-0001", "{b}");
        // The decision day itself and today are valid dates.
        let same_day = e.fulfil(&p.name, &f.etag, DECIDED, "当场缴纳").await.expect("same day");
        e.fulfil(&p.name, &same_day.etag, TODAY, "今日缴纳")
            .await
            .expect("today");
        assert_eq!(e.count_events(&p.name, K::FulfillmentRecorded).await, 3, "{b}");
    })
    .await;
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

/// Statements that would rewrite the record, on every backend.
const TAMPER: [&str; 4] = [
    "UPDATE decision_events SET summary = 'x'",
    "DELETE FROM decision_events",
    "UPDATE disclosure_changes SET public_reason = 'x'",
    "DELETE FROM disclosure_changes",
];

/// Asserts that each of `statements` fails on `$pool` and that the events
/// and changes (some of each) read the same after them.
macro_rules! assert_append_only {
    ($pool:expr, $b:expr, $statements:expr) => {{
        let before = raw_rows!($pool);
        assert!(!before.0.is_empty() && before.1.len() >= 2, "{}: {before:?}", $b);
        for sql in $statements {
            let r = sqlx::query(sql).execute($pool).await;
            assert!(r.is_err(), "{}: `{sql}` must fail, got {r:?}", $b);
        }
        assert_eq!(raw_rows!($pool), before, "{}: rows unchanged", $b);
    }};
}

#[tokio::test]
async fn events_are_ordered_paged_and_append_only() {
    each_backend(async |e, b| {
        let (reviewer, reviewer_id) = e.key(Role::LegalReviewer).await;
        let (auditor, _) = e.key(Role::Auditor).await;
        let (officer2, _) = e.key(Role::Officer).await;

        let (c, p) = e.published_major(&reviewer, 1101, "同意").await;
        let f = e
            .fulfil(&c.name, &p.etag, "2026-11-25", "缴款凭证")
            .await
            .expect("fulfil");
        let remarks = patch_of("remarks", "已更正备注");
        let k = e
            .correct(correction(&c.name, remarks, &["remarks"], "补充备注", &f.etag))
            .await
            .expect("correct");
        e.withdraw(&c.name, &k.etag, W::ConfirmedIllegal, "经法院确认违法")
            .await
            .expect("withdraw");

        let all = events(&mut e.enf, &auditor, &c.name).await;
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
        // The officer recorded, the reviewer reviewed (and read), the officer did the rest.
        let off = (e.officer_id.clone(), "officer".to_string());
        let rev = (reviewer_id.clone(), "legal_reviewer".to_string());
        let want = [vec![off.clone(); 2], vec![rev; 2], vec![off; 8]].concat();
        assert_eq!(actors, want, "{b}");
        for w in all.windows(2) {
            assert!(w[0].sequence < w[1].sequence, "{b}: sequences increase");
        }
        for ev in &all {
            assert_eq!(ev.name, format!("{}/events/{}", c.name, ev.sequence), "{b}");
            assert!(ev.time.is_some(), "{b}");
            assert!(!ev.summary.is_empty(), "{b}");
            serde_json::from_str::<serde_json::Value>(&ev.details_json).expect("details are JSON");
        }
        let officers = events(&mut e.enf, &e.officer, &c.name).await;
        assert_eq!(officers, all, "{b}: officers read the same record");

        // Paging with page_size 2.
        let mut paged = Vec::new();
        let mut token = String::new();
        let mut first_token = String::new();
        for page_no in 0.. {
            assert!(page_no < 10, "{b}: paging does not end");
            let r = events_page(&mut e.enf, &auditor, &c.name, 2, &token)
                .await
                .expect("page");
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
        let other = e.record(sample(1102)).await;
        let none = String::new();
        // (key, decision, page size, token, reason, the field it names, case)
        let refused = [
            (
                &officer2,
                &c.name,
                2,
                &first_token,
                "INVALID_PAGE_TOKEN",
                "page_token",
                "another officer",
            ),
            (
                &e.officer,
                &c.name,
                2,
                &first_token,
                "INVALID_PAGE_TOKEN",
                "page_token",
                "an officer",
            ),
            (
                &auditor,
                &other.name,
                2,
                &first_token,
                "INVALID_PAGE_TOKEN",
                "page_token",
                "another decision",
            ),
            (
                &auditor,
                &c.name,
                -1,
                &none,
                "INVALID_PAGE_SIZE",
                "page_size",
                "negative page size",
            ),
        ];
        for (key, name, size, token, why, field, case) in refused {
            let r = events_page(&mut e.enf, key, name, size, token).await;
            expect_invalid(r, why, &[field], &format!("{b}: token {case}"));
        }
        let r = events_page(&mut e.enf, &auditor, "penaltyDecisions/NOSUCH0000", 2, "").await;
        e.refused(r, Code::NotFound, "NOT_FOUND", "unknown decision");

        // Append-only at the database: a direct UPDATE or DELETE fails and changes nothing.
        if e.db.backend == "postgres" {
            let pool = sqlx::PgPool::connect(&e.db.url).await.expect("connect");
            let truncate = [
                "TRUNCATE decision_events CASCADE",
                "TRUNCATE disclosure_changes CASCADE",
            ];
            assert_append_only!(&pool, b, TAMPER.iter().chain(&truncate).copied());
            pool.close().await;
        } else {
            let pool = sqlx::SqlitePool::connect(&e.db.url).await.expect("connect");
            assert_append_only!(&pool, b, TAMPER);
            pool.close().await;
        }
        let again = events(&mut e.enf, &auditor, &c.name).await;
        assert_eq!(again, all, "{b}: the record reads the same");
    })
    .await;
}

// ---------------------------------------------------------------------------
// listing
// ---------------------------------------------------------------------------

/// A ListPenaltyDecisions request for pages of `page_size` from
/// `page_token`, its filters set by `filter`.
fn listing(
    page_size: i32,
    page_token: &str,
    filter: impl FnOnce(&mut pb::ListPenaltyDecisionsRequest),
) -> pb::ListPenaltyDecisionsRequest {
    let mut r = pb::ListPenaltyDecisionsRequest {
        page_size,
        page_token: page_token.to_string(),
        ..Default::default()
    };
    filter(&mut r);
    r
}

#[tokio::test]
async fn list_filters_and_keyset_pages() {
    each_backend(async |e, b| {
        let (auditor, _) = e.key(Role::Auditor).await;
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
                create_and_publish(&mut e.enf, &e.officer, d).await.name
            } else {
                e.record(d).await.name
            };
            names.push(n);
        }
        let numbers = |v: &[pb::PenaltyDecision]| -> Vec<String> {
            let mut n: Vec<String> = v.iter().map(|d| d.decision_number.clone()).collect();
            n.sort();
            n
        };
        let nums = |idx: &[usize]| -> Vec<String> { idx.iter().map(|i| specs[*i].0.to_string()).collect() };
        let q = |f: fn(&mut pb::ListPenaltyDecisionsRequest)| listing(1000, "", f);

        // Each row: the case, who lists, the party filter ("" for none), the
        // other filters, and which of the specs it finds.
        const PUBLISHED: i32 = pb::DecisionState::Published as i32;
        const RECORDED: i32 = pb::DecisionState::Recorded as i32;
        let lower_b = bb.to_lowercase();
        let officer = &e.officer;
        let filtered = [
            ("party A", officer, a.as_str(), q(|_| {}), &[0, 1, 2][..]),
            ("party B (any case)", officer, &lower_b, q(|_| {}), &[3, 4]),
            ("party A, published", officer, &a, q(|r| r.state = PUBLISHED), &[0]),
            ("published", &auditor, "", q(|r| r.state = PUBLISHED), &[0, 3]),
            ("recorded", officer, "", q(|r| r.state = RECORDED), &[1, 2, 4]),
            (
                "decided range, inclusive",
                officer,
                "",
                q(|r| {
                    r.decided_on_from = "2026-02-10".into();
                    r.decided_on_to = "2026-04-10".into();
                }),
                &[1, 2, 3],
            ),
            (
                "decided from",
                officer,
                "",
                q(|r| r.decided_on_from = "2026-04-11".into()),
                &[4],
            ),
            (
                "decided to",
                officer,
                "",
                q(|r| r.decided_on_to = "2026-01-10".into()),
                &[0],
            ),
        ];
        for (case, key, party, mut r, want) in filtered {
            r.party_credit_code = party.to_string();
            let got = numbers(&list_all(&mut e.enf, key, r).await);
            assert_eq!(got, nums(want), "{b}: {case}");
        }
        let r = q(|r| r.party_credit_code = credit_code("91310115", 1299));
        assert!(
            list_all(&mut e.enf, &e.officer, r).await.is_empty(),
            "{b}: unknown party"
        );

        // Keyset pages of 2: three pages, every decision exactly once.
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        let mut first_token = String::new();
        loop {
            let page = list_page(&mut e.enf, &e.officer, listing(2, &token, |_| {}))
                .await
                .expect("page");
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
        let big = list_page(&mut e.enf, &e.officer, listing(5000, "", |_| {}))
            .await
            .expect("page_size 5000 is clamped, not refused");
        assert_eq!(big.penalty_decisions.len(), 5, "{b}");
        assert!(big.next_page_token.is_empty(), "{b}");
        let dflt = list_page(&mut e.enf, &e.officer, Default::default())
            .await
            .expect("default page size");
        assert_eq!(dflt.penalty_decisions.len(), 5, "{b}");

        // A token belongs to its caller and its filter; bad sizes and
        // filters are named. (case, key, request, reason, the field it names)
        let another_filter = listing(2, &first_token, |r| r.party_credit_code = a.clone());
        let bad_party = listing(0, "", |r| r.party_credit_code = flip_last(&a));
        let bad_date = listing(0, "", |r| r.decided_on_from = "2026-13-01".into());
        let officer = &e.officer;
        let refused = [
            (
                "token of another key",
                &auditor,
                listing(2, &first_token, |_| {}),
                "INVALID_PAGE_TOKEN",
                "page_token",
            ),
            (
                "token with another filter",
                officer,
                another_filter,
                "INVALID_PAGE_TOKEN",
                "page_token",
            ),
            (
                "negative page size",
                officer,
                listing(-1, "", |_| {}),
                "INVALID_PAGE_SIZE",
                "page_size",
            ),
            (
                "bad party filter",
                officer,
                bad_party,
                "INVALID_CREDIT_CODE",
                "party_credit_code",
            ),
            ("bad date filter", officer, bad_date, "INVALID_DATE", "decided_on_from"),
        ];
        for (case, key, r, why, field) in refused {
            let r = list_page(&mut e.enf, key, r).await;
            expect_invalid(r, why, &[field], &format!("{b}: {case}"));
        }
    })
    .await;
}
