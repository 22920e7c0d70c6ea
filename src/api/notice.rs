//! NoticeService (两书/三书同达): bundles, delivery and receipt.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::auth::{self, sees_sensitive};
use super::convert::{Violations, enum_in, enum_out, from_ts, ts};
use super::{page, pb};
use crate::app::keys::Caller;
use crate::app::notice::DeliveryInput;
use crate::app::views::{BundleFilter, BundleView};
use crate::app::{App, AppError, etag};
use crate::domain::lifecycle::Role;
use crate::domain::notice::{DeliveryMethod, DeliveryState, DocumentKind};
use crate::domain::record::limits;

const READERS: &[Role] = &[Role::Officer, Role::Auditor, Role::Portal, Role::Enterprise];
const OFFICER: &[Role] = &[Role::Officer];

/// The NoticeService implementation.
#[derive(Clone)]
pub struct NoticeApi {
    app: Arc<App>,
}

impl NoticeApi {
    /// Wraps the application.
    pub fn new(app: Arc<App>) -> Self {
        NoticeApi { app }
    }
}

/// The decision id of `penaltyDecisions/{id}/noticeBundle`.
fn bundle_decision_id(name: &str) -> Result<&str, AppError> {
    name.strip_suffix("/noticeBundle")
        .and_then(|n| super::enforcement::decision_id(n).ok())
        .ok_or_else(|| AppError::invalid_field("INVALID_NAME", "name", "must be penaltyDecisions/{id}/noticeBundle"))
}

/// Whether showing this caller a bundle's personal data (a natural
/// person's address in the decision document) is a read to audit: staff
/// reads are; the party's own (enterprise, or the portal acting for it) are
/// not, as for repair contacts.
fn audits_bundle(role: Role) -> bool {
    sees_sensitive(role)
}

