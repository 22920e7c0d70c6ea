//! Whole responses with validators: a weak `ETag` from the body's SHA-256,
//! `304 Not Modified` when the client already has it (`If-None-Match`), and
//! `Cache-Control`. Weak, because the compression layer may send the same
//! representation gzip-encoded.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Cache lifetime of public answers: a record corrected or removed is seen
/// by a cache's clients within a minute.
pub(crate) const CACHE_PUBLIC: &str = "public, max-age=60";

/// JSON.
pub(crate) const JSON: &str = "application/json";
/// HTML.
pub(crate) const HTML: &str = "text/html; charset=utf-8";
/// Atom (RFC 4287 §7).
pub(crate) const ATOM: &str = "application/atom+xml; charset=utf-8";

/// Whether `If-None-Match` names `etag` (weak comparison, RFC 9110 §13.1.2).
fn matches(request: &HeaderMap, etag: &str) -> bool {
    let bare = etag.trim_start_matches("W/");
    request.get_all(header::IF_NONE_MATCH).iter().any(|v| {
        v.to_str().is_ok_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.trim_start_matches("W/") == bare)
        })
    })
}

/// `body` with its validators: 304 without a body when the client's copy is
/// current (for 200 and 410 answers), else `status`.
pub(crate) fn respond(
    request: &HeaderMap,
    status: StatusCode,
    content_type: &'static str,
    cache_control: &'static str,
    body: Vec<u8>,
) -> Response {
    let etag = format!("W/\"{}\"", hex::encode(&Sha256::digest(&body)[..16]));
    let etag_value = HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""));
    let cache = HeaderValue::from_static(cache_control);
    if matches!(status, StatusCode::OK | StatusCode::GONE) && matches(request, &etag) {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        r.headers_mut().insert(header::ETAG, etag_value);
        r.headers_mut().insert(header::CACHE_CONTROL, cache);
        return r;
    }
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::ETAG, etag_value);
    h.insert(header::CACHE_CONTROL, cache);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_is_compared_weakly() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"a\", W/\"b\""));
        assert!(matches(&h, "W/\"b\""));
        assert!(matches(&h, "W/\"a\""));
        assert!(!matches(&h, "W/\"c\""));
        assert!(!matches(&HeaderMap::new(), "W/\"a\""));
    }

    #[test]
    fn a_current_copy_gets_304() {
        let first = respond(&HeaderMap::new(), StatusCode::OK, JSON, CACHE_PUBLIC, b"{}".to_vec());
        let etag = first.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag);
        let second = respond(&h, StatusCode::OK, JSON, CACHE_PUBLIC, b"{}".to_vec());
        assert_eq!(second.status(), StatusCode::NOT_MODIFIED);
        let changed = respond(&h, StatusCode::OK, JSON, CACHE_PUBLIC, b"{\"a\":1}".to_vec());
        assert_eq!(changed.status(), StatusCode::OK);
    }
}
