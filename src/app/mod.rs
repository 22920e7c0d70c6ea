//! The application layer: each official act as one transaction over the
//! [`Store`], applying the pure rules of [`crate::domain`]. No SQL here, and no
//! tonic types: the gRPC layer, the CLI and tests all call these operations.

pub mod calendar;
mod decisions;
mod error;
mod expiry;
pub mod guard;
pub mod import;
pub mod input;
pub mod keys;
pub mod metrics;
pub mod notice;
pub mod public;
pub mod repair;
mod repair_close;
pub mod report;
pub mod views;

use std::sync::Arc;

use tokio::sync::watch;

use crate::domain::clock::Clock;
use crate::domain::lifecycle::Micros;
use crate::domain::policy::{PenaltyKind, PublicityPolicy};
use crate::store::Store;

pub use decisions::{CorrectionPatch, ReviewInput, has_sensitive};
pub use error::{AppError, AppResult, FieldViolation, PreconditionViolation};

/// Which decisions count as major (重大执法决定), needing an approving legal
/// review before publication. Configuration (DOMAIN.md §6).
#[derive(Debug, Clone)]
pub struct MajorRules {
    /// A fine at or above this many fen makes a decision major.
    pub fine_threshold_fen: i64,
    /// Any of these penalty kinds makes a decision major.
    pub kinds: Vec<PenaltyKind>,
}

impl Default for MajorRules {
    fn default() -> Self {
        MajorRules {
            // 100,000 元.
            fine_threshold_fen: 10_000_000,
            kinds: vec![
                PenaltyKind::OrderSuspension,
                PenaltyKind::OrderClosure,
                PenaltyKind::RevokeLicense,
            ],
        }
    }
}

/// Shared state of one server instance (or one CLI run).
pub struct App {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The clock (injected in tests).
    pub clock: Arc<dyn Clock>,
    /// The publicity policy.
    pub policy: Arc<PublicityPolicy>,
    /// This instance's copy of the working-day calendar (read it with
    /// [`App::calendar`]; the stored official years are the truth).
    calendar: calendar::CalendarCell,
    /// Major-decision rules.
    pub major: MajorRules,
    /// Credit-repair limits and deadlines.
    pub repair: repair::RepairSettings,
    /// Notice templates and texts.
    pub notices: notice::NoticeConfig,
    /// Bumped after every commit that appended to the change feed, so local
    /// watchers wake at once (other instances' commits are found by polling).
    feed: watch::Sender<u64>,
    /// Admission state of this instance: database health, per-key rate.
    pub guard: Arc<guard::Guard>,
    /// This instance's metrics (served by the admin listener).
    pub metrics: Arc<metrics::Metrics>,
}

impl App {
    /// Assembles the application.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        policy: Arc<PublicityPolicy>,
        calendar: calendar::CalendarCell,
        major: MajorRules,
    ) -> Self {
        let (feed, _) = watch::channel(0);
        App {
            store,
            clock,
            policy,
            calendar,
            major,
            repair: repair::RepairSettings::default(),
            notices: notice::NoticeConfig {
                settings: crate::domain::notice::NoticeSettings::default(),
                // Set by `with_notices` (Config::open_app loads the templates).
                templates: Arc::new(crate::domain::notice::NoticeTemplates::empty()),
            },
            feed,
            guard: Arc::new(guard::Guard::default()),
            metrics: Arc::new(metrics::Metrics::new()),
        }
    }

    /// Replaces the metrics (`Config::open_app` makes them before the store,
    /// which reports its pool's acquire times into them).
    pub fn with_metrics(mut self, metrics: Arc<metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Replaces the notice configuration.
    pub fn with_notices(mut self, notices: notice::NoticeConfig) -> Self {
        self.notices = notices;
        self
    }

    /// Replaces the credit-repair settings.
    pub fn with_repair(mut self, settings: repair::RepairSettings) -> Self {
        self.repair = settings;
        self
    }

    /// Now, in stored form.
    pub fn now_micros(&self) -> Micros {
        self.clock.now().timestamp_micros()
    }

    /// Subscribes to local feed commits.
    pub fn feed_signal(&self) -> watch::Receiver<u64> {
        self.feed.subscribe()
    }

    /// Commits `tx`; when it wrote a feed entry (`fed`), then wakes the
    /// feed's local subscribers.
    async fn commit_fed(&self, tx: Box<dyn crate::store::Tx>, fed: bool) -> AppResult<()> {
        tx.commit().await?;
        if fed {
            self.feed.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(())
    }

    /// Appends `change`, if any, as the transaction's last write, then
    /// commits with [`App::commit_fed`].
    async fn commit_with_change(
        &self,
        mut tx: Box<dyn crate::store::Tx>,
        change: Option<crate::store::NewChange>,
    ) -> AppResult<()> {
        let fed = change.is_some();
        if let Some(c) = change {
            tx.append_change(&c).await?;
        }
        self.commit_fed(tx, fed).await
    }
}

/// The etag of a row version (decisions, bundles, repair applications).
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Refuses `given` unless it is empty or the etag of `version`.
fn check_etag(version: i64, given: &str) -> AppResult<()> {
    if given.is_empty() || given == etag(version) {
        Ok(())
    } else {
        Err(AppError::EtagMismatch { current: etag(version) })
    }
}

/// Server-assigned ids: ULIDs, URL-safe and time-sortable (API.md).
pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}
