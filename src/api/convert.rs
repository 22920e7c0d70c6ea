//! Protobuf ⇄ domain conversion, with validation of every input field.
//!
//! Input is parsed into domain types (parse, don't validate): a credit code or
//! ID number with a wrong check character never gets past this module. Every
//! bad field is reported, not just the first.

use chrono::{DateTime, NaiveDate, Utc};

use super::pb;
use crate::app::public::DisclosureView;
use crate::app::{AppError, FieldViolation};
use crate::domain::ids::{CreditCode, IdNumber};
use crate::domain::lifecycle::Actor;
use crate::domain::policy::{PartyKind, PenaltyKind, Procedure, Sector, Severity};
use crate::domain::record::{DecisionDoc, IdType, LegalRepresentative, Org, Party, limits};
use crate::store::{DecisionRow, DisclosureRow};

/// Collects field violations; the first one's reason becomes the ErrorInfo reason.
#[derive(Default)]
pub struct Violations {
    items: Vec<(&'static str, FieldViolation)>,
}

impl Violations {
    /// Adds one.
    pub fn add(&mut self, reason: &'static str, field: impl Into<String>, description: impl Into<String>) {
        self.items.push((
            reason,
            FieldViolation {
                field: field.into(),
                description: description.into(),
            },
        ));
    }

    /// Whether none were found.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Ok, or INVALID_ARGUMENT with all violations.
    pub fn finish(self) -> Result<(), AppError> {
        let Some((reason, first)) = self.items.first() else {
            return Ok(());
        };
        let message = if self.items.len() == 1 {
            format!("invalid {}: {}", first.field, first.description)
        } else {
            format!(
                "{} invalid fields, first {}: {}",
                self.items.len(),
                first.field,
                first.description
            )
        };
        Err(AppError::Invalid {
            reason,
            message,
            violations: self.items.into_iter().map(|(_, v)| v).collect(),
        })
    }

    /// A bounded free-text field; `required` refuses empty.
    pub fn text(&mut self, field: &str, value: &str, max: usize, required: bool) -> String {
        let v = value.trim();
        if required && v.is_empty() {
            self.add("FIELD_REQUIRED", field, "is required");
        } else if v.chars().count() > max {
            self.add("FIELD_TOO_LONG", field, format!("is longer than {max} characters"));
        } else if v.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
            self.add("INVALID_CHARACTERS", field, "contains control characters");
        }
        v.to_string()
    }

    /// A credit code; empty allowed unless `required`.
    pub fn credit_code(&mut self, field: &str, value: &str, required: bool) -> String {
        let v = value.trim();
        if v.is_empty() {
            if required {
                self.add("FIELD_REQUIRED", field, "a unified social credit code is required");
            }
            return String::new();
        }
        match CreditCode::parse(v) {
            Ok(c) => c.as_str().to_string(),
            Err(e) => {
                self.add("INVALID_CREDIT_CODE", field, e.to_string());
                String::new()
            }
        }
    }

