//! The public read models (issue 16): what anyone may see of the published
//! set, for every adapter that shows it — the DisclosureService, the public
//! page, the JSON API and the Atom feed.
//!
//! Everything here is built from
//! [`PublicRecord`](crate::domain::record::PublicRecord), which has no field for an
//! ID number, an address or a contact, and serves content only while a
//! disclosure is active: a terminated record is answered with the change that
//! removed it, never with its content, and is not found by a search.

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{App, AppError, AppResult};
use crate::domain::lifecycle::{ChangeKind, DisclosureState};
use crate::domain::record::{CSV_HEADER, PublicRecord};
use crate::domain::search::QueryError;
use crate::store::ExportItem;

use super::views::{ChangeView, DisclosureRecord};

pub use crate::domain::search::SearchTerm;

/// One disclosure as the public may see it.
#[derive(Debug, Clone, PartialEq)]
pub enum PublicLookup {
    /// Active: the record and its changes (publication, corrections).
    Active {
        /// The record.
        disclosure: DisclosureRecord,
        /// Its changes in order, each with the content of its version
        /// (empty unless asked for).
        changes: Vec<ChangeView>,
    },
    /// Published once, no longer: the change that removed it (no content).
    Removed(ChangeView),
    /// Never published.
    NotFound,
}

/// What the CSV export yields, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportPiece {
    /// First: every change up to this sequence is reflected, none after.
    Start {
        /// The feed position of the snapshot.
        as_of_sequence: i64,
    },
    /// A full chunk of the file.
    Data(Vec<u8>),
    /// Last: the rest of the file and what describes the whole of it.
    End {
        /// The last bytes (maybe none).
        data: Vec<u8>,
        /// Records in the file.
        row_count: i64,
        /// As in `Start`.
        as_of_sequence: i64,
        /// SHA-256 (hex) of the whole file.
        sha256: String,
    },
}

/// The public query `q` as a [`SearchTerm`]; a bad one is `INVALID_ARGUMENT`
/// naming the field `q`.
pub fn search_term(q: &str) -> AppResult<SearchTerm> {
    SearchTerm::parse(q).map_err(|e: QueryError| AppError::invalid_field(e.reason(), "q", e.to_string()))
}

impl App {
    /// Active disclosures matching `term`, a page of `limit` after `cursor`
    /// (an id; empty for the first page), oldest or newest first.
    pub async fn public_disclosures(
        &self,
        term: &SearchTerm,
        cursor: &str,
        limit: i64,
        newest_first: bool,
    ) -> AppResult<Vec<DisclosureRecord>> {
        Ok(self.store.search_disclosures(term, cursor, limit, newest_first).await?)
    }

    /// One disclosure for the public: active (with its changes when
    /// `history`), removed (the change that removed it), or not found.
    pub async fn public_disclosure(&self, id: &str, history: bool) -> AppResult<PublicLookup> {
        let Some(row) = self.store.get_disclosure(id).await? else {
            return Ok(PublicLookup::NotFound);
        };
        if row.state == DisclosureState::Active && !history {
            return Ok(PublicLookup::Active {
                disclosure: row,
                changes: Vec::new(),
            });
        }
        let changes = self.store.changes_of(id).await?;
        if row.state == DisclosureState::Active {
            return Ok(PublicLookup::Active {
                disclosure: row,
                changes,
            });
        }
        // A record recorded as expired at once (late history) was never
        // public: it has no removal to show.
        Ok(changes
            .into_iter()
            .rev()
            .find(|c| c.kind == ChangeKind::Terminated)
            .map(PublicLookup::Removed)
            .unwrap_or(PublicLookup::NotFound))
    }

    /// The feed: changes with sequence > `after`, in order.
    pub async fn public_changes(&self, after: i64, limit: i64) -> AppResult<Vec<ChangeView>> {
        Ok(self.store.list_changes(after, limit).await?)
    }

    /// The feed newest first: changes with sequence < `before`.
    pub async fn public_changes_before(&self, before: i64, limit: i64) -> AppResult<Vec<ChangeView>> {
        Ok(self.store.list_changes_before(before, limit).await?)
    }

    /// The national CSV of every active record (RFC 4180, CRLF, the header
    /// first), read from one consistent snapshot in batches of `batch` rows
    /// and cut into chunks of `chunk_bytes`. Bounded channels end to end: the
    /// store reads one batch ahead of the consumer, so memory stays flat
    /// however large the export. Dropping the receiver stops the work.
    pub fn export_csv(&self, batch: i64, chunk_bytes: usize) -> mpsc::Receiver<AppResult<ExportPiece>> {
        let (items_tx, items_rx) = mpsc::channel(2);
        let (out_tx, out_rx) = mpsc::channel(4);
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.export_active(batch, items_tx.clone()).await {
                let _ = items_tx.send(Err(e)).await;
            }
        });
        tokio::spawn(async move {
            if let Err(e) = encode_export(items_rx, &out_tx, chunk_bytes).await {
                let _ = out_tx.send(Err(e)).await;
            }
        });
        out_rx
    }
}

