//! The publicity policy: whether a penalty decision is published, and for how long
//! (DOMAIN.md §3 "Which decisions are published" and "Publicity periods").
//!
//! The rules are versioned data (`policy/publicity.toml`), keyed by the decision date, so a
//! future rule change is a new row, not a code change. This module only interprets that data:
//! it applies the exclusions in a fixed order, picks the rule set in force on the decision date
//! and reckons the periods by the Civil Code (民法典 Arts. 201-202).

use std::collections::HashSet;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// The built-in policy table.
const BUILTIN_TOML: &str = include_str!("../../policy/publicity.toml");

/// Rule code: a natural person's penalty is recorded but not publicly disclosed unless
/// configuration says otherwise (DOMAIN.md §3 "Natural persons").
pub const NATURAL_PERSON_NOT_DISCLOSED: &str = "NATURAL_PERSON_NOT_DISCLOSED";
/// Rule code: decisions made by simple procedure (简易程序) are not published
/// (沪府办规〔2024〕8号).
pub const SIMPLE_PROCEDURE: &str = "SIMPLE_PROCEDURE";
/// Rule code: decisions whose only penalties are 警告 and/or 通报批评 are not published
/// (沪府办规〔2024〕8号).
pub const WARNING_OR_CRITICISM_ONLY: &str = "WARNING_OR_CRITICISM_ONLY";
/// Rule code: minor-class (轻微) information is not published under the rule set in force
/// (e.g. NDRC 令第36号: "in principle not published").
pub const MINOR_NOT_PUBLISHED: &str = "MINOR_NOT_PUBLISHED";

/// Defines a closed set of codes with a stable machine name (serde and [`as_str`]) and the
/// Chinese label used in notices and exports.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => ($code:literal, $zh:literal), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant in declaration order, for listings and exhaustive tests.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stable machine code (SCREAMING_SNAKE_CASE) used by the API, the database and
            /// the policy TOML; identical to the serde name.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// Inverse of [`as_str`](Self::as_str); `None` for an unknown code (callers turn
            /// that into an `INVALID_ARGUMENT` naming the field).
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($code => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// The Chinese label, as written in the legal sources and the export columns.
            pub fn label_zh(&self) -> &'static str {
                match self {
                    $(Self::$variant => $zh,)+
                }
            }
        }
    };
}

code_enum! {
    /// Class of the penalty information by the sector's standard (轻微 / 一般 / 严重), which selects
    /// the publicity periods (NDRC 令第36号; earlier rule sets had general and serious only).
    /// Ordered by severity, so a decision with several penalties can take the most severe.
    #[derive(PartialOrd, Ord)]
    pub enum Severity {
        /// 轻微: in principle not published (NDRC 令第36号).
        Minor => ("MINOR", "轻微"),
        /// 一般: the ordinary class.
        General => ("GENERAL", "一般"),
        /// 严重: longer minimum periods.
        Serious => ("SERIOUS", "严重"),
    }
}

code_enum! {
    /// Regulatory sector of the decision; in Shanghai 2023-05-01..2026-03-31 the general-class
    /// minimum period is 1 year in the listed safety-critical sectors (DOMAIN.md §3).
    pub enum Sector {
        /// 安全生产 (work safety).
        SafetyProduction => ("SAFETY_PRODUCTION", "安全生产"),
        /// 消防 (fire safety).
        Fire => ("FIRE", "消防"),
        /// 食品 (food).
        Food => ("FOOD", "食品"),
        /// 药品 (drugs).
        Drug => ("DRUG", "药品"),
        /// 特种设备 (special equipment: boilers, lifts, pressure vessels, ...).
        SpecialEquipment => ("SPECIAL_EQUIPMENT", "特种设备"),
        /// 其他: any other sector.
        Other => ("OTHER", "其他"),
    }
}

code_enum! {
    /// The procedure by which the decision was made (行政处罚法 Chapter V); simple-procedure
    /// decisions are not published in Shanghai (沪府办规〔2024〕8号).
    pub enum Procedure {
        /// 简易程序 (on-the-spot decision, 行政处罚法 Art. 51).
        Simple => ("SIMPLE", "简易程序"),
        /// 普通程序 (ordinary procedure).
        Ordinary => ("ORDINARY", "普通程序"),
    }
}

code_enum! {
    /// 行政相对人类别 (CF_XDR_LB) of the national 双公示 data standard; natural persons are not
    /// publicly disclosed in Shanghai unless configured (DOMAIN.md §3).
    pub enum PartyKind {
        /// 法人及非法人组织 (legal persons and unincorporated organisations).
        LegalPerson => ("LEGAL_PERSON", "法人及非法人组织"),
        /// 个体工商户 (individual business; credit code starts `92`).
        IndividualBusiness => ("INDIVIDUAL_BUSINESS", "个体工商户"),
        /// 自然人 (natural person).
        NaturalPerson => ("NATURAL_PERSON", "自然人"),
    }
}

code_enum! {
    /// 处罚类别 (CF_CFLB): the penalty categories of 行政处罚法 Art. 9. One decision may carry
    /// several; a decision with only 警告 and/or 通报批评 is not published (沪府办规〔2024〕8号).
    pub enum PenaltyKind {
        /// 警告.
        Warning => ("WARNING", "警告"),
        /// 通报批评.
        CirculatedCriticism => ("CIRCULATED_CRITICISM", "通报批评"),
        /// 罚款.
        Fine => ("FINE", "罚款"),
        /// 没收违法所得.
        ConfiscateIllegalGains => ("CONFISCATE_ILLEGAL_GAINS", "没收违法所得"),
        /// 没收非法财物.
        ConfiscateIllegalProperty => ("CONFISCATE_ILLEGAL_PROPERTY", "没收非法财物"),
        /// 暂扣许可证件.
        SuspendLicense => ("SUSPEND_LICENSE", "暂扣许可证件"),
        /// 降低资质等级.
        DowngradeQualification => ("DOWNGRADE_QUALIFICATION", "降低资质等级"),
        /// 吊销许可证件.
        RevokeLicense => ("REVOKE_LICENSE", "吊销许可证件"),
        /// 限制开展生产经营活动.
        RestrictOperations => ("RESTRICT_OPERATIONS", "限制开展生产经营活动"),
        /// 责令停产停业.
        OrderSuspension => ("ORDER_SUSPENSION", "责令停产停业"),
        /// 责令关闭.
        OrderClosure => ("ORDER_CLOSURE", "责令关闭"),
        /// 限制从业.
        RestrictPractice => ("RESTRICT_PRACTICE", "限制从业"),
        /// 行政拘留.
        AdministrativeDetention => ("ADMINISTRATIVE_DETENTION", "行政拘留"),
        /// 其他 (other penalties prescribed by law or administrative regulation).
        Other => ("OTHER", "其他"),
    }
}