    /// An ISO date, exactly `YYYY-MM-DD`; empty gives None.
    pub fn date(&mut self, field: &str, value: &str, required: bool) -> Option<NaiveDate> {
        let v = value.trim();
        if v.is_empty() {
            if required {
                self.add("FIELD_REQUIRED", field, "a date YYYY-MM-DD is required");
            }
            return None;
        }
        // chrono's %Y also takes a sign or a fifth digit ("-024-03-05" is year -24).
        let iso = v.len() == 10
            && v.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) if iso => Some(d),
            _ => {
                self.add("INVALID_DATE", field, "must be a date YYYY-MM-DD");
                None
            }
        }
    }

    fn id_document(&mut self, field_prefix: &str, id_type: i32, number: &str) -> (IdType, String) {
        let ty = match pb::IdType::try_from(id_type) {
            Ok(pb::IdType::Unspecified) => IdType::None,
            Ok(pb::IdType::ResidentIdCard) => IdType::ResidentIdCard,
            Ok(pb::IdType::Passport) => IdType::Passport,
            Ok(pb::IdType::HkMacaoPermit) => IdType::HkMacaoPermit,
            Ok(pb::IdType::TaiwanPermit) => IdType::TaiwanPermit,
            Ok(pb::IdType::ForeignPermanentResident) => IdType::ForeignPermanentResident,
            Ok(pb::IdType::Other) => IdType::Other,
            Err(_) => {
                self.add("INVALID_ENUM", format!("{field_prefix}id_type"), "unknown value");
                IdType::None
            }
        };
        let n = number.trim();
        if n.is_empty() {
            return (ty, String::new());
        }
        // A number without a type is taken to be a resident ID card number.
        let ty = if ty == IdType::None { IdType::ResidentIdCard } else { ty };
        if ty == IdType::ResidentIdCard {
            match IdNumber::parse(n) {
                Ok(id) => (ty, id.as_str().to_string()),
                Err(e) => {
                    self.add("INVALID_ID_NUMBER", format!("{field_prefix}id_number"), e.to_string());
                    (ty, String::new())
                }
            }
        } else {
            let v = self.text(&format!("{field_prefix}id_number"), n, limits::CODE, false);
            (ty, v)
        }
    }
}

/// Domain enum from a protobuf enum value via its name: `PENALTY_KIND_FINE` →
/// `PenaltyKind::Fine`. `None` for 0 (unspecified) or unknown values.
macro_rules! enum_in {
    ($pb:ty, $prefix:literal, $dom:ty, $v:expr) => {
        <$pb>::try_from($v)
            .ok()
            .and_then(|e| e.as_str_name().strip_prefix($prefix).and_then(<$dom>::parse))
    };
}

pub(crate) use crate::wire::enum_out;
pub use crate::wire::{record_out, ts};
pub(crate) use enum_in;

