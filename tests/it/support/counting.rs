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

#[async_trait]
impl CalendarStore for CountingStore {
    async fn calendar_version(&self) -> Result<i64> {
        self.count("calendar_version");
        self.inner.calendar_version().await
    }
    async fn calendar_snapshot(&self) -> Result<CalendarSnapshot> {
        self.count("calendar_snapshot");
        self.inner.calendar_snapshot().await
    }
    async fn list_calendar_loads(&self, limit: i64) -> Result<Vec<CalendarLoadRow>> {
        self.count("list_calendar_loads");
        self.inner.list_calendar_loads(limit).await
    }
}

#[async_trait]
impl RepairStore for CountingStore {
    async fn get_repair(&self, id: &str) -> Result<Option<RepairRow>> {
        self.count("get_repair");
        self.inner.get_repair(id).await
    }
    async fn list_repairs(&self, f: &RepairFilter, after_id: &str, limit: i64) -> Result<Vec<RepairRow>> {
        self.count("list_repairs");
        self.inner.list_repairs(f, after_id, limit).await
    }
    async fn list_repair_events(&self, application_id: &str, after_id: i64, limit: i64) -> Result<Vec<RepairEventRow>> {
        self.count("list_repair_events");
        self.inner.list_repair_events(application_id, after_id, limit).await
    }
    async fn lookup_repair(&self, receipt_code: &str, applicant_code: &str) -> Result<Option<RepairRow>> {
        self.count("lookup_repair");
        self.inner.lookup_repair(receipt_code, applicant_code).await
    }
    async fn open_repair(&self, disclosure_id: &str) -> Result<Option<String>> {
        self.count("open_repair");
        self.inner.open_repair(disclosure_id).await
    }
}

#[async_trait]
impl NoticeStore for CountingStore {
    async fn get_bundle(&self, decision_id: &str, version: Option<i64>) -> Result<Option<BundleRow>> {
        self.count("get_bundle");
        self.inner.get_bundle(decision_id, version).await
    }
    async fn list_bundles(&self, f: &BundleFilter, after_decision_id: &str, limit: i64) -> Result<Vec<BundleRow>> {
        self.count("list_bundles");
        self.inner.list_bundles(f, after_decision_id, limit).await
    }
    async fn get_pdf(
        &self,
        decision_id: &str,
        version: i64,
        kind: gongshi::domain::notice::DocumentKind,
    ) -> Result<Option<(gongshi::store::PdfRow, Vec<u8>)>> {
        self.count("get_pdf");
        self.inner.get_pdf(decision_id, version, kind).await
    }
}

#[async_trait]
impl PublicStore for CountingStore {
    async fn search_disclosures(
        &self,
        term: &gongshi::domain::search::SearchTerm,
        cursor: &str,
        limit: i64,
        newest_first: bool,
    ) -> Result<Vec<DisclosureRow>> {
        self.count("search_disclosures");
        self.inner.search_disclosures(term, cursor, limit, newest_first).await
    }
    async fn changes_of(&self, disclosure_id: &str) -> Result<Vec<ChangeView>> {
        self.count("changes_of");
        self.inner.changes_of(disclosure_id).await
    }
    async fn list_changes_before(&self, before: i64, limit: i64) -> Result<Vec<ChangeView>> {
        self.count("list_changes_before");
        self.inner.list_changes_before(before, limit).await
    }
}

#[async_trait]
impl Store for CountingStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn migrate(&self) -> Result<()> {
        self.inner.migrate().await
    }
    async fn operational_figures(&self, today: NaiveDate) -> Result<gongshi::store::OperationalFigures> {
        self.count("operational_figures");
        self.inner.operational_figures(today).await
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
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        self.count("begin");
        self.inner.begin().await
    }
    async fn get_decision(&self, id: &str) -> Result<Option<DecisionRow>> {
        self.count("get_decision");
        self.inner.get_decision(id).await
    }
    async fn get_decisions(&self, ids: &[String]) -> Result<Vec<DecisionRow>> {
        self.count("get_decisions");
        self.inner.get_decisions(ids).await
    }
    async fn decisions_of_disclosures(&self, disclosure_ids: &[String]) -> Result<Vec<(String, String)>> {
        self.count("decisions_of_disclosures");
        self.inner.decisions_of_disclosures(disclosure_ids).await
    }
    async fn list_decisions(&self, f: &DecisionFilter, after_id: &str, limit: i64) -> Result<Vec<DecisionRow>> {
        self.count("list_decisions");
        self.inner.list_decisions(f, after_id, limit).await
    }
    async fn list_events(&self, decision_id: &str, after_id: i64, limit: i64) -> Result<Vec<EventRow>> {
        self.count("list_events");
        self.inner.list_events(decision_id, after_id, limit).await
    }
    async fn get_disclosure(&self, id: &str) -> Result<Option<DisclosureRow>> {
        self.count("get_disclosure");
        self.inner.get_disclosure(id).await
    }
    async fn list_disclosures(&self, f: &DisclosureFilter, after_id: &str, limit: i64) -> Result<Vec<DisclosureRow>> {
        self.count("list_disclosures");
        self.inner.list_disclosures(f, after_id, limit).await
    }
    async fn get_disclosure_encoded(
        &self,
        id: &str,
    ) -> Result<Option<(gongshi::domain::lifecycle::DisclosureState, bytes::Bytes)>> {
        self.count("get_disclosure_encoded");
        self.inner.get_disclosure_encoded(id).await
    }
    async fn list_disclosures_encoded(
        &self,
        f: &DisclosureFilter,
        after_id: &str,
        limit: i64,
    ) -> Result<Vec<(String, bytes::Bytes)>> {
        self.count("list_disclosures_encoded");
        self.inner.list_disclosures_encoded(f, after_id, limit).await
    }
    async fn list_changes_encoded(&self, after: i64, limit: i64) -> Result<Vec<gongshi::store::EncodedChange>> {
        self.count("list_changes_encoded");
        self.inner.list_changes_encoded(after, limit).await
    }
    async fn list_changes(&self, after: i64, limit: i64) -> Result<Vec<ChangeView>> {
        self.count("list_changes");
        self.inner.list_changes(after, limit).await
    }
    async fn export_active(&self, batch: i64, out: mpsc::Sender<Result<ExportItem>>) -> Result<()> {
        self.count("export_active");
        self.inner.export_active(batch, out).await
    }
    async fn expiry_candidates(&self, today: NaiveDate, limit: i64) -> Result<Vec<String>> {
        self.count("expiry_candidates");
        self.inner.expiry_candidates(today, limit).await
    }
    async fn insert_key(&self, k: &KeyRow) -> Result<()> {
        self.count("insert_key");
        self.inner.insert_key(k).await
    }
    async fn get_key(&self, id: &str) -> Result<Option<KeyRow>> {
        self.count("get_key");
        self.inner.get_key(id).await
    }
    async fn list_keys(&self) -> Result<Vec<KeyRow>> {
        self.count("list_keys");
        self.inner.list_keys().await
    }
    async fn revoke_key(&self, id: &str, at: i64) -> Result<bool> {
        self.count("revoke_key");
        self.inner.revoke_key(id, at).await
    }
    async fn revoke_key_recorded(&self, ev: &KeyEvent) -> Result<bool> {
        self.count("revoke_key_recorded");
        self.inner.revoke_key_recorded(ev).await
    }
    async fn key_events(&self, key_id: &str) -> Result<Vec<KeyEvent>> {
        self.count("key_events");
        self.inner.key_events(key_id).await
    }
}
