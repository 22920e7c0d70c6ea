//! 修复终止: an open repair application whose disclosure ends (it expires,
//! its decision is withdrawn) moves to CLOSED in the transaction that ends the
//! disclosure, with the cause as the transition's reason (DOMAIN.md §4).
//!
//! The acts that end a disclosure lock the decision and the disclosure; the
//! one lock order (application, then decision, then disclosure) means they
//! must lock the application first. [`App::lock_open_repair`] does that from
//! an unlocked look-up, and [`App::close_repair_in_tx`] checks, under the
//! disclosure's lock, that no other application became open in between (a
//! submission that committed while this transaction waited for the decision):
//! then it answers [`AppError::Conflict`] and the act is retried from the
//! start rather than lock an application out of order.

use super::{App, AppError, AppResult};
use crate::domain::lifecycle::{Actor, Micros};
use crate::domain::repair::{self, ClosureCause};
use crate::store::{DisclosureRow, NewRepairEvent, RepairRow, Tx};

/// How many times an act that ends a disclosure is tried when an application
/// became open under it (see the module documentation).
pub(super) const ATTEMPTS: usize = 3;

impl App {
    /// Locks the open application of a disclosure, if any, before anything
    /// else of its decision is locked.
    pub(super) async fn lock_open_repair(
        &self,
        tx: &mut Box<dyn Tx>,
        disclosure_id: &str,
    ) -> AppResult<Option<RepairRow>> {
        let Some(id) = tx.open_repair_in_tx(disclosure_id).await? else {
            return Ok(None);
        };
        Ok(tx.repair_for_update(&id).await?.filter(|r| r.state.is_open()))
    }

    /// Closes the disclosure's open application (`locked`, from
    /// [`App::lock_open_repair`] in this transaction) because the
    /// disclosure ended, and clears `repair_pending` on `d` (the caller
    /// writes `d`). Returns the application's name if one was closed.
    /// [`AppError::Conflict`] when another application is open now: the
    /// caller rolls back and tries again.
    pub(super) async fn close_repair_in_tx(
        &self,
        tx: &mut Box<dyn Tx>,
        locked: Option<RepairRow>,
        d: &mut DisclosureRow,
        cause: ClosureCause,
        actor: &Actor,
        now: Micros,
    ) -> AppResult<Option<String>> {
        d.repair_pending = false;
        let open_now = tx.open_repair_in_tx(&d.id).await?;
        let mut row = match (locked, open_now) {
            (None, None) => return Ok(None),
            (Some(row), Some(id)) if row.id == id => row,
            _ => return Err(AppError::Conflict),
        };
        let from = row.state;
        let Some(to) = repair::close(from) else {
            return Err(AppError::Internal(format!(
                "application {} is open but cannot be closed from {from}",
                row.id
            )));
        };
        row.state = to;
        row.doc.last_reason = cause.as_str().to_string();
        row.version += 1;
        row.update_time = now;
        tx.update_repair(&row).await?;
        tx.append_repair_event(&NewRepairEvent {
            application_id: row.id.clone(),
            actor: actor.clone(),
            at: now,
            from: Some(from),
            to,
            reason: cause.as_str().to_string(),
        })
        .await?;
        Ok(Some(format!("repairApplications/{}", row.id)))
    }
}
