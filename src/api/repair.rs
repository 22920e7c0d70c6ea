//! CreditRepairService: applications for early removal of a disclosure.

use std::sync::Arc;

use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::auth;
use super::convert::{Violations, enum_in, enum_out, ts};
use super::enforcement::resource_id;
use super::ratelimit::RateLimiter;
use super::status::DOMAIN;
use super::{page, pb};
use crate::app::keys::Caller;
use crate::app::repair::{SubmitInput, Upload};
use crate::app::views::{RepairFilter, RepairView};
use crate::app::{App, AppError, etag};
use crate::domain::lifecycle::Role;
use crate::domain::record::limits;
use crate::domain::repair::{
    self, Commitment, CommitmentFulfillment, Contact, MaterialKind, RepairAction, RepairState,
};

const READERS: &[Role] = &[Role::Portal, Role::Enterprise, Role::RepairReviewer, Role::Auditor];
const APPLICANT: &[Role] = &[Role::Portal, Role::Enterprise];
const REVIEWER: &[Role] = &[Role::RepairReviewer];

/// The CreditRepairService implementation.
#[derive(Clone)]
pub struct CreditRepairApi {
    app: Arc<App>,
    lookups: Arc<RateLimiter>,
}

impl CreditRepairApi {
    /// Wraps the application; `lookups_per_minute` bounds unauthenticated
    /// look-ups per client address.
    pub fn new(app: Arc<App>, lookups_per_minute: u32) -> Self {
        CreditRepairApi {
            app,
            lookups: Arc::new(RateLimiter::new(lookups_per_minute)),
        }
    }
}

fn application_id(name: &str) -> Result<&str, AppError> {
    resource_id(name, "repairApplications/", "name")
}

fn opt_date(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// An application as protobuf; the contact only to those who may see it.
fn application_out(row: &RepairView, show_contact: bool, today: chrono::NaiveDate) -> pb::RepairApplication {
    let due = repair::DueDates {
        accept_due_on: row.accept_due_on,
        decide_due_on: row.decide_due_on,
        overall_due_on: row.overall_due_on,
        provisional: row.doc.due_dates_provisional,
    };
    let c = &row.doc.commitment;
    pb::RepairApplication {
        name: format!("repairApplications/{}", row.id),
        disclosure: format!("disclosures/{}", row.disclosure_id),
        applicant: Some(pb::Organization {
            name: row.doc.applicant_name.clone(),
            credit_code: row.applicant_code.clone(),
        }),
        contact: show_contact.then(|| pb::Contact {
            name: row.doc.contact.name.clone(),
            phone: row.doc.contact.phone.clone(),
        }),
        commitment: Some(pb::CreditCommitment {
            code: c.code.clone(),
            content: c.content.clone(),
            liability: c.liability.clone(),
            made_on: c.made_on.to_string(),
            signer: c.signer.clone(),
            reason: c.reason.clone(),
            fulfillment_status: enum_out!(
                pb::CommitmentFulfillment,
                "COMMITMENT_FULFILLMENT_",
                c.fulfillment_status
            ),
        }),
        materials: row
            .doc
            .materials
            .iter()
            .map(|m| pb::Material {
                kind: enum_out!(pb::MaterialKind, "MATERIAL_KIND_", m.kind),
                file_name: m.file_name.clone(),
                media_type: m.media_type.clone(),
                sha256: m.sha256.clone(),
                size_bytes: m.size_bytes,
                content: Vec::new(),
            })
            .collect(),
        state: enum_out!(pb::RepairState, "REPAIR_STATE_", row.state),
        receipt_code: row.receipt_code.clone(),
        accept_due_on: opt_date(row.accept_due_on),
        decide_due_on: opt_date(row.decide_due_on),
        overall_due_on: opt_date(row.overall_due_on),
        overdue: repair::overdue(row.state, &due, today),
        etag: etag(row.version),
        create_time: Some(ts(row.create_time)),
        update_time: Some(ts(row.update_time)),
        last_reason: row.doc.last_reason.clone(),
        due_dates_provisional: row.doc.due_dates_provisional,
    }
}

/// Who is shown an application's contact: the applicant (its own, isolated
/// to its enterprise) and staff. A discloser never is.
fn shows_contact(role: Role) -> bool {
    !matches!(role, Role::Discloser | Role::System)
}

/// Whether showing this caller a contact is a read to audit: staff reads
/// are (issue 7 item 8, DOMAIN.md §3 "every read is audited" of data kept
/// "for internal use"); the applicant reading back the contact it gave
/// itself — an enterprise, or the portal acting for it — is not an
/// internal use of personal data and is not recorded.
fn audits_contact(role: Role) -> bool {
    shows_contact(role) && !matches!(role, Role::Portal | Role::Enterprise)
}

/// The RPC of a transition, named in its audit event.
fn rpc_of(action: RepairAction) -> &'static str {
    match action {
        RepairAction::Accept => "AcceptRepairApplication",
        RepairAction::Decline => "DeclineRepairApplication",
        RepairAction::RequestSupplement => "RequestSupplement",
        RepairAction::Supplement => "SupplementRepairApplication",
        RepairAction::Approve => "ApproveRepairApplication",
        RepairAction::Reject => "RejectRepairApplication",
        RepairAction::Withdraw => "WithdrawRepairApplication",
        RepairAction::Revoke => "RevokeRepair",
    }
}

