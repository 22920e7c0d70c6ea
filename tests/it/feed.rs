//! The change feed (API.md "Feed guarantees"): no change missed or repeated
//! under concurrent, out-of-order committing writers; a watch that catches
//! up and then follows another instance's commits; and terminated records
//! never served again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gongshi::api::pb;
use gongshi::domain::lifecycle::{ChangeKind, Role};
use gongshi::store::{NewChange, StoreOptions};
use tonic::transport::Channel;

use crate::support::calls::{self, patch_of};
use crate::support::kit::server_with_keys;
use crate::support::publish_sample;
use crate::support::{self, TestServer, clock_at, create_and_publish, credit_code, decision, req};

pub(crate) type DisclosureClient = pb::disclosure_service_client::DisclosureServiceClient<Channel>;
pub(crate) type EnforcementClient = pb::enforcement_service_client::EnforcementServiceClient<Channel>;

/// How long any asynchronous delivery may take before a test fails.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole feed after `after`, in pages of `page_size`, checking the
/// `last_sequence` contract of every page on the way.
pub(crate) async fn read_feed(
    client: &mut DisclosureClient,
    key: &str,
    after: i64,
    page_size: i32,
) -> Vec<pb::DisclosureChange> {
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let page = client
            .list_disclosure_changes(req(
                pb::ListDisclosureChangesRequest {
                    after_sequence: cursor,
                    page_size,
                },
                key,
            ))
            .await
            .expect("ListDisclosureChanges")
            .into_inner();
        let expected_last = page.changes.last().map(|c| c.sequence).unwrap_or(cursor);
        assert_eq!(page.last_sequence, expected_last, "last_sequence of a page");
        if page.changes.is_empty() {
            return out;
        }
        cursor = page.last_sequence;
        out.extend(page.changes);
    }
}

/// The feed from 0 in a single call (checked to be complete).
pub(crate) async fn whole_feed_one_pass(client: &mut DisclosureClient, key: &str) -> pb::ListDisclosureChangesResponse {
    let page = client
        .list_disclosure_changes(req(
            pb::ListDisclosureChangesRequest {
                after_sequence: 0,
                page_size: 1000,
            },
            key,
        ))
        .await
        .expect("ListDisclosureChanges from 0")
        .into_inner();
    assert!(page.changes.len() < 1000, "the test feed must fit one page");
    page
}

/// Sequences strictly increase (so there are no duplicates either).
pub(crate) fn assert_strictly_increasing(seqs: &[i64], what: &str) {
    for w in seqs.windows(2) {
        assert!(w[0] < w[1], "{what}: sequence {} followed by {}", w[0], w[1]);
    }
}

/// A change's identity in the feed: (sequence, disclosure, kind).
fn ident(c: &pb::DisclosureChange) -> (i64, String, i32) {
    (c.sequence, c.disclosure.clone(), c.kind)
}

/// The changes of one disclosure in a feed.
fn changes_of<'a>(feed: &'a [pb::DisclosureChange], disclosure: &str) -> Vec<&'a pb::DisclosureChange> {
    feed.iter().filter(|c| c.disclosure == disclosure).collect()
}

/// Corrects the violation facts of a decision through the API.
pub(crate) async fn correct_facts(
    client: &mut EnforcementClient,
    officer: &str,
    d: &pb::PenaltyDecision,
    facts: &str,
) -> pb::PenaltyDecision {
    let patch = patch_of("violation_facts", facts);
    let r = calls::correct(
        client,
        officer,
        &d.name,
        &d.etag,
        patch,
        &["violation_facts"],
        "更正违法事实的笔误",
    );
    r.await.expect("CorrectPenaltyDecision")
}

/// Withdraws a decision (revoked) through the API.
pub(crate) async fn withdraw(
    client: &mut EnforcementClient,
    officer: &str,
    d: &pb::PenaltyDecision,
    public_reason: &str,
) -> pb::PenaltyDecision {
    let revoked = pb::WithdrawalEvent::Revoked;
    let r = calls::withdraw(client, officer, &d.name, &d.etag, revoked, public_reason);
    r.await.expect("WithdrawPenaltyDecision")
}

