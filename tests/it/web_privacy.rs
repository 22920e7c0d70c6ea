//! The public face over the demo history: no ID number, address or contact
//! on any public route; and README's run command with `gongshi demo`, read
//! with `curl` as README shows, on SQLite and PostgreSQL.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gongshi::api::pb;
use gongshi::domain::lifecycle::Role;
use gongshi::store::{DecisionFilter, RepairFilter};

use crate::feed::withdraw;
use crate::support::bin::gongshi_in;
use crate::support::http::{enc, get};
use crate::support::{
    self, KNOWN_ID, KNOWN_ID_2, TestServer, clock_at, create_and_publish, credit_code, d, decision, req,
    set_personal_party,
};
use crate::web::{from_json, parse_atom};

/// Every ID number, address and contact the database holds.
async fn sensitive_values(server: &TestServer) -> BTreeSet<String> {
    let store = &server.app.store;
    let decisions = async |after: String| store.list_decisions(&DecisionFilter::default(), &after, 500).await;
    let repairs = async |after: String| store.list_repairs(&RepairFilter::default(), &after, 500).await;
    let mut out = BTreeSet::new();
    for r in every_row(decisions, |r| r.id.clone()).await {
        let p = &r.doc.party;
        out.extend(non_blank([&p.id_number, &p.legal_representative.id_number, &p.address]));
    }
    for r in every_row(repairs, |r| r.id.clone()).await {
        out.extend(non_blank([&r.doc.contact.name, &r.doc.contact.phone]));
    }
    out
}

/// Every row of a store listing paged by the last id, from the first page on.
async fn every_row<T, E: std::fmt::Debug>(
    mut page: impl AsyncFnMut(String) -> Result<Vec<T>, E>,
    id: impl Fn(&T) -> String,
) -> Vec<T> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map(&id).unwrap_or_default();
        let rows = page(after).await.expect("a page of the store's rows");
        if rows.is_empty() {
            return all;
        }
        all.extend(rows);
    }
}

fn non_blank<'a>(values: impl IntoIterator<Item = &'a String>) -> impl Iterator<Item = String> {
    values.into_iter().filter(|v| !v.trim().is_empty()).cloned()
}

/// Every public route's answers: the JSON list, feed and records, the export,
/// the Atom pages, the page's lists and records, and some searches.
async fn crawl(http: SocketAddr) -> Vec<(String, Vec<u8>)> {
    let mut seen: Vec<(String, Vec<u8>)> = Vec::new();
    let mut fetch = async |path: String| {
        let r = get(http, &path).await;
        assert!(
            [200, 410].contains(&r.status.as_u16()),
            "{path}: {} {}",
            r.status,
            r.text()
        );
        seen.push((path, r.body.clone()));
        r
    };
    // The list, every page.
    let mut token = String::new();
    loop {
        let r = fetch(format!("/v1/disclosures?page_size=50&page_token={}", enc(&token))).await;
        token = r.json()["nextPageToken"].as_str().unwrap_or_default().to_string();
        if token.is_empty() {
            break;
        }
    }
    // The feed, whole; every disclosure it names, active or removed.
    let r = fetch("/v1/disclosureChanges?after_sequence=0&page_size=1000".into()).await;
    let feed: pb::ListDisclosureChangesResponse = from_json(&r.body, "gongshi.v1.ListDisclosureChangesResponse");
    let ids: BTreeSet<String> = feed.changes.iter().map(|c| c.disclosure.clone()).collect();
    let names: BTreeSet<String> = feed
        .changes
        .iter()
        .filter_map(|c| c.record.as_ref().map(|r| r.party_name.clone()))
        .collect();
    for id in &ids {
        fetch(format!("/v1/{id}")).await;
        fetch(format!("/{id}")).await;
    }
    fetch("/v1/disclosures:export".into()).await;
    // Atom, every page.
    let mut path = "/feeds/disclosures.atom".to_string();
    loop {
        let r = fetch(path.clone()).await;
        let doc = parse_atom(&r.body);
        match doc.links.iter().find(|(rel, _)| rel == "next") {
            Some((_, href)) => path = href[href.find("/feeds/").expect("feed path")..].to_string(),
            None => break,
        }
    }
    // The page: the newest, every page; searches by part of each name.
    let mut path = "/".to_string();
    loop {
        let r = fetch(path.clone()).await;
        let html = r.text();
        match html.split("href=\"").find_map(|s| {
            let (href, rest) = s.split_once('"')?;
            rest.trim_start()
                .starts_with("rel=\"next\"")
                .then(|| href.replace("&#x2f;", "/").replace("&amp;", "&"))
        }) {
            Some(next) => path = next,
            None => break,
        }
    }
    for name in names.iter().take(20) {
        let part: String = name.chars().skip(2).take(3).collect();
        fetch(format!("/v1/disclosures?q={}", enc(&part))).await;
        fetch(format!("/?q={}", enc(&part))).await;
    }
    assert!(seen.len() > 100, "crawled {} answers", seen.len());
    seen
}

