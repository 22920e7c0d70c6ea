//! Credit repair (信用修复, DOMAIN.md §4): eligibility, submission, and every
//! transition, each one transaction with its event. Approval terminates the
//! disclosure (a `TERMINATED` change with no content); revocation restores it
//! (a new `PUBLISHED` change).

use chrono::NaiveDate;
use rand::RngCore;
use serde_json::json;

use super::decisions::SensitiveRead;
use super::keys::Caller;
use super::{App, AppError, AppResult, PreconditionViolation, new_id};
use crate::domain::calendar::WorkingCalendar;
use crate::domain::lifecycle::{ChangeKind, DecisionState, DisclosureState, EventKind, Role, TerminationReason};
use crate::domain::record::sha256_hex;
use crate::domain::repair::{
    self, Commitment, Contact, Deadlines, EligibilityFacts, MaterialKind, MaterialMeta, RECEIPT_ALPHABET, RECEIPT_LEN,
    RepairAction, RepairDoc, RepairState, Timeline, Unmet,
};
use crate::store::{DisclosureRow, NewChange, NewEvent, NewRepairEvent, RepairRow, Tx};

/// Limits and deadlines of credit repair (configuration).
#[derive(Debug, Clone)]
pub struct RepairSettings {
    /// Working-day deadlines.
    pub deadlines: Deadlines,
    /// Largest material file.
    pub max_material_bytes: usize,
    /// Most materials per application (all uploads together).
    pub max_materials: usize,
}

impl Default for RepairSettings {
    fn default() -> Self {
        RepairSettings {
            deadlines: Deadlines::default(),
            max_material_bytes: 5 * 1024 * 1024,
            max_materials: 10,
        }
    }
}

/// An uploaded material.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Kind.
    pub kind: MaterialKind,
    /// File name.
    pub file_name: String,
    /// Media type.
    pub media_type: String,
    /// Bytes.
    pub content: Vec<u8>,
}

/// A submission, validated field by field by the API layer.
#[derive(Debug, Clone)]
pub struct SubmitInput {
    /// The disclosure to take down.
    pub disclosure_id: String,
    /// Applicant name.
    pub applicant_name: String,
    /// Contact.
    pub contact: Contact,
    /// The commitment, if given.
    pub commitment: Option<Commitment>,
    /// Materials.
    pub materials: Vec<Upload>,
}

/// The result of an eligibility check.
#[derive(Debug, Clone)]
pub struct Eligibility {
    /// Every unmet condition.
    pub unmet: Vec<Unmet>,
    /// Earliest date the time condition holds.
    pub earliest: NaiveDate,
}

fn application_name(id: &str) -> String {
    format!("repairApplications/{id}")
}

fn unmet_error(subject: &str, unmet: Vec<Unmet>) -> AppError {
    let reason = unmet.first().map(|u| u.reason).unwrap_or("CONDITIONS_UNMET");
    let message = format!(
        "credit repair cannot be applied for: {}",
        unmet.iter().map(|u| u.reason).collect::<Vec<_>>().join(", ")
    );
    AppError::Precondition {
        reason,
        message,
        violations: unmet
            .into_iter()
            .map(|u| PreconditionViolation {
                kind: u.reason.to_string(),
                subject: subject.to_string(),
                description: u.description,
            })
            .collect(),
    }
}

pub(crate) fn calendar_error(e: crate::domain::calendar::CalendarError) -> AppError {
    tracing::error!(error = %e, "working-day calendar does not cover a repair deadline; load the next year's holiday notice");
    AppError::precondition(
        "CALENDAR_NOT_LOADED",
        "calendar",
        format!("cannot compute the working-day deadline: {e}"),
    )
}

/// Whether a caller may see an application: portal and enterprise keys only
/// their own enterprise's; staff all.
pub fn may_see(caller: &Caller, applicant_code: &str) -> bool {
    match caller.role {
        Role::Portal | Role::Enterprise => caller.enterprise.as_deref() == Some(applicant_code),
        _ => true,
    }
}

/// The read of an application's contact (sensitive, API.md), recorded on
/// its decision's 全过程记录 naming the application.
fn contact_read(row: &RepairRow, decision_id: &str) -> Option<SensitiveRead> {
    let c = &row.doc.contact;
    let mut fields = Vec::new();
    if !c.name.is_empty() {
        fields.push("contact.name");
    }
    if !c.phone.is_empty() {
        fields.push("contact.phone");
    }
    (!fields.is_empty()).then(|| SensitiveRead {
        decision_id: decision_id.to_string(),
        record: application_name(&row.id),
        fields,
    })
}

