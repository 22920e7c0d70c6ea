//! Reads of the public face (issue 16): search over the active records, one
//! disclosure's changes, and the feed newest first — the [`PublicStore`] half
//! of [`super::Store`].
//!
//! The search index (`disclosures.search_name` and `disclosure_grams`, see
//! `migrations/*/0007_public_search.sql` and [`crate::domain::search`]) is
//! written by the store itself in every transaction that inserts or updates a
//! disclosure, so it can never disagree with a committed state: only ACTIVE
//! records are in it.

use async_trait::async_trait;

use super::{ChangeView, DisclosureRow, Result};
use crate::domain::search::SearchTerm;

/// Bigrams of a name query the index looks up (the rarest drives the search).
pub const QUERY_GRAMS: usize = 6;
/// A bigram with at least this many records counts as common; probing stops there.
pub const GRAM_PROBE: i64 = 1000;

/// Reads of the public face.
#[async_trait]
pub trait PublicStore {
    /// Active disclosures matching `term`, in id order (`newest_first`:
    /// descending), strictly after `cursor` in that order (empty: from the
    /// start).
    async fn search_disclosures(
        &self,
        term: &SearchTerm,
        cursor: &str,
        limit: i64,
        newest_first: bool,
    ) -> Result<Vec<DisclosureRow>>;
    /// Every change of one disclosure in sequence order, content served as by
    /// [`super::Store::list_changes`] (only while the disclosure is active).
    async fn changes_of(&self, disclosure_id: &str) -> Result<Vec<ChangeView>>;
    /// Changes with sequence < `before`, newest first.
    async fn list_changes_before(&self, before: i64, limit: i64) -> Result<Vec<ChangeView>>;
}
