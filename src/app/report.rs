//! The bureau's annual figures (DOMAIN.md §7): decisions, enterprises,
//! fines, disclosure and timeliness rates, withdrawals, credit repair — for a
//! year and the year before, with growth. A bureau makes tens to thousands of
//! decisions a year, so the figures are computed from the records themselves,
//! with the same policy and calendar the service applies.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::{App, AppResult};
use crate::domain::clock::{cst_date, cst_midnight};
use crate::domain::policy::{PartyKind, PolicyInput, PublicationDecision};
use crate::domain::repair::{self, RepairState};
use crate::store::{DecisionFilter, RepairFilter};

/// Working days within which a decision is to be published (安全生产法 Art. 78;
/// 国办发〔2018〕118号; days are working days per 行政处罚法 Art. 85).
pub const PUBLISH_WITHIN_WORKING_DAYS: u32 = 7;
/// Working days within which a changed decision's disclosure is withdrawn (Art. 48).
pub const WITHDRAW_WITHIN_WORKING_DAYS: u32 = 3;

/// The figures of one year.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YearFigures {
    /// The year.
    pub year: i32,
    /// Decisions decided in the year.
    pub decisions: i64,
    /// Distinct organisations (credit codes) penalised.
    pub enterprises_penalized: i64,
    /// Fines, fen.
    pub fines_fen: i64,
    /// Confiscations, fen.
    pub confiscations_fen: i64,
    /// Decisions the policy says must be published.
    pub must_publish: i64,
    /// Of those, published.
    pub published: i64,
    /// Of those, published within 7 working days of the decision.
    pub published_on_time: i64,
    /// Of those published, on a day nobody recorded (imported history
    /// without 公示日期): left out of 及时率, never counted as late.
    pub published_date_unknown: i64,
    /// 公示率 (percent, 2 decimals).
    pub disclosure_rate_pct: String,
    /// 及时率: published on time ÷ must be published, leaving out those
    /// whose publication date is unknown (percent, 2 decimals).
    pub timeliness_rate_pct: String,
    /// Withdrawals of published decisions.
    pub withdrawals: i64,
    /// Of those, within 3 working days of the legal event.
    pub withdrawals_within_3_days: i64,
    /// Their rate.
    pub withdrawal_timeliness_pct: String,
    /// Repair applications submitted in the year.
    pub repairs_submitted: i64,
    /// Of those: approved (and not revoked).
    pub repairs_approved: i64,
    /// Rejected.
    pub repairs_rejected: i64,
    /// Not accepted.
    pub repairs_not_accepted: i64,
    /// Withdrawn.
    pub repairs_withdrawn: i64,
    /// Revoked.
    pub repairs_revoked: i64,
    /// Still open.
    pub repairs_open: i64,
    /// Closed (修复终止): the disclosure ended while they were open.
    pub repairs_closed: i64,
    /// Median working days from submission to decision.
    pub median_working_days_to_decision: String,
    /// Decided after the overall due date, or open and overdue now.
    pub repairs_overdue: i64,
    /// `published_on_time` counted over a provisional calendar year (DOMAIN.md §8).
    pub timeliness_provisional: bool,
    /// `withdrawals_within_3_days` counted over a provisional calendar year.
    pub withdrawal_timeliness_provisional: bool,
    /// `median_working_days_to_decision` counted over a provisional calendar year.
    pub median_working_days_provisional: bool,
}

/// Year-on-year growth, percent with two decimals; empty when last year was 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Growth {
    /// Decisions.
    pub decisions_pct: String,
    /// Enterprises penalised.
    pub enterprises_penalized_pct: String,
    /// Fines.
    pub fines_pct: String,
    /// Confiscations.
    pub confiscations_pct: String,
    /// Repairs approved.
    pub repairs_approved_pct: String,
}

/// `num / den` as a percent with two decimals, rounded half away from zero,
/// computed in integers: 56,000 / 15,000 → "373.33". Empty when `den` is 0.
pub fn percent(num: i64, den: i64) -> String {
    if den == 0 {
        return String::new();
    }
    let n = i128::from(num) * 10_000;
    let d = i128::from(den);
    let q = (2 * n + d.signum() * n.signum() * d.abs()) / (2 * d); // round half away from zero
    let sign = if q < 0 { "-" } else { "" };
    let q = q.abs();
    format!("{sign}{}.{:02}", q / 100, q % 100)
}

