//! The public record's wire form: the generated `gongshi.v1` messages and
//! the one conversion of a published record into its `Disclosure` message.
//!
//! Pure (no I/O). It sits beside [`crate::domain`] so that the store can keep
//! each disclosure's encoding beside it (issue 18) and the adapters serve the
//! same message, without the store importing an adapter.

use prost::Message;

use crate::domain::lifecycle::{DisclosureState, Micros};
use crate::domain::record::{Org, PublicRecord};

/// Generated protobuf and gRPC code of `gongshi.v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("gongshi.v1");
}

/// Protobuf enum value from a domain enum, via its name.
macro_rules! enum_out {
    ($pb:ty, $prefix:literal, $d:expr) => {
        <$pb>::from_str_name(&format!(concat!($prefix, "{}"), $d.as_str()))
            .map(|e| e as i32)
            .unwrap_or(0)
    };
}
pub(crate) use enum_out;

/// A stored instant as a Timestamp.
pub fn ts(m: Micros) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: m.div_euclid(1_000_000),
        nanos: (m.rem_euclid(1_000_000) * 1000) as i32,
    }
}

fn org(o: &Org) -> Option<pb::Organization> {
    Some(pb::Organization {
        name: o.name.clone(),
        credit_code: o.credit_code.clone(),
    })
}

/// The published content as a `Disclosure` (the fields of the record only).
pub fn record_out(r: PublicRecord) -> pb::Disclosure {
    pb::Disclosure {
        party_name: r.party_name,
        party_kind: enum_out!(pb::PartyKind, "PARTY_KIND_", r.party_kind),
        party_credit_code: r.party_credit_code,
        business_registration_number: r.business_registration_number,
        organization_code: r.organization_code,
        tax_registration_number: r.tax_registration_number,
        public_institution_certificate: r.public_institution_certificate,
        social_organization_certificate: r.social_organization_certificate,
        legal_representative_name: r.legal_representative_name,
        decision_number: r.decision_number,
        violation_type: r.violation_type,
        violation_facts: r.violation_facts,
        legal_basis: r.legal_basis,
        penalty_kinds: r
            .penalty_kinds
            .iter()
            .map(|k| enum_out!(pb::PenaltyKind, "PENALTY_KIND_", k))
            .collect(),
        penalty_content: r.penalty_content,
        fine_fen: r.fine_fen,
        confiscation_fen: r.confiscation_fen,
        license_action: r.license_action,
        decided_on: r.decided_on.to_string(),
        effective_until: r.effective_until.map(|e| e.to_string()).unwrap_or_default(),
        publicity_ends_on: r.publicity_ends_on.to_string(),
        authority: org(&r.authority),
        data_source: org(&r.data_source),
        remarks: r.remarks,
        severity: enum_out!(pb::Severity, "SEVERITY_", r.severity),
        sector: enum_out!(pb::Sector, "SECTOR_", r.sector),
        min_publicity_ends_on: r.min_publicity_ends_on.to_string(),
        repair_eligible_on: r.repair_eligible_on.to_string(),
        rule_set: r.rule_set,
        ..Default::default()
    }
}

/// Everything a `Disclosure` message carries, borrowed from wherever the
/// disclosure is held (the store's row, the application's view).
#[derive(Debug, Clone, Copy)]
pub struct DisclosureParts<'a> {
    /// Disclosure id.
    pub id: &'a str,
    /// Its decision.
    pub decision_id: &'a str,
    /// State.
    pub state: DisclosureState,
    /// Content version.
    pub version: i64,
    /// Current public content.
    pub content: &'a PublicRecord,
    /// SHA-256 of the content.
    pub content_sha256: &'a str,
    /// An open repair application exists.
    pub repair_pending: bool,
    /// First published, when known.
    pub published_at: Option<Micros>,
    /// When it stopped being public.
    pub terminated_at: Option<Micros>,
}

/// The [`DisclosureParts`] of a value holding a disclosure's fields under
/// their own names: the store's row, the application's view.
macro_rules! disclosure_parts {
    ($d:expr) => {{
        let d = &$d;
        $crate::wire::DisclosureParts {
            id: &d.id,
            decision_id: &d.decision_id,
            state: d.state,
            version: d.version,
            content: &d.content,
            content_sha256: &d.content_sha256,
            repair_pending: d.repair_pending,
            published_at: d.published_at,
            terminated_at: d.terminated_at,
        }
    }};
}
pub(crate) use disclosure_parts;

/// A disclosure as protobuf: the one conversion behind the gRPC answer, the
/// public JSON (its proto3 JSON mapping) and the stored encoding.
pub fn disclosure(d: DisclosureParts<'_>) -> pb::Disclosure {
    pb::Disclosure {
        name: format!("disclosures/{}", d.id),
        penalty_decision: format!("penaltyDecisions/{}", d.decision_id),
        published_at: d.published_at.map(ts),
        state: enum_out!(pb::DisclosureState, "DISCLOSURE_STATE_", d.state),
        repair_pending: d.repair_pending,
        version: i32::try_from(d.version).unwrap_or(i32::MAX),
        content_sha256: d.content_sha256.to_string(),
        terminated_at: d.terminated_at.map(ts),
        ..record_out(d.content.clone())
    }
}

/// The `Disclosure` message's protobuf encoding, as stored beside the record
/// and served as is.
pub fn disclosure_bytes(d: DisclosureParts<'_>) -> Vec<u8> {
    disclosure(d).encode_to_vec()
}
