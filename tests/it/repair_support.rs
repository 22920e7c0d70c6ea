//! Helpers of the credit-repair tests (`repair.rs`): a server with the staff
//! keys, sample disclosures ready for repair, applications, and one function
//! per CreditRepairService transition.

use std::time::{Duration, Instant};

use gongshi::api::pb;
use gongshi::domain::clock::cst_midnight;
use gongshi::domain::lifecycle::Role;
use gongshi::domain::repair::{RepairAction, RepairState};
use tonic::Status;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::support::calls;
use crate::support::{TestDb, TestServer, clock_at, create_and_publish, credit_code, d, decision, req};

#[path = "../testkit/repair_sample.rs"]
mod repair_sample;
pub use repair_sample::{application_for, commitment, material, proof};

pub type RepairClient = pb::credit_repair_service_client::CreditRepairServiceClient<Channel>;
pub type EnfClient = pb::enforcement_service_client::EnforcementServiceClient<Channel>;
pub type DisClient = pb::disclosure_service_client::DisclosureServiceClient<Channel>;

/// When the sample cases were decided (sector OTHER, general class, Shanghai
/// under 令第58号: the minimum publicity period ends 3 months later).
pub const DECIDED: &str = "2025-06-10";
/// When their fines were paid.
pub const FULFILLED: &str = "2025-06-11";

/// Materials are sent inline: room for 10 files of 5 MiB.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Who calls: a key, and the `x-gongshi-on-behalf-of` it sends (if any).
#[derive(Clone, Debug)]
pub struct As {
    pub key: String,
    pub obo: Option<String>,
}

impl As {
    pub fn key(key: &str) -> As {
        As {
            key: key.to_string(),
            obo: None,
        }
    }
}

/// A request with the caller's key and on-behalf-of.
pub fn call<T>(msg: T, who: &As) -> tonic::Request<T> {
    let mut r = req(msg, &who.key);
    if let Some(code) = &who.obo {
        r.metadata_mut()
            .insert("x-gongshi-on-behalf-of", code.parse().expect("ascii code"));
    }
    r
}

/// The protobuf value of a domain state.
pub fn pb_state(s: RepairState) -> i32 {
    pb::RepairState::from_str_name(&format!("REPAIR_STATE_{}", s.as_str())).expect("state in proto") as i32
}

/// The domain state of a protobuf value.
pub fn domain_state(v: i32) -> Option<RepairState> {
    let name = pb::RepairState::try_from(v).ok()?.as_str_name();
    RepairState::parse(name.strip_prefix("REPAIR_STATE_")?)
}

