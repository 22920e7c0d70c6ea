//! Access control over every implemented RPC of EnforcementService and
//! DisclosureService (API.md "Authentication and roles"), and the rule that
//! ID numbers never reach a public response, feed or export (DOMAIN.md §3)
//! while staff reads of them are audited.

use std::time::Duration;

use chrono::NaiveDate;
use gongshi::api::pb;
use gongshi::app::App;
use gongshi::app::keys::NewKey;
use gongshi::domain::lifecycle::Role;
use pb::disclosure_service_client::DisclosureServiceClient;
use pb::enforcement_service_client::EnforcementServiceClient;
use prost::Message;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::decisions::{decision, valid_id_2};
use crate::support::calls::{self, all_decisions, events_of, get_disclosure, list_disclosures, slip_correction};
use crate::support::publish_sample;
use crate::support::{
    KNOWN_ID, ROLES, TestDb, TestServer, backends, clock_at, create_and_publish, credit_code, d, full_checklist,
    reason, req, set_personal_party,
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
    let (name, disclosure, etag) = (t.decision.clone(), t.disclosure.clone(), t.etag.clone());
    // `$client.$method($msg)` with the call's credentials, answered OK or not.
    macro_rules! answered {
        ($client:ident . $method:ident($msg:expr)) => {
            $client.$method(cred.wrap($msg)).await.map(drop)
        };
    }
    match rpc {
        Rpc::CreatePenaltyDecision => {
            let p = decision(
                &format!("沪浦应急罚〔2026〕权限{n}号"),
                DECIDED,
                &credit_code("91310115", 9000 + n),
            );
            answered!(enf.create_penalty_decision(pb::CreatePenaltyDecisionRequest {
                request_id: String::new(),
                penalty_decision: Some(p),
            }))
        }
        Rpc::GetPenaltyDecision => answered!(enf.get_penalty_decision(pb::GetPenaltyDecisionRequest { name })),
        Rpc::ListPenaltyDecisions => answered!(enf.list_penalty_decisions(pb::ListPenaltyDecisionsRequest::default())),
        Rpc::ReviewPenaltyDecision => answered!(enf.review_penalty_decision(pb::ReviewPenaltyDecisionRequest {
            name,
            opinion: pb::ReviewOpinion::Approve as i32,
            checklist: Some(full_checklist()),
            comment: "同意".into(),
            etag,
        })),
        Rpc::PublishPenaltyDecision => {
            answered!(enf.publish_penalty_decision(pb::PublishPenaltyDecisionRequest { name, etag }))
        }
        Rpc::CorrectPenaltyDecision => {
            answered!(enf.correct_penalty_decision(slip_correction(&name, "remarks", "更正", &etag)))
        }
        Rpc::WithdrawPenaltyDecision => answered!(enf.withdraw_penalty_decision(pb::WithdrawPenaltyDecisionRequest {
            name,
            legal_event: pb::WithdrawalEvent::Revoked as i32,
            public_reason: "撤销".into(),
            etag,
            legal_event_on: String::new(),
        })),
        Rpc::RecordFulfillment => answered!(enf.record_fulfillment(pb::RecordFulfillmentRequest {
            name,
            fulfilled_on: "2026-11-25".into(),
            evidence: "缴款凭证".into(),
            etag,
        })),
        Rpc::ListPenaltyDecisionEvents => {
            answered!(enf.list_penalty_decision_events(pb::ListPenaltyDecisionEventsRequest {
                name,
                page_size: 0,
                page_token: String::new(),
            }))
        }
        Rpc::GetDisclosure => answered!(dis.get_disclosure(pb::GetDisclosureRequest { name: disclosure })),
        Rpc::ListDisclosures => answered!(dis.list_disclosures(pb::ListDisclosuresRequest::default())),
        Rpc::ListDisclosureChanges => answered!(dis.list_disclosure_changes(pb::ListDisclosureChangesRequest {
            after_sequence: 0,
            page_size: 0,
        })),
        Rpc::WatchDisclosureChanges => {
            answered!(dis.watch_disclosure_changes(pb::WatchDisclosureChangesRequest { after_sequence: 0 }))
        }
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

/// A server at noon of [`TODAY`] on a database, with a client of each service.
async fn start(db: &TestDb) -> (TestServer, Enf, Dis) {
    let server = TestServer::start(&db.url, clock_at(TODAY)).await;
    let (enf, dis) = (server.enforcement().await, server.disclosures().await);
    (server, enf, dis)
}

/// A new key of `role` labelled "`label` `role`", valid through `last_day`
/// (`None`: no end), and how a call presents it: an enterprise key is bound
/// to `enterprise`, a portal key acts for it.
async fn role_key(app: &App, role: Role, label: &str, enterprise: &str, last_day: Option<NaiveDate>) -> (Cred, NewKey) {
    let bound = (role == Role::Enterprise).then_some(enterprise);
    let k = app
        .create_key(role, &format!("{label} {role}"), bound, last_day)
        .await
        .expect("key");
    let c = Cred {
        key: Some(k.secret.clone()),
        on_behalf_of: (role == Role::Portal).then(|| enterprise.to_string()),
    };
    (c, k)
}

#[tokio::test]
async fn every_rpc_checks_authentication_then_role_before_existence() {
    for db in backends().await {
        let b = db.backend;
        let (server, mut enf, mut dis) = start(&db).await;
        let app = server.app.clone();
        let enterprise_code = credit_code("91310115", 8001);

        // One key per role, and revoked and expired keys of every role.
        let mut creds = Vec::new();
        let mut revoked = Vec::new();
        let mut expired = Vec::new();
        let yesterday = d(TODAY).pred_opt().unwrap();
        for role in ROLES {
            creds.push((role, role_key(&app, role, "access", &enterprise_code, None).await.0));
            let (c, k) = role_key(&app, role, "revoked", &enterprise_code, None).await;
            assert!(
                app.store.revoke_key(&k.row.id, app.now_micros()).await.expect("revoke"),
                "{b}"
            );
            revoked.push((role, c));
            expired.push((
                role,
                role_key(&app, role, "expired", &enterprise_code, Some(yesterday))
                    .await
                    .0,
            ));
        }
        let cred_of = |role: Role| {
            creds
                .iter()
                .find(|(r, _)| *r == role)
                .map(|(_, c)| c.clone())
                .expect("cred")
        };
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

        // Who is refused authentication: (a) no key, a malformed key, an
        // unknown key; (b), (c) revoked and expired keys of every role,
        // allowed ones included.
        let forged = format!("gsk_{}_{}", "0".repeat(26), "0".repeat(64));
        let mut unauthenticated = vec![
            (
                "no key".to_string(),
                Cred::default(),
                Code::Unauthenticated,
                "UNAUTHENTICATED",
            ),
            (
                "a malformed key".into(),
                Cred::key("not-a-key"),
                Code::Unauthenticated,
                "UNAUTHENTICATED",
            ),
            (
                "an unknown key".into(),
                Cred::key(&forged),
                Code::Unauthenticated,
                "UNAUTHENTICATED",
            ),
        ];
        let stale = |how: &str, keys: &[(Role, Cred)]| -> Vec<_> {
            keys.iter()
                .map(|(role, c)| (format!("{how} {role} key"), c.clone()))
                .collect()
        };
        for (who, c) in stale("a revoked", &revoked) {
            unauthenticated.push((who, c, Code::Unauthenticated, "UNAUTHENTICATED"));
        }
        for (who, c) in stale("an expired", &expired) {
            unauthenticated.push((who, c, Code::Unauthenticated, "UNAUTHENTICATED"));
        }

        let mut n = 0u64;
        for rpc in ALL_RPCS {
            let allowed = rpc.allowed();
            for (tname, t, is_existing) in [("missing", &missing, false), ("existing", &existing, true)] {
                let ctx = |who: &str| format!("{b}: {rpc:?} on a {tname} resource by {who}");
                // (a), (b), (c); then (d) every role the table does not allow.
                let not_allowed = creds.iter().filter(|(r, _)| !allowed.contains(r));
                let denied = not_allowed
                    .map(|(role, c)| (role.to_string(), c.clone(), Code::PermissionDenied, "ROLE_NOT_ALLOWED"));
                for (who, c, code, why) in unauthenticated.iter().cloned().chain(denied) {
                    n += 1;
                    check(call(rpc, &mut enf, &mut dis, &c, t, n).await, code, why, &ctx(&who));
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
        let (server, mut enf, mut dis) = start(&db).await;
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
        let auditor = auditor_key.secret.clone();
        let (active, all) = (
            [&business.disclosure, &lp.disclosure],
            [&business.disclosure, &lp.disclosure, &gone.disclosure],
        );
        for (key, names) in [(&discloser, &active[..]), (&auditor, &all[..])] {
            for name in names {
                seen.add(&get_disclosure(&mut dis, key, name).await.expect("get"));
            }
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
        let changes = calls::feed(&mut dis, &discloser).await;
        // PUBLISHED ×3, CORRECTED, TERMINATED.
        assert_eq!(changes.len(), 5, "{b}");
        for change in &changes {
            seen.add(change);
        }
        let mut watch = dis
            .watch_disclosure_changes(req(pb::WatchDisclosureChangesRequest { after_sequence: 0 }, &discloser))
            .await
            .expect("watch")
            .into_inner();
        for _ in 0..changes.len() {
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
            for e in calls::events(&mut enf, &auditor, name).await {
                ev.add(&e);
            }
        }
        for secret in [KNOWN_ID, &rep_id, home] {
            ev.assert_free_of(secret, &format!("{b}: decision events"));
        }
        server.stop().await;
    }
}
