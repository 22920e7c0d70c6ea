//! The sample credit-repair application of the tests (tests/it/repair_support.rs)
//! and of the load generator's `submit` scenario (benches/loadgen/submit.rs),
//! which both include this file with `#[path]`: one place says what a
//! complete application looks like.

use gongshi::api::pb;

/// A material to upload.
pub fn material(kind: pb::MaterialKind, file_name: &str, content: Vec<u8>) -> pb::Material {
    pb::Material {
        kind: kind as i32,
        file_name: file_name.to_string(),
        media_type: "application/pdf".into(),
        content,
        ..Default::default()
    }
}

/// A proof of fulfilment (缴款凭证).
pub fn proof() -> pb::Material {
    material(
        pb::MaterialKind::FulfillmentProof,
        "缴款凭证.pdf",
        b"%PDF-1.4 fine paid: 20000 CNY".to_vec(),
    )
}

/// A complete credit commitment (信用承诺书).
pub fn commitment() -> pb::CreditCommitment {
    pb::CreditCommitment {
        code: String::new(),
        content: "本单位承诺所提交的信用修复申请材料真实、准确、完整，已履行行政处罚决定规定的义务。".into(),
        liability: "如有虚假，自愿按最长期限公示并承担相应法律责任".into(),
        made_on: "2025-06-11".into(),
        signer: "张三".into(),
        reason: "申请行政处罚信息信用修复".into(),
        fulfillment_status: pb::CommitmentFulfillment::Full as i32,
    }
}

/// A complete application for `disclosure` by the enterprise `code` (an
/// empty code leaves the applicant to the key, so another enterprise's call
/// reaches the isolation check).
pub fn application_for(disclosure: &str, code: &str) -> pb::RepairApplication {
    pb::RepairApplication {
        disclosure: disclosure.to_string(),
        applicant: Some(pb::Organization {
            name: "上海某某化工有限公司".into(),
            credit_code: code.to_string(),
        }),
        contact: Some(pb::Contact {
            name: "李四".into(),
            phone: "021-5555 0101".into(),
        }),
        commitment: Some(commitment()),
        materials: vec![proof()],
        ..Default::default()
    }
}
