//! The public page, in Chinese, rendered on the server (minijinja templates
//! in `templates/web/`, compiled in, HTML-escaped): a search box and the
//! newest disclosures (`/`), and one record (`/disclosures/{id}`). No
//! JavaScript; forms and links only, so it works with a keyboard, a screen
//! reader and an old phone alike.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::Environment;
use serde::{Deserialize, Serialize};

use super::Web;
use super::errors::status_of;
use super::http::{CACHE_PUBLIC, HTML, respond};
use super::routes::{malformed, plausible_id};
use crate::api::page;
use crate::app::AppError;
use crate::app::public::{PublicLookup, SearchTerm, search_term};
use crate::app::views::{ChangeView, DisclosureRecord};
use crate::domain::clock::{cst, from_micros};
use crate::domain::lifecycle::{ChangeKind, Micros, TerminationReason};
use crate::domain::record::{IdType, PublicRecord};

const TEMPLATES: [(&str, &str); 5] = [
    ("base.html", include_str!("../../templates/web/base.html")),
    ("index.html", include_str!("../../templates/web/index.html")),
    ("disclosure.html", include_str!("../../templates/web/disclosure.html")),
    ("removed.html", include_str!("../../templates/web/removed.html")),
    ("message.html", include_str!("../../templates/web/message.html")),
];

/// The page templates; `.html` names turn HTML escaping on.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            // A template is part of the binary and checked by the tests.
            tracing::error!(template = name, error = %e, "page template does not parse");
        }
    }
    env
}

fn render(web: &Web, headers: &HeaderMap, status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
    let ctx = minijinja::context! { bureau => web.opts.bureau_name.clone(), ..ctx };
    match web.pages.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => respond(headers, status, HTML, CACHE_PUBLIC, html.into_bytes()),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page does not render");
            let e = AppError::Internal(format!("template {name}: {e}"));
            respond(
                headers,
                status_of(&e),
                HTML,
                "no-store",
                b"<!DOCTYPE html><html lang=\"zh-CN\"><title>\xe9\x94\x99\xe8\xaf\xaf</title><p>\xe7\xb3\xbb\xe7\xbb\x9f\xe9\x94\x99\xe8\xaf\xaf</p></html>".to_vec(),
            )
        }
    }
}

/// An error as a page: a short sentence in Chinese and the status.
pub(crate) fn error_page(web: &Web, e: AppError) -> Response {
    let status = status_of(&e);
    let (title, text) = match &e {
        AppError::NotFound(_) => ("未找到", "未找到该公示信息。".to_string()),
        AppError::Exhausted { retry_after, .. } => (
            "请求过于频繁",
            format!(
                "请求过于频繁，请 {} 秒后再试。",
                retry_after.as_secs_f64().ceil().max(1.0)
            ),
        ),
        AppError::Unavailable(_) => ("暂时无法访问", "系统暂时无法访问，请稍后再试。".to_string()),
        AppError::Invalid { violations, .. } => (
            "请求有误",
            violations
                .first()
                .map(|v| v.description.clone())
                .unwrap_or_else(|| "请求有误。".into()),
        ),
        _ => ("系统错误", "系统错误，请稍后再试。".to_string()),
    };
    let mut r = render(
        web,
        &HeaderMap::new(),
        status,
        "message.html",
        minijinja::context! { title, text },
    );
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    if let AppError::Exhausted { retry_after, .. } = &e {
        let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        r.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
    }
    r
}

/// A CST date of an instant.
fn day(m: Micros) -> String {
    from_micros(m).with_timezone(&cst()).format("%Y-%m-%d").to_string()
}

/// Fen as 元 with thousands separators and the unit: 2,000,000 fen →
/// `20,000.00 元` (the notices' [`crate::domain::notice::yuan`]).
fn yuan(fen: i64) -> String {
    format!("{} 元", crate::domain::notice::yuan(fen))
}

fn kinds(r: &PublicRecord) -> String {
    r.penalty_kinds
        .iter()
        .map(|k| k.label_zh())
        .collect::<Vec<_>>()
        .join("、")
}

/// One line of the result list.
#[derive(Serialize)]
struct Row {
    id: String,
    party_name: String,
    credit_code: String,
    decision_number: String,
    decided_on: String,
    kinds: String,
}

