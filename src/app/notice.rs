//! Notice bundles (两书/三书同达, DOMAIN.md §5): rendered on first request and
//! stored, so every later request returns the same bytes; a corrected decision
//! gets a new version while the old one stays retrievable. One delivery act
//! covers every document of the bundle.
//!
//! Each document is also printed (PDF, [`crate::render`]) from its stored
//! text, in the same transaction that stores the bundle, and the file is kept
//! byte for byte beside it (`notice_pdfs`): the bundle states each file's
//! SHA-256, and the file served later is always the one hashed. A bundle
//! stored before PDFs existed gets its PDFs on its next request, recorded by
//! a `NOTICE_RENDERED` event of their own.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use super::decisions::{SensitiveRead, natural_person_address};
use super::keys::Caller;
use super::repair::may_see;
use super::{App, AppError, AppResult, check_etag};
use crate::domain::lifecycle::{EventKind, Micros};
use crate::domain::notice::{
    self, Delivery, DeliveryMethod, DeliveryState, DocumentKind, NoticeSettings, NoticeTemplates,
    PUBLIC_NOTICE_DEEMED_DAYS, Receipt, RenderedDocument,
};
use crate::domain::policy::PublicationDecision;
use crate::domain::record::{DecisionDoc, sha256_hex};
use crate::render::{self, Pdf, RenderError};
use crate::store::{BundleRow, NewEvent, PdfRow, Tx};

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

/// The latest bundle of a decision, locked for update; NOT_FOUND if none.
async fn latest_for_update(tx: &mut Box<dyn Tx>, decision_id: &str) -> AppResult<BundleRow> {
    tx.latest_bundle_for_update(decision_id)
        .await?
        .ok_or_else(|| AppError::NotFound(bundle_name(decision_id)))
}

/// Stores a bundle in delivery state `state`, as a new row version.
async fn save_delivery(tx: &mut Box<dyn Tx>, row: &mut BundleRow, state: DeliveryState, now: Micros) -> AppResult<()> {
    row.delivery_state = state;
    row.row_version += 1;
    row.update_time = now;
    Ok(tx.update_bundle_delivery(row).await?)
}

fn bundle_name(decision_id: &str) -> String {
    format!("penaltyDecisions/{decision_id}/noticeBundle")
}

/// The caller the command line acts as: an officer, key id `cli`. It needs
/// no API key: whoever can run the command can reach the database anyway
/// (as for `gongshi import`); its acts and reads are recorded under `label`.
pub fn cli_caller(label: &str) -> Caller {
    Caller {
        key_id: "cli".into(),
        label: label.into(),
        role: crate::domain::lifecycle::Role::Officer,
        enterprise: None,
    }
}

/// One document of a bundle as printed, with its bytes.
#[derive(Debug, Clone)]
pub struct PrintedDocument {
    /// The bundle it belongs to (latest version).
    pub bundle: BundleRow,
    /// The document.
    pub kind: DocumentKind,
    /// A file name for it (`render::file_name`).
    pub file_name: String,
    /// The PDF, exactly as stored.
    pub content: Vec<u8>,
    /// SHA-256 (hex) of `content`, equal to the bundle's `pdf_sha256`.
    pub sha256: String,
    /// Pages.
    pub page_count: i64,
}

/// Prints documents of a bundle (pure CPU work: run off the async workers).
/// Each result stands alone, so one unprintable document leaves the others
/// printed.
async fn print(
    documents: Vec<RenderedDocument>,
    authority: String,
    dated: NaiveDate,
) -> AppResult<Vec<(DocumentKind, Result<Pdf, RenderError>)>> {
    tokio::task::spawn_blocking(move || {
        documents
            .iter()
            .map(|d| {
                let pdf = render::pdf(&render::PrintDocument {
                    title: &d.title,
                    number: &d.number,
                    body: &d.body,
                    authority: &authority,
                    dated,
                });
                (d.kind, pdf)
            })
            .collect()
    })
    .await
    .map_err(|e| AppError::Internal(format!("PDF rendering task: {e}")))
}

