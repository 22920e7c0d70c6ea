//! The working-day calendar past its official data (DOMAIN.md §8), on both
//! backends: submissions counted over a provisional year are accepted and say
//! so; `gongshi calendar load` of an official year, against a running server,
//! recomputes open deadlines with one event each and is idempotent; a second
//! instance sees the loaded year without a restart; a malformed file changes
//! nothing; `gongshi calendar list`; the annual report counts every record and
//! flags provisional figures; only a date after 2036 is refused.

use std::process::Output;
use std::time::{Duration, Instant};

use gongshi::api::pb;
use gongshi::domain::calendar::YearStatus;
use gongshi::domain::lifecycle::Role;
use tonic::Code;

use crate::repair_support::{Case, Env};
use crate::support::kit::server_with_keys;
use crate::support::{self, TestDb, TestServer, clock_at, reason, req};

/// Decided and fulfilled in 2025: the disclosure is repairable and active
/// (publicity ends 2028-06-10) on every date these tests use.
const DECIDED: &str = "2025-06-10";
const FULFILLED: &str = "2025-06-11";

/// A hypothetical official 2027 notice (TEST DATA, not the State Council's):
/// 元旦 01-01..03; 春节 02-05..02-12 off, with 调休上班 on Sun 01-31 and Sat 02-20.
const OFFICIAL_2027: &str = "date,kind,name\n\
    2027-01-01,holiday,元旦\n2027-01-02,holiday,元旦\n2027-01-03,holiday,元旦\n\
    2027-01-31,workday,春节\n\
    2027-02-05,holiday,春节\n2027-02-06,holiday,春节\n2027-02-07,holiday,春节\n2027-02-08,holiday,春节\n\
    2027-02-09,holiday,春节\n2027-02-10,holiday,春节\n2027-02-11,holiday,春节\n2027-02-12,holiday,春节\n\
    2027-02-20,workday,春节\n";

fn dues(a: &pb::RepairApplication) -> (&str, &str, &str, bool) {
    (
        a.accept_due_on.as_str(),
        a.decide_due_on.as_str(),
        a.overall_due_on.as_str(),
        a.due_dates_provisional,
    )
}

async fn lookup(env: &Env, case: &Case, a: &pb::RepairApplication) -> pb::LookupRepairApplicationResponse {
    env.repair
        .clone()
        .lookup_repair_application(tonic::Request::new(pb::LookupRepairApplicationRequest {
            receipt_code: a.receipt_code.clone(),
            applicant_credit_code: case.code.clone(),
        }))
        .await
        .expect("receipt look-up")
        .into_inner()
}

/// The case's application, submitted on `date` (the clock set to it),
/// which must be accepted.
async fn submitted_on(env: &Env, date: &str, case: &Case) -> pb::RepairApplication {
    env.set_date(date);
    let submitted = env.submit(&case.ent, "", case.application()).await;
    submitted.unwrap_or_else(|s| panic!("{}: submit on {date}: {s:?}", env.backend))
}

/// Runs the real binary on `db` with `args` (no other GONGSHI_ settings).
fn gongshi(db: &TestDb, args: &[&str]) -> Output {
    let mut cmd = support::bin::gongshi();
    cmd.args(args)
        .args(["--database-url", &db.url])
        .env("GONGSHI_LOG", "warn")
        .output()
        .expect("run gongshi")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write calendar file");
    path.display().to_string()
}