/// The precondition-violation types of a status, in order.
pub fn violation_kinds(s: &Status) -> Vec<String> {
    s.get_details_precondition_failure()
        .map(|p| p.violations.into_iter().map(|v| v.r#type).collect())
        .unwrap_or_default()
}

/// Sorted copy.
pub fn sorted<S: AsRef<str>>(v: &[S]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.as_ref().to_string()).collect();
    v.sort();
    v
}

/// A published decision of its own enterprise, ready for repair applications.
#[derive(Clone, Debug)]
pub struct Case {
    pub code: String,
    pub decision: pb::PenaltyDecision,
    pub disclosure: String,
    /// An enterprise key bound to `code`.
    pub ent: As,
}

impl Case {
    /// A complete application for this case's disclosure.
    pub fn application(&self) -> pb::RepairApplication {
        application_for(&self.disclosure, &self.code)
    }
}

/// A running server with staff keys and clients.
pub struct Env {
    pub backend: &'static str,
    pub server: TestServer,
    pub repair: RepairClient,
    pub enf: EnfClient,
    pub dis: DisClient,
    pub officer: String,
    pub auditor: String,
    pub discloser: String,
    pub reviewer: As,
    /// A portal key (send it with an on-behalf-of: [`Env::portal_for`]).
    pub portal: String,
}

impl Env {
    /// A new server on `db` with its clock at noon CST of `date`.
    pub async fn start(db: &TestDb, date: &str) -> Env {
        Env::on(db.backend, TestServer::start(&db.url, clock_at(date)).await).await
    }

    /// Wraps a running server.
    pub async fn on(backend: &'static str, server: TestServer) -> Env {
        let ch = server.channel().await;
        Env {
            backend,
            repair: RepairClient::new(ch.clone())
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
            enf: EnfClient::new(ch.clone()),
            dis: DisClient::new(ch).max_decoding_message_size(16 * 1024 * 1024),
            officer: server.key(Role::Officer, None).await,
            auditor: server.key(Role::Auditor, None).await,
            discloser: server.key(Role::Discloser, None).await,
            reviewer: As::key(&server.key(Role::RepairReviewer, None).await),
            portal: server.key(Role::Portal, None).await,
            server,
        }
    }

    /// Moves the injected clock to noon CST of `date`.
    pub fn set_date(&self, date: &str) {
        self.server
            .clock
            .set(cst_midnight(d(date)) + chrono::Duration::hours(12));
    }

    /// An enterprise key bound to `code`.
    pub async fn enterprise(&self, code: &str) -> As {
        As::key(&self.server.key(Role::Enterprise, Some(code)).await)
    }

    /// The portal acting for `code`.
    pub fn portal_for(&self, code: &str) -> As {
        As {
            key: self.portal.clone(),
            obo: Some(code.to_string()),
        }
    }

    /// Records and publishes a general-class decision of enterprise number
    /// `n`, decided on `decided_on`, and records its fulfilment if asked.
    pub async fn case(&self, n: u64, decided_on: &str, fulfilled_on: Option<&str>) -> Case {
        let code = credit_code("91310115", 50_000 + n);
        let dec = create_and_publish(
            &mut self.enf.clone(),
            &self.officer,
            decision(&format!("沪应急罚〔2025〕修-{n}号"), decided_on, &code),
        )
        .await;
        assert_eq!(
            dec.state,
            pb::DecisionState::Published as i32,
            "{}: decision {n} not published",
            self.backend
        );
        assert!(!dec.disclosure.is_empty());
        if let Some(on) = fulfilled_on {
            self.fulfil(&dec.name, on).await.expect("record fulfilment");
        }
        Case {
            ent: self.enterprise(&code).await,
            code,
            disclosure: dec.disclosure.clone(),
            decision: dec,
        }
    }

    /// `N` cases (see [`Env::case`]) numbered from `first`, decided on
    /// [`DECIDED`] and, if `fulfilled_on` is given, fulfilled then.
    pub async fn cases<const N: usize>(&self, first: u64, fulfilled_on: Option<&str>) -> [Case; N] {
        let mut cases = Vec::with_capacity(N);
        for n in first..first + N as u64 {
            cases.push(self.case(n, DECIDED, fulfilled_on).await);
        }
        <[Case; N]>::try_from(cases).expect("N cases")
    }

    /// RecordFulfillment by an officer.
    pub async fn fulfil(&self, decision: &str, on: &str) -> Result<pb::PenaltyDecision, Status> {
        let evidence = "罚款已缴入国库（缴款书号 0001）";
        calls::fulfil(&mut self.enf.clone(), &self.officer, decision, "", on, evidence).await
    }

    pub async fn check(&self, who: &As, disclosure: &str) -> Result<pb::RepairEligibility, Status> {
        self.repair
            .clone()
            .check_repair_eligibility(call(
                pb::CheckRepairEligibilityRequest {
                    disclosure: disclosure.to_string(),
                },
                who,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn submit(
        &self,
        who: &As,
        request_id: &str,
        app: pb::RepairApplication,
    ) -> Result<pb::RepairApplication, Status> {
        submit_with(&mut self.repair.clone(), who, request_id, app).await
    }

    /// A case's application, submitted by its enterprise (which must succeed).
    pub async fn submitted(&self, case: &Case) -> pb::RepairApplication {
        self.submit(&case.ent, "", case.application())
            .await
            .unwrap_or_else(|s| panic!("{}: submit for {}: {s:?}", self.backend, case.code))
    }

    pub async fn get(&self, who: &As, name: &str) -> Result<pb::RepairApplication, Status> {
        self.repair
            .clone()
            .get_repair_application(call(pb::GetRepairApplicationRequest { name: name.to_string() }, who))
            .await
            .map(|r| r.into_inner())
    }

    /// Every page of a listing.
    pub async fn list(
        &self,
        who: &As,
        filter: pb::ListRepairApplicationsRequest,
    ) -> Result<Vec<pb::RepairApplication>, Status> {
        calls::all_pages(|page_token| {
            let r = call(
                pb::ListRepairApplicationsRequest {
                    page_token,
                    ..filter.clone()
                },
                who,
            );
            let mut c = self.repair.clone();
            async move {
                let page = c.list_repair_applications(r).await?.into_inner();
                Ok((page.repair_applications, page.next_page_token))
            }
        })
        .await
    }

    /// Every event of an application, read by `who`.
    pub async fn events_as(&self, who: &As, name: &str) -> Result<Vec<pb::RepairApplicationEvent>, Status> {
        calls::all_pages(|page_token| {
            let r = pb::ListRepairApplicationEventsRequest {
                name: name.to_string(),
                page_size: 7,
                page_token,
            };
            let (r, mut c) = (call(r, who), self.repair.clone());
            async move {
                let page = c.list_repair_application_events(r).await?.into_inner();
                Ok((page.events, page.next_page_token))
            }
        })
        .await
    }

    /// Every event of an application, read by the reviewer.
    pub async fn events(&self, name: &str) -> Vec<pb::RepairApplicationEvent> {
        self.events_as(&self.reviewer, name).await.expect("list repair events")
    }

    /// A disclosure as the auditor sees it (terminated ones too).
    pub async fn disclosure(&self, name: &str) -> pb::Disclosure {
        calls::get_disclosure(&mut self.dis.clone(), &self.auditor, name)
            .await
            .expect("auditor GetDisclosure")
    }

    /// A disclosure as a puller sees it (active ones only).
    pub async fn public_disclosure(&self, name: &str) -> Result<pb::Disclosure, Status> {
        calls::get_disclosure(&mut self.dis.clone(), &self.discloser, name).await
    }

    /// The whole change feed, as a puller reads it.
    pub async fn feed(&self) -> Vec<pb::DisclosureChange> {
        calls::feed(&mut self.dis.clone(), &self.discloser).await
    }

    /// The feed's changes of one disclosure.
    pub async fn feed_of(&self, disclosure: &str) -> Vec<pb::DisclosureChange> {
        self.feed()
            .await
            .into_iter()
            .filter(|c| c.disclosure == disclosure)
            .collect()
    }

    /// Waits (bounded) until the expiry job has expired a disclosure.
    pub async fn wait_expired(&self, disclosure: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.disclosure(disclosure).await.state == pb::DisclosureState::Expired as i32 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: {disclosure} not expired within 10 s",
                self.backend
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// An application of a case, submitted by its enterprise and accepted
    /// by the reviewer.
    pub async fn accepted(&self, case: &Case) -> pb::RepairApplication {
        let app = self.submitted(case).await;
        self.step(RepairAction::Accept, &app, &case.ent).await
    }

    /// Withdraws a case's decision for a legal event (行政处罚法 Art. 48).
    pub async fn withdraw(&self, case: &Case, event: pb::WithdrawalEvent, public_reason: &str) -> pb::PenaltyDecision {
        calls::withdraw(
            &mut self.enf.clone(),
            &self.officer,
            &case.decision.name,
            "",
            event,
            public_reason,
        )
        .await
        .expect("withdraw decision")
    }

    /// One transition RPC: reviewer actions with the reviewer key, the
    /// applicant's (Supplement, Withdraw) with `applicant`.
    pub async fn act(
        &self,
        action: RepairAction,
        name: &str,
        etag: &str,
        applicant: &As,
    ) -> Result<pb::RepairApplication, Status> {
        act_with(&mut self.repair.clone(), &self.reviewer, applicant, action, name, etag).await
    }

    /// One transition of an application at its etag, which must succeed.
    pub async fn step(
        &self,
        action: RepairAction,
        app: &pb::RepairApplication,
        applicant: &As,
    ) -> pb::RepairApplication {
        self.act(action, &app.name, &app.etag, applicant)
            .await
            .unwrap_or_else(|s| panic!("{}: {action} of {}: {s:?}", self.backend, app.name))
    }
}

/// SubmitRepairApplication on a given client.
pub async fn submit_with(
    c: &mut RepairClient,
    who: &As,
    request_id: &str,
    app: pb::RepairApplication,
) -> Result<pb::RepairApplication, Status> {
    c.submit_repair_application(call(
        pb::SubmitRepairApplicationRequest {
            request_id: request_id.to_string(),
            repair_application: Some(app),
        },
        who,
    ))
    .await
    .map(|r| r.into_inner())
}

/// The reason (or opinion) the tests give with a transition; "" for those
/// that carry none.
pub fn reason_for(action: RepairAction) -> &'static str {
    match action {
        RepairAction::Decline => "不属于受理范围，不予受理",
        RepairAction::RequestSupplement => "请补充缴款凭证原件扫描件",
        RepairAction::Approve => "符合修复条件，同意修复",
        RepairAction::Reject => "整改不到位，驳回",
        RepairAction::Revoke => "发现申请材料虚假，撤销修复",
        RepairAction::Accept | RepairAction::Supplement | RepairAction::Withdraw => "",
    }
}

/// One transition RPC on a given client: with the reason of [`reason_for`];
/// a supplement adds one proof of fulfilment.
pub async fn act_with(
    c: &mut RepairClient,
    reviewer: &As,
    applicant: &As,
    action: RepairAction,
    name: &str,
    etag: &str,
) -> Result<pb::RepairApplication, Status> {
    let (name, etag, reason) = (name.to_string(), etag.to_string(), reason_for(action).to_string());
    let r = match action {
        RepairAction::Accept => {
            c.accept_repair_application(call(pb::AcceptRepairApplicationRequest { name, etag }, reviewer))
                .await
        }
        RepairAction::Decline => {
            let r = pb::DeclineRepairApplicationRequest { name, reason, etag };
            c.decline_repair_application(call(r, reviewer)).await
        }
        RepairAction::RequestSupplement => {
            c.request_supplement(call(pb::RequestSupplementRequest { name, reason, etag }, reviewer))
                .await
        }
        RepairAction::Supplement => {
            let materials = vec![material(
                pb::MaterialKind::FulfillmentProof,
                "补充材料.pdf",
                b"%PDF-1.4 supplement".to_vec(),
            )];
            let r = pb::SupplementRepairApplicationRequest { name, materials, etag };
            c.supplement_repair_application(call(r, applicant)).await
        }
        RepairAction::Approve => {
            let r = pb::ApproveRepairApplicationRequest {
                name,
                opinion: reason,
                etag,
            };
            c.approve_repair_application(call(r, reviewer)).await
        }
        RepairAction::Reject => {
            let r = pb::RejectRepairApplicationRequest { name, reason, etag };
            c.reject_repair_application(call(r, reviewer)).await
        }
        RepairAction::Withdraw => {
            c.withdraw_repair_application(call(pb::WithdrawRepairApplicationRequest { name, etag }, applicant))
                .await
        }
        RepairAction::Revoke => {
            c.revoke_repair(call(pb::RevokeRepairRequest { name, reason, etag }, reviewer))
                .await
        }
    };
    r.map(|r| r.into_inner())
}