/// Adds `months` calendar months to `d` the way the Civil Code reckons a period: the start day
/// is not counted (民法典 Art. 201), and the period ends on the same-numbered day of the final
/// month, or on that month's last day if it has no such day (民法典 Art. 202).
/// E.g. 2025-08-31 + 6 → 2026-02-28; 2026-05-06 + 3 → 2026-08-06.
///
/// Returns `None` only if the result is outside chrono's date range (about ±262,000 years),
/// which no real decision date reaches; callers report that as an error instead of panicking.
pub fn add_months(d: NaiveDate, months: u32) -> Option<NaiveDate> {
    // chrono clamps to the last day of the target month, which is exactly Art. 202.
    d.checked_add_months(Months::new(months))
}

/// Why the policy could not be loaded or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The text is not valid TOML or does not have the expected shape (unknown or missing keys,
    /// unknown enum codes).
    #[error("publicity policy TOML is invalid: {0}")]
    Toml(String),
    /// A required text field is empty.
    #[error("publicity policy field {field} must not be empty")]
    EmptyField {
        /// Which field.
        field: String,
    },
    /// An exclusion table carries a code other than the one its semantics are fixed to.
    #[error("exclusion code must be {expected:?}, found {found:?}")]
    ExclusionCode {
        /// The fixed machine code of that exclusion.
        expected: &'static str,
        /// The code in the TOML.
        found: String,
    },
    /// A date field is not YYYY-MM-DD.
    #[error("rule set {rule_set}: {field} = {value:?} is not a date in YYYY-MM-DD form")]
    BadDate {
        /// Code of the rule set.
        rule_set: String,
        /// `effective_from` or `effective_until`.
        field: &'static str,
        /// The value as found.
        value: String,
    },
    /// The policy has no rule set.
    #[error("publicity policy has no rule set")]
    NoRuleSets,
    /// Two rule sets share a code.
    #[error("rule set code {code} is used twice")]
    DuplicateRuleSet {
        /// The repeated code.
        code: String,
    },
    /// `effective_from` is after `effective_until`.
    #[error("rule set {rule_set}: effective_from is after effective_until")]
    EmptyRange {
        /// Code of the rule set.
        rule_set: String,
    },
    /// Two rule sets apply to the same decision date, so the choice would be ambiguous.
    #[error("rule sets {first} and {second} overlap")]
    Overlap {
        /// The earlier-starting rule set.
        first: String,
        /// The later-starting rule set.
        second: String,
    },
    /// Some decision dates between two rule sets are governed by neither.
    #[error("no rule set covers decisions from {from} (after {after}, before {before})")]
    Gap {
        /// The rule set that ends before the gap.
        after: String,
        /// The rule set that starts after the gap.
        before: String,
        /// The first uncovered date.
        from: NaiveDate,
    },
    /// The last rule set has an end date, so future decisions would have no rule.
    #[error("the last rule set {rule_set} must be open-ended (no effective_until)")]
    NotOpenEnded {
        /// Code of the last rule set.
        rule_set: String,
    },
    /// A (possibly sector-adjusted) period has `min_months > max_months`, or `max_months == 0`.
    #[error(
        "rule set {rule_set}: {severity:?} periods for sector {sector:?} are invalid \
         (min {min_months} months, max {max_months} months; need min <= max and max >= 1)"
    )]
    InvalidPeriods {
        /// Code of the rule set.
        rule_set: String,
        /// The class whose periods are wrong.
        severity: Severity,
        /// The sector, if a sector override produced the wrong periods.
        sector: Option<Sector>,
        /// Minimum period in months.
        min_months: u32,
        /// Maximum period in months.
        max_months: u32,
    },
    /// `publish_minor = true` (or a MINOR override) without a `minor` period table.
    #[error("rule set {rule_set}: minor-class periods are needed but `minor` is missing")]
    MissingMinorPeriods {
        /// Code of the rule set.
        rule_set: String,
    },
    /// A sector override that names no sector or changes no period.
    #[error("rule set {rule_set}: a sector override needs sectors and min_months or max_months")]
    EmptyOverride {
        /// Code of the rule set.
        rule_set: String,
    },
    /// A configuration override names a rule set that does not exist.
    #[error("no rule set with code {code}")]
    UnknownRuleSet {
        /// The code asked for.
        code: String,
    },
    /// The decision date precedes every rule set.
    #[error("no publicity rule set applies to decisions made on {date}")]
    NoRuleSet {
        /// The decision date.
        date: NaiveDate,
    },
    /// A period end falls outside the representable date range (absurd input dates only).
    #[error("publicity period from {date} cannot be represented")]
    DateOutOfRange {
        /// The decision date.
        date: NaiveDate,
    },
}

/// What the policy needs to know about a penalty decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInput {
    /// 处罚决定日期 (CST calendar date); selects the rule set and starts the periods.
    pub decided_on: NaiveDate,
    /// Class of the information; for several penalties, that of the most severe (DOMAIN.md §3).
    pub severity: Severity,
    /// Regulatory sector (sector overrides of the minimum period).
    pub sector: Sector,
    /// Simple-procedure decisions are not published.
    pub procedure: Procedure,
    /// The decision's penalty categories. Must not be empty (the caller rejects that); an empty
    /// list is *not* treated as "warning only".
    pub penalty_kinds: Vec<PenaltyKind>,
    /// Natural persons are not published unless configured.
    pub party_kind: PartyKind,
}

/// The outcome of applying the policy to one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicationDecision {
    /// Publish, with these periods.
    Publish(PublicityPeriods),
    /// Record only; `rule` is a machine code (e.g. [`SIMPLE_PROCEDURE`]) and `citation` the
    /// legal source, both shown to the officer and kept with the decision.
    NotPublished {
        /// Machine code of the excluding rule.
        rule: String,
        /// Legal source of the rule.
        citation: String,
    },
}