/// Parses and validates a decision's content. `prefix` names the message in
/// field paths (e.g. `penalty_decision.`). `today` refuses future dates.
pub fn decision_doc(p: &pb::PenaltyDecision, prefix: &str, today: NaiveDate) -> Result<DecisionDoc, AppError> {
    let mut v = Violations::default();
    let f = |name: &str| format!("{prefix}{name}");
    let party_in = p.party.clone().unwrap_or_default();
    let kind = enum_in!(pb::PartyKind, "PARTY_KIND_", PartyKind, party_in.kind);
    if kind.is_none() {
        v.add(
            "FIELD_REQUIRED",
            f("party.kind"),
            "must be LEGAL_PERSON, INDIVIDUAL_BUSINESS or NATURAL_PERSON",
        );
    }
    let kind = kind.unwrap_or(PartyKind::LegalPerson);
    let rep_in = party_in.legal_representative.clone().unwrap_or_default();
    let (rep_type, rep_number) = v.id_document(&f("party.legal_representative."), rep_in.id_type, &rep_in.id_number);
    let (id_type, id_number) = v.id_document(&f("party."), party_in.id_type, &party_in.id_number);
    let party = Party {
        kind,
        name: v.text(&f("party.name"), &party_in.name, limits::NAME, true),
        credit_code: v.credit_code(
            &f("party.credit_code"),
            &party_in.credit_code,
            kind == PartyKind::LegalPerson,
        ),
        business_registration_number: v.text(
            &f("party.business_registration_number"),
            &party_in.business_registration_number,
            limits::CODE,
            false,
        ),
        organization_code: v.text(
            &f("party.organization_code"),
            &party_in.organization_code,
            limits::CODE,
            false,
        ),
        tax_registration_number: v.text(
            &f("party.tax_registration_number"),
            &party_in.tax_registration_number,
            limits::CODE,
            false,
        ),
        public_institution_certificate: v.text(
            &f("party.public_institution_certificate"),
            &party_in.public_institution_certificate,
            limits::CODE,
            false,
        ),
        social_organization_certificate: v.text(
            &f("party.social_organization_certificate"),
            &party_in.social_organization_certificate,
            limits::CODE,
            false,
        ),
        legal_representative: LegalRepresentative {
            name: v.text(&f("party.legal_representative.name"), &rep_in.name, limits::NAME, false),
            id_type: rep_type,
            id_number: rep_number,
        },
        id_type,
        id_number,
        address: v.text(&f("party.address"), &party_in.address, limits::ADDRESS, false),
    };

    let mut kinds = Vec::new();
    for (i, k) in p.penalty_kinds.iter().enumerate() {
        match enum_in!(pb::PenaltyKind, "PENALTY_KIND_", PenaltyKind, *k) {
            Some(k) if !kinds.contains(&k) => kinds.push(k),
            Some(_) => v.add("DUPLICATE_VALUE", f(&format!("penalty_kinds[{i}]")), "is listed twice"),
            None => v.add(
                "INVALID_ENUM",
                f(&format!("penalty_kinds[{i}]")),
                "must be one of the 14 categories of 行政处罚法 Art. 9",
            ),
        }
    }
    if p.penalty_kinds.is_empty() {
        v.add(
            "FIELD_REQUIRED",
            f("penalty_kinds"),
            "at least one penalty category is required",
        );
    }
    if p.fine_fen < 0 {
        v.add("INVALID_AMOUNT", f("fine_fen"), "must not be negative");
    }
    if p.confiscation_fen < 0 {
        v.add("INVALID_AMOUNT", f("confiscation_fen"), "must not be negative");
    }
    let has_fine = kinds.contains(&PenaltyKind::Fine);
    if has_fine && p.fine_fen == 0 {
        v.add("INVALID_AMOUNT", f("fine_fen"), "a FINE needs its amount in fen");
    }
    if !has_fine && p.fine_fen > 0 {
        v.add(
            "INVALID_AMOUNT",
            f("fine_fen"),
            "an amount is given but FINE is not among the penalty kinds",
        );
    }
    let procedure = enum_in!(pb::Procedure, "PROCEDURE_", Procedure, p.procedure);
    if procedure.is_none() {
        v.add("FIELD_REQUIRED", f("procedure"), "must be SIMPLE or ORDINARY");
    }
    let sector = enum_in!(pb::Sector, "SECTOR_", Sector, p.sector);
    if sector.is_none() {
        v.add(
            "FIELD_REQUIRED",
            f("sector"),
            "is required (OTHER when none of the listed sectors applies)",
        );
    }
    let severity = enum_in!(pb::Severity, "SEVERITY_", Severity, p.severity);
    if severity.is_none() {
        v.add("FIELD_REQUIRED", f("severity"), "must be MINOR, GENERAL or SERIOUS");
    }
    let decided_on = v.date(&f("decided_on"), &p.decided_on, true);
    if let Some(d) = decided_on
        && d > today
    {
        v.add(
            "INVALID_DATE",
            f("decided_on"),
            "must not be in the future (China Standard Time)",
        );
    }
    let effective_until = v.date(&f("effective_until"), &p.effective_until, false);
    if let (Some(d), Some(e)) = (decided_on, effective_until)
        && e < d
    {
        v.add("INVALID_DATE", f("effective_until"), "must not be before decided_on");
    }
    let auth_in = p.authority.clone().unwrap_or_default();
    let authority = Org {
        name: v.text(&f("authority.name"), &auth_in.name, limits::NAME, true),
        credit_code: v.credit_code(&f("authority.credit_code"), &auth_in.credit_code, true),
    };
    let src_in = p.data_source.clone().unwrap_or_default();
    let data_source = if src_in.name.trim().is_empty() && src_in.credit_code.trim().is_empty() {
        authority.clone() // the deciding authority is its own data source by default
    } else {
        Org {
            name: v.text(&f("data_source.name"), &src_in.name, limits::NAME, true),
            credit_code: v.credit_code(&f("data_source.credit_code"), &src_in.credit_code, true),
        }
    };
    let doc = DecisionDoc {
        decision_number: v.text(&f("decision_number"), &p.decision_number, limits::DECISION_NUMBER, true),
        party,
        violation_type: v.text(&f("violation_type"), &p.violation_type, limits::VIOLATION_TYPE, true),
        violation_facts: v.text(&f("violation_facts"), &p.violation_facts, limits::FACTS, true),
        legal_basis: v.text(&f("legal_basis"), &p.legal_basis, limits::LEGAL_BASIS, true),
        penalty_kinds: kinds,
        penalty_content: v.text(&f("penalty_content"), &p.penalty_content, limits::CONTENT, true),
        fine_fen: p.fine_fen,
        confiscation_fen: p.confiscation_fen,
        license_action: v.text(&f("license_action"), &p.license_action, limits::LICENSE_ACTION, false),
        procedure: procedure.unwrap_or(Procedure::Ordinary),
        sector: sector.unwrap_or(Sector::Other),
        severity: severity.unwrap_or(Severity::General),
        major: p.major,
        major_flag: Some(p.major),
        decided_on: decided_on.unwrap_or(today),
        effective_until,
        authority,
        data_source,
        remarks: v.text(&f("remarks"), &p.remarks, limits::REMARKS, false),
    };
    v.finish()?;
    Ok(doc)
}

