//! Expiry (DOMAIN.md §3): the day after `publicity_ends_on` (CST) a
//! disclosure stops being public with nobody calling the API — exactly once,
//! even with two instances on one database — and a decision entered after its
//! maximum period ended is never shared at all.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gongshi::api::pb;
use gongshi::domain::clock::cst_midnight;
use gongshi::domain::lifecycle::Role;

use crate::export::export_all;
use crate::feed::{DisclosureClient, whole_feed_one_pass};
use crate::support::calls;
use crate::support::publish_sample;
use crate::support::{self, TestServer, clock_at, d, req};

/// How often the expiry job of each test instance runs.
const EXPIRY_EVERY: Duration = Duration::from_millis(20);

async fn get(client: &mut DisclosureClient, key: &str, name: &str) -> Result<pb::Disclosure, tonic::Status> {
    client
        .get_disclosure(req(pb::GetDisclosureRequest { name: name.to_string() }, key))
        .await
        .map(|r| r.into_inner())
}

/// TERMINATED changes per disclosure in the whole feed.
fn terminations(feed: &pb::ListDisclosureChangesResponse) -> HashMap<String, Vec<pb::DisclosureChange>> {
    let mut m: HashMap<String, Vec<pb::DisclosureChange>> = HashMap::new();
    for c in &feed.changes {
        if c.kind == pb::ChangeKind::Terminated as i32 {
            m.entry(c.disclosure.clone()).or_default().push(c.clone());
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiry_terminates_exactly_once_across_two_instances() {
    const DUE: u64 = 12;
    for db in support::backends().await {
        let clock = clock_at("2026-06-01");
        let a = TestServer::start_with(&db.url, clock.clone(), EXPIRY_EVERY).await;
        let b = TestServer::start_with(&db.url, clock.clone(), EXPIRY_EVERY).await;
        let [officer, discloser, auditor] = a.keys([Role::Officer, Role::Discloser, Role::Auditor]).await;
        let mut enf = a.enforcement().await;
        let mut dis = b.disclosures().await;

        // Decided 2026-04-10, general class under 令第36号: the maximum period
        // of one year ends 2027-04-10.
        let mut due = Vec::new();
        for i in 0..DUE {
            let number = format!("沪应急罚〔2026〕期-{i}号");
            let dec = publish_sample(&mut enf, &officer, &number, "2026-04-10", 700 + i).await;
            due.push(dec.disclosure);
        }
        let within = publish_sample(&mut enf, &officer, "沪应急罚〔2026〕期-内号", "2026-04-20", 799)
            .await
            .disclosure;
        for name in &due {
            let got = get(&mut dis, &auditor, name).await.expect("auditor get");
            assert_eq!(got.publicity_ends_on, "2027-04-10", "{}", db.backend);
            assert_eq!(got.state, pb::DisclosureState::Active as i32);
        }
        assert_eq!(
            get(&mut dis, &auditor, &within).await.unwrap().publicity_ends_on,
            "2027-04-20"
        );

        // The last second of the last day of publicity: still public.
        clock.set(cst_midnight(d("2027-04-11")) - chrono::Duration::seconds(1));
        tokio::time::sleep(EXPIRY_EVERY * 15).await; // several runs of both jobs
        assert_eq!(
            a.app.expire_due().await.expect("expire_due"),
            0,
            "{}: expired on its last day",
            db.backend
        );
        assert_eq!(b.app.expire_due().await.expect("expire_due"), 0);
        let feed = whole_feed_one_pass(&mut dis, &discloser).await;
        assert!(
            terminations(&feed).is_empty(),
            "{}: expired on publicity_ends_on itself",
            db.backend
        );
        for name in &due {
            assert_eq!(
                get(&mut dis, &discloser, name).await.expect("still public").state,
                pb::DisclosureState::Active as i32
            );
        }

        // The first instant of the day after: both instances' jobs, plus
        // direct calls racing them, all try to expire the same records.
        clock.set(cst_midnight(d("2027-04-11")));
        let mut racers = Vec::new();
        for app in [a.app.clone(), b.app.clone(), a.app.clone(), b.app.clone()] {
            racers.push(tokio::spawn(async move { app.expire_due().await.expect("expire_due") }));
        }
        let mut direct = 0;
        for r in racers {
            direct += r.await.expect("racer");
        }
        assert!(
            direct <= DUE,
            "{}: the direct calls alone expired {direct} of {DUE}",
            db.backend
        );

        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let feed = whole_feed_one_pass(&mut dis, &discloser).await;
            let t = terminations(&feed);
            if due.iter().all(|n| t.contains_key(n)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: not every due disclosure expired within 10 s",
                db.backend
            );
            tokio::time::sleep(EXPIRY_EVERY).await;
        }
        // Let both jobs run many more times; nothing may be terminated twice.
        tokio::time::sleep(EXPIRY_EVERY * 15).await;
        assert_eq!(a.app.expire_due().await.unwrap(), 0);
        assert_eq!(b.app.expire_due().await.unwrap(), 0);

        let feed = whole_feed_one_pass(&mut dis, &discloser).await;
        let t = terminations(&feed);
        assert_eq!(
            t.len(),
            DUE as usize,
            "{}: only the due disclosures terminated",
            db.backend
        );
        for name in &due {
            let ts = &t[name];
            assert_eq!(ts.len(), 1, "{}: {name} terminated {} times", db.backend, ts.len());
            assert_eq!(ts[0].reason, pb::TerminationReason::Expired as i32);
            assert!(ts[0].record.is_none());
            assert!(ts[0].public_reason.is_empty());
            // Its earlier PUBLISHED change no longer carries content.
            let published: Vec<_> = feed
                .changes
                .iter()
                .filter(|c| &c.disclosure == name && c.kind == pb::ChangeKind::Published as i32)
                .collect();
            assert_eq!(published.len(), 1);
            assert!(
                published[0].record.is_none(),
                "{}: expired content still served",
                db.backend
            );

            let audited = get(&mut dis, &auditor, name).await.expect("auditor get");
            assert_eq!(audited.state, pb::DisclosureState::Expired as i32, "{}", db.backend);
            assert!(audited.terminated_at.is_some());
            let err = get(&mut dis, &discloser, name)
                .await
                .expect_err("expired is not public");
            assert_eq!(err.code(), tonic::Code::NotFound);
        }
        assert!(
            !t.contains_key(&within),
            "{}: a record within its period expired",
            db.backend
        );
        let kept = get(&mut dis, &discloser, &within).await.expect("still public");
        assert_eq!(kept.state, pb::DisclosureState::Active as i32);
        let kept_feed: Vec<_> = feed.changes.iter().filter(|c| c.disclosure == within).collect();
        assert_eq!(kept_feed.len(), 1);
        assert!(kept_feed[0].record.is_some(), "the active record keeps its content");

        // Only the record within its period is exported.
        let (_, last) = export_all(&mut dis, &discloser).await;
        assert_eq!(last.row_count, 1, "{}", db.backend);

        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test]
async fn late_entered_decision_is_recorded_expired() {
    for db in support::backends().await {
        let server = TestServer::start_with(&db.url, clock_at("2026-11-29"), EXPIRY_EVERY).await;
        let [officer, discloser, auditor] = server.keys([Role::Officer, Role::Discloser, Role::Auditor]).await;
        let mut enf = server.enforcement().await;
        let mut dis = server.disclosures().await;

        // Decided 2022-01-10, general class under 发改办财金〔2019〕527号:
        // at most one year, so publicity ended 2023-01-10.
        let late = publish_sample(&mut enf, &officer, "沪应急罚〔2022〕迟-1号", "2022-01-10", 801).await;
        assert_eq!(late.state, pb::DecisionState::Published as i32, "{}", db.backend);
        assert!(!late.disclosure.is_empty());

        let feed = whole_feed_one_pass(&mut dis, &discloser).await;
        assert!(
            feed.changes.is_empty(),
            "{}: pullers saw a late-entered record: {:?}",
            db.backend,
            feed.changes
        );
        assert_eq!(feed.last_sequence, 0);

        let audited = get(&mut dis, &auditor, &late.disclosure).await.expect("auditor get");
        assert_eq!(audited.state, pb::DisclosureState::Expired as i32, "{}", db.backend);
        assert_eq!(audited.publicity_ends_on, "2023-01-10");
        let err = get(&mut dis, &discloser, &late.disclosure)
            .await
            .expect_err("never public");
        assert_eq!(err.code(), tonic::Code::NotFound);
        let listed = calls::list_disclosures(&mut dis, &discloser).await;
        assert!(listed.disclosures.is_empty());

        // The expiry job has nothing to terminate either.
        tokio::time::sleep(EXPIRY_EVERY * 10).await;
        assert_eq!(server.app.expire_due().await.unwrap(), 0);

        // A current decision is published normally beside it.
        let current = publish_sample(&mut enf, &officer, "沪应急罚〔2026〕今-1号", "2026-11-20", 802).await;
        let feed = whole_feed_one_pass(&mut dis, &discloser).await;
        let names: Vec<_> = feed.changes.iter().map(|c| (c.disclosure.clone(), c.kind)).collect();
        assert_eq!(
            names,
            vec![(current.disclosure.clone(), pb::ChangeKind::Published as i32)],
            "{}",
            db.backend
        );
        let (bytes, last) = export_all(&mut dis, &discloser).await;
        assert_eq!(last.row_count, 1);
        assert!(!String::from_utf8(bytes).unwrap().contains("沪应急罚〔2022〕迟-1号"));
        server.stop().await;
    }
}