/// The publicity periods of a published decision, with their end dates reckoned by 民法典
/// Arts. 201-202 (no extension for holidays: these are not deadlines for an act).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicityPeriods {
    /// Code of the rule set applied (e.g. `NDRC_36`), kept with the disclosure.
    pub rule_set: String,
    /// Legal source of that rule set, quoted in the 信用修复告知书.
    pub citation: String,
    /// Minimum publicity period in months (0 = repairable at once).
    pub min_months: u32,
    /// Maximum publicity period in months.
    pub max_months: u32,
    /// Last day of the minimum period: `decided_on + min_months`.
    pub min_ends_on: NaiveDate,
    /// First day a credit-repair application may be made: the day after `min_ends_on`.
    pub repair_eligible_on: NaiveDate,
    /// 公示截止期 (CF_GSJZQ): last day of the maximum period, `decided_on + max_months`;
    /// publication stops automatically the day after.
    pub publicity_ends_on: NaiveDate,
}

/// Minimum and maximum periods of one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Periods {
    /// Minimum period in months.
    min_months: u32,
    /// Maximum period in months.
    max_months: u32,
}

/// A sector-specific lengthening of one class's periods ("longest period wins").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectorOverride {
    /// The class it applies to.
    severity: Severity,
    /// The sectors it applies to.
    sectors: Vec<Sector>,
    /// Minimum period, if lengthened.
    min_months: Option<u32>,
    /// Maximum period, if lengthened.
    max_months: Option<u32>,
}

/// A simple exclusion as written in the TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExclusion {
    /// Machine code; must equal the fixed code.
    code: String,
    /// Legal source.
    citation: String,
}

/// The natural-person exclusion as written in the TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNaturalPerson {
    /// Machine code; must equal [`NATURAL_PERSON_NOT_DISCLOSED`].
    code: String,
    /// Legal source.
    citation: String,
    /// Whether natural persons are published after all.
    publish_natural_persons: bool,
}

/// The warning/criticism-only exclusion as written in the TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKindsExclusion {
    /// Machine code; must equal [`WARNING_OR_CRITICISM_ONLY`].
    code: String,
    /// Legal source.
    citation: String,
    /// A decision whose penalties all fall in this list is not published.
    only_kinds: Vec<PenaltyKind>,
}

/// The `[exclusions]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExclusions {
    /// See [`NATURAL_PERSON_NOT_DISCLOSED`].
    natural_person: RawNaturalPerson,
    /// See [`SIMPLE_PROCEDURE`].
    simple_procedure: RawExclusion,
    /// See [`WARNING_OR_CRITICISM_ONLY`].
    warning_or_criticism_only: RawKindsExclusion,
}

/// One `[[rule_sets]]` row as written in the TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleSet {
    /// Machine code, e.g. `NDRC_36`.
    code: String,
    /// Legal source.
    citation: String,
    /// First decision date governed (inclusive); absent = from the beginning of time.
    effective_from: Option<String>,
    /// Last decision date governed (inclusive); absent = open-ended.
    effective_until: Option<String>,
    /// Whether minor-class information is published.
    #[serde(default)]
    publish_minor: bool,
    /// Minor-class periods (used only when published).
    minor: Option<Periods>,
    /// General-class periods.
    general: Periods,
    /// Serious-class periods.
    serious: Periods,
    /// Sector-specific lengthening.
    #[serde(default)]
    sector_overrides: Vec<SectorOverride>,
}

/// The whole TOML document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    /// Policy version string.
    version: String,
    /// The exclusions.
    exclusions: RawExclusions,
    /// The dated rule sets.
    rule_sets: Vec<RawRuleSet>,
}

/// An exclusion's machine code and citation, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Exclusion {
    /// Machine code.
    code: String,
    /// Legal source.
    citation: String,
}

impl Exclusion {
    /// The decision this exclusion produces.
    fn decision(&self) -> PublicationDecision {
        PublicationDecision::NotPublished {
            rule: self.code.clone(),
            citation: self.citation.clone(),
        }
    }
}

/// A validated rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RuleSet {
    /// Machine code.
    code: String,
    /// Legal source.
    citation: String,
    /// First decision date governed, inclusive.
    from: Option<NaiveDate>,
    /// Last decision date governed, inclusive.
    until: Option<NaiveDate>,
    /// Whether minor-class information is published.
    publish_minor: bool,
    /// Minor-class periods.
    minor: Option<Periods>,
    /// General-class periods.
    general: Periods,
    /// Serious-class periods.
    serious: Periods,
    /// Sector-specific lengthening.
    overrides: Vec<SectorOverride>,
}

impl RuleSet {
    /// Whether this rule set governs decisions made on `d`.
    fn applies_to(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= d) && self.until.is_none_or(|u| d <= u)
    }

    /// The base periods of a class, ignoring `publish_minor`.
    fn base(&self, severity: Severity) -> Option<Periods> {
        match severity {
            Severity::Minor => self.minor,
            Severity::General => Some(self.general),
            Severity::Serious => Some(self.serious),
        }
    }

    /// The effective periods for a class and sector, or `None` if that class is not published.
    /// Overrides lengthen: the longest minimum and the longest maximum win.
    fn periods(&self, severity: Severity, sector: Sector) -> Option<Periods> {
        if severity == Severity::Minor && !self.publish_minor {
            return None;
        }
        Some(self.lengthened(self.base(severity)?, severity, sector))
    }

    /// `base` lengthened by the overrides of this class and sector: the
    /// longest minimum and the longest maximum win.
    fn lengthened(&self, base: Periods, severity: Severity, sector: Sector) -> Periods {
        let mut p = base;
        for o in self
            .overrides
            .iter()
            .filter(|o| o.severity == severity && o.sectors.contains(&sector))
        {
            p.min_months = p.min_months.max(o.min_months.unwrap_or(0));
            p.max_months = p.max_months.max(o.max_months.unwrap_or(0));
        }
        p
    }

    /// Checks that every class and sector combination that can be published has sane periods.
    fn validate_periods(&self) -> Result<(), PolicyError> {
        let needs_minor = self.publish_minor || self.overrides.iter().any(|o| o.severity == Severity::Minor);
        if needs_minor && self.minor.is_none() {
            return Err(PolicyError::MissingMinorPeriods {
                rule_set: self.code.clone(),
            });
        }
        for o in &self.overrides {
            if o.sectors.is_empty() || (o.min_months.is_none() && o.max_months.is_none()) {
                return Err(PolicyError::EmptyOverride {
                    rule_set: self.code.clone(),
                });
            }
        }
        for &severity in Severity::ALL {
            let Some(base) = self.base(severity) else {
                continue;
            };
            self.check(severity, None, base)?;
            for &sector in Sector::ALL {
                self.check(severity, Some(sector), self.lengthened(base, severity, sector))?;
            }
        }
        Ok(())
    }

    /// One min/max sanity check.
    fn check(&self, severity: Severity, sector: Option<Sector>, p: Periods) -> Result<(), PolicyError> {
        if p.min_months > p.max_months || p.max_months == 0 {
            return Err(PolicyError::InvalidPeriods {
                rule_set: self.code.clone(),
                severity,
                sector,
                min_months: p.min_months,
                max_months: p.max_months,
            });
        }
        Ok(())
    }
}

