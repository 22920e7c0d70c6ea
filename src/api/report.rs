//! ReportService: the annual figures of DOMAIN.md §7.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::auth;
use super::convert::Violations;
use super::pb;
use crate::app::report::YearFigures;
use crate::app::{App, AppError};
use crate::domain::lifecycle::Role;

/// The ReportService implementation: staff roles only.
#[derive(Clone)]
pub struct ReportApi {
    app: Arc<App>,
}

impl ReportApi {
    /// Wraps the application.
    pub fn new(app: Arc<App>) -> Self {
        ReportApi { app }
    }
}

fn figures(f: YearFigures) -> pb::YearFigures {
    pb::YearFigures {
        year: f.year,
        decisions: f.decisions,
        enterprises_penalized: f.enterprises_penalized,
        fines_fen: f.fines_fen,
        confiscations_fen: f.confiscations_fen,
        must_publish: f.must_publish,
        published: f.published,
        published_on_time: f.published_on_time,
        disclosure_rate_pct: f.disclosure_rate_pct,
        timeliness_rate_pct: f.timeliness_rate_pct,
        withdrawals: f.withdrawals,
        withdrawals_within_3_days: f.withdrawals_within_3_days,
        withdrawal_timeliness_pct: f.withdrawal_timeliness_pct,
        repairs_submitted: f.repairs_submitted,
        repairs_approved: f.repairs_approved,
        repairs_rejected: f.repairs_rejected,
        repairs_not_accepted: f.repairs_not_accepted,
        repairs_withdrawn: f.repairs_withdrawn,
        repairs_revoked: f.repairs_revoked,
        repairs_open: f.repairs_open,
        median_working_days_to_decision: f.median_working_days_to_decision,
        repairs_overdue: f.repairs_overdue,
        timeliness_provisional: f.timeliness_provisional,
        withdrawal_timeliness_provisional: f.withdrawal_timeliness_provisional,
        median_working_days_provisional: f.median_working_days_provisional,
        repairs_closed: f.repairs_closed,
        published_date_unknown: f.published_date_unknown,
    }
}

#[tonic::async_trait]
impl pb::report_service_server::ReportService for ReportApi {
    async fn get_annual_report(
        &self,
        req: Request<pb::GetAnnualReportRequest>,
    ) -> Result<Response<pb::AnnualReport>, Status> {
        auth::check(
            &self.app,
            &req,
            &[Role::Officer, Role::Auditor, Role::LegalReviewer, Role::RepairReviewer],
        )
        .await?;
        let r = req.into_inner();
        if !(2000..=2100).contains(&r.year) {
            return Err(AppError::invalid_field("INVALID_YEAR", "year", "must be a year between 2000 and 2100").into());
        }
        let mut v = Violations::default();
        let authority = v.credit_code("authority_credit_code", &r.authority_credit_code, false);
        v.finish()?;
        let (current, previous, g) = self.app.annual_report(r.year, &authority).await?;
        Ok(Response::new(pb::AnnualReport {
            year: r.year,
            authority_credit_code: authority,
            current: Some(figures(current)),
            previous: Some(figures(previous)),
            growth: Some(pb::Growth {
                decisions_pct: g.decisions_pct,
                enterprises_penalized_pct: g.enterprises_penalized_pct,
                fines_pct: g.fines_pct,
                confiscations_pct: g.confiscations_pct,
                repairs_approved_pct: g.repairs_approved_pct,
            }),
        }))
    }
}
