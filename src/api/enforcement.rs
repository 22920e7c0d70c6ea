//! EnforcementService: penalty decisions and their 全过程记录.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::auth::{self, sees_sensitive};
use super::convert::{self, Violations, decision_out, enum_in, enum_out, ts};
use super::{page, pb};
use crate::app::keys::Caller;
use crate::app::views::{DecisionFilter, DecisionView};
use crate::app::{App, AppError, CorrectionPatch, ReviewInput};
use crate::domain::lifecycle::{DecisionState, ReviewOpinion, Role, WithdrawalEvent};
use crate::domain::record::limits;

/// The EnforcementService implementation.
#[derive(Clone)]
pub struct EnforcementApi {
    app: Arc<App>,
}

impl EnforcementApi {
    /// Wraps the application.
    pub fn new(app: Arc<App>) -> Self {
        EnforcementApi { app }
    }
}

const READERS: &[Role] = &[Role::Officer, Role::LegalReviewer, Role::Auditor];
const OFFICER: &[Role] = &[Role::Officer];

/// The id in `penaltyDecisions/{id}`.
pub fn decision_id(name: &str) -> Result<&str, AppError> {
    resource_id(name, "penaltyDecisions/", "name")
}

/// The id of a resource name with the given collection prefix.
pub fn resource_id<'a>(name: &'a str, prefix: &str, field: &str) -> Result<&'a str, AppError> {
    match name.strip_prefix(prefix) {
        Some(id) if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()) => Ok(id),
        _ => Err(AppError::invalid_field(
            "INVALID_NAME",
            field,
            format!("must be {prefix}{{id}}"),
        )),
    }
}

impl EnforcementApi {
    /// Responds with a decision, showing sensitive fields only to the roles
    /// that may see them.
    fn respond(&self, caller: &Caller, row: &DecisionView) -> Response<pb::PenaltyDecision> {
        Response::new(decision_out(row, sees_sensitive(caller.role)))
    }

    /// Audits a read that shows sensitive fields to staff: committed before
    /// the response is built, so a failed audit sends an error instead.
    async fn audit_read(&self, caller: &Caller, rows: &[DecisionView], via: &str) -> Result<(), Status> {
        if !sees_sensitive(caller.role) {
            return Ok(());
        }
        self.app.audit_sensitive_read(caller, rows, via).await?;
        Ok(())
    }
}

