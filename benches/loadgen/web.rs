//! The public HTTP listener's scenarios (issue 16): the JSON list and the
//! page beside the gRPC `list`, and the name search. The client is hyper's
//! HTTP/1.1 client with keep-alive (one connection per worker in flight), as
//! a site's fetcher or a browser uses the page.

use std::time::Instant;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::scenarios::{Outcome, Rec, Setup, Target, Xorshift, timed};
use crate::seed::{brand_and_trade, party_code};

type Http = Client<HttpConnector, Empty<Bytes>>;

fn client() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

/// `GET path`: status and body.
async fn get(c: &Http, base: &str, path: &str) -> Result<(u16, Vec<u8>), String> {
    let uri: hyper::Uri = format!("{base}{path}").parse().map_err(|e| format!("{path}: {e}"))?;
    let resp = c.get(uri).await.map_err(|e| format!("GET {path}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("GET {path}: {e}"))?
        .to_bytes()
        .to_vec();
    Ok((status, body))
}

fn base(s: &Setup) -> Result<String, String> {
    s.server
        .http
        .as_ref()
        .map(|h| format!("http://{h}"))
        .ok_or_else(|| "the server has no public listener".into())
}

fn enc(q: &str) -> String {
    serde_urlencoded::to_string([("q", q)]).unwrap_or_default()
}

/// `GET /v1/disclosures?page_size=100`, each worker following
/// `nextPageToken` from the start: the JSON counterpart of `list`.
pub async fn json_list(s: &Setup) -> Result<Outcome, String> {
    let base = base(s)?;
    let http = client();
    Ok(timed(s, "json-list", s.concurrency, |_, _, deadline| {
        let (base, http) = (base.clone(), http.clone());
        async move {
            let mut r = Rec::default();
            let mut token = String::new();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let path = format!(
                    "/v1/disclosures?page_size=100&{}",
                    serde_urlencoded::to_string([("page_token", &token)]).unwrap_or_default()
                );
                match get(&http, &base, &path).await {
                    Ok((200, body)) => match serde_json::from_slice::<serde_json::Value>(&body) {
                        Ok(v) => {
                            let n = v["disclosures"].as_array().map_or(0, Vec::len);
                            r.ok(t0, n as u64);
                            token = v["nextPageToken"].as_str().unwrap_or_default().to_string();
                        }
                        Err(e) => r.err(format!("not JSON: {e}")),
                    },
                    Ok((status, _)) => {
                        r.err(format!("status {status}"));
                        token.clear();
                    }
                    Err(e) => {
                        r.err(e);
                        token.clear();
                    }
                }
            }
            r
        }
    })
    .await)
}

/// The `rel="next"` link of a page, unescaped.
fn next_link(html: &str) -> Option<String> {
    html.split("href=\"").find_map(|s| {
        let (href, rest) = s.split_once('"')?;
        rest.trim_start()
            .starts_with("rel=\"next\"")
            .then(|| href.replace("&#x2f;", "/").replace("&amp;", "&"))
    })
}

/// `GET /`, the newest 20 as HTML, each worker following 下一页 for up to
/// 10 pages and starting over: the page a browser loads.
pub async fn page(s: &Setup) -> Result<Outcome, String> {
    let base = base(s)?;
    let http = client();
    Ok(timed(s, "page", s.concurrency, |_, _, deadline| {
        let (base, http) = (base.clone(), http.clone());
        async move {
            let mut r = Rec::default();
            let mut path = "/".to_string();
            let mut depth = 0;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                match get(&http, &base, &path).await {
                    Ok((200, body)) => {
                        let html = String::from_utf8_lossy(&body);
                        r.ok(t0, html.matches("<li>").count() as u64);
                        depth += 1;
                        path = match next_link(&html) {
                            Some(next) if depth < 10 => next,
                            _ => {
                                depth = 0;
                                "/".into()
                            }
                        };
                    }
                    Ok((status, _)) => {
                        r.err(format!("status {status}"));
                        path = "/".into();
                    }
                    Err(e) => r.err(e),
                }
            }
            r
        }
    })
    .await)
}

/// A query as the public types it: a brand (two characters, ~70 records at
/// 1,000,000), a brand with its trade (~4), or a credit code (exact, 1).
fn query(rng: &mut Xorshift, records: usize) -> String {
    let i = rng.below(records.max(1));
    match rng.below(5) {
        0 | 1 => brand_and_trade(i).0,
        2 | 3 => {
            let (brand, trade) = brand_and_trade(i);
            format!("{brand}{trade}")
        }
        _ => party_code(0, i),
    }
}

/// `GET /v1/disclosures?q=…&page_size=20` with random queries: `search` one
/// at a time (the latency a person sees; target p50 ≤ 20 ms), `search-load`
/// with C in flight (throughput). Every answer must hold a record whose name
/// (or code) matches.
pub async fn search(s: &Setup) -> Result<Vec<Outcome>, String> {
    let base = base(s)?;
    let http = client();
    let records = s.records;
    let worker = |i: usize, _, deadline: Instant| {
        let (base, http) = (base.clone(), http.clone());
        async move {
            let mut r = Rec::default();
            let mut rng = Xorshift::seeded(1000 + i);
            while Instant::now() < deadline {
                let q = query(&mut rng, records);
                let t0 = Instant::now();
                match get(&http, &base, &format!("/v1/disclosures?page_size=20&{}", enc(&q))).await {
                    Ok((200, body)) => {
                        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                        let found = v["disclosures"].as_array().cloned().unwrap_or_default();
                        let hit = found.iter().any(|d| {
                            d["partyName"].as_str().is_some_and(|n| n.contains(&q)) || d["partyCreditCode"] == q
                        });
                        if hit {
                            r.ok(t0, found.len() as u64);
                        } else {
                            r.err(format!("{q:?} found nothing that matches"));
                        }
                    }
                    Ok((status, body)) => r.err(format!("status {status}: {}", String::from_utf8_lossy(&body))),
                    Err(e) => r.err(e),
                }
            }
            r
        }
    };
    let mut one = timed(s, "search", 1, worker).await;
    one.target = Some(Target {
        what: format!("p50 {:.2} ms <= 20 ms", one.p50_ms),
        value: one.p50_ms,
        met: one.p50_ms <= 20.0,
        limit: None,
    });
    one.extra = json!({ "queries": "2/5 brand (2 chars), 2/5 brand + trade, 1/5 credit code" });
    let load = timed(s, "search-load", s.concurrency, worker).await;
    Ok(vec![one, load])
}
