//! The sample penalty decision of the tests (tests/it/support), the fuzz
//! seeds (benches/fuzz) and the notice benchmark (benches/notice_pdf), which
//! all include this file with `#[path]`: one place says what a complete,
//! valid, publishable decision looks like.

use gongshi::api::pb;

/// A complete, valid, publishable general-class fine on a legal person
/// (with a legal representative), decided by `authority_code`'s bureau.
pub fn sample_decision(number: &str, decided_on: &str, party_code: &str, authority_code: &str) -> pb::PenaltyDecision {
    pb::PenaltyDecision {
        decision_number: number.to_string(),
        party: Some(pb::Party {
            kind: pb::PartyKind::LegalPerson as i32,
            name: "上海某某化工有限公司".into(),
            credit_code: party_code.to_string(),
            legal_representative: Some(pb::LegalRepresentative {
                name: "张三".into(),
                id_type: pb::IdType::ResidentIdCard as i32,
                id_number: "110105194912310038".into(),
            }),
            address: "上海市浦东新区某路1号".into(),
            ..Default::default()
        }),
        violation_type: "未按规定开展安全生产教育和培训".into(),
        violation_facts: "经查，该公司未如实记录安全生产教育和培训情况。".into(),
        legal_basis: "《中华人民共和国安全生产法》第九十七条第三项".into(),
        penalty_kinds: vec![pb::PenaltyKind::Fine as i32],
        penalty_content: "罚款人民币贰万元整".into(),
        fine_fen: 2_000_000,
        procedure: pb::Procedure::Ordinary as i32,
        sector: pb::Sector::Other as i32,
        severity: pb::Severity::General as i32,
        decided_on: decided_on.to_string(),
        authority: Some(pb::Organization {
            name: "上海市浦东新区应急管理局".into(),
            credit_code: authority_code.to_string(),
        }),
        ..Default::default()
    }
}
