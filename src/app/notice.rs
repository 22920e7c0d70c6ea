//! Notice bundles (两书/三书同达, DOMAIN.md §5): rendered on first request and
//! stored, so every later request returns the same bytes; a corrected decision
//! gets a new version while the old one stays retrievable. One delivery act
//! covers every document of the bundle.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::decisions::{SensitiveRead, natural_person_address};
use super::keys::Caller;
use super::repair::may_see;
use super::{App, AppError, AppResult, etag};
use crate::domain::lifecycle::EventKind;
use crate::domain::notice::{
    self, Delivery, DeliveryMethod, DeliveryState, DocumentKind, NoticeSettings, NoticeTemplates,
    PUBLIC_NOTICE_DEEMED_DAYS, Receipt,
};
use crate::domain::policy::PublicationDecision;
use crate::domain::record::{DecisionDoc, sha256_hex};
use crate::store::{BundleRow, NewEvent};

/// Templates and texts of the notices (configuration).
#[derive(Debug, Clone)]
pub struct NoticeConfig {
    /// Deployment texts and the document set.
    pub settings: NoticeSettings,
    /// The loaded templates.
    pub templates: Arc<NoticeTemplates>,
}

/// A delivery as reported.
#[derive(Debug, Clone)]
pub struct DeliveryInput {
    /// Method.
    pub method: DeliveryMethod,
    /// Recipient.
    pub recipient: String,
    /// Relation to the party.
    pub recipient_relation: String,
    /// When.
    pub delivered_at: DateTime<Utc>,
    /// Consent reference (electronic).
    pub consent_ref: String,
    /// Witnesses (left at residence).
    pub witnesses: Vec<String>,
}

fn bundle_name(decision_id: &str) -> String {
    format!("penaltyDecisions/{decision_id}/noticeBundle")
}

/// The read of a bundle whose documents carry personal data. No template
/// context holds an ID number; the 行政处罚决定书 prints the party's 住所
/// (`templates/notices/penalty_decision.txt.j2`), which for a natural person
/// is sensitive (API.md). Judged on the decision as it is now: the latest
/// version is rendered from it; an older version rendered before a correction
/// of the party's kind or address is judged by the corrected content.
fn bundle_read(bundle: &BundleRow, doc: &DecisionDoc) -> Option<SensitiveRead> {
    natural_person_address(doc).then(|| SensitiveRead {
        decision_id: bundle.decision_id.clone(),
        record: bundle_name(&bundle.decision_id),
        fields: vec!["documents.body: party.address"],
    })
}

/// Whether a delivery must say how its recipient relates to the party
/// (民事诉讼法 Arts. 87-95): always where the documents are handed to
/// someone — directly, left at the residence, entrusted — and for post or
/// electronic service when the recipient is not the party itself. Public
/// notice (公告送达) reaches no one in person: there is nobody to relate.
fn needs_relation(method: DeliveryMethod, recipient: &str, doc: &DecisionDoc) -> bool {
    match method {
        DeliveryMethod::Direct | DeliveryMethod::LeftAtResidence | DeliveryMethod::Entrusted => true,
        DeliveryMethod::Electronic | DeliveryMethod::Postal => {
            let r = recipient.trim();
            !r.is_empty() && r != doc.party.name.trim()
        }
        DeliveryMethod::PublicNotice => false,
    }
}

impl App {
    /// The decision behind a bundle. No decision and another enterprise's
    /// decision must answer alike (existence does not leak), so a missing
    /// decision is reported as a missing bundle.
    async fn decision_for_bundle(&self, decision_id: &str) -> AppResult<crate::store::DecisionRow> {
        match self.get_decision(decision_id).await {
            Err(AppError::NotFound(_)) => Err(AppError::NotFound(bundle_name(decision_id))),
            r => r,
        }
    }