impl CreditRepairApi {
    /// Responds with an application. A read by staff must have been audited
    /// (`audit_contact_reads`, or in the transition's transaction) before.
    fn respond(&self, caller: &Caller, row: &RepairView) -> Response<pb::RepairApplication> {
        Response::new(application_out(
            row,
            shows_contact(caller.role),
            self.app.clock.today_cst(),
        ))
    }

    /// Audits a read that shows contacts to staff: committed before the
    /// response is built, so a failed audit sends an error instead.
    async fn audit_read(&self, caller: &Caller, rows: &[RepairView], via: &str) -> Result<(), Status> {
        if audits_contact(caller.role) {
            self.app.audit_contact_reads(caller, rows, via).await?;
        }
        Ok(())
    }

    /// Validates uploads against the configured bounds.
    fn uploads(&self, v: &mut Violations, field: &str, materials: Vec<pb::Material>) -> Vec<Upload> {
        let max = self.app.repair.max_material_bytes;
        if materials.len() > self.app.repair.max_materials {
            v.add(
                "TOO_MANY_MATERIALS",
                field,
                format!("at most {} files", self.app.repair.max_materials),
            );
        }
        let mut out = Vec::new();
        for (i, m) in materials.into_iter().enumerate() {
            let f = format!("{field}[{i}]");
            let kind = enum_in!(pb::MaterialKind, "MATERIAL_KIND_", MaterialKind, m.kind);
            if kind.is_none() {
                v.add(
                    "INVALID_ENUM",
                    format!("{f}.kind"),
                    "must be FULFILLMENT_PROOF, CREDIT_COMMITMENT or OTHER",
                );
            }
            let file_name = v.text(&format!("{f}.file_name"), &m.file_name, 255, true);
            let media_type = v.text(&format!("{f}.media_type"), &m.media_type, 100, true);
            if m.content.is_empty() {
                v.add("FIELD_REQUIRED", format!("{f}.content"), "the file is empty");
            } else if m.content.len() > max {
                v.add(
                    "MATERIAL_TOO_LARGE",
                    format!("{f}.content"),
                    format!("larger than {max} bytes"),
                );
            }
            out.push(Upload {
                kind: kind.unwrap_or(MaterialKind::Other),
                file_name,
                media_type,
                content: m.content,
            });
        }
        out
    }

    /// A transition whose request is only its target and reason, by a
    /// caller in `roles`.
    async fn step<T: TransitionRequest>(
        &self,
        req: Request<T>,
        roles: &[Role],
        action: RepairAction,
        reason_required: bool,
    ) -> Result<Response<pb::RepairApplication>, Status> {
        let caller = auth::check(&self.app, &req, roles).await?;
        let (name, etag, reason) = req.get_ref().target();
        self.transition(caller, name, etag, Step::new(action, reason, reason_required))
            .await
    }

    async fn transition(
        &self,
        caller: Caller,
        name: &str,
        etag_given: &str,
        step: Step<'_>,
    ) -> Result<Response<pb::RepairApplication>, Status> {
        let id = application_id(name)?;
        let mut v = Violations::default();
        let reason = v.text("reason", step.reason, limits::REASON, step.reason_required);
        v.finish()?;
        let shown_via = audits_contact(caller.role).then_some(rpc_of(step.action));
        let row = self
            .app
            .transition_repair(&caller, id, etag_given, step.action, &reason, step.uploads, shown_via)
            .await?;
        Ok(self.respond(&caller, &row))
    }
}

/// A transition request that carries only its target and a reason: the
/// application's name, the etag it was read at, and the reason or opinion
/// (empty where the request has none).
trait TransitionRequest {
    fn target(&self) -> (&str, &str, &str);
}

