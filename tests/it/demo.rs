//! The newcomer's path, as README's "Try it" gives it: the run command (the
//! binary with no configuration), `gongshi demo`, then the printed copy-paste
//! call with `buf curl` through reflection.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support;
use crate::support::bin::gongshi_in;

fn have_buf() -> bool {
    Command::new("buf")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn readme_try_it_sequence_works() {
    if !have_buf() {
        // CI installs buf (.ci/run); elsewhere say so loudly.
        assert!(
            std::env::var_os("CI").is_none(),
            "buf is required in CI: npm install -g @bufbuild/buf"
        );
        eprintln!("demo copy-paste test SKIPPED: no `buf` on PATH (npm install -g @bufbuild/buf)");
        return;
    }
    let _port = support::DEFAULT_PORT.lock().await;
    let dir = tempfile::tempdir().unwrap();
    // 1. README's run command: the server with no configuration.
    let server = gongshi_in(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let pid = server.id();
    let mut up = false;
    for _ in 0..300 {
        if std::net::TcpStream::connect("127.0.0.1:50051").is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "server did not listen");

    // 2. gongshi demo.
    let out = gongshi_in(dir.path()).arg("demo").output().expect("demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("220 enterprises"), "{stdout}");
    for role in [
        "officer",
        "legal_reviewer",
        "repair_reviewer",
        "portal",
        "enterprise",
        "discloser",
        "auditor",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with(role) && l.contains("gsk_")),
            "no {role} key in {stdout}"
        );
    }
    let call = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("buf curl"))
        .expect("a copy-paste call")
        .to_string();

    // 3. The copy-paste call, exactly as printed.
    let res = Command::new("sh").arg("-c").arg(&call).output().expect("run the call");
    let body = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "`{call}` failed: {} {}",
        body,
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(
        body.contains("\"disclosures\"") && body.contains("DISCLOSURE_STATE_ACTIVE"),
        "{body}"
    );

    // A second demo on the same database is refused, one line, non-zero.
    let again = gongshi_in(dir.path()).arg("demo").output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("empty database"));

    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = tokio::task::spawn_blocking(move || {
        let mut s = server;
        s.wait()
    })
    .await;
}

#[tokio::test]
async fn demo_fills_every_backend_with_every_lifecycle() {
    for db in support::backends().await {
        let dir = tempfile::tempdir().unwrap();
        let out = gongshi_in(dir.path())
            .args(["demo", "--database-url", &db.url])
            .output()
            .expect("demo");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {stderr}", db.backend);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let summary = stdout.lines().next().unwrap_or_default().to_string();
        // Every part of the lifecycle is represented.
        for part in [
            "published",
            "not published",
            "corrected",
            "withdrawn",
            "expired",
            "repaired",
            "under repair",
            "notice bundles delivered",
        ] {
            let n: u64 = summary
                .split([',', '(', ')'])
                .find(|seg| {
                    seg.trim_start()
                        .split_once(' ')
                        .is_some_and(|(_, rest)| rest.starts_with(part))
                })
                .and_then(|seg| seg.trim().split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert!(n > 0, "{}: no {part} in {summary:?}", db.backend);
        }
        demo_is_the_first_users_bureau(&db).await;
    }
}

/// Issue 14: the demo's decisions are 上海市普陀区应急管理局's (the service's
/// first user), a few its neighbour's, so the report's authority filter
/// shows something for each.
async fn demo_is_the_first_users_bureau(db: &support::TestDb) {
    use gongshi::demo::{AUTHORITY, AUTHORITY_CODE, NEIGHBOUR, NEIGHBOUR_CODE};
    let b = db.backend;
    let cfg = gongshi::config::Config {
        database_url: db.url.clone(),
        ..gongshi::config::Config::default()
    };
    let clock = std::sync::Arc::new(gongshi::domain::clock::ManualClock::at_cst_noon(
        gongshi::domain::clock::cst_date(chrono::Utc::now()),
    ));
    let app = cfg.open_app(clock).await.expect("open the demo database");
    let mut by_authority: std::collections::BTreeMap<(String, String), usize> = Default::default();
    let mut after = String::new();
    loop {
        let page = app
            .store
            .list_decisions(&Default::default(), &after, 500)
            .await
            .expect("list decisions");
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        for d in &page {
            *by_authority
                .entry((d.doc.authority.name.clone(), d.doc.authority.credit_code.clone()))
                .or_default() += 1;
        }
    }
    let count = |name: &str, code: &str| {
        by_authority
            .get(&(name.to_string(), code.to_string()))
            .copied()
            .unwrap_or(0)
    };
    let (ours, neighbour) = (count(AUTHORITY, AUTHORITY_CODE), count(NEIGHBOUR, NEIGHBOUR_CODE));
    let total: usize = by_authority.values().sum();
    assert_eq!(ours + neighbour, total, "{b}: other authorities in {by_authority:?}");
    assert!(ours > 5 * neighbour && neighbour > 0, "{b}: {by_authority:?}");
    assert_eq!(AUTHORITY, "上海市普陀区应急管理局");
    // The report's authority filter tells them apart.
    let year = 2025;
    let (all, _, _) = app.annual_report(year, "").await.expect("report");
    let (mine, _, _) = app.annual_report(year, AUTHORITY_CODE).await.expect("report");
    let (theirs, _, _) = app.annual_report(year, NEIGHBOUR_CODE).await.expect("report");
    assert!(mine.decisions > 0 && theirs.decisions > 0, "{b}: {mine:?} {theirs:?}");
    assert_eq!(mine.decisions + theirs.decisions, all.decisions, "{b}");
}
