//! DisclosureService: the published set, its change feed, and the export.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::auth;
use super::convert::{Violations, disclosure_out, enum_in, enum_out, record_out, ts};
use super::enforcement::resource_id;
use super::{page, pb};
use crate::app::public::ExportPiece;
use crate::app::views::{ChangeView, DisclosureFilter};
use crate::app::{App, AppError};
use crate::domain::lifecycle::{ChangeKind, DisclosureState, Micros, Role, TerminationReason};

const READERS: &[Role] = &[Role::Discloser, Role::Auditor];

/// Changes a watch reads at a time.
const WATCH_BATCH: i64 = 500;

/// How often an open watch re-checks that its key is still valid.
const KEY_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Tuning of the feed and the export.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// How often a watch looks for changes committed by other instances.
    pub watch_poll: Duration,
    /// Rows read per batch by the export.
    pub export_batch: i64,
    /// Target size of an export chunk.
    pub export_chunk_bytes: usize,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions {
            watch_poll: Duration::from_millis(250),
            export_batch: 250,
            export_chunk_bytes: 64 * 1024,
        }
    }
}

/// The DisclosureService implementation.
#[derive(Clone)]
pub struct DisclosureApi {
    app: Arc<App>,
    opts: FeedOptions,
    /// Flips to true at shutdown, so open watches end and the server can stop.
    shutdown: watch::Receiver<bool>,
    /// Feed pages read ahead for pullers catching up (bytes path only).
    ahead: Arc<super::feed_ahead::FeedAhead>,
}

impl DisclosureApi {
    /// Wraps the application.
    pub fn new(app: Arc<App>, opts: FeedOptions, shutdown: watch::Receiver<bool>) -> Self {
        DisclosureApi {
            app,
            opts,
            shutdown,
            ahead: Arc::default(),
        }
    }

    /// A list request checked: its filter, the page scope, the position
    /// after which the page starts, and the page size (clamped).
    async fn list_request(
        &self,
        req: Request<pb::ListDisclosuresRequest>,
    ) -> Result<(DisclosureFilter, String, String, i64), Status> {
        let caller = auth::check(&self.app, &req, READERS).await?;
        let r = req.into_inner();
        let limit = page::size(r.page_size)?;
        let mut v = Violations::default();
        let state = v
            .enum_filter("state", r.state, |s| {
                enum_in!(pb::DisclosureState, "DISCLOSURE_STATE_", DisclosureState, s)
            })
            .unwrap_or(DisclosureState::Active);
        let filter = DisclosureFilter {
            party_credit_code: v.credit_code("party_credit_code", &r.party_credit_code, false),
            authority_code: v.credit_code("authority_credit_code", &r.authority_credit_code, false),
            state: Some(state),
            decided_from: v.date("decided_on_from", &r.decided_on_from, false),
            decided_to: v.date("decided_on_to", &r.decided_on_to, false),
        };
        v.finish()?;
        if state != DisclosureState::Active && caller.role != Role::Auditor {
            return Err(AppError::PermissionDenied {
                reason: "TERMINATED_RECORDS_AUDITORS_ONLY",
                message: "only auditors may list terminated disclosures".into(),
            }
            .into());
        }
        let scope = format!("disclosures|{}|{:?}", caller.key_id, filter);
        let after = page::position(&scope, &r.page_token)?;
        Ok((filter, scope, after, limit))
    }

    /// One disclosure checked for the caller: the decoded reference path.
    async fn get_checked(
        &self,
        req: &Request<pb::GetDisclosureRequest>,
    ) -> Result<(crate::app::keys::Caller, String), Status> {
        let caller = auth::check(&self.app, req, READERS).await?;
        let id = resource_id(&req.get_ref().name, "disclosures/", "name")?;
        Ok((caller, id.to_string()))
    }

