//! A store that counts its calls: the real store (SQLite or PostgreSQL)
//! behind a wrapper that counts, per method, every read it is asked for.
//! Writes go through the real store's transactions (`begin` is counted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDate;
use gongshi::store::{
    BundleFilter, BundleRow, CalendarLoadRow, CalendarSnapshot, CalendarStore, ChangeView, DecisionFilter, DecisionRow,
    DisclosureFilter, DisclosureRow, EventRow, ExportItem, KeyEvent, KeyRow, NoticeStore, PublicStore, RepairEventRow,
    RepairFilter, RepairRow, RepairStore, Result, Store, Tx,
};
use tokio::sync::mpsc;

/// The real store, counting calls by method name.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    calls: Mutex<HashMap<&'static str, u64>>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CountingStore {
            inner,
            calls: Mutex::new(HashMap::new()),
        }
    }

    fn count(&self, method: &'static str) {
        *self.calls.lock().expect("counter").entry(method).or_default() += 1;
    }

    /// Calls so far, by method.
    pub fn snapshot(&self) -> HashMap<&'static str, u64> {
        self.calls.lock().expect("counter").clone()
    }

    /// Calls of `method` since `before`.
    pub fn since(&self, before: &HashMap<&'static str, u64>, method: &str) -> u64 {
        let now = self.snapshot();
        now.get(method).copied().unwrap_or(0) - before.get(method).copied().unwrap_or(0)
    }
}

/// An impl of store trait `$trait` for the counting store: each method
/// under `counts` (`name(args) -> answer;`, an `async fn` of `&self`)
/// counts its call by name, then asks the real store; the items under
/// `and` are written out as they are.
macro_rules! counting_impl {
    ($trait:ident counts { $($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)* } $(and { $($plain:tt)* })?) => {
        #[async_trait]
        impl $trait for CountingStore {
            $($($plain)*)?
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.count(stringify!($name));
                    self.inner.$name($($arg),*).await
                }
            )*
        }
    };
}

counting_impl! {
    CalendarStore counts {
        calendar_version() -> Result<i64>;
        calendar_snapshot() -> Result<CalendarSnapshot>;
        list_calendar_loads(limit: i64) -> Result<Vec<CalendarLoadRow>>;
    }
}

counting_impl! {
    RepairStore counts {
        get_repair(id: &str) -> Result<Option<RepairRow>>;
        list_repairs(f: &RepairFilter, after_id: &str, limit: i64) -> Result<Vec<RepairRow>>;
        list_repair_events(application_id: &str, after_id: i64, limit: i64) -> Result<Vec<RepairEventRow>>;
        lookup_repair(receipt_code: &str, applicant_code: &str) -> Result<Option<RepairRow>>;
        open_repair(disclosure_id: &str) -> Result<Option<String>>;
    }
}

counting_impl! {
    NoticeStore counts {
        get_bundle(decision_id: &str, version: Option<i64>) -> Result<Option<BundleRow>>;
        list_bundles(f: &BundleFilter, after_decision_id: &str, limit: i64) -> Result<Vec<BundleRow>>;
        get_pdf(decision_id: &str, version: i64, kind: gongshi::domain::notice::DocumentKind) -> Result<Option<(gongshi::store::PdfRow, Vec<u8>)>>;
    }
}

counting_impl! {
    PublicStore counts {
        search_disclosures(term: &gongshi::domain::search::SearchTerm, cursor: &str, limit: i64, newest_first: bool) -> Result<Vec<DisclosureRow>>;
        changes_of(disclosure_id: &str) -> Result<Vec<ChangeView>>;
        list_changes_before(before: i64, limit: i64) -> Result<Vec<ChangeView>>;
    }
}

counting_impl! {
    Store counts {
        operational_figures(today: NaiveDate) -> Result<gongshi::store::OperationalFigures>;
        begin() -> Result<Box<dyn Tx>>;
        get_decision(id: &str) -> Result<Option<DecisionRow>>;
        get_decisions(ids: &[String]) -> Result<Vec<DecisionRow>>;
        decisions_of_disclosures(disclosure_ids: &[String]) -> Result<Vec<(String, String)>>;
        list_decisions(f: &DecisionFilter, after_id: &str, limit: i64) -> Result<Vec<DecisionRow>>;
        list_events(decision_id: &str, after_id: i64, limit: i64) -> Result<Vec<EventRow>>;
        get_disclosure(id: &str) -> Result<Option<DisclosureRow>>;
        list_disclosures(f: &DisclosureFilter, after_id: &str, limit: i64) -> Result<Vec<DisclosureRow>>;
        get_disclosure_encoded(id: &str) -> Result<Option<(gongshi::domain::lifecycle::DisclosureState, bytes::Bytes)>>;
        list_disclosures_encoded(f: &DisclosureFilter, after_id: &str, limit: i64) -> Result<Vec<(String, bytes::Bytes)>>;
        list_changes_encoded(after: i64, limit: i64) -> Result<Vec<gongshi::store::EncodedChange>>;
        feed_head() -> Result<i64>;
        list_changes(after: i64, limit: i64) -> Result<Vec<ChangeView>>;
        export_active(batch: i64, out: mpsc::Sender<Result<ExportItem>>) -> Result<()>;
        expiry_candidates(today: NaiveDate, limit: i64) -> Result<Vec<String>>;
        insert_key(k: &KeyRow) -> Result<()>;
        get_key(id: &str) -> Result<Option<KeyRow>>;
        list_keys() -> Result<Vec<KeyRow>>;
        revoke_key(id: &str, at: i64) -> Result<bool>;
        revoke_key_recorded(ev: &KeyEvent) -> Result<bool>;
        key_events(key_id: &str) -> Result<Vec<KeyEvent>>;
    }
    and {
        fn backend(&self) -> &'static str {
            self.inner.backend()
        }
        async fn migrate(&self) -> Result<()> {
            self.inner.migrate().await
        }
        fn pool_stats(&self) -> gongshi::store::PoolStats {
            self.inner.pool_stats()
        }
        async fn pending_migrations(&self) -> Result<Vec<i64>> {
            self.inner.pending_migrations().await
        }
        async fn ping(&self) -> Result<()> {
            self.inner.ping().await
        }
    }
}
