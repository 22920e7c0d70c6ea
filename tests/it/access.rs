//! Access control over every implemented RPC of EnforcementService and
//! DisclosureService (API.md "Authentication and roles"), and the rule that
//! ID numbers never reach a public response, feed or export (DOMAIN.md §3)
//! while staff reads of them are audited.

use std::time::Duration;

use gongshi::api::pb;
use gongshi::domain::lifecycle::Role;
use pb::disclosure_service_client::DisclosureServiceClient;
use pb::enforcement_service_client::EnforcementServiceClient;
use prost::Message;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::decisions::{decision, valid_id_2};
use crate::support::calls::{self, all_decisions, events_of, list_disclosures, slip_correction};
use crate::support::publish_sample;
use crate::support::{
    KNOWN_ID, ROLES, TestServer, backends, clock_at, create_and_publish, credit_code, d, full_checklist, reason, req,
    set_personal_party,
};

type Enf = EnforcementServiceClient<Channel>;
type Dis = DisclosureServiceClient<Channel>;

const TODAY: &str = "2026-11-29";
const DECIDED: &str = "2026-11-20";

/// The implemented RPCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rpc {
    CreatePenaltyDecision,
    GetPenaltyDecision,
    ListPenaltyDecisions,
    ReviewPenaltyDecision,
    PublishPenaltyDecision,
    CorrectPenaltyDecision,
    WithdrawPenaltyDecision,
    RecordFulfillment,
    ListPenaltyDecisionEvents,
    GetDisclosure,
    ListDisclosures,
    ListDisclosureChanges,
    WatchDisclosureChanges,
    ExportDisclosures,
}

const ALL_RPCS: [Rpc; 14] = [
    Rpc::CreatePenaltyDecision,
    Rpc::GetPenaltyDecision,
    Rpc::ListPenaltyDecisions,
    Rpc::ReviewPenaltyDecision,
    Rpc::PublishPenaltyDecision,
    Rpc::CorrectPenaltyDecision,
    Rpc::WithdrawPenaltyDecision,
    Rpc::RecordFulfillment,
    Rpc::ListPenaltyDecisionEvents,
    Rpc::GetDisclosure,
    Rpc::ListDisclosures,
    Rpc::ListDisclosureChanges,
    Rpc::WatchDisclosureChanges,
    Rpc::ExportDisclosures,
];

/// What a call with an allowed role should give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Ok,
    NotFound,
    EtagMismatch,
}

impl Rpc {
    /// The roles API.md's table allows.
    fn allowed(self) -> &'static [Role] {
        use Role::*;
        match self {
            // officer: everything in EnforcementService except ReviewPenaltyDecision.
            Rpc::CreatePenaltyDecision
            | Rpc::PublishPenaltyDecision
            | Rpc::CorrectPenaltyDecision
            | Rpc::WithdrawPenaltyDecision
            | Rpc::RecordFulfillment => &[Officer],
            // officer, legal_reviewer ("read decisions"), auditor ("read everything").
            Rpc::GetPenaltyDecision | Rpc::ListPenaltyDecisions => &[Officer, LegalReviewer, Auditor],
            Rpc::ReviewPenaltyDecision => &[LegalReviewer],
            // officer ("read decisions and events"), auditor.
            Rpc::ListPenaltyDecisionEvents => &[Officer, Auditor],
            // discloser: DisclosureService; auditor: read everything.
            Rpc::GetDisclosure
            | Rpc::ListDisclosures
            | Rpc::ListDisclosureChanges
            | Rpc::WatchDisclosureChanges
            | Rpc::ExportDisclosures => &[Discloser, Auditor],
        }
    }

    /// Expected outcome for an allowed role: on a resource that does not exist,
    /// and on one that does, with a stale etag.
    fn want(self, existing: bool) -> Want {
        match (self, existing) {
            (Rpc::CreatePenaltyDecision | Rpc::ListPenaltyDecisions, _) => Want::Ok,
            (
                Rpc::ListDisclosures
                | Rpc::ListDisclosureChanges
                | Rpc::WatchDisclosureChanges
                | Rpc::ExportDisclosures,
                _,
            ) => Want::Ok,
            (Rpc::GetPenaltyDecision | Rpc::ListPenaltyDecisionEvents | Rpc::GetDisclosure, false) => Want::NotFound,
            (Rpc::GetPenaltyDecision | Rpc::ListPenaltyDecisionEvents | Rpc::GetDisclosure, true) => Want::Ok,
            (_, false) => Want::NotFound,
            (_, true) => Want::EtagMismatch,
        }
    }
}

