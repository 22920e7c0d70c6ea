//! The penalty decision as recorded, and the public record derived from it.
//!
//! [`DecisionDoc`] is everything a decision carries, sensitive fields included;
//! it is stored whole and never leaves the server except to roles that may see
//! it. [`PublicRecord`] is what is published: the national 双公示 fields with
//! ID numbers and natural persons' addresses left out by construction, so no
//! code path can leak them into a feed or an export.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::policy::{PartyKind, PenaltyKind, Procedure, PublicityPeriods, Sector, Severity};

/// 证件类型 of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdType {
    /// No document given.
    #[default]
    None,
    /// 居民身份证, validated by GB 11643-1999.
    ResidentIdCard,
    /// 护照.
    Passport,
    /// 港澳居民来往内地通行证.
    HkMacaoPermit,
    /// 台湾居民来往大陆通行证.
    TaiwanPermit,
    /// 外国人永久居留身份证.
    ForeignPermanentResident,
    /// 其他.
    Other,
}

impl IdType {
    /// The label used in the national export.
    pub fn label_zh(&self) -> &'static str {
        match self {
            IdType::None => "",
            IdType::ResidentIdCard => "身份证",
            IdType::Passport => "护照",
            IdType::HkMacaoPermit => "港澳居民来往内地通行证",
            IdType::TaiwanPermit => "台湾居民来往大陆通行证",
            IdType::ForeignPermanentResident => "外国人永久居留身份证",
            IdType::Other => "其他",
        }
    }
}

/// An organisation and its unified social credit code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Org {
    /// Name.
    pub name: String,
    /// 统一社会信用代码 (validated on input).
    pub credit_code: String,
}

/// 法定代表人.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LegalRepresentative {
    /// Name (public: CF_FRDB).
    pub name: String,
    /// Document type (public: CF_FR_ZJLX).
    pub id_type: IdType,
    /// Document number: sensitive (CF_FR_ZJHM is never published).
    pub id_number: String,
}

/// 行政相对人.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// 行政相对人类别.
    pub kind: PartyKind,
    /// 行政相对人名称.
    pub name: String,
    /// 统一社会信用代码; empty for most natural persons.
    pub credit_code: String,
    /// 工商注册号.
    pub business_registration_number: String,
    /// 组织机构代码.
    pub organization_code: String,
    /// 税务登记号.
    pub tax_registration_number: String,
    /// 事业单位证书号.
    pub public_institution_certificate: String,
    /// 社会组织登记证号.
    pub social_organization_certificate: String,
    /// 法定代表人, for organisations.
    pub legal_representative: LegalRepresentative,
    /// 证件类型 of the party itself (natural persons, individual businesses).
    pub id_type: IdType,
    /// 证件号码: sensitive.
    pub id_number: String,
    /// Address: sensitive for natural persons.
    pub address: String,
}

impl Party {
    /// A legal person known by its name and credit code alone: no other
    /// registration number and no document of the party itself.
    pub fn legal_person(
        name: String,
        credit_code: String,
        legal_representative: LegalRepresentative,
        address: String,
    ) -> Party {
        Party {
            kind: PartyKind::LegalPerson,
            name,
            credit_code,
            business_registration_number: String::new(),
            organization_code: String::new(),
            tax_registration_number: String::new(),
            public_institution_certificate: String::new(),
            social_organization_certificate: String::new(),
            legal_representative,
            id_type: IdType::None,
            id_number: String::new(),
            address,
        }
    }
}