/// Turns the store's export items into pieces: the CSV cut into chunks, then
/// the end with the count and the checksum. `Ok` too when the receiver went
/// away (the work just stops); an error is the caller's to send.
async fn encode_export(
    mut items: mpsc::Receiver<crate::store::Result<ExportItem>>,
    out: &mpsc::Sender<AppResult<ExportPiece>>,
    chunk_bytes: usize,
) -> AppResult<()> {
    let mut hasher = Sha256::new();
    let mut rows: i64 = 0;
    let mut as_of = 0;
    // One buffer for the whole export: each record's fields are written
    // straight into it, whole chunks are cut off by offset (one copy each),
    // and the tail stays for the next batch.
    let mut csv = CsvOut::new(chunk_bytes);
    csv.header()?;
    while let Some(item) = items.recv().await {
        match item? {
            ExportItem::Start { as_of_sequence } => {
                as_of = as_of_sequence;
                if out.send(Ok(ExportPiece::Start { as_of_sequence })).await.is_err() {
                    return Ok(());
                }
            }
            ExportItem::Rows(records) => {
                rows += records.len() as i64;
                csv.records(&records)?;
            }
        }
        for data in csv.whole_chunks() {
            hasher.update(&data);
            if out.send(Ok(ExportPiece::Data(data))).await.is_err() {
                return Ok(());
            }
        }
    }
    let data = csv.finish();
    hasher.update(&data);
    let _ = out
        .send(Ok(ExportPiece::End {
            data,
            row_count: rows,
            as_of_sequence: as_of,
            sha256: hex::encode(hasher.finalize()),
        }))
        .await;
    Ok(())
}

/// The export's CSV (RFC 4180, CRLF line ends), written into one buffer
/// that is cut into chunks of `chunk_bytes` as it fills.
struct CsvOut {
    buf: Vec<u8>,
    chunk_bytes: usize,
}

impl CsvOut {
    fn new(chunk_bytes: usize) -> Self {
        CsvOut {
            buf: Vec::with_capacity(chunk_bytes.saturating_mul(2)),
            chunk_bytes: chunk_bytes.max(1),
        }
    }

    /// The header line.
    fn header(&mut self) -> AppResult<()> {
        self.write(|w| w.write_record(CSV_HEADER))
    }

    /// A line a record, its fields written straight from the record.
    fn records(&mut self, records: &[PublicRecord]) -> AppResult<()> {
        self.write(|w| {
            records
                .iter()
                .try_for_each(|r| w.write_record(r.csv_fields().iter().map(|f| f.as_bytes())))
        })
    }

    fn write(&mut self, f: impl FnOnce(&mut csv::Writer<&mut Vec<u8>>) -> csv::Result<()>) -> AppResult<()> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut self.buf);
        f(&mut w).map_err(csv_error)?;
        w.flush().map_err(|e| csv_error(e.into()))
    }

    /// The whole chunks written so far (one copy each); the tail stays.
    fn whole_chunks(&mut self) -> Vec<Vec<u8>> {
        let whole = self.buf.len() - self.buf.len() % self.chunk_bytes;
        let chunks = self.buf[..whole].chunks(self.chunk_bytes).map(<[u8]>::to_vec).collect();
        self.buf.drain(..whole);
        chunks
    }

    /// The rest, after the last whole chunk.
    fn finish(self) -> Vec<u8> {
        self.buf
    }
}

fn csv_error(e: csv::Error) -> AppError {
    AppError::Internal(format!("csv: {e}"))
}

pub use crate::store::EncodedChange;

/// A page of stored `Disclosure` encodings (issue 18), served as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EncodedPage {
    /// Each disclosure's `Disclosure` encoding, in id order.
    pub items: Vec<bytes::Bytes>,
    /// The id of the last item when the page is full (more may follow).
    pub next_after: Option<String>,
}

impl App {
    /// One disclosure's state and its stored `Disclosure` encoding.
    pub async fn disclosure_encoded(&self, id: &str) -> AppResult<Option<(DisclosureState, bytes::Bytes)>> {
        Ok(self.store.get_disclosure_encoded(id).await?)
    }

    /// The feed with records encoded: changes with sequence > `after`, in
    /// order, content only while the disclosure is active.
    pub async fn changes_encoded(&self, after: i64, limit: i64) -> AppResult<Vec<EncodedChange>> {
        Ok(self.store.list_changes_encoded(after, limit).await?)
    }

    /// The feed's head: the highest change sequence committed (0 for an
    /// empty feed). It moves with every change appended (publication,
    /// correction, removal).
    pub async fn feed_head(&self) -> AppResult<i64> {
        Ok(self.store.feed_head().await?)
    }

    /// A page of disclosures' stored encodings matching `filter`, after
    /// `after` (an id; empty for the first page), `limit` at most.
    pub async fn disclosures_encoded(
        &self,
        filter: &crate::store::DisclosureFilter,
        after: &str,
        limit: i64,
    ) -> AppResult<EncodedPage> {
        let rows = self.store.list_disclosures_encoded(filter, after, limit).await?;
        let next_after = match rows.last() {
            Some((id, _)) if rows.len() as i64 == limit => Some(id.clone()),
            _ => None,
        };
        Ok(EncodedPage {
            items: rows.into_iter().map(|(_, b)| b).collect(),
            next_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_out_cuts_whole_chunks_and_keeps_the_tail() {
        let expected = CSV_HEADER.join(",") + "\r\n";
        let mut csv = CsvOut::new(100);
        csv.header().unwrap();
        let chunks = csv.whole_chunks();
        assert_eq!(chunks.len(), expected.len() / 100);
        assert!(chunks.iter().all(|c| c.len() == 100), "whole chunks only");
        // Nothing written since: no chunk, the tail stays.
        assert!(csv.whole_chunks().is_empty());
        let tail = csv.finish();
        assert_eq!(tail.len(), expected.len() % 100);
        assert_eq!([chunks.concat(), tail].concat(), expected.as_bytes());
    }
}
