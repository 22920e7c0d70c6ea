//! Companion notices (两书/三书同达, DOMAIN.md §5): what each document says,
//! rendered from runtime templates so a bureau can change its third document
//! without a rebuild. Rendering is deterministic: the same data and templates
//! give the same bytes (no clock, no random, no map iteration order).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::policy::{PublicationDecision, Severity};
use super::record::{DecisionDoc, sha256_hex};

str_enum!(
    /// The documents of a bundle.
    DocumentKind {
        /// 行政处罚决定书.
        PenaltyDecision = "PENALTY_DECISION",
        /// 信用修复告知书.
        CreditRepairNotice = "CREDIT_REPAIR_NOTICE",
        /// 信用承诺书 (template for the enterprise to sign).
        CreditCommitment = "CREDIT_COMMITMENT",
        /// 行政合规建议书.
        ComplianceAdvice = "COMPLIANCE_ADVICE",
    }
);

str_enum!(
    /// 送达方式 (行政处罚法 Art. 61; 民事诉讼法 Arts. 87-95).
    DeliveryMethod {
        /// 直接送达.
        Direct = "DIRECT",
        /// 留置送达.
        LeftAtResidence = "LEFT_AT_RESIDENCE",
        /// 电子送达: only with the party's signed consent.
        Electronic = "ELECTRONIC",
        /// 邮寄送达.
        Postal = "POSTAL",
        /// 委托/转交.
        Entrusted = "ENTRUSTED",
        /// 公告送达: the decision alone, deemed delivered 30 days after publication.
        PublicNotice = "PUBLIC_NOTICE",
    }
);

str_enum!(
    /// Where a bundle's delivery stands.
    DeliveryState {
        /// Not yet delivered.
        Pending = "PENDING",
        /// Delivered.
        Delivered = "DELIVERED",
        /// Receipt (送达回证) recorded.
        Receipted = "RECEIPTED",
    }
);

impl DocumentKind {
    /// The document's title.
    pub fn title(&self) -> &'static str {
        match self {
            DocumentKind::PenaltyDecision => "行政处罚决定书",
            DocumentKind::CreditRepairNotice => "信用修复告知书",
            DocumentKind::CreditCommitment => "信用承诺书",
            DocumentKind::ComplianceAdvice => "行政合规建议书",
        }
    }

    fn template_file(&self) -> &'static str {
        match self {
            DocumentKind::PenaltyDecision => "penalty_decision.txt.j2",
            DocumentKind::CreditRepairNotice => "credit_repair_notice.txt.j2",
            DocumentKind::CreditCommitment => "credit_commitment.txt.j2",
            DocumentKind::ComplianceAdvice => "compliance_advice.txt.j2",
        }
    }
}

/// Days after publication at which public-notice delivery is deemed done.
pub const PUBLIC_NOTICE_DEEMED_DAYS: i64 = 30;

/// A set of templates and its version.
#[derive(Debug, Clone)]
pub struct NoticeTemplates {
    sources: BTreeMap<DocumentKind, String>,
    version: String,
}

/// A template problem (missing file, syntax, rendering).
#[derive(Debug, thiserror::Error)]
#[error("notice template {file}: {message}")]
pub struct TemplateError {
    /// File name.
    pub file: String,
    /// What went wrong.
    pub message: String,
}

impl NoticeTemplates {
    /// The templates shipped in `templates/notices/`.
    pub fn builtin() -> Result<Self, TemplateError> {
        Self::from_sources(
            "builtin",
            DocumentKind::ALL
                .iter()
                .map(|k| (*k, Self::builtin_source(*k).to_string())),
        )
    }

