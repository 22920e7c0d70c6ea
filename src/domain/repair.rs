//! Credit repair (信用修复, DOMAIN.md §4): the application state machine,
//! eligibility, working-day due dates, and receipt codes. Pure: the caller
//! supplies today's date and the facts.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::calendar::{CalendarError, WorkingCalendar};
use super::lifecycle::DisclosureState;

str_enum!(
    /// Where a repair application stands.
    RepairState {
        /// Submitted, awaiting acceptance.
        Submitted = "SUBMITTED",
        /// Accepted (受理), under review.
        Accepted = "ACCEPTED",
        /// Not accepted (不予受理): final.
        NotAccepted = "NOT_ACCEPTED",
        /// Waiting for the applicant's supplement; the clock is stopped.
        SupplementRequested = "SUPPLEMENT_REQUESTED",
        /// Approved: the disclosure was taken down.
        Approved = "APPROVED",
        /// Rejected (驳回): final.
        Rejected = "REJECTED",
        /// Withdrawn by the applicant: final.
        Withdrawn = "WITHDRAWN",
        /// Approval revoked (fraud): the disclosure is restored. Final.
        Revoked = "REVOKED",
        /// 修复终止: the disclosure ended while the application was open
        /// (see [`close`]). Final.
        Closed = "CLOSED",
    }
);

str_enum!(
    /// Why an open application was closed: how its disclosure ended. The
    /// reason of the CLOSED transition.
    ClosureCause {
        /// The publicity period ended (expiry job).
        DisclosureExpired = "DISCLOSURE_EXPIRED",
        /// The decision was withdrawn (行政处罚法 Art. 48).
        DisclosureWithdrawn = "DISCLOSURE_WITHDRAWN",
        /// Another application for the disclosure was approved.
        DisclosureRepaired = "DISCLOSURE_REPAIRED",
    }
);

str_enum!(
    /// The transitions of DOMAIN.md §4, one per custom method.
    RepairAction {
        /// AcceptRepairApplication.
        Accept = "ACCEPT",
        /// DeclineRepairApplication.
        Decline = "DECLINE",
        /// RequestSupplement.
        RequestSupplement = "REQUEST_SUPPLEMENT",
        /// SupplementRepairApplication (applicant).
        Supplement = "SUPPLEMENT",
        /// ApproveRepairApplication.
        Approve = "APPROVE",
        /// RejectRepairApplication.
        Reject = "REJECT",
        /// WithdrawRepairApplication (applicant).
        Withdraw = "WITHDRAW",
        /// RevokeRepair.
        Revoke = "REVOKE",
    }
);

impl RepairState {
    /// Open: counts as "an application already open" for the disclosure.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RepairState::Submitted | RepairState::Accepted | RepairState::SupplementRequested
        )
    }

    /// Final: no transition leaves it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RepairState::NotAccepted
                | RepairState::Rejected
                | RepairState::Withdrawn
                | RepairState::Revoked
                | RepairState::Closed
        )
    }
}

/// The state an application in `from` moves to when its disclosure ends
/// (DOMAIN.md §4: nothing is left to repair): CLOSED from an open state,
/// `None` otherwise. No RPC leads here; the act that ends the disclosure
/// does it in its own transaction.
pub fn close(from: RepairState) -> Option<RepairState> {
    from.is_open().then_some(RepairState::Closed)
}

/// The state an action leads to from `from`, or `None` when the diagram of
/// DOMAIN.md §4 has no such arrow.
pub fn transition(from: RepairState, action: RepairAction) -> Option<RepairState> {
    use RepairAction as A;
    use RepairState as S;
    match (from, action) {
        (S::Submitted, A::Accept) => Some(S::Accepted),
        (S::Submitted, A::Decline) => Some(S::NotAccepted),
        (S::Accepted, A::RequestSupplement) => Some(S::SupplementRequested),
        (S::SupplementRequested, A::Supplement) => Some(S::Accepted),
        (S::Accepted, A::Approve) => Some(S::Approved),
        (S::Accepted, A::Reject) => Some(S::Rejected),
        (S::Submitted | S::Accepted | S::SupplementRequested, A::Withdraw) => Some(S::Withdrawn),
        (S::Approved, A::Revoke) => Some(S::Revoked),
        _ => None,
    }
}

