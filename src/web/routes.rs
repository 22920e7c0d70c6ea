//! The routes, their layers, and the JSON API's handlers.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::StreamBody;
use hyper::body::Frame;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use super::errors::{ApiError, json_error};
use super::http::{CACHE_PUBLIC, JSON, respond};
use super::json::to_json;
use super::{MAX_BODY_BYTES, Web, atom, limit, pages};
use crate::api::convert::disclosure_out;
use crate::api::{change_out, page, pb};
use crate::app::AppError;
use crate::app::public::{ExportPiece, PublicLookup, search_term};

/// Request IDs are ULIDs, like every id of the service.
#[derive(Clone, Copy)]
struct UlidRequestId;

impl MakeRequestId for UlidRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&crate::app::new_id()).ok().map(RequestId::new)
    }
}

/// The routes with their layers. Outermost first: a request ID (kept from the
/// client's `x-request-id` if it sent one), the trace span carrying it, the
/// ID copied to the response, compression, the timeout, the body limit, then
/// admission (`limit::admit`) in front of every route and the fallback.
pub(crate) fn router(web: Arc<Web>) -> Router {
    let timeout = web.opts.request_timeout;
    Router::new()
        .route("/", get(pages::index))
        .route("/disclosures/{id}", get(pages::disclosure))
        .route("/v1/disclosures", get(list))
        .route("/v1/disclosures:export", get(export))
        .route("/v1/disclosures/{id}", get(get_one))
        .route("/v1/disclosureChanges", get(changes))
        .route("/feeds/disclosures.atom", get(atom::feed))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(web.clone(), limit::admit))
        .layer(axum::middleware::from_fn_with_state(web.clone(), observe))
        .with_state(web)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(UlidRequestId))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
                }))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(CompressionLayer::new())
                .layer(TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, timeout))
                .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES)),
        )
}

/// Counts every answer of the public listener in
/// `gongshi_http_requests_total{route,status}` and its time to the response
/// head in `gongshi_http_duration_seconds{route}`. The route is the matched
/// pattern (`/disclosures/{id}`), never the raw path, so a crawler cannot
/// grow the label set; anything unmatched is `unmatched`. Refusals by the
/// per-address limit are counted too (they pass through here).
async fn observe(State(web): State<Arc<Web>>, req: Request<Body>, next: axum::middleware::Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    web.app
        .metrics
        .observe_http(&route, response.status().as_u16(), started.elapsed());
    response
}

/// An error as JSON (`/v1/…`) or as a page.
pub(crate) fn error_response(web: &Web, json: bool, e: AppError) -> Response {
    if json { json_error(e) } else { pages::error_page(web, e) }
}

async fn not_found(State(web): State<Arc<Web>>, req: Request<Body>) -> Response {
    let json = req.uri().path().starts_with("/v1/");
    error_response(
        &web,
        json,
        AppError::NotFound(format!("{} (no such route)", req.uri().path())),
    )
}

/// A query string that does not decode (bad escapes, a parameter twice).
pub(crate) fn malformed(e: QueryRejection) -> AppError {
    AppError::Invalid {
        reason: "MALFORMED_REQUEST",
        message: format!("the query string does not decode: {}", e.body_text()),
        violations: vec![],
    }
}

/// An integer query parameter; absent is 0 (as in protobuf).
pub(crate) fn int_param<T: std::str::FromStr + Default>(
    field: &str,
    value: Option<&str>,
    reason: &'static str,
) -> Result<T, AppError> {
    match value.map(str::trim) {
        None | Some("") => Ok(T::default()),
        Some(v) => v
            .parse()
            .map_err(|_| AppError::invalid_field(reason, field, "must be an integer")),
    }
}

/// Disclosure ids are ULIDs; anything else is not one (and is not looked up).
pub(crate) fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A JSON answer: `msg` (the message `full_name`) in its proto3 JSON
/// mapping, publicly cacheable.
fn json_answer<M: prost::Message>(
    headers: &HeaderMap,
    status: StatusCode,
    msg: &M,
    full_name: &str,
) -> Result<Response, ApiError> {
    let body = to_json(msg, full_name)?;
    Ok(respond(headers, status, JSON, CACHE_PUBLIC, body))
}

#[derive(Deserialize)]
struct ListParams {
    page_size: Option<String>,
    page_token: Option<String>,
    q: Option<String>,
}

/// `GET /v1/disclosures`: `ListDisclosuresResponse`, active records in id
/// order like `ListDisclosures`; `q` a credit code (exact) or part of a name.
async fn list(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(malformed)?;
    let limit = page::size(int_param("page_size", p.page_size.as_deref(), "INVALID_PAGE_SIZE")?)?;
    let term = search_term(p.q.as_deref().unwrap_or(""))?;
    // Tokens are bound to the query, as the gRPC ones are to caller and filter.
    let scope = format!("public|{term:?}");
    let after = page::position(&scope, p.page_token.as_deref().unwrap_or(""))?;
    let rows = web.app.public_disclosures(&term, &after, limit, false).await?;
    let msg = pb::ListDisclosuresResponse {
        next_page_token: page::next(&scope, &rows, limit, |r| &r.id),
        disclosures: rows.into_iter().map(disclosure_out).collect(),
    };
    json_answer(&headers, StatusCode::OK, &msg, "gongshi.v1.ListDisclosuresResponse")
}