/// A Timestamp as a UTC instant, if valid.
pub fn from_ts(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// An actor for responses.
pub fn actor(a: &Actor) -> pb::Actor {
    pb::Actor {
        key_id: a.key_id.clone(),
        label: a.label.clone(),
        role: a.role.as_str().to_string(),
        on_behalf_of: a.on_behalf_of.clone().unwrap_or_default(),
    }
}

fn id_type_out(t: IdType) -> i32 {
    (match t {
        IdType::None => pb::IdType::Unspecified,
        IdType::ResidentIdCard => pb::IdType::ResidentIdCard,
        IdType::Passport => pb::IdType::Passport,
        IdType::HkMacaoPermit => pb::IdType::HkMacaoPermit,
        IdType::TaiwanPermit => pb::IdType::TaiwanPermit,
        IdType::ForeignPermanentResident => pb::IdType::ForeignPermanentResident,
        IdType::Other => pb::IdType::Other,
    }) as i32
}

fn org(o: &Org) -> Option<pb::Organization> {
    Some(pb::Organization {
        name: o.name.clone(),
        credit_code: o.credit_code.clone(),
    })
}

/// A decision's content as protobuf. With `sensitive = false` the ID numbers
/// and a natural person's address are left empty.
pub fn doc_out(d: &DecisionDoc, sensitive: bool) -> pb::PenaltyDecision {
    let p = &d.party;
    let show_address = sensitive || p.kind != PartyKind::NaturalPerson;
    pb::PenaltyDecision {
        decision_number: d.decision_number.clone(),
        party: Some(pb::Party {
            kind: enum_out!(pb::PartyKind, "PARTY_KIND_", p.kind),
            name: p.name.clone(),
            credit_code: p.credit_code.clone(),
            business_registration_number: p.business_registration_number.clone(),
            organization_code: p.organization_code.clone(),
            tax_registration_number: p.tax_registration_number.clone(),
            public_institution_certificate: p.public_institution_certificate.clone(),
            social_organization_certificate: p.social_organization_certificate.clone(),
            legal_representative: Some(pb::LegalRepresentative {
                name: p.legal_representative.name.clone(),
                id_type: id_type_out(p.legal_representative.id_type),
                id_number: if sensitive {
                    p.legal_representative.id_number.clone()
                } else {
                    String::new()
                },
            }),
            id_type: id_type_out(p.id_type),
            id_number: if sensitive { p.id_number.clone() } else { String::new() },
            address: if show_address { p.address.clone() } else { String::new() },
        }),
        violation_type: d.violation_type.clone(),
        violation_facts: d.violation_facts.clone(),
        legal_basis: d.legal_basis.clone(),
        penalty_kinds: d
            .penalty_kinds
            .iter()
            .map(|k| enum_out!(pb::PenaltyKind, "PENALTY_KIND_", k))
            .collect(),
        penalty_content: d.penalty_content.clone(),
        fine_fen: d.fine_fen,
        confiscation_fen: d.confiscation_fen,
        license_action: d.license_action.clone(),
        procedure: enum_out!(pb::Procedure, "PROCEDURE_", d.procedure),
        sector: enum_out!(pb::Sector, "SECTOR_", d.sector),
        severity: enum_out!(pb::Severity, "SEVERITY_", d.severity),
        major: d.major,
        decided_on: d.decided_on.to_string(),
        effective_until: d.effective_until.map(|e| e.to_string()).unwrap_or_default(),
        authority: org(&d.authority),
        data_source: org(&d.data_source),
        remarks: d.remarks.clone(),
        ..Default::default()
    }
}

/// A stored decision as protobuf.
pub fn decision_out(row: &DecisionRow, sensitive: bool) -> pb::PenaltyDecision {
    let m = &row.meta;
    pb::PenaltyDecision {
        name: format!("penaltyDecisions/{}", row.id),
        legal_review: m.review.as_ref().map(|r| pb::LegalReview {
            opinion: enum_out!(pb::ReviewOpinion, "REVIEW_OPINION_", r.opinion),
            checklist: Some(pb::ReviewChecklist {
                subject_and_powers_ok: r.checklist.subject_and_powers_ok,
                procedure_ok: r.checklist.procedure_ok,
                facts_and_evidence_ok: r.checklist.facts_and_evidence_ok,
                law_and_discretion_ok: r.checklist.law_and_discretion_ok,
                documents_complete: r.checklist.documents_complete,
                crime_transfer_needed: r.checklist.crime_transfer_needed,
                other_points: r.checklist.other_points.clone(),
            }),
            comment: r.comment.clone(),
            reviewer: Some(actor(&r.reviewer)),
            review_time: Some(ts(r.at)),
        }),
        fulfillment: m.fulfillment.as_ref().map(|f| pb::Fulfillment {
            fulfilled_on: f.fulfilled_on.to_string(),
            evidence: f.evidence.clone(),
            recorded_by: Some(actor(&f.recorded_by)),
            record_time: Some(ts(f.at)),
        }),
        state: enum_out!(pb::DecisionState, "DECISION_STATE_", row.state),
        disclosure: row
            .disclosure_id
            .as_ref()
            .map(|d| format!("disclosures/{d}"))
            .unwrap_or_default(),
        etag: crate::app::etag(row.version),
        create_time: Some(ts(row.create_time)),
        update_time: Some(ts(row.update_time)),
        exclusion: m.exclusion.as_ref().map(|e| pb::PublicationExclusion {
            rule: e.rule.clone(),
            citation: e.citation.clone(),
        }),
        publish_time: m.publish_time.map(ts),
        withdrawal: m.withdrawal.as_ref().map(|w| pb::Withdrawal {
            legal_event: enum_out!(pb::WithdrawalEvent, "WITHDRAWAL_EVENT_", w.legal_event),
            public_reason: w.public_reason.clone(),
            withdraw_time: Some(ts(w.at)),
            legal_event_on: w.legal_event_on.map(|d| d.to_string()).unwrap_or_default(),
        }),
        recorded_by: Some(actor(&m.recorded_by)),
        correction_awaiting_review: m.correction_awaiting_review.is_some(),
        ..doc_out(&row.doc, sensitive)
    }
}

/// A stored disclosure as protobuf.
pub fn disclosure_out(d: DisclosureRow) -> pb::Disclosure {
    disclosure_view_out(d.into())
}

/// A disclosure as protobuf: one conversion for the gRPC answer and the
/// public JSON (its proto3 JSON mapping).
pub fn disclosure_view_out(d: DisclosureView) -> pb::Disclosure {
    crate::wire::disclosure(crate::wire::DisclosureParts {
        id: &d.id,
        decision_id: &d.decision_id,
        state: d.state,
        version: d.version,
        content: &d.content,
        content_sha256: &d.content_sha256,
        repair_pending: d.repair_pending,
        published_at: d.published_at,
        terminated_at: d.terminated_at,
    })
}