/// Credentials of a call.
#[derive(Debug, Clone, Default)]
struct Cred {
    key: Option<String>,
    on_behalf_of: Option<String>,
}

impl Cred {
    fn key(k: &str) -> Self {
        Cred {
            key: Some(k.to_string()),
            on_behalf_of: None,
        }
    }

    fn wrap<T>(&self, msg: T) -> Request<T> {
        let mut r = match &self.key {
            Some(k) => req(msg, k),
            None => Request::new(msg),
        };
        if let Some(code) = &self.on_behalf_of {
            r.metadata_mut()
                .insert("x-gongshi-on-behalf-of", code.parse().expect("ascii"));
        }
        r
    }
}

/// What a call is made on.
struct Target {
    decision: String,
    disclosure: String,
    etag: String,
}

/// Makes one call; Ok(()) when the server answered OK.
async fn call(rpc: Rpc, enf: &mut Enf, dis: &mut Dis, cred: &Cred, t: &Target, n: u64) -> Result<(), Status> {
    match rpc {
        Rpc::CreatePenaltyDecision => {
            let p = decision(
                &format!("沪浦应急罚〔2026〕权限{n}号"),
                DECIDED,
                &credit_code("91310115", 9000 + n),
            );
            enf.create_penalty_decision(cred.wrap(pb::CreatePenaltyDecisionRequest {
                request_id: String::new(),
                penalty_decision: Some(p),
            }))
            .await
            .map(drop)
        }
        Rpc::GetPenaltyDecision => enf
            .get_penalty_decision(cred.wrap(pb::GetPenaltyDecisionRequest {
                name: t.decision.clone(),
            }))
            .await
            .map(drop),
        Rpc::ListPenaltyDecisions => enf
            .list_penalty_decisions(cred.wrap(pb::ListPenaltyDecisionsRequest::default()))
            .await
            .map(drop),
        Rpc::ReviewPenaltyDecision => enf
            .review_penalty_decision(cred.wrap(pb::ReviewPenaltyDecisionRequest {
                name: t.decision.clone(),
                opinion: pb::ReviewOpinion::Approve as i32,
                checklist: Some(full_checklist()),
                comment: "同意".into(),
                etag: t.etag.clone(),
            }))
            .await
            .map(drop),
        Rpc::PublishPenaltyDecision => enf
            .publish_penalty_decision(cred.wrap(pb::PublishPenaltyDecisionRequest {
                name: t.decision.clone(),
                etag: t.etag.clone(),
            }))
            .await
            .map(drop),
        Rpc::CorrectPenaltyDecision => enf
            .correct_penalty_decision(cred.wrap(slip_correction(&t.decision, "remarks", "更正", &t.etag)))
            .await
            .map(drop),
        Rpc::WithdrawPenaltyDecision => enf
            .withdraw_penalty_decision(cred.wrap(pb::WithdrawPenaltyDecisionRequest {
                name: t.decision.clone(),
                legal_event: pb::WithdrawalEvent::Revoked as i32,
                public_reason: "撤销".into(),
                etag: t.etag.clone(),
                legal_event_on: String::new(),
            }))
            .await
            .map(drop),
        Rpc::RecordFulfillment => enf
            .record_fulfillment(cred.wrap(pb::RecordFulfillmentRequest {
                name: t.decision.clone(),
                fulfilled_on: "2026-11-25".into(),
                evidence: "缴款凭证".into(),
                etag: t.etag.clone(),
            }))
            .await
            .map(drop),
        Rpc::ListPenaltyDecisionEvents => enf
            .list_penalty_decision_events(cred.wrap(pb::ListPenaltyDecisionEventsRequest {
                name: t.decision.clone(),
                page_size: 0,
                page_token: String::new(),
            }))
            .await
            .map(drop),
        Rpc::GetDisclosure => dis
            .get_disclosure(cred.wrap(pb::GetDisclosureRequest {
                name: t.disclosure.clone(),
            }))
            .await
            .map(drop),
        Rpc::ListDisclosures => dis
            .list_disclosures(cred.wrap(pb::ListDisclosuresRequest::default()))
            .await
            .map(drop),
        Rpc::ListDisclosureChanges => dis
            .list_disclosure_changes(cred.wrap(pb::ListDisclosureChangesRequest {
                after_sequence: 0,
                page_size: 0,
            }))
            .await
            .map(drop),
        Rpc::WatchDisclosureChanges => dis
            .watch_disclosure_changes(cred.wrap(pb::WatchDisclosureChangesRequest { after_sequence: 0 }))
            .await
            .map(drop),
        Rpc::ExportDisclosures => {
            let mut s = dis
                .export_disclosures(cred.wrap(pb::ExportDisclosuresRequest {
                    format: pb::ExportFormat::Csv as i32,
                }))
                .await?
                .into_inner();
            // Read it to the end: an allowed export must complete.
            while let Some(chunk) = s.next().await {
                if chunk?.last {
                    return Ok(());
                }
            }
            Err(Status::internal("export ended without a last chunk"))
        }
    }
}

