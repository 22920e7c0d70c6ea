//! Penalty decisions: record, review, publish, correct, withdraw, fulfil.
//! Each operation is one transaction: the decision, its disclosure, the feed
//! entry and the 全过程记录 event commit together or not at all.

use chrono::NaiveDate;
use serde_json::json;

use super::keys::Caller;
use super::{App, AppError, AppResult, FieldViolation, check_etag, new_id};
use crate::domain::clock::cst_midnight;
use crate::domain::lifecycle::{
    Actor, ChangeKind, DecisionState, DisclosureState, EventKind, Exclusion, Fulfillment, LegalReview, Micros,
    ReviewChecklist, ReviewOpinion, TerminationReason, Withdrawal, WithdrawalEvent,
};
use crate::domain::policy::{PartyKind, PolicyInput, PublicationDecision};
use crate::domain::record::{DecisionDoc, PublicDates, PublicRecord};
use crate::domain::repair::ClosureCause;
use crate::store::{DecisionRow, DisclosureRow, NewChange, NewEvent, Tx};

/// A legal review as submitted.
#[derive(Debug, Clone)]
pub struct ReviewInput {
    /// 同意 / 不同意 / 修改后提交.
    pub opinion: ReviewOpinion,
    /// The checklist.
    pub checklist: ReviewChecklist,
    /// Comment.
    pub comment: String,
}

/// Applies a correction to a decision's content as read inside the
/// correction's transaction (see [`CorrectionPatch`]).
pub type ApplyCorrection = Box<dyn FnOnce(&DecisionDoc) -> AppResult<DecisionDoc> + Send>;

/// A correction. The update mask is applied to the decision as read under
/// the write's lock, inside the correction's transaction, so concurrent
/// corrections of different fields all land (an etag is optional).
pub struct CorrectionPatch {
    /// Computes the corrected content from the current one (the adapter's
    /// mask-and-validate step).
    pub apply: ApplyCorrection,
    /// Why (recorded in the event).
    pub reason: String,
    /// The fields changed.
    pub paths: Vec<String>,
}

impl std::fmt::Debug for CorrectionPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorrectionPatch")
            .field("reason", &self.reason)
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

/// When a publication happened, as far as anyone knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Published {
    /// Now: publication through gongshi.
    Now,
    /// On this day (imported history with its 公示日期).
    On(NaiveDate),
    /// Unknown (imported history without one).
    Unknown,
}

/// Provenance added to the event of an act done for another reason than an
/// API call (e.g. "historical import from FILE row N").
#[derive(Debug, Clone)]
pub(super) struct EventNote {
    /// Appended to the event's summary in parentheses.
    pub summary: String,
    /// Merged into the event's details.
    pub details: serde_json::Map<String, serde_json::Value>,
}

fn annotate(summary: String, note: Option<&EventNote>) -> String {
    match note {
        Some(n) => format!("{summary} ({})", n.summary),
        None => summary,
    }
}

fn with_note(mut details: serde_json::Value, note: Option<&EventNote>) -> serde_json::Value {
    if let (Some(n), Some(map)) = (note, details.as_object_mut()) {
        map.extend(n.details.clone());
    }
    details
}

/// One record whose sensitive fields a response shows: the decision whose
/// 全过程记录 gets the `SENSITIVE_DATA_READ` event, the resource shown (a
/// decision, a repair application, a notice bundle) and which fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SensitiveRead {
    /// The decision the record belongs to.
    pub decision_id: String,
    /// Resource name of what was shown.
    pub record: String,
    /// The sensitive fields it showed (names only, never values).
    pub fields: Vec<&'static str>,
}

impl SensitiveRead {
    /// The read of a decision, if it holds sensitive fields.
    pub fn of_decision(row: &DecisionRow) -> Option<SensitiveRead> {
        let fields = sensitive_fields(&row.doc);
        (!fields.is_empty()).then(|| SensitiveRead {
            decision_id: row.id.clone(),
            record: decision_name(&row.id),
            fields,
        })
    }
}

fn decision_name(id: &str) -> String {
    format!("penaltyDecisions/{id}")
}

fn invalid_transition(row: &DecisionRow, action: &str) -> AppError {
    AppError::precondition(
        "INVALID_STATE_TRANSITION",
        &decision_name(&row.id),
        format!("cannot {action} a decision in state {}", row.state),
    )
}