/// What one writer did: the changes each of its disclosures must show.
#[derive(Default)]
struct WriterLog {
    publishes: usize,
    corrections: usize,
    withdrawals: usize,
    expected: HashMap<String, Vec<i32>>,
}

async fn writer(server_addr: std::net::SocketAddr, officer: String, w: u64, n: u64) -> WriterLog {
    let ch = Channel::from_shared(format!("http://{server_addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let mut client = EnforcementClient::new(ch);
    let mut log = WriterLog::default();
    for i in 0..n {
        let number = format!("沪应急罚〔2026〕{w}-{i}号");
        let party = credit_code("91310115", 100_000 + w * 1000 + i);
        let d = create_and_publish(&mut client, &officer, decision(&number, "2026-05-06", &party)).await;
        assert_eq!(d.state, pb::DecisionState::Published as i32, "{number} published");
        assert!(!d.disclosure.is_empty(), "{number} has a disclosure");
        log.publishes += 1;
        let mut kinds = vec![pb::ChangeKind::Published as i32];
        let mut d2 = d.clone();
        if i % 3 == 0 {
            d2 = correct_facts(&mut client, &officer, &d2, &format!("经查，更正后的违法事实 {w}-{i}。")).await;
            log.corrections += 1;
            kinds.push(pb::ChangeKind::Corrected as i32);
        }
        if i % 5 == 0 {
            withdraw(&mut client, &officer, &d2, "该处罚决定已被行政复议机关撤销").await;
            log.withdrawals += 1;
            kinds.push(pb::ChangeKind::Terminated as i32);
        }
        log.expected.insert(d.disclosure.clone(), kinds);
    }
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_reader_sees_every_change_once_in_order() {
    const WRITERS: u64 = 8;
    const PER_WRITER: u64 = 25;
    for db in support::backends().await {
        let (server, [officer, discloser]) =
            server_with_keys(&db, "2026-06-01", [Role::Officer, Role::Discloser]).await;

        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let mut client = server.disclosures().await;
            let discloser = discloser.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut seen: Vec<pb::DisclosureChange> = Vec::new();
                let mut cursor = 0;
                let mut pages = 0usize;
                loop {
                    // Read the flag before asking: an empty page after every
                    // writer finished means the feed is drained.
                    let finished = done.load(Ordering::SeqCst);
                    let page = client
                        .list_disclosure_changes(req(
                            pb::ListDisclosureChangesRequest {
                                after_sequence: cursor,
                                page_size: 7,
                            },
                            &discloser,
                        ))
                        .await
                        .expect("ListDisclosureChanges")
                        .into_inner();
                    assert!(page.changes.len() <= 7, "page_size is respected");
                    let expected_last = page.changes.last().map(|c| c.sequence).unwrap_or(cursor);
                    assert_eq!(page.last_sequence, expected_last);
                    if page.changes.is_empty() {
                        if finished {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    }
                    pages += 1;
                    cursor = page.last_sequence;
                    seen.extend(page.changes);
                }
                (seen, pages)
            })
        };

        let mut writers = Vec::new();
        for w in 0..WRITERS {
            writers.push(tokio::spawn(writer(server.addr, officer.clone(), w, PER_WRITER)));
        }
        let mut calls = 0;
        let mut expected: HashMap<String, Vec<i32>> = HashMap::new();
        for w in writers {
            let log = w.await.expect("writer task");
            calls += log.publishes + log.corrections + log.withdrawals;
            expected.extend(log.expected);
        }
        done.store(true, Ordering::SeqCst);
        let (seen, pages) = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .expect("reader drains the feed")
            .expect("reader task");

        let seqs: Vec<i64> = seen.iter().map(|c| c.sequence).collect();
        assert_strictly_increasing(&seqs, db.backend);
        let unique: HashSet<i64> = seqs.iter().copied().collect();
        assert_eq!(unique.len(), seqs.len(), "{}: a change was seen twice", db.backend);

        let mut client = server.disclosures().await;
        let full = whole_feed_one_pass(&mut client, &discloser).await;
        let full_ids: Vec<_> = full.changes.iter().map(ident).collect();
        let seen_ids: Vec<_> = seen.iter().map(ident).collect();
        assert_eq!(
            seen_ids, full_ids,
            "{}: the concurrent reader's feed differs from a later full read",
            db.backend
        );
        let paged: Vec<_> = read_feed(&mut client, &discloser, 0, 5)
            .await
            .iter()
            .map(ident)
            .collect();
        assert_eq!(paged, full_ids, "{}: paging a quiet feed gives the same", db.backend);
        assert_eq!(
            seen.len(),
            calls,
            "{}: one change per state-changing call (publish, correct, withdraw)",
            db.backend
        );
        assert_eq!(calls as u64, WRITERS * PER_WRITER + WRITERS * 9 + WRITERS * 5);

        // Per disclosure, its changes in the order they were made.
        let mut per: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for c in &seen {
            per.entry(c.disclosure.clone()).or_default().push(c.kind);
            if c.kind == pb::ChangeKind::Terminated as i32 {
                assert_eq!(c.reason, pb::TerminationReason::Withdrawn as i32);
                assert!(c.record.is_none(), "a TERMINATED change carries no record");
            }
        }
        assert_eq!(per.len(), expected.len(), "{}: one disclosure per publish", db.backend);
        for (name, kinds) in &expected {
            assert_eq!(per.get(name), Some(kinds), "{}: changes of {name}", db.backend);
        }
        eprintln!(
            "{}: reader saw {} changes in {pages} non-empty pages while 8 writers ran",
            db.backend,
            seen.len()
        );
        server.stop().await;
    }
}

/// Store level: transactions that take sequence numbers and then commit in a
/// random order. On PostgreSQL only the feed's advisory lock keeps a reader
/// paging by `after_sequence` from stepping past a number that commits late.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn out_of_order_commits_never_let_a_reader_skip_a_sequence() {
    const TASKS: usize = 16;
    const PER_TASK: usize = 15;
    for db in support::backends().await {
        let server = TestServer::start(&db.url, clock_at("2026-06-01")).await;
        let officer = server.key(Role::Officer, None).await;
        let mut enforcement = server.enforcement().await;
        let d = publish_sample(&mut enforcement, &officer, "沪应急罚〔2026〕乱序-1号", "2026-05-06", 7).await;
        let disclosure_id = d
            .disclosure
            .strip_prefix("disclosures/")
            .expect("disclosure name")
            .to_string();
        let row = server
            .app
            .store
            .get_disclosure(&disclosure_id)
            .await
            .unwrap()
            .expect("disclosure row");

        // Writers and the reader on pools of their own, as separate instances would be.
        let writers_store = gongshi::store::connect(
            &db.url,
            &StoreOptions {
                max_connections: TASKS as u32,
                acquire_timeout: Duration::from_secs(60),
                ..StoreOptions::default()
            },
        )
        .await
        .expect("writers' store");
        let reader_store = gongshi::store::connect(
            &db.url,
            &StoreOptions {
                max_connections: 2,
                acquire_timeout: Duration::from_secs(60),
                ..StoreOptions::default()
            },
        )
        .await
        .expect("reader's store");

        let first = reader_store.list_changes(0, 1000).await.unwrap();
        assert_eq!(first.len(), 1, "the PUBLISHED change of the one decision");

        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let store = reader_store.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut cursor = 0;
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let page = store.list_changes(cursor, 7).await.expect("list_changes");
                    if page.is_empty() {
                        if finished {
                            break;
                        }
                        tokio::time::sleep(Duration::from_micros(300)).await;
                        continue;
                    }
                    cursor = page.last().unwrap().sequence;
                    seen.extend(page.into_iter().map(|c| c.sequence));
                }
                seen
            })
        };

        let mut tasks = Vec::new();
        for _ in 0..TASKS {
            let store = writers_store.clone();
            let change = NewChange {
                disclosure_id: row.id.clone(),
                kind: ChangeKind::Corrected,
                reason: None,
                version: row.version,
                content_sha256: row.content_sha256.clone(),
                public_reason: None,
                effective_time: row.update_time,
            };
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                for _ in 0..PER_TASK {
                    let mut tx = store.begin().await.expect("begin");
                    // Some work of the transaction, then the feed entry, then
                    // a random delay before commit: without the lock, later
                    // numbers would routinely commit before earlier ones.
                    let _ = tx.disclosure_for_update("no-such-disclosure").await.expect("work");
                    tokio::time::sleep(Duration::from_micros(rand::random_range(0..2000))).await;
                    let seq = tx.append_change(&change).await.expect("append_change");
                    tokio::time::sleep(Duration::from_micros(rand::random_range(0..4000))).await;
                    tx.commit().await.expect("commit");
                    mine.push(seq);
                }
                mine
            }));
        }
        let mut appended = vec![first[0].sequence];
        for t in tasks {
            appended.extend(t.await.expect("writer task"));
        }
        done.store(true, Ordering::SeqCst);
        let seen = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .expect("reader drains the feed")
            .expect("reader task");

        assert_strictly_increasing(&seen, db.backend);
        appended.sort_unstable();
        assert_eq!(appended.len(), 1 + TASKS * PER_TASK);
        let all: Vec<i64> = reader_store
            .list_changes(0, 1000)
            .await
            .unwrap()
            .iter()
            .map(|c| c.sequence)
            .collect();
        assert_eq!(
            all, appended,
            "{}: the feed holds exactly the committed changes",
            db.backend
        );
        let missed: Vec<i64> = appended.iter().filter(|s| !seen.contains(s)).copied().collect();
        assert!(
            missed.is_empty(),
            "{}: a reader paging by after_sequence skipped {} committed change(s): {missed:?}",
            db.backend,
            missed.len()
        );
        assert_eq!(seen, appended, "{}", db.backend);
        server.stop().await;
    }
}

