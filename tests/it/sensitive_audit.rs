//! Issue 7 item 8, sensitive reads audited: every response that shows staff
//! an ID number, a natural person's address or a repair application's
//! contact leaves exactly one `SENSITIVE_DATA_READ` event per record shown
//! (who: key id, role, on-behalf-of; when; which record; via which RPC), in
//! the 全过程记录 of the record's decision; public roles never get those
//! fields; and when the audit cannot be written, the response is withheld
//! (and a mutation does not happen). On every backend.

use std::collections::{BTreeMap, HashMap};

use gongshi::api::pb;
use gongshi::domain::clock::Clock;
use gongshi::domain::lifecycle::Role;
use gongshi::domain::repair::RepairAction;
use prost::Message;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::repair_support::{
    As, DECIDED, FULFILLED, RepairClient as Repair, act_with, application_for, call, submit_with,
};
use crate::support::calls::{self, Enf, notice_bundle, slip_correction};
use crate::support::{
    KNOWN_ID, KNOWN_ID_2, TestDb, TestServer, backends, clock_at, credit_code, decision, full_checklist, req,
    set_personal_party, sql,
};

type Notices = pb::notice_service_client::NoticeServiceClient<Channel>;

/// After the minimum publicity period of a decision of [`DECIDED`].
const TODAY: &str = "2025-09-15";
/// A natural person's home address (sensitive).
const HOME: &str = "上海市徐汇区漕溪北路88弄3号502室";
/// A repair application's contact (sensitive).
const CONTACT_NAME: &str = "赵六联系人";
const PHONE: &str = "021-6543 2109";

/// A key with its id (for the audit trail) and secret.
struct Key {
    id: String,
    secret: String,
    role: &'static str,
}

async fn key(s: &TestServer, role: Role, code: Option<&str>) -> Key {
    let k = s
        .app
        .create_key(role, &format!("audit test {role}"), code, None)
        .await
        .expect("create key");
    Key {
        id: k.row.id,
        secret: k.secret,
        role: role.as_str(),
    }
}

/// A server on TODAY, and one key (bound to no enterprise) per role, in order.
async fn server_with<const N: usize>(db: &TestDb, roles: [Role; N]) -> (TestServer, [Key; N]) {
    let server = TestServer::start(&db.url, clock_at(TODAY)).await;
    let mut keys = Vec::with_capacity(N);
    for role in roles {
        keys.push(key(&server, role, None).await);
    }
    let keys = keys.try_into().unwrap_or_else(|_| unreachable!("one key per role"));
    (server, keys)
}

impl Key {
    fn who(&self) -> As {
        As::key(&self.secret)
    }