/// `GET /v1/disclosures/{id}`: the `Disclosure`; a removed record is `410
/// Gone` with the `DisclosureChange` that removed it (no content).
async fn get_one(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !plausible_id(&id) {
        return Err(AppError::NotFound("disclosures/…".into()).into());
    }
    match web.app.public_disclosure(&id, false).await? {
        PublicLookup::Active { disclosure, .. } => json_answer(
            &headers,
            StatusCode::OK,
            &disclosure_out(disclosure),
            "gongshi.v1.Disclosure",
        ),
        PublicLookup::Removed(change) => json_answer(
            &headers,
            StatusCode::GONE,
            &change_out(change),
            "gongshi.v1.DisclosureChange",
        ),
        PublicLookup::NotFound => Err(AppError::NotFound(format!("disclosures/{id}")).into()),
    }
}

#[derive(Deserialize)]
struct ChangeParams {
    after_sequence: Option<String>,
    page_size: Option<String>,
}

/// `GET /v1/disclosureChanges`: `ListDisclosureChangesResponse`, exactly the
/// feed `ListDisclosureChanges` serves (removals carry no content).
async fn changes(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    params: Result<Query<ChangeParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(malformed)?;
    let after: i64 = int_param("after_sequence", p.after_sequence.as_deref(), "INVALID_SEQUENCE")?;
    if after < 0 {
        return Err(AppError::invalid_field("INVALID_SEQUENCE", "after_sequence", "must not be negative").into());
    }
    let limit = page::size(int_param("page_size", p.page_size.as_deref(), "INVALID_PAGE_SIZE")?)?;
    let changes = web.app.public_changes(after, limit).await?;
    let last_sequence = changes.last().map(|c| c.sequence).unwrap_or(after);
    let msg = pb::ListDisclosureChangesResponse {
        changes: changes.into_iter().map(change_out).collect(),
        last_sequence,
    };
    json_answer(
        &headers,
        StatusCode::OK,
        &msg,
        "gongshi.v1.ListDisclosureChangesResponse",
    )
}

/// Trailer: SHA-256 (hex) of the whole CSV, as `ExportChunk.sha256`.
pub const TRAILER_SHA256: &str = "x-gongshi-sha256";
/// Trailer: records in the CSV, as `ExportChunk.row_count`.
pub const TRAILER_ROW_COUNT: &str = "x-gongshi-row-count";
/// Header: the feed position of the snapshot, as `ExportChunk.as_of_sequence`.
pub const HEADER_AS_OF: &str = "x-gongshi-as-of-sequence";

/// `GET /v1/disclosures:export`: the national CSV of every active record —
/// the same bytes `ExportDisclosures` streams — with the snapshot's feed
/// position in a header and the row count and SHA-256 in trailers (sent to
/// clients that ask with `TE: trailers`). A failure midway aborts the
/// response, so a cut file never looks whole.
async fn export(State(web): State<Arc<Web>>) -> Result<Response, ApiError> {
    let permit = web
        .exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::Exhausted {
            reason: "EXPORT_BUSY",
            message: "other exports are running on this instance; retry shortly".into(),
            retry_after: Duration::from_secs(5),
        })?;
    let mut pieces = web.app.export_csv(web.opts.export_batch, web.opts.export_chunk_bytes);
    let as_of = match pieces.recv().await {
        Some(Ok(ExportPiece::Start { as_of_sequence })) => as_of_sequence,
        Some(Err(e)) => return Err(e.into()),
        _ => return Err(AppError::Internal("export ended before it started".into()).into()),
    };
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    tokio::spawn(async move {
        let _permit = permit;
        while let Some(piece) = pieces.recv().await {
            let frames = match piece {
                Ok(ExportPiece::Start { .. }) => vec![],
                Ok(ExportPiece::Data(data)) => vec![Ok(Frame::data(Bytes::from(data)))],
                Ok(ExportPiece::End {
                    data,
                    row_count,
                    sha256,
                    ..
                }) => {
                    let mut trailers = HeaderMap::new();
                    if let Ok(v) = HeaderValue::from_str(&sha256) {
                        trailers.insert(HeaderName::from_static(TRAILER_SHA256), v);
                    }
                    trailers.insert(HeaderName::from_static(TRAILER_ROW_COUNT), HeaderValue::from(row_count));
                    vec![Ok(Frame::data(Bytes::from(data))), Ok(Frame::trailers(trailers))]
                }
                Err(e) => {
                    tracing::warn!(error = %e, "public export failed midway; response aborted");
                    vec![Err(std::io::Error::other("export failed"))]
                }
            };
            for f in frames {
                if tx.send(f).await.is_err() {
                    return; // the client went away; dropping `pieces` stops the export
                }
            }
        }
    });
    let mut resp = Body::new(StreamBody::new(ReceiverStream::new(rx))).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"disclosures.csv\""),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(HeaderName::from_static(HEADER_AS_OF), HeaderValue::from(as_of));
    h.insert(
        header::TRAILER,
        HeaderValue::from_static("x-gongshi-sha256, x-gongshi-row-count"),
    );
    Ok(resp)
}