/// Growth from `prev` to `cur` in percent: 15,000 → 71,000 gives "373.33".
pub fn growth(cur: i64, prev: i64) -> String {
    percent(cur - prev, prev)
}

fn median(mut v: Vec<u32>) -> String {
    if v.is_empty() {
        return String::new();
    }
    v.sort_unstable();
    let n = v.len();
    let twice = if n % 2 == 1 {
        2 * v[n / 2]
    } else {
        v[n / 2 - 1] + v[n / 2]
    };
    format!("{}.{}", twice / 2, if twice % 2 == 1 { 5 } else { 0 })
}

impl App {
    /// The figures of `year` (and `year - 1`), optionally for one authority.
    pub async fn annual_report(&self, year: i32, authority: &str) -> AppResult<(YearFigures, YearFigures, Growth)> {
        // Count with the stored calendar as it is now (an official year loaded
        // a moment ago on another instance included).
        self.refresh_calendar().await?;
        let current = self.year_figures(year, authority).await?;
        let previous = self.year_figures(year - 1, authority).await?;
        let growth = Growth {
            decisions_pct: growth(current.decisions, previous.decisions),
            enterprises_penalized_pct: growth(current.enterprises_penalized, previous.enterprises_penalized),
            fines_pct: growth(current.fines_fen, previous.fines_fen),
            confiscations_pct: growth(current.confiscations_fen, previous.confiscations_fen),
            repairs_approved_pct: growth(current.repairs_approved, previous.repairs_approved),
        };
        Ok((current, previous, growth))
    }

    async fn year_figures(&self, year: i32, authority: &str) -> AppResult<YearFigures> {
        let mut f = YearFigures {
            year,
            ..Default::default()
        };
        let (Some(first), Some(last)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year, 12, 31),
        ) else {
            return Ok(f);
        };
        let filter = DecisionFilter {
            decided_from: Some(first),
            decided_to: Some(last),
            authority_code: authority.to_string(),
            ..Default::default()
        };
        let cal = self.calendar();
        let mut enterprises = BTreeSet::new();
        let mut disclosures_of_year = BTreeSet::new();
        let mut after = String::new();
        loop {
            let page = self.store.list_decisions(&filter, &after, 1000).await?;
            let Some(last_row) = page.last() else { break };
            after = last_row.id.clone();
            for d in &page {
                f.decisions += 1;
                if d.doc.party.kind != PartyKind::NaturalPerson && !d.doc.party.credit_code.is_empty() {
                    enterprises.insert(d.doc.party.credit_code.clone());
                }
                f.fines_fen += d.doc.fine_fen;
                f.confiscations_fen += d.doc.confiscation_fen;
                let must = matches!(
                    self.policy.decide(&PolicyInput {
                        decided_on: d.doc.decided_on,
                        severity: d.doc.severity,
                        sector: d.doc.sector,
                        procedure: d.doc.procedure,
                        penalty_kinds: d.doc.penalty_kinds.clone(),
                        party_kind: d.doc.party.kind,
                    }),
                    Ok(PublicationDecision::Publish(_))
                );
                if let Some(id) = &d.disclosure_id {
                    disclosures_of_year.insert(id.clone());
                }
                if !must {
                    continue;
                }
                f.must_publish += 1;
                if d.meta.publish_time.is_some() || d.meta.publish_date_unknown {
                    f.published += 1;
                    // Imported history without 公示日期: never counted as late.
                    // Every other record counts: a count over a provisional
                    // year is flagged, and only a date beyond every schedule fails.
                    match d.meta.publish_time {
                        None => f.published_date_unknown += 1,
                        Some(published_at) => {
                            let due = cal
                                .add_working_days_counted(d.doc.decided_on, PUBLISH_WITHIN_WORKING_DAYS)
                                .map_err(super::repair::calendar_error)?;
                            f.timeliness_provisional |= due.provisional;
                            if cst_date(crate::domain::clock::from_micros(published_at)) <= due.value {
                                f.published_on_time += 1;
                            }
                        }
                    }
                    if let Some(w) = &d.meta.withdrawal {
                        f.withdrawals += 1;
                        let event_day = w
                            .legal_event_on
                            .unwrap_or_else(|| cst_date(crate::domain::clock::from_micros(w.at)));
                        let due = cal
                            .add_working_days_counted(event_day, WITHDRAW_WITHIN_WORKING_DAYS)
                            .map_err(super::repair::calendar_error)?;
                        f.withdrawal_timeliness_provisional |= due.provisional;
                        if cst_date(crate::domain::clock::from_micros(w.at)) <= due.value {
                            f.withdrawals_within_3_days += 1;
                        }
                    }
                }
            }
        }
        f.enterprises_penalized = enterprises.len() as i64;
        f.disclosure_rate_pct = percent(f.published, f.must_publish);
        f.timeliness_rate_pct = percent(f.published_on_time, f.must_publish - f.published_date_unknown);
        f.withdrawal_timeliness_pct = percent(f.withdrawals_within_3_days, f.withdrawals);