    fn for_enterprise(&self, code: &str) -> As {
        As {
            key: self.secret.clone(),
            obo: Some(code.to_string()),
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Asserts none of `secrets` is in the encoded message.
#[track_caller]
fn assert_free<M: Message>(m: &M, secrets: &[&str], ctx: &str) {
    let bytes = m.encode_to_vec();
    for s in secrets {
        assert!(!contains(&bytes, s), "{ctx}: {s:?} in the response bytes");
    }
}

/// Asserts `public` is in the encoded message (the response is the one we think).
#[track_caller]
fn assert_has<M: Message>(m: &M, public: &str, ctx: &str) {
    assert!(
        contains(&m.encode_to_vec(), public),
        "{ctx}: {public:?} expected in the response"
    );
}

/// One record a call is expected to have shown: its decision and its resource name.
type Shown = (String, String);

fn decision_shown(name: &str) -> Shown {
    (name.to_string(), name.to_string())
}

/// The `SENSITIVE_DATA_READ` events of the watched decisions, read through
/// ListPenaltyDecisionEvents by an auditor (a read that is not itself
/// audited: events carry no sensitive values).
struct Trail {
    enf: Enf,
    auditor: String,
    backend: &'static str,
    now_secs: i64,
    /// Reads already accounted for, per decision name.
    seen: BTreeMap<String, usize>,
}

impl Trail {
    async fn new(server: &TestServer, auditor: &Key, backend: &'static str) -> Trail {
        Trail {
            enf: server.enforcement().await,
            auditor: auditor.secret.clone(),
            backend,
            now_secs: server.clock.now().timestamp(),
            seen: BTreeMap::new(),
        }
    }

    async fn reads(&mut self, decision: &str) -> Vec<pb::PenaltyDecisionEvent> {
        let kind = pb::DecisionEventKind::SensitiveDataRead;
        calls::events_of(&mut self.enf, &self.auditor, decision, kind).await
    }

    /// Watches a decision from now on.
    async fn watch(&mut self, decision: &str) {
        let n = self.reads(decision).await.len();
        self.seen.insert(decision.to_string(), n);
    }

    /// Watches a decision from its first event (for the create call itself).
    fn watch_from_start(&mut self, decision: &str) {
        self.seen.insert(decision.to_string(), 0);
    }

    /// Asserts that since the last check exactly one read was recorded for
    /// each of `shown` — on its decision, naming the record, the caller and
    /// the RPC — and nothing else on any watched decision.
    async fn expect(&mut self, ctx: &str, who: &Key, via: &str, shown: &[Shown]) {
        let ctx = format!("{}: {ctx}", self.backend);
        let mut want: HashMap<&str, Vec<&str>> = HashMap::new();
        for (d, record) in shown {
            assert!(self.seen.contains_key(d), "{ctx}: {d} is not watched");
            want.entry(d.as_str()).or_default().push(record.as_str());
        }
        let decisions: Vec<String> = self.seen.keys().cloned().collect();
        for d in decisions {
            let all = self.reads(&d).await;
            let from = self.seen[&d];
            let new = &all[from.min(all.len())..];
            let mut expected: Vec<&str> = want.get(d.as_str()).cloned().unwrap_or_default();
            expected.sort();
            assert_eq!(
                new.len(),
                expected.len(),
                "{ctx}: exactly one new SENSITIVE_DATA_READ per record shown, on {d}: {new:#?}"
            );
            let mut got = Vec::new();
            for e in new {
                let details: serde_json::Value = serde_json::from_str(&e.details_json).expect("details are JSON");
                let actor = e.actor.clone().expect("actor");
                assert_eq!(actor.key_id, who.id, "{ctx}: the read names the caller's key: {e:?}");
                assert_eq!(actor.role, who.role, "{ctx}: and its role: {e:?}");
                assert_eq!(actor.on_behalf_of, "", "{ctx}: staff act for no one: {e:?}");
                assert_eq!(details["via"], via, "{ctx}: the read names the RPC: {e:?}");
                assert!(
                    details["fields"].as_array().is_some_and(|f| !f.is_empty()),
                    "{ctx}: the read names the fields shown: {e:?}"
                );
                assert_eq!(
                    e.time.as_ref().map(|t| t.seconds),
                    Some(self.now_secs),
                    "{ctx}: the read is dated: {e:?}"
                );
                assert_free(e, &[KNOWN_ID, KNOWN_ID_2, HOME, PHONE, CONTACT_NAME], &ctx);
                got.push(details["record"].as_str().unwrap_or_default().to_string());
            }
            got.sort();
            assert_eq!(
                got, expected,
                "{ctx}: exactly one new SENSITIVE_DATA_READ per record shown, on {d}"
            );
            self.seen.insert(d, all.len());
        }
    }

    /// [`Trail::expect`] with one record shown.
    async fn expect_one(&mut self, ctx: &str, who: &Key, via: &str, shown: &Shown) {
        self.expect(ctx, who, via, std::slice::from_ref(shown)).await;
    }

    /// Asserts a staff response `d` shows its legal representative's ID
    /// number, and [`Trail::expect_one`] that it was audited as a read of `d`.
    async fn expect_id_shown(&mut self, ctx: &str, who: &Key, via: &str, d: &pb::PenaltyDecision) {
        let b = self.backend;
        assert_eq!(rep_id(d), KNOWN_ID_2, "{b}: {ctx}: staff see the ID number");
        self.expect_one(ctx, who, via, &decision_shown(&d.name)).await;
    }

    /// Asserts a staff response `m` shows a natural person's address
    /// ([`HOME`]), and [`Trail::expect_one`] that it was audited as a read of
    /// `shown`.
    async fn expect_address_shown<M: Message>(&mut self, ctx: &str, who: &Key, via: &str, m: &M, shown: &Shown) {
        assert_has(
            m,
            HOME,
            &format!("{}: {ctx}: the documents state the address", self.backend),
        );
        self.expect_one(ctx, who, via, shown).await;
    }

    /// Asserts no watched decision got a read since the last check.
    async fn expect_none(&mut self, ctx: &str) {
        let nobody = Key {
            id: String::new(),
            secret: String::new(),
            role: "",
        };
        self.expect(ctx, &nobody, "", &[]).await;
    }
}

/// A natural person's decision: ID number and home address.
fn natural_person(number: &str) -> pb::PenaltyDecision {
    let mut p = decision(number, DECIDED, "");
    set_personal_party(&mut p, pb::PartyKind::NaturalPerson, "王五", KNOWN_ID, HOME);
    p
}

/// A legal person's decision with nothing sensitive recorded.
fn plain(number: &str, code: &str) -> pb::PenaltyDecision {
    let mut p = decision(number, DECIDED, code);
    p.party.as_mut().expect("party").legal_representative = Some(pb::LegalRepresentative {
        name: "张三".into(),
        ..Default::default()
    });
    p
}

async fn create(enf: &mut Enf, officer: &Key, request_id: &str, p: pb::PenaltyDecision) -> pb::PenaltyDecision {
    calls::create(enf, &officer.secret, request_id, p)
        .await
        .expect("create")
}

async fn get(enf: &mut Enf, who: &Key, name: &str) -> Result<pb::PenaltyDecision, Status> {
    let r = pb::GetPenaltyDecisionRequest { name: name.to_string() };
    enf.get_penalty_decision(req(r, &who.secret))
        .await
        .map(|r| r.into_inner())
}

async fn publish(enf: &mut Enf, officer: &Key, name: &str) -> pb::PenaltyDecision {
    calls::publish(enf, &officer.secret, name, "").await.expect("publish")
}

async fn fulfil(enf: &mut Enf, officer: &Key, name: &str) -> pb::PenaltyDecision {
    calls::fulfil(enf, &officer.secret, name, "", FULFILLED, "罚款已缴入国库")
        .await
        .expect("fulfil")
}

fn rep_id(d: &pb::PenaltyDecision) -> String {
    d.party
        .as_ref()
        .and_then(|p| p.legal_representative.as_ref())
        .map(|r| r.id_number.clone())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// EnforcementService (and what the public side and reports serve)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn enforcement_responses_showing_id_numbers_are_audited() {
    for db in backends().await {
        let b = db.backend;
        let staff = [Role::Officer, Role::LegalReviewer, Role::Auditor, Role::Discloser];
        let (server, [officer, reviewer, auditor, discloser]) = server_with(&db, staff).await;
        let mut enf = server.enforcement().await;
        let mut trail = Trail::new(&server, &auditor, b).await;

        // CreatePenaltyDecision: the response shows the legal
        // representative's ID number to the officer (who sees what it wrote).
        let code = credit_code("91310115", 7101);
        let mut p = decision("沪徐应急罚〔2025〕审计1号", DECIDED, &code);
        p.major = true;
        let d = create(&mut enf, &officer, "audit-1", p.clone()).await;
        trail.watch_from_start(&d.name);
        trail
            .expect_id_shown("create", &officer, "CreatePenaltyDecision", &d)
            .await;
        // A replayed create answers the first result again: read again.
        let again = create(&mut enf, &officer, "audit-1", p).await;
        assert_eq!(again.name, d.name, "{b}: idempotent");
        trail
            .expect_id_shown("replayed create", &officer, "CreatePenaltyDecision", &again)
            .await;

        // Nothing sensitive recorded: nothing to audit.
        let quiet = create(
            &mut enf,
            &officer,
            "",
            plain("沪徐应急罚〔2025〕审计2号", &credit_code("91310115", 7102)),
        )
        .await;
        trail.watch_from_start(&quiet.name);
        get(&mut enf, &officer, &quiet.name).await.expect("get");
        trail.expect_none("create and get without sensitive fields").await;

        // A natural person: ID number and address.
        let n = create(&mut enf, &officer, "", natural_person("沪徐应急罚〔2025〕审计3号")).await;
        assert_eq!(n.party.as_ref().map(|p| p.address.as_str()), Some(HOME), "{b}");
        trail.watch_from_start(&n.name);
        trail
            .expect_one(
                "create natural person",
                &officer,
                "CreatePenaltyDecision",
                &decision_shown(&n.name),
            )
            .await;
        let ev = trail.reads(&n.name).await;
        let fields: serde_json::Value = serde_json::from_str(&ev[0].details_json).expect("json");
        assert_eq!(
            fields["fields"],
            serde_json::json!(["party.id_number", "party.address"]),
            "{b}: the event names the fields, never their values"
        );

        // GetPenaltyDecision, by each staff role.
        for who in [&officer, &reviewer, &auditor] {
            let got = get(&mut enf, who, &d.name).await.expect("get");
            let ctx = format!("get by {}", who.role);
            trail.expect_id_shown(&ctx, who, "GetPenaltyDecision", &got).await;
        }

        // ListPenaltyDecisions: one read per decision with sensitive fields shown.
        for who in [&officer, &auditor] {
            let all = pb::ListPenaltyDecisionsRequest {
                page_size: 1000,
                ..Default::default()
            };
            let list = calls::list_page(&mut enf, &who.secret, all).await.expect("list");
            assert_eq!(list.penalty_decisions.len(), 3, "{b}");
            let shown = [decision_shown(&d.name), decision_shown(&n.name)];
            let ctx = format!("list by {}", who.role);
            trail.expect(&ctx, who, "ListPenaltyDecisions", &shown).await;
        }

        // ReviewPenaltyDecision: the legal reviewer is shown the decision.
        let approve = pb::ReviewOpinion::Approve;
        let reviewed = calls::review(&mut enf, &reviewer.secret, &d.name, "", approve, full_checklist(), "")
            .await
            .expect("review");
        trail
            .expect_id_shown("review", &reviewer, "ReviewPenaltyDecision", &reviewed)
            .await;

        // PublishPenaltyDecision.
        let published = publish(&mut enf, &officer, &d.name).await;
        assert_eq!(published.state, pb::DecisionState::Published as i32, "{b}");
        trail
            .expect_id_shown("publish", &officer, "PublishPenaltyDecision", &published)
            .await;
        publish(&mut enf, &officer, &quiet.name).await;
        trail.expect_none("publish without sensitive fields").await;

        // CorrectPenaltyDecision.
        let corrected = enf
            .correct_penalty_decision(req(
                slip_correction(&d.name, "violation_facts", "更正后的违法事实（审计测试）", ""),
                &officer.secret,
            ))
            .await
            .expect("correct")
            .into_inner();
        trail
            .expect_id_shown("correct", &officer, "CorrectPenaltyDecision", &corrected)
            .await;

        // RecordFulfillment.
        let fulfilled = fulfil(&mut enf, &officer, &d.name).await;
        trail
            .expect_id_shown("fulfil", &officer, "RecordFulfillment", &fulfilled)
            .await;

        // ListPenaltyDecisionEvents: no sensitive values, no read recorded.
        for who in [&officer, &auditor] {
            let events = calls::events(&mut enf, &who.secret, &d.name).await;
            assert!(events.len() >= 5, "{b}: {} events", events.len());
            let page = pb::ListPenaltyDecisionEventsResponse {
                events,
                next_page_token: String::new(),
            };
            assert_free(&page, &[KNOWN_ID, KNOWN_ID_2, HOME], &format!("{b}: events"));
        }
        trail.expect_none("list events").await;

        // The public side: the disclosure, the feed, the export carry none.
        let mut dis = server.disclosures().await;
        let disclosure = calls::get_disclosure(&mut dis, &discloser.secret, &published.disclosure)
            .await
            .expect("get disclosure");
        assert_has(&disclosure, &code, &format!("{b}: disclosure"));
        let secrets = [KNOWN_ID, KNOWN_ID_2, HOME, "王五"];
        assert_free(&disclosure, &secrets, &format!("{b}: GetDisclosure"));
        let listed = calls::list_disclosures(&mut dis, &discloser.secret).await;
        assert_eq!(listed.disclosures.len(), 2, "{b}");
        assert_free(&listed, &secrets, &format!("{b}: ListDisclosures"));
        let changes = pb::ListDisclosureChangesResponse {
            changes: calls::feed(&mut dis, &discloser.secret).await,
            ..Default::default()
        };
        assert!(!changes.changes.is_empty(), "{b}");
        assert_free(&changes, &secrets, &format!("{b}: ListDisclosureChanges"));
        let mut export = calls::export_csv(&mut dis, &discloser.secret).await;
        let mut csv = Vec::new();
        while let Some(chunk) = export.next().await {
            let chunk = chunk.expect("chunk");
            csv.extend_from_slice(&chunk.encode_to_vec());
            if chunk.last {
                break;
            }
        }
        assert!(contains(&csv, &code), "{b}: the export has the record");
        for s in secrets {
            assert!(!contains(&csv, s), "{b}: {s} in the export");
        }
        // Reports are figures only.
        let mut reports = pb::report_service_client::ReportServiceClient::new(server.channel().await);
        let report = reports
            .get_annual_report(req(
                pb::GetAnnualReportRequest {
                    year: 2025,
                    authority_credit_code: String::new(),
                },
                &officer.secret,
            ))
            .await
            .expect("report")
            .into_inner();
        assert_free(&report, &secrets, &format!("{b}: GetAnnualReport"));
        trail.expect_none("public reads and reports").await;

        // WithdrawPenaltyDecision, last.
        let changed = pb::WithdrawalEvent::Changed;
        let withdrawn = calls::withdraw(&mut enf, &officer.secret, &d.name, "", changed, "决定已变更")
            .await
            .expect("withdraw");
        trail
            .expect_id_shown("withdraw", &officer, "WithdrawPenaltyDecision", &withdrawn)
            .await;
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// CreditRepairService
// ---------------------------------------------------------------------------

fn application(disclosure: &str, code: &str) -> pb::RepairApplication {
    pb::RepairApplication {
        contact: Some(pb::Contact {
            name: CONTACT_NAME.into(),
            phone: PHONE.into(),
        }),
        ..application_for(disclosure, code)
    }
}

async fn submit(r: &mut Repair, who: &As, disclosure: &str, code: &str) -> pb::RepairApplication {
    submit_with(r, who, "", application(disclosure, code))
        .await
        .expect("submit")
}

/// GetRepairApplication as `who`.
async fn get_application(r: &mut Repair, who: &As, name: &str) -> Result<pb::RepairApplication, Status> {
    let get = pb::GetRepairApplicationRequest { name: name.to_string() };
    r.get_repair_application(call(get, who)).await.map(|r| r.into_inner())
}

/// The first page of up to 1000 repair applications `who` may list (all of a test's).
async fn list_applications(r: &mut Repair, who: &As) -> pb::ListRepairApplicationsResponse {
    let all = pb::ListRepairApplicationsRequest {
        page_size: 1000,
        ..Default::default()
    };
    r.list_repair_applications(call(all, who))
        .await
        .expect("list")
        .into_inner()
}

fn phone(a: &pb::RepairApplication) -> &str {
    a.contact.as_ref().map(|c| c.phone.as_str()).unwrap_or_default()
}

/// A published, fulfilled decision of enterprise `code`: (decision, disclosure).
async fn repairable(enf: &mut Enf, officer: &Key, number: &str, code: &str) -> (String, String) {
    let d = create(enf, officer, "", plain(number, code)).await;
    let p = publish(enf, officer, &d.name).await;
    fulfil(enf, officer, &d.name).await;
    assert!(!p.disclosure.is_empty());
    (d.name, p.disclosure)
}

#[tokio::test]
async fn repair_contacts_shown_to_staff_are_audited() {
    for db in backends().await {
        let b = db.backend;
        let roles = [Role::Officer, Role::Auditor, Role::RepairReviewer, Role::Portal];
        let (server, [officer, auditor, repairer, portal]) = server_with(&db, roles).await;
        let code = credit_code("91310115", 7201);
        let other_code = credit_code("91310115", 7202);
        let ent = key(&server, Role::Enterprise, Some(&code)).await;
        let other_ent = key(&server, Role::Enterprise, Some(&other_code)).await;
        let mut enf = server.enforcement().await;
        let mut r = Repair::new(server.channel().await);
        let mut trail = Trail::new(&server, &auditor, b).await;

        let (d1, s1) = repairable(&mut enf, &officer, "沪徐应急罚〔2025〕修审1号", &code).await;
        let (d2, s2) = repairable(&mut enf, &officer, "沪徐应急罚〔2025〕修审2号", &code).await;
        let (d3, s3) = repairable(&mut enf, &officer, "沪徐应急罚〔2025〕修审3号", &code).await;
        let (d4, s4) = repairable(&mut enf, &officer, "沪徐应急罚〔2025〕修审4号", &other_code).await;
        for d in [&d1, &d2, &d3, &d4] {
            trail.watch(d).await;
        }

        // Submissions: the applicant is shown the contact it gave; not audited.
        let a1 = submit(&mut r, &ent.who(), &s1, &code).await;
        let a2 = submit(&mut r, &portal.for_enterprise(&code), &s2, &code).await;
        let a3 = submit(&mut r, &ent.who(), &s3, &code).await;
        let a4 = submit(&mut r, &other_ent.who(), &s4, &other_code).await;
        assert_eq!(phone(&a1), PHONE, "{b}: the applicant sees its own contact");
        assert_eq!(phone(&a2), PHONE, "{b}");
        trail.expect_none("submissions").await;
        let shown = |d: &str, a: &pb::RepairApplication| (d.to_string(), a.name.clone());

        // GetRepairApplication by staff.
        for who in [&repairer, &auditor] {
            let got = get_application(&mut r, &who.who(), &a1.name).await.expect("get");
            assert_eq!(phone(&got), PHONE, "{b}: staff see the contact");
            let ctx = format!("get by {}", who.role);
            trail
                .expect_one(&ctx, who, "GetRepairApplication", &shown(&d1, &a1))
                .await;
        }
        // By the applicant itself (enterprise, portal acting for it): not audited.
        for who in [ent.who(), portal.for_enterprise(&code)] {
            let got = get_application(&mut r, &who, &a1.name).await.expect("own get");
            assert_eq!(phone(&got), PHONE, "{b}");
        }
        // Another enterprise, or the portal acting for it: NOT_FOUND, nothing shown.
        for who in [other_ent.who(), portal.for_enterprise(&other_code)] {
            let err = get_application(&mut r, &who, &a1.name)
                .await
                .expect_err("another enterprise's application");
            assert_eq!(err.code(), Code::NotFound, "{b}");
            assert!(
                !err.message().contains(PHONE) && !err.message().contains(CONTACT_NAME),
                "{b}"
            );
        }
        trail.expect_none("the applicant's own reads").await;

        // ListRepairApplications by staff: one read per application shown.
        for who in [&repairer, &auditor] {
            let list = list_applications(&mut r, &who.who()).await;
            assert_eq!(list.repair_applications.len(), 4, "{b}");
            let all = [shown(&d1, &a1), shown(&d2, &a2), shown(&d3, &a3), shown(&d4, &a4)];
            let ctx = format!("list by {}", who.role);
            trail.expect(&ctx, who, "ListRepairApplications", &all).await;
        }
        for who in [ent.who(), portal.for_enterprise(&code)] {
            let list = list_applications(&mut r, &who).await;
            assert_eq!(list.repair_applications.len(), 3, "{b}: its own only");
            assert!(!contains(&list.encode_to_vec(), &other_code), "{b}");
        }
        trail.expect_none("the applicant's own list").await;

        // Every transition's response shows the reviewer the contact.
        let (reviewer, applicant) = (repairer.who(), ent.who());
        let steps = [
            (RepairAction::Accept, &a1, &d1, Some("AcceptRepairApplication")),
            (RepairAction::RequestSupplement, &a1, &d1, Some("RequestSupplement")),
            // The applicant's own transitions are not audited.
            (RepairAction::Supplement, &a1, &d1, None),
            (RepairAction::Approve, &a1, &d1, Some("ApproveRepairApplication")),
            (RepairAction::Revoke, &a1, &d1, Some("RevokeRepair")),
            (RepairAction::Decline, &a2, &d2, Some("DeclineRepairApplication")),
            (RepairAction::Accept, &a3, &d3, Some("AcceptRepairApplication")),
            (RepairAction::Reject, &a3, &d3, Some("RejectRepairApplication")),
        ];
        for (action, a, d, via) in steps {
            let out = act_with(&mut r, &reviewer, &applicant, action, &a.name, "")
                .await
                .unwrap_or_else(|e| panic!("{b}: {action:?}: {e:?}"));
            assert_eq!(phone(&out), PHONE, "{b}: {action:?} shows the contact");
            let ctx = format!("{action:?}");
            match via {
                Some(via) => trail.expect_one(&ctx, &repairer, via, &shown(d, a)).await,
                None => trail.expect_none(&ctx).await,
            }
        }
        let a5 = submit(&mut r, &ent.who(), &s3, &code).await;
        act_with(&mut r, &reviewer, &applicant, RepairAction::Withdraw, &a5.name, "")
            .await
            .expect("withdraw");
        trail.expect_none("resubmission and withdrawal by the applicant").await;

        // The event list carries no contact: not audited.
        for who in [&repairer, &auditor] {
            let events = r
                .list_repair_application_events(req(
                    pb::ListRepairApplicationEventsRequest {
                        name: a1.name.clone(),
                        page_size: 1000,
                        page_token: String::new(),
                    },
                    &who.secret,
                ))
                .await
                .expect("events")
                .into_inner();
            assert_eq!(events.events.len(), 6, "{b}: every transition, and only those");
            assert_free(&events, &[PHONE, CONTACT_NAME], &format!("{b}: repair events"));
        }
        // Nor does the keyless look-up or the eligibility check.
        let looked = r
            .lookup_repair_application(tonic::Request::new(pb::LookupRepairApplicationRequest {
                receipt_code: a4.receipt_code.clone(),
                applicant_credit_code: other_code.clone(),
            }))
            .await
            .expect("lookup")
            .into_inner();
        assert_free(&looked, &[PHONE, CONTACT_NAME], &format!("{b}: lookup"));
        let eligibility = r
            .check_repair_eligibility(call(
                pb::CheckRepairEligibilityRequest { disclosure: s4.clone() },
                &portal.for_enterprise(&other_code),
            ))
            .await
            .expect("check")
            .into_inner();
        assert_free(
            &eligibility,
            &[PHONE, CONTACT_NAME, KNOWN_ID, KNOWN_ID_2],
            &format!("{b}: eligibility"),
        );
        trail.expect_none("events, look-up, eligibility").await;
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// NoticeService
// ---------------------------------------------------------------------------

async fn bundle(n: &mut Notices, who: &As, decision: &str, version: i32) -> Result<pb::NoticeBundle, Status> {
    n.get_notice_bundle(call(notice_bundle(decision, version), who))
        .await
        .map(|r| r.into_inner())
}

/// The first page of up to 1000 notice bundles `who` may list (all of a test's).
async fn bundles(n: &mut Notices, who: &As) -> pb::ListNoticeBundlesResponse {
    let all = pb::ListNoticeBundlesRequest {
        page_size: 1000,
        ..Default::default()
    };
    n.list_notice_bundles(call(all, who)).await.expect("list").into_inner()
}

#[tokio::test]
async fn notice_documents_showing_a_natural_persons_address_are_audited() {
    for db in backends().await {
        let b = db.backend;
        let (server, [officer, auditor, portal]) = server_with(&db, [Role::Officer, Role::Auditor, Role::Portal]).await;
        let code = credit_code("91310115", 7301);
        let ent = key(&server, Role::Enterprise, Some(&code)).await;
        let mut enf = server.enforcement().await;
        let mut n = Notices::new(server.channel().await);
        let mut trail = Trail::new(&server, &auditor, b).await;

        // A natural person's decision (recorded, not published) and a legal
        // person's with its representative's ID number (published).
        let np = create(&mut enf, &officer, "", natural_person("沪徐应急罚〔2025〕书审1号")).await;
        publish(&mut enf, &officer, &np.name).await;
        let lp = create(
            &mut enf,
            &officer,
            "",
            decision("沪徐应急罚〔2025〕书审2号", DECIDED, &code),
        )
        .await;
        publish(&mut enf, &officer, &lp.name).await;
        trail.watch(&np.name).await;
        trail.watch(&lp.name).await;
        let np_bundle = (np.name.clone(), format!("{}/noticeBundle", np.name));

        // GetNoticeBundle: the 行政处罚决定书 prints the natural person's address.
        let got = bundle(&mut n, &officer.who(), &np.name, 0).await.expect("officer get");
        assert_free(&got, &[KNOWN_ID], &format!("{b}: no ID number in any document"));
        trail
            .expect_address_shown("get by officer", &officer, "GetNoticeBundle", &got, &np_bundle)
            .await;
        bundle(&mut n, &auditor.who(), &np.name, 1)
            .await
            .expect("auditor get v1");
        trail
            .expect_one("get by auditor", &auditor, "GetNoticeBundle", &np_bundle)
            .await;
        // RenderNoticeDocument: the printed 行政处罚决定书 shows the address too.
        let printed = n
            .render_notice_document(req(
                pb::RenderNoticeDocumentRequest {
                    name: np_bundle.1.clone(),
                    kind: pb::DocumentKind::PenaltyDecision as i32,
                },
                &officer.secret,
            ))
            .await
            .expect("officer prints")
            .into_inner();
        assert_eq!(printed.media_type, "application/pdf", "{b}");
        trail
            .expect_one("print by officer", &officer, "RenderNoticeDocument", &np_bundle)
            .await;
        // A legal person's bundle carries no ID number: not audited.
        let lb = bundle(&mut n, &officer.who(), &lp.name, 0)
            .await
            .expect("legal person's bundle");
        assert_has(&lb, &code, &format!("{b}: legal person's bundle"));
        assert_free(
            &lb,
            &[KNOWN_ID, KNOWN_ID_2, HOME],
            &format!("{b}: legal person's bundle"),
        );
        trail.expect_none("legal person's bundle").await;

        // ListNoticeBundles: one read per bundle with personal data.
        for who in [&officer, &auditor] {
            let list = bundles(&mut n, &who.who()).await;
            assert_eq!(list.notice_bundles.len(), 2, "{b}");
            trail
                .expect_one(&format!("list by {}", who.role), who, "ListNoticeBundles", &np_bundle)
                .await;
        }

        // RecordNoticeDelivery and RecordNoticeReceipt answer with the bundle.
        let now = prost_types::Timestamp {
            seconds: server.clock.now().timestamp(),
            nanos: 0,
        };
        let delivered = calls::deliver_in_person(&mut n, &officer.secret, &np_bundle.1, "王五", "本人", now).await;
        trail
            .expect_address_shown("delivery", &officer, "RecordNoticeDelivery", &delivered, &np_bundle)
            .await;
        let receipted = calls::sign_receipt(&mut n, &officer.secret, &np_bundle.1, "王五", now).await;
        trail
            .expect_address_shown("receipt", &officer, "RecordNoticeReceipt", &receipted, &np_bundle)
            .await;

        // The enterprise and the portal get their own bundle: no ID number,
        // no address of a natural person.
        for who in [ent.who(), portal.for_enterprise(&code)] {
            let own = bundle(&mut n, &who, &lp.name, 0).await.expect("own bundle");
            assert_free(&own, &[KNOWN_ID, KNOWN_ID_2, HOME], &format!("{b}: own bundle"));
            let list = bundles(&mut n, &who).await;
            assert_eq!(list.notice_bundles.len(), 1, "{b}");
            assert_free(&list, &[KNOWN_ID, KNOWN_ID_2, HOME], &format!("{b}: own list"));
            let err = bundle(&mut n, &who, &np.name, 0).await.expect_err("not theirs");
            assert_eq!(err.code(), Code::NotFound, "{b}");
        }
        trail.expect_none("public roles' bundles").await;
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// No audit, no response
// ---------------------------------------------------------------------------

/// Makes every SENSITIVE_DATA_READ insert fail (the audit store is down).
async fn break_audit(url: &str, backend: &str) {
    if backend == "postgres" {
        sql::run(
            url,
            backend,
            &[
                "CREATE OR REPLACE FUNCTION test_refuse_sensitive_reads() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'audit unavailable'; END $$",
                "CREATE TRIGGER test_refuse_sensitive_reads BEFORE INSERT ON decision_events FOR EACH ROW \
                 WHEN (NEW.kind = 'SENSITIVE_DATA_READ') EXECUTE FUNCTION test_refuse_sensitive_reads()",
            ],
        )
        .await;
    } else {
        sql::run(
            url,
            backend,
            &[
                "CREATE TRIGGER test_refuse_sensitive_reads BEFORE INSERT ON decision_events \
               WHEN NEW.kind = 'SENSITIVE_DATA_READ' BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END",
            ],
        )
        .await;
    }
}

async fn mend_audit(url: &str, backend: &str) {
    let drop = if backend == "postgres" {
        "DROP TRIGGER test_refuse_sensitive_reads ON decision_events"
    } else {
        "DROP TRIGGER test_refuse_sensitive_reads"
    };
    sql::run(url, backend, &[drop]).await;
}

#[tokio::test]
async fn without_its_audit_event_no_sensitive_response_goes_out() {
    for db in backends().await {
        let b = db.backend;
        let (server, [officer, repairer]) = server_with(&db, [Role::Officer, Role::RepairReviewer]).await;
        let code = credit_code("91310115", 7401);
        let ent = key(&server, Role::Enterprise, Some(&code)).await;
        let mut enf = server.enforcement().await;
        let mut r = Repair::new(server.channel().await);
        let mut n = Notices::new(server.channel().await);

        let np = create(&mut enf, &officer, "", natural_person("沪徐应急罚〔2025〕断审1号")).await;
        let (_, disclosure) = repairable(&mut enf, &officer, "沪徐应急罚〔2025〕断审2号", &code).await;
        let a = submit(&mut r, &ent.who(), &disclosure, &code).await;
        let decisions = sql::count(&db.url, b, "SELECT COUNT(*) FROM penalty_decisions").await;

        break_audit(&db.url, b).await;
        // Reads: an error instead of the data.
        let err = get(&mut enf, &officer, &np.name).await.expect_err("get without audit");
        assert!(!err.message().contains(KNOWN_ID), "{b}: {err:?}");
        let err = get_application(&mut r, &repairer.who(), &a.name)
            .await
            .expect_err("repair get without audit");
        assert!(!err.message().contains(PHONE), "{b}: {err:?}");
        bundle(&mut n, &officer.who(), &np.name, 0)
            .await
            .expect_err("bundle without audit");
        // Mutations: neither the response nor the act.
        let p = natural_person("沪徐应急罚〔2025〕断审3号");
        calls::create(&mut enf, &officer.secret, "", p)
            .await
            .expect_err("create without audit");
        assert_eq!(
            sql::count(&db.url, b, "SELECT COUNT(*) FROM penalty_decisions").await,
            decisions,
            "{b}: nothing recorded"
        );
        calls::fulfil(&mut enf, &officer.secret, &np.name, "", FULFILLED, "罚款已缴")
            .await
            .expect_err("fulfil without audit");
        act_with(&mut r, &repairer.who(), &ent.who(), RepairAction::Accept, &a.name, "")
            .await
            .expect_err("accept without audit");
        // Nothing sensitive shown, nothing to audit: works as ever.
        create(
            &mut enf,
            &officer,
            "",
            plain("沪徐应急罚〔2025〕断审4号", &credit_code("91310115", 7402)),
        )
        .await;
        mend_audit(&db.url, b).await;

        let after = get(&mut enf, &officer, &np.name).await.expect("get");
        assert!(after.fulfillment.is_none(), "{b}: the fulfilment was not recorded");
        assert_eq!(after.etag, np.etag, "{b}: unchanged");
        let after = get_application(&mut r, &ent.who(), &a.name).await.expect("get");
        assert_eq!(after.state, pb::RepairState::Submitted as i32, "{b}: not accepted");
        assert_eq!(
            sql::count(&db.url, b, "SELECT COUNT(*) FROM penalty_decisions").await,
            decisions + 1,
            "{b}"
        );
        server.stop().await;
    }
}