/// Everything recorded about one penalty decision (national field set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionDoc {
    /// 行政处罚决定书文号 (CF_WSH): unique per deciding authority.
    pub decision_number: String,
    /// The party penalised.
    pub party: Party,
    /// 违法行为类型.
    pub violation_type: String,
    /// 违法事实.
    pub violation_facts: String,
    /// 处罚依据.
    pub legal_basis: String,
    /// 处罚类别, at least one.
    pub penalty_kinds: Vec<PenaltyKind>,
    /// 处罚内容.
    pub penalty_content: String,
    /// 罚款金额 in fen.
    pub fine_fen: i64,
    /// 没收违法所得、没收非法财物的金额 in fen.
    pub confiscation_fen: i64,
    /// 暂扣或吊销证照名称及编号.
    pub license_action: String,
    /// 简易程序 or 普通程序.
    pub procedure: Procedure,
    /// The sector, which can lengthen the minimum publicity period.
    pub sector: Sector,
    /// Information class (轻微 / 一般 / 严重).
    pub severity: Severity,
    /// Needs an approving legal review before publication: the client's flag
    /// or the configured rules (`App::is_major`), recomputed on every
    /// correction.
    pub major: bool,
    /// The client's own `major` flag, kept so that a correction recomputes
    /// `major` by the same rule as at creation. `None` in decisions stored
    /// before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major_flag: Option<bool>,
    /// 处罚决定日期.
    pub decided_on: NaiveDate,
    /// 处罚有效期.
    pub effective_until: Option<NaiveDate>,
    /// 处罚机关.
    pub authority: Org,
    /// 数据来源单位.
    pub data_source: Org,
    /// 备注.
    pub remarks: String,
}

/// The public content of a disclosure: the national fields minus ID numbers
/// and addresses, plus the computed publicity dates. Its canonical JSON is
/// what `content_sha256` hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicRecord {
    /// 行政相对人名称.
    pub party_name: String,
    /// 行政相对人类别.
    pub party_kind: PartyKind,
    /// 统一社会信用代码.
    pub party_credit_code: String,
    /// 工商注册号.
    pub business_registration_number: String,
    /// 组织机构代码.
    pub organization_code: String,
    /// 税务登记号.
    pub tax_registration_number: String,
    /// 事业单位证书号.
    pub public_institution_certificate: String,
    /// 社会组织登记证号.
    pub social_organization_certificate: String,
    /// 法定代表人 name.
    pub legal_representative_name: String,
    /// 法定代表人证件类型 (the type only, never the number).
    pub legal_representative_id_type: IdType,
    /// 证件类型 of the party (the type only, never the number).
    pub party_id_type: IdType,
    /// 行政处罚决定书文号.
    pub decision_number: String,
    /// 违法行为类型.
    pub violation_type: String,
    /// 违法事实.
    pub violation_facts: String,
    /// 处罚依据.
    pub legal_basis: String,
    /// 处罚类别.
    pub penalty_kinds: Vec<PenaltyKind>,
    /// 处罚内容.
    pub penalty_content: String,
    /// 罚款 in fen.
    pub fine_fen: i64,
    /// 没收 in fen.
    pub confiscation_fen: i64,
    /// 暂扣或吊销证照.
    pub license_action: String,
    /// 处罚决定日期.
    pub decided_on: NaiveDate,
    /// 处罚有效期.
    pub effective_until: Option<NaiveDate>,
    /// 公示截止期.
    pub publicity_ends_on: NaiveDate,
    /// End of the minimum publicity period.
    pub min_publicity_ends_on: NaiveDate,
    /// First day credit repair may be requested.
    pub repair_eligible_on: NaiveDate,
    /// 处罚机关.
    pub authority: Org,
    /// 数据来源单位.
    pub data_source: Org,
    /// 备注.
    pub remarks: String,
    /// Information class.
    pub severity: Severity,
    /// Sector.
    pub sector: Sector,
    /// The policy rule set that fixed the periods.
    pub rule_set: String,
}

/// The computed dates a public record carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicDates {
    /// End of the minimum period.
    pub min_ends_on: NaiveDate,
    /// Day after the minimum period.
    pub repair_eligible_on: NaiveDate,
    /// 公示截止期.
    pub publicity_ends_on: NaiveDate,
    /// Rule set id.
    pub rule_set: String,
}

