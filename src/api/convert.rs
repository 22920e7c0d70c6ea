//! Protobuf ⇄ domain conversion, with validation of every input field.
//!
//! Input is parsed into domain types (parse, don't validate): a credit code or
//! ID number with a wrong check character never gets past this module. Every
//! bad field is reported, not just the first.

use chrono::{DateTime, NaiveDate, Utc};

use super::pb;
use crate::app::AppError;
use crate::app::input::{self, Choice, DecisionInput, OrgInput, PartyInput, RepresentativeInput};
use crate::app::views::{DecisionView, DisclosureRecord};
use crate::domain::lifecycle::{Actor, ReviewChecklist};
use crate::domain::policy::{PartyKind, PenaltyKind, Procedure, Sector, Severity};
use crate::domain::record::{DecisionDoc, IdType, Org};

pub use crate::app::input::Violations;

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

/// Parses and validates a decision's content: the message mapped to the
/// application's [`DecisionInput`] and validated there. `prefix` names the
/// message in field paths (e.g. `penalty_decision.`). `today` refuses future
/// dates.
pub fn decision_doc(p: &pb::PenaltyDecision, prefix: &str, today: NaiveDate) -> Result<DecisionDoc, AppError> {
    input::decision_doc(&decision_input(p), prefix, today)
}

/// A protobuf enum value as a [`Choice`]: 0 unspecified, a known name, or unknown.
macro_rules! choice_in {
    ($pb:ty, $prefix:literal, $dom:ty, $v:expr) => {
        match $v {
            0 => Choice::Unspecified,
            v => Choice::from(enum_in!($pb, $prefix, $dom, v)),
        }
    };
}

fn id_type_in(v: i32) -> Choice<IdType> {
    match pb::IdType::try_from(v) {
        Ok(pb::IdType::Unspecified) => Choice::Unspecified,
        Ok(pb::IdType::ResidentIdCard) => Choice::Known(IdType::ResidentIdCard),
        Ok(pb::IdType::Passport) => Choice::Known(IdType::Passport),
        Ok(pb::IdType::HkMacaoPermit) => Choice::Known(IdType::HkMacaoPermit),
        Ok(pb::IdType::TaiwanPermit) => Choice::Known(IdType::TaiwanPermit),
        Ok(pb::IdType::ForeignPermanentResident) => Choice::Known(IdType::ForeignPermanentResident),
        Ok(pb::IdType::Other) => Choice::Known(IdType::Other),
        Err(_) => Choice::Unknown,
    }
}

/// The message as the application's unvalidated input.
pub fn decision_input(p: &pb::PenaltyDecision) -> DecisionInput {
    let party = p.party.clone().unwrap_or_default();
    let rep = party.legal_representative.clone().unwrap_or_default();
    let org = |o: &Option<pb::Organization>| {
        let o = o.clone().unwrap_or_default();
        OrgInput {
            name: o.name,
            credit_code: o.credit_code,
        }
    };
    DecisionInput {
        decision_number: p.decision_number.clone(),
        party: PartyInput {
            kind: choice_in!(pb::PartyKind, "PARTY_KIND_", PartyKind, party.kind),
            name: party.name,
            credit_code: party.credit_code,
            business_registration_number: party.business_registration_number,
            organization_code: party.organization_code,
            tax_registration_number: party.tax_registration_number,
            public_institution_certificate: party.public_institution_certificate,
            social_organization_certificate: party.social_organization_certificate,
            legal_representative: RepresentativeInput {
                name: rep.name,
                id_type: id_type_in(rep.id_type),
                id_number: rep.id_number,
            },
            id_type: id_type_in(party.id_type),
            id_number: party.id_number,
            address: party.address,
        },
        violation_type: p.violation_type.clone(),
        violation_facts: p.violation_facts.clone(),
        legal_basis: p.legal_basis.clone(),
        // An element 0 is not "unspecified" but an invalid category.
        penalty_kinds: p
            .penalty_kinds
            .iter()
            .map(|k| Choice::from(enum_in!(pb::PenaltyKind, "PENALTY_KIND_", PenaltyKind, *k)))
            .collect(),
        penalty_content: p.penalty_content.clone(),
        fine_fen: p.fine_fen,
        confiscation_fen: p.confiscation_fen,
        license_action: p.license_action.clone(),
        procedure: choice_in!(pb::Procedure, "PROCEDURE_", Procedure, p.procedure),
        sector: choice_in!(pb::Sector, "SECTOR_", Sector, p.sector),
        severity: choice_in!(pb::Severity, "SEVERITY_", Severity, p.severity),
        major: p.major,
        decided_on: p.decided_on.clone(),
        effective_until: p.effective_until.clone(),
        authority: org(&p.authority),
        data_source: org(&p.data_source),
        remarks: p.remarks.clone(),
    }
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

/// Copies a review checklist between its protobuf and domain forms, which
/// have the same fields: one list of them for both directions.
/// `other_points` is given (validated text inbound, a copy outbound).
macro_rules! checklist {
    ($($ty:ident)::+, $c:expr, $other_points:expr) => {
        $($ty)::+ {
            subject_and_powers_ok: $c.subject_and_powers_ok,
            procedure_ok: $c.procedure_ok,
            facts_and_evidence_ok: $c.facts_and_evidence_ok,
            law_and_discretion_ok: $c.law_and_discretion_ok,
            documents_complete: $c.documents_complete,
            crime_transfer_needed: $c.crime_transfer_needed,
            other_points: $other_points,
        }
    };
}

/// A review checklist as protobuf.
pub fn checklist_out(c: &ReviewChecklist) -> pb::ReviewChecklist {
    checklist!(pb::ReviewChecklist, c, c.other_points.clone())
}

/// A review checklist from protobuf, its `other_points` already validated.
pub fn checklist_in(c: &pb::ReviewChecklist, other_points: String) -> ReviewChecklist {
    checklist!(ReviewChecklist, c, other_points)
}

/// A stored decision as protobuf.
pub fn decision_out(row: &DecisionView, sensitive: bool) -> pb::PenaltyDecision {
    let m = &row.meta;
    pb::PenaltyDecision {
        name: format!("penaltyDecisions/{}", row.id),
        legal_review: m.review.as_ref().map(|r| pb::LegalReview {
            opinion: enum_out!(pb::ReviewOpinion, "REVIEW_OPINION_", r.opinion),
            checklist: Some(checklist_out(&r.checklist)),
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

/// A disclosure as protobuf: one conversion for the gRPC answer and the
/// public JSON (its proto3 JSON mapping).
pub fn disclosure_out(d: DisclosureRecord) -> pb::Disclosure {
    crate::wire::disclosure(crate::wire::disclosure_parts!(d))
}