/// Machine-readable reasons an application cannot be made (API.md).
pub mod reasons {
    /// The minimum publicity period has not ended.
    pub const MIN_PUBLICITY_NOT_REACHED: &str = "MIN_PUBLICITY_NOT_REACHED";
    /// The penalty is not recorded as fulfilled.
    pub const PENALTY_NOT_FULFILLED: &str = "PENALTY_NOT_FULFILLED";
    /// No credit commitment.
    pub const COMMITMENT_MISSING: &str = "COMMITMENT_MISSING";
    /// The disclosure is expired, withdrawn or already repaired.
    pub const DISCLOSURE_NOT_ACTIVE: &str = "DISCLOSURE_NOT_ACTIVE";
    /// Another application for the disclosure is open.
    pub const APPLICATION_ALREADY_OPEN: &str = "APPLICATION_ALREADY_OPEN";
}

/// One unmet condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// Code from [`reasons`].
    pub reason: &'static str,
    /// Explanation.
    pub description: String,
}

/// The facts eligibility is decided on.
#[derive(Debug, Clone)]
pub struct EligibilityFacts {
    /// Today (CST).
    pub today: NaiveDate,
    /// The disclosure's state.
    pub disclosure_state: DisclosureState,
    /// First day repair may be requested.
    pub repair_eligible_on: NaiveDate,
    /// Fulfilment recorded on the decision.
    pub fulfilled: bool,
    /// An open application exists for the disclosure.
    pub application_open: bool,
    /// Whether a commitment is given; `None` when only checking.
    pub commitment_given: Option<bool>,
}

/// Every unmet condition of DOMAIN.md §4 (all of them, not the first), and
/// the earliest date an application could succeed on time grounds.
pub fn eligibility(f: &EligibilityFacts) -> (Vec<Unmet>, NaiveDate) {
    let mut unmet = Vec::new();
    if f.disclosure_state != DisclosureState::Active {
        unmet.push(Unmet {
            reason: reasons::DISCLOSURE_NOT_ACTIVE,
            description: format!("the disclosure is {}, not ACTIVE", f.disclosure_state),
        });
    }
    if f.today < f.repair_eligible_on {
        unmet.push(Unmet {
            reason: reasons::MIN_PUBLICITY_NOT_REACHED,
            description: format!(
                "the minimum publicity period has not ended; repair may be requested from {}",
                f.repair_eligible_on
            ),
        });
    }
    if !f.fulfilled {
        unmet.push(Unmet {
            reason: reasons::PENALTY_NOT_FULFILLED,
            description: "the penalty is not recorded as fulfilled (fine paid, rectification done)".into(),
        });
    }
    if f.commitment_given == Some(false) {
        unmet.push(Unmet {
            reason: reasons::COMMITMENT_MISSING,
            description: "a credit commitment (信用承诺书) is required".into(),
        });
    }
    if f.application_open {
        unmet.push(Unmet {
            reason: reasons::APPLICATION_ALREADY_OPEN,
            description: "another repair application for this disclosure is open".into(),
        });
    }
    (unmet, f.repair_eligible_on.max(f.today))
}

/// Working-day deadlines (DOMAIN.md §4), configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Acceptance decision after submission.
    pub accept_days: u32,
    /// Review decision after acceptance (or after the supplement arrives).
    pub decide_days: u32,
    /// Result to the applicant after submission, overall.
    pub overall_days: u32,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            accept_days: 3,
            decide_days: 3,
            overall_days: 10,
        }
    }
}

