//! The change feed as Atom (RFC 4287), newest first, for the CMSs and feed
//! readers that already speak it: each publication and correction an entry
//! linking to the record's page, each removal an RFC 6721 tombstone
//! (`at:deleted-entry`, with the public reason and no content), pages linked
//! by RFC 5005 (`first`, `next` to older changes, `previous` to newer ones).
//! A change of a record removed since carries no content (as over gRPC) and
//! is left out: its tombstone says what happened.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::SecondsFormat;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use serde::Deserialize;

use super::Web;
use super::errors::ApiError;
use super::http::{ATOM, CACHE_PUBLIC, respond};
use super::pages::removal_text;
use super::routes::{int_param, malformed};
use crate::app::AppError;
use crate::app::views::ChangeView;
use crate::domain::clock::from_micros;
use crate::domain::lifecycle::{ChangeKind, Micros};

/// RFC 4287.
const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
/// RFC 6721.
const TOMBSTONES_NS: &str = "http://purl.org/atompub/tombstones/1.0";
/// The feed's path.
const PATH: &str = "/feeds/disclosures.atom";

#[derive(Deserialize)]
pub(crate) struct FeedParams {
    before: Option<String>,
    after: Option<String>,
}

fn rfc3339(m: Micros) -> String {
    from_micros(m).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Text without the characters XML 1.0 cannot carry.
fn xml_text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// Where the public reaches this site: the `public_url` setting, else
/// `http://` + a well-formed Host header.
pub(crate) fn base_url(web: &Web, headers: &HeaderMap) -> String {
    let configured = web.opts.public_url.trim().trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// `GET /feeds/disclosures.atom`: the newest changes, or those before
/// (`before=SEQ`, older) or after (`after=SEQ`, newer) a sequence.
pub(crate) async fn feed(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    params: Result<Query<FeedParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(malformed)?;
    let before: i64 = int_param("before", p.before.as_deref(), "INVALID_SEQUENCE")?;
    let after: i64 = int_param("after", p.after.as_deref(), "INVALID_SEQUENCE")?;
    if before < 0 || after < 0 {
        return Err(AppError::invalid_field("INVALID_SEQUENCE", "before", "must not be negative").into());
    }
    let limit = web.opts.feed_page_size;
    let (changes, first_page) = if after > 0 {
        let mut newer = web.app.public_changes(after, limit).await?;
        newer.reverse();
        (newer, false)
    } else if before > 0 {
        (web.app.public_changes_before(before, limit).await?, false)
    } else {
        (web.app.public_changes_before(i64::MAX, limit).await?, true)
    };
    let base = base_url(&web, &headers);
    let self_query = if after > 0 {
        format!("?after={after}")
    } else if before > 0 {
        format!("?before={before}")
    } else {
        String::new()
    };
    let xml = write_feed(&web, &base, &self_query, &changes, first_page, limit)
        .map_err(|e| AppError::Internal(format!("atom: {e}")))?;
    Ok(respond(&headers, StatusCode::OK, ATOM, CACHE_PUBLIC, xml))
}

fn write_feed(
    web: &Web,
    base: &str,
    self_query: &str,
    changes: &[ChangeView],
    first_page: bool,
    limit: i64,
) -> std::io::Result<Vec<u8>> {
    let bureau = xml_text(&web.opts.bureau_name);
    let feed_url = format!("{base}{PATH}");
    let newest = changes.first().map(|c| c.sequence);
    let oldest = changes.last().map(|c| c.sequence);
    let updated = changes
        .iter()
        .map(|c| c.effective_time)
        .max()
        .map(rfc3339)
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
    let mut w = Writer::new_with_indent(Vec::with_capacity(16 * 1024), b' ', 1);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    w.create_element("feed")
        .with_attribute(("xmlns", ATOM_NS))
        .with_attribute(("xmlns:at", TOMBSTONES_NS))
        .with_attribute(("xml:lang", "zh-CN"))
        .write_inner_content(|w| {
            w.create_element("id").write_text_content(BytesText::new(&feed_url))?;
            w.create_element("title")
                .write_text_content(BytesText::new(&format!("{bureau} 行政处罚信息公示")))?;
            w.create_element("updated")
                .write_text_content(BytesText::new(&updated))?;
            w.create_element("author").write_inner_content(|w| {
                w.create_element("name").write_text_content(BytesText::new(&bureau))?;
                Ok(())
            })?;
            let link = |w: &mut Writer<Vec<u8>>, rel: &str, href: &str| -> std::io::Result<()> {
                w.create_element("link")
                    .with_attribute(("rel", rel))
                    .with_attribute(("href", href))
                    .write_empty()?;
                Ok(())
            };
            w.create_element("link")
                .with_attribute(("rel", "alternate"))
                .with_attribute(("type", "text/html"))
                .with_attribute(("href", format!("{base}/").as_str()))
                .write_empty()?;
            link(w, "self", &format!("{feed_url}{self_query}"))?;
            link(w, "first", &feed_url)?;
            if let Some(n) = newest
                && !first_page
            {
                link(w, "previous", &format!("{feed_url}?after={n}"))?;
            }
            if let Some(o) = oldest
                && changes.len() as i64 == limit
                && o > 1
            {
                link(w, "next", &format!("{feed_url}?before={o}"))?;
            }
            for c in changes {
                write_change(w, base, c)?;
            }
            Ok(())
        })?;
    Ok(w.into_inner())
}

fn write_change(w: &mut Writer<Vec<u8>>, base: &str, c: &ChangeView) -> std::io::Result<()> {
    let page = format!("{base}/disclosures/{}", c.disclosure_id);
    let when = rfc3339(c.effective_time);
    if c.kind == ChangeKind::Terminated {
        let comment = format!(
            "该信息已停止公示（{}）",
            xml_text(&removal_text(c.reason, c.public_reason.as_deref()))
        );
        w.create_element("at:deleted-entry")
            .with_attribute(("ref", page.as_str()))
            .with_attribute(("when", when.as_str()))
            .write_inner_content(|w| {
                w.create_element("at:comment")
                    .write_text_content(BytesText::new(&comment))?;
                Ok(())
            })?;
        return Ok(());
    }
    // Removed since: no content to show (the tombstone is in the feed).
    let Some(r) = &c.record else {
        return Ok(());
    };
    let (term, label) = match c.kind {
        ChangeKind::Corrected => ("CORRECTED", "更正"),
        _ => ("PUBLISHED", "公示"),
    };
    let title = xml_text(&format!("{}（{}）", r.party_name, r.decision_number));
    let kinds: Vec<&str> = r.penalty_kinds.iter().map(|k| k.label_zh()).collect();
    let summary = xml_text(&format!(
        "{label}：{}；处罚类别：{}；处罚内容：{}；处罚决定日期：{}；公示截止期：{}",
        r.violation_type,
        kinds.join("、"),
        r.penalty_content,
        r.decided_on,
        r.publicity_ends_on
    ));
    w.create_element("entry").write_inner_content(|w| {
        w.create_element("id").write_text_content(BytesText::new(&page))?;
        w.create_element("title").write_text_content(BytesText::new(&title))?;
        w.create_element("updated").write_text_content(BytesText::new(&when))?;
        if let Some(published_at) = c.published_at {
            w.create_element("published")
                .write_text_content(BytesText::new(&rfc3339(published_at)))?;
        }
        w.create_element("link")
            .with_attribute(("rel", "alternate"))
            .with_attribute(("type", "text/html"))
            .with_attribute(("href", page.as_str()))
            .write_empty()?;
        w.create_element("category")
            .with_attribute(("term", term))
            .with_attribute(("label", label))
            .write_empty()?;
        w.create_element("summary")
            .write_text_content(BytesText::new(&summary))?;
        Ok(())
    })?;
    Ok(())
}