    /// The bundle of a decision: version 0 means the latest, rendering it
    /// (and storing it) if the decision has none yet or was corrected since.
    pub async fn notice_bundle(&self, caller: &Caller, decision_id: &str, version: i64) -> AppResult<BundleRow> {
        let decision = self.decision_for_bundle(decision_id).await?;
        if !may_see(caller, &decision.doc.party.credit_code) {
            return Err(AppError::NotFound(bundle_name(decision_id)));
        }
        if version > 0 {
            return self
                .store
                .get_bundle(decision_id, Some(version))
                .await?
                .ok_or_else(|| AppError::NotFound(format!("{} version {version}", bundle_name(decision_id))));
        }
        let publication = self
            .policy
            .decide(&crate::domain::policy::PolicyInput {
                decided_on: decision.doc.decided_on,
                severity: decision.doc.severity,
                sector: decision.doc.sector,
                procedure: decision.doc.procedure,
                penalty_kinds: decision.doc.penalty_kinds.clone(),
                party_kind: decision.doc.party.kind,
            })
            .map_err(|e| AppError::Internal(format!("policy: {e}")))?;
        // What the documents depend on: the decision's content and its periods.
        let context_sha256 = sha256_hex(
            json!({"doc": decision.doc, "publication": format!("{publication:?}")})
                .to_string()
                .as_bytes(),
        );
        if let Some(latest) = self.store.get_bundle(decision_id, None).await?
            && latest.context_sha256 == context_sha256
        {
            return Ok(latest);
        }
        let published = matches!(publication, PublicationDecision::Publish(_));
        let n = &self.notices;
        let ctx = notice::context(
            &decision.doc,
            &publication,
            &n.settings,
            self.repair.deadlines.accept_days,
            self.repair.deadlines.overall_days,
        );
        let kinds = notice::bundle_kinds(&n.settings, published);
        let documents =
            notice::render_bundle(&n.templates, &ctx, &kinds).map_err(|e| AppError::Internal(e.to_string()))?;
        let now = self.now_micros();
        let mut tx = self.store.begin().await?;
        // Serialise renders of one decision: the decision row is the lock.
        tx.decision_for_update(decision_id).await?;
        let previous = tx.latest_bundle_for_update(decision_id).await?;
        if let Some(p) = &previous
            && p.context_sha256 == context_sha256
        {
            return Ok(p.clone()); // rendered meanwhile by a concurrent request
        }
        let row = BundleRow {
            decision_id: decision_id.to_string(),
            version: previous.as_ref().map(|p| p.version + 1).unwrap_or(1),
            context_sha256,
            party_credit_code: decision.doc.party.credit_code.clone(),
            documents,
            rendered_at: now,
            delivery_state: DeliveryState::Pending,
            delivery: None,
            row_version: 1,
            update_time: now,
        };
        tx.insert_bundle(&row).await?;
        tx.append_event(&NewEvent {
            decision_id: decision_id.to_string(),
            kind: EventKind::NoticeRendered,
            actor: caller.actor(),
            at: now,
            summary: format!(
                "notice bundle version {} rendered: {}",
                row.version,
                row.documents
                    .iter()
                    .map(|d| d.title.as_str())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            details: json!({"version": row.version, "template_version": n.templates.version(), "documents": kinds}),
            document_sha256: row.documents.iter().map(|d| d.sha256.clone()).collect(),
        })
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Records that staff were shown bundles whose documents carry personal
    /// data: one `SENSITIVE_DATA_READ` event each, committed before the
    /// caller may send the response.
    pub async fn audit_bundle_reads(&self, caller: &Caller, bundles: &[BundleRow], via: &str) -> AppResult<()> {
        // One query for the page's decisions, not one per bundle.
        let ids: Vec<String> = bundles.iter().map(|b| b.decision_id.clone()).collect();
        let decisions: std::collections::HashMap<String, DecisionDoc> = self
            .store
            .get_decisions(&ids)
            .await?
            .into_iter()
            .map(|d| (d.id, d.doc))
            .collect();
        let mut reads = Vec::new();
        for b in bundles {
            let doc = decisions
                .get(&b.decision_id)
                .ok_or_else(|| AppError::NotFound(format!("penaltyDecisions/{}", b.decision_id)))?;
            reads.extend(bundle_read(b, doc));
        }
        self.audit_reads(caller, &reads, via).await
    }

    /// Records one delivery act for the latest bundle. With `shown_via`
    /// (`None`: shown to no one), the response of that RPC
    /// shows the caller the bundle's documents: a read of personal data they
    /// carry is recorded in the delivery's own transaction.
    pub async fn record_delivery(
        &self,
        caller: &Caller,
        decision_id: &str,
        etag_given: &str,
        input: DeliveryInput,
        shown_via: Option<&str>,
    ) -> AppResult<BundleRow> {
        let current = self.notice_bundle(caller, decision_id, 0).await?;
        let decision = self.get_decision(decision_id).await?;
        let delivered_at = input.delivered_at.timestamp_micros();
        if input.method == DeliveryMethod::Electronic && input.consent_ref.trim().is_empty() {
            return Err(AppError::invalid_field(
                "CONSENT_REQUIRED",
                "consent_ref",
                "electronic delivery needs a reference to the party's signed consent",
            ));
        }
        if input.recipient_relation.trim().is_empty() && needs_relation(input.method, &input.recipient, &decision.doc) {
            return Err(AppError::invalid_field(
                "FIELD_REQUIRED",
                "recipient_relation",
                "is required when the documents were handed to someone (direct, left at the residence, entrusted), \
                 or posted or served electronically to someone other than the party",
            ));
        }
        if input.method == DeliveryMethod::LeftAtResidence && input.witnesses.is_empty() {
            return Err(AppError::invalid_field(
                "WITNESS_REQUIRED",
                "witnesses",
                "leaving at the residence needs a witness or a video record reference",
            ));
        }
        if delivered_at > self.now_micros() + 300_000_000 {
            return Err(AppError::invalid_field(
                "INVALID_TIME",
                "delivered_at",
                "must not be in the future",
            ));
        }
        if crate::domain::clock::cst_date(input.delivered_at) < decision.doc.decided_on {
            return Err(AppError::invalid_field(
                "INVALID_TIME",
                "delivered_at",
                "must not be before the decision date",
            ));
        }
        let now = self.now_micros();
        let mut tx = self.store.begin().await?;
        let mut row = tx
            .latest_bundle_for_update(decision_id)
            .await?
            .ok_or_else(|| AppError::NotFound(bundle_name(decision_id)))?;
        if row.version != current.version {
            return Err(AppError::Conflict);
        }
        if !etag_given.is_empty() && etag_given != etag(row.row_version) {
            return Err(AppError::EtagMismatch {
                current: etag(row.row_version),
            });
        }
        if row.delivery_state != DeliveryState::Pending {
            return Err(AppError::precondition(
                "ALREADY_DELIVERED",
                &bundle_name(decision_id),
                format!("the bundle is already {}", row.delivery_state),
            ));
        }
        // 公告送达 delivers the decision alone, deemed delivered 30 days later.
        let (documents, deemed) = if input.method == DeliveryMethod::PublicNotice {
            (
                vec![DocumentKind::PenaltyDecision],
                Some(delivered_at + PUBLIC_NOTICE_DEEMED_DAYS * 86_400 * 1_000_000),
            )
        } else {
            (row.documents.iter().map(|d| d.kind).collect(), None)
        };
        let hashes = row
            .documents
            .iter()
            .filter(|d| documents.contains(&d.kind))
            .map(|d| d.sha256.clone())
            .collect();
        row.delivery = Some(Delivery {
            method: input.method,
            recipient: input.recipient.clone(),
            recipient_relation: input.recipient_relation.clone(),
            delivered_at,
            deemed_delivered_at: deemed,
            consent_ref: input.consent_ref.clone(),
            witnesses: input.witnesses.clone(),
            documents: documents.clone(),
            receipt: None,
            recorded_by: caller.actor(),
        });
        row.delivery_state = DeliveryState::Delivered;
        row.row_version += 1;
        row.update_time = now;
        tx.update_bundle_delivery(&row).await?;
        tx.append_event(&NewEvent {
            decision_id: decision_id.to_string(),
            kind: EventKind::NoticeDelivered,
            actor: caller.actor(),
            at: now,
            summary: format!("notice bundle version {} delivered ({})", row.version, input.method),
            details: json!({
                "version": row.version, "method": input.method, "recipient_relation": input.recipient_relation,
                "delivered_at": delivered_at, "deemed_delivered_at": deemed, "documents": documents,
            }),
            document_sha256: hashes,
        })
        .await?;
        if let Some(via) = shown_via
            && let Some(read) = bundle_read(&row, &decision.doc)
        {
            self.audit_in_tx(&mut tx, caller, &[read], via, now).await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    /// Records the 送达回证 of a delivered bundle.
    ///
    /// `shown_via` names the RPC whose response shows the result to the
    /// caller: that read is recorded in the same transaction (see
    /// [`App::create_decision`]); `None` when it is shown to no one.
    pub async fn record_receipt(
        &self,
        caller: &Caller,
        decision_id: &str,
        etag_given: &str,
        signed_by: &str,
        signed_at: DateTime<Utc>,
        shown_via: Option<&str>,
    ) -> AppResult<BundleRow> {
        let decision = self.decision_for_bundle(decision_id).await?;
        if !may_see(caller, &decision.doc.party.credit_code) {
            return Err(AppError::NotFound(bundle_name(decision_id)));
        }
        let now = self.now_micros();
        let mut tx = self.store.begin().await?;
        let mut row = tx
            .latest_bundle_for_update(decision_id)
            .await?
            .ok_or_else(|| AppError::NotFound(bundle_name(decision_id)))?;
        if !etag_given.is_empty() && etag_given != etag(row.row_version) {
            return Err(AppError::EtagMismatch {
                current: etag(row.row_version),
            });
        }
        let Some(delivery) = row
            .delivery
            .as_mut()
            .filter(|_| row.delivery_state == DeliveryState::Delivered)
        else {
            return Err(AppError::precondition(
                "NOT_DELIVERED",
                &bundle_name(decision_id),
                format!("a receipt needs a delivered bundle; this one is {}", row.delivery_state),
            ));
        };
        if delivery.method == DeliveryMethod::PublicNotice {
            return Err(AppError::precondition(
                "NO_RECEIPT_FOR_PUBLIC_NOTICE",
                &bundle_name(decision_id),
                "delivery by public notice has no 送达回证",
            ));
        }
        let signed = signed_at.timestamp_micros();
        if signed < delivery.delivered_at {
            return Err(AppError::invalid_field(
                "INVALID_TIME",
                "signed_at",
                "must not be before the delivery",
            ));
        }
        if signed > now + 300_000_000 {
            return Err(AppError::invalid_field(
                "INVALID_TIME",
                "signed_at",
                "must not be in the future",
            ));
        }
        delivery.receipt = Some(Receipt {
            signed_by: signed_by.to_string(),
            signed_at: signed,
        });
        row.delivery_state = DeliveryState::Receipted;
        row.row_version += 1;
        row.update_time = now;
        tx.update_bundle_delivery(&row).await?;
        tx.append_event(&NewEvent {
            decision_id: decision_id.to_string(),
            kind: EventKind::NoticeReceipted,
            actor: caller.actor(),
            at: now,
            summary: format!("送达回证 signed by {signed_by}"),
            details: json!({"version": row.version, "signed_at": signed}),
            document_sha256: vec![],
        })
        .await?;
        if let Some(via) = shown_via
            && let Some(read) = bundle_read(&row, &decision.doc)
        {
            self.audit_in_tx(&mut tx, caller, &[read], via, now).await?;
        }
        tx.commit().await?;
        Ok(row)
    }
}