/// The dates an application's clock runs on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timeline {
    /// Day submitted.
    pub submitted_on: Option<NaiveDate>,
    /// Day accepted.
    pub accepted_on: Option<NaiveDate>,
    /// Day the current supplement was requested (clock stopped since).
    pub supplement_requested_on: Option<NaiveDate>,
    /// Day the last supplement arrived (decision clock restarts).
    pub supplement_received_on: Option<NaiveDate>,
    /// Working days the clock stood still for supplements, in total.
    pub paused_working_days: u32,
    /// Day of the decision (accept refused, approved or rejected).
    #[serde(default)]
    pub decided_on: Option<NaiveDate>,
}

/// Due dates as shown on an application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueDates {
    /// Acceptance due.
    pub accept_due_on: Option<NaiveDate>,
    /// Decision due (none while the clock is stopped or before acceptance).
    pub decide_due_on: Option<NaiveDate>,
    /// Overall result due, extended by paused working days.
    pub overall_due_on: Option<NaiveDate>,
    /// True when any of them was counted over a provisional calendar year (DOMAIN.md §8): it
    /// may move when that year's official schedule is loaded.
    pub provisional: bool,
}

/// Computes due dates: a due date of N working days is the N-th working day
/// strictly after the day its clock starts. Over a year without an official
/// schedule the dates are provisional (and say so); only beyond the last
/// provisional year is it an error.
pub fn due_dates(
    cal: &WorkingCalendar,
    d: &Deadlines,
    state: RepairState,
    t: &Timeline,
) -> Result<DueDates, CalendarError> {
    let mut out = DueDates::default();
    let Some(submitted) = t.submitted_on else {
        return Ok(out);
    };
    let accept = cal.add_working_days_counted(submitted, d.accept_days)?;
    let overall = cal.add_working_days_counted(submitted, d.overall_days + t.paused_working_days)?;
    out.accept_due_on = Some(accept.value);
    out.overall_due_on = Some(overall.value);
    out.provisional = accept.provisional || overall.provisional;
    if state != RepairState::SupplementRequested {
        // The decision clock starts at acceptance, or afresh when a supplement arrives.
        if let Some(start) = t.supplement_received_on.or(t.accepted_on) {
            let decide = cal.add_working_days_counted(start, d.decide_days)?;
            out.decide_due_on = Some(decide.value);
            out.provisional |= decide.provisional;
        }
    }
    Ok(out)
}

/// Whether an application in `state` is past a due date on `today`.
pub fn overdue(state: RepairState, due: &DueDates, today: NaiveDate) -> bool {
    let past = |d: Option<NaiveDate>| d.is_some_and(|d| today > d);
    match state {
        RepairState::Submitted => past(due.accept_due_on) || past(due.overall_due_on),
        RepairState::Accepted => past(due.decide_due_on) || past(due.overall_due_on),
        _ => false,
    }
}

/// The receipt-code alphabet: no 0/O, 1/I/L, so codes read aloud or typed
/// from paper are not mistaken.
pub const RECEIPT_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Characters in a receipt code (31^10 ≈ 8·10^14 codes, about 49.6 bits).
pub const RECEIPT_LEN: usize = 10;

/// A receipt code from random bytes, shown as `XXXXX-XXXXX`.
pub fn receipt_code(random: &[u8; RECEIPT_LEN]) -> String {
    let n = RECEIPT_ALPHABET.len();
    let mut s = String::with_capacity(RECEIPT_LEN + 1);
    for (i, b) in random.iter().enumerate() {
        if i == RECEIPT_LEN / 2 {
            s.push('-');
        }
        // Rejection-free but unbiased enough: callers pass bytes already
        // reduced by rejection sampling (see `app::repair`).
        s.push(RECEIPT_ALPHABET[*b as usize % n] as char);
    }
    s
}