#[tokio::test]
async fn no_id_number_address_or_contact_on_any_public_route() {
    for db in support::backends().await {
        let b = db.backend;
        let today = "2026-06-01";
        let server = TestServer::start(&db.url, clock_at(today)).await;
        let s = gongshi::demo::run(&server.app, &server.clock, d(today), 60, 7)
            .await
            .expect("demo history");
        assert!(
            s.repaired + s.under_repair > 0,
            "{b}: the demo made repair applications (contacts)"
        );
        // Add parties whose ID numbers are recorded: an individual business,
        // a company's legal representative (one withdrawn), a natural person.
        let officer = server.key(Role::Officer, None).await;
        let mut enforcement = server.enforcement().await;
        let mut shop = decision("沪浦应急罚〔2026〕P1号", "2026-05-20", &credit_code("92310115", 1));
        let (shop_name, shop_address) = ("上海市浦东新区王五五金店", "上海市浦东新区川沙路88弄6号");
        set_personal_party(
            &mut shop,
            pb::PartyKind::IndividualBusiness,
            shop_name,
            KNOWN_ID,
            shop_address,
        );
        create_and_publish(&mut enforcement, &officer, shop).await;
        let company = decision("沪浦应急罚〔2026〕P2号", "2026-05-21", &credit_code("91310115", 9001));
        create_and_publish(&mut enforcement, &officer, company).await;
        let mut other = decision("沪浦应急罚〔2026〕P3号", "2026-05-22", &credit_code("91310115", 9002));
        other.party.as_mut().unwrap().address = "上海市浦东新区张杨路500号".into();
        let other = create_and_publish(&mut enforcement, &officer, other).await;
        withdraw(&mut enforcement, &officer, &other, "经行政复议，原处罚决定被撤销").await;
        let mut person = decision("沪浦应急罚〔2026〕P4号", "2026-05-23", "");
        let (id, home) = ("110105198012310049", "上海市浦东新区峨山路91弄3号");
        set_personal_party(&mut person, pb::PartyKind::NaturalPerson, "赵六", id, home);
        enforcement
            .create_penalty_decision(req(
                pb::CreatePenaltyDecisionRequest {
                    request_id: String::new(),
                    penalty_decision: Some(person),
                },
                &officer,
            ))
            .await
            .expect("a natural person's decision");

        let secrets = sensitive_values(&server).await;
        for must in [
            KNOWN_ID,
            KNOWN_ID_2,
            "110105198012310049",
            "上海市浦东新区川沙路88弄6号",
            "021-5000 0000",
        ] {
            assert!(secrets.contains(must), "{b}: {must} is among the stored values");
        }
        let answers = crawl(server.http).await;
        for (path, body) in &answers {
            let text = String::from_utf8_lossy(body);
            for secret in &secrets {
                assert!(!text.contains(secret.as_str()), "{b}: {path} shows {secret:?}");
            }
        }
        // The records with ID numbers are public all the same (by name).
        let shop_page = answers
            .iter()
            .any(|(_, body)| String::from_utf8_lossy(body).contains("上海市浦东新区王五五金店"));
        assert!(shop_page, "{b}: the individual business is published");
        server.stop().await;
    }
}

