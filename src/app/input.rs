//! Decision input as a client or a file states it, before validation, and
//! its validation into a [`DecisionDoc`] (issue 15): the gRPC layer maps a
//! `PenaltyDecision` message here, `gongshi import` maps a CSV row here, so
//! both are validated by the same code and neither depends on the other's
//! shapes. Every bad field is reported, not just the first.

use chrono::NaiveDate;

use super::{AppError, FieldViolation};
use crate::domain::ids::{CreditCode, IdNumber};
use crate::domain::policy::{PartyKind, PenaltyKind, Procedure, Sector, Severity};
use crate::domain::record::{DecisionDoc, IdType, LegalRepresentative, Org, Party, limits};

/// An enumerated input: not given, a known value, or a value gongshi does not
/// know (each reported differently).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Choice<T> {
    /// Not given (protobuf 0, an empty cell).
    #[default]
    Unspecified,
    /// A known value.
    Known(T),
    /// Given but not a known value.
    Unknown,
}

impl<T: Copy> Choice<T> {
    /// The value, if known.
    pub fn known(&self) -> Option<T> {
        match self {
            Choice::Known(t) => Some(*t),
            _ => None,
        }
    }
}

impl<T> From<Option<T>> for Choice<T> {
    /// `None` is an unknown value.
    fn from(v: Option<T>) -> Self {
        v.map_or(Choice::Unknown, Choice::Known)
    }
}

/// A legal representative as stated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepresentativeInput {
    /// Name.
    pub name: String,
    /// Document type.
    pub id_type: Choice<IdType>,
    /// Document number.
    pub id_number: String,
}

/// An organisation as stated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgInput {
    /// Name.
    pub name: String,
    /// Credit code.
    pub credit_code: String,
}

/// A party as stated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartyInput {
    /// 行政相对人类别.
    pub kind: Choice<PartyKind>,
    /// Name.
    pub name: String,
    /// 统一社会信用代码.
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
    /// 法定代表人.
    pub legal_representative: RepresentativeInput,
    /// 证件类型.
    pub id_type: Choice<IdType>,
    /// 证件号码.
    pub id_number: String,
    /// Address.
    pub address: String,
}

/// A penalty decision as stated, before validation (dates as text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecisionInput {
    /// 行政处罚决定书文号.
    pub decision_number: String,
    /// The party.
    pub party: PartyInput,
    /// 违法行为类型.
    pub violation_type: String,
    /// 违法事实.
    pub violation_facts: String,
    /// 处罚依据.
    pub legal_basis: String,
    /// 处罚类别.
    pub penalty_kinds: Vec<Choice<PenaltyKind>>,
    /// 处罚内容.
    pub penalty_content: String,
    /// 罚款金额 in fen.
    pub fine_fen: i64,
    /// 没收金额 in fen.
    pub confiscation_fen: i64,
    /// 暂扣或吊销证照名称及编号.
    pub license_action: String,
    /// Procedure.
    pub procedure: Choice<Procedure>,
    /// Sector.
    pub sector: Choice<Sector>,
    /// Information class.
    pub severity: Choice<Severity>,
    /// The client's major flag.
    pub major: bool,
    /// 处罚决定日期, `YYYY-MM-DD`.
    pub decided_on: String,
    /// 处罚有效期, `YYYY-MM-DD` or empty.
    pub effective_until: String,
    /// 处罚机关.
    pub authority: OrgInput,
    /// 数据来源单位 (empty: the authority).
    pub data_source: OrgInput,
    /// 备注.
    pub remarks: String,
}

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

    /// An optional enum of a list filter: `None` for 0 (unspecified) and,
    /// with an `INVALID_ENUM` violation, for a value `parse` does not know.
    pub fn enum_filter<T>(&mut self, field: &str, value: i32, parse: impl FnOnce(i32) -> Option<T>) -> Option<T> {
        if value == 0 {
            return None;
        }
        let parsed = parse(value);
        if parsed.is_none() {
            self.add("INVALID_ENUM", field, "unknown value");
        }
        parsed
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

    /// A required choice: `None`, with `FIELD_REQUIRED` and `description`,
    /// when it is unspecified or not one this server knows.
    pub fn choice<T: Copy>(&mut self, field: String, value: &Choice<T>, description: &'static str) -> Option<T> {
        let known = value.known();
        if known.is_none() {
            self.add("FIELD_REQUIRED", field, description);
        }
        known
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

    fn id_document(&mut self, field_prefix: &str, id_type: &Choice<IdType>, number: &str) -> (IdType, String) {
        let ty = match id_type {
            Choice::Unspecified => IdType::None,
            Choice::Known(t) => *t,
            Choice::Unknown => {
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

/// Parses and validates a decision's content. `prefix` names the message in
/// field paths (e.g. `penalty_decision.`). `today` refuses future dates.
pub fn decision_doc(p: &DecisionInput, prefix: &str, today: NaiveDate) -> Result<DecisionDoc, AppError> {
    let mut v = Violations::default();
    let f = |name: &str| format!("{prefix}{name}");
    let party_in = &p.party;
    let kind = v.choice(
        f("party.kind"),
        &party_in.kind,
        "must be LEGAL_PERSON, INDIVIDUAL_BUSINESS or NATURAL_PERSON",
    );
    let kind = kind.unwrap_or(PartyKind::LegalPerson);
    let rep_in = &party_in.legal_representative;
    let (rep_type, rep_number) = v.id_document(&f("party.legal_representative."), &rep_in.id_type, &rep_in.id_number);
    let (id_type, id_number) = v.id_document(&f("party."), &party_in.id_type, &party_in.id_number);
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
        match k.known() {
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
    let procedure = v.choice(f("procedure"), &p.procedure, "must be SIMPLE or ORDINARY");
    let sector = v.choice(
        f("sector"),
        &p.sector,
        "is required (OTHER when none of the listed sectors applies)",
    );
    let severity = v.choice(f("severity"), &p.severity, "must be MINOR, GENERAL or SERIOUS");
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
    let auth_in = &p.authority;
    let authority = Org {
        name: v.text(&f("authority.name"), &auth_in.name, limits::NAME, true),
        credit_code: v.credit_code(&f("authority.credit_code"), &auth_in.credit_code, true),
    };
    let src_in = &p.data_source;
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
