//! Storage of credit-repair applications: the [`RepairStore`] and
//! [`RepairTx`] halves of [`super::Store`] and [`super::Tx`].

use async_trait::async_trait;
use chrono::NaiveDate;

use super::Result;
use crate::domain::lifecycle::{Actor, Micros};
use crate::domain::repair::{Commitment, MaterialMeta, RepairDoc, RepairState};

/// A stored application.
#[derive(Debug, Clone, PartialEq)]
pub struct RepairRow {
    /// Id.
    pub id: String,
    /// The disclosure it asks to take down.
    pub disclosure_id: String,
    /// Applicant credit code.
    pub applicant_code: String,
    /// State.
    pub state: RepairState,
    /// Receipt code (`XXXXX-XXXXX`).
    pub receipt_code: String,
    /// Due dates (stored so `overdue` can be a list filter).
    pub accept_due_on: Option<NaiveDate>,
    /// Decision due.
    pub decide_due_on: Option<NaiveDate>,
    /// Overall due.
    pub overall_due_on: Option<NaiveDate>,
    /// The rest.
    pub doc: RepairDoc,
    /// Row version: the etag.
    pub version: i64,
    /// Created.
    pub create_time: Micros,
    /// Last changed.
    pub update_time: Micros,
}

/// A transition to record.
#[derive(Debug, Clone)]
pub struct NewRepairEvent {
    /// Application.
    pub application_id: String,
    /// Who.
    pub actor: Actor,
    /// When.
    pub at: Micros,
    /// From (none at submission).
    pub from: Option<RepairState>,
    /// To.
    pub to: RepairState,
    /// Why.
    pub reason: String,
}

/// A stored transition: what was recorded, under its id.
#[derive(Debug, Clone)]
pub struct RepairEventRow {
    /// Id, strictly increasing.
    pub id: i64,
    /// The transition as recorded.
    pub event: NewRepairEvent,
}

/// Filters of `ListRepairApplications`.
#[derive(Debug, Clone, Default)]
pub struct RepairFilter {
    /// State.
    pub state: Option<RepairState>,
    /// Applicant credit code (forced to the caller's for enterprises).
    pub applicant_code: String,
    /// Only those past a due date on this day.
    pub overdue_on: Option<NaiveDate>,
}

/// Reads of repair applications.
#[async_trait]
pub trait RepairStore: Send + Sync {
    /// An application by id.
    async fn get_repair(&self, id: &str) -> Result<Option<RepairRow>>;
    /// Applications after `after_id`, in id order.
    async fn list_repairs(&self, f: &RepairFilter, after_id: &str, limit: i64) -> Result<Vec<RepairRow>>;
    /// Transitions of an application with id > `after_id`.
    async fn list_repair_events(&self, application_id: &str, after_id: i64, limit: i64) -> Result<Vec<RepairEventRow>>;
    /// The application with this receipt code and applicant, if any.
    async fn lookup_repair(&self, receipt_code: &str, applicant_code: &str) -> Result<Option<RepairRow>>;
    /// The open application of a disclosure, if any.
    async fn open_repair(&self, disclosure_id: &str) -> Result<Option<String>>;
}

/// Writes of repair applications, inside a [`super::Tx`].
#[async_trait]
pub trait RepairTx: Send {
    /// Inserts; `false` (nothing written) when the request key, the receipt
    /// code, or an open application for the disclosure already exists.
    async fn insert_repair(&mut self, row: &RepairRow, request_key: Option<&str>) -> Result<bool>;
    /// The application created by an earlier request with this key.
    async fn repair_by_request_key(&mut self, request_key: &str) -> Result<Option<RepairRow>>;
    /// An application, locked for the rest of the transaction.
    async fn repair_for_update(&mut self, id: &str) -> Result<Option<RepairRow>>;
    /// The open application of a disclosure, seen inside the transaction.
    async fn open_repair_in_tx(&mut self, disclosure_id: &str) -> Result<Option<String>>;
    /// Rewrites an application (state, due dates, doc, version).
    async fn update_repair(&mut self, row: &RepairRow) -> Result<()>;
    /// Stores one uploaded material.
    async fn insert_material(
        &mut self,
        application_id: &str,
        seq: i64,
        meta: &MaterialMeta,
        content: &[u8],
        at: Micros,
    ) -> Result<()>;
    /// Stores the commitment as its own record.
    async fn insert_commitment(&mut self, application_id: &str, c: &Commitment, at: Micros) -> Result<()>;
    /// Appends a transition.
    async fn append_repair_event(&mut self, ev: &NewRepairEvent) -> Result<i64>;
}