/// Normalises a typed receipt code: upper case, hyphens and spaces removed,
/// then the canonical `XXXXX-XXXXX`. `None` if it cannot be one.
pub fn normalize_receipt(input: &str) -> Option<String> {
    let chars: Vec<char> = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if chars.len() != RECEIPT_LEN
        || !chars
            .iter()
            .all(|c| c.is_ascii() && RECEIPT_ALPHABET.contains(&(*c as u8)))
    {
        return None;
    }
    let mut s: String = chars[..RECEIPT_LEN / 2].iter().collect();
    s.push('-');
    s.extend(&chars[RECEIPT_LEN / 2..]);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn cal() -> WorkingCalendar {
        WorkingCalendar::builtin().unwrap()
    }

    #[test]
    fn diagram_arrows() {
        use RepairAction as A;
        use RepairState as S;
        let arrows = [
            (S::Submitted, A::Accept, S::Accepted),
            (S::Submitted, A::Decline, S::NotAccepted),
            (S::Accepted, A::RequestSupplement, S::SupplementRequested),
            (S::SupplementRequested, A::Supplement, S::Accepted),
            (S::Accepted, A::Approve, S::Approved),
            (S::Accepted, A::Reject, S::Rejected),
            (S::Submitted, A::Withdraw, S::Withdrawn),
            (S::Accepted, A::Withdraw, S::Withdrawn),
            (S::SupplementRequested, A::Withdraw, S::Withdrawn),
            (S::Approved, A::Revoke, S::Revoked),
        ];
        let mut count = 0;
        for s in S::ALL {
            for a in RepairAction::ALL {
                let expected = arrows.iter().find(|(f, x, _)| f == s && x == a).map(|t| t.2);
                assert_eq!(transition(*s, *a), expected, "{s} --{a}-->");
                count += usize::from(expected.is_some());
            }
        }
        assert_eq!(count, arrows.len());
    }

    #[test]
    fn only_open_applications_close() {
        for s in RepairState::ALL {
            let expected = s.is_open().then_some(RepairState::Closed);
            assert_eq!(close(*s), expected, "{s}");
        }
        assert!(RepairState::Closed.is_final());
        assert!(!RepairState::Closed.is_open());
        for a in RepairAction::ALL {
            assert_eq!(transition(RepairState::Closed, *a), None, "CLOSED --{a}-->");
        }
    }

    proptest! {
        /// Random sequences of actions and disclosure ends (index
        /// `RepairAction::ALL.len()`) never leave the diagram, final states
        /// stay final, and an application is open or final, never neither
        /// except APPROVED (which only revocation leaves).
        #[test]
        fn random_sequences_stay_in_the_diagram(
            actions in proptest::collection::vec(0usize..=RepairAction::ALL.len(), 0..40)
        ) {
            let mut s = RepairState::Submitted;
            for i in actions {
                let next = match RepairAction::ALL.get(i) {
                    Some(a) => transition(s, *a),
                    None => close(s),
                };
                if let Some(next) = next {
                    prop_assert!(!s.is_final(), "left final state {s}");
                    s = next;
                }
                prop_assert!(
                    s.is_open() != s.is_final() || s == RepairState::Approved,
                    "{s} is neither open nor final"
                );
                prop_assert!(!(s.is_open() && s.is_final()), "{s} is open and final");
            }
        }
    }

    #[test]
    fn eligibility_lists_every_unmet_condition() {
        let f = EligibilityFacts {
            today: d("2026-08-06"),
            disclosure_state: DisclosureState::Expired,
            repair_eligible_on: d("2026-08-07"),
            fulfilled: false,
            application_open: true,
            commitment_given: Some(false),
        };
        let (unmet, earliest) = eligibility(&f);
        let codes: Vec<_> = unmet.iter().map(|u| u.reason).collect();
        assert_eq!(
            codes,
            [
                reasons::DISCLOSURE_NOT_ACTIVE,
                reasons::MIN_PUBLICITY_NOT_REACHED,
                reasons::PENALTY_NOT_FULFILLED,
                reasons::COMMITMENT_MISSING,
                reasons::APPLICATION_ALREADY_OPEN
            ]
        );
        assert_eq!(earliest, d("2026-08-07"));
        let ok = EligibilityFacts {
            today: d("2026-08-07"),
            disclosure_state: DisclosureState::Active,
            fulfilled: true,
            application_open: false,
            commitment_given: None,
            ..f
        };
        assert!(eligibility(&ok).0.is_empty());
    }

    #[test]
    fn due_dates_across_spring_festival_2026() {
        // Submitted Fri 2026-02-13. Working days after it: Sat 02-14 (调休上班),
        // then 02-15..02-23 holidays, Tue 02-24, Wed 02-25, ...
        let t = Timeline {
            submitted_on: Some(d("2026-02-13")),
            ..Default::default()
        };
        let due = due_dates(&cal(), &Deadlines::default(), RepairState::Submitted, &t).unwrap();
        assert_eq!(due.accept_due_on, Some(d("2026-02-25")));
        // 10 working days: 02-14, 24, 25, 26, 27, 28 (Sat, 调休), 03-02, 03, 04, 05.
        assert_eq!(due.overall_due_on, Some(d("2026-03-05")));
        assert_eq!(due.decide_due_on, None);
    }

    #[test]
    fn due_dates_across_national_day_2026_with_supplement_pause() {
        let c = cal();
        // Submitted Fri 2026-09-18: working days after it are Sun 09-20 (调休),
        // Mon 09-21, Tue 09-22 → accept due 09-22.
        let mut t = Timeline {
            submitted_on: Some(d("2026-09-18")),
            ..Default::default()
        };
        let due = due_dates(&c, &Deadlines::default(), RepairState::Submitted, &t).unwrap();
        assert_eq!(due.accept_due_on, Some(d("2026-09-22")));
        // Accepted Wed 09-23: decide due 3 working days later: 09-24, 09-25 (Fri), then
        // 09-25..27 is 中秋 (09-25 is a holiday) → 09-24, 09-28, 09-29.
        t.accepted_on = Some(d("2026-09-23"));
        let due = due_dates(&c, &Deadlines::default(), RepairState::Accepted, &t).unwrap();
        assert_eq!(due.decide_due_on, Some(d("2026-09-29")));
        // Supplement requested 09-28: clock stops, no decision due date.
        t.supplement_requested_on = Some(d("2026-09-28"));
        let due = due_dates(&c, &Deadlines::default(), RepairState::SupplementRequested, &t).unwrap();
        assert_eq!(due.decide_due_on, None);
        // Supplement arrives Thu 10-08 (after the 10-01..07 break): decision due counted
        // afresh: 10-09 (Fri), 10-10 (Sat, 调休上班), 10-12 (Mon).
        t.paused_working_days = c.working_days_between(d("2026-09-28"), d("2026-10-08")).unwrap();
        t.supplement_received_on = Some(d("2026-10-08"));
        let due = due_dates(&c, &Deadlines::default(), RepairState::Accepted, &t).unwrap();
        assert_eq!(due.decide_due_on, Some(d("2026-10-12")));
        // Paused 09-29, 09-30, 10-08 = 3 working days; overall 10 + 3 after 09-18.
        assert_eq!(t.paused_working_days, 3);
        let plain = c.add_working_days(d("2026-09-18"), 13).unwrap();
        assert_eq!(due.overall_due_on, Some(plain));
    }

    #[test]
    fn saturday_submission_counts_from_monday() {
        let t = Timeline {
            submitted_on: Some(d("2026-03-07")), // Saturday
            ..Default::default()
        };
        let due = due_dates(&cal(), &Deadlines::default(), RepairState::Submitted, &t).unwrap();
        assert_eq!(due.accept_due_on, Some(d("2026-03-11"))); // Mon 9, Tue 10, Wed 11
    }

    #[test]
    fn over_a_provisional_year_the_dates_say_so_and_only_2037_is_an_error() {
        let t = |on: &str| Timeline {
            submitted_on: Some(d(on)),
            ..Default::default()
        };
        // Thu 2026-12-24: accept due 12-29 (official); overall 10 days runs into 2027.
        let due = due_dates(&cal(), &Deadlines::default(), RepairState::Submitted, &t("2026-12-24")).unwrap();
        assert_eq!(due.accept_due_on, Some(d("2026-12-29")));
        assert_eq!(due.overall_due_on, Some(d("2027-01-08")));
        assert!(due.provisional);
        let within = due_dates(&cal(), &Deadlines::default(), RepairState::Submitted, &t("2026-12-01")).unwrap();
        assert!(!within.provisional);
        assert!(due_dates(&cal(), &Deadlines::default(), RepairState::Submitted, &t("2036-12-24")).is_err());
    }

    #[test]
    fn overdue_only_for_open_states_with_a_running_clock() {
        let due = DueDates {
            accept_due_on: Some(d("2026-03-11")),
            decide_due_on: None,
            overall_due_on: Some(d("2026-03-20")),
            provisional: false,
        };
        assert!(!overdue(RepairState::Submitted, &due, d("2026-03-11")));
        assert!(overdue(RepairState::Submitted, &due, d("2026-03-12")));
        assert!(!overdue(RepairState::SupplementRequested, &due, d("2026-04-01")));
        assert!(!overdue(RepairState::Approved, &due, d("2026-04-01")));
    }

    #[test]
    fn receipt_codes_normalise() {
        let c = receipt_code(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 30]);
        assert_eq!(c, "23456-789AZ");
        assert_eq!(normalize_receipt("23456789az").as_deref(), Some("23456-789AZ"));
        assert_eq!(normalize_receipt(" 23456 789AZ ").as_deref(), Some("23456-789AZ"));
        assert_eq!(normalize_receipt("O3456-789AZ"), None);
        assert_eq!(normalize_receipt("23456-789A"), None);
    }
}

