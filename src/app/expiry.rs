//! Expiry: the day after `publicity_ends_on` (CST), a disclosure stops being
//! public with no API call (DOMAIN.md §3).
//!
//! Exactly once, even with several instances on one database: each candidate
//! is re-read under a row lock inside its own transaction and terminated only
//! if it is still active, so a second instance finds nothing left to do.
//!
//! An application still open for the disclosure is closed (修复终止,
//! `DISCLOSURE_EXPIRED`) in the same transaction (see `repair_close`).

use serde_json::json;

use super::{App, AppError, AppResult};
use crate::domain::lifecycle::{Actor, ChangeKind, DisclosureState, EventKind, TerminationReason};
use crate::domain::repair::ClosureCause;
use crate::store::NewEvent;

impl App {
    /// Terminates every active disclosure whose publicity period has ended
    /// by the clock's today. Returns how many this call terminated.
    pub async fn expire_due(&self) -> AppResult<u64> {
        let today = self.clock.today_cst();
        let mut done = 0u64;
        loop {
            let ids = self.store.expiry_candidates(today, 500).await?;
            if ids.is_empty() {
                break;
            }
            let mut progressed = false;
            for id in &ids {
                if self.expire_one(id, today).await? {
                    done += 1;
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
        self.metrics.expiry_ran();
        Ok(done)
    }

    async fn expire_one(&self, id: &str, today: chrono::NaiveDate) -> AppResult<bool> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.expire_attempt(id, today).await {
                Err(AppError::Conflict) if attempt < super::repair_close::ATTEMPTS => continue,
                r => return r,
            }
        }
    }

    async fn expire_attempt(&self, id: &str, today: chrono::NaiveDate) -> AppResult<bool> {
        // Lock order: an open repair application, then decision, then
        // disclosure (as everywhere; see app::repair).
        let Some(pre) = self.store.get_disclosure(id).await? else {
            return Ok(false);
        };
        let mut tx = self.store.begin().await?;
        let open = self.lock_open_repair(&mut tx, id).await?;
        tx.decision_for_update(&pre.decision_id).await?;
        let Some(mut d) = tx.disclosure_for_update(id).await? else {
            return Ok(false);
        };
        if d.state != DisclosureState::Active || d.content.publicity_ends_on >= today {
            return Ok(false); // another instance got there first, or it was corrected
        }
        let now = self.now_micros();
        let actor = Actor::system("expiry");
        // 修复终止: an application still open has nothing left to repair.
        let closed = self
            .close_repair_in_tx(&mut tx, open, &mut d, ClosureCause::DisclosureExpired, &actor, now)
            .await?;
        d.terminate(DisclosureState::Expired, TerminationReason::Expired, now);
        tx.update_disclosure(&d, false).await?;
        let mut details = json!({"disclosure": format!("disclosures/{}", d.id), "publicity_ends_on": d.content.publicity_ends_on.to_string()});
        if let (Some(name), Some(m)) = (&closed, details.as_object_mut()) {
            m.insert("closed_repair_application".into(), json!(name));
        }
        tx.append_event(&NewEvent {
            decision_id: d.decision_id.clone(),
            kind: EventKind::DisclosureExpired,
            actor,
            at: now,
            summary: match &closed {
                Some(name) => format!(
                    "publicity ended {}; disclosure expired; open repair application {name} closed ({})",
                    d.content.publicity_ends_on,
                    ClosureCause::DisclosureExpired
                ),
                None => format!("publicity ended {}; disclosure expired", d.content.publicity_ends_on),
            },
            details,
            document_sha256: vec![d.content_sha256.clone()],
        })
        .await?;
        self.commit_with_change(tx, Some(d.change(ChangeKind::Terminated, None, now)))
            .await?;
        self.metrics.expiry_terminated.inc();
        tracing::info!(disclosure = %d.id, "disclosure expired");
        Ok(true)
    }
}