        // Repair applications submitted in the year (for this authority's disclosures).
        let (from, to) = (
            cst_midnight(first).timestamp_micros(),
            cst_midnight(last).timestamp_micros() + 86_400_000_000,
        );
        let today = self.clock.today_cst();
        let mut days = Vec::new();
        let mut after = String::new();
        loop {
            let page = self.store.list_repairs(&RepairFilter::default(), &after, 1000).await?;
            let Some(last_row) = page.last() else { break };
            after = last_row.id.clone();
            for r in page.iter().filter(|r| r.create_time >= from && r.create_time < to) {
                if !authority.is_empty() && !disclosures_of_year.contains(&r.disclosure_id) {
                    // Only applications about this authority's decisions.
                    let Some(d) = self.store.get_disclosure(&r.disclosure_id).await? else {
                        continue;
                    };
                    if d.content.authority.credit_code != authority {
                        continue;
                    }
                }
                f.repairs_submitted += 1;
                match r.state {
                    RepairState::Approved => f.repairs_approved += 1,
                    RepairState::Rejected => f.repairs_rejected += 1,
                    RepairState::NotAccepted => f.repairs_not_accepted += 1,
                    RepairState::Withdrawn => f.repairs_withdrawn += 1,
                    RepairState::Revoked => f.repairs_revoked += 1,
                    RepairState::Closed => f.repairs_closed += 1,
                    _ => f.repairs_open += 1,
                }
                let t = &r.doc.timeline;
                if let (Some(s), Some(d)) = (t.submitted_on, t.decided_on) {
                    let n = cal
                        .working_days_between_counted(s, d)
                        .map_err(super::repair::calendar_error)?;
                    f.median_working_days_provisional |= n.provisional;
                    days.push(n.value);
                }
                let due = repair::DueDates {
                    accept_due_on: r.accept_due_on,
                    decide_due_on: r.decide_due_on,
                    overall_due_on: r.overall_due_on,
                    provisional: r.doc.due_dates_provisional,
                };
                let late = match (t.decided_on, r.overall_due_on) {
                    (Some(d), Some(o)) => d > o,
                    _ => repair::overdue(r.state, &due, today),
                };
                if late {
                    f.repairs_overdue += 1;
                }
            }
        }
        f.median_working_days_to_decision = median(days);
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_and_growth() {
        assert_eq!(growth(71_000, 15_000), "373.33");
        assert_eq!(growth(1_500_000, 7_100_000), "-78.87");
        assert_eq!(growth(5, 0), "");
        assert_eq!(percent(2, 3), "66.67");
        assert_eq!(percent(1, 8), "12.50");
        assert_eq!(percent(3, 3), "100.00");
        assert_eq!(percent(0, 3), "0.00");
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), "");
        assert_eq!(median(vec![3, 1, 2]), "2.0");
        assert_eq!(median(vec![1, 2, 3, 4]), "2.5");
    }
}