impl From<&PublicityPeriods> for PublicDates {
    /// The dates a record shows, from the periods its rule set gives.
    fn from(p: &PublicityPeriods) -> Self {
        PublicDates {
            min_ends_on: p.min_ends_on,
            repair_eligible_on: p.repair_eligible_on,
            publicity_ends_on: p.publicity_ends_on,
            rule_set: p.rule_set.clone(),
        }
    }
}

impl PublicRecord {
    /// Builds the public record of a decision. ID numbers and addresses are
    /// not copied: there is no field to copy them into.
    pub fn from_decision(doc: &DecisionDoc, dates: &PublicDates) -> Self {
        let p = &doc.party;
        PublicRecord {
            party_name: p.name.clone(),
            party_kind: p.kind,
            party_credit_code: p.credit_code.clone(),
            business_registration_number: p.business_registration_number.clone(),
            organization_code: p.organization_code.clone(),
            tax_registration_number: p.tax_registration_number.clone(),
            public_institution_certificate: p.public_institution_certificate.clone(),
            social_organization_certificate: p.social_organization_certificate.clone(),
            legal_representative_name: p.legal_representative.name.clone(),
            legal_representative_id_type: p.legal_representative.id_type,
            party_id_type: p.id_type,
            decision_number: doc.decision_number.clone(),
            violation_type: doc.violation_type.clone(),
            violation_facts: doc.violation_facts.clone(),
            legal_basis: doc.legal_basis.clone(),
            penalty_kinds: doc.penalty_kinds.clone(),
            penalty_content: doc.penalty_content.clone(),
            fine_fen: doc.fine_fen,
            confiscation_fen: doc.confiscation_fen,
            license_action: doc.license_action.clone(),
            decided_on: doc.decided_on,
            effective_until: doc.effective_until,
            publicity_ends_on: dates.publicity_ends_on,
            min_publicity_ends_on: dates.min_ends_on,
            repair_eligible_on: dates.repair_eligible_on,
            authority: doc.authority.clone(),
            data_source: doc.data_source.clone(),
            remarks: doc.remarks.clone(),
            severity: doc.severity,
            sector: doc.sector,
            rule_set: dates.rule_set.clone(),
        }
    }

    /// The canonical JSON (field order fixed by the struct).
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// SHA-256 (hex) of the canonical JSON: the disclosure's `content_sha256`.
    pub fn content_sha256(&self) -> String {
        sha256_hex(self.canonical_json().as_bytes())
    }

    /// The 30 columns of the national export, in order (DOMAIN.md §3). The two
    /// ID-number columns are always empty. Text fields are borrowed, not
    /// copied: the export writes 30 of them for every active record.
    pub fn csv_fields(&self) -> [Cow<'_, str>; 30] {
        let kinds: Vec<&str> = self.penalty_kinds.iter().map(|k| k.label_zh()).collect();
        [
            (&self.party_name).into(),
            self.party_kind.label_zh().into(),
            (&self.party_credit_code).into(),
            (&self.business_registration_number).into(),
            (&self.organization_code).into(),
            (&self.tax_registration_number).into(),
            (&self.public_institution_certificate).into(),
            (&self.social_organization_certificate).into(),
            (&self.legal_representative_name).into(),
            self.legal_representative_id_type.label_zh().into(),
            "".into(), // CF_FR_ZJHM: never published
            self.party_id_type.label_zh().into(),
            "".into(), // CF_XDR_ZJHM: never published
            (&self.decision_number).into(),
            (&self.violation_type).into(),
            (&self.violation_facts).into(),
            (&self.legal_basis).into(),
            kinds.join(";").into(),
            (&self.penalty_content).into(),
            fen_to_wanyuan(self.fine_fen).into(),
            fen_to_wanyuan(self.confiscation_fen).into(),
            (&self.license_action).into(),
            self.decided_on.to_string().into(),
            self.effective_until.map(|d| d.to_string()).unwrap_or_default().into(),
            self.publicity_ends_on.to_string().into(),
            (&self.authority.name).into(),
            (&self.authority.credit_code).into(),
            (&self.data_source.name).into(),
            (&self.data_source.credit_code).into(),
            (&self.remarks).into(),
        ]
    }
}

