//! States, actors and the facts recorded as a decision moves through its life:
//! legal review, publication or exclusion, correction, withdrawal, fulfilment.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Microseconds since the Unix epoch (UTC): how instants are stored.
pub type Micros = i64;

str_enum!(
    /// Where a penalty decision stands.
    DecisionState {
        /// Recorded, not yet published or excluded.
        Recorded = "RECORDED",
        /// Published: it has a disclosure.
        Published = "PUBLISHED",
        /// The policy excluded it from publication.
        NotPublished = "NOT_PUBLISHED",
        /// Withdrawn (行政处罚法 Art. 48).
        Withdrawn = "WITHDRAWN",
    }
);

str_enum!(
    /// Where a disclosure stands. Only ACTIVE ones are shared.
    DisclosureState {
        /// Public.
        Active = "ACTIVE",
        /// Taken down after approved credit repair.
        Repaired = "REPAIRED",
        /// Its maximum publicity period ended.
        Expired = "EXPIRED",
        /// The decision was withdrawn.
        Withdrawn = "WITHDRAWN",
    }
);

str_enum!(
    /// Kind of a change-feed entry.
    ChangeKind {
        /// A record became public (again).
        Published = "PUBLISHED",
        /// A public record got a new version.
        Corrected = "CORRECTED",
        /// A record stopped being public.
        Terminated = "TERMINATED",
    }
);

str_enum!(
    /// Why a record stopped being public.
    TerminationReason {
        /// Credit repair approved.
        Repaired = "REPAIRED",
        /// Maximum period over.
        Expired = "EXPIRED",
        /// Decision withdrawn.
        Withdrawn = "WITHDRAWN",
    }
);

str_enum!(
    /// The roles of API.md. A key has exactly one.
    Role {
        /// 执法人员 or the case system acting for them.
        Officer = "officer",
        /// 法制审核人员.
        LegalReviewer = "legal_reviewer",
        /// Credit-repair reviewer.
        RepairReviewer = "repair_reviewer",
        /// The one-stop portal, acting for an enterprise.
        Portal = "portal",
        /// An enterprise, bound to its credit code.
        Enterprise = "enterprise",
        /// A disclosure site pulling published records.
        Discloser = "discloser",
        /// Reads everything, writes nothing.
        Auditor = "auditor",
        /// The server itself (background jobs such as expiry).
        System = "system",
    }
);

str_enum!(
    /// 法制审核 opinion.
    ReviewOpinion {
        /// 同意.
        Approve = "APPROVE",
        /// 不同意.
        Disapprove = "DISAPPROVE",
        /// 修改后提交.
        Revise = "REVISE",
    }
);

str_enum!(
    /// The legal event behind a withdrawal (行政处罚法 Art. 48).
    WithdrawalEvent {
        /// 变更.
        Changed = "CHANGED",
        /// 撤销.
        Revoked = "REVOKED",
        /// 确认违法.
        ConfirmedIllegal = "CONFIRMED_ILLEGAL",
        /// 确认无效.
        ConfirmedVoid = "CONFIRMED_VOID",
    }
);

str_enum!(
    /// What an entry of the 全过程记录 records.
    EventKind {
        /// The decision was recorded.
        Recorded = "RECORDED",
        /// A legal review was recorded.
        LegalReviewed = "LEGAL_REVIEWED",
        /// Published.
        Published = "PUBLISHED",
        /// Excluded from publication by policy.
        NotPublished = "NOT_PUBLISHED",
        /// Corrected.
        Corrected = "CORRECTED",
        /// Withdrawn.
        Withdrawn = "WITHDRAWN",
        /// Fulfilment recorded.
        FulfillmentRecorded = "FULFILLMENT_RECORDED",
        /// Disclosure expired.
        DisclosureExpired = "DISCLOSURE_EXPIRED",
        /// Disclosure taken down by approved repair.
        DisclosureRepaired = "DISCLOSURE_REPAIRED",
        /// Disclosure restored after a revoked repair.
        DisclosureRestored = "DISCLOSURE_RESTORED",
        /// Notice bundle rendered.
        NoticeRendered = "NOTICE_RENDERED",
        /// Notice bundle delivered.
        NoticeDelivered = "NOTICE_DELIVERED",
        /// Delivery receipt recorded.
        NoticeReceipted = "NOTICE_RECEIPTED",
        /// Staff read ID numbers or contacts of this decision.
        SensitiveDataRead = "SENSITIVE_DATA_READ",
    }
);

/// Who acted: recorded on every event. Never carries the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// API key id, or `system`.
    pub key_id: String,
    /// The key's label.
    pub label: String,
    /// The key's role.
    pub role: Role,
    /// The enterprise a portal key acted for.
    pub on_behalf_of: Option<String>,
}