/// Contact of the applicant: sensitive (never in public output or logs).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: String,
}

impl std::fmt::Debug for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Contact(<redacted>)")
    }
}

str_enum!(
    /// Material kinds: since 国办发〔2025〕22号 only proof of fulfilment and the
    /// credit commitment are required.
    MaterialKind {
        /// Proof the obligations were fulfilled.
        FulfillmentProof = "FULFILLMENT_PROOF",
        /// The signed 信用承诺书.
        CreditCommitment = "CREDIT_COMMITMENT",
        /// Anything else the applicant adds.
        Other = "OTHER",
    }
);

str_enum!(
    /// 履行状态 of a commitment.
    CommitmentFulfillment {
        /// 全部履行.
        Full = "FULL",
        /// 部分履行.
        Partial = "PARTIAL",
        /// 全部未履行.
        None = "NONE",
    }
);

/// 信用承诺 (type 信用修复型).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    /// Commitment code (server-assigned when not given).
    pub code: String,
    /// Committer name.
    pub committer_name: String,
    /// Committer credit code.
    pub committer_code: String,
    /// Reason.
    pub reason: String,
    /// Text of the commitment.
    pub content: String,
    /// Liability for breach.
    pub liability: String,
    /// Date made.
    pub made_on: NaiveDate,
    /// Who signed.
    pub signer: String,
    /// Fulfilment status.
    pub fulfillment_status: CommitmentFulfillment,
}

/// A stored material's description (the bytes are stored apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialMeta {
    /// Kind.
    pub kind: MaterialKind,
    /// File name as uploaded.
    pub file_name: String,
    /// Media type.
    pub media_type: String,
    /// SHA-256 (hex) of the bytes.
    pub sha256: String,
    /// Size.
    pub size_bytes: i64,
}

/// Everything about an application besides its indexed columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairDoc {
    /// Applicant name.
    pub applicant_name: String,
    /// Contact (sensitive).
    pub contact: Contact,
    /// The commitment.
    pub commitment: Commitment,
    /// Materials, in upload order.
    pub materials: Vec<MaterialMeta>,
    /// Reason or opinion of the latest transition.
    pub last_reason: String,
    /// The clock's dates.
    pub timeline: Timeline,
    /// Who submitted it.
    pub submitted_by: super::lifecycle::Actor,
    /// True when a due date was counted over a provisional calendar year (DOMAIN.md §8).
    #[serde(default)]
    pub due_dates_provisional: bool,
}