macro_rules! transition_requests {
    ($($t:ident $(.$reason:ident)?),+ $(,)?) => {$(
        impl TransitionRequest for pb::$t {
            fn target(&self) -> (&str, &str, &str) {
                (&self.name, &self.etag, transition_requests!(@reason self $(.$reason)?))
            }
        }
    )+};
    (@reason $s:ident) => { "" };
    (@reason $s:ident .$r:ident) => { &$s.$r };
}

transition_requests!(
    AcceptRepairApplicationRequest,
    DeclineRepairApplicationRequest.reason,
    RequestSupplementRequest.reason,
    ApproveRepairApplicationRequest.opinion,
    RejectRepairApplicationRequest.reason,
    WithdrawRepairApplicationRequest,
    RevokeRepairRequest.reason,
);

/// One transition as requested.
struct Step<'a> {
    action: RepairAction,
    reason: &'a str,
    reason_required: bool,
    uploads: Vec<Upload>,
}

impl<'a> Step<'a> {
    fn new(action: RepairAction, reason: &'a str, reason_required: bool) -> Self {
        Step {
            action,
            reason,
            reason_required,
            uploads: Vec::new(),
        }
    }
}

/// The client address a look-up is counted against.
fn client_ip<T>(req: &Request<T>) -> std::net::IpAddr {
    req.remote_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

#[tonic::async_trait]
impl pb::credit_repair_service_server::CreditRepairService for CreditRepairApi {
    async fn check_repair_eligibility(
        &self,
        req: Request<pb::CheckRepairEligibilityRequest>,
    ) -> Result<Response<pb::RepairEligibility>, Status> {
        let caller = auth::check(&self.app, &req, READERS).await?;
        let id = resource_id(&req.get_ref().disclosure, "disclosures/", "disclosure")?;
        let e = self.app.check_eligibility(&caller, id).await?;
        Ok(Response::new(pb::RepairEligibility {
            eligible: e.unmet.is_empty(),
            earliest_date: e.earliest.to_string(),
            unmet: e
                .unmet
                .into_iter()
                .map(|u| pb::UnmetCondition {
                    reason: u.reason.to_string(),
                    description: u.description,
                })
                .collect(),
            // Since 国办发〔2025〕22号: proof of fulfilment and the commitment, nothing else.
            required_materials: vec![
                pb::MaterialKind::FulfillmentProof as i32,
                pb::MaterialKind::CreditCommitment as i32,
            ],
        }))
    }

    async fn submit_repair_application(
        &self,
        req: Request<pb::SubmitRepairApplicationRequest>,
    ) -> Result<Response<pb::RepairApplication>, Status> {
        let caller = auth::check(&self.app, &req, APPLICANT).await?;
        let r = req.into_inner();
        let mut v = Violations::default();
        if r.request_id.chars().count() > limits::REQUEST_ID {
            v.add("FIELD_TOO_LONG", "request_id", "is longer than 64 characters");
        }
        let a = r.repair_application.unwrap_or_default();
        let disclosure_id = match resource_id(&a.disclosure, "disclosures/", "repair_application.disclosure") {
            Ok(id) => id.to_string(),
            Err(_) => {
                v.add(
                    "INVALID_NAME",
                    "repair_application.disclosure",
                    "must be disclosures/{id}",
                );
                String::new()
            }
        };
        let applicant = a.applicant.unwrap_or_default();
        let applicant_name = v.text("repair_application.applicant.name", &applicant.name, limits::NAME, true);
        let code = v.credit_code(
            "repair_application.applicant.credit_code",
            &applicant.credit_code,
            false,
        );
        if !code.is_empty() && caller.enterprise.as_deref() != Some(code.as_str()) {
            v.add(
                "ENTERPRISE_MISMATCH",
                "repair_application.applicant.credit_code",
                "must be the enterprise this key acts for",
            );
        }
        let contact = a.contact.unwrap_or_default();
        let contact = Contact {
            name: v.text("repair_application.contact.name", &contact.name, limits::NAME, true),
            phone: v.text("repair_application.contact.phone", &contact.phone, 32, true),
        };
        if !contact.phone.is_empty() && !contact.phone.chars().all(|c| c.is_ascii_digit() || "+- ()".contains(c)) {
            v.add(
                "INVALID_PHONE",
                "repair_application.contact.phone",
                "digits, spaces, + - ( ) only",
            );
        }
        let commitment = match a.commitment {
            Some(c) if !c.content.trim().is_empty() => {
                let made_on = v.date("repair_application.commitment.made_on", &c.made_on, true);
                if made_on.is_some_and(|d| d > self.app.clock.today_cst()) {
                    v.add(
                        "INVALID_DATE",
                        "repair_application.commitment.made_on",
                        "must not be in the future",
                    );
                }
                Some(Commitment {
                    code: v.text("repair_application.commitment.code", &c.code, 64, false),
                    committer_name: applicant_name.clone(),
                    committer_code: caller.enterprise.clone().unwrap_or_default(),
                    reason: v.text("repair_application.commitment.reason", &c.reason, limits::REASON, false),
                    content: v.text("repair_application.commitment.content", &c.content, limits::FACTS, true),
                    liability: v.text(
                        "repair_application.commitment.liability",
                        &c.liability,
                        limits::REASON,
                        true,
                    ),
                    made_on: made_on.unwrap_or_else(|| self.app.clock.today_cst()),
                    signer: v.text("repair_application.commitment.signer", &c.signer, limits::NAME, true),
                    fulfillment_status: enum_in!(
                        pb::CommitmentFulfillment,
                        "COMMITMENT_FULFILLMENT_",
                        CommitmentFulfillment,
                        c.fulfillment_status
                    )
                    .unwrap_or(CommitmentFulfillment::Full),
                })
            }
            _ => None, // reported with the other unmet conditions (COMMITMENT_MISSING)
        };
        let materials = self.uploads(&mut v, "repair_application.materials", a.materials);
        if !materials.iter().any(|m| m.kind == MaterialKind::FulfillmentProof) {
            v.add(
                "MATERIALS_MISSING",
                "repair_application.materials",
                "proof that the obligations were fulfilled (FULFILLMENT_PROOF) is required",
            );
        }
        v.finish()?;
        let row = self
            .app
            .submit_repair(
                &caller,
                &r.request_id,
                SubmitInput {
                    disclosure_id,
                    applicant_name,
                    contact,
                    commitment,
                    materials,
                },
            )
            .await?;
        Ok(self.respond(&caller, &row))
    }

    async fn get_repair_application(
        &self,
        req: Request<pb::GetRepairApplicationRequest>,
    ) -> Result<Response<pb::RepairApplication>, Status> {
        let caller = auth::check(&self.app, &req, READERS).await?;
        let id = application_id(&req.get_ref().name)?;
        let row = self.app.get_repair(&caller, id).await?;
        self.audit_read(&caller, std::slice::from_ref(&row), "GetRepairApplication")
            .await?;
        Ok(self.respond(&caller, &row))
    }

    async fn list_repair_applications(
        &self,
        req: Request<pb::ListRepairApplicationsRequest>,
    ) -> Result<Response<pb::ListRepairApplicationsResponse>, Status> {
        let caller = auth::check(&self.app, &req, READERS).await?;
        let r = req.into_inner();
        let limit = page::size(r.page_size)?;
        let mut v = Violations::default();
        let applicant = v.credit_code("applicant_credit_code", &r.applicant_credit_code, false);
        let state = v.enum_filter("state", r.state, |s| {
            enum_in!(pb::RepairState, "REPAIR_STATE_", RepairState, s)
        });
        v.finish()?;
        let applicant = caller.list_scope(applicant, "applications")?;
        let filter = RepairFilter {
            state,
            applicant_code: applicant,
            overdue_on: r.overdue_only.then(|| self.app.clock.today_cst()),
        };
        let scope = format!("repairs|{}|{:?}|{:?}", caller.key_id, caller.enterprise, filter);
        let after = page::position(&scope, &r.page_token)?;
        let rows = self.app.list_repairs(&filter, &after, limit).await?;
        self.audit_read(&caller, &rows, "ListRepairApplications").await?;
        let next = page::next(&scope, &rows, limit, |r| &r.id);
        let today = self.app.clock.today_cst();
        let show = shows_contact(caller.role);
        Ok(Response::new(pb::ListRepairApplicationsResponse {
            repair_applications: rows.iter().map(|r| application_out(r, show, today)).collect(),
            next_page_token: next,
        }))
    }

    async fn lookup_repair_application(
        &self,
        req: Request<pb::LookupRepairApplicationRequest>,
    ) -> Result<Response<pb::LookupRepairApplicationResponse>, Status> {
        if let Err(wait) = self.lookups.check(client_ip(&req)) {
            self.app.metrics.rate_limited(crate::app::metrics::Limit::Lookup);
            let mut d = ErrorDetails::new();
            d.set_error_info("RATE_LIMITED", DOMAIN, std::collections::HashMap::new());
            d.set_retry_info(Some(wait));
            return Err(Status::with_error_details(
                Code::ResourceExhausted,
                "too many look-ups from this address; retry later",
                d,
            ));
        }
        let r = req.into_inner();
        let code = crate::domain::ids::CreditCode::parse(&r.applicant_credit_code)
            .map(|c| c.as_str().to_string())
            .unwrap_or_default();
        let row = self.app.lookup_repair(&r.receipt_code, &code).await?;
        Ok(Response::new(pb::LookupRepairApplicationResponse {
            state: enum_out!(pb::RepairState, "REPAIR_STATE_", row.state),
            update_time: Some(ts(row.update_time)),
            accept_due_on: opt_date(row.accept_due_on),
            decide_due_on: opt_date(row.decide_due_on),
            overall_due_on: opt_date(row.overall_due_on),
            due_dates_provisional: row.doc.due_dates_provisional,
        }))
    }

    async fn accept_repair_application(
        &self,
        req: Request<pb::AcceptRepairApplicationRequest>,
    ) -> Result<Response<pb::RepairApplication>, Status> {
        self.step(req, REVIEWER, RepairAction::Accept, false).await
    }

    async fn decline_repair_application(
        &self,
        req: Request<pb::DeclineRepairApplicationRequest>,
    ) -> Result<Response<pb::RepairApplication>, Status> {
        self.step(req, REVIEWER, RepairAction::Decline, true).await
    }

    async fn request_supplement(
        &self,
        req: Request<pb::RequestSupplementRequest>,
    ) -> Result<Response<pb::RepairApplication>, Status> {
        self.step(req, REVIEWER, RepairAction::RequestSupplement, true).await
    }

    async fn supplement_repair_application(
        &self,
        req: Request<pb::SupplementRepairApplicationRequest>,
    ) -> Result<Response<pb::RepairApplication>, Status> {
        let caller = auth::check(&self.app, &req, APPLICANT).await?;
        let r = req.into_inner();
        let mut v = Violations::default();
        if r.materials.is_empty() {
            v.add("FIELD_REQUIRED", "materials", "a supplement needs at least one file");
        }
        let uploads = self.uploads(&mut v, "materials", r.materials);
        v.finish()?;
        self.transition(
            caller,
            &r.name,
            &r.etag,
            Step {
                uploads,
                ..Step::new(RepairAction::Supplement, "", false)
            },
        )
        .await
    }

    async fn approve_repair_application(
        &self,
        req: Request<pb::ApproveRepairApplicationRequest>,
    ) -> Result<Response<pb::RepairApplication>, Status> {
        self.step(req, REVIEWER, RepairAction::Approve, false).await
    }

    async fn reject_repair_application(
        &self,
        req: Request<pb::RejectRepairApplicationRequest>,
    ) -> Result<Response<pb::RepairApplication>, Status> {
        self.step(req, REVIEWER, RepairAction::Reject, true).await
    }

    async fn withdraw_repair_application(
        &self,
        req: Request<pb::WithdrawRepairApplicationRequest>,
    ) -> Result<Response<pb::RepairApplication>, Status> {
        self.step(req, APPLICANT, RepairAction::Withdraw, false).await
    }

    async fn revoke_repair(
        &self,
        req: Request<pb::RevokeRepairRequest>,
    ) -> Result<Response<pb::RepairApplication>, Status> {
        self.step(req, REVIEWER, RepairAction::Revoke, true).await
    }

    async fn list_repair_application_events(
        &self,
        req: Request<pb::ListRepairApplicationEventsRequest>,
    ) -> Result<Response<pb::ListRepairApplicationEventsResponse>, Status> {
        let caller = auth::check(&self.app, &req, READERS).await?;
        let r = req.into_inner();
        let id = application_id(&r.name)?;
        let limit = page::size(r.page_size)?;
        // Existence and isolation first. Events carry actors, states and
        // reasons, never the contact, so this read is not audited.
        self.app.get_repair(&caller, id).await?;
        let scope = format!("repair-events|{}|{:?}|{}", caller.key_id, caller.enterprise, id);
        let after = page::sequence_position(&scope, &r.page_token)?;
        let rows = self.app.list_repair_events(id, after, limit).await?;
        let next = page::next(&scope, &rows, limit, |r| &r.id);
        Ok(Response::new(pb::ListRepairApplicationEventsResponse {
            events: rows
                .iter()
                .map(|row| (row.id, &row.event))
                .map(|(id, e)| pb::RepairApplicationEvent {
                    name: format!("repairApplications/{}/events/{}", e.application_id, id),
                    actor: Some(super::convert::actor(&e.actor)),
                    time: Some(ts(e.at)),
                    from_state: e
                        .from
                        .map(|s| enum_out!(pb::RepairState, "REPAIR_STATE_", s))
                        .unwrap_or(0),
                    to_state: enum_out!(pb::RepairState, "REPAIR_STATE_", e.to),
                    reason: e.reason.clone(),
                })
                .collect(),
            next_page_token: next,
        }))
    }
}