/// The publicity policy: exclusions plus dated rule sets, loaded from versioned data
/// (DOMAIN.md §3: "The rule sets are data ... a future rule change is a new row").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicityPolicy {
    /// Policy version, recorded with each decision.
    version: String,
    /// Natural-person exclusion.
    natural_person: Exclusion,
    /// Whether natural persons are published after all.
    publish_natural_persons: bool,
    /// Simple-procedure exclusion.
    simple_procedure: Exclusion,
    /// Warning/criticism-only exclusion.
    warning_only: Exclusion,
    /// The penalty kinds that alone do not get a decision published.
    warning_only_kinds: Vec<PenaltyKind>,
    /// Rule sets sorted by start date, contiguous, the last open-ended.
    rule_sets: Vec<RuleSet>,
}

/// Fails with [`PolicyError::EmptyField`] if `value` is blank.
fn non_empty(field: impl Into<String>, value: &str) -> Result<(), PolicyError> {
    if value.trim().is_empty() {
        return Err(PolicyError::EmptyField { field: field.into() });
    }
    Ok(())
}

/// Validates an exclusion's fixed code and citation.
fn exclusion(table: &str, expected: &'static str, code: String, citation: String) -> Result<Exclusion, PolicyError> {
    if code != expected {
        return Err(PolicyError::ExclusionCode { expected, found: code });
    }
    non_empty(format!("exclusions.{table}.citation"), &citation)?;
    Ok(Exclusion { code, citation })
}

/// Parses an optional inclusive `YYYY-MM-DD` date field.
fn parse_date(rule_set: &str, field: &'static str, value: Option<&str>) -> Result<Option<NaiveDate>, PolicyError> {
    value
        .map(|v| {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| PolicyError::BadDate {
                rule_set: rule_set.to_owned(),
                field,
                value: v.to_owned(),
            })
        })
        .transpose()
}

impl PublicityPolicy {
    /// The policy shipped with the service (`policy/publicity.toml`). Fallible so that a bad
    /// edit of the data surfaces as a start-up error, not a panic; the tests load it.
    pub fn builtin() -> Result<Self, PolicyError> {
        Self::from_toml(BUILTIN_TOML)
    }

    /// Loads and validates a policy: every exclusion present with its fixed code and a
    /// citation; rule sets with unique codes that neither overlap nor leave gaps, from the
    /// earliest to an open-ended last one; `min_months <= max_months` and `max_months >= 1` for
    /// every class and sector that can be published.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        non_empty("version", &raw.version)?;
        let ex = raw.exclusions;
        let natural_person = exclusion(
            "natural_person",
            NATURAL_PERSON_NOT_DISCLOSED,
            ex.natural_person.code,
            ex.natural_person.citation,
        )?;
        let simple_procedure = exclusion(
            "simple_procedure",
            SIMPLE_PROCEDURE,
            ex.simple_procedure.code,
            ex.simple_procedure.citation,
        )?;
        let warning_only = exclusion(
            "warning_or_criticism_only",
            WARNING_OR_CRITICISM_ONLY,
            ex.warning_or_criticism_only.code,
            ex.warning_or_criticism_only.citation,
        )?;
        if ex.warning_or_criticism_only.only_kinds.is_empty() {
            return Err(PolicyError::EmptyField {
                field: "exclusions.warning_or_criticism_only.only_kinds".into(),
            });
        }

        let mut rule_sets = Vec::with_capacity(raw.rule_sets.len());
        let mut codes = HashSet::new();
        for r in raw.rule_sets {
            non_empty("rule_sets.code", &r.code)?;
            non_empty(format!("rule_sets.{}.citation", r.code), &r.citation)?;
            if !codes.insert(r.code.clone()) {
                return Err(PolicyError::DuplicateRuleSet { code: r.code });
            }
            let from = parse_date(&r.code, "effective_from", r.effective_from.as_deref())?;
            let until = parse_date(&r.code, "effective_until", r.effective_until.as_deref())?;
            if let (Some(f), Some(u)) = (from, until)
                && f > u
            {
                return Err(PolicyError::EmptyRange { rule_set: r.code });
            }
            let rs = RuleSet {
                code: r.code,
                citation: r.citation,
                from,
                until,
                publish_minor: r.publish_minor,
                minor: r.minor,
                general: r.general,
                serious: r.serious,
                overrides: r.sector_overrides,
            };
            rs.validate_periods()?;
            rule_sets.push(rs);
        }

        // `None` (from the beginning of time) sorts first.
        rule_sets.sort_by_key(|r| r.from);
        for pair in rule_sets.windows(2) {
            let [a, b] = pair else { continue };
            let overlap = || PolicyError::Overlap {
                first: a.code.clone(),
                second: b.code.clone(),
            };
            // Two open starts, or an open-ended rule set followed by another, overlap.
            let (Some(a_until), Some(b_from)) = (a.until, b.from) else {
                return Err(overlap());
            };
            if b_from <= a_until {
                return Err(overlap());
            }
            let next = a_until.succ_opt().ok_or_else(overlap)?;
            if b_from > next {
                return Err(PolicyError::Gap {
                    after: a.code.clone(),
                    before: b.code.clone(),
                    from: next,
                });
            }
        }
        match rule_sets.last() {
            None => return Err(PolicyError::NoRuleSets),
            Some(last) if last.until.is_some() => {
                return Err(PolicyError::NotOpenEnded {
                    rule_set: last.code.clone(),
                });
            }
            Some(_) => {}
        }

