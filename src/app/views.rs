//! The read models and list filters the application offers its adapters
//! (issue 15): the gRPC services, the public listener and the admin listener
//! name these, never `crate::store`, so an adapter depends on the
//! application's vocabulary only.
//!
//! Today most of them are declared here as aliases of the store's row types
//! (the shapes coincide); an adapter that names them still compiles against
//! `app`, and a store change that should not reach the wire is made by
//! turning the alias into an app-owned type with a conversion here.
//! [`KeySummary`] is already app-owned. The public page, JSON and Atom show
//! the same [`DisclosureRecord`] and [`ChangeView`] as the gRPC services
//! (what the public may see is decided by `app::public`, which serves only
//! active records and serves a removed one by its change).

use crate::domain::lifecycle::{Micros, Role};
use crate::store;

use super::{App, AppResult};

/// A penalty decision as recorded (sensitive fields included: adapters
/// decide what a caller sees, and audit it).
pub type DecisionView = store::DecisionRow;
/// A disclosure's current version, as staff and the DisclosureService see it.
pub type DisclosureRecord = store::DisclosureRow;
/// A change of the feed: content only while the disclosure is active.
pub type ChangeView = store::ChangeView;
/// One event of a decision's 全过程记录.
pub type EventView = store::EventRow;
/// A notice bundle version with its documents and PDFs.
pub type BundleView = store::BundleRow;
/// A credit-repair application.
pub type RepairView = store::RepairRow;
/// One transition of a credit-repair application.
pub type RepairEventView = store::RepairEventRow;
/// Filters of the decision list. Empty strings mean "any".
pub type DecisionFilter = store::DecisionFilter;
/// Filters of the disclosure list.
pub type DisclosureFilter = store::DisclosureFilter;
/// Filters of the notice-bundle list (latest versions only).
pub type BundleFilter = store::BundleFilter;
/// Filters of the repair-application list.
pub type RepairFilter = store::RepairFilter;
/// One entry of an API key's record: who revoked it, when, why.
pub type KeyEventView = store::KeyEvent;
/// What an export reads, in order.
pub type ExportItem = store::ExportItem;

/// An API key as listed to the operator: never its secret or its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySummary {
    /// Public id.
    pub id: String,
    /// Role.
    pub role: Role,
    /// Label.
    pub label: String,
    /// Bound credit code (enterprise keys).
    pub credit_code: Option<String>,
    /// Last valid day (CST), if any.
    pub expires_on: Option<chrono::NaiveDate>,
    /// Created.
    pub created_at: Micros,
    /// Revoked.
    pub revoked_at: Option<Micros>,
}

impl From<store::KeyRow> for KeySummary {
    fn from(k: store::KeyRow) -> Self {
        KeySummary {
            id: k.id,
            role: k.role,
            label: k.label,
            credit_code: k.credit_code,
            expires_on: k.expires_on,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

impl App {
    /// Decisions after `after_id` in id order (a page of the staff list).
    pub async fn list_decisions(
        &self,
        filter: &DecisionFilter,
        after_id: &str,
        limit: i64,
    ) -> AppResult<Vec<DecisionView>> {
        Ok(self.store.list_decisions(filter, after_id, limit).await?)
    }

    /// A disclosure by id (its current version), whatever its state.
    pub async fn get_disclosure(&self, id: &str) -> AppResult<Option<DisclosureRecord>> {
        Ok(self.store.get_disclosure(id).await?)
    }

    /// Disclosures matching `filter` after `after_id` in id order (a page of the published set).
    pub async fn list_disclosures(
        &self,
        filter: &DisclosureFilter,
        after_id: &str,
        limit: i64,
    ) -> AppResult<Vec<DisclosureRecord>> {
        Ok(self.store.list_disclosures(filter, after_id, limit).await?)
    }

    /// Feed entries with sequence > `after`, in sequence order (content only where it may be shared).
    pub async fn list_changes(&self, after: i64, limit: i64) -> AppResult<Vec<ChangeView>> {
        Ok(self.store.list_changes(after, limit).await?)
    }

    /// Events of a decision with id > `after_id`.
    pub async fn list_events(&self, decision_id: &str, after_id: i64, limit: i64) -> AppResult<Vec<EventView>> {
        Ok(self.store.list_events(decision_id, after_id, limit).await?)
    }

    /// Latest notice bundles after `after_decision_id`.
    pub async fn list_bundles(
        &self,
        filter: &BundleFilter,
        after_decision_id: &str,
        limit: i64,
    ) -> AppResult<Vec<BundleView>> {
        Ok(self.store.list_bundles(filter, after_decision_id, limit).await?)
    }

    /// Repair applications after `after_id` in id order.
    pub async fn list_repairs(&self, filter: &RepairFilter, after_id: &str, limit: i64) -> AppResult<Vec<RepairView>> {
        Ok(self.store.list_repairs(filter, after_id, limit).await?)
    }

    /// Transitions of an application with id > `after_id`.
    pub async fn list_repair_events(
        &self,
        application_id: &str,
        after_id: i64,
        limit: i64,
    ) -> AppResult<Vec<RepairEventView>> {
        Ok(self.store.list_repair_events(application_id, after_id, limit).await?)
    }
}