/// A random receipt code, unbiased (rejection sampling over the alphabet).
fn new_receipt_code() -> String {
    let n = RECEIPT_ALPHABET.len() as u8;
    let limit = 256 - (256 % n as u16) as u8 as u16; // largest multiple of n below 256
    let mut out = [0u8; RECEIPT_LEN];
    let mut i = 0;
    let mut rng = rand::rng();
    while i < RECEIPT_LEN {
        let mut b = [0u8; 1];
        rng.fill_bytes(&mut b);
        if (b[0] as u16) < limit {
            out[i] = b[0] % n;
            i += 1;
        }
    }
    repair::receipt_code(&out)
}

impl App {
    fn due(&self, cal: &WorkingCalendar, state: RepairState, t: &Timeline) -> AppResult<repair::DueDates> {
        repair::due_dates(cal, &self.repair.deadlines, state, t).map_err(calendar_error)
    }

    /// A disclosure the caller may apply for (its own enterprise's).
    async fn disclosure_for_applicant(&self, caller: &Caller, id: &str) -> AppResult<DisclosureRow> {
        let d = self
            .store
            .get_disclosure(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("disclosures/{id}")))?;
        if !may_see(caller, &d.content.party_credit_code) {
            return Err(AppError::NotFound(format!("disclosures/{id}")));
        }
        Ok(d)
    }

    /// Every unmet condition for applying now (DOMAIN.md §4).
    pub async fn check_eligibility(&self, caller: &Caller, disclosure_id: &str) -> AppResult<Eligibility> {
        let d = self.disclosure_for_applicant(caller, disclosure_id).await?;
        let decision = self.get_decision(&d.decision_id).await?;
        let open = self.store.open_repair(&d.id).await?;
        let (unmet, earliest) = repair::eligibility(&EligibilityFacts {
            today: self.clock.today_cst(),
            disclosure_state: d.state,
            repair_eligible_on: d.content.repair_eligible_on,
            fulfilled: decision.meta.fulfillment.is_some(),
            application_open: open.is_some(),
            commitment_given: None,
        });
        Ok(Eligibility { unmet, earliest })
    }

    /// Submits an application. Every condition is checked in the same
    /// transaction that creates it, under a lock on the disclosure, and the
    /// database allows one open application per disclosure.
    pub async fn submit_repair(&self, caller: &Caller, request_id: &str, input: SubmitInput) -> AppResult<RepairRow> {
        let Some(applicant) = caller.enterprise.clone() else {
            return Err(AppError::PermissionDenied {
                reason: "ENTERPRISE_REQUIRED",
                message: "only an enterprise, or the portal acting for one, may apply".into(),
            });
        };
        if input.materials.len() > self.repair.max_materials {
            return Err(AppError::invalid_field(
                "TOO_MANY_MATERIALS",
                "repair_application.materials",
                format!("at most {} files", self.repair.max_materials),
            ));
        }
        let request_key = (!request_id.is_empty()).then(|| format!("{}:{}:{}", caller.key_id, applicant, request_id));
        let today = self.clock.today_cst();
        let now = self.now_micros();
        let not_found = || AppError::NotFound(format!("disclosures/{}", input.disclosure_id));
        // Lock order everywhere: repair application, then decision, then
        // disclosure — so submissions, transitions and withdrawals of one
        // decision never deadlock. A disclosure's decision never changes, so
        // it is read before the transaction (never a second connection inside one).
        let decision_id = self
            .store
            .get_disclosure(&input.disclosure_id)
            .await?
            .ok_or_else(not_found)?
            .decision_id;
        let mut tx = self.store.begin().await?;
        if let Some(k) = &request_key
            && let Some(existing) = tx.repair_by_request_key(k).await?
        {
            return Ok(existing);
        }
        let decision = tx
            .decision_for_update(&decision_id)
            .await?
            .ok_or_else(|| AppError::Internal(format!("disclosure {} has no decision", input.disclosure_id)))?;
        let mut d = tx
            .disclosure_for_update(&input.disclosure_id)
            .await?
            .ok_or_else(not_found)?;
        // A concurrent retry of the same request may have committed while we
        // waited for the lock (PostgreSQL, READ COMMITTED): look again, now
        // that this statement sees it, so the retry answers the first result
        // instead of APPLICATION_ALREADY_OPEN.
        if let Some(k) = &request_key
            && let Some(existing) = tx.repair_by_request_key(k).await?
        {
            return Ok(existing);
        }
        if d.content.party_credit_code != applicant {
            return Err(not_found());
        }
        let open = tx.open_repair_in_tx(&d.id).await?;
        let (unmet, _) = repair::eligibility(&EligibilityFacts {
            today,
            disclosure_state: d.state,
            repair_eligible_on: d.content.repair_eligible_on,
            fulfilled: decision.meta.fulfillment.is_some(),
            application_open: open.is_some(),
            commitment_given: Some(input.commitment.is_some()),
        });
        let subject = format!("disclosures/{}", d.id);
        if !unmet.is_empty() {
            return Err(unmet_error(&subject, unmet));
        }
        let Some(mut commitment) = input.commitment else {
            return Err(unmet_error(&subject, vec![]));
        };
        let id = new_id();
        if commitment.code.is_empty() {
            commitment.code = format!("XYCN-{id}");
        }
        let timeline = Timeline {
            submitted_on: Some(today),
            ..Timeline::default()
        };
        let cal = self.calendar_in_tx(&mut tx).await?;
        let due = self.due(&cal, RepairState::Submitted, &timeline)?;
        let materials: Vec<MaterialMeta> = input
            .materials
            .iter()
            .map(|m| MaterialMeta {
                kind: m.kind,
                file_name: m.file_name.clone(),
                media_type: m.media_type.clone(),
                sha256: sha256_hex(&m.content),
                size_bytes: m.content.len() as i64,
            })
            .collect();
        let mut row = RepairRow {
            id: id.clone(),
            disclosure_id: d.id.clone(),
            applicant_code: applicant.clone(),
            state: RepairState::Submitted,
            receipt_code: new_receipt_code(),
            accept_due_on: due.accept_due_on,
            decide_due_on: due.decide_due_on,
            overall_due_on: due.overall_due_on,
            doc: RepairDoc {
                applicant_name: input.applicant_name,
                contact: input.contact,
                commitment: commitment.clone(),
                materials: materials.clone(),
                last_reason: String::new(),
                timeline,
                submitted_by: caller.actor(),
                due_dates_provisional: due.provisional,
            },
            version: 1,
            create_time: now,
            update_time: now,
        };
        let mut inserted = false;
        for _ in 0..3 {
            if tx.insert_repair(&row, request_key.as_deref()).await? {
                inserted = true;
                break;
            }
            if let Some(k) = &request_key
                && let Some(existing) = tx.repair_by_request_key(k).await?
            {
                return Ok(existing);
            }
            if tx.open_repair_in_tx(&d.id).await?.is_some() {
                return Err(unmet_error(
                    &subject,
                    vec![Unmet {
                        reason: repair::reasons::APPLICATION_ALREADY_OPEN,
                        description: "another repair application for this disclosure is open".into(),
                    }],
                ));
            }
            row.receipt_code = new_receipt_code(); // a receipt-code collision: draw again
        }
        if !inserted {
            return Err(AppError::Conflict);
        }
        for (i, (m, meta)) in input.materials.iter().zip(&materials).enumerate() {
            tx.insert_material(&id, i as i64, meta, &m.content, now).await?;
        }
        tx.insert_commitment(&id, &commitment, now).await?;
        tx.append_repair_event(&NewRepairEvent {
            application_id: id.clone(),
            actor: caller.actor(),
            at: now,
            from: None,
            to: RepairState::Submitted,
            reason: String::new(),
        })
        .await?;
        d.repair_pending = true;
        d.update_time = now;
        tx.update_disclosure(&d, false).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// An application the caller may see.
    pub async fn get_repair(&self, caller: &Caller, id: &str) -> AppResult<RepairRow> {
        let row = self
            .store
            .get_repair(id)
            .await?
            .ok_or_else(|| AppError::NotFound(application_name(id)))?;
        if !may_see(caller, &row.applicant_code) {
            return Err(AppError::NotFound(application_name(id)));
        }
        Ok(row)
    }

    /// Records that staff were shown the contacts of these applications: one
    /// `SENSITIVE_DATA_READ` event each, on the 全过程记录 of the application's
    /// decision (the repair side's `repair_events` holds transitions only),
    /// committed before the caller may send the response.
    pub async fn audit_contact_reads(&self, caller: &Caller, rows: &[RepairRow], via: &str) -> AppResult<()> {
        // One query for the page's disclosures, not one per application.
        let ids: Vec<String> = rows.iter().map(|r| r.disclosure_id.clone()).collect();
        let decisions: std::collections::HashMap<String, String> =
            self.store.decisions_of_disclosures(&ids).await?.into_iter().collect();
        let mut reads = Vec::new();
        for row in rows {
            let decision_id = decisions
                .get(&row.disclosure_id)
                .ok_or_else(|| AppError::Internal(format!("application {} has no disclosure", row.id)))?;
            reads.extend(contact_read(row, decision_id));
        }
        self.audit_reads(caller, &reads, via).await
    }

    /// Receipt-code look-up: a wrong code and a wrong credit code answer alike.
    pub async fn lookup_repair(&self, receipt_code: &str, applicant_code: &str) -> AppResult<RepairRow> {
        let not_found = || AppError::NotFound("repair application".into());
        let code = repair::normalize_receipt(receipt_code).ok_or_else(not_found)?;
        self.store
            .lookup_repair(&code, applicant_code)
            .await?
            .ok_or_else(not_found)
    }

    /// Applies one transition of DOMAIN.md §4. With `shown_via` (`None`:
    /// shown to no one), the response of that RPC
    /// shows the caller the application's contact: the read is recorded in
    /// the transition's own transaction, so it commits with the act or not at all.
    #[allow(clippy::too_many_arguments)]
    pub async fn transition_repair(
        &self,
        caller: &Caller,
        id: &str,
        etag_given: &str,
        action: RepairAction,
        reason: &str,
        uploads: Vec<Upload>,
        shown_via: Option<&str>,
    ) -> AppResult<RepairRow> {
        let today = self.clock.today_cst();
        let now = self.now_micros();
        // The application's disclosure and decision never change: read them
        // before the transaction, which then locks application, decision,
        // disclosure in that order.
        let pre = self.get_repair(caller, id).await?;
        let decision_id = self
            .store
            .get_disclosure(&pre.disclosure_id)
            .await?
            .ok_or_else(|| AppError::Internal(format!("application {id} has no disclosure")))?
            .decision_id;
        let mut tx = self.store.begin().await?;
        let mut row = tx
            .repair_for_update(id)
            .await?
            .ok_or_else(|| AppError::NotFound(application_name(id)))?;
        if !may_see(caller, &row.applicant_code) {
            return Err(AppError::NotFound(application_name(id)));
        }
        super::check_etag(row.version, etag_given)?;
        let from = row.state;
        let Some(to) = repair::transition(from, action) else {
            return Err(AppError::precondition(
                "INVALID_STATE_TRANSITION",
                &application_name(id),
                format!(
                    "cannot {} an application in state {from}",
                    action.as_str().to_lowercase().replace('_', " ")
                ),
            ));
        };
        if row.doc.materials.len() + uploads.len() > self.repair.max_materials {
            return Err(AppError::invalid_field(
                "TOO_MANY_MATERIALS",
                "materials",
                format!("at most {} files per application", self.repair.max_materials),
            ));
        }
        // After the application's lock, before the decision's (lock order).
        let cal = self.calendar_in_tx(&mut tx).await?;
        let t = &mut row.doc.timeline;
        match action {
            RepairAction::Accept => t.accepted_on = Some(today),
            RepairAction::RequestSupplement => t.supplement_requested_on = Some(today),
            RepairAction::Approve | RepairAction::Reject | RepairAction::Decline => t.decided_on = Some(today),
            RepairAction::Supplement => {
                if let Some(since) = t.supplement_requested_on.take() {
                    t.paused_working_days += cal.working_days_between(since, today).map_err(calendar_error)?;
                }
                t.supplement_received_on = Some(today);
            }
            _ => {}
        }
        let due = self.due(&cal, to, &row.doc.timeline)?;
        row.accept_due_on = due.accept_due_on;
        row.decide_due_on = due.decide_due_on;
        row.overall_due_on = due.overall_due_on;
        row.doc.due_dates_provisional = due.provisional;
        let first_seq = row.doc.materials.len() as i64;
        for (i, u) in uploads.iter().enumerate() {
            let meta = MaterialMeta {
                kind: u.kind,
                file_name: u.file_name.clone(),
                media_type: u.media_type.clone(),
                sha256: sha256_hex(&u.content),
                size_bytes: u.content.len() as i64,
            };
            tx.insert_material(id, first_seq + i as i64, &meta, &u.content, now)
                .await?;
            row.doc.materials.push(meta);
        }
        row.state = to;
        row.doc.last_reason = reason.to_string();
        row.version += 1;
        row.update_time = now;

        let change = self
            .repair_disclosure_effects(&mut tx, &row, &decision_id, action, now, caller)
            .await?;
        tx.update_repair(&row).await?;
        tx.append_repair_event(&NewRepairEvent {
            application_id: row.id.clone(),
            actor: caller.actor(),
            at: now,
            from: Some(from),
            to,
            reason: reason.to_string(),
        })
        .await?;
        // Before the feed entry, which must stay the transaction's last write.
        if let Some(via) = shown_via
            && let Some(read) = contact_read(&row, &decision_id)
        {
            self.audit_in_tx(&mut tx, caller, &[read], via, now).await?;
        }
        self.commit_with_change(tx, change).await?;
        Ok(row)
    }

    /// What a transition does to the disclosure: approval takes it down,
    /// revocation restores it, closing clears `repair_pending`.
    async fn repair_disclosure_effects(
        &self,
        tx: &mut Box<dyn Tx>,
        row: &RepairRow,
        decision_id: &str,
        action: RepairAction,
        now: i64,
        caller: &Caller,
    ) -> AppResult<Option<NewChange>> {
        let today = self.clock.today_cst();
        let missing = || AppError::Internal(format!("application {} has no disclosure", row.id));
        // Lock order: application (held), decision, disclosure (see submit_repair).
        let decision = tx.decision_for_update(decision_id).await?;
        let mut d = tx
            .disclosure_for_update(&row.disclosure_id)
            .await?
            .ok_or_else(missing)?;
        let subject = format!("disclosures/{}", d.id);
        d.repair_pending = row.state.is_open();
        d.update_time = now;
        let mut change = None;
        let mut event = None;
        match action {
            RepairAction::Approve => {
                if d.state != DisclosureState::Active {
                    return Err(unmet_error(
                        &subject,
                        vec![Unmet {
                            reason: repair::reasons::DISCLOSURE_NOT_ACTIVE,
                            description: format!("the disclosure is {}, not ACTIVE", d.state),
                        }],
                    ));
                }
                d.terminate(DisclosureState::Repaired, TerminationReason::Repaired, now);
                change = Some(d.change(ChangeKind::Terminated, None, now));
                event = Some((
                    EventKind::DisclosureRepaired,
                    "credit repair approved: disclosure taken down".to_string(),
                ));
            }
            RepairAction::Revoke => {
                // A decision withdrawn after the approval (行政处罚法 Art. 48) is
                // never published again: its disclosure stays down as WITHDRAWN.
                let withdrawn = d.state == DisclosureState::Repaired
                    && decision
                        .as_ref()
                        .is_some_and(|dec| dec.state == DecisionState::Withdrawn);
                if withdrawn {
                    d.terminate(DisclosureState::Withdrawn, TerminationReason::Withdrawn, now);
                    event = Some((
                        EventKind::DisclosureRestored,
                        "credit repair revoked; the decision was withdrawn: not published again".to_string(),
                    ));
                } else if d.state == DisclosureState::Repaired {
                    let summary = if d.content.publicity_ends_on < today {
                        d.terminate(DisclosureState::Expired, TerminationReason::Expired, now);
                        "credit repair revoked; publicity period already over: recorded as expired"
                    } else {
                        d.state = DisclosureState::Active;
                        d.terminated_at = None;
                        d.termination_reason = None;
                        change = Some(d.change(ChangeKind::Published, None, now));
                        "credit repair revoked: disclosure published again"
                    };
                    event = Some((EventKind::DisclosureRestored, summary.to_string()));
                }
            }
            _ => {}
        }
        tx.update_disclosure(&d, false).await?;
        if let Some((kind, summary)) = event {
            tx.append_event(&NewEvent {
                decision_id: d.decision_id.clone(),
                kind,
                actor: caller.actor(),
                at: now,
                summary,
                details: json!({"repair_application": application_name(&row.id), "disclosure": subject, "reason": row.doc.last_reason}),
                document_sha256: vec![d.content_sha256.clone()],
            })
            .await?;
        }
        Ok(change)
    }
}