/// The rows to store for the printed documents; failures are logged (the
/// text bundle stands without that PDF, and `RenderNoticeDocument` reports
/// why).
fn pdf_rows(
    decision_id: &str,
    version: i64,
    printed: Vec<(DocumentKind, Result<Pdf, RenderError>)>,
    now: i64,
) -> Vec<(PdfRow, Vec<u8>)> {
    printed
        .into_iter()
        .filter_map(|(kind, r)| match r {
            Ok(pdf) => Some((
                PdfRow {
                    decision_id: decision_id.to_string(),
                    version,
                    kind,
                    sha256: pdf.sha256,
                    page_count: i64::from(pdf.page_count),
                    size_bytes: i64::try_from(pdf.bytes.len()).unwrap_or(i64::MAX),
                    renderer: render::RENDERER.to_string(),
                    rendered_at: now,
                },
                pdf.bytes,
            )),
            Err(e) => {
                tracing::warn!(decision_id, version, kind = %kind, error = %e, "notice document not printed");
                None
            }
        })
        .collect()
}

/// What an event records of printed documents.
fn pdf_details(pdfs: &[(PdfRow, Vec<u8>)]) -> serde_json::Value {
    json!(
        pdfs.iter()
            .map(
                |(p, _)| json!({"kind": p.kind, "sha256": p.sha256, "page_count": p.page_count,
                "size_bytes": p.size_bytes})
            )
            .collect::<Vec<_>>()
    )
}