/// A child process killed (SIGKILL) if still held when dropped.
struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the server process")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `curl -s URL` as README gives it; the body.
fn curl(url: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-s", "--fail-with-body", url])
        .output()
        .expect("curl (apt-get install curl)");
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "curl {url}: {} {body}", out.status);
    out.stdout
}

/// README: `cargo run --release` (here the binary with no arguments, or with
/// `--database-url` for PostgreSQL), `gongshi demo`, then the curl lines:
/// JSON, Atom with tombstones, the page, a search by part of a name.
#[tokio::test]
async fn readme_run_command_serves_the_page_json_and_atom_over_the_demo() {
    let _port = support::DEFAULT_PORT.lock().await;
    for db in support::backends().await {
        let b = db.backend;
        let dir = tempfile::tempdir().unwrap();
        let mut serve = gongshi_in(dir.path());
        if b == "postgres" {
            serve.args(["serve", "--database-url", &db.url]);
        }
        let server = serve
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve");
        // A failed assertion below must not leave the server holding the
        // default ports for the next test.
        let mut server = KillOnDrop(Some(server));
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect("127.0.0.1:8080").is_err() {
            assert!(
                server.child().try_wait().unwrap().is_none(),
                "{b}: gongshi exited before listening"
            );
            assert!(Instant::now() < deadline, "{b}: nothing listens on 127.0.0.1:8080");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut demo = gongshi_in(dir.path());
        demo.arg("demo");
        if b == "postgres" {
            demo.args(["--database-url", &db.url]);
        }
        let out = demo.output().expect("demo");
        assert!(out.status.success(), "{b}: {}", String::from_utf8_lossy(&out.stderr));

        let body = curl("127.0.0.1:8080/v1/disclosures?page_size=3");
        let list: pb::ListDisclosuresResponse = from_json(&body, "gongshi.v1.ListDisclosuresResponse");
        assert_eq!(list.disclosures.len(), 3, "{b}");
        assert!(!list.next_page_token.is_empty(), "{b}");

        let atom = parse_atom(&curl("127.0.0.1:8080/feeds/disclosures.atom"));
        assert!(!atom.tombstones.is_empty(), "{b}: the demo's removals are tombstones");

        let page = String::from_utf8(curl("127.0.0.1:8080/")).unwrap();
        assert!(
            page.contains("<form") && page.contains("name=\"q\""),
            "{b}: the search page"
        );

        // A search by part of a name finds the record.
        let target = &list.disclosures[1];
        let part: String = target.party_name.chars().skip(2).take(4).collect();
        let found: pb::ListDisclosuresResponse = from_json(
            &curl(&format!(
                "127.0.0.1:8080/v1/disclosures?q={}&page_size=1000",
                enc(&part)
            )),
            "gongshi.v1.ListDisclosuresResponse",
        );
        assert!(
            found.disclosures.iter().any(|d| d.name == target.name),
            "{b}: {part} did not find {}",
            target.party_name
        );
        assert!(found.disclosures.iter().all(|d| d.party_name.contains(&part)), "{b}");
        let page = String::from_utf8(curl(&format!("127.0.0.1:8080/?q={}", enc(&part)))).unwrap();
        assert!(page.contains(&target.party_name), "{b}: the page finds it too");

        let _ = Command::new("kill")
            .args(["-TERM", &server.child().id().to_string()])
            .status();
        let mut server = server.0.take().expect("the server process");
        let status = tokio::task::spawn_blocking(move || server.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "{b}: clean exit on SIGTERM ({status})");
    }
}
