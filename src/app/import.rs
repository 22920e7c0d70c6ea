//! Historical import: decisions from a file of past decisions (`gongshi
//! import`), each recorded and published together — a batch of them in one
//! transaction, so that either all of a batch is stored or none of it.
//!
//! Unlike `CreatePenaltyDecision` + `PublishPenaltyDecision`, the legal-review
//! gate for major decisions is not applied: the decisions were made, reviewed
//! and published before gongshi, so the review happened outside it. Both
//! events (`RECORDED` and the publication's) name the file and row. The
//! publication itself is the same code as `publish_decision`'s: the policy
//! decides, and a decision whose publicity period is already over is recorded
//! as expired at once and never shared. The publication's date is the
//! file's 公示日期 where it has one, and otherwise unknown — never the day of
//! the import, which would count every imported decision as published late.

use chrono::NaiveDate;
use serde_json::json;

use super::decisions::{EventNote, Published};
use super::keys::Caller;
use super::{App, AppError, AppResult, new_id};
use crate::domain::lifecycle::{Actor, EventKind, Role};
use crate::domain::record::DecisionDoc;
use crate::store::{DecisionRow, NewEvent, Tx};

/// Where an imported decision came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSource {
    /// The file's name (no directory), as recorded in the events.
    pub file: String,
    /// The row in the file (the header is row 1).
    pub row: u64,
}

/// The caller an import acts as: an officer, key id `import`. An import needs
/// no API key: whoever can run the command can reach the database anyway.
pub fn import_caller(file: &str) -> Caller {
    Caller {
        key_id: "import".into(),
        label: format!("gongshi import {file}"),
        role: Role::Officer,
        enterprise: None,
    }
}

/// One decision of an import batch.
#[derive(Debug, Clone)]
pub struct ImportItem {
    /// The validated content (`app::input::decision_doc`).
    pub doc: DecisionDoc,
    /// Its file and row.
    pub source: ImportSource,
    /// Its 公示日期, when the file has one; `None`: published on a day
    /// nobody recorded (never the import's day).
    pub published_on: Option<NaiveDate>,
}

impl App {
    /// Records and publishes one historical decision in one transaction.
    /// `ALREADY_EXISTS` (`DUPLICATE_DECISION_NUMBER`) if the authority already
    /// has a decision with this number, so importing a file again creates
    /// nothing twice.
    pub async fn import_decision(
        &self,
        caller: &Caller,
        doc: DecisionDoc,
        source: &ImportSource,
        published_on: Option<NaiveDate>,
    ) -> AppResult<DecisionRow> {
        let item = ImportItem {
            doc,
            source: source.clone(),
            published_on,
        };
        self.import_decisions(caller, vec![item])
            .await?
            .pop()
            .unwrap_or_else(|| Err(AppError::Internal("import batch returned no result".into())))
    }

    /// Records and publishes a batch of historical decisions in one
    /// transaction (a transaction per decision costs the import most of its
    /// time). Each item's result is its own: `ALREADY_EXISTS` for a number its
    /// authority already has, `INVALID_ARGUMENT` when no rule set covers its
    /// date; nothing of such an item is written. An error of the whole call
    /// (the database) means nothing of the batch was committed.
    pub async fn import_decisions(
        &self,
        caller: &Caller,
        items: Vec<ImportItem>,
    ) -> AppResult<Vec<AppResult<DecisionRow>>> {
        let actor = caller.actor();
        let mut tx = self.store.begin().await?;
        let mut results = Vec::with_capacity(items.len());
        let mut fed = false;
        for item in items {
            match self.import_in_tx(&mut tx, &actor, item).await {
                Ok((row, f)) => {
                    fed |= f;
                    results.push(Ok(row));
                }
                Err(e @ (AppError::AlreadyExists { .. } | AppError::Invalid { .. })) => results.push(Err(e)),
                Err(e) => return Err(e),
            }
        }
        self.commit_fed(tx, fed).await?;
        Ok(results)
    }

    /// One item: its soft failures (duplicate, no rule set) come before any
    /// write, so the batch's transaction stays usable.
    async fn import_in_tx(
        &self,
        tx: &mut Box<dyn Tx>,
        actor: &Actor,
        item: ImportItem,
    ) -> AppResult<(DecisionRow, bool)> {
        let ImportItem {
            mut doc,
            source,
            published_on,
        } = item;
        doc.major = self.is_major(&doc);
        self.periods(&doc)?;
        let now = self.now_micros();
        let note = EventNote {
            summary: format!("historical import from {} row {}", source.file, source.row),
            details: match json!({"import": source.file, "row": source.row}) {
                serde_json::Value::Object(m) => m,
                _ => serde_json::Map::new(),
            },
        };
        let row = DecisionRow::recorded(new_id(), doc, actor.clone(), now);
        if !tx.insert_decision(&row, None).await? {
            return Err(AppError::AlreadyExists {
                reason: "DUPLICATE_DECISION_NUMBER",
                message: format!(
                    "decision number {} is already recorded at authority {}",
                    row.doc.decision_number, row.doc.authority.credit_code
                ),
            });
        }
        let mut details = json!({"decision_number": row.doc.decision_number, "major": row.doc.major});
        if let Some(m) = details.as_object_mut() {
            m.extend(note.details.clone());
        }
        tx.append_event(&NewEvent {
            decision_id: row.id.clone(),
            kind: EventKind::Recorded,
            actor: actor.clone(),
            at: now,
            summary: format!("decision {} recorded ({})", row.doc.decision_number, note.summary),
            details,
            document_sha256: vec![],
        })
        .await?;
        // The legal-review gate of `publish_decision` is not applied: the
        // review of historical decisions happened outside gongshi.
        let published = match published_on {
            Some(day) => Published::On(day),
            None => Published::Unknown,
        };
        self.publish_in_tx(tx, actor, row, Some(&note), published).await
    }
}
