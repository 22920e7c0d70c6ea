//! Storage of notice bundles: the [`NoticeStore`] and [`NoticeTx`] halves of
//! [`super::Store`] and [`super::Tx`].

use async_trait::async_trait;

use super::Result;
use crate::domain::lifecycle::Micros;
use crate::domain::notice::{Delivery, DeliveryState, DocumentKind, RenderedDocument};

/// A stored bundle version.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleRow {
    /// The decision.
    pub decision_id: String,
    /// Bundle version, from 1.
    pub version: i64,
    /// SHA-256 of what the documents were rendered from.
    pub context_sha256: String,
    /// Party credit code (for filtering and isolation).
    pub party_credit_code: String,
    /// The rendered documents (never changed once stored).
    pub documents: Vec<RenderedDocument>,
    /// When rendered.
    pub rendered_at: Micros,
    /// Delivery state.
    pub delivery_state: DeliveryState,
    /// The delivery act.
    pub delivery: Option<Delivery>,
    /// Row version: the etag.
    pub row_version: i64,
    /// Last changed.
    pub update_time: Micros,
    /// The documents as printed (PDF) that are stored for this version,
    /// without their bytes; read from `notice_pdfs`, written with
    /// [`NoticeTx::insert_pdf`]. Empty for a bundle rendered before PDFs
    /// existed, until its PDFs are first rendered.
    pub pdfs: Vec<PdfRow>,
}

/// A stored PDF of one document of a bundle version (never changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfRow {
    /// The decision.
    pub decision_id: String,
    /// The bundle version.
    pub version: i64,
    /// The document.
    pub kind: DocumentKind,
    /// SHA-256 (hex) of the file.
    pub sha256: String,
    /// Pages.
    pub page_count: i64,
    /// Size of the file.
    pub size_bytes: i64,
    /// What rendered it (`render::RENDERER`).
    pub renderer: String,
    /// When it was rendered.
    pub rendered_at: Micros,
}

impl BundleRow {
    /// The stored PDF of one of the bundle's documents.
    pub fn pdf(&self, kind: DocumentKind) -> Option<&PdfRow> {
        self.pdfs.iter().find(|p| p.kind == kind)
    }
}

/// Filters of `ListNoticeBundles` (latest versions only).
#[derive(Debug, Clone, Default)]
pub struct BundleFilter {
    /// Delivery state.
    pub delivery_state: Option<DeliveryState>,
    /// Party credit code.
    pub party_credit_code: String,
}

/// Reads of notice bundles.
#[async_trait]
pub trait NoticeStore: Send + Sync {
    /// A bundle version, or the latest with `None`.
    async fn get_bundle(&self, decision_id: &str, version: Option<i64>) -> Result<Option<BundleRow>>;
    /// Latest bundles after `after_decision_id`, in decision-id order.
    async fn list_bundles(&self, f: &BundleFilter, after_decision_id: &str, limit: i64) -> Result<Vec<BundleRow>>;
    /// A stored PDF with its bytes.
    async fn get_pdf(&self, decision_id: &str, version: i64, kind: DocumentKind) -> Result<Option<(PdfRow, Vec<u8>)>>;
}

/// Writes of notice bundles, inside a [`super::Tx`].
#[async_trait]
pub trait NoticeTx: Send {
    /// The latest bundle of a decision, locked.
    async fn latest_bundle_for_update(&mut self, decision_id: &str) -> Result<Option<BundleRow>>;
    /// Inserts a new latest version (the previous one stops being latest).
    async fn insert_bundle(&mut self, row: &BundleRow) -> Result<()>;
    /// Records delivery or receipt (documents are never rewritten).
    async fn update_bundle_delivery(&mut self, row: &BundleRow) -> Result<()>;
    /// Stores a document's PDF (once: a second one for the same document
    /// is [`super::StoreError::Duplicate`]).
    async fn insert_pdf(&mut self, row: &PdfRow, content: &[u8]) -> Result<()>;
}