    /// The shipped template of one kind.
    pub fn builtin_source(kind: DocumentKind) -> &'static str {
        match kind {
            DocumentKind::PenaltyDecision => include_str!("../../templates/notices/penalty_decision.txt.j2"),
            DocumentKind::CreditRepairNotice => include_str!("../../templates/notices/credit_repair_notice.txt.j2"),
            DocumentKind::CreditCommitment => include_str!("../../templates/notices/credit_commitment.txt.j2"),
            DocumentKind::ComplianceAdvice => include_str!("../../templates/notices/compliance_advice.txt.j2"),
        }
    }

    /// Templates from text, e.g. read from a deployment's template directory.
    /// The version is `label+<first 12 hex of SHA-256 over all sources>`, so
    /// any edit to a template changes it.
    pub fn from_sources(
        label: &str,
        sources: impl IntoIterator<Item = (DocumentKind, String)>,
    ) -> Result<Self, TemplateError> {
        let sources: BTreeMap<_, _> = sources.into_iter().collect();
        let mut env = minijinja::Environment::new();
        let mut all = String::new();
        for (k, src) in &sources {
            env.add_template(k.template_file(), src).map_err(|e| TemplateError {
                file: k.template_file().into(),
                message: e.to_string(),
            })?;
            all.push_str(k.as_str());
            all.push('\0');
            all.push_str(src);
            all.push('\0');
        }
        let version = format!("{label}+{}", &sha256_hex(all.as_bytes())[..12]);
        Ok(NoticeTemplates { sources, version })
    }

    /// No templates at all: rendering fails until real ones are loaded.
    pub fn empty() -> Self {
        NoticeTemplates {
            sources: BTreeMap::new(),
            version: "none".into(),
        }
    }

    /// The file name a kind's template is read from.
    pub fn file_name(kind: DocumentKind) -> &'static str {
        kind.template_file()
    }

    /// The version string stored with every rendered document.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Renders one document.
    pub fn render(&self, kind: DocumentKind, ctx: &NoticeContext) -> Result<String, TemplateError> {
        let err = |message: String| TemplateError {
            file: kind.template_file().into(),
            message,
        };
        let src = self
            .sources
            .get(&kind)
            .ok_or_else(|| err("no such template loaded".into()))?;
        let mut env = minijinja::Environment::new();
        env.set_keep_trailing_newline(true);
        env.add_template(kind.template_file(), src)
            .map_err(|e| err(e.to_string()))?;
        let t = env.get_template(kind.template_file()).map_err(|e| err(e.to_string()))?;
        t.render(ctx).map_err(|e| err(e.to_string()))
    }
}

/// Deployment texts the notices quote (configuration).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeSettings {
    /// Where penalties are published.
    pub publication_site: String,
    /// Where repair is applied for.
    pub repair_channel: String,
    /// 行政复议机关.
    pub reconsideration_body: String,
    /// 管辖法院.
    pub court: String,
    /// Documents of a bundle for a published decision, in order.
    pub documents: Vec<DocumentKind>,
}

impl Default for NoticeSettings {
    fn default() -> Self {
        NoticeSettings {
            publication_site: "“信用中国（上海）”网站及本机关门户网站".into(),
            repair_channel: "上海市“一网通办”平台或“信用中国”网站".into(),
            reconsideration_body: "上海市浦东新区人民政府".into(),
            court: "上海铁路运输法院".into(),
            documents: vec![
                DocumentKind::PenaltyDecision,
                DocumentKind::CreditRepairNotice,
                DocumentKind::CreditCommitment,
            ],
        }
    }
}