fn render_error(decision_id: &str, e: RenderError) -> AppError {
    match e {
        RenderError::Unprintable(_) => {
            AppError::precondition("UNPRINTABLE_CHARACTER", &bundle_name(decision_id), e.to_string())
        }
        RenderError::Pdf(m) => AppError::Internal(m),
    }
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
            return self.print_missing(caller, &decision.doc, latest).await;
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
        let printed = print(
            documents.clone(),
            decision.doc.authority.name.clone(),
            decision.doc.decided_on,
        )
        .await?;
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
        let version = previous.as_ref().map(|p| p.version + 1).unwrap_or(1);
        let pdfs = pdf_rows(decision_id, version, printed, now);
        let mut row = BundleRow {
            decision_id: decision_id.to_string(),
            version,
            context_sha256,
            party_credit_code: decision.doc.party.credit_code.clone(),
            documents,
            rendered_at: now,
            delivery_state: DeliveryState::Pending,
            delivery: None,
            row_version: 1,
            update_time: now,
            pdfs: Vec::new(),
        };
        tx.insert_bundle(&row).await?;
        for (pdf, content) in &pdfs {
            tx.insert_pdf(pdf, content).await?;
        }
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
            details: json!({"version": row.version, "template_version": n.templates.version(), "documents": kinds,
                "renderer": render::RENDERER, "pdf": pdf_details(&pdfs)}),
            document_sha256: row.documents.iter().map(|d| d.sha256.clone()).collect(),
        })
        .await?;
        tx.commit().await?;
        row.pdfs = pdfs.into_iter().map(|(p, _)| p).collect();
        Ok(row)
    }

    /// Prints the documents of the latest bundle that have no stored PDF
    /// (a bundle stored before PDFs existed, or a document that could not be
    /// printed), stores those that print, and records them. `decision` is
    /// the content the bundle was rendered from (its context matches).
    async fn print_missing(&self, caller: &Caller, decision: &DecisionDoc, latest: BundleRow) -> AppResult<BundleRow> {
        let missing: Vec<RenderedDocument> = latest
            .documents
            .iter()
            .filter(|d| latest.pdf(d.kind).is_none())
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(latest);
        }
        let printed = print(missing, decision.authority.name.clone(), decision.decided_on).await?;
        let now = self.now_micros();
        let pdfs = pdf_rows(&latest.decision_id, latest.version, printed, now);
        if pdfs.is_empty() {
            return Ok(latest);
        }
        let mut tx = self.store.begin().await?;
        tx.decision_for_update(&latest.decision_id).await?;
        let Some(current) = tx.latest_bundle_for_update(&latest.decision_id).await? else {
            return Err(AppError::NotFound(bundle_name(&latest.decision_id)));
        };
        if current.version != latest.version {
            return Ok(current); // a newer version came meanwhile (it was printed with it)
        }
        let pdfs: Vec<_> = pdfs
            .into_iter()
            .filter(|(p, _)| current.pdf(p.kind).is_none())
            .collect();
        if pdfs.is_empty() {
            return Ok(current); // printed meanwhile by a concurrent request
        }
        for (pdf, content) in &pdfs {
            tx.insert_pdf(pdf, content).await?;
        }
        tx.append_event(&NewEvent {
            decision_id: current.decision_id.clone(),
            kind: EventKind::NoticeRendered,
            actor: caller.actor(),
            at: now,
            summary: format!(
                "notice bundle version {} printed (PDF): {}",
                current.version,
                pdfs.iter().map(|(p, _)| p.kind.as_str()).collect::<Vec<_>>().join(", ")
            ),
            details: json!({"version": current.version, "renderer": render::RENDERER, "pdf": pdf_details(&pdfs)}),
            document_sha256: pdfs.iter().map(|(p, _)| p.sha256.clone()).collect(),
        })
        .await?;
        let mut row = current;
        row.pdfs.extend(pdfs.into_iter().map(|(p, _)| p));
        row.pdfs.sort_by_key(|p| p.kind);
        tx.commit().await?;
        Ok(row)
    }

    /// Every document of the decision's latest bundle as printed, for the
    /// service window (`gongshi notices pdf`). The decision document prints
    /// the party's address: the read is audited (`via` names the command)
    /// before the documents are handed over.
    pub async fn print_bundle(&self, caller: &Caller, decision_id: &str, via: &str) -> AppResult<Vec<PrintedDocument>> {
        let bundle = self.notice_bundle(caller, decision_id, 0).await?;
        let mut out = Vec::with_capacity(bundle.documents.len());
        for d in &bundle.documents {
            out.push(self.notice_document_pdf(caller, decision_id, d.kind).await?);
        }
        self.audit_bundle_reads(caller, std::slice::from_ref(&bundle), via)
            .await?;
        Ok(out)
    }

    /// One document of the decision's latest bundle as printed (PDF), for
    /// `RenderNoticeDocument` and `gongshi notices pdf`: rendering the bundle
    /// first if need be (recorded as usual), then served from storage —
    /// the same bytes every time, checked against the stored SHA-256. The
    /// same isolation as [`App::notice_bundle`].
    pub async fn notice_document_pdf(
        &self,
        caller: &Caller,
        decision_id: &str,
        kind: DocumentKind,
    ) -> AppResult<PrintedDocument> {
        let bundle = self.notice_bundle(caller, decision_id, 0).await?;
        let Some(doc) = bundle.documents.iter().find(|d| d.kind == kind) else {
            return Err(AppError::NotFound(format!(
                "{} document {kind}",
                bundle_name(decision_id)
            )));
        };
        let file_name = render::file_name(&doc.title, &doc.number);
        let Some((pdf, content)) = self.store.get_pdf(decision_id, bundle.version, kind).await? else {
            // Not printable: say why (rendering again gives the same answer).
            let decision = self.get_decision(decision_id).await?;
            let again = print(
                vec![doc.clone()],
                decision.doc.authority.name.clone(),
                decision.doc.decided_on,
            )
            .await?;
            return Err(match again.into_iter().next() {
                Some((_, Err(e))) => render_error(decision_id, e),
                _ => AppError::Internal(format!("{} document {kind}: no stored PDF", bundle_name(decision_id))),
            });
        };
        if sha256_hex(&content) != pdf.sha256 {
            return Err(AppError::Internal(format!(
                "{} document {kind}: stored PDF does not match its SHA-256",
                bundle_name(decision_id)
            )));
        }
        Ok(PrintedDocument {
            bundle,
            kind,
            file_name,
            content,
            sha256: pdf.sha256,
            page_count: pdf.page_count,
        })
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
        let mut row = latest_for_update(&mut tx, decision_id).await?;
        if row.version != current.version {
            return Err(AppError::Conflict);
        }
        check_etag(row.row_version, etag_given)?;
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
        save_delivery(&mut tx, &mut row, DeliveryState::Delivered, now).await?;
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
        self.commit_shown(tx, caller, row, &decision.doc, shown_via, now).await
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
        let mut row = latest_for_update(&mut tx, decision_id).await?;
        check_etag(row.row_version, etag_given)?;
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
        save_delivery(&mut tx, &mut row, DeliveryState::Receipted, now).await?;
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
        self.commit_shown(tx, caller, row, &decision.doc, shown_via, now).await
    }

    /// Commits a delivery step of `row`; when `shown_via` names the RPC
    /// whose response shows it, the read of the addresses it carries is
    /// recorded in the same transaction first.
    async fn commit_shown(
        &self,
        mut tx: Box<dyn Tx>,
        caller: &Caller,
        row: BundleRow,
        doc: &DecisionDoc,
        shown_via: Option<&str>,
        now: Micros,
    ) -> AppResult<BundleRow> {
        if let Some(via) = shown_via
            && let Some(read) = bundle_read(&row, doc)
        {
            self.audit_in_tx(&mut tx, caller, &[read], via, now).await?;
        }
        tx.commit().await?;
        Ok(row)
    }
}