impl From<DisclosureRecord> for Row {
    fn from(d: DisclosureRecord) -> Self {
        Row {
            kinds: kinds(&d.content),
            id: d.id,
            party_name: d.content.party_name,
            credit_code: d.content.party_credit_code,
            decision_number: d.content.decision_number,
            decided_on: d.content.decided_on.to_string(),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct IndexParams {
    q: Option<String>,
    page_token: Option<String>,
}

fn index_url(q: &str, token: &str) -> String {
    let mut pairs = Vec::new();
    if !q.is_empty() {
        pairs.push(("q", q));
    }
    if !token.is_empty() {
        pairs.push(("page_token", token));
    }
    if pairs.is_empty() {
        return "/".into();
    }
    format!("/?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
}

/// `GET /`: the search box and the newest disclosures, or the matches of
/// `q` (a credit code, or two or more characters of a name), newest first,
/// `page_size` a page.
pub(crate) async fn index(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    params: Result<Query<IndexParams>, QueryRejection>,
) -> Response {
    let p = match params {
        Ok(Query(p)) => p,
        Err(e) => return error_page(&web, malformed(e)),
    };
    let q = p.q.unwrap_or_default().trim().to_string();
    let token = p.page_token.unwrap_or_default();
    let term = match search_term(&q) {
        Ok(t) => t,
        Err(AppError::Invalid { violations, .. }) => {
            let error = violations.first().map(|v| v.description.clone()).unwrap_or_default();
            let error = if error.starts_with("give at least") {
                "请输入企业名称中至少两个字，或 18 位统一社会信用代码。".to_string()
            } else if error.starts_with("must be at most") {
                "查询内容过长。".to_string()
            } else {
                "查询内容含有无效字符。".to_string()
            };
            let ctx = minijinja::context! { q, error, records => Vec::<Row>::new() };
            return render(&web, &headers, StatusCode::BAD_REQUEST, "index.html", ctx);
        }
        Err(e) => return error_page(&web, e),
    };
    let scope = format!("page|{term:?}");
    // A stale or foreign token starts from the first page.
    let after = page::position(&scope, &token).unwrap_or_default();
    let limit = web.opts.page_size;
    let rows = match web.app.public_disclosures(&term, &after, limit, true).await {
        Ok(r) => r,
        Err(e) => return error_page(&web, e),
    };
    let next_url = match rows.last() {
        Some(last) if rows.len() as i64 == limit => index_url(&q, &page::token(&scope, &last.id)),
        _ => String::new(),
    };
    let first_url = if after.is_empty() {
        String::new()
    } else {
        index_url(&q, "")
    };
    let heading = match &term {
        SearchTerm::All => "最新公示".to_string(),
        _ => format!("“{q}”的查询结果"),
    };
    let records: Vec<Row> = rows.into_iter().map(Row::from).collect();
    let ctx = minijinja::context! { q, heading, records, next_url, first_url, paged => !after.is_empty() };
    render(&web, &headers, StatusCode::OK, "index.html", ctx)
}

/// One labelled field of a record.
#[derive(Serialize)]
struct Field {
    label: &'static str,
    value: String,
}

fn fields(r: &PublicRecord) -> Vec<Field> {
    let mut out = Vec::new();
    let mut add = |label: &'static str, value: String, always: bool| {
        if always || !value.trim().is_empty() {
            out.push(Field { label, value });
        }
    };
    add("行政相对人名称", r.party_name.clone(), true);
    add("行政相对人类别", r.party_kind.label_zh().to_string(), true);
    add("统一社会信用代码", r.party_credit_code.clone(), true);
    add("工商注册号", r.business_registration_number.clone(), false);
    add("组织机构代码", r.organization_code.clone(), false);
    add("税务登记号", r.tax_registration_number.clone(), false);
    add("事业单位证书号", r.public_institution_certificate.clone(), false);
    add("社会组织登记证号", r.social_organization_certificate.clone(), false);
    add("法定代表人", r.legal_representative_name.clone(), false);
    if r.legal_representative_id_type != IdType::None {
        add(
            "法定代表人证件类型",
            r.legal_representative_id_type.label_zh().to_string(),
            false,
        );
    }
    if r.party_id_type != IdType::None {
        add("证件类型", r.party_id_type.label_zh().to_string(), false);
    }
    add("行政处罚决定书文号", r.decision_number.clone(), true);
    add("违法行为类型", r.violation_type.clone(), true);
    add("违法事实", r.violation_facts.clone(), true);
    add("处罚依据", r.legal_basis.clone(), true);
    add("处罚类别", kinds(r), true);
    add("处罚内容", r.penalty_content.clone(), true);
    if r.fine_fen > 0 {
        add("罚款金额", yuan(r.fine_fen), true);
    }
    if r.confiscation_fen > 0 {
        add("没收违法所得、没收非法财物的金额", yuan(r.confiscation_fen), true);
    }
    add("暂扣或吊销证照名称及编号", r.license_action.clone(), false);
    add("处罚决定日期", r.decided_on.to_string(), true);
    add(
        "处罚有效期",
        r.effective_until.map(|d| d.to_string()).unwrap_or_default(),
        false,
    );
    add("处罚机关", r.authority.name.clone(), true);
    add("处罚机关统一社会信用代码", r.authority.credit_code.clone(), true);
    add("数据来源单位", r.data_source.name.clone(), true);
    add("数据来源单位统一社会信用代码", r.data_source.credit_code.clone(), true);
    add("备注", r.remarks.clone(), false);
    out
}

/// A change in the record's history.
#[derive(Serialize)]
struct HistoryLine {
    date: String,
    text: String,
}

fn history(changes: &[ChangeView]) -> Vec<HistoryLine> {
    changes
        .iter()
        .filter_map(|c| {
            let text = match c.kind {
                ChangeKind::Published if c.version <= 1 => "首次公示".to_string(),
                ChangeKind::Published => format!("恢复公示（第 {} 版）", c.version),
                ChangeKind::Corrected => format!("更正（第 {} 版）", c.version),
                ChangeKind::Terminated => return None,
            };
            Some(HistoryLine {
                date: day(c.effective_time),
                text,
            })
        })
        .collect()
}

/// How a removal is described (the reason is public; the content is not).
pub(crate) fn removal_text(reason: Option<TerminationReason>, public_reason: Option<&str>) -> String {
    let why = match reason {
        Some(TerminationReason::Repaired) => "信用修复",
        Some(TerminationReason::Expired) => "公示期满",
        Some(TerminationReason::Withdrawn) => "撤回",
        None => "停止公示",
    };
    match public_reason.map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => format!("{why}：{r}"),
        None => why.to_string(),
    }
}

/// `GET /disclosures/{id}`: the record with its national fields, its
/// publicity period and its corrections; a removed record says
/// 该信息已停止公示 and nothing else (410); an unknown one 404.
pub(crate) async fn disclosure(State(web): State<Arc<Web>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !plausible_id(&id) {
        return error_page(&web, AppError::NotFound("disclosures/…".into()));
    }
    match web.app.public_disclosure(&id, true).await {
        Ok(PublicLookup::Active { disclosure, changes }) => {
            let r = &disclosure.content;
            let ctx = minijinja::context! {
                id => disclosure.id.clone(),
                party_name => r.party_name.clone(),
                fields => fields(r),
                severity => r.severity.label_zh(),
                decided_on => r.decided_on.to_string(),
                published_on => disclosure.published_at.map(day).unwrap_or_else(|| "不详".to_string()),
                min_publicity_ends_on => r.min_publicity_ends_on.to_string(),
                repair_eligible_on => r.repair_eligible_on.to_string(),
                publicity_ends_on => r.publicity_ends_on.to_string(),
                repair_pending => disclosure.repair_pending,
                version => disclosure.version,
                history => history(&changes),
                corrected => changes.iter().any(|c| c.kind == ChangeKind::Corrected),
            };
            render(&web, &headers, StatusCode::OK, "disclosure.html", ctx)
        }
        Ok(PublicLookup::Removed(_)) => {
            render(&web, &headers, StatusCode::GONE, "removed.html", minijinja::context! {})
        }
        Ok(PublicLookup::NotFound) => error_page(&web, AppError::NotFound(format!("disclosures/{id}"))),
        Err(e) => error_page(&web, e),
    }
}