/// The values a template may use.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NoticeContext {
    /// Deciding authority.
    pub authority_name: String,
    /// 文号.
    pub decision_number: String,
    /// Number of the 告知书.
    pub notice_number: String,
    /// Number of the commitment template.
    pub commitment_number: String,
    /// Number of the compliance advice.
    pub advice_number: String,
    /// Party.
    pub party_name: String,
    /// Party credit code.
    pub party_credit_code: String,
    /// Legal representative.
    pub legal_representative_name: String,
    /// Party address (the decision document goes to the party itself).
    pub party_address: String,
    /// 违法行为类型.
    pub violation_type: String,
    /// 违法事实.
    pub violation_facts: String,
    /// 处罚依据.
    pub legal_basis: String,
    /// 处罚种类, joined with 、.
    pub penalty_kinds: String,
    /// 处罚内容.
    pub penalty_content: String,
    /// Fine in 元 with two decimals and thousands separators, empty if none.
    pub fine: String,
    /// Confiscation in 元, empty if none.
    pub confiscation: String,
    /// 暂扣或吊销证照.
    pub license_action: String,
    /// Decision date, e.g. 2026年5月6日.
    pub decided_on_zh: String,
    /// Whether the decision is published.
    pub published: bool,
    /// Rule-set citation.
    pub citation: String,
    /// 一般 / 严重 / 轻微.
    pub class_zh: String,
    /// e.g. 3个月, 1年.
    pub min_period: String,
    /// e.g. 1年, 3年.
    pub max_period: String,
    /// End of the minimum period.
    pub min_ends_on_zh: String,
    /// First day repair may be requested.
    pub repair_eligible_on_zh: String,
    /// 公示截止期.
    pub publicity_ends_on_zh: String,
    /// Where published.
    pub publication_site: String,
    /// Where to apply for repair.
    pub repair_channel: String,
    /// 行政复议机关.
    pub reconsideration_body: String,
    /// 法院.
    pub court: String,
    /// Acceptance deadline in working days.
    pub accept_days: u32,
    /// Overall deadline in working days.
    pub overall_days: u32,
}

/// A date as written in official documents: 2026年6月11日.
pub fn date_zh(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// A period in months as written: 3个月, 1年, 18个月.
pub fn months_zh(m: u32) -> String {
    if m > 0 && m.is_multiple_of(12) {
        format!("{}年", m / 12)
    } else {
        format!("{m}个月")
    }
}

/// Fen as 元 with thousands separators: 2,000,000 fen → 20,000.00.
pub fn yuan(fen: i64) -> String {
    let abs = fen.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}.{:02}", if fen < 0 { "-" } else { "" }, abs % 100)
}

/// Builds a document context from a decision and the policy's answer.
pub fn context(
    doc: &DecisionDoc,
    publication: &PublicationDecision,
    settings: &NoticeSettings,
    accept_days: u32,
    overall_days: u32,
) -> NoticeContext {
    let (published, citation, class_zh, min_period, max_period, min_ends, eligible, ends) = match publication {
        PublicationDecision::Publish(p) => (
            true,
            p.citation.clone(),
            match doc.severity {
                Severity::Minor => "轻微",
                Severity::General => "一般",
                Severity::Serious => "严重",
            }
            .to_string(),
            months_zh(p.min_months),
            months_zh(p.max_months),
            date_zh(p.min_ends_on),
            date_zh(p.repair_eligible_on),
            date_zh(p.publicity_ends_on),
        ),
        PublicationDecision::NotPublished { citation, .. } => (
            false,
            citation.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ),
    };
    NoticeContext {
        authority_name: doc.authority.name.clone(),
        decision_number: doc.decision_number.clone(),
        notice_number: format!("{}（信用修复告知）", doc.decision_number),
        commitment_number: format!("{}（信用承诺）", doc.decision_number),
        advice_number: format!("{}（合规建议）", doc.decision_number),
        party_name: doc.party.name.clone(),
        party_credit_code: doc.party.credit_code.clone(),
        legal_representative_name: doc.party.legal_representative.name.clone(),
        party_address: doc.party.address.clone(),
        violation_type: doc.violation_type.clone(),
        violation_facts: doc.violation_facts.clone(),
        legal_basis: doc.legal_basis.clone(),
        penalty_kinds: doc
            .penalty_kinds
            .iter()
            .map(|k| k.label_zh())
            .collect::<Vec<_>>()
            .join("、"),
        penalty_content: doc.penalty_content.clone(),
        fine: if doc.fine_fen > 0 {
            yuan(doc.fine_fen)
        } else {
            String::new()
        },
        confiscation: if doc.confiscation_fen > 0 {
            yuan(doc.confiscation_fen)
        } else {
            String::new()
        },
        license_action: doc.license_action.clone(),
        decided_on_zh: date_zh(doc.decided_on),
        published,
        citation,
        class_zh,
        min_period,
        max_period,
        min_ends_on_zh: min_ends,
        repair_eligible_on_zh: eligible,
        publicity_ends_on_zh: ends,
        publication_site: settings.publication_site.clone(),
        repair_channel: settings.repair_channel.clone(),
        reconsideration_body: settings.reconsideration_body.clone(),
        court: settings.court.clone(),
        accept_days,
        overall_days,
    }
}