impl Actor {
    /// The server itself, for background jobs.
    pub fn system(job: &str) -> Self {
        Actor {
            key_id: "system".into(),
            label: job.into(),
            role: Role::System,
            on_behalf_of: None,
        }
    }
}

/// The checklist of 重大执法决定法制审核.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReviewChecklist {
    /// 执法主体、权限.
    pub subject_and_powers_ok: bool,
    /// 程序.
    pub procedure_ok: bool,
    /// 事实、证据.
    pub facts_and_evidence_ok: bool,
    /// 适用法律、裁量基准.
    pub law_and_discretion_ok: bool,
    /// 文书完备.
    pub documents_complete: bool,
    /// 涉嫌犯罪需移送.
    pub crime_transfer_needed: bool,
    /// 其他.
    pub other_points: String,
}

impl ReviewChecklist {
    /// A checklist with every point satisfied, no transfer for a crime and
    /// no other points: what a plain approval records.
    pub fn all_satisfied() -> ReviewChecklist {
        ReviewChecklist {
            subject_and_powers_ok: true,
            procedure_ok: true,
            facts_and_evidence_ok: true,
            law_and_discretion_ok: true,
            documents_complete: true,
            crime_transfer_needed: false,
            other_points: String::new(),
        }
    }
}

/// A recorded legal review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalReview {
    /// The opinion.
    pub opinion: ReviewOpinion,
    /// The checklist.
    pub checklist: ReviewChecklist,
    /// Comment.
    pub comment: String,
    /// Reviewer.
    pub reviewer: Actor,
    /// When.
    pub at: Micros,
    /// The decision's row version reviewed (0 in reviews stored before it
    /// was kept): a correction awaiting review needs a review of its version.
    #[serde(default)]
    pub decision_version: i64,
}

/// The penalty has been carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fulfillment {
    /// When it was fulfilled.
    pub fulfilled_on: NaiveDate,
    /// Evidence description.
    pub evidence: String,
    /// Who recorded it.
    pub recorded_by: Actor,
    /// When recorded.
    pub at: Micros,
}

/// A withdrawal and its public reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    /// The legal event.
    pub legal_event: WithdrawalEvent,
    /// Stated publicly.
    pub public_reason: String,
    /// When.
    pub at: Micros,
    /// The day of the legal event (older records: none).
    #[serde(default)]
    pub legal_event_on: Option<NaiveDate>,
}

/// The policy rule that kept a decision from publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    /// Machine code, e.g. `SIMPLE_PROCEDURE`.
    pub rule: String,
    /// The rule's source.
    pub citation: String,
}

/// Everything about a decision besides its content: stored beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionMeta {
    /// Who recorded it.
    pub recorded_by: Actor,
    /// Latest legal review.
    pub review: Option<LegalReview>,
    /// Fulfilment.
    pub fulfillment: Option<Fulfillment>,
    /// Exclusion from publication.
    pub exclusion: Option<Exclusion>,
    /// Withdrawal.
    pub withdrawal: Option<Withdrawal>,
    /// When it was published; for imported history, midnight CST of its
    /// 公示日期. Empty when it was not published, or when it was but the
    /// date is unknown (`publish_date_unknown`).
    pub publish_time: Option<Micros>,
    /// Published, on a date nobody recorded: imported history without a
    /// 公示日期 column. The annual report counts such decisions apart and
    /// leaves them out of 及时率.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub publish_date_unknown: bool,
    /// A correction made the published decision major (重大执法决定): its
    /// content is not published until an approving legal review of the
    /// corrected version, i.e. of a row version at least this one
    /// (行政处罚法 Art. 58). `None` when nothing waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction_awaiting_review: Option<i64>,
}

impl DecisionMeta {
    /// The meta of a decision just recorded by `actor`: nothing reviewed,
    /// fulfilled, excluded, withdrawn or published yet.
    pub fn recorded_by(actor: Actor) -> DecisionMeta {
        DecisionMeta {
            recorded_by: actor,
            review: None,
            fulfillment: None,
            exclusion: None,
            withdrawal: None,
            publish_time: None,
            publish_date_unknown: false,
            correction_awaiting_review: None,
        }
    }
}

/// Allowed decision-state transitions; everything else is refused.
pub fn decision_transition_allowed(from: DecisionState, to: DecisionState) -> bool {
    use DecisionState::*;
    matches!(
        (from, to),
        (Recorded, Published)
            | (Recorded, NotPublished)
            | (Recorded, Withdrawn)
            | (Published, Withdrawn)
            | (NotPublished, Withdrawn)
    )
}
