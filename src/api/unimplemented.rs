//! Services of the contract that later work implements. Declared now so
//! partner platforms can review the whole `gongshi.v1` contract through
//! reflection; every RPC answers `UNIMPLEMENTED` until then.

use super::pb;

/// ReportService (DOMAIN.md §7): not yet implemented.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReportApi;

impl pb::report_service_server::ReportService for ReportApi {}