#[track_caller]
fn check(r: Result<(), Status>, code: Code, why: &str, ctx: &str) {
    match r {
        Ok(()) => panic!("{ctx}: expected {code:?} ({why}), got OK"),
        Err(s) => {
            assert_eq!(s.code(), code, "{ctx}: {s:?}");
            assert_eq!(reason(&s), why, "{ctx}: {s:?}");
        }
    }
}

#[tokio::test]
async fn every_rpc_checks_authentication_then_role_before_existence() {
    for db in backends().await {
        let b = db.backend;
        let server = TestServer::start(&db.url, clock_at(TODAY)).await;
        let mut enf = server.enforcement().await;
        let mut dis = server.disclosures().await;
        let app = server.app.clone();
        let enterprise_code = credit_code("91310115", 8001);

        // One key per role; portal calls name the enterprise they act for.
        let mut creds = Vec::new();
        for role in ROLES {
            let bound = (role == Role::Enterprise).then_some(enterprise_code.as_str());
            let k = app
                .create_key(role, &format!("access {role}"), bound, None)
                .await
                .expect("key");
            let mut c = Cred::key(&k.secret);
            if role == Role::Portal {
                c.on_behalf_of = Some(enterprise_code.clone());
            }
            creds.push((role, c));
        }
        let cred_of = |role: Role| {
            creds
                .iter()
                .find(|(r, _)| *r == role)
                .map(|(_, c)| c.clone())
                .expect("cred")
        };

        // Revoked and expired keys of every role.
        let mut revoked = Vec::new();
        let mut expired = Vec::new();
        let yesterday = d(TODAY).pred_opt().unwrap();
        for role in ROLES {
            let bound = (role == Role::Enterprise).then_some(enterprise_code.as_str());
            let k = app
                .create_key(role, &format!("revoked {role}"), bound, None)
                .await
                .expect("key");
            assert!(
                app.store.revoke_key(&k.row.id, app.now_micros()).await.expect("revoke"),
                "{b}"
            );
            let mut c = Cred::key(&k.secret);
            let k = app
                .create_key(role, &format!("expired {role}"), bound, Some(yesterday))
                .await
                .expect("key");
            let mut e = Cred::key(&k.secret);
            if role == Role::Portal {
                c.on_behalf_of = Some(enterprise_code.clone());
                e.on_behalf_of = Some(enterprise_code.clone());
            }
            revoked.push((role, c));
            expired.push((role, e));
        }
        // A key whose last day is today still works.
        let last_day = app
            .create_key(Role::Officer, "last day", None, Some(d(TODAY)))
            .await
            .expect("key");

        // Resources: one that does not exist, and real ones with a stale etag.
        let officer = cred_of(Role::Officer).key.unwrap();
        let recorded = enf
            .create_penalty_decision(req(
                pb::CreatePenaltyDecisionRequest {
                    request_id: String::new(),
                    penalty_decision: Some(decision(
                        "沪浦应急罚〔2026〕权限0号",
                        DECIDED,
                        &credit_code("91310115", 8000),
                    )),
                },
                &last_day.secret,
            ))
            .await
            .expect("a key on its last day works")
            .into_inner();
        let published = publish_sample(&mut enf, &officer, "沪浦应急罚〔2026〕权限00号", DECIDED, 8002).await;
        let missing = Target {
            decision: "penaltyDecisions/NOSUCHDECISION01".into(),
            disclosure: "disclosures/NOSUCHDISCLOSURE01".into(),
            etag: String::new(),
        };
        let existing = Target {
            decision: recorded.name.clone(),
            disclosure: published.disclosure.clone(),
            etag: "\"999\"".into(),
        };

        let mut n = 0u64;
        for rpc in ALL_RPCS {
            let allowed = rpc.allowed();
            for (tname, t, is_existing) in [("missing", &missing, false), ("existing", &existing, true)] {
                let ctx = |who: &str| format!("{b}: {rpc:?} on a {tname} resource by {who}");
                // (a) no key, a malformed key, an unknown key.
                n += 1;
                check(
                    call(rpc, &mut enf, &mut dis, &Cred::default(), t, n).await,
                    Code::Unauthenticated,
                    "UNAUTHENTICATED",
                    &ctx("no key"),
                );
                n += 1;
                check(
                    call(rpc, &mut enf, &mut dis, &Cred::key("not-a-key"), t, n).await,
                    Code::Unauthenticated,
                    "UNAUTHENTICATED",
                    &ctx("a malformed key"),
                );
                n += 1;
                let forged = format!("gsk_{}_{}", "0".repeat(26), "0".repeat(64));
                check(
                    call(rpc, &mut enf, &mut dis, &Cred::key(&forged), t, n).await,
                    Code::Unauthenticated,
                    "UNAUTHENTICATED",
                    &ctx("an unknown key"),
                );
                // (b), (c) revoked and expired keys of every role, allowed ones included.
                for (role, c) in &revoked {
                    n += 1;
                    check(
                        call(rpc, &mut enf, &mut dis, c, t, n).await,
                        Code::Unauthenticated,
                        "UNAUTHENTICATED",
                        &ctx(&format!("a revoked {role} key")),
                    );
                }
                for (role, c) in &expired {
                    n += 1;
                    check(
                        call(rpc, &mut enf, &mut dis, c, t, n).await,
                        Code::Unauthenticated,
                        "UNAUTHENTICATED",
                        &ctx(&format!("an expired {role} key")),
                    );
                }
                // (d) every role the table does not allow.
                for (role, c) in creds.iter().filter(|(r, _)| !allowed.contains(r)) {
                    n += 1;
                    check(
                        call(rpc, &mut enf, &mut dis, c, t, n).await,
                        Code::PermissionDenied,
                        "ROLE_NOT_ALLOWED",
                        &ctx(&role.to_string()),
                    );
                }
                // (e) every allowed role gets past authentication and the role check.
                for (role, c) in creds.iter().filter(|(r, _)| allowed.contains(r)) {
                    n += 1;
                    let r = call(rpc, &mut enf, &mut dis, c, t, n).await;
                    let ctx = ctx(&role.to_string());
                    match rpc.want(is_existing) {
                        Want::Ok => {
                            if let Err(s) = r {
                                panic!("{ctx}: expected OK, got {s:?}");
                            }
                        }
                        Want::NotFound => check(r, Code::NotFound, "NOT_FOUND", &ctx),
                        Want::EtagMismatch => check(r, Code::Aborted, "ETAG_MISMATCH", &ctx),
                    }
                }
            }
        }

        // None of the refused calls changed anything: the decision is still recorded, unreviewed.
        let now = calls::get(&mut enf, &officer, &recorded.name).await;
        assert_eq!(now.etag, recorded.etag, "{b}: refused calls changed nothing");
        assert_eq!(now.state, pb::DecisionState::Recorded as i32, "{b}");
        assert!(now.legal_review.is_none() && now.fulfillment.is_none(), "{b}");
        let created = all_decisions(&mut enf, &officer).await;
        // The two set up here plus one per allowed (officer) create, on each target.
        assert_eq!(created.len(), 2 + 2, "{b}: only the officer's creates were stored");
        server.stop().await;
    }
}