impl App {
    /// Whether a decision is major by the client's flag or the configured rules.
    pub fn is_major(&self, doc: &DecisionDoc) -> bool {
        self.major_flag(doc) || self.major_by_rules(doc)
    }

    /// Whether the configured rules alone make a decision major.
    fn major_by_rules(&self, doc: &DecisionDoc) -> bool {
        doc.fine_fen >= self.major.fine_threshold_fen || doc.penalty_kinds.iter().any(|k| self.major.kinds.contains(k))
    }

    /// The client's own `major` flag. A decision stored before the flag was
    /// kept apart is taken to have been flagged when the rules do not
    /// explain its `major`.
    fn major_flag(&self, doc: &DecisionDoc) -> bool {
        doc.major_flag.unwrap_or_else(|| doc.major && !self.major_by_rules(doc))
    }

    /// Records a decision. Idempotent on (caller key, `request_id`). With
    /// `shown_via` (`None`: shown to no one), the response of that RPC shows
    /// the caller the decision's sensitive fields: the read is recorded in
    /// the same transaction (a replayed request's too), so no response
    /// carrying them goes out without its `SENSITIVE_DATA_READ` event.
    pub async fn create_decision(
        &self,
        caller: &Caller,
        request_id: &str,
        mut doc: DecisionDoc,
        shown_via: Option<&str>,
    ) -> AppResult<DecisionRow> {
        doc.major = self.is_major(&doc);
        let now = self.now_micros();
        let request_key = (!request_id.is_empty()).then(|| format!("{}:{}", caller.key_id, request_id));
        let mut tx = self.store.begin().await?;
        if let Some(k) = &request_key
            && let Some(existing) = tx.decision_by_request_key(k).await?
        {
            return self.replay_shown(tx, caller, existing, shown_via, now).await;
        }
        let row = DecisionRow::recorded(new_id(), doc, caller.actor(), now);
        if !tx.insert_decision(&row, request_key.as_deref()).await? {
            if let Some(k) = &request_key
                && let Some(existing) = tx.decision_by_request_key(k).await?
            {
                return self.replay_shown(tx, caller, existing, shown_via, now).await;
            }
            return Err(AppError::AlreadyExists {
                reason: "DUPLICATE_DECISION_NUMBER",
                message: format!(
                    "decision number {} is already recorded at authority {}",
                    row.doc.decision_number, row.doc.authority.credit_code
                ),
            });
        }
        tx.append_event(&NewEvent {
            decision_id: row.id.clone(),
            kind: EventKind::Recorded,
            actor: caller.actor(),
            at: now,
            summary: format!("decision {} recorded", row.doc.decision_number),
            details: json!({"decision_number": row.doc.decision_number, "major": row.doc.major}),
            document_sha256: vec![],
        })
        .await?;
        self.audit_shown(&mut tx, caller, &row, shown_via, now).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// The answer to a replayed create: the first result, its read recorded.
    async fn replay_shown(
        &self,
        mut tx: Box<dyn Tx>,
        caller: &Caller,
        existing: DecisionRow,
        shown_via: Option<&str>,
        now: Micros,
    ) -> AppResult<DecisionRow> {
        if shown_via.is_some() {
            self.audit_shown(&mut tx, caller, &existing, shown_via, now).await?;
            tx.commit().await?;
        }
        Ok(existing)
    }

    /// A decision by id.
    pub async fn get_decision(&self, id: &str) -> AppResult<DecisionRow> {
        self.store
            .get_decision(id)
            .await?
            .ok_or_else(|| AppError::NotFound(decision_name(id)))
    }

    async fn locked_decision(&self, tx: &mut Box<dyn Tx>, id: &str, etag_given: &str) -> AppResult<DecisionRow> {
        let row = tx
            .decision_for_update(id)
            .await?
            .ok_or_else(|| AppError::NotFound(decision_name(id)))?;
        check_etag(row.version, etag_given)?;
        Ok(row)
    }

    /// Records a legal review (重大执法决定法制审核). The reviewer must not be
    /// the officer who recorded the decision.
    ///
    /// `shown_via` names the RPC whose response shows the result to the
    /// caller: that read is recorded in the same transaction (see
    /// [`App::create_decision`]); `None` when it is shown to no one.
    pub async fn review_decision(
        &self,
        caller: &Caller,
        id: &str,
        etag_given: &str,
        input: ReviewInput,
        shown_via: Option<&str>,
    ) -> AppResult<DecisionRow> {
        if input.opinion == ReviewOpinion::Approve {
            let c = &input.checklist;
            let mut v = Vec::new();
            let mut need = |ok: bool, field: &str, what: &str| {
                if !ok {
                    v.push(FieldViolation {
                        field: format!("checklist.{field}"),
                        description: format!("an approving review must confirm {what}"),
                    });
                }
            };
            need(
                c.subject_and_powers_ok,
                "subject_and_powers_ok",
                "the subject and powers",
            );
            need(c.procedure_ok, "procedure_ok", "the procedure");
            need(
                c.facts_and_evidence_ok,
                "facts_and_evidence_ok",
                "the facts and evidence",
            );
            need(
                c.law_and_discretion_ok,
                "law_and_discretion_ok",
                "the application of law and discretion",
            );
            need(
                c.documents_complete,
                "documents_complete",
                "that the documents are complete",
            );
            if c.crime_transfer_needed {
                v.push(FieldViolation {
                    field: "checklist.crime_transfer_needed".into(),
                    description: "a case to be transferred to the judiciary cannot be approved for publication".into(),
                });
            }
            if !v.is_empty() {
                return Err(AppError::Invalid {
                    reason: "INCOMPLETE_CHECKLIST",
                    message: "the review checklist does not support approval".into(),
                    violations: v,
                });
            }
        }
        let mut tx = self.store.begin().await?;
        let mut row = self.locked_decision(&mut tx, id, etag_given).await?;
        if row.meta.recorded_by.key_id == caller.key_id {
            return Err(AppError::PermissionDenied {
                reason: "REVIEWER_IS_RECORDER",
                message: "the legal reviewer must not be the officer who recorded the decision".into(),
            });
        }
        // Before publication, or a published decision's correction that made
        // it major and waits for the review of its corrected version.
        let awaiting = row.state == DecisionState::Published && row.meta.correction_awaiting_review.is_some();
        if row.state != DecisionState::Recorded && !awaiting {
            return Err(invalid_transition(&row, "review"));
        }
        let now = self.now_micros();
        row.meta.review = Some(LegalReview {
            opinion: input.opinion,
            checklist: input.checklist.clone(),
            comment: input.comment.clone(),
            reviewer: caller.actor(),
            at: now,
            decision_version: row.version,
        });
        row.version += 1;
        row.update_time = now;
        tx.update_decision(&row).await?;
        tx.append_event(&NewEvent {
            decision_id: row.id.clone(),
            kind: EventKind::LegalReviewed,
            actor: caller.actor(),
            at: now,
            summary: format!("legal review: {}", input.opinion),
            details: json!({"opinion": input.opinion, "checklist": input.checklist, "comment": input.comment}),
            document_sha256: vec![],
        })
        .await?;
        self.audit_shown(&mut tx, caller, &row, shown_via, now).await?;
        tx.commit().await?;
        Ok(row)
    }

    pub(super) fn periods(&self, doc: &DecisionDoc) -> AppResult<PublicationDecision> {
        self.policy
            .decide(&PolicyInput {
                decided_on: doc.decided_on,
                severity: doc.severity,
                sector: doc.sector,
                procedure: doc.procedure,
                penalty_kinds: doc.penalty_kinds.clone(),
                party_kind: doc.party.kind,
            })
            .map_err(|e| AppError::invalid_field("NO_RULE_SET", "penalty_decision.decided_on", e.to_string()))
    }

    /// Publishes a decision by the policy: a disclosure with a `PUBLISHED`
    /// change, or `NOT_PUBLISHED` naming the rule that excluded it.
    ///
    /// `shown_via` names the RPC whose response shows the result to the
    /// caller: that read is recorded in the same transaction (see
    /// [`App::create_decision`]); `None` when it is shown to no one.
    pub async fn publish_decision(
        &self,
        caller: &Caller,
        id: &str,
        etag_given: &str,
        shown_via: Option<&str>,
    ) -> AppResult<DecisionRow> {
        let mut tx = self.store.begin().await?;
        let row = self.locked_decision(&mut tx, id, etag_given).await?;
        if row.state == DecisionState::Published
            && let Some(version) = row.meta.correction_awaiting_review
        {
            return self
                .publish_reviewed_correction(tx, caller, row, version, shown_via)
                .await;
        }
        if row.state != DecisionState::Recorded {
            return Err(invalid_transition(&row, "publish"));
        }
        if row.doc.major && row.meta.review.as_ref().map(|r| r.opinion) != Some(ReviewOpinion::Approve) {
            return Err(AppError::precondition(
                "LEGAL_REVIEW_REQUIRED",
                &decision_name(&row.id),
                "a major decision needs an approving legal review before publication (行政处罚法 Art. 58)",
            ));
        }
        // Publication changes no content, so the read is recorded before it:
        // the feed entry must stay the last write of the transaction.
        self.audit_shown(&mut tx, caller, &row, shown_via, self.now_micros())
            .await?;
        let (row, fed) = self
            .publish_in_tx(&mut tx, &caller.actor(), row, None, Published::Now)
            .await?;
        self.commit_fed(tx, fed).await?;
        Ok(row)
    }

    /// The publication itself, shared by [`App::publish_decision`] and the
    /// historical import: applies the policy to a decision in state RECORDED
    /// whose checks have passed (locked or just inserted in `tx`) and writes
    /// the decision, its disclosure, event and feed entry. The caller
    /// commits with [`App::commit_fed`], passing the returned flag that says
    /// whether a feed entry was written. `note` adds provenance to the event; `published`
    /// says when the publication happened (history: on its 公示日期, or on
    /// an unknown day).
    pub(super) async fn publish_in_tx(
        &self,
        tx: &mut Box<dyn Tx>,
        actor: &Actor,
        mut row: DecisionRow,
        note: Option<&EventNote>,
        published: Published,
    ) -> AppResult<(DecisionRow, bool)> {
        let now = self.now_micros();
        let today = self.clock.today_cst();
        row.version += 1;
        row.update_time = now;
        match self.periods(&row.doc)? {
            PublicationDecision::NotPublished { rule, citation } => {
                row.state = DecisionState::NotPublished;
                row.meta.exclusion = Some(Exclusion {
                    rule: rule.clone(),
                    citation: citation.clone(),
                });
                tx.update_decision(&row).await?;
                tx.append_event(&NewEvent {
                    decision_id: row.id.clone(),
                    kind: EventKind::NotPublished,
                    actor: actor.clone(),
                    at: now,
                    summary: annotate(format!("not published: {rule} ({citation})"), note),
                    details: with_note(json!({"rule": rule, "citation": citation}), note),
                    document_sha256: vec![],
                })
                .await?;
                Ok((row, false))
            }
            PublicationDecision::Publish(p) => {
                let dates = PublicDates::from(&p);
                let content = PublicRecord::from_decision(&row.doc, &dates);
                let sha = content.content_sha256();
                // Entered after its maximum period ended (history being
                // migrated): recorded as expired at once, never shared.
                let already_over = p.publicity_ends_on < today;
                let published_at = match published {
                    Published::Now => Some(now),
                    Published::On(day) => Some(cst_midnight(day).timestamp_micros()),
                    Published::Unknown => None,
                };
                // History says when it was published: its 公示日期, or that
                // nobody recorded one.
                let history_note;
                let note = match (published, note) {
                    (Published::Now, n) => n,
                    (p, n) => {
                        let on = match p {
                            Published::On(day) => day.to_string(),
                            _ => "unknown".to_string(),
                        };
                        let mut merged = n.cloned().unwrap_or_else(|| EventNote {
                            summary: format!("published on {on}"),
                            details: serde_json::Map::new(),
                        });
                        merged.details.insert("published_on".into(), json!(on));
                        history_note = merged;
                        Some(&history_note)
                    }
                };
                let disclosure = DisclosureRow {
                    id: new_id(),
                    decision_id: row.id.clone(),
                    state: if already_over {
                        DisclosureState::Expired
                    } else {
                        DisclosureState::Active
                    },
                    version: 1,
                    content,
                    content_sha256: sha.clone(),
                    repair_pending: false,
                    published_at,
                    terminated_at: already_over.then_some(now),
                    termination_reason: already_over.then_some(TerminationReason::Expired),
                    update_time: now,
                };
                row.state = DecisionState::Published;
                row.disclosure_id = Some(disclosure.id.clone());
                row.meta.publish_time = published_at;
                row.meta.publish_date_unknown = published == Published::Unknown;
                tx.update_decision(&row).await?;
                tx.insert_disclosure(&disclosure).await?;
                tx.append_event(&NewEvent {
                    decision_id: row.id.clone(),
                    kind: if already_over {
                        EventKind::DisclosureExpired
                    } else {
                        EventKind::Published
                    },
                    actor: actor.clone(),
                    at: now,
                    summary: annotate(
                        if already_over {
                            format!(
                                "publicity already ended {}: recorded as expired, not shared",
                                p.publicity_ends_on
                            )
                        } else {
                            format!("published under {} until {}", p.rule_set, p.publicity_ends_on)
                        },
                        note,
                    ),
                    details: with_note(
                        json!({
                            "disclosure": format!("disclosures/{}", disclosure.id),
                            "rule_set": p.rule_set,
                            "citation": p.citation,
                            "min_ends_on": p.min_ends_on.to_string(),
                            "repair_eligible_on": p.repair_eligible_on.to_string(),
                            "publicity_ends_on": p.publicity_ends_on.to_string(),
                        }),
                        note,
                    ),
                    document_sha256: vec![sha.clone()],
                })
                .await?;
                if !already_over {
                    tx.append_change(&disclosure.change(ChangeKind::Published, None, now))
                        .await?;
                }
                Ok((row, !already_over))
            }
        }
    }

    /// Corrects a decision. A published one gets a new disclosure version and
    /// a `CORRECTED` change; its periods are recomputed by the policy, and
    /// `major` by the same rule as at creation. A correction that makes a
    /// published decision major is stored but not published: it waits for
    /// an approving legal review of the corrected version, then
    /// `PublishPenaltyDecision` publishes it (行政处罚法 Art. 58). The
    /// correction is applied to the decision as read under the write's lock,
    /// so concurrent corrections of different fields all land.
    ///
    /// `shown_via` names the RPC whose response shows the result to the
    /// caller: that read is recorded in the same transaction (see
    /// [`App::create_decision`]); `None` when it is shown to no one.
    pub async fn correct_decision(
        &self,
        caller: &Caller,
        id: &str,
        etag_given: &str,
        patch: CorrectionPatch,
        shown_via: Option<&str>,
    ) -> AppResult<DecisionRow> {
        let mut tx = self.store.begin().await?;
        let mut row = self.locked_decision(&mut tx, id, etag_given).await?;
        if row.state == DecisionState::Withdrawn {
            return Err(invalid_transition(&row, "correct"));
        }
        let CorrectionPatch { apply, reason, paths } = patch;
        let old = row.doc.clone();
        let mut doc = apply(&old)?;
        let corrects = |field: &str| {
            paths
                .iter()
                .any(|p| p == field || p.strip_prefix(field).is_some_and(|rest| rest.starts_with('.')))
        };
        // `major` is recomputed from the client's flag (kept unless corrected)
        // and the rules, as at creation.
        if !corrects("major") {
            doc.major_flag = Some(self.major_flag(&old));
        }
        doc.major = self.is_major(&doc);
        // The data source follows the authority unless it was given on its own.
        if !corrects("data_source") && old.data_source == old.authority {
            doc.data_source = doc.authority.clone();
        }
        let now = self.now_micros();
        // A correction that makes a published decision major (or corrects one
        // that already waits for review) waits for an approving legal review.
        let hold =
            row.disclosure_id.is_some() && doc.major && (!old.major || row.meta.correction_awaiting_review.is_some());
        let mut change = None;
        if let Some(did) = row.disclosure_id.clone()
            && let Some(mut d) = tx.disclosure_for_update(&did).await?
        {
            let content = self.corrected_content(&row.id, &doc)?;
            if !hold {
                change = Self::republish(&mut tx, &mut d, content, now).await?;
            }
        }
        row.doc = doc;
        row.version += 1;
        row.update_time = now;
        row.meta.correction_awaiting_review = hold.then_some(row.version);
        tx.update_decision(&row).await?;
        let mut summary = format!("corrected: {}", paths.join(", "));
        if hold {
            summary.push_str(if old.major {
                "; the decision waits for an approving legal review of this corrected version before the \
                 correction is published (行政处罚法 Art. 58)"
            } else {
                "; the correction makes the decision major (重大执法决定): it is published after an approving \
                 legal review of the corrected version (行政处罚法 Art. 58)"
            });
        }
        tx.append_event(&NewEvent {
            decision_id: row.id.clone(),
            kind: EventKind::Corrected,
            actor: caller.actor(),
            at: now,
            summary,
            details: json!({
                "paths": paths, "reason": reason, "major": row.doc.major, "was_major": old.major,
                "awaiting_legal_review": hold,
            }),
            document_sha256: change.iter().map(|c| c.content_sha256.clone()).collect(),
        })
        .await?;
        self.audit_shown(&mut tx, caller, &row, shown_via, now).await?;
        self.commit_with_change(tx, change).await?;
        Ok(row)
    }

    /// The public content of a published decision as corrected, its periods
    /// recomputed by the policy; refused when the policy would no longer
    /// publish it.
    fn corrected_content(&self, decision_id: &str, doc: &DecisionDoc) -> AppResult<PublicRecord> {
        let p = match self.periods(doc)? {
            PublicationDecision::Publish(p) => p,
            PublicationDecision::NotPublished { rule, .. } => {
                return Err(AppError::precondition(
                    "CORRECTION_REQUIRES_WITHDRAWAL",
                    &decision_name(decision_id),
                    format!("as corrected the decision would not be published ({rule}); withdraw it instead"),
                ));
            }
        };
        let dates = PublicDates::from(&p);
        Ok(PublicRecord::from_decision(doc, &dates))
    }

    /// Stores corrected content as the disclosure's next version (when it
    /// differs) and returns the `CORRECTED` change to append last, if the
    /// disclosure is active.
    async fn republish(
        tx: &mut Box<dyn Tx>,
        d: &mut DisclosureRow,
        content: PublicRecord,
        now: Micros,
    ) -> AppResult<Option<NewChange>> {
        let sha = content.content_sha256();
        if sha == d.content_sha256 {
            return Ok(None);
        }
        d.version += 1;
        d.content = content;
        d.content_sha256 = sha.clone();
        d.update_time = now;
        tx.update_disclosure(d, true).await?;
        Ok((d.state == DisclosureState::Active).then(|| d.change(ChangeKind::Corrected, None, now)))
    }

    /// Publishes a correction that made the decision major, once a legal
    /// review of the corrected version (row version `version` or later)
    /// approved it; `LEGAL_REVIEW_REQUIRED` before.
    async fn publish_reviewed_correction(
        &self,
        mut tx: Box<dyn Tx>,
        caller: &Caller,
        mut row: DecisionRow,
        version: i64,
        shown_via: Option<&str>,
    ) -> AppResult<DecisionRow> {
        let approved = row
            .meta
            .review
            .as_ref()
            .is_some_and(|r| r.opinion == ReviewOpinion::Approve && r.decision_version >= version);
        if !approved {
            return Err(AppError::precondition(
                "LEGAL_REVIEW_REQUIRED",
                &decision_name(&row.id),
                "a correction made the decision major: it needs an approving legal review of the corrected version \
                 before it is published (行政处罚法 Art. 58)",
            ));
        }
        let now = self.now_micros();
        self.audit_shown(&mut tx, caller, &row, shown_via, now).await?;
        let mut change = None;
        if let Some(did) = row.disclosure_id.clone()
            && let Some(mut d) = tx.disclosure_for_update(&did).await?
        {
            let content = self.corrected_content(&row.id, &row.doc)?;
            change = Self::republish(&mut tx, &mut d, content, now).await?;
        }
        row.meta.correction_awaiting_review = None;
        row.version += 1;
        row.update_time = now;
        tx.update_decision(&row).await?;
        tx.append_event(&NewEvent {
            decision_id: row.id.clone(),
            kind: EventKind::Corrected,
            actor: caller.actor(),
            at: now,
            summary: "correction published after an approving legal review of the corrected version".into(),
            details: json!({"awaiting_legal_review": false, "reviewed_version": row.meta.review.as_ref().map(|r| r.decision_version)}),
            document_sha256: change.iter().map(|c| c.content_sha256.clone()).collect(),
        })
        .await?;
        self.commit_with_change(tx, change).await?;
        Ok(row)
    }

    /// Withdraws a decision (行政处罚法 Art. 48) and terminates its disclosure
    /// with the public reason. A repair application open for the disclosure
    /// is closed in the same transaction (修复终止, `DISCLOSURE_WITHDRAWN`).
    ///
    /// `shown_via` names the RPC whose response shows the result to the
    /// caller: that read is recorded in the same transaction (see
    /// [`App::create_decision`]); `None` when it is shown to no one.
    #[allow(clippy::too_many_arguments)]
    pub async fn withdraw_decision(
        &self,
        caller: &Caller,
        id: &str,
        etag_given: &str,
        legal_event: WithdrawalEvent,
        legal_event_on: Option<NaiveDate>,
        public_reason: &str,
        shown_via: Option<&str>,
    ) -> AppResult<DecisionRow> {
        let today = self.clock.today_cst();
        let legal_event_on = legal_event_on.unwrap_or(today);
        if legal_event_on > today {
            return Err(AppError::invalid_field(
                "INVALID_DATE",
                "legal_event_on",
                "must not be in the future",
            ));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = self
                .withdraw_attempt(
                    caller,
                    id,
                    etag_given,
                    legal_event,
                    legal_event_on,
                    public_reason,
                    shown_via,
                )
                .await;
            match r {
                Err(AppError::Conflict) if attempt < super::repair_close::ATTEMPTS => continue,
                r => return r,
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn withdraw_attempt(
        &self,
        caller: &Caller,
        id: &str,
        etag_given: &str,
        legal_event: WithdrawalEvent,
        legal_event_on: NaiveDate,
        public_reason: &str,
        shown_via: Option<&str>,
    ) -> AppResult<DecisionRow> {
        // Lock order: an open repair application, then the decision, then its
        // disclosure. A decision's disclosure never changes once it has one,
        // so it is looked up before the transaction.
        let disclosure_id = self.get_decision(id).await?.disclosure_id;
        let mut tx = self.store.begin().await?;
        let open = match &disclosure_id {
            Some(did) => self.lock_open_repair(&mut tx, did).await?,
            None => None,
        };
        let mut row = self.locked_decision(&mut tx, id, etag_given).await?;
        if row.state == DecisionState::Withdrawn {
            return Err(invalid_transition(&row, "withdraw"));
        }
        if row.disclosure_id != disclosure_id {
            return Err(AppError::Conflict); // published meanwhile: look again
        }
        let now = self.now_micros();
        let mut change = None;
        let mut closed = None;
        if let Some(did) = row.disclosure_id.clone()
            && let Some(mut d) = tx.disclosure_for_update(&did).await?
            && d.state == DisclosureState::Active
        {
            // 修复终止: an application still open has nothing left to repair.
            closed = self
                .close_repair_in_tx(
                    &mut tx,
                    open,
                    &mut d,
                    ClosureCause::DisclosureWithdrawn,
                    &Actor::system("withdrawal"),
                    now,
                )
                .await?;
            d.terminate(DisclosureState::Withdrawn, TerminationReason::Withdrawn, now);
            tx.update_disclosure(&d, false).await?;
            change = Some(d.change(ChangeKind::Terminated, Some(public_reason.to_string()), now));
        }
        row.state = DecisionState::Withdrawn;
        row.meta.withdrawal = Some(Withdrawal {
            legal_event,
            public_reason: public_reason.to_string(),
            at: now,
            legal_event_on: Some(legal_event_on),
        });
        row.version += 1;
        row.update_time = now;
        tx.update_decision(&row).await?;
        let mut details = json!({"legal_event": legal_event, "public_reason": public_reason});
        if let (Some(name), Some(m)) = (&closed, details.as_object_mut()) {
            m.insert("closed_repair_application".into(), json!(name));
        }
        tx.append_event(&NewEvent {
            decision_id: row.id.clone(),
            kind: EventKind::Withdrawn,
            actor: caller.actor(),
            at: now,
            summary: match &closed {
                Some(name) => format!(
                    "withdrawn ({legal_event}): {public_reason}; open repair application {name} closed ({})",
                    ClosureCause::DisclosureWithdrawn
                ),
                None => format!("withdrawn ({legal_event}): {public_reason}"),
            },
            details,
            document_sha256: vec![],
        })
        .await?;
        self.audit_shown(&mut tx, caller, &row, shown_via, now).await?;
        self.commit_with_change(tx, change).await?;
        Ok(row)
    }

    /// Records that the penalty was carried out.
    ///
    /// `shown_via` names the RPC whose response shows the result to the
    /// caller: that read is recorded in the same transaction (see
    /// [`App::create_decision`]); `None` when it is shown to no one.
    pub async fn record_fulfillment(
        &self,
        caller: &Caller,
        id: &str,
        etag_given: &str,
        fulfilled_on: NaiveDate,
        evidence: &str,
        shown_via: Option<&str>,
    ) -> AppResult<DecisionRow> {
        let mut tx = self.store.begin().await?;
        let mut row = self.locked_decision(&mut tx, id, etag_given).await?;
        if row.state == DecisionState::Withdrawn {
            return Err(invalid_transition(&row, "record fulfilment of"));
        }
        if fulfilled_on < row.doc.decided_on {
            return Err(AppError::invalid_field(
                "INVALID_DATE",
                "fulfilled_on",
                format!(
                    "a penalty cannot be fulfilled before it was decided ({})",
                    row.doc.decided_on
                ),
            ));
        }
        if fulfilled_on > self.clock.today_cst() {
            return Err(AppError::invalid_field(
                "INVALID_DATE",
                "fulfilled_on",
                "must not be in the future",
            ));
        }
        let now = self.now_micros();
        row.meta.fulfillment = Some(Fulfillment {
            fulfilled_on,
            evidence: evidence.to_string(),
            recorded_by: caller.actor(),
            at: now,
        });
        row.version += 1;
        row.update_time = now;
        tx.update_decision(&row).await?;
        tx.append_event(&NewEvent {
            decision_id: row.id.clone(),
            kind: EventKind::FulfillmentRecorded,
            actor: caller.actor(),
            at: now,
            summary: format!("penalty fulfilled on {fulfilled_on}"),
            details: json!({"fulfilled_on": fulfilled_on.to_string(), "evidence": evidence}),
            document_sha256: vec![],
        })
        .await?;
        self.audit_shown(&mut tx, caller, &row, shown_via, now).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Records that staff were shown the sensitive fields of these decisions
    /// (those without any are skipped): one `SENSITIVE_DATA_READ` event each,
    /// committed before the caller may send the response.
    pub async fn audit_sensitive_read(&self, caller: &Caller, rows: &[DecisionRow], via: &str) -> AppResult<()> {
        let reads: Vec<SensitiveRead> = rows.iter().filter_map(SensitiveRead::of_decision).collect();
        self.audit_reads(caller, &reads, via).await
    }

    /// Records reads in a transaction of their own, committed before the
    /// response that shows them may go out.
    pub(super) async fn audit_reads(&self, caller: &Caller, reads: &[SensitiveRead], via: &str) -> AppResult<()> {
        if reads.is_empty() {
            return Ok(());
        }
        let now = self.now_micros();
        let mut tx = self.store.begin().await?;
        self.audit_in_tx(&mut tx, caller, reads, via, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends one `SENSITIVE_DATA_READ` event per read to the decisions'
    /// 全过程记录, inside `tx`: who (key id, label, role, on-behalf-of), when,
    /// which record and fields, and through which RPC. Never the values.
    pub(super) async fn audit_in_tx(
        &self,
        tx: &mut Box<dyn Tx>,
        caller: &Caller,
        reads: &[SensitiveRead],
        via: &str,
        now: Micros,
    ) -> AppResult<()> {
        for r in reads {
            tx.append_event(&NewEvent {
                decision_id: r.decision_id.clone(),
                kind: EventKind::SensitiveDataRead,
                actor: caller.actor(),
                at: now,
                summary: format!("sensitive fields of {} read via {via}", r.record),
                details: json!({"via": via, "record": r.record, "fields": r.fields}),
                document_sha256: vec![],
            })
            .await?;
        }
        Ok(())
    }

    /// Records, inside `tx`, that the response of `shown_via` (if any) shows
    /// the caller this decision's sensitive fields (if it has any).
    async fn audit_shown(
        &self,
        tx: &mut Box<dyn Tx>,
        caller: &Caller,
        row: &DecisionRow,
        shown_via: Option<&str>,
        now: Micros,
    ) -> AppResult<()> {
        if let Some(via) = shown_via
            && let Some(read) = SensitiveRead::of_decision(row)
        {
            self.audit_in_tx(tx, caller, &[read], via, now).await?;
        }
        Ok(())
    }
}

/// Whether a decision holds data only some roles may see.
pub fn has_sensitive(doc: &DecisionDoc) -> bool {
    !sensitive_fields(doc).is_empty()
}

/// The fields of a decision only some roles may see (API.md): ID numbers,
/// and a natural person's address.
pub(super) fn sensitive_fields(doc: &DecisionDoc) -> Vec<&'static str> {
    let p = &doc.party;
    let mut out = Vec::new();
    if !p.id_number.is_empty() {
        out.push("party.id_number");
    }
    if !p.legal_representative.id_number.is_empty() {
        out.push("party.legal_representative.id_number");
    }
    if natural_person_address(doc) {
        out.push("party.address");
    }
    out
}

/// Whether the decision holds a natural person's address.
pub(super) fn natural_person_address(doc: &DecisionDoc) -> bool {
    doc.party.kind == PartyKind::NaturalPerson && !doc.party.address.is_empty()
}