/// The RPC a mutation's response is shown through, when it will show this
/// caller sensitive fields: the operation then records the read in its own
/// transaction (see `App::create_decision`).
fn shown_via(caller: &Caller, rpc: &'static str) -> Option<&'static str> {
    sees_sensitive(caller.role).then_some(rpc)
}

fn check_reason(field: &str, value: &str, required: bool) -> Result<String, AppError> {
    let mut v = Violations::default();
    let s = v.text(field, value, limits::REASON, required);
    v.finish()?;
    Ok(s)
}

/// Applies an update mask: copies the named fields of `patch` into `base`.
fn apply_mask(base: &mut pb::PenaltyDecision, patch: &pb::PenaltyDecision, paths: &[String]) -> Result<(), AppError> {
    let mut v = Violations::default();
    if paths.is_empty() {
        v.add(
            "FIELD_REQUIRED",
            "update_mask",
            "name the fields to correct, e.g. \"violation_facts\"",
        );
    }
    let pp = patch.party.clone().unwrap_or_default();
    let prep = pp.legal_representative.clone().unwrap_or_default();
    let pa = patch.authority.clone().unwrap_or_default();
    let ps = patch.data_source.clone().unwrap_or_default();
    for (i, path) in paths.iter().enumerate() {
        let party = base.party.get_or_insert_with(Default::default);
        let rep = party.legal_representative.get_or_insert_with(Default::default);
        let auth = base.authority.get_or_insert_with(Default::default);
        let src = base.data_source.get_or_insert_with(Default::default);
        match path.as_str() {
            "decision_number" => base.decision_number = patch.decision_number.clone(),
            "violation_type" => base.violation_type = patch.violation_type.clone(),
            "violation_facts" => base.violation_facts = patch.violation_facts.clone(),
            "legal_basis" => base.legal_basis = patch.legal_basis.clone(),
            "penalty_kinds" => base.penalty_kinds = patch.penalty_kinds.clone(),
            "penalty_content" => base.penalty_content = patch.penalty_content.clone(),
            "fine_fen" => base.fine_fen = patch.fine_fen,
            "confiscation_fen" => base.confiscation_fen = patch.confiscation_fen,
            "license_action" => base.license_action = patch.license_action.clone(),
            "procedure" => base.procedure = patch.procedure,
            "sector" => base.sector = patch.sector,
            "severity" => base.severity = patch.severity,
            "major" => base.major = patch.major,
            "decided_on" => base.decided_on = patch.decided_on.clone(),
            "effective_until" => base.effective_until = patch.effective_until.clone(),
            "remarks" => base.remarks = patch.remarks.clone(),
            "party" => base.party = Some(pp.clone()),
            "party.kind" => party.kind = pp.kind,
            "party.name" => party.name = pp.name.clone(),
            "party.credit_code" => party.credit_code = pp.credit_code.clone(),
            "party.business_registration_number" => {
                party.business_registration_number = pp.business_registration_number.clone()
            }
            "party.organization_code" => party.organization_code = pp.organization_code.clone(),
            "party.tax_registration_number" => party.tax_registration_number = pp.tax_registration_number.clone(),
            "party.public_institution_certificate" => {
                party.public_institution_certificate = pp.public_institution_certificate.clone()
            }
            "party.social_organization_certificate" => {
                party.social_organization_certificate = pp.social_organization_certificate.clone()
            }
            "party.legal_representative" => party.legal_representative = Some(prep.clone()),
            "party.legal_representative.name" => rep.name = prep.name.clone(),
            "party.legal_representative.id_type" => rep.id_type = prep.id_type,
            "party.legal_representative.id_number" => rep.id_number = prep.id_number.clone(),
            "party.id_type" => party.id_type = pp.id_type,
            "party.id_number" => party.id_number = pp.id_number.clone(),
            "party.address" => party.address = pp.address.clone(),
            "authority" => base.authority = Some(pa.clone()),
            "authority.name" => auth.name = pa.name.clone(),
            "authority.credit_code" => auth.credit_code = pa.credit_code.clone(),
            "data_source" => base.data_source = Some(ps.clone()),
            "data_source.name" => src.name = ps.name.clone(),
            "data_source.credit_code" => src.credit_code = ps.credit_code.clone(),
            _ => v.add(
                "INVALID_UPDATE_MASK",
                format!("update_mask.paths[{i}]"),
                format!("{path:?} is not a correctable field"),
            ),
        }
    }
    v.finish()
}

#[tonic::async_trait]
impl pb::enforcement_service_server::EnforcementService for EnforcementApi {
    async fn create_penalty_decision(
        &self,
        req: Request<pb::CreatePenaltyDecisionRequest>,
    ) -> Result<Response<pb::PenaltyDecision>, Status> {
        let caller = auth::check(&self.app, &req, OFFICER).await?;
        let r = req.into_inner();
        if r.request_id.chars().count() > limits::REQUEST_ID {
            return Err(AppError::invalid_field("FIELD_TOO_LONG", "request_id", "is longer than 64 characters").into());
        }
        let Some(p) = r.penalty_decision.as_ref() else {
            return Err(AppError::invalid_field("FIELD_REQUIRED", "penalty_decision", "is required").into());
        };
        let doc = convert::decision_doc(p, "penalty_decision.", self.app.clock.today_cst())?;
        let row = self
            .app
            .create_decision(&caller, &r.request_id, doc, shown_via(&caller, "CreatePenaltyDecision"))
            .await?;
        Ok(self.respond(&caller, &row))
    }

    async fn get_penalty_decision(
        &self,
        req: Request<pb::GetPenaltyDecisionRequest>,
    ) -> Result<Response<pb::PenaltyDecision>, Status> {
        let caller = auth::check(&self.app, &req, READERS).await?;
        let id = decision_id(&req.get_ref().name)?;
        let row = self.app.get_decision(id).await?;
        self.audit_read(&caller, std::slice::from_ref(&row), "GetPenaltyDecision")
            .await?;
        Ok(self.respond(&caller, &row))
    }

    async fn list_penalty_decisions(
        &self,
        req: Request<pb::ListPenaltyDecisionsRequest>,
    ) -> Result<Response<pb::ListPenaltyDecisionsResponse>, Status> {
        let caller = auth::check(&self.app, &req, READERS).await?;
        let r = req.into_inner();
        let limit = page::size(r.page_size)?;
        let mut v = Violations::default();
        let filter = DecisionFilter {
            party_credit_code: v.credit_code("party_credit_code", &r.party_credit_code, false),
            state: v.enum_filter("state", r.state, |s| {
                enum_in!(pb::DecisionState, "DECISION_STATE_", DecisionState, s)
            }),
            decided_from: v.date("decided_on_from", &r.decided_on_from, false),
            decided_to: v.date("decided_on_to", &r.decided_on_to, false),
            authority_code: v.credit_code("authority_credit_code", &r.authority_credit_code, false),
        };
        v.finish()?;
        let scope = format!("decisions|{}|{:?}", caller.key_id, filter);
        let after = page::position(&scope, &r.page_token)?;
        let rows = self.app.list_decisions(&filter, &after, limit).await?;
        self.audit_read(&caller, &rows, "ListPenaltyDecisions").await?;
        let next = page::next(&scope, &rows, limit, |r| &r.id);
        let sensitive = sees_sensitive(caller.role);
        Ok(Response::new(pb::ListPenaltyDecisionsResponse {
            penalty_decisions: rows.iter().map(|r| decision_out(r, sensitive)).collect(),
            next_page_token: next,
        }))
    }

    async fn review_penalty_decision(
        &self,
        req: Request<pb::ReviewPenaltyDecisionRequest>,
    ) -> Result<Response<pb::PenaltyDecision>, Status> {
        let caller = auth::check(&self.app, &req, &[Role::LegalReviewer]).await?;
        let r = req.into_inner();
        let id = decision_id(&r.name)?;
        let Some(opinion) = enum_in!(pb::ReviewOpinion, "REVIEW_OPINION_", ReviewOpinion, r.opinion) else {
            return Err(
                AppError::invalid_field("FIELD_REQUIRED", "opinion", "must be APPROVE, DISAPPROVE or REVISE").into(),
            );
        };
        let c = r.checklist.unwrap_or_default();
        let mut v = Violations::default();
        let other_points = v.text("checklist.other_points", &c.other_points, limits::REASON, false);
        let comment = v.text("comment", &r.comment, limits::REASON, opinion != ReviewOpinion::Approve);
        v.finish()?;
        let input = ReviewInput {
            opinion,
            checklist: convert::checklist_in(&c, other_points),
            comment,
        };
        let row = self
            .app
            .review_decision(&caller, id, &r.etag, input, shown_via(&caller, "ReviewPenaltyDecision"))
            .await?;
        Ok(self.respond(&caller, &row))
    }

    async fn publish_penalty_decision(
        &self,
        req: Request<pb::PublishPenaltyDecisionRequest>,
    ) -> Result<Response<pb::PenaltyDecision>, Status> {
        let caller = auth::check(&self.app, &req, OFFICER).await?;
        let r = req.into_inner();
        let id = decision_id(&r.name)?;
        let row = self
            .app
            .publish_decision(&caller, id, &r.etag, shown_via(&caller, "PublishPenaltyDecision"))
            .await?;
        Ok(self.respond(&caller, &row))
    }

    async fn correct_penalty_decision(
        &self,
        req: Request<pb::CorrectPenaltyDecisionRequest>,
    ) -> Result<Response<pb::PenaltyDecision>, Status> {
        let caller = auth::check(&self.app, &req, OFFICER).await?;
        let r = req.into_inner();
        let id = decision_id(&r.name)?;
        let reason = check_reason("reason", &r.reason, true)?;
        let patch = r.penalty_decision.unwrap_or_default();
        let paths = r.update_mask.map(|m| m.paths).unwrap_or_default();
        // A mask that names no correctable field is refused before anything is read.
        apply_mask(&mut pb::PenaltyDecision::default(), &patch, &paths)?;
        let today = self.app.clock.today_cst();
        let mask = paths.clone();
        // Merged onto the decision as read inside the correction's
        // transaction, under the write's lock (App::correct_decision).
        let apply = Box::new(move |current: &crate::domain::record::DecisionDoc| {
            let mut merged = convert::doc_out(current, true);
            apply_mask(&mut merged, &patch, &mask)?;
            convert::decision_doc(&merged, "penalty_decision.", today)
        });
        let row = self
            .app
            .correct_decision(
                &caller,
                id,
                &r.etag,
                CorrectionPatch { apply, reason, paths },
                shown_via(&caller, "CorrectPenaltyDecision"),
            )
            .await?;
        Ok(self.respond(&caller, &row))
    }

    async fn withdraw_penalty_decision(
        &self,
        req: Request<pb::WithdrawPenaltyDecisionRequest>,
    ) -> Result<Response<pb::PenaltyDecision>, Status> {
        let caller = auth::check(&self.app, &req, OFFICER).await?;
        let r = req.into_inner();
        let id = decision_id(&r.name)?;
        let Some(event) = enum_in!(pb::WithdrawalEvent, "WITHDRAWAL_EVENT_", WithdrawalEvent, r.legal_event) else {
            return Err(AppError::invalid_field(
                "FIELD_REQUIRED",
                "legal_event",
                "must be CHANGED, REVOKED, CONFIRMED_ILLEGAL or CONFIRMED_VOID",
            )
            .into());
        };
        let public_reason = check_reason("public_reason", &r.public_reason, true)?;
        let mut v = Violations::default();
        let legal_event_on = v.date("legal_event_on", &r.legal_event_on, false);
        v.finish()?;
        let row = self
            .app
            .withdraw_decision(
                &caller,
                id,
                &r.etag,
                event,
                legal_event_on,
                &public_reason,
                shown_via(&caller, "WithdrawPenaltyDecision"),
            )
            .await?;
        Ok(self.respond(&caller, &row))
    }

    async fn record_fulfillment(
        &self,
        req: Request<pb::RecordFulfillmentRequest>,
    ) -> Result<Response<pb::PenaltyDecision>, Status> {
        let caller = auth::check(&self.app, &req, OFFICER).await?;
        let r = req.into_inner();
        let id = decision_id(&r.name)?;
        let mut v = Violations::default();
        let date = v.date("fulfilled_on", &r.fulfilled_on, true);
        let evidence = v.text("evidence", &r.evidence, limits::REASON, true);
        v.finish()?;
        let Some(date) = date else {
            return Err(AppError::invalid_field("FIELD_REQUIRED", "fulfilled_on", "is required").into());
        };
        let row = self
            .app
            .record_fulfillment(
                &caller,
                id,
                &r.etag,
                date,
                &evidence,
                shown_via(&caller, "RecordFulfillment"),
            )
            .await?;
        Ok(self.respond(&caller, &row))
    }

    async fn list_penalty_decision_events(
        &self,
        req: Request<pb::ListPenaltyDecisionEventsRequest>,
    ) -> Result<Response<pb::ListPenaltyDecisionEventsResponse>, Status> {
        let caller = auth::check(&self.app, &req, &[Role::Officer, Role::Auditor]).await?;
        let r = req.into_inner();
        let id = decision_id(&r.name)?;
        let limit = page::size(r.page_size)?;
        let scope = format!("events|{}|{}", caller.key_id, id);
        let after = page::sequence_position(&scope, &r.page_token)?;
        // Existence first, so an unknown decision is NOT_FOUND, not an empty page.
        // Events carry no ID numbers, addresses or contacts (their details
        // name fields, never values), so this read is not audited.
        self.app.get_decision(id).await?;
        let rows = self.app.list_events(id, after, limit).await?;
        let next = page::next(&scope, &rows, limit, |r| &r.id);
        Ok(Response::new(pb::ListPenaltyDecisionEventsResponse {
            events: rows
                .iter()
                .map(|e| pb::PenaltyDecisionEvent {
                    name: format!("penaltyDecisions/{}/events/{}", e.decision_id, e.id),
                    sequence: e.id,
                    kind: enum_out!(pb::DecisionEventKind, "DECISION_EVENT_KIND_", e.kind),
                    actor: Some(convert::actor(&e.actor)),
                    time: Some(ts(e.at)),
                    summary: e.summary.clone(),
                    details_json: e.details.to_string(),
                    document_sha256: e.document_sha256.clone(),
                })
                .collect(),
            next_page_token: next,
        }))
    }
}