#[tokio::test]
async fn an_enterprise_key_cannot_act_for_another_enterprise_and_portal_keys_need_one() {
    for db in backends().await {
        let b = db.backend;
        let server = TestServer::start(&db.url, clock_at(TODAY)).await;
        let mut dis = server.disclosures().await;
        let own = credit_code("91310115", 8101);
        let other = credit_code("91310115", 8102);
        let ent = server.key(Role::Enterprise, Some(&own)).await;
        let portal = server.key(Role::Portal, None).await;
        let t = Target {
            decision: String::new(),
            disclosure: "disclosures/NOSUCH01".into(),
            etag: String::new(),
        };
        let mut enf = server.enforcement().await;
        let c = Cred {
            key: Some(ent.clone()),
            on_behalf_of: Some(other.clone()),
        };
        check(
            call(Rpc::GetDisclosure, &mut enf, &mut dis, &c, &t, 1).await,
            Code::PermissionDenied,
            "ENTERPRISE_MISMATCH",
            &format!("{b}: enterprise acting for another"),
        );
        let c = Cred {
            key: Some(portal.clone()),
            on_behalf_of: None,
        };
        let r = call(Rpc::GetDisclosure, &mut enf, &mut dis, &c, &t, 2)
            .await
            .expect_err("portal without on-behalf-of");
        assert!(
            matches!(
                r.code(),
                Code::InvalidArgument | Code::PermissionDenied | Code::Unauthenticated
            ),
            "{b}: {r:?}"
        );
        let c = Cred {
            key: Some(portal),
            on_behalf_of: Some("91310115000000000X".into()),
        };
        let r = call(Rpc::GetDisclosure, &mut enf, &mut dis, &c, &t, 3)
            .await
            .expect_err("invalid on-behalf-of");
        assert_ne!(r.code(), Code::NotFound, "{b}: {r:?}");
        server.stop().await;
    }
}

