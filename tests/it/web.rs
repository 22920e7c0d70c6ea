//! The public face over plain HTTP (issue 16): the JSON routes against the
//! gRPC answers, search, 410 for a removed record, validators (304), the
//! Atom feed parsed as XML, abuse limits (429, body and header limits), and
//! the search index on both backends.

use std::collections::HashSet;

use gongshi::api::pb;
use gongshi::domain::lifecycle::Role;
use prost_reflect::{DescriptorPool, DynamicMessage};
use sha2::{Digest, Sha256};

use crate::export::export_all;
use crate::feed::{correct_facts, withdraw};
use crate::support::http::{Resp, enc, get, get_with, request};
use crate::support::{self, TestServer, clock_at, create_and_publish, credit_code, decision, req};

const ATOM: &str = "http://www.w3.org/2005/Atom";
const TOMBSTONES: &str = "http://purl.org/atompub/tombstones/1.0";

/// Parses proto3 JSON into the message `T` (named `full_name`) through the
/// service's own descriptors, so it can be compared with a gRPC answer.
pub(crate) fn from_json<T: prost::Message + Default>(body: &[u8], full_name: &str) -> T {
    let pool = DescriptorPool::decode(gongshi::api::FILE_DESCRIPTOR_SET).expect("descriptors");
    let desc = pool.get_message_by_name(full_name).expect("message");
    let mut de = serde_json::Deserializer::from_slice(body);
    let dynamic = DynamicMessage::deserialize(desc, &mut de)
        .unwrap_or_else(|e| panic!("{full_name} from {}: {e}", String::from_utf8_lossy(body)));
    dynamic.transcode_to::<T>().expect("transcode")
}

/// A publishable decision of a named party.
pub(crate) fn named(number: &str, name: &str, code: &str) -> pb::PenaltyDecision {
    let mut d = decision(number, "2026-05-06", code);
    d.party.as_mut().expect("party").name = name.to_string();
    d
}

/// Names (of parties) of a JSON list response.
fn names(resp: &Resp) -> Vec<String> {
    let list: pb::ListDisclosuresResponse = from_json(&resp.body, "gongshi.v1.ListDisclosuresResponse");
    list.disclosures.into_iter().map(|d| d.party_name).collect()
}

struct Fixture {
    server: TestServer,
    officer: String,
    discloser: String,
    /// (decision, name) of the published ones, in publication order.
    published: Vec<(pb::PenaltyDecision, String)>,
}

impl Fixture {
    /// Corrects the facts of record 1 (which it then holds as corrected)
    /// and withdraws record 2; the withdrawn decision.
    async fn correct_one_withdraw_one(&mut self) -> pb::PenaltyDecision {
        let mut enforcement = self.server.enforcement().await;
        let facts = "经查，更正后的违法事实。";
        self.published[1].0 = correct_facts(&mut enforcement, &self.officer, &self.published[1].0, facts).await;
        let why = "经行政复议，原处罚决定被撤销";
        withdraw(&mut enforcement, &self.officer, &self.published[2].0, why).await
    }
}

const NAMES: [&str; 6] = [
    "上海浦江化工有限公司",
    "上海金桥物流有限公司",
    "上海张江电子科技有限公司",
    "ＡＢＣ Trading 上海有限公司",
    "上海外高桥仓储有限公司",
    "上海陆家嘴餐饮管理有限公司",
];

async fn fixture(url: &str) -> Fixture {
    let server = TestServer::start(url, clock_at("2026-06-01")).await;
    let [officer, discloser] = server.keys([Role::Officer, Role::Discloser]).await;
    let mut enforcement = server.enforcement().await;
    let mut published = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let code = credit_code("91310115", 500 + i as u64);
        let d = create_and_publish(
            &mut enforcement,
            &officer,
            named(&format!("沪浦应急罚〔2026〕W{i}号"), name, &code),
        )
        .await;
        published.push((d, name.to_string()));
    }
    Fixture {
        server,
        officer,
        discloser,
        published,
    }
}