/// The DUE_DATES_RECOMPUTED events of an application.
async fn recomputed(env: &Env, name: &str) -> Vec<pb::RepairApplicationEvent> {
    env.events(name)
        .await
        .into_iter()
        .filter(|e| e.reason.starts_with("DUE_DATES_RECOMPUTED"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_official_calendar_submissions_are_accepted_with_provisional_dates() {
    for db in support::backends().await {
        let env = Env::start(&db, "2026-11-20").await;
        let b = env.backend;
        let mut cases = Vec::new();
        for n in 1..=3 {
            cases.push(env.case(300 + n, DECIDED, Some(FULFILLED)).await);
        }

        // Within the official 2026: Tue 12-01 + 3 = Fri 12-04; + 10 = Tue 12-15.
        let within = submitted_on(&env, "2026-12-01", &cases[0]).await;
        assert_eq!(dues(&within), ("2026-12-04", "", "2026-12-15", false), "{b}");
        assert!(!lookup(&env, &cases[0], &within).await.due_dates_provisional, "{b}");

        // Mon 2026-12-28: accept by Thu 12-31 (still official); the overall
        // 10 working days run into the provisional 2027: 12-29, 30, 31,
        // (01-01 元旦, statutory), 01-04..08, (weekend), 01-11, 01-12.
        let late = submitted_on(&env, "2026-12-28", &cases[1]).await;
        assert_eq!(dues(&late), ("2026-12-31", "", "2027-01-12", true), "{b}");
        let got = env.get(&env.reviewer, &late.name).await.expect("get");
        assert!(got.due_dates_provisional, "{b}: GetRepairApplication");
        let seen = lookup(&env, &cases[1], &late).await;
        assert!(seen.due_dates_provisional, "{b}: receipt look-up");
        assert_eq!(seen.overall_due_on, "2027-01-12", "{b}");

        // Accepting on Thu 2026-12-31 counts the decision deadline in 2027:
        // 01-04, 05, 06.
        env.set_date("2026-12-31");
        let accepted = env
            .act(
                gongshi::domain::repair::RepairAction::Accept,
                &late.name,
                &late.etag,
                &cases[1].ent,
            )
            .await
            .expect("accept");
        assert_eq!(dues(&accepted), ("2026-12-31", "2027-01-06", "2027-01-12", true), "{b}");

        // Overdue works the same on provisional dates: the decision is due
        // 01-06, so not overdue on 01-06, overdue on 01-07.
        env.set_date("2027-01-06");
        assert!(!env.get(&env.reviewer, &late.name).await.expect("get").overdue, "{b}");
        env.set_date("2027-01-07");
        assert!(env.get(&env.reviewer, &late.name).await.expect("get").overdue, "{b}");
        let overdue = env
            .list(
                &env.reviewer,
                pb::ListRepairApplicationsRequest {
                    overdue_only: true,
                    ..Default::default()
                },
            )
            .await
            .expect("list overdue");
        // (`within` is overdue too: not accepted by 2026-12-04.)
        let mut names: Vec<&str> = overdue.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        let mut expected = vec![within.name.as_str(), late.name.as_str()];
        expected.sort_unstable();
        assert_eq!(names, expected, "{b}: the overdue filter");

        // Mon 2027-03-01, wholly provisional: 03-02, 03, 04; + 10 = Mon 03-15.
        let march = submitted_on(&env, "2027-03-01", &cases[2]).await;
        assert_eq!(dues(&march), ("2027-03-04", "", "2027-03-15", true), "{b}");
        assert!(lookup(&env, &cases[2], &march).await.due_dates_provisional, "{b}");
        env.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_deadline_after_2036_is_refused() {
    for db in support::backends().await {
        let env = Env::start(&db, "2036-09-01").await;
        let b = env.backend;
        let c = env.case(320, "2036-06-01", Some("2036-06-02")).await;
        // Fri 2036-12-26 + 10 working days runs into 2037: no schedule at all.
        env.set_date("2036-12-26");
        let r = env.submit(&c.ent, "", c.application()).await;
        let err = r.expect_err("a deadline in 2037 cannot be counted");
        assert_eq!(err.code(), Code::FailedPrecondition, "{b}: {err:?}");
        assert_eq!(reason(&err), "CALENDAR_NOT_LOADED", "{b}");
        assert!(err.message().contains("2037"), "{b}: {err:?}");
        assert!(
            env.list(&c.ent, Default::default()).await.expect("list").is_empty(),
            "{b}"
        );
        assert!(!env.disclosure(&c.disclosure).await.repair_pending, "{b}");
        // Earlier in December 2036 the count ends inside 2036: accepted, provisional.
        let ok = submitted_on(&env, "2036-12-01", &c).await;
        assert!(ok.due_dates_provisional, "{b}");
        env.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_an_official_year_recomputes_open_deadlines_once() {
    for db in support::backends().await {
        let env = Env::start(&db, "2026-11-20").await;
        let b = env.backend;
        let dir = tempfile::tempdir().expect("tempdir");
        let a = env.case(330, DECIDED, Some(FULFILLED)).await;
        let c = env.case(331, DECIDED, Some(FULFILLED)).await;
        let closed = env.case(332, DECIDED, Some(FULFILLED)).await;

        // In official 2026, untouched by 2027: no event later.
        let untouched = submitted_on(&env, "2026-12-01", &c).await;
        // Withdrawn (final) while provisional: never recomputed.
        let gone = submitted_on(&env, "2027-01-25", &closed).await;
        env.act(
            gongshi::domain::repair::RepairAction::Withdraw,
            &gone.name,
            &gone.etag,
            &closed.ent,
        )
        .await
        .expect("withdraw");
        // Mon 2027-02-01, provisional: accept 02-04; overall 02-02, 03, 04,
        // (春节 02-05..10 statutory and 补假), 11, 12, 15, 16, 17, 18, 19.
        let open = submitted_on(&env, "2027-02-01", &a).await;
        assert_eq!(dues(&open), ("2027-02-04", "", "2027-02-19", true), "{b}");

        // An official 2027 with 春节 02-05..12 and Sat 02-20 worked, loaded by
        // the operator's command while the server runs: 02-02, 03, 04, 15,
        // 16, 17, 18, 19, Sat 20, Mon 22.
        let file = write_file(&dir, "2027.csv", OFFICIAL_2027);
        let out = gongshi(&db, &["calendar", "load", &file, "--by", "运维 李四"]);
        assert!(out.status.success(), "{b}: {out:?}");
        let text = stdout(&out);
        assert!(text.contains("official now: 2027"), "{b}: {text}");
        assert!(
            text.contains("2 open repair application(s) examined, 1 changed"),
            "{b}: {text}"
        );

        let after = env.get(&env.reviewer, &open.name).await.expect("get");
        assert_eq!(dues(&after), ("2027-02-04", "", "2027-02-22", false), "{b}");
        assert_eq!(after.state, pb::RepairState::Submitted as i32, "{b}: state unchanged");
        assert_ne!(after.etag, open.etag, "{b}: the record changed");
        assert!(!lookup(&env, &a, &after).await.due_dates_provisional, "{b}: look-up");
        let events = recomputed(&env, &open.name).await;
        assert_eq!(events.len(), 1, "{b}: {events:?}");
        let e = &events[0];
        assert_eq!(e.from_state, pb::RepairState::Submitted as i32, "{b}");
        assert_eq!(e.to_state, pb::RepairState::Submitted as i32, "{b}");
        for needle in [
            "official calendar 2027",
            "overall_due_on 2027-02-19 → 2027-02-22",
            "due_dates_provisional true → false",
        ] {
            assert!(e.reason.contains(needle), "{b}: {needle:?} not in {:?}", e.reason);
        }
        assert!(
            !e.reason.contains("accept_due_on"),
            "{b}: unchanged dates are not listed: {:?}",
            e.reason
        );
        assert!(recomputed(&env, &untouched.name).await.is_empty(), "{b}");
        assert!(
            recomputed(&env, &gone.name).await.is_empty(),
            "{b}: a final application is left alone"
        );

        // The running server picks the official year up by itself (every
        // 200 ms in tests; calendar_refresh_seconds in production).
        let deadline = Instant::now() + Duration::from_secs(10);
        while env.server.app.calendar().year_status(2027) != YearStatus::Official {
            assert!(Instant::now() < deadline, "{b}: the server never used the loaded 2027");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // Loading the same file again changes nothing and records no event.
        let again = gongshi(&db, &["calendar", "load", &file, "--by", "运维 李四"]);
        assert!(again.status.success(), "{b}: {again:?}");
        assert!(stdout(&again).contains("no year changed"), "{b}: {}", stdout(&again));
        assert!(
            stdout(&again).contains("2 open repair application(s) examined, 0 changed"),
            "{b}: {}",
            stdout(&again)
        );
        assert_eq!(recomputed(&env, &open.name).await.len(), 1, "{b}");
        assert_eq!(
            env.get(&env.reviewer, &open.name).await.expect("get").etag,
            after.etag,
            "{b}"
        );

        // Both loads are on record: who, the file's SHA-256, what changed.
        let loads = env.server.app.store.list_calendar_loads(10).await.expect("loads");
        let sha = gongshi::domain::record::sha256_hex(OFFICIAL_2027.as_bytes());
        assert_eq!(loads.len(), 3, "{b}: seed + two loads: {loads:?}");
        assert_eq!(
            (loads[0].replaced.as_str(), loads[1].replaced.as_str()),
            ("", "2027"),
            "{b}"
        );
        assert!(
            loads[..2].iter().all(|l| l.loaded_by == "运维 李四" && l.sha256 == sha),
            "{b}"
        );
        assert_eq!(loads[2].replaced, "2023,2024,2025,2026", "{b}: the seed");

        // `calendar list` now shows 2027 official, with who loaded it.
        let list = stdout(&gongshi(&db, &["calendar", "list"]));
        let line_2027 = list.lines().find(|l| l.starts_with("2027")).expect("2027 listed");
        assert!(
            line_2027.contains("official") && line_2027.contains("运维 李四"),
            "{b}: {list}"
        );
        env.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_file_changes_nothing() {
    for db in support::backends().await {
        let server = TestServer::start(&db.url, clock_at("2026-12-05")).await;
        let b = db.backend;
        let dir = tempfile::tempdir().expect("tempdir");
        let before = server.app.store.calendar_snapshot().await.expect("snapshot");
        let loads_before = server.app.store.list_calendar_loads(100).await.expect("loads").len();
        // Line 4 is a weekday marked as a working day; lines 2-3 are fine.
        let bad = "date,kind,name\n2027-01-01,holiday,元旦\n2027-02-05,holiday,春节\n2027-02-04,workday,春节\n";
        let file = write_file(&dir, "bad.csv", bad);
        let out = gongshi(&db, &["calendar", "load", &file]);
        assert!(!out.status.success(), "{b}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("line 4") && err.contains("nothing was loaded"),
            "{b}: {err}"
        );
        // Through the application too, with the reason the API would answer.
        let e = server
            .app
            .load_calendar(bad.as_bytes(), "bad.csv", "tester", true)
            .await
            .expect_err("refused");
        assert!(e.to_string().contains("line 4"), "{b}: {e}");
        let e = server
            .app
            .load_calendar(&[0xff, 0xfe], "bin", "tester", true)
            .await
            .expect_err("not UTF-8");
        assert!(e.to_string().contains("UTF-8"), "{b}: {e}");
        assert_eq!(
            server.app.store.calendar_snapshot().await.expect("snapshot"),
            before,
            "{b}"
        );
        assert_eq!(
            server.app.store.list_calendar_loads(100).await.expect("loads").len(),
            loads_before,
            "{b}: a refused file is not recorded as a load"
        );
        assert_eq!(server.app.calendar().year_status(2027), YearStatus::Provisional, "{b}");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_list_on_a_fresh_database() {
    for db in support::backends().await {
        let out = gongshi(&db, &["calendar", "list"]);
        assert!(out.status.success(), "{}: {out:?}", db.backend);
        let text = stdout(&out);
        let status = |y: i32| {
            text.lines()
                .find(|l| l.starts_with(&y.to_string()))
                .and_then(|l| l.split_whitespace().nth(1))
                .map(str::to_string)
        };
        for y in 2023..=2026 {
            assert_eq!(status(y).as_deref(), Some("official"), "{}: {text}", db.backend);
        }
        for y in 2027..=2036 {
            assert_eq!(status(y).as_deref(), Some("provisional"), "{}: {text}", db.backend);
        }
        assert!(text.contains("gongshi (built-in seed)"), "{}: {text}", db.backend);
        assert_eq!(status(2037), None, "{}: {text}", db.backend);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_sees_the_loaded_year_without_restart() {
    for db in support::backends().await {
        let b = db.backend;
        let clock = clock_at("2027-02-01");
        let first = TestServer::start(&db.url, clock.clone()).await;
        let second = TestServer::start_tuned(&db.url, clock.clone(), |o| {
            o.calendar_refresh = Duration::from_millis(100);
        })
        .await;
        assert_eq!(second.app.calendar().year_status(2027), YearStatus::Provisional, "{b}");
        let load = first
            .app
            .load_calendar(OFFICIAL_2027.as_bytes(), "2027.csv", "tester", true)
            .await
            .expect("load on the first instance");
        assert_eq!(load.replaced, vec![2027], "{b}");
        // The second instance's own refresh picks it up, without a restart.
        let deadline = Instant::now() + Duration::from_secs(10);
        while second.app.calendar().year_status(2027) != YearStatus::Official {
            assert!(Instant::now() < deadline, "{b}: the second instance never saw 2027");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(second.app.calendar().version(), load.version, "{b}");

        // A third instance whose refresh is slow still counts a submission
        // with the loaded year: repair acts read the stored version first.
        let slow = TestServer::start_tuned(&db.url, clock.clone(), |o| {
            o.calendar_refresh = Duration::from_secs(3600);
        })
        .await;
        let env = Env::on(b, slow).await;
        let c = env.case(340, DECIDED, Some(FULFILLED)).await;
        let v2 = format!("{OFFICIAL_2027}2027-03-06,workday,测试\n");
        first
            .app
            .load_calendar(v2.as_bytes(), "2027-v2.csv", "tester", true)
            .await
            .expect("replace 2027 on the first instance");
        // Mon 02-01 + 10 with Sat 02-20 and Sat 03-06 worked: … 02-19, 20, 22.
        let a = env.submit(&c.ent, "", c.application()).await.expect("submit");
        assert_eq!(dues(&a), ("2027-02-04", "", "2027-02-22", false), "{b}");
        assert_eq!(
            env.server.app.calendar().version(),
            load.version + 1,
            "{b}: the submission read the newest calendar"
        );
        env.server.stop().await;
        first.stop().await;
        second.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_annual_report_counts_every_record_and_flags_provisional_figures() {
    for db in support::backends().await {
        let b = db.backend;
        let (server, [officer, auditor]) = server_with_keys(&db, "2027-03-01", [Role::Officer, Role::Auditor]).await;
        let mut enf = server.enforcement().await;
        // Decided Sat 2027-02-20, published Mon 03-01: 7 provisional working
        // days end Tue 03-02 (02-22..26, 03-01, 03-02), so on time. Decided
        // in mid-2026 and published now: late, counted on official days.
        for (number, decided, n) in [
            ("沪应急罚〔2027〕历-1号", "2027-02-20", 77_001),
            ("沪应急罚〔2026〕历-2号", "2026-06-15", 77_002),
        ] {
            support::publish_sample(&mut enf, &officer, number, decided, n).await;
        }
        let reports = pb::report_service_client::ReportServiceClient::new(server.channel().await);
        let report = |year: i32| {
            let mut c = reports.clone();
            let key = auditor.clone();
            async move {
                c.get_annual_report(req(
                    pb::GetAnnualReportRequest {
                        year,
                        authority_credit_code: String::new(),
                    },
                    &key,
                ))
                .await
                .expect("report")
                .into_inner()
            }
        };
        let r = report(2027).await;
        let cur = r.current.expect("current");
        assert_eq!(
            (cur.must_publish, cur.published, cur.published_on_time),
            (1, 1, 1),
            "{b}: {cur:?}"
        );
        assert_eq!(
            cur.timeliness_rate_pct, "100.00",
            "{b}: the record is counted, not left out"
        );
        assert!(cur.timeliness_provisional, "{b}: counted over the provisional 2027");
        let prev = r.previous.expect("previous");
        assert_eq!((prev.published, prev.published_on_time), (1, 0), "{b}: {prev:?}");
        assert_eq!(prev.timeliness_rate_pct, "0.00", "{b}");
        assert!(!prev.timeliness_provisional, "{b}: 2026 is official");

        // With the official 2027 loaded the same figure is no longer provisional.
        server
            .app
            .load_calendar(OFFICIAL_2027.as_bytes(), "2027.csv", "tester", true)
            .await
            .expect("load");
        let cur = report(2027).await.current.expect("current");
        assert!(!cur.timeliness_provisional, "{b}: {cur:?}");
        assert_eq!(cur.published_on_time, 1, "{b}");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_is_warned_from_november_until_next_year_is_official() {
    let db = support::sqlite_db();
    let server = TestServer::start(&db.url, clock_at("2026-10-31")).await;
    let app = &server.app;
    assert_eq!(
        app.calendar_warning(support::d("2026-10-31")),
        None,
        "before November: quiet"
    );
    let w = app
        .calendar_warning(support::d("2026-11-01"))
        .expect("a warning from 1 November");
    assert!(w.contains("2027") && w.contains("gongshi calendar load"), "{w}");
    assert!(app.calendar_warning(support::d("2026-12-31")).is_some());
    app.load_calendar(OFFICIAL_2027.as_bytes(), "2027.csv", "tester", true)
        .await
        .expect("load 2027");
    assert_eq!(
        app.calendar_warning(support::d("2026-11-01")),
        None,
        "2027 is official now"
    );
    assert!(
        app.calendar_warning(support::d("2027-11-01")).is_some(),
        "then 2028 is next"
    );
    server.stop().await;
}