// ---------------------------------------------------------------------------
// ID numbers
// ---------------------------------------------------------------------------

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Everything a client received, as encoded bytes and as Debug text.
#[derive(Default)]
struct Seen {
    bytes: Vec<u8>,
    text: String,
}

impl Seen {
    fn add<M: Message + std::fmt::Debug>(&mut self, m: &M) {
        self.bytes.extend(m.encode_to_vec());
        self.bytes.push(0);
        self.text.push_str(&format!("{m:?}\n"));
    }

    #[track_caller]
    fn assert_free_of(&self, secret: &str, ctx: &str) {
        assert!(
            !contains(&self.bytes, secret.as_bytes()),
            "{ctx}: {secret} in the encoded messages"
        );
        assert!(!self.text.contains(secret), "{ctx}: {secret} in the Debug text");
    }

    #[track_caller]
    fn assert_has(&self, public: &str, ctx: &str) {
        assert!(
            contains(&self.bytes, public.as_bytes()),
            "{ctx}: {public} expected in the encoded messages"
        );
    }
}

fn party_of(p: &pb::PenaltyDecision) -> pb::Party {
    p.party.clone().expect("party")
}

async fn sensitive_reads(enf: &mut Enf, key: &str, name: &str) -> Vec<pb::Actor> {
    events_of(enf, key, name, pb::DecisionEventKind::SensitiveDataRead)
        .await
        .into_iter()
        .map(|e| e.actor.expect("actor"))
        .collect()
}