        Ok(Self {
            version: raw.version,
            natural_person,
            publish_natural_persons: ex.natural_person.publish_natural_persons,
            simple_procedure,
            warning_only,
            warning_only_kinds: ex.warning_or_criticism_only.only_kinds,
            rule_sets,
        })
    }

    /// The policy version, recorded with each publication decision so it can be explained later.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether natural persons' penalties are published (DOMAIN.md §3: not, unless configured).
    pub fn publish_natural_persons(&self) -> bool {
        self.publish_natural_persons
    }

    /// Returns the policy with the natural-person setting overridden by service configuration.
    pub fn with_publish_natural_persons(mut self, publish: bool) -> Self {
        self.publish_natural_persons = publish;
        self
    }

    /// Returns the policy with one rule set's `publish_minor` overridden by service
    /// configuration (NDRC 令第36号: minor information is "in principle" not published; a sector
    /// may publish it for at most 3 months). Fails if the rule set does not exist, or if it has
    /// no minor-class periods to publish with.
    pub fn with_publish_minor(mut self, rule_set: &str, publish: bool) -> Result<Self, PolicyError> {
        let rs = self
            .rule_sets
            .iter_mut()
            .find(|r| r.code == rule_set)
            .ok_or_else(|| PolicyError::UnknownRuleSet {
                code: rule_set.to_owned(),
            })?;
        rs.publish_minor = publish;
        rs.validate_periods()?;
        Ok(self)
    }

    /// Decides whether a decision is published and, if so, for how long (DOMAIN.md §3).
    ///
    /// Exclusions are checked in this order: natural person (unless configured), simple
    /// procedure, only 警告/通报批评, then the minor class under the rule set in force on
    /// `decided_on`. Periods are reckoned from `decided_on` by 民法典 Arts. 201-202.
    ///
    /// Fails with [`PolicyError::NoRuleSet`] if the decision predates every rule set.
    pub fn decide(&self, input: &PolicyInput) -> Result<PublicationDecision, PolicyError> {
        if input.party_kind == PartyKind::NaturalPerson && !self.publish_natural_persons {
            return Ok(self.natural_person.decision());
        }
        if input.procedure == Procedure::Simple {
            return Ok(self.simple_procedure.decision());
        }
        if !input.penalty_kinds.is_empty() && input.penalty_kinds.iter().all(|k| self.warning_only_kinds.contains(k)) {
            return Ok(self.warning_only.decision());
        }
        let date = input.decided_on;
        let rs = self
            .rule_sets
            .iter()
            .find(|r| r.applies_to(date))
            .ok_or(PolicyError::NoRuleSet { date })?;
        let Some(p) = rs.periods(input.severity, input.sector) else {
            return Ok(PublicationDecision::NotPublished {
                rule: MINOR_NOT_PUBLISHED.to_owned(),
                citation: rs.citation.clone(),
            });
        };
        let out_of_range = || PolicyError::DateOutOfRange { date };
        let min_ends_on = add_months(date, p.min_months).ok_or_else(out_of_range)?;
        let repair_eligible_on = min_ends_on.succ_opt().ok_or_else(out_of_range)?;
        let publicity_ends_on = add_months(date, p.max_months).ok_or_else(out_of_range)?;
        Ok(PublicationDecision::Publish(PublicityPeriods {
            rule_set: rs.code.clone(),
            citation: rs.citation.clone(),
            min_months: p.min_months,
            max_months: p.max_months,
            min_ends_on,
            repair_eligible_on,
            publicity_ends_on,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::date;
    use proptest::prelude::*;

    fn policy() -> PublicityPolicy {
        PublicityPolicy::builtin().unwrap()
    }

    /// An ordinary-procedure fine on a legal person.
    fn input(decided_on: NaiveDate, severity: Severity, sector: Sector) -> PolicyInput {
        PolicyInput {
            decided_on,
            severity,
            sector,
            procedure: Procedure::Ordinary,
            penalty_kinds: vec![PenaltyKind::Fine],
            party_kind: PartyKind::LegalPerson,
        }
    }

    fn periods(p: &PublicityPolicy, i: &PolicyInput) -> PublicityPeriods {
        match p.decide(i).unwrap() {
            PublicationDecision::Publish(periods) => periods,
            other => panic!("expected Publish, got {other:?}"),
        }
    }

    fn not_published(p: &PublicityPolicy, i: &PolicyInput) -> (String, String) {
        match p.decide(i).unwrap() {
            PublicationDecision::NotPublished { rule, citation } => (rule, citation),
            other => panic!("expected NotPublished, got {other:?}"),
        }
    }

    #[test]
    fn add_months_follows_civil_code_art_202() {
        assert_eq!(add_months(date(2025, 8, 31), 6), Some(date(2026, 2, 28)));
        assert_eq!(add_months(date(2026, 5, 6), 3), Some(date(2026, 8, 6)));
        assert_eq!(add_months(date(2026, 5, 6), 12), Some(date(2027, 5, 6)));
        assert_eq!(add_months(date(2025, 11, 30), 3), Some(date(2026, 2, 28)));
        assert_eq!(add_months(date(2024, 2, 29), 12), Some(date(2025, 2, 28)));
        assert_eq!(add_months(date(2023, 11, 30), 3), Some(date(2024, 2, 29)));
        assert_eq!(add_months(date(2026, 1, 31), 1), Some(date(2026, 2, 28)));
        assert_eq!(add_months(date(2026, 1, 31), 0), Some(date(2026, 1, 31)));
        assert_eq!(add_months(NaiveDate::MAX, 1), None);
        assert_eq!(add_months(date(2026, 1, 1), u32::MAX), None);
    }

    #[test]
    fn builtin_policy_loads() {
        let p = policy();
        assert_eq!(p.version(), "2026.1");
        assert!(!p.publish_natural_persons());
        let codes: Vec<_> = p.rule_sets.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["NDRC_2019_527", "SH_NDRC_58", "NDRC_36"]);
    }

    #[test]
    fn safety_production_general_2025() {
        // SH_NDRC_58, 安全生产 general: min 1 year, max 3 years.
        let got = periods(
            &policy(),
            &input(date(2025, 6, 10), Severity::General, Sector::SafetyProduction),
        );
        assert_eq!(got.rule_set, "SH_NDRC_58");
        assert_eq!((got.min_months, got.max_months), (12, 36));
        assert_eq!(got.min_ends_on, date(2026, 6, 10));
        assert_eq!(got.repair_eligible_on, date(2026, 6, 11));
        assert_eq!(got.publicity_ends_on, date(2028, 6, 10));
    }

    #[test]
    fn other_sector_general_2025() {
        let got = periods(&policy(), &input(date(2025, 6, 10), Severity::General, Sector::Other));
        assert_eq!((got.min_months, got.max_months), (3, 36));
        assert_eq!(got.min_ends_on, date(2025, 9, 10));
        assert_eq!(got.repair_eligible_on, date(2025, 9, 11));
        assert_eq!(got.publicity_ends_on, date(2028, 6, 10));
    }

    #[test]
    fn every_listed_sector_gets_one_year_minimum_under_sh_58() {
        let p = policy();
        for sector in [
            Sector::SafetyProduction,
            Sector::Fire,
            Sector::Food,
            Sector::Drug,
            Sector::SpecialEquipment,
        ] {
            let got = periods(&p, &input(date(2024, 3, 1), Severity::General, sector));
            assert_eq!(got.min_months, 12, "{sector:?}");
        }
        // Serious is already 1 year: the override is for general only.
        let got = periods(&p, &input(date(2024, 3, 1), Severity::Serious, Sector::Food));
        assert_eq!((got.min_months, got.max_months), (12, 36));
    }

    #[test]
    fn ndrc_36_general_domain_example() {
        let got = periods(&policy(), &input(date(2026, 5, 6), Severity::General, Sector::Other));
        assert_eq!(got.rule_set, "NDRC_36");
        assert_eq!(got.citation, "国家发展改革委令第36号《信用修复管理办法》");
        assert_eq!(got.min_ends_on, date(2026, 8, 6));
        assert_eq!(got.repair_eligible_on, date(2026, 8, 7));
        assert_eq!(got.publicity_ends_on, date(2027, 5, 6));
    }

    #[test]
    fn switch_from_sh_58_to_ndrc_36() {
        let p = policy();
        let before = periods(
            &p,
            &input(date(2026, 3, 31), Severity::General, Sector::SafetyProduction),
        );
        assert_eq!(before.rule_set, "SH_NDRC_58");
        assert_eq!(before.min_ends_on, date(2027, 3, 31));
        assert_eq!(before.publicity_ends_on, date(2029, 3, 31));
        let after = periods(
            &p,
            &input(date(2026, 4, 1), Severity::General, Sector::SafetyProduction),
        );
        assert_eq!(after.rule_set, "NDRC_36");
        assert_eq!(after.min_ends_on, date(2026, 7, 1));
        assert_eq!(after.publicity_ends_on, date(2027, 4, 1));
    }

    #[test]
    fn switch_from_2019_rules_to_sh_58() {
        let p = policy();
        let old = periods(&p, &input(date(2023, 4, 30), Severity::General, Sector::Fire));
        assert_eq!(old.rule_set, "NDRC_2019_527");
        assert_eq!((old.min_months, old.max_months), (3, 12));
        let new = periods(&p, &input(date(2023, 5, 1), Severity::General, Sector::Fire));
        assert_eq!(new.rule_set, "SH_NDRC_58");
        assert_eq!((new.min_months, new.max_months), (12, 36));
    }

    #[test]
    fn serious_under_2019_rules() {
        let got = periods(&policy(), &input(date(2022, 8, 31), Severity::Serious, Sector::Other));
        assert_eq!(got.rule_set, "NDRC_2019_527");
        assert_eq!(got.citation, "发改办财金〔2019〕527号");
        assert_eq!((got.min_months, got.max_months), (6, 36));
        assert_eq!(got.min_ends_on, date(2023, 2, 28));
        assert_eq!(got.repair_eligible_on, date(2023, 3, 1));
        assert_eq!(got.publicity_ends_on, date(2025, 8, 31));
        // The 2019 rule set is open at the start: very old history still has a rule.
        assert!(
            policy()
                .decide(&input(date(2001, 1, 1), Severity::General, Sector::Other))
                .is_ok()
        );
    }

    #[test]
    fn month_end_reckoning() {
        let p = policy();
        let got = periods(&p, &input(date(2025, 11, 30), Severity::General, Sector::Other));
        assert_eq!(got.min_ends_on, date(2026, 2, 28));
        assert_eq!(got.repair_eligible_on, date(2026, 3, 1));
        // Leap day + 12 months (SH_NDRC_58 safety general) → 2025-02-28; + 36 → 2027-02-28.
        let got = periods(
            &p,
            &input(date(2024, 2, 29), Severity::General, Sector::SafetyProduction),
        );
        assert_eq!(got.min_ends_on, date(2025, 2, 28));
        assert_eq!(got.repair_eligible_on, date(2025, 3, 1));
        assert_eq!(got.publicity_ends_on, date(2027, 2, 28));
    }

    #[test]
    fn simple_procedure_is_excluded() {
        let mut i = input(date(2025, 6, 10), Severity::General, Sector::Other);
        i.procedure = Procedure::Simple;
        let (rule, citation) = not_published(&policy(), &i);
        assert_eq!(rule, SIMPLE_PROCEDURE);
        assert!(citation.contains("沪府办规〔2024〕8号"));
    }

    #[test]
    fn warning_or_criticism_only_is_excluded() {
        let p = policy();
        let mut i = input(date(2025, 6, 10), Severity::General, Sector::Other);
        for kinds in [
            vec![PenaltyKind::Warning],
            vec![PenaltyKind::CirculatedCriticism],
            vec![PenaltyKind::Warning, PenaltyKind::CirculatedCriticism],
        ] {
            i.penalty_kinds = kinds;
            let (rule, citation) = not_published(&p, &i);
            assert_eq!(rule, WARNING_OR_CRITICISM_ONLY);
            assert!(citation.contains("沪府办规〔2024〕8号"));
        }
    }

    #[test]
    fn warning_plus_fine_is_published() {
        let mut i = input(date(2025, 6, 10), Severity::General, Sector::Other);
        i.penalty_kinds = vec![PenaltyKind::Warning, PenaltyKind::Fine];
        assert_eq!(periods(&policy(), &i).min_ends_on, date(2025, 9, 10));
    }

    #[test]
    fn empty_penalty_list_is_not_warning_only() {
        let mut i = input(date(2025, 6, 10), Severity::General, Sector::Other);
        i.penalty_kinds.clear();
        assert!(matches!(policy().decide(&i), Ok(PublicationDecision::Publish(_))));
    }

    #[test]
    fn minor_not_published_under_each_rule_set() {
        let p = policy();
        for (d, citation) in [
            (date(2022, 8, 31), "发改办财金〔2019〕527号"),
            (
                date(2025, 6, 10),
                "国家发展改革委令第58号《失信行为纠正后的信用信息修复管理办法（试行）》（上海市执行口径）",
            ),
            (date(2026, 5, 6), "国家发展改革委令第36号《信用修复管理办法》"),
        ] {
            let got = not_published(&p, &input(d, Severity::Minor, Sector::Other));
            assert_eq!(got, (MINOR_NOT_PUBLISHED.to_owned(), citation.to_owned()));
        }
    }

    #[test]
    fn natural_person_not_published_unless_configured() {
        let mut i = input(date(2025, 6, 10), Severity::General, Sector::Other);
        i.party_kind = PartyKind::NaturalPerson;
        let (rule, _) = not_published(&policy(), &i);
        assert_eq!(rule, NATURAL_PERSON_NOT_DISCLOSED);
        // Checked before simple procedure.
        i.procedure = Procedure::Simple;
        assert_eq!(not_published(&policy(), &i).0, NATURAL_PERSON_NOT_DISCLOSED);
        // Configured on: the other rules apply.
        let on = policy().with_publish_natural_persons(true);
        assert_eq!(not_published(&on, &i).0, SIMPLE_PROCEDURE);
        i.procedure = Procedure::Ordinary;
        assert_eq!(periods(&on, &i).min_ends_on, date(2025, 9, 10));
        // The same setting in the TOML.
        let text = BUILTIN_TOML.replace("publish_natural_persons = false", "publish_natural_persons = true");
        let on = PublicityPolicy::from_toml(&text).unwrap();
        assert!(on.publish_natural_persons());
        // Individual businesses are published like legal persons.
        i.party_kind = PartyKind::IndividualBusiness;
        assert!(matches!(policy().decide(&i), Ok(PublicationDecision::Publish(_))));
    }

    #[test]
    fn exclusion_order_simple_before_warning_before_minor() {
        let mut i = input(date(2026, 5, 6), Severity::Minor, Sector::Other);
        i.procedure = Procedure::Simple;
        i.penalty_kinds = vec![PenaltyKind::Warning];
        assert_eq!(not_published(&policy(), &i).0, SIMPLE_PROCEDURE);
        i.procedure = Procedure::Ordinary;
        assert_eq!(not_published(&policy(), &i).0, WARNING_OR_CRITICISM_ONLY);
    }

    #[test]
    fn publish_minor_override_gives_zero_to_three_months() {
        let on = policy().with_publish_minor("NDRC_36", true).unwrap();
        let got = periods(&on, &input(date(2026, 5, 6), Severity::Minor, Sector::Other));
        assert_eq!((got.min_months, got.max_months), (0, 3));
        assert_eq!(got.min_ends_on, date(2026, 5, 6));
        assert_eq!(got.repair_eligible_on, date(2026, 5, 7));
        assert_eq!(got.publicity_ends_on, date(2026, 8, 6));
        // The same through the TOML.
        let text = BUILTIN_TOML.replace("publish_minor = false\nminor =", "publish_minor = true\nminor =");
        assert_ne!(text, BUILTIN_TOML);
        let on = PublicityPolicy::from_toml(&text).unwrap();
        let got = periods(&on, &input(date(2026, 5, 6), Severity::Minor, Sector::Other));
        assert_eq!((got.min_months, got.max_months), (0, 3));
        // Rule sets without minor periods cannot be switched on.
        assert_eq!(
            policy().with_publish_minor("SH_NDRC_58", true),
            Err(PolicyError::MissingMinorPeriods {
                rule_set: "SH_NDRC_58".into()
            })
        );
        assert_eq!(
            policy().with_publish_minor("NOPE", true),
            Err(PolicyError::UnknownRuleSet { code: "NOPE".into() })
        );
    }

    #[test]
    fn from_toml_rejects_overlapping_rule_sets() {
        let text = BUILTIN_TOML.replace("effective_from = \"2026-04-01\"", "effective_from = \"2026-03-01\"");
        assert_eq!(
            PublicityPolicy::from_toml(&text),
            Err(PolicyError::Overlap {
                first: "SH_NDRC_58".into(),
                second: "NDRC_36".into()
            })
        );
        // Two rule sets open at the start.
        let text = BUILTIN_TOML.replace("effective_from = \"2023-05-01\"\n", "");
        assert!(matches!(
            PublicityPolicy::from_toml(&text),
            Err(PolicyError::Overlap { .. })
        ));
    }

    #[test]
    fn from_toml_rejects_gaps_and_closed_ends() {
        let text = BUILTIN_TOML.replace("effective_from = \"2026-04-01\"", "effective_from = \"2026-04-02\"");
        assert_eq!(
            PublicityPolicy::from_toml(&text),
            Err(PolicyError::Gap {
                after: "SH_NDRC_58".into(),
                before: "NDRC_36".into(),
                from: date(2026, 4, 1)
            })
        );
        let text = BUILTIN_TOML.replace(
            "effective_from = \"2026-04-01\"",
            "effective_from = \"2026-04-01\"\neffective_until = \"2030-12-31\"",
        );
        assert_eq!(
            PublicityPolicy::from_toml(&text),
            Err(PolicyError::NotOpenEnded {
                rule_set: "NDRC_36".into()
            })
        );
    }

    #[test]
    fn from_toml_validates_periods_and_fields() {
        let text = BUILTIN_TOML.replace(
            "general = { min_months = 3, max_months = 12 }\nserious = { min_months = 12",
            "general = { min_months = 13, max_months = 12 }\nserious = { min_months = 12",
        );
        assert!(matches!(
            PublicityPolicy::from_toml(&text),
            Err(PolicyError::InvalidPeriods {
                severity: Severity::General,
                min_months: 13,
                max_months: 12,
                ..
            })
        ));
        // A sector override may not push the minimum past the maximum.
        let text = BUILTIN_TOML.replace("min_months = 12\n", "min_months = 48\n");
        assert!(matches!(
            PublicityPolicy::from_toml(&text),
            Err(PolicyError::InvalidPeriods {
                sector: Some(Sector::SafetyProduction),
                ..
            })
        ));
        let text = BUILTIN_TOML.replace("\"2023-05-01\"", "\"2023-05-32\"");
        assert!(matches!(
            PublicityPolicy::from_toml(&text),
            Err(PolicyError::BadDate { .. })
        ));
        let text = BUILTIN_TOML.replace("code = \"SIMPLE_PROCEDURE\"", "code = \"SIMPLE\"");
        assert!(matches!(
            PublicityPolicy::from_toml(&text),
            Err(PolicyError::ExclusionCode { .. })
        ));
        let text = BUILTIN_TOML.replace("\"CIRCULATED_CRITICISM\"]", "\"CRITICISM\"]");
        assert!(matches!(PublicityPolicy::from_toml(&text), Err(PolicyError::Toml(_))));
        let text = BUILTIN_TOML.replace("publish_minor = false\nminor", "publish_minr = false\nminor");
        assert!(matches!(PublicityPolicy::from_toml(&text), Err(PolicyError::Toml(_))));
        let text = BUILTIN_TOML.replace("code = \"NDRC_36\"", "code = \"SH_NDRC_58\"");
        assert!(matches!(
            PublicityPolicy::from_toml(&text),
            Err(PolicyError::DuplicateRuleSet { .. })
        ));
    }

    #[test]
    fn no_rule_set_before_a_dated_first_rule_set() {
        let text = BUILTIN_TOML.replace(
            "effective_until = \"2023-04-30\"",
            "effective_from = \"2019-07-01\"\neffective_until = \"2023-04-30\"",
        );
        let p = PublicityPolicy::from_toml(&text).unwrap();
        assert_eq!(
            p.decide(&input(date(2019, 6, 30), Severity::General, Sector::Other)),
            Err(PolicyError::NoRuleSet {
                date: date(2019, 6, 30)
            })
        );
        assert!(
            p.decide(&input(date(2019, 7, 1), Severity::General, Sector::Other))
                .is_ok()
        );
    }

    #[test]
    fn enum_codes_labels_and_serde_agree() {
        #[derive(Deserialize, Serialize)]
        struct Probe<T> {
            v: T,
        }
        fn check<T>(all: &[T], as_str: fn(&T) -> &'static str, parse: fn(&str) -> Option<T>)
        where
            T: Copy + PartialEq + std::fmt::Debug + Serialize + for<'de> Deserialize<'de>,
        {
            for &v in all {
                let code = as_str(&v);
                assert_eq!(parse(code), Some(v));
                let text = toml::to_string(&Probe { v }).unwrap();
                assert_eq!(text.trim(), format!("v = \"{code}\""));
                let back: Probe<T> = toml::from_str(&text).unwrap();
                assert_eq!(back.v, v);
            }
            assert_eq!(parse("nope"), None);
        }
        check(Severity::ALL, Severity::as_str, Severity::parse);
        check(Sector::ALL, Sector::as_str, Sector::parse);
        check(Procedure::ALL, Procedure::as_str, Procedure::parse);
        check(PartyKind::ALL, PartyKind::as_str, PartyKind::parse);
        check(PenaltyKind::ALL, PenaltyKind::as_str, PenaltyKind::parse);

        assert_eq!(PenaltyKind::ALL.len(), 14);
        let labels: Vec<_> = PenaltyKind::ALL.iter().map(|k| k.label_zh()).collect();
        assert_eq!(
            labels,
            [
                "警告",
                "通报批评",
                "罚款",
                "没收违法所得",
                "没收非法财物",
                "暂扣许可证件",
                "降低资质等级",
                "吊销许可证件",
                "限制开展生产经营活动",
                "责令停产停业",
                "责令关闭",
                "限制从业",
                "行政拘留",
                "其他"
            ]
        );
        assert_eq!(Severity::Serious.label_zh(), "严重");
        assert_eq!(Sector::SpecialEquipment.label_zh(), "特种设备");
        assert_eq!(Procedure::Simple.label_zh(), "简易程序");
        assert_eq!(PartyKind::LegalPerson.label_zh(), "法人及非法人组织");
        assert!(Severity::Minor < Severity::General && Severity::General < Severity::Serious);
    }

    proptest! {
        #[test]
        fn periods_are_ordered(
            days in 0u64..20_000,
            sev in 0usize..3,
            sec in 0usize..6,
        ) {
            let p = policy().with_publish_minor("NDRC_36", true).unwrap();
            let d = date(2000, 1, 1) + chrono::Days::new(days);
            let i = input(d, Severity::ALL[sev], Sector::ALL[sec]);
            match p.decide(&i).unwrap() {
                PublicationDecision::Publish(got) => {
                    prop_assert!(got.min_ends_on >= d);
                    prop_assert!(got.repair_eligible_on > got.min_ends_on);
                    prop_assert!(got.publicity_ends_on >= got.min_ends_on);
                    prop_assert!(got.publicity_ends_on > d);
                }
                PublicationDecision::NotPublished { rule, .. } => {
                    prop_assert_eq!(rule, MINOR_NOT_PUBLISHED);
                    prop_assert_eq!(Severity::ALL[sev], Severity::Minor);
                }
            }
        }

        #[test]
        fn add_months_lands_on_same_day_or_month_end(days in 0u64..40_000, m in 0u32..600) {
            let d = date(1950, 1, 1) + chrono::Days::new(days);
            let e = add_months(d, m).unwrap();
            use chrono::Datelike;
            let months = (e.year() - d.year()) * 12 + e.month() as i32 - d.month() as i32;
            prop_assert_eq!(months, m as i32);
            if e.day() != d.day() {
                prop_assert!(e.day() < d.day());
                prop_assert_eq!(e.succ_opt().unwrap().day(), 1);
            }
        }
    }
}