/// Which documents a bundle carries: a decision that will not be published
/// gets the decision document alone (no repair notice: nothing to repair).
pub fn bundle_kinds(settings: &NoticeSettings, published: bool) -> Vec<DocumentKind> {
    if !published {
        return vec![DocumentKind::PenaltyDecision];
    }
    let mut kinds = vec![DocumentKind::PenaltyDecision];
    for k in &settings.documents {
        if !kinds.contains(k) {
            kinds.push(*k);
        }
    }
    kinds
}

/// One rendered document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedDocument {
    /// Kind.
    pub kind: DocumentKind,
    /// Title.
    pub title: String,
    /// Document number.
    pub number: String,
    /// UTF-8 text.
    pub body: String,
    /// Template version.
    pub template_version: String,
    /// SHA-256 (hex) of the body's bytes.
    pub sha256: String,
}

/// Renders the documents of a bundle.
pub fn render_bundle(
    templates: &NoticeTemplates,
    ctx: &NoticeContext,
    kinds: &[DocumentKind],
) -> Result<Vec<RenderedDocument>, TemplateError> {
    kinds
        .iter()
        .map(|k| {
            let body = templates.render(*k, ctx)?;
            Ok(RenderedDocument {
                kind: *k,
                title: k.title().to_string(),
                number: match k {
                    DocumentKind::PenaltyDecision => ctx.decision_number.clone(),
                    DocumentKind::CreditRepairNotice => ctx.notice_number.clone(),
                    DocumentKind::CreditCommitment => ctx.commitment_number.clone(),
                    DocumentKind::ComplianceAdvice => ctx.advice_number.clone(),
                },
                sha256: sha256_hex(body.as_bytes()),
                body,
                template_version: templates.version().to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(date_zh(NaiveDate::from_ymd_opt(2026, 6, 11).unwrap()), "2026年6月11日");
        assert_eq!(months_zh(3), "3个月");
        assert_eq!(months_zh(12), "1年");
        assert_eq!(months_zh(36), "3年");
        assert_eq!(yuan(2_000_000), "20,000.00");
        assert_eq!(yuan(123_456_789), "1,234,567.89");
        assert_eq!(yuan(5), "0.05");
    }

    #[test]
    fn builtin_templates_load_and_have_a_stable_version() {
        let a = NoticeTemplates::builtin().unwrap();
        let b = NoticeTemplates::builtin().unwrap();
        assert_eq!(a.version(), b.version());
        assert!(a.version().starts_with("builtin+"));
        let bad = NoticeTemplates::from_sources("x", [(DocumentKind::PenaltyDecision, "{% if %}".to_string())]);
        assert!(bad.is_err());
    }
}

/// 送达回证.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Who signed.
    pub signed_by: String,
    /// When (UTC micros).
    pub signed_at: i64,
}

/// One delivery act for the documents of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Method.
    pub method: DeliveryMethod,
    /// Recipient.
    pub recipient: String,
    /// Recipient's relation to the party.
    pub recipient_relation: String,
    /// When delivered (for public notice: when the notice was published).
    pub delivered_at: i64,
    /// For public notice: 30 days after publication.
    pub deemed_delivered_at: Option<i64>,
    /// Reference to the party's signed consent (electronic delivery).
    pub consent_ref: String,
    /// Witnesses (left at residence).
    pub witnesses: Vec<String>,
    /// The documents this act delivered.
    pub documents: Vec<DocumentKind>,
    /// The receipt, once recorded.
    pub receipt: Option<Receipt>,
    /// Who recorded the delivery.
    pub recorded_by: super::lifecycle::Actor,
}
