//! The public page in a real browser: headless Chromium (Debian's `chromium`
//! and `chromium-driver`, installed by `.ci/run`) driven over WebDriver with
//! `fantoccini` — search by part of a name with the keyboard, follow the
//! paging, open a result, see a removed record's page, and read it at a
//! phone's width — on both backends. Screenshots go to
//! `target/browser/`; with `GONGSHI_SCREENSHOT_DIR` set, the search page's
//! is also written there as `public-page.png` (README's `docs/public-page.png`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use gongshi::domain::lifecycle::Role;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::feed::withdraw;
use crate::support::{self, TestServer, clock_at, create_and_publish, credit_code};
use crate::web::named;

/// chromedriver, stopped (by its own pid) when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(program))
        .find(|p| p.is_file())
}

/// Starts chromedriver on a free port; `None` (skipped) when it is not
/// installed outside CI.
async fn start_driver() -> Option<Driver> {
    let Some(path) = which("chromedriver") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver is required in CI: apt-get install chromium chromium-driver"
        );
        eprintln!("browser test SKIPPED: no chromedriver on PATH (apt-get install chromium chromium-driver)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chromedriver");
    let driver = Driver { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(driver)
}

/// A fresh headless Chromium session, with a profile of its own (kept until
/// the session ends).
async fn browser(driver: &Driver) -> (Client, tempfile::TempDir) {
    let profile = tempfile::tempdir().unwrap();
    let mut options = serde_json::json!({
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--lang=zh-CN",
            "--window-size=1280,1000",
            format!("--user-data-dir={}", profile.path().display()),
        ]
    });
    if let Some(bin) = which("chromium") {
        options["binary"] = serde_json::json!(bin);
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), serde_json::json!("chrome"));
    caps.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session");
    (client, profile)
}

/// Waits until the URL satisfies `ok`.
async fn wait_for_url(c: &Client, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let url = c.current_url().await.expect("url").to_string();
        if ok(&url) {
            return url;
        }
        assert!(Instant::now() < deadline, "{what}: still at {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The party names listed on the page.
async fn listed(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css("ol.records a.name")).await.expect("results") {
        out.push(e.text().await.expect("text"));
    }
    out
}

fn save(name: &str, png: &[u8]) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

const PUJIANG: [&str; 8] = [
    "上海浦江化工有限公司",
    "上海浦江物流有限公司",
    "上海浦江机械制造有限公司",
    "上海浦江建材有限公司",
    "上海浦江仓储有限公司",
    "上海浦江食品有限公司",
    "上海浦江印刷有限公司",
    "上海浦江电子科技有限公司",
];

#[tokio::test]
async fn search_page_open_a_result_and_the_removed_page_in_chromium() {
    let Some(driver) = start_driver().await else {
        return;
    };
    for db in support::backends().await {
        let b = db.backend;
        let server = TestServer::start_tuned(&db.url, clock_at("2026-06-01"), |o| o.web.page_size = 4).await;
        let officer = server.key(Role::Officer, None).await;
        let mut enforcement = server.enforcement().await;
        for (i, name) in PUJIANG.iter().enumerate() {
            create_and_publish(
                &mut enforcement,
                &officer,
                named(
                    &format!("沪浦应急罚〔2026〕{}号", 101 + i),
                    name,
                    &credit_code("91310115", 800 + i as u64),
                ),
            )
            .await;
        }
        create_and_publish(
            &mut enforcement,
            &officer,
            named(
                "沪浦应急罚〔2026〕120号",
                "上海金桥物流有限公司",
                &credit_code("91310115", 820),
            ),
        )
        .await;
        let gone = create_and_publish(
            &mut enforcement,
            &officer,
            named(
                "沪浦应急罚〔2026〕121号",
                "上海浦江钢结构有限公司",
                &credit_code("91310115", 821),
            ),
        )
        .await;
        withdraw(&mut enforcement, &officer, &gone, "经行政复议，原处罚决定被撤销").await;
        let base = format!("http://{}", server.http);

        let (c, _profile) = browser(&driver).await;
        c.goto(&format!("{base}/")).await.expect("open the page");
        let lang = c.find(Locator::Css("html")).await.unwrap().attr("lang").await.unwrap();
        assert_eq!(lang.as_deref(), Some("zh-CN"), "{b}");
        // The box is found by its label, and the query is sent with Enter.
        let label_for = c
            .find(Locator::XPath("//label[contains(., '企业名称')]"))
            .await
            .expect("label");
        let input_id = label_for.attr("for").await.unwrap().expect("label for");
        let input = c.find(Locator::Id(&input_id)).await.expect("the labelled box");
        input.send_keys("浦江\u{E007}").await.expect("type and press Enter");
        wait_for_url(&c, "search", |u| u.contains("q=")).await;
        let first = listed(&c).await;
        assert_eq!(first.len(), 4, "{b}: {first:?}");
        assert!(first.iter().all(|n| n.contains("浦江")), "{b}: {first:?}");
        assert!(
            !first.iter().any(|n| n.contains("钢结构")),
            "{b}: the withdrawn record is not found"
        );
        // Newest first.
        assert_eq!(first[0], PUJIANG[7], "{b}");
        let png = c.screenshot().await.expect("screenshot");
        save(&format!("{b}-search.png"), &png);
        if b == "sqlite"
            && let Some(dir) = std::env::var_os("GONGSHI_SCREENSHOT_DIR")
        {
            std::fs::write(PathBuf::from(dir).join("public-page.png"), &png).unwrap();
        }

        // Paging.
        c.find(Locator::Css("a[rel=next]"))
            .await
            .expect("下一页")
            .click()
            .await
            .unwrap();
        wait_for_url(&c, "next page", |u| u.contains("page_token=")).await;
        let second = listed(&c).await;
        assert_eq!(second.len(), 4, "{b}: {second:?}");
        assert!(
            second.iter().all(|n| n.contains("浦江") && !first.contains(n)),
            "{b}: {second:?}"
        );
        let all: std::collections::BTreeSet<_> = first.iter().chain(&second).cloned().collect();
        assert_eq!(all.len(), 8, "{b}: every match once");

        // Open a result.
        let link = c.find(Locator::Css("ol.records a.name")).await.unwrap();
        let name = link.text().await.unwrap();
        link.click().await.unwrap();
        wait_for_url(&c, "record", |u| u.contains("/disclosures/")).await;
        let h1 = c.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
        assert_eq!(h1, name, "{b}");
        let body = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
        for label in ["行政处罚决定书文号", "处罚依据", "公示截止期", "公示及更正记录"] {
            assert!(body.contains(label), "{b}: {label} not on the record page");
        }
        save(&format!("{b}-record.png"), &c.screenshot().await.unwrap());
        // Readable on a phone: nothing wider than the screen.
        c.set_window_size(390, 844).await.unwrap();
        let fits = c
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            fits,
            serde_json::json!(true),
            "{b}: the record page scrolls sideways at 390 px"
        );
        save(&format!("{b}-record-phone.png"), &c.screenshot().await.unwrap());
        c.set_window_size(1280, 1000).await.unwrap();

        // The removed record.
        c.goto(&format!("{base}/{}", gone.disclosure)).await.unwrap();
        let main = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
        assert_eq!(main.trim(), "该信息已停止公示", "{b}");
        save(&format!("{b}-removed.png"), &c.screenshot().await.unwrap());
        c.close().await.unwrap();
        server.stop().await;
    }
}