/// The RPC a mutation's response is shown through, when it is audited.
fn shown_via(caller: &Caller, rpc: &'static str) -> Option<&'static str> {
    audits_bundle(caller.role).then_some(rpc)
}

impl NoticeApi {
    /// Audits a read that shows staff personal data in documents: committed
    /// before the response is built, so a failed audit sends an error instead.
    async fn audit_read(&self, caller: &Caller, bundles: &[BundleView], via: &str) -> Result<(), Status> {
        if audits_bundle(caller.role) {
            self.app.audit_bundle_reads(caller, bundles, via).await?;
        }
        Ok(())
    }
}

/// A bundle as protobuf.
pub fn bundle_out(b: &BundleView) -> pb::NoticeBundle {
    pb::NoticeBundle {
        name: format!("penaltyDecisions/{}/noticeBundle", b.decision_id),
        penalty_decision: format!("penaltyDecisions/{}", b.decision_id),
        version: i32::try_from(b.version).unwrap_or(i32::MAX),
        documents: b
            .documents
            .iter()
            .map(|d| pb::NoticeDocument {
                kind: enum_out!(pb::DocumentKind, "DOCUMENT_KIND_", d.kind),
                title: d.title.clone(),
                number: d.number.clone(),
                body: d.body.clone(),
                template_version: d.template_version.clone(),
                rendered_at: Some(ts(b.rendered_at)),
                sha256: d.sha256.clone(),
                pdf_sha256: b.pdf(d.kind).map(|p| p.sha256.clone()).unwrap_or_default(),
            })
            .collect(),
        delivery: b.delivery.as_ref().map(|d| pb::NoticeDelivery {
            method: enum_out!(pb::DeliveryMethod, "DELIVERY_METHOD_", d.method),
            recipient: d.recipient.clone(),
            recipient_relation: d.recipient_relation.clone(),
            delivered_at: Some(ts(d.delivered_at)),
            deemed_delivered_at: d.deemed_delivered_at.map(ts),
            receipt: d.receipt.as_ref().map(|r| pb::NoticeReceipt {
                signed_by: r.signed_by.clone(),
                signed_at: Some(ts(r.signed_at)),
            }),
            consent_ref: d.consent_ref.clone(),
            witnesses: d.witnesses.clone(),
            documents: d
                .documents
                .iter()
                .map(|k| enum_out!(pb::DocumentKind, "DOCUMENT_KIND_", k))
                .collect(),
        }),
        delivery_state: enum_out!(pb::DeliveryState, "DELIVERY_STATE_", b.delivery_state),
        etag: etag(b.row_version),
        party_credit_code: b.party_credit_code.clone(),
    }
}

#[tonic::async_trait]
impl pb::notice_service_server::NoticeService for NoticeApi {
    async fn get_notice_bundle(
        &self,
        req: Request<pb::GetNoticeBundleRequest>,
    ) -> Result<Response<pb::NoticeBundle>, Status> {
        let caller = auth::check(&self.app, &req, READERS).await?;
        let r = req.get_ref();
        let id = bundle_decision_id(&r.name)?;
        if r.version < 0 {
            return Err(AppError::invalid_field("INVALID_VERSION", "version", "must not be negative").into());
        }
        let b = self.app.notice_bundle(&caller, id, i64::from(r.version)).await?;
        self.audit_read(&caller, std::slice::from_ref(&b), "GetNoticeBundle")
            .await?;
        Ok(Response::new(bundle_out(&b)))
    }

    async fn list_notice_bundles(
        &self,
        req: Request<pb::ListNoticeBundlesRequest>,
    ) -> Result<Response<pb::ListNoticeBundlesResponse>, Status> {
        let caller = auth::check(&self.app, &req, READERS).await?;
        let r = req.into_inner();
        let limit = page::size(r.page_size)?;
        let mut v = Violations::default();
        let party = v.credit_code("party_credit_code", &r.party_credit_code, false);
        let state = v.enum_filter("delivery_state", r.delivery_state, |s| {
            enum_in!(pb::DeliveryState, "DELIVERY_STATE_", DeliveryState, s)
        });
        v.finish()?;
        let party = caller.list_scope(party, "bundles")?;
        let filter = BundleFilter {
            delivery_state: state,
            party_credit_code: party,
        };
        let scope = format!("bundles|{}|{:?}|{:?}", caller.key_id, caller.enterprise, filter);
        let after = page::position(&scope, &r.page_token)?;
        let rows = self.app.list_bundles(&filter, &after, limit).await?;
        self.audit_read(&caller, &rows, "ListNoticeBundles").await?;
        let next = page::next(&scope, &rows, limit, |r| &r.decision_id);
        Ok(Response::new(pb::ListNoticeBundlesResponse {
            notice_bundles: rows.iter().map(bundle_out).collect(),
            next_page_token: next,
        }))
    }

    async fn record_notice_delivery(
        &self,
        req: Request<pb::RecordNoticeDeliveryRequest>,
    ) -> Result<Response<pb::NoticeBundle>, Status> {
        let caller = auth::check(&self.app, &req, OFFICER).await?;
        let r = req.into_inner();
        let id = bundle_decision_id(&r.name)?;
        let mut v = Violations::default();
        let method = enum_in!(pb::DeliveryMethod, "DELIVERY_METHOD_", DeliveryMethod, r.method);
        if method.is_none() {
            v.add(
                "FIELD_REQUIRED",
                "method",
                "must be DIRECT, LEFT_AT_RESIDENCE, ELECTRONIC, POSTAL, ENTRUSTED or PUBLIC_NOTICE",
            );
        }
        let recipient = v.text("recipient", &r.recipient, limits::NAME, true);
        // Required or not by the method and the recipient: App::record_delivery.
        let relation = v.text("recipient_relation", &r.recipient_relation, limits::NAME, false);
        let consent_ref = v.text("consent_ref", &r.consent_ref, limits::REMARKS, false);
        let witnesses: Vec<String> = r
            .witnesses
            .iter()
            .enumerate()
            .map(|(i, w)| v.text(&format!("witnesses[{i}]"), w, limits::NAME, true))
            .collect();
        let delivered_at = r.delivered_at.as_ref().and_then(from_ts);
        if delivered_at.is_none() {
            v.add("FIELD_REQUIRED", "delivered_at", "a valid time is required");
        }
        v.finish()?;
        let (Some(method), Some(delivered_at)) = (method, delivered_at) else {
            return Err(AppError::Internal("validated fields missing".into()).into());
        };
        let b = self
            .app
            .record_delivery(
                &caller,
                id,
                &r.etag,
                DeliveryInput {
                    method,
                    recipient,
                    recipient_relation: relation,
                    delivered_at,
                    consent_ref,
                    witnesses,
                },
                shown_via(&caller, "RecordNoticeDelivery"),
            )
            .await?;
        Ok(Response::new(bundle_out(&b)))
    }

    async fn record_notice_receipt(
        &self,
        req: Request<pb::RecordNoticeReceiptRequest>,
    ) -> Result<Response<pb::NoticeBundle>, Status> {
        let caller = auth::check(&self.app, &req, OFFICER).await?;
        let r = req.into_inner();
        let id = bundle_decision_id(&r.name)?;
        let mut v = Violations::default();
        let signed_by = v.text("signed_by", &r.signed_by, limits::NAME, true);
        let signed_at = r.signed_at.as_ref().and_then(from_ts);
        if signed_at.is_none() {
            v.add("FIELD_REQUIRED", "signed_at", "a valid time is required");
        }
        v.finish()?;
        let Some(signed_at) = signed_at else {
            return Err(AppError::Internal("validated fields missing".into()).into());
        };
        let b = self
            .app
            .record_receipt(
                &caller,
                id,
                &r.etag,
                &signed_by,
                signed_at,
                shown_via(&caller, "RecordNoticeReceipt"),
            )
            .await?;
        Ok(Response::new(bundle_out(&b)))
    }

    async fn render_notice_document(
        &self,
        req: Request<pb::RenderNoticeDocumentRequest>,
    ) -> Result<Response<pb::RenderedDocument>, Status> {
        let caller = auth::check(&self.app, &req, READERS).await?;
        let r = req.get_ref();
        let id = bundle_decision_id(&r.name)?;
        let Some(kind) = enum_in!(pb::DocumentKind, "DOCUMENT_KIND_", DocumentKind, r.kind) else {
            return Err(AppError::invalid_field(
                "FIELD_REQUIRED",
                "kind",
                "must be PENALTY_DECISION, CREDIT_REPAIR_NOTICE, CREDIT_COMMITMENT or COMPLIANCE_ADVICE",
            )
            .into());
        };
        let printed = self.app.notice_document_pdf(&caller, id, kind).await?;
        // Only the decision document prints the party's address.
        if kind == DocumentKind::PenaltyDecision {
            self.audit_read(&caller, std::slice::from_ref(&printed.bundle), "RenderNoticeDocument")
                .await?;
        }
        Ok(Response::new(pb::RenderedDocument {
            media_type: crate::render::MEDIA_TYPE.into(),
            file_name: printed.file_name,
            content: printed.content,
            sha256: printed.sha256,
            page_count: i32::try_from(printed.page_count).unwrap_or(i32::MAX),
        }))
    }
}