    /// `GetDisclosure` from the stored encoding: the answer's bytes are the
    /// record's `Disclosure` encoding as stored, never decoded.
    pub async fn get_disclosure_bytes(
        &self,
        req: Request<pb::GetDisclosureRequest>,
    ) -> Result<Response<Bytes>, Status> {
        let (caller, id) = self.get_checked(&req).await?;
        let not_found = || AppError::NotFound(format!("disclosures/{id}"));
        let (state, bytes) = self.app.disclosure_encoded(&id).await?.ok_or_else(not_found)?;
        // Terminated records stop being shared: only auditors still see them.
        if state != DisclosureState::Active && caller.role != Role::Auditor {
            return Err(not_found().into());
        }
        Ok(Response::new(bytes))
    }

    /// `ListDisclosures` assembled from stored encodings: each record's bytes
    /// as field 1 (`disclosures`), then the page token as field 2.
    pub async fn list_disclosures_bytes(
        &self,
        req: Request<pb::ListDisclosuresRequest>,
    ) -> Result<Response<Bytes>, Status> {
        let (filter, scope, after, limit) = self.list_request(req).await?;
        let page = self.app.disclosures_encoded(&filter, &after, limit).await?;
        let next = page.next_after.map(|id| page::token(&scope, &id)).unwrap_or_default();
        Ok(Response::new(super::served::repeated_then_string(
            1,
            &page.items,
            2,
            &next,
        )))
    }