#[tokio::test]
async fn id_numbers_never_leave_through_disclosures_feeds_or_exports() {
    for db in backends().await {
        let b = db.backend;
        let server = TestServer::start(&db.url, clock_at(TODAY)).await;
        let mut enf = server.enforcement().await;
        let mut dis = server.disclosures().await;
        let app = server.app.clone();
        let officer_key = app.create_key(Role::Officer, "officer", None, None).await.expect("key");
        let officer = officer_key.secret.clone();
        let reviewer_key = app
            .create_key(Role::LegalReviewer, "reviewer", None, None)
            .await
            .expect("key");
        let auditor_key = app.create_key(Role::Auditor, "auditor", None, None).await.expect("key");
        let discloser = server.key(Role::Discloser, None).await;
        let rep_id = valid_id_2();
        let home = "上海市浦东新区张江路100弄1号101室";

        // A natural person: recorded, not published (publish_natural_persons is off).
        let mut p = decision("沪浦应急罚〔2026〕隐私1号", DECIDED, "");
        // Its ID number is stored normalised (upper case).
        set_personal_party(
            &mut p,
            pb::PartyKind::NaturalPerson,
            "王五",
            &KNOWN_ID.to_lowercase(),
            home,
        );
        let natural = create_and_publish(&mut enf, &officer, p).await;
        assert_eq!(natural.state, pb::DecisionState::NotPublished as i32, "{b}");
        assert_eq!(
            natural.exclusion.as_ref().unwrap().rule,
            "NATURAL_PERSON_NOT_DISCLOSED",
            "{b}"
        );

        // An individual business identified by its keeper's ID card: published.
        let ib_code = credit_code("92310115", 8201);
        let mut p = decision("沪浦应急罚〔2026〕隐私2号", DECIDED, &ib_code);
        {
            let party = p.party.as_mut().unwrap();
            party.kind = pb::PartyKind::IndividualBusiness as i32;
            party.name = "浦东新区某某五金店".into();
            party.id_type = pb::IdType::ResidentIdCard as i32;
            party.id_number = KNOWN_ID.into();
            party.address = home.into();
        }
        let business = create_and_publish(&mut enf, &officer, p).await;
        assert_eq!(business.state, pb::DecisionState::Published as i32, "{b}");

        // A legal person with a legal representative's ID number: published, then corrected.
        let lp = publish_sample(&mut enf, &officer, "沪浦应急罚〔2026〕隐私3号", DECIDED, 8202).await;
        enf.correct_penalty_decision(req(
            slip_correction(&lp.name, "violation_facts", "更正后的违法事实（隐私测试）", &lp.etag),
            &officer,
        ))
        .await
        .expect("correct");
        // And one published, then withdrawn (auditors still read it).
        let gone = publish_sample(&mut enf, &officer, "沪浦应急罚〔2026〕隐私4号", DECIDED, 8203).await;
        enf.withdraw_penalty_decision(req(
            pb::WithdrawPenaltyDecisionRequest {
                name: gone.name.clone(),
                legal_event: pb::WithdrawalEvent::Changed as i32,
                public_reason: "决定已变更".into(),
                etag: gone.etag.clone(),
                legal_event_on: String::new(),
            },
            &officer,
        ))
        .await
        .expect("withdraw");

        // Everything the disclosure side serves.
        let mut seen = Seen::default();
        for name in [&business.disclosure, &lp.disclosure] {
            let m = dis
                .get_disclosure(req(pb::GetDisclosureRequest { name: name.clone() }, &discloser))
                .await
                .expect("get")
                .into_inner();
            seen.add(&m);
        }
        let auditor = auditor_key.secret.clone();
        for name in [&business.disclosure, &lp.disclosure, &gone.disclosure] {
            let m = dis
                .get_disclosure(req(pb::GetDisclosureRequest { name: name.clone() }, &auditor))
                .await
                .expect("get")
                .into_inner();
            seen.add(&m);
        }
        let listed = list_disclosures(&mut dis, &discloser).await;
        assert_eq!(listed.disclosures.len(), 2, "{b}");
        seen.add(&listed);
        let withdrawn = dis
            .list_disclosures(req(
                pb::ListDisclosuresRequest {
                    page_size: 1000,
                    state: pb::DisclosureState::Withdrawn as i32,
                    ..Default::default()
                },
                &auditor,
            ))
            .await
            .expect("auditor lists withdrawn")
            .into_inner();
        assert_eq!(withdrawn.disclosures.len(), 1, "{b}");
        seen.add(&withdrawn);
        let changes = dis
            .list_disclosure_changes(req(
                pb::ListDisclosureChangesRequest {
                    after_sequence: 0,
                    page_size: 1000,
                },
                &discloser,
            ))
            .await
            .expect("changes")
            .into_inner();
        // PUBLISHED ×3, CORRECTED, TERMINATED.
        assert_eq!(changes.changes.len(), 5, "{b}");
        seen.add(&changes);
        let mut watch = dis
            .watch_disclosure_changes(req(pb::WatchDisclosureChangesRequest { after_sequence: 0 }, &discloser))
            .await
            .expect("watch")
            .into_inner();
        for _ in 0..changes.changes.len() {
            let m = tokio::time::timeout(Duration::from_secs(10), watch.next())
                .await
                .expect("watch delivers the backlog")
                .expect("stream open")
                .expect("message");
            seen.add(&m);
        }
        drop(watch);
        let mut export = calls::export_csv(&mut dis, &discloser).await;
        let mut csv = Vec::new();
        while let Some(chunk) = export.next().await {
            let chunk = chunk.expect("chunk");
            csv.extend_from_slice(&chunk.data);
            seen.add(&chunk);
            if chunk.last {
                assert_eq!(chunk.row_count, 2, "{b}");
                break;
            }
        }
        let csv = String::from_utf8(csv).expect("UTF-8 CSV");
        seen.text.push_str(&csv);

        // What must be there is there; what must not be is not.
        let ctx = format!("{b}: disclosure responses");
        seen.assert_has(&ib_code, &ctx);
        seen.assert_has("浦东新区某某五金店", &ctx);
        seen.assert_has("更正后的违法事实（隐私测试）", &ctx);
        assert!(
            csv.contains(&ib_code) && csv.contains("沪浦应急罚〔2026〕隐私3号"),
            "{ctx}: the export has the records"
        );
        for secret in [KNOWN_ID, &KNOWN_ID.to_lowercase(), &rep_id, home, "王五"] {
            seen.assert_free_of(secret, &ctx);
            assert!(!csv.contains(secret), "{ctx}: {secret} in the CSV");
        }

        // Staff roles do see the ID numbers, and every such read is recorded.
        let before = sensitive_reads(&mut enf, &auditor, &business.name).await.len();
        let got = calls::get(&mut enf, &officer, &business.name).await;
        let party = party_of(&got);
        assert_eq!(party.id_number, KNOWN_ID, "{b}: officers see the party's ID number");
        assert_eq!(party.legal_representative.unwrap().id_number, rep_id, "{b}");
        assert_eq!(party.address, home, "{b}");
        let reads = sensitive_reads(&mut enf, &auditor, &business.name).await;
        assert_eq!(reads.len(), before + 1, "{b}: the officer's read is recorded");
        assert_eq!(reads.last().unwrap().key_id, officer_key.row.id, "{b}");
        assert_eq!(reads.last().unwrap().role, "officer", "{b}");

        let got = calls::get(&mut enf, &reviewer_key.secret, &business.name).await;
        assert_eq!(party_of(&got).id_number, KNOWN_ID, "{b}: legal reviewers see it");
        let reads = sensitive_reads(&mut enf, &auditor, &business.name).await;
        assert_eq!(reads.len(), before + 2, "{b}: the reviewer's read is recorded");
        assert_eq!(reads.last().unwrap().key_id, reviewer_key.row.id, "{b}");
        assert_eq!(reads.last().unwrap().role, "legal_reviewer", "{b}");

        let got = calls::get(&mut enf, &auditor, &natural.name).await;
        let party = party_of(&got);
        assert_eq!(
            party.id_number, KNOWN_ID,
            "{b}: auditors see a natural person's ID number (normalised)"
        );
        assert_eq!(party.address, home, "{b}: and address");
        let reads = sensitive_reads(&mut enf, &officer, &natural.name).await;
        assert_eq!(
            reads.last().map(|a| a.key_id.as_str()),
            Some(auditor_key.row.id.as_str()),
            "{b}: the auditor's read is recorded"
        );

        // A list read by staff is recorded for each decision it showed sensitive fields of.
        let n_business = sensitive_reads(&mut enf, &auditor, &business.name).await.len();
        let n_natural = sensitive_reads(&mut enf, &auditor, &natural.name).await.len();
        let all = all_decisions(&mut enf, &officer).await;
        assert_eq!(all.len(), 4, "{b}: one page");
        assert_eq!(
            sensitive_reads(&mut enf, &auditor, &business.name).await.len(),
            n_business + 1,
            "{b}"
        );
        assert_eq!(
            sensitive_reads(&mut enf, &auditor, &natural.name).await.len(),
            n_natural + 1,
            "{b}"
        );

        // The record itself (events) never carries the ID numbers.
        let mut ev = Seen::default();
        for name in [&natural.name, &business.name, &lp.name, &gone.name] {
            let r = enf
                .list_penalty_decision_events(req(
                    pb::ListPenaltyDecisionEventsRequest {
                        name: name.clone(),
                        page_size: 1000,
                        page_token: String::new(),
                    },
                    &auditor,
                ))
                .await
                .expect("events")
                .into_inner();
            ev.add(&r);
        }
        for secret in [KNOWN_ID, &rep_id, home] {
            ev.assert_free_of(secret, &format!("{b}: decision events"));
        }
        server.stop().await;
    }
}