/// The next message of a watch, within the delivery timeout.
async fn next_change(stream: &mut tonic::Streaming<pb::DisclosureChange>, what: &str) -> pb::DisclosureChange {
    tokio::time::timeout(DELIVERY_TIMEOUT, stream.message())
        .await
        .unwrap_or_else(|_| panic!("{what}: no change delivered within {DELIVERY_TIMEOUT:?}"))
        .expect("watch stream error")
        .unwrap_or_else(|| panic!("{what}: watch stream ended"))
}

/// Asserts that nothing more arrives for a while (ten poll intervals).
async fn assert_quiet(stream: &mut tonic::Streaming<pb::DisclosureChange>, what: &str) {
    if let Ok(m) = tokio::time::timeout(Duration::from_millis(600), stream.message()).await {
        panic!("{what}: unexpected extra delivery {m:?}");
    }
}

async fn watch(client: &mut DisclosureClient, key: &str, after: i64) -> tonic::Streaming<pb::DisclosureChange> {
    client
        .watch_disclosure_changes(req(pb::WatchDisclosureChangesRequest { after_sequence: after }, key))
        .await
        .expect("WatchDisclosureChanges")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_delivers_changes_written_by_another_instance() {
    for db in support::backends().await {
        let clock = clock_at("2026-06-01");
        let a = TestServer::start(&db.url, clock.clone()).await;
        let b = TestServer::start(&db.url, clock.clone()).await;
        let [officer, discloser] = a.keys([Role::Officer, Role::Discloser]).await;
        let mut enf_a = a.enforcement().await;
        let mut enf_b = b.enforcement().await;

        // Changes that exist before anyone watches: the catch-up.
        for i in 0..5 {
            let number = format!("沪应急罚〔2026〕观-A{i}号");
            publish_sample(&mut enf_a, &officer, &number, "2026-05-06", 200 + i).await;
        }
        let mut dis_a = a.disclosures().await;
        let mut stream = watch(&mut dis_a, &discloser, 0).await;
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(next_change(&mut stream, "catch-up").await);
        }
        assert!(
            got.iter()
                .all(|c| c.kind == pb::ChangeKind::Published as i32 && c.record.is_some())
        );

        // Writes through the other instance: 8 publishes, 3 corrections, 2 withdrawals.
        let mut written = 0;
        for i in 0..8u64 {
            let number = format!("沪应急罚〔2026〕观-B{i}号");
            let d = publish_sample(&mut enf_b, &officer, &number, "2026-05-06", 300 + i).await;
            written += 1;
            let mut d = d;
            if i < 3 {
                d = correct_facts(&mut enf_b, &officer, &d, &format!("经查，更正后的事实 B{i}。")).await;
                written += 1;
            }
            if i == 1 || i == 6 {
                withdraw(&mut enf_b, &officer, &d, "该处罚决定已被依法撤销").await;
                written += 1;
            }
        }
        assert_eq!(written, 13);
        for _ in 0..written {
            got.push(next_change(&mut stream, "written through instance B").await);
        }
        assert_quiet(&mut stream, "after every change arrived").await;

        let seqs: Vec<i64> = got.iter().map(|c| c.sequence).collect();
        assert_strictly_increasing(&seqs, db.backend);
        let mut dis_b = b.disclosures().await;
        let full = whole_feed_one_pass(&mut dis_b, &discloser).await;
        assert_eq!(full.changes.len(), 5 + written);
        let got_ids: Vec<_> = got.iter().map(ident).collect();
        let full_ids: Vec<_> = full.changes.iter().map(ident).collect();
        assert_eq!(
            got_ids, full_ids,
            "{}: the watch delivered the feed exactly",
            db.backend
        );

        // A watch from the middle delivers only what comes after.
        let x = full.changes[7].sequence;
        let mut from_x = watch(&mut dis_a, &discloser, x).await;
        let mut later = Vec::new();
        for _ in 8..full.changes.len() {
            later.push(next_change(&mut from_x, "watch after X").await);
        }
        assert_quiet(&mut from_x, "watch after X").await;
        assert!(
            later.iter().all(|c| c.sequence > x),
            "{}: a watch after {x} delivered an older change",
            db.backend
        );
        let later_ids: Vec<_> = later.iter().map(ident).collect();
        assert_eq!(later_ids, full_ids[8..].to_vec());

        // Both watches follow a new write on B.
        let d = publish_sample(&mut enf_b, &officer, "沪应急罚〔2026〕观-C号", "2026-05-06", 400).await;
        let c1 = next_change(&mut stream, "latest write").await;
        let c2 = next_change(&mut from_x, "latest write").await;
        assert_eq!(c1.disclosure, d.disclosure);
        assert_eq!(ident(&c1), ident(&c2));
        assert!(c1.sequence > full.changes.last().unwrap().sequence);

        // Stopping instance A ends its watches.
        drop(dis_a);
        a.stop().await;
        for s in [&mut stream, &mut from_x] {
            match tokio::time::timeout(DELIVERY_TIMEOUT, s.message()).await {
                Ok(Ok(None) | Err(_)) => {}
                Ok(Ok(Some(m))) => panic!("{}: unexpected delivery after stop: {m:?}", db.backend),
                Err(_) => panic!("{}: the watch did not end when its server stopped", db.backend),
            }
        }
        b.stop().await;
    }
}