    /// Runs a watch: changes after `after` as `fetch` reads them (each with
    /// its sequence), in order, then new ones as they are committed, until
    /// the client goes, the key stops being valid, or the server stops.
    fn spawn_watch<T, F, Fut>(&self, token: String, after: i64, fetch: F) -> mpsc::Receiver<Result<T, Status>>
    where
        T: Send + 'static,
        F: Fn(Arc<App>, i64) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<Vec<(i64, T)>, AppError>> + Send,
    {
        let (tx, rx) = mpsc::channel(64);
        let app = self.app.clone();
        let poll = self.opts.watch_poll;
        let mut shutdown = self.shutdown.clone();
        let open = app.metrics.watch_opened();
        let watch = async move {
            let _open = open; // gongshi_watch_streams_open, until the task ends
            let mut cursor = after;
            let mut local = app.feed_signal();
            let mut checked = tokio::time::Instant::now();
            loop {
                if *shutdown.borrow() {
                    break;
                }
                // A key revoked or expired while the stream is open stops it.
                if checked.elapsed() >= KEY_RECHECK {
                    checked = tokio::time::Instant::now();
                    if let Err(e) = app.authenticate_key(&token).await {
                        let _ = tx.send(Err(Status::from(e))).await;
                        return;
                    }
                }
                match fetch(app.clone(), cursor).await {
                    Ok(changes) => {
                        let full = changes.len() as i64 == WATCH_BATCH;
                        for (sequence, c) in changes {
                            cursor = sequence;
                            if tx.send(Ok(c)).await.is_err() {
                                return; // the client went away
                            }
                        }
                        if full {
                            continue;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(e))).await;
                        return;
                    }
                }
                // Wake on a local commit, or poll for other instances' commits.
                tokio::select! {
                    _ = local.changed() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                    _ = tx.closed() => return,
                }
            }
        };
        // In the call's span, so its log lines carry the request ID.
        tokio::spawn(watch.instrument(tracing::Span::current()));
        rx
    }

    /// `ListDisclosureChanges` assembled from encoded changes (the records'
    /// stored bytes), never decoding a record.
    pub async fn list_disclosure_changes_bytes(
        &self,
        req: Request<pb::ListDisclosureChangesRequest>,
    ) -> Result<Response<Bytes>, Status> {
        auth::check(&self.app, &req, READERS).await?;
        let r = req.into_inner();
        if r.after_sequence < 0 {
            return Err(AppError::invalid_field("INVALID_SEQUENCE", "after_sequence", "must not be negative").into());
        }
        let limit = page::size(r.page_size)?;
        // A page read ahead after the puller's last full page, or read now;
        // after a full one, the next is read ahead (feed_ahead.rs).
        let page = match self.ahead.take(&self.app, r.after_sequence, limit).await {
            Some(page) => page,
            None => {
                let changes = self.app.changes_encoded(r.after_sequence, limit).await?;
                super::feed_ahead::Page::assemble(&changes, r.after_sequence, limit)
            }
        };
        if page.full {
            self.ahead.read_ahead(&self.app, page.last_sequence, limit);
        }
        Ok(Response::new(page.bytes))
    }

    /// `WatchDisclosureChanges` from encoded changes.
    pub async fn watch_disclosure_changes_bytes(
        &self,
        req: Request<pb::WatchDisclosureChangesRequest>,
    ) -> Result<Response<BoxStream<Bytes>>, Status> {
        let (token, after) = self.watch_request(&req).await?;
        let rx = self.spawn_watch(token, after, |app, cursor| async move {
            let changes = app.changes_encoded(cursor, WATCH_BATCH).await?;
            Ok(changes
                .iter()
                .map(|c| (c.sequence, super::served::change_bytes(c)))
                .collect())
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    /// A watch request checked: the caller's key (rechecked while the watch
    /// is open) and the sequence to start after.
    async fn watch_request(&self, req: &Request<pb::WatchDisclosureChangesRequest>) -> Result<(String, i64), Status> {
        auth::check(&self.app, req, READERS).await?;
        let token = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.strip_prefix("Bearer "))
            .unwrap_or_default()
            .trim()
            .to_string();
        let after = req.get_ref().after_sequence;
        if after < 0 {
            return Err(AppError::invalid_field("INVALID_SEQUENCE", "after_sequence", "must not be negative").into());
        }
        Ok((token, after))
    }
}

/// A change's fields before its record as protobuf (the rest left
/// default): one mapping for the decoded feed ([`change_out`]) and the
/// feed written from stored bytes (`served::change_bytes`).
pub fn change_head(
    sequence: i64,
    disclosure_id: &str,
    kind: ChangeKind,
    reason: Option<TerminationReason>,
    effective_time: Micros,
) -> pb::DisclosureChange {
    pb::DisclosureChange {
        sequence,
        disclosure: format!("disclosures/{disclosure_id}"),
        kind: enum_out!(pb::ChangeKind, "CHANGE_KIND_", kind),
        reason: reason
            .map(|r| enum_out!(pb::TerminationReason, "TERMINATION_REASON_", r))
            .unwrap_or(0),
        effective_time: Some(ts(effective_time)),
        ..Default::default()
    }
}

/// A feed entry as protobuf (content only when the store served it: the
/// disclosure is still active): one conversion for the gRPC feed and the
/// public JSON and 410 answers.
pub fn change_out(c: ChangeView) -> pb::DisclosureChange {
    let version = i32::try_from(c.version).unwrap_or(i32::MAX);
    let head = change_head(c.sequence, &c.disclosure_id, c.kind, c.reason, c.effective_time);
    pb::DisclosureChange {
        record: c.record.map(|r| pb::Disclosure {
            name: format!("disclosures/{}", c.disclosure_id),
            penalty_decision: format!("penaltyDecisions/{}", c.decision_id),
            published_at: c.published_at.map(ts),
            state: pb::DisclosureState::Active as i32,
            repair_pending: c.repair_pending,
            version,
            content_sha256: c.content_sha256.clone(),
            ..record_out(r)
        }),
        content_sha256: c.content_sha256,
        version,
        public_reason: c.public_reason.unwrap_or_default(),
        ..head
    }
}

use tonic::codegen::BoxStream;

#[tonic::async_trait]
impl pb::disclosure_service_server::DisclosureService for DisclosureApi {
    async fn get_disclosure(&self, req: Request<pb::GetDisclosureRequest>) -> Result<Response<pb::Disclosure>, Status> {
        let (caller, id) = self.get_checked(&req).await?;
        let id = id.as_str();
        let not_found = || AppError::NotFound(format!("disclosures/{id}"));
        let row = self.app.get_disclosure(id).await?.ok_or_else(not_found)?;
        // Terminated records stop being shared: only auditors still see them.
        if row.state != DisclosureState::Active && caller.role != Role::Auditor {
            return Err(not_found().into());
        }
        Ok(Response::new(disclosure_out(row)))
    }

    async fn list_disclosures(
        &self,
        req: Request<pb::ListDisclosuresRequest>,
    ) -> Result<Response<pb::ListDisclosuresResponse>, Status> {
        let (filter, scope, after, limit) = self.list_request(req).await?;
        let rows = self.app.list_disclosures(&filter, &after, limit).await?;
        let next = page::next(&scope, &rows, limit, |r| &r.id);
        Ok(Response::new(pb::ListDisclosuresResponse {
            disclosures: rows.into_iter().map(disclosure_out).collect(),
            next_page_token: next,
        }))
    }

    async fn list_disclosure_changes(
        &self,
        req: Request<pb::ListDisclosureChangesRequest>,
    ) -> Result<Response<pb::ListDisclosureChangesResponse>, Status> {
        auth::check(&self.app, &req, READERS).await?;
        let r = req.into_inner();
        if r.after_sequence < 0 {
            return Err(AppError::invalid_field("INVALID_SEQUENCE", "after_sequence", "must not be negative").into());
        }
        let limit = page::size(r.page_size)?;
        let changes = self.app.list_changes(r.after_sequence, limit).await?;
        let last_sequence = changes.last().map(|c| c.sequence).unwrap_or(r.after_sequence);
        Ok(Response::new(pb::ListDisclosureChangesResponse {
            changes: changes.into_iter().map(change_out).collect(),
            last_sequence,
        }))
    }

    async fn watch_disclosure_changes(
        &self,
        req: Request<pb::WatchDisclosureChangesRequest>,
    ) -> Result<Response<BoxStream<pb::DisclosureChange>>, Status> {
        let (token, after) = self.watch_request(&req).await?;
        let rx = self.spawn_watch(token, after, |app, cursor| async move {
            let changes = app.list_changes(cursor, WATCH_BATCH).await?;
            Ok(changes.into_iter().map(|c| (c.sequence, change_out(c))).collect())
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn export_disclosures(
        &self,
        req: Request<pb::ExportDisclosuresRequest>,
    ) -> Result<Response<BoxStream<pb::ExportChunk>>, Status> {
        auth::check(&self.app, &req, READERS).await?;
        match pb::ExportFormat::try_from(req.get_ref().format) {
            Ok(pb::ExportFormat::Unspecified | pb::ExportFormat::Csv) => {}
            Err(_) => return Err(AppError::invalid_field("INVALID_ENUM", "format", "only CSV is supported").into()),
        }
        // The same bytes as the public `GET /v1/disclosures:export` (app::public).
        let mut pieces = self
            .app
            .export_csv(self.opts.export_batch, self.opts.export_chunk_bytes);
        let (out_tx, out_rx) = mpsc::channel(4);
        tokio::spawn(
            async move {
                while let Some(piece) = pieces.recv().await {
                    let chunk = match piece {
                        Ok(ExportPiece::Start { .. }) => continue,
                        Ok(ExportPiece::Data(data)) => Ok(pb::ExportChunk {
                            data,
                            ..Default::default()
                        }),
                        Ok(ExportPiece::End {
                            data,
                            row_count,
                            as_of_sequence,
                            sha256,
                        }) => Ok(pb::ExportChunk {
                            data,
                            last: true,
                            row_count,
                            as_of_sequence,
                            sha256,
                        }),
                        Err(e) => Err(Status::from(e)),
                    };
                    if out_tx.send(chunk).await.is_err() {
                        return; // the client went away; dropping `pieces` stops the export
                    }
                }
            }
            .instrument(tracing::Span::current()),
        );
        Ok(Response::new(Box::pin(ReceiverStream::new(out_rx))))
    }
}