#[tokio::test]
async fn json_routes_equal_the_grpc_answers() {
    for db in support::backends().await {
        let b = db.backend;
        let mut f = fixture(&db.url).await;
        let mut grpc = f.server.disclosures().await;
        let gone = f.correct_one_withdraw_one().await;
        let http = f.server.http;

        // The list, page by page, equals ListDisclosures page by page.
        let mut json_all = Vec::new();
        let mut token = String::new();
        loop {
            let r = get(http, &format!("/v1/disclosures?page_size=2&page_token={}", enc(&token))).await;
            assert_eq!(r.status, 200, "{b}: {}", r.text());
            assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
            assert!(r.header("cache-control").is_some_and(|c| c.contains("max-age")), "{b}");
            let page: pb::ListDisclosuresResponse = from_json(&r.body, "gongshi.v1.ListDisclosuresResponse");
            json_all.extend(page.disclosures);
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        let mut grpc_all = Vec::new();
        let mut token = String::new();
        loop {
            let page = grpc
                .list_disclosures(req(
                    pb::ListDisclosuresRequest {
                        page_size: 2,
                        page_token: token.clone(),
                        ..Default::default()
                    },
                    &f.discloser,
                ))
                .await
                .expect("ListDisclosures")
                .into_inner();
            grpc_all.extend(page.disclosures);
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(json_all.len(), 5, "{b}: five active records");
        assert_eq!(json_all, grpc_all, "{b}: JSON list = gRPC list");

        // One record.
        let d = &grpc_all[0];
        let r = get(http, &format!("/v1/{}", d.name)).await;
        assert_eq!(r.status, 200, "{b}");
        let one: pb::Disclosure = from_json(&r.body, "gongshi.v1.Disclosure");
        let via_grpc = grpc
            .get_disclosure(req(pb::GetDisclosureRequest { name: d.name.clone() }, &f.discloser))
            .await
            .expect("GetDisclosure")
            .into_inner();
        assert_eq!(one, via_grpc, "{b}: JSON record = GetDisclosure");

        // The feed, whole.
        let r = get(http, "/v1/disclosureChanges?after_sequence=0&page_size=1000").await;
        assert_eq!(r.status, 200, "{b}");
        let feed_json: pb::ListDisclosureChangesResponse =
            from_json(&r.body, "gongshi.v1.ListDisclosureChangesResponse");
        let feed_grpc = grpc
            .list_disclosure_changes(req(
                pb::ListDisclosureChangesRequest {
                    after_sequence: 0,
                    page_size: 1000,
                },
                &f.discloser,
            ))
            .await
            .expect("ListDisclosureChanges")
            .into_inner();
        assert_eq!(feed_json, feed_grpc, "{b}: JSON feed = gRPC feed");
        // A later page too.
        let r = get(http, "/v1/disclosureChanges?after_sequence=3&page_size=2").await;
        let later: pb::ListDisclosureChangesResponse = from_json(&r.body, "gongshi.v1.ListDisclosureChangesResponse");
        assert_eq!(later.changes, feed_grpc.changes[3..5].to_vec(), "{b}");
        assert_eq!(later.last_sequence, feed_grpc.changes[4].sequence, "{b}");

        // The withdrawn record: 410 with the change that removed it, no content.
        let removal = feed_grpc
            .changes
            .iter()
            .find(|c| c.disclosure == gone.disclosure && c.kind == pb::ChangeKind::Terminated as i32)
            .expect("the removal in the gRPC feed")
            .clone();
        let r = get(http, &format!("/v1/{}", gone.disclosure)).await;
        assert_eq!(r.status, 410, "{b}: {}", r.text());
        let change: pb::DisclosureChange = from_json(&r.body, "gongshi.v1.DisclosureChange");
        assert_eq!(change, removal, "{b}: 410 carries the removing change");
        assert!(change.record.is_none(), "{b}: no content");
        assert_eq!(change.public_reason, "经行政复议，原处罚决定被撤销");
        let text = r.text();
        assert!(
            !text.contains(&f.published[2].1) && !text.contains("W2号"),
            "{b}: {text}"
        );
        // The feed itself no longer carries the withdrawn record's content.
        assert!(
            !String::from_utf8_lossy(&get(http, "/v1/disclosureChanges?page_size=1000").await.body)
                .contains(&f.published[2].1),
            "{b}: the removed record's content is gone from the JSON feed"
        );

        // Errors: the same reasons as gRPC.
        let r = get(http, "/v1/disclosures/01J00000000000000000000000").await;
        assert_eq!((r.status.as_u16(), r.reason()), (404, "NOT_FOUND".to_string()), "{b}");
        let r = get(http, "/v1/disclosures?page_size=-1").await;
        assert_eq!(
            (r.status.as_u16(), r.reason()),
            (400, "INVALID_PAGE_SIZE".to_string()),
            "{b}"
        );
        let s = grpc
            .list_disclosures(req(
                pb::ListDisclosuresRequest {
                    page_size: -1,
                    ..Default::default()
                },
                &f.discloser,
            ))
            .await
            .expect_err("negative page size");
        assert_eq!(support::reason(&s), "INVALID_PAGE_SIZE");
        let r = get(http, "/v1/disclosureChanges?after_sequence=-1").await;
        assert_eq!(
            (r.status.as_u16(), r.reason()),
            (400, "INVALID_SEQUENCE".to_string()),
            "{b}"
        );
        let r = get(http, "/v1/disclosures?page_token=bogus").await;
        assert_eq!(
            (r.status.as_u16(), r.reason()),
            (400, "INVALID_PAGE_TOKEN".to_string()),
            "{b}"
        );
        assert_eq!(r.json()["error"]["status"], "INVALID_ARGUMENT");
        let r = get(http, "/v1/disclosures?page_size=x").await;
        assert_eq!(r.status, 400, "{b}");
        let r = get(http, "/v1/unknown").await;
        assert_eq!((r.status.as_u16(), r.reason()), (404, "NOT_FOUND".to_string()), "{b}");

        // The export: the same bytes and checksum as ExportDisclosures.
        let (grpc_bytes, last) = export_all(&mut grpc, &f.discloser).await;
        let r = get_with(http, "/v1/disclosures:export", &[("te", "trailers")]).await;
        assert_eq!(r.status, 200, "{b}");
        assert_eq!(r.header("content-type").as_deref(), Some("text/csv; charset=utf-8"));
        assert_eq!(r.body, grpc_bytes, "{b}: the same CSV bytes");
        let sha = hex::encode(Sha256::digest(&r.body));
        assert_eq!(sha, last.sha256, "{b}");
        let trailers = r.trailers.clone().expect("trailers");
        assert_eq!(trailers["x-gongshi-sha256"].to_str().unwrap(), sha, "{b}");
        assert_eq!(
            trailers["x-gongshi-row-count"].to_str().unwrap(),
            last.row_count.to_string()
        );
        assert_eq!(
            r.header("x-gongshi-as-of-sequence"),
            Some(last.as_of_sequence.to_string()),
            "{b}"
        );
        f.server.stop().await;
    }
}

#[tokio::test]
async fn search_by_part_of_a_name_or_exact_code_over_active_records_only() {
    for db in support::backends().await {
        let b = db.backend;
        let f = fixture(&db.url).await;
        let http = f.server.http;
        let mut enforcement = f.server.enforcement().await;
        let search = |q: &str| format!("/v1/disclosures?q={}", enc(q));

        assert_eq!(names(&get(http, &search("浦江")).await), vec![NAMES[0]], "{b}");
        assert_eq!(names(&get(http, &search("金桥物")).await), vec![NAMES[1]], "{b}");
        assert_eq!(names(&get(http, &search("电子科技有限")).await), vec![NAMES[2]], "{b}");
        // Width, case and spaces do not matter.
        assert_eq!(names(&get(http, &search("abc trading")).await), vec![NAMES[3]], "{b}");
        assert_eq!(
            names(&get(http, &search("ＴＲＡＤＩＮＧ上海")).await),
            vec![NAMES[3]],
            "{b}"
        );
        // Common words find many; the whole name finds one.
        assert_eq!(
            get(http, &search("有限公司")).await.json()["disclosures"]
                .as_array()
                .map(Vec::len),
            Some(6)
        );
        assert_eq!(names(&get(http, &search(NAMES[4])).await), vec![NAMES[4]], "{b}");
        // Bigrams all present but not adjacent: no match.
        assert!(names(&get(http, &search("浦江物流")).await).is_empty(), "{b}");
        assert!(names(&get(http, &search("不存在的企业")).await).is_empty(), "{b}");
        // A credit code is exact.
        let code = credit_code("91310115", 505);
        assert_eq!(names(&get(http, &search(&code)).await), vec![NAMES[5]], "{b}");
        assert_eq!(
            names(&get(http, &search(&code.to_lowercase())).await),
            vec![NAMES[5]],
            "{b}"
        );
        // One character is too little.
        let r = get(http, &search("浦")).await;
        assert_eq!(
            (r.status.as_u16(), r.reason()),
            (400, "FIELD_TOO_SHORT".to_string()),
            "{b}"
        );

        // Paged, each page a token bound to the query.
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let r = get(
                http,
                &format!(
                    "/v1/disclosures?q={}&page_size=2&page_token={}",
                    enc("有限公司"),
                    enc(&token)
                ),
            )
            .await;
            let page: pb::ListDisclosuresResponse = from_json(&r.body, "gongshi.v1.ListDisclosuresResponse");
            seen.extend(page.disclosures.into_iter().map(|d| d.party_name));
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
            let other = get(http, &format!("/v1/disclosures?q=abc&page_token={}", enc(&token))).await;
            assert_eq!(
                other.reason(),
                "INVALID_PAGE_TOKEN",
                "{b}: a token is bound to its query"
            );
        }
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 6, "{b}: {seen:?}");

        // A correction of the name moves the record in the index, in the
        // same transaction.
        let mut client = enforcement.clone();
        let renamed = client
            .correct_penalty_decision(req(
                pb::CorrectPenaltyDecisionRequest {
                    name: f.published[0].0.name.clone(),
                    penalty_decision: Some(pb::PenaltyDecision {
                        party: Some(pb::Party {
                            name: "上海临港新材料有限公司".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["party.name".into()],
                    }),
                    reason: "更正当事人名称".into(),
                    etag: f.published[0].0.etag.clone(),
                },
                &f.officer,
            ))
            .await
            .expect("correct the name")
            .into_inner();
        assert!(
            names(&get(http, &search("浦江")).await).is_empty(),
            "{b}: old name gone"
        );
        assert_eq!(
            names(&get(http, &search("临港新材")).await),
            vec!["上海临港新材料有限公司"],
            "{b}: new name found"
        );
        // A terminated record is never found again, by name or by code.
        withdraw(&mut enforcement, &f.officer, &renamed, "经行政复议，原处罚决定被撤销").await;
        assert!(names(&get(http, &search("临港新材")).await).is_empty(), "{b}");
        assert!(
            names(&get(http, &search(&credit_code("91310115", 500))).await).is_empty(),
            "{b}"
        );
        assert_eq!(names(&get(http, "/v1/disclosures").await).len(), 5, "{b}");

        // The page searches the same index, newest first.
        let page = get(http, &format!("/?q={}", enc("有限公司"))).await.text();
        let first = page.find(NAMES[5]).expect("newest on the page");
        let second = page.find(NAMES[4]).expect("older on the page");
        assert!(first < second, "{b}: newest first");
        assert!(!page.contains("临港新材料"), "{b}: the withdrawn record is not listed");
        f.server.stop().await;
    }
}

/// Empties the search index behind the store's back (plain SQL).
async fn forget_search_index(db: &support::TestDb) {
    let statements = [
        "UPDATE disclosures SET search_name = NULL",
        "DELETE FROM disclosure_grams",
    ];
    support::sql::run(&db.url, db.backend, &statements).await;
}

#[tokio::test]
async fn the_search_index_is_built_for_records_published_before_it_existed() {
    for db in support::backends().await {
        let b = db.backend;
        let f = fixture(&db.url).await;
        f.server.stop().await;
        // As if published before migration 0007: no index rows.
        forget_search_index(&db).await;
        let server = TestServer::start(&db.url, clock_at("2026-06-01")).await;
        assert_eq!(
            names(&get(server.http, &format!("/v1/disclosures?q={}", enc("金桥"))).await),
            vec![NAMES[1]],
            "{b}: indexed at start"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_repeated_request_gets_304_not_modified() {
    let db = support::sqlite_db();
    let f = fixture(&db.url).await;
    let http = f.server.http;
    let id = f.published[0].0.disclosure.clone();
    for path in [
        "/v1/disclosures?page_size=3".to_string(),
        format!("/v1/{id}"),
        "/v1/disclosureChanges".to_string(),
        "/feeds/disclosures.atom".to_string(),
        "/".to_string(),
        format!("/{id}"),
    ] {
        let first = get(http, &path).await;
        assert_eq!(first.status, 200, "{path}");
        let etag = first.header("etag").expect("an ETag");
        assert!(first.header("cache-control").is_some(), "{path}: Cache-Control");
        let again = get_with(http, &path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty(), "{path}");
        assert_eq!(again.header("etag"), Some(etag.clone()), "{path}");
        let stale = get_with(http, &path, &[("if-none-match", "W/\"0\"")]).await;
        assert_eq!(stale.status, 200, "{path}");
    }
    // A change makes the old ETag stale.
    let before = get(http, &format!("/v1/{id}")).await.header("etag").unwrap();
    let mut enforcement = f.server.enforcement().await;
    correct_facts(&mut enforcement, &f.officer, &f.published[0].0, "经查，更正后的事实。").await;
    let after = get_with(http, &format!("/v1/{id}"), &[("if-none-match", &before)]).await;
    assert_eq!(after.status, 200);
    f.server.stop().await;
}

#[tokio::test]
async fn a_burst_from_one_address_gets_429_with_retry_after() {
    let db = support::sqlite_db();
    let server = TestServer::start_tuned(&db.url, clock_at("2026-06-01"), |o| {
        o.web.requests_per_second = 1;
        o.web.burst = 5;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(get(server.http, "/v1/disclosures").await);
    }
    assert!(statuses[..5].iter().all(|r| r.status == 200), "the burst passes");
    let refused = statuses
        .iter()
        .find(|r| r.status == 429)
        .expect("a 429 after the burst");
    assert_eq!(refused.reason(), "RATE_LIMITED");
    let retry: u64 = refused.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    // Every public route shares the address's bucket, the page too.
    let page = get(server.http, "/").await;
    assert_eq!(page.status, 429);
    assert!(page.text().contains("请求过于频繁"), "{}", page.text());
    let atom = get(server.http, "/feeds/disclosures.atom").await;
    assert_eq!(atom.status, 429);
    // After a second, one more.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(get(server.http, "/v1/disclosures").await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn bodies_and_headers_are_bounded() {
    let db = support::sqlite_db();
    let server = TestServer::start(&db.url, clock_at("2026-06-01")).await;
    let big = "x".repeat(20 * 1024);
    let r = get_with(server.http, "/v1/disclosures", &[("x-padding", &big)]).await;
    assert_eq!(r.status, 431, "a request head over 16 KiB");
    let r = request(
        server.http,
        hyper::Method::GET,
        "/v1/disclosures",
        &[("content-type", "application/json")],
        vec![b'x'; 64 * 1024],
    )
    .await;
    assert_eq!(r.status, 413, "a body over 16 KiB");
    let r = request(server.http, hyper::Method::POST, "/v1/disclosures", &[], Vec::new()).await;
    assert_eq!(r.status, 405, "read-only");
    // The server still answers.
    assert_eq!(get(server.http, "/v1/disclosures").await.status, 200);
    server.stop().await;
}

/// What an Atom document holds: entries (id, title, category term) and
/// tombstones (ref, when, comment), links by rel.
#[derive(Debug, Default)]
pub(crate) struct AtomDoc {
    pub entries: Vec<(String, String, String)>,
    pub tombstones: Vec<(String, String, String)>,
    pub links: Vec<(String, String)>,
    pub text: String,
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().namespace() == Some(ATOM) && c.tag_name().name() == name)
}

fn child_text(n: roxmltree::Node, name: &str) -> Option<String> {
    child(n, name).and_then(|c| c.text()).map(str::to_string)
}

/// Parses an Atom feed with a namespace-aware XML parser (roxmltree);
/// panics unless it is well-formed XML whose root is an Atom `feed` with
/// `id`, `title`, `updated` and `author`, every entry has `id`, `title` and
/// an RFC 3339 `updated` and no `content`, and every tombstone is an RFC 6721
/// `deleted-entry` with `ref` and an RFC 3339 `when`.
pub(crate) fn parse_atom(xml: &[u8]) -> AtomDoc {
    let text = std::str::from_utf8(xml).expect("UTF-8");
    let tree = roxmltree::Document::parse(text).expect("well-formed XML");
    let feed = tree.root_element();
    assert_eq!(
        feed.tag_name().namespace(),
        Some(ATOM),
        "the root is in the Atom namespace"
    );
    assert_eq!(feed.tag_name().name(), "feed");
    for required in ["id", "title", "updated", "author"] {
        assert!(child(feed, required).is_some(), "feed without {required}");
    }
    let mut doc = AtomDoc {
        text: text.to_string(),
        ..Default::default()
    };
    for n in feed.children().filter(|n| n.is_element()) {
        match (n.tag_name().namespace(), n.tag_name().name()) {
            (Some(ATOM), "link") => doc.links.push((
                n.attribute("rel").unwrap_or("alternate").to_string(),
                n.attribute("href").expect("link href").to_string(),
            )),
            (Some(ATOM), "entry") => {
                let id = child_text(n, "id").expect("entry id");
                let title = child_text(n, "title").expect("entry title");
                let updated = child_text(n, "updated").expect("entry updated");
                chrono::DateTime::parse_from_rfc3339(&updated).expect("updated is RFC 3339");
                assert!(child(n, "content").is_none(), "no entry carries content");
                let term = child(n, "category")
                    .and_then(|c| c.attribute("term"))
                    .unwrap_or_default()
                    .to_string();
                doc.entries.push((id, title, term));
            }
            (Some(TOMBSTONES), "deleted-entry") => {
                let r = n.attribute("ref").expect("deleted-entry ref").to_string();
                let w = n.attribute("when").expect("deleted-entry when").to_string();
                chrono::DateTime::parse_from_rfc3339(&w).expect("when is RFC 3339");
                let comment = n
                    .children()
                    .find(|c| c.tag_name().namespace() == Some(TOMBSTONES) && c.tag_name().name() == "comment")
                    .and_then(|c| c.text())
                    .unwrap_or_default()
                    .to_string();
                doc.tombstones.push((r, w, comment));
            }
            _ => {}
        }
    }
    doc
}

#[tokio::test]
async fn the_atom_feed_parses_with_a_tombstone_for_a_withdrawn_record() {
    for db in support::backends().await {
        let b = db.backend;
        let db_url = db.url.clone();
        let server = TestServer::start_tuned(&db_url, clock_at("2026-06-01"), |o| o.web.feed_page_size = 3).await;
        let officer = server.key(Role::Officer, None).await;
        let mut enforcement = server.enforcement().await;
        let mut published = Vec::new();
        for (i, name) in NAMES.iter().enumerate() {
            let d = create_and_publish(
                &mut enforcement,
                &officer,
                named(
                    &format!("沪浦应急罚〔2026〕A{i}号"),
                    name,
                    &credit_code("91310115", 700 + i as u64),
                ),
            )
            .await;
            published.push(d);
        }
        correct_facts(&mut enforcement, &officer, &published[4], "经查，更正后的违法事实。").await;
        withdraw(
            &mut enforcement,
            &officer,
            &published[0],
            "经行政复议，原处罚决定被撤销",
        )
        .await;
        let http = server.http;

        // Newest first: the withdrawal, the correction, then publications.
        let r = get_with(http, "/feeds/disclosures.atom", &[("host", "gongshi.example.gov.cn")]).await;
        assert_eq!(r.status, 200, "{b}");
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/atom+xml; charset=utf-8")
        );
        let first = parse_atom(&r.body);
        let page_of = |id: &str| format!("http://gongshi.example.gov.cn/{id}");
        assert_eq!(first.tombstones.len(), 1, "{b}: {first:?}");
        let (reference, _, comment) = &first.tombstones[0];
        assert_eq!(reference, &page_of(&published[0].disclosure), "{b}");
        assert!(
            comment.contains("该信息已停止公示") && comment.contains("经行政复议"),
            "{b}: {comment}"
        );
        assert_eq!(first.entries.len(), 2, "{b}: {first:?}");
        assert_eq!(first.entries[0].2, "CORRECTED", "{b}");
        assert_eq!(first.entries[0].0, page_of(&published[4].disclosure), "{b}");
        assert!(first.entries[0].1.contains(NAMES[4]), "{b}");
        assert_eq!(first.entries[1].2, "PUBLISHED", "{b}");
        // Nothing of the withdrawn record but its tombstone.
        assert!(!first.text.contains(NAMES[0]) && !first.text.contains("A0号"), "{b}");

        // RFC 5005 paging to the end and back.
        let rel = |d: &AtomDoc, rel: &str| d.links.iter().find(|(r, _)| r == rel).map(|(_, h)| h.clone());
        assert!(rel(&first, "previous").is_none(), "{b}: the first page has no previous");
        assert_eq!(
            rel(&first, "first"),
            Some("http://gongshi.example.gov.cn/feeds/disclosures.atom".into())
        );
        let mut pages = vec![first];
        while let Some(next) = rel(pages.last().unwrap(), "next") {
            let path = next.strip_prefix("http://gongshi.example.gov.cn").expect("same site");
            let r = get_with(http, path, &[("host", "gongshi.example.gov.cn")]).await;
            assert_eq!(r.status, 200, "{b}: {path}");
            let page = parse_atom(&r.body);
            assert!(rel(&page, "previous").is_some(), "{b}: a later page links back");
            pages.push(page);
            assert!(pages.len() < 10, "{b}: paging ends");
        }
        let entries: usize = pages.iter().map(|p| p.entries.len()).sum();
        let tombstones: usize = pages.iter().map(|p| p.tombstones.len()).sum();
        // 6 publications (the withdrawn one's left out: its content is gone),
        // 1 correction, 1 removal.
        assert_eq!((entries, tombstones), (6, 1), "{b}");
        assert_eq!(pages.len(), 3, "{b}: 8 changes, 3 a page");
        let previous = rel(&pages[1], "previous").unwrap();
        let path = previous.strip_prefix("http://gongshi.example.gov.cn").unwrap();
        let back = parse_atom(&get_with(http, path, &[("host", "gongshi.example.gov.cn")]).await.body);
        assert_eq!(back.tombstones.len(), 1, "{b}: previous of page 2 is page 1");
        server.stop().await;
    }
}

#[tokio::test]
async fn the_page_shows_a_record_and_only_says_stopped_for_a_removed_one() {
    for db in support::backends().await {
        let b = db.backend;
        let mut f = fixture(&db.url).await;
        let http = f.server.http;
        let gone = f.correct_one_withdraw_one().await;

        let index = get(http, "/").await;
        assert_eq!(index.status, 200, "{b}");
        assert_eq!(
            index.header("content-type").as_deref(),
            Some("text/html; charset=utf-8")
        );
        let html = index.text();
        assert!(html.contains("<html lang=\"zh-CN\">"), "{b}");
        assert!(html.contains("<label for=\"q\">"), "{b}: the search box is labelled");
        assert!(html.contains(gongshi::web::DEFAULT_BUREAU), "{b}: the bureau's name");
        assert!(!html.contains("<script"), "{b}: no JavaScript");
        assert!(
            !html.contains(&f.published[2].1),
            "{b}: the withdrawn record is not listed"
        );

        let page = get(http, &format!("/{}", f.published[1].0.disclosure)).await;
        assert_eq!(page.status, 200, "{b}");
        let html = page.text();
        for needle in [
            NAMES[1],
            "行政相对人名称",
            "统一社会信用代码",
            "行政处罚决定书文号",
            "沪浦应急罚〔2026〕W1号",
            "处罚依据",
            "20,000.00 元",
            "公示截止期",
            "最短公示期届满",
            "可申请信用修复",
            "更正（第 2 版）",
            "经查，更正后的违法事实。",
        ] {
            assert!(html.contains(needle), "{b}: {needle} missing from the record page");
        }

        let removed = get(http, &format!("/{}", gone.disclosure)).await;
        assert_eq!(removed.status, 410, "{b}");
        let html = removed.text();
        let main = &html[html.find("<main").unwrap()..html.find("</main>").unwrap()];
        assert!(main.contains("该信息已停止公示"), "{b}");
        let visible: String = {
            // The text of <main>, tags removed.
            let mut out = String::new();
            let mut in_tag = false;
            for c in main.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => out.push(c),
                    _ => {}
                }
            }
            out.split_whitespace().collect()
        };
        assert_eq!(visible, "该信息已停止公示", "{b}: nothing else");
        assert!(!html.contains(&f.published[2].1) && !html.contains("W2号"), "{b}");

        let unknown = get(http, "/disclosures/01J00000000000000000000000").await;
        assert_eq!(unknown.status, 404, "{b}");
        let short = get(http, &format!("/?q={}", enc("浦"))).await;
        assert_eq!(short.status, 400, "{b}");
        assert!(short.text().contains("至少两个字"), "{b}");
        // The query is shown back escaped: no markup of the caller's runs.
        let hostile = get(http, &format!("/?q={}", enc("\"><script>alert(1)</script>"))).await;
        assert_eq!(hostile.status, 200, "{b}");
        let html = hostile.text();
        assert!(
            !html.contains("<script>alert") && html.contains("&lt;script&gt;"),
            "{b}: {html}"
        );
        f.server.stop().await;
    }
}

/// Imported history without a 公示日期 (issue 14): the public face says the
/// date is unknown rather than inventing one — the page says 不详, the JSON
/// has no `publishedAt`, the Atom entry no `published`.
#[tokio::test]
async fn an_imported_record_without_a_publication_date_shows_it_as_unknown() {
    use crate::rules_in_use::{IMPORT_COLUMNS, import_row, write_csv};
    use gongshi::import::{ImportOptions, import_file};
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("无公示日期.csv");
    write_csv(
        &csv,
        &IMPORT_COLUMNS,
        &[import_row(&credit_code("11310107", 41), 1, "2026-03-04")],
    );
    for db in support::backends().await {
        let b = db.backend;
        let server = TestServer::start(&db.url, clock_at("2026-06-01")).await;
        let officer = server.key(Role::Officer, None).await;
        let mut enforcement = server.enforcement().await;
        let dated = create_and_publish(
            &mut enforcement,
            &officer,
            named("沪浦应急罚〔2026〕D1号", NAMES[0], &credit_code("91310115", 900)),
        )
        .await;
        let s = import_file(&server.app, &csv, &ImportOptions::default())
            .await
            .expect("import");
        assert_eq!((s.imported, s.published_date_unknown), (1, 1), "{b}: {}", s.line());

        let list: pb::ListDisclosuresResponse = from_json(
            &get(server.http, "/v1/disclosures?page_size=10").await.body,
            "gongshi.v1.ListDisclosuresResponse",
        );
        assert_eq!(list.disclosures.len(), 2, "{b}");
        let imported = list
            .disclosures
            .iter()
            .find(|d| d.name != dated.disclosure)
            .expect("the imported record");
        assert_eq!(imported.published_at, None, "{b}: no invented date in the JSON");
        let known = list
            .disclosures
            .iter()
            .find(|d| d.name == dated.disclosure)
            .expect("the published record");
        assert!(known.published_at.is_some(), "{b}");

        let page = get(server.http, &format!("/{}", imported.name)).await;
        assert_eq!(page.status, 200, "{b}");
        assert!(
            page.text().contains("<dt>公示日期</dt><dd>不详</dd>"),
            "{b}: the page says the date is unknown"
        );

        let atom = get(server.http, "/feeds/disclosures.atom").await;
        assert_eq!(atom.status, 200, "{b}");
        let text = atom.text();
        let tree = roxmltree::Document::parse(&text).expect("well-formed XML");
        let published_of = |name: &str| {
            tree.root_element()
                .children()
                .filter(|n| n.is_element() && n.tag_name().name() == "entry")
                .find(|n| child_text(*n, "id").is_some_and(|id| id.ends_with(name)))
                .map(|n| child_text(n, "published"))
        };
        assert_eq!(published_of(&imported.name), Some(None), "{b}: no <published> for it");
        assert!(
            matches!(published_of(&dated.disclosure), Some(Some(_))),
            "{b}: the dated record keeps its <published>"
        );
        server.stop().await;
    }
}