#[tokio::test]
async fn terminated_content_is_never_served_again() {
    for db in support::backends().await {
        let (server, [officer, discloser, auditor]) =
            server_with_keys(&db, "2026-06-01", [Role::Officer, Role::Discloser, Role::Auditor]).await;
        let mut enf = server.enforcement().await;
        let mut dis = server.disclosures().await;

        const GONE_NUMBER: &str = "沪应急罚〔2026〕撤-77号";
        const GONE_PARTY: &str = "上海撤回测试精细化工有限公司";
        const KEPT_NUMBER: &str = "沪应急罚〔2026〕留-78号";
        const KEPT_PARTY: &str = "上海保留测试物流有限公司";

        let mut gone = decision(GONE_NUMBER, "2026-05-06", &credit_code("91310115", 501));
        gone.party.as_mut().unwrap().name = GONE_PARTY.into();
        let gone = create_and_publish(&mut enf, &officer, gone).await;
        let gone = correct_facts(
            &mut enf,
            &officer,
            &gone,
            "经查，更正后的违法事实：未如实记录培训情况。",
        )
        .await;
        let mut kept = decision(KEPT_NUMBER, "2026-05-07", &credit_code("91310115", 502));
        kept.party.as_mut().unwrap().name = KEPT_PARTY.into();
        let kept = create_and_publish(&mut enf, &officer, kept).await;

        // While active, both versions of the withdrawn-to-be record are served.
        let before = whole_feed_one_pass(&mut dis, &discloser).await;
        let gone_before = changes_of(&before.changes, &gone.disclosure);
        assert_eq!(gone_before.len(), 2);
        assert!(
            gone_before
                .iter()
                .all(|c| { c.record.as_ref().is_some_and(|r| r.party_name == GONE_PARTY) })
        );
        assert_eq!(
            gone_before[1].record.as_ref().unwrap().violation_facts,
            "经查，更正后的违法事实：未如实记录培训情况。"
        );

        withdraw(&mut enf, &officer, &gone, "该处罚决定已被行政复议机关撤销").await;

        let after = whole_feed_one_pass(&mut dis, &discloser).await;
        let gone_after = changes_of(&after.changes, &gone.disclosure);
        let kinds: Vec<i32> = gone_after.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            vec![
                pb::ChangeKind::Published as i32,
                pb::ChangeKind::Corrected as i32,
                pb::ChangeKind::Terminated as i32
            ],
            "{}",
            db.backend
        );
        for c in &gone_after {
            assert!(
                c.record.is_none(),
                "{}: change {} of a withdrawn record still carries content",
                db.backend,
                c.sequence
            );
        }
        let t = gone_after[2];
        assert_eq!(t.reason, pb::TerminationReason::Withdrawn as i32);
        assert_eq!(t.public_reason, "该处罚决定已被行政复议机关撤销");
        assert!(t.effective_time.is_some());
        // Same through a watch.
        let mut stream = watch(&mut dis, &discloser, 0).await;
        for _ in 0..after.changes.len() {
            let c = next_change(&mut stream, "watch from 0").await;
            if c.disclosure == gone.disclosure {
                assert!(c.record.is_none(), "{}: watch served withdrawn content", db.backend);
            }
        }
        drop(stream);

        // The unrelated, still active record keeps its content.
        let kept_changes = changes_of(&after.changes, &kept.disclosure);
        assert_eq!(kept_changes.len(), 1);
        assert_eq!(
            kept_changes[0].record.as_ref().map(|r| r.party_name.as_str()),
            Some(KEPT_PARTY)
        );

        // Disclosers no longer get it; auditors do, as WITHDRAWN.
        let err = calls::get_disclosure(&mut dis, &discloser, &gone.disclosure)
            .await
            .expect_err("a discloser must not get a withdrawn record");
        assert_eq!(err.code(), tonic::Code::NotFound, "{}", db.backend);
        let audited = calls::get_disclosure(&mut dis, &auditor, &gone.disclosure)
            .await
            .expect("auditor reads terminated records");
        assert_eq!(audited.state, pb::DisclosureState::Withdrawn as i32);
        assert_eq!(audited.decision_number, GONE_NUMBER);
        assert!(audited.terminated_at.is_some());
        let listed = calls::list_disclosures(&mut dis, &discloser).await;
        let names: Vec<_> = listed.disclosures.iter().map(|d| d.name.clone()).collect();
        assert_eq!(names, vec![kept.disclosure.clone()]);

        // Nor is it exported.
        let (bytes, last) = crate::export::export_all(&mut dis, &discloser).await;
        let text = String::from_utf8(bytes).expect("UTF-8 CSV");
        assert_eq!(last.row_count, 1);
        assert!(
            !text.contains(GONE_NUMBER),
            "{}: export contains the withdrawn decision number",
            db.backend
        );
        assert!(
            !text.contains(GONE_PARTY),
            "{}: export contains the withdrawn party",
            db.backend
        );
        assert!(text.contains(KEPT_NUMBER) && text.contains(KEPT_PARTY));
        server.stop().await;
    }
}