/// Header of the national export, column names with their field codes.
pub const CSV_HEADER: [&str; 30] = [
    "行政相对人名称(CF_XDR_MC)",
    "行政相对人类别(CF_XDR_LB)",
    "统一社会信用代码(CF_XDR_SHXYM)",
    "工商注册号(CF_XDR_GSZC)",
    "组织机构代码(CF_XDR_ZZJG)",
    "税务登记号(CF_XDR_SWDJ)",
    "事业单位证书号(CF_XDR_SYDW)",
    "社会组织登记证号(CF_XDR_SHZZ)",
    "法定代表人(CF_FRDB)",
    "法定代表人证件类型(CF_FR_ZJLX)",
    "法定代表人证件号码(CF_FR_ZJHM)",
    "证件类型(CF_XDR_ZJLX)",
    "证件号码(CF_XDR_ZJHM)",
    "行政处罚决定书文号(CF_WSH)",
    "违法行为类型(CF_WFXW)",
    "违法事实(CF_SY)",
    "处罚依据(CF_YJ)",
    "处罚类别(CF_CFLB)",
    "处罚内容(CF_NR)",
    "罚款金额（万元）(CF_NR_FK)",
    "没收违法所得、没收非法财物的金额（万元）(CF_NR_WFFF)",
    "暂扣或吊销证照名称及编号(CF_NR_ZKDX)",
    "处罚决定日期(CF_JDRQ)",
    "处罚有效期(CF_YXQ)",
    "公示截止期(CF_GSJZQ)",
    "处罚机关(CF_CFJG)",
    "处罚机关统一社会信用代码(CF_CFJGDM)",
    "数据来源单位(CF_SJLY)",
    "数据来源单位统一社会信用代码(CF_SJLYDM)",
    "备注(BZ)",
];

/// Fen as 万元 with exactly six decimals (1 万元 = 1,000,000 fen), computed
/// with integers so nothing is lost: 200,000 fen (2,000 元) → `0.200000`.
pub fn fen_to_wanyuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

/// SHA-256 of bytes, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Bounds on free-text fields, in characters, after the national data
/// standard's column lengths. Input beyond them is refused, naming the field.
pub mod limits {
    /// Names of parties, authorities, representatives.
    pub const NAME: usize = 200;
    /// 行政处罚决定书文号.
    pub const DECISION_NUMBER: usize = 128;
    /// 违法行为类型.
    pub const VIOLATION_TYPE: usize = 2000;
    /// 违法事实.
    pub const FACTS: usize = 5000;
    /// 处罚依据.
    pub const LEGAL_BASIS: usize = 2048;
    /// 处罚内容.
    pub const CONTENT: usize = 4000;
    /// 暂扣或吊销证照名称及编号.
    pub const LICENSE_ACTION: usize = 200;
    /// 备注 and short free text.
    pub const REMARKS: usize = 512;
    /// Legacy registration codes.
    pub const CODE: usize = 64;
    /// Addresses.
    pub const ADDRESS: usize = 512;
    /// Reasons and comments.
    pub const REASON: usize = 2000;
    /// `request_id` (API.md).
    pub const REQUEST_ID: usize = 64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanyuan_has_six_decimals() {
        assert_eq!(fen_to_wanyuan(200_000), "0.200000");
        assert_eq!(fen_to_wanyuan(0), "0.000000");
        assert_eq!(fen_to_wanyuan(1_500_000_000), "1500.000000");
        assert_eq!(fen_to_wanyuan(7_100_001), "7.100001");
        assert_eq!(fen_to_wanyuan(-1), "-0.000001");
    }
}
