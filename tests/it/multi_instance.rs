//! Several instances on one database (issue 7, item 3): three in-process
//! servers, each with its own connection pool, on one PostgreSQL database —
//! and on one SQLite file too, where the single writer serialises them.
//! Requests are released together (a barrier) over their own connections,
//! spread round-robin over the instances.
//!
//! - (a) [`one_request_id_creates_one_resource_across_instances`]: one
//!   `request_id` sent concurrently to every instance, then retried on each,
//!   creates exactly one decision (CreatePenaltyDecision) or application
//!   (SubmitRepairApplication), and every answer names it; after the
//!   application is closed, the same `request_id` still names it.
//! - (b) [`concurrent_transitions_have_one_winner_across_instances`]: 20
//!   concurrent PublishPenaltyDecision (with one etag, and with none),
//!   CorrectPenaltyDecision and WithdrawPenaltyDecision with one etag, and
//!   RecordNoticeDelivery: exactly one succeeds, the others are ABORTED or
//!   FAILED_PRECONDITION, and exactly one event and feed entry is written.
//! - (c) [`notice_bundle_rendered_once_across_instances`]: GetNoticeBundle
//!   asked concurrently on every instance renders one bundle version (one
//!   NOTICE_RENDERED event, identical documents in every answer); after a
//!   correction, exactly one more.
//!
//! Covered elsewhere and not repeated: concurrent approvals on two instances
//! (`repair::twenty_concurrent_approvals_on_two_instances_approve_exactly_once`),
//! exactly-once expiry (`expiry::expiry_terminates_exactly_once_across_two_instances`),
//! a watch fed by another instance's writes
//! (`feed::watch_delivers_changes_written_by_another_instance`), and
//! idempotency on one instance (`decisions::create_is_idempotent_per_key_and_request_id`,
//! `repair::submission_is_idempotent_and_one_at_a_time`).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use gongshi::api::pb;
use gongshi::domain::clock::Clock;
use gongshi::domain::lifecycle::Role;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::repair_support::{As, application_for, call};
use crate::support::calls::notice_bundle;
use crate::support::calls::{self, correction, patch_of, slip_correction};
use crate::support::{self, TestDb, TestServer, clock_at, create_and_publish, credit_code, decision, reason, req};

type EnfClient = pb::enforcement_service_client::EnforcementServiceClient<Channel>;
type RepClient = pb::credit_repair_service_client::CreditRepairServiceClient<Channel>;
type NotClient = pb::notice_service_client::NoticeServiceClient<Channel>;
type DisClient = pb::disclosure_service_client::DisclosureServiceClient<Channel>;

/// Servers on the one database.
const INSTANCES: usize = 3;
/// Requests released together.
const CONCURRENT: usize = 20;
/// Decided 2025-06-10 (sector OTHER, general, 令第58号): repairable from
/// 2025-09-11, published until 2028-06-10; the clock stands at 2026-03-09.
const DECIDED: &str = "2025-06-10";
const FULFILLED: &str = "2025-06-11";
const TODAY: &str = "2026-03-09";

/// Three servers on one database, with the keys the tests use.
struct Cluster {
    backend: &'static str,
    servers: Vec<TestServer>,
    officer: String,
    reviewer: As,
    portal: String,
    discloser: String,
}

impl Cluster {
    async fn start(db: &TestDb) -> Cluster {
        let clock = clock_at(TODAY);
        let mut servers = Vec::new();
        for _ in 0..INSTANCES {
            servers.push(TestServer::start(&db.url, clock.clone()).await);
        }
        // Keys live in the database: made on one instance, valid on all.
        let s = &servers[0];
        Cluster {
            backend: db.backend,
            officer: s.key(Role::Officer, None).await,
            reviewer: As::key(&s.key(Role::RepairReviewer, None).await),
            portal: s.key(Role::Portal, None).await,
            discloser: s.key(Role::Discloser, None).await,
            servers,
        }
    }

    /// `n` connections, the i-th to instance `i % INSTANCES`.
    async fn connections(&self, n: usize) -> Vec<Channel> {
        let mut v = Vec::new();
        for i in 0..n {
            v.push(self.servers[i % INSTANCES].channel().await);
        }
        v
    }

    async fn enf(&self, instance: usize) -> EnfClient {
        EnfClient::new(self.servers[instance % INSTANCES].channel().await)
    }

    async fn rep(&self, instance: usize) -> RepClient {
        RepClient::new(self.servers[instance % INSTANCES].channel().await)
    }

    async fn not(&self, instance: usize) -> NotClient {
        NotClient::new(self.servers[instance % INSTANCES].channel().await)
    }

    fn portal_for(&self, code: &str) -> As {
        As {
            key: self.portal.clone(),
            obo: Some(code.to_string()),
        }
    }

    /// A published decision of enterprise `n`, its fulfilment recorded.
    async fn published(&self, n: u64, label: &str) -> (pb::PenaltyDecision, String) {
        let code = credit_code("91310115", 600_000 + n);
        let mut e = self.enf(n as usize).await;
        let d = create_and_publish(
            &mut e,
            &self.officer,
            decision(&format!("沪应急罚〔2025〕多{label}-{n}号"), DECIDED, &code),
        )
        .await;
        assert_eq!(d.state, pb::DecisionState::Published as i32, "{}", self.backend);
        let d = e
            .record_fulfillment(req(
                pb::RecordFulfillmentRequest {
                    name: d.name.clone(),
                    fulfilled_on: FULFILLED.into(),
                    evidence: "罚款已缴入国库".into(),
                    etag: d.etag.clone(),
                },
                &self.officer,
            ))
            .await
            .expect("record fulfilment")
            .into_inner();
        (d, code)
    }

    /// Every event of a decision.
    async fn events(&self, name: &str) -> Vec<pb::PenaltyDecisionEvent> {
        calls::all_events(&mut self.enf(0).await, &self.officer, name).await
    }

    async fn count_events(&self, name: &str, kind: pb::DecisionEventKind) -> usize {
        self.events(name).await.iter().filter(|e| e.kind == kind as i32).count()
    }

    /// A decision has exactly one event of a kind (`what` names the case).
    async fn assert_one_event(&self, name: &str, kind: pb::DecisionEventKind, what: &str) {
        assert_eq!(self.count_events(name, kind).await, 1, "{what}: {kind:?} events");
    }

    /// The feed entries of one disclosure, as a puller reads them.
    async fn feed_of(&self, disclosure: &str) -> Vec<pb::DisclosureChange> {
        let mut d = DisClient::new(self.servers[1].channel().await).max_decoding_message_size(16 * 1024 * 1024);
        calls::feed(&mut d, &self.discloser)
            .await
            .into_iter()
            .filter(|c| c.disclosure == disclosure)
            .collect()
    }

    async fn stop(self) {
        for s in self.servers {
            s.stop().await;
        }
    }
}

/// Runs `n` calls made by `make`, released together by a barrier.
async fn race<T, Fut>(n: usize, mut make: impl FnMut(usize) -> Fut) -> Vec<Result<T, Status>>
where
    T: Send + 'static,
    Fut: Future<Output = Result<tonic::Response<T>, Status>> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let call = make(i);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                call.await.map(|r| r.into_inner())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

/// `$client.$method` called on every connection of `$chans` at once
/// (released together, see [`race`]); the `$i`-th call sends what
/// `$wrap($msg, $who)` makes of its message: [`req`] with a key, [`call`]
/// as an [`As`].
macro_rules! race_all {
    ($chans:expr, $client:ident.$method:ident(|$i:ident| $wrap:ident($msg:expr, $who:expr))) => {
        race($chans.len(), |$i| {
            let mut client = $client::new($chans[$i].clone());
            let m = $wrap($msg, $who);
            async move { client.$method(m).await }
        })
        .await
    };
}

/// Exactly one success; the losers refused as `losers` allows.
fn one_winner<T: std::fmt::Debug>(what: &str, results: Vec<Result<T, Status>>, losers: &[(Code, &str)]) -> T {
    let mut ok = Vec::new();
    let mut refused = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(s) => refused.push(s),
        }
    }
    for s in &refused {
        assert!(
            losers.contains(&(s.code(), reason(s).as_str())),
            "{what}: a losing call got {:?} {} ({}), expected one of {losers:?}",
            s.code(),
            s.message(),
            reason(s)
        );
    }
    assert_eq!(ok.len(), 1, "{what}: {} calls succeeded: {ok:?}", ok.len());
    ok.pop().expect("one")
}

const STALE: &[(Code, &str)] = &[(Code::Aborted, "ETAG_MISMATCH"), (Code::Aborted, "CONCURRENT_UPDATE")];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_request_id_creates_one_resource_across_instances() {
    for db in support::backends().await {
        let c = Cluster::start(&db).await;
        let b = c.backend;

        // CreatePenaltyDecision: three rounds, to give a race every chance.
        for round in 0..3u64 {
            let party = credit_code("91310115", 610_000 + round);
            let number = format!("沪应急罚〔2025〕多建-{round}号");
            let request = pb::CreatePenaltyDecisionRequest {
                request_id: format!("multi-create-{round}"),
                penalty_decision: Some(decision(&number, DECIDED, &party)),
            };
            let chans = c.connections(CONCURRENT).await;
            let results = race_all!(
                chans,
                EnfClient.create_penalty_decision(|i| req(request.clone(), &c.officer))
            );
            let mut answers = BTreeSet::new();
            for r in results {
                let d = r.unwrap_or_else(|s| panic!("{b}: round {round}: a concurrent create failed: {s:?}"));
                answers.insert((d.name, d.create_time.map(|t| (t.seconds, t.nanos))));
            }
            assert_eq!(answers.len(), 1, "{b}: round {round}: answers {answers:?}");
            let (name, created) = answers.pop_first().expect("one");
            // Retried on every instance afterwards: still the first result.
            let first = request.penalty_decision.clone().expect("decision");
            for i in 0..INSTANCES {
                let mut on = c.enf(i).await;
                let again = calls::create(&mut on, &c.officer, &request.request_id, first.clone())
                    .await
                    .expect("retry");
                assert_eq!(
                    (&again.name, again.create_time.map(|t| (t.seconds, t.nanos))),
                    (&name, created),
                    "{b}: round {round}: retry on instance {i}"
                );
            }
            let listed = c
                .enf(1)
                .await
                .list_penalty_decisions(req(
                    pb::ListPenaltyDecisionsRequest {
                        party_credit_code: party.clone(),
                        ..Default::default()
                    },
                    &c.officer,
                ))
                .await
                .expect("list")
                .into_inner()
                .penalty_decisions;
            assert_eq!(listed.len(), 1, "{b}: round {round}: decisions of the party {listed:?}");
            assert_eq!(
                c.count_events(&name, pb::DecisionEventKind::Recorded).await,
                1,
                "{b}: round {round}: RECORDED events"
            );
        }

        // SubmitRepairApplication: the portal acting for the enterprise.
        for round in 0..3u64 {
            let (dec, code) = c.published(round, "修").await;
            let who = c.portal_for(&code);
            let request = pb::SubmitRepairApplicationRequest {
                request_id: format!("multi-submit-{round}"),
                repair_application: Some(application_for(&dec.disclosure, &code)),
            };
            let chans = c.connections(CONCURRENT).await;
            let results = race_all!(
                chans,
                RepClient.submit_repair_application(|i| call(request.clone(), &who))
            );
            let mut answers = BTreeSet::new();
            for r in results {
                let a = r.unwrap_or_else(|s| panic!("{b}: round {round}: a concurrent submit failed: {s:?}"));
                answers.insert((a.name, a.receipt_code));
            }
            assert_eq!(answers.len(), 1, "{b}: round {round}: answers {answers:?}");
            let (name, receipt) = answers.pop_first().expect("one");
            for i in 0..INSTANCES {
                let again = c
                    .rep(i)
                    .await
                    .submit_repair_application(call(request.clone(), &who))
                    .await
                    .expect("retry")
                    .into_inner();
                assert_eq!(
                    (&again.name, &again.receipt_code),
                    (&name, &receipt),
                    "{b}: round {round}: retry on instance {i}"
                );
            }
            let apps = applications_of(&c, &code).await;
            assert_eq!(apps.len(), 1, "{b}: round {round}: applications {apps:?}");
            assert_eq!(applications_events(&c, &name).await, 1, "{b}: round {round}");

            // Closed (accepted, then rejected): the request still names it on
            // every instance, though a new application could now be made.
            let mut r = c.rep(round as usize).await;
            let accepted = r
                .accept_repair_application(call(
                    pb::AcceptRepairApplicationRequest {
                        name: name.clone(),
                        etag: String::new(),
                    },
                    &c.reviewer,
                ))
                .await
                .expect("accept")
                .into_inner();
            r.reject_repair_application(call(
                pb::RejectRepairApplicationRequest {
                    name: name.clone(),
                    reason: "整改不到位，驳回".into(),
                    etag: accepted.etag,
                },
                &c.reviewer,
            ))
            .await
            .expect("reject");
            let retries = race_all!(
                chans[..INSTANCES * 2],
                RepClient.submit_repair_application(|i| call(request.clone(), &who))
            );
            for a in retries {
                let a = a.unwrap_or_else(|s| panic!("{b}: round {round}: a late retry failed: {s:?}"));
                assert_eq!(a.name, name, "{b}: round {round}: a late retry made a new application");
                assert_eq!(a.state, pb::RepairState::Rejected as i32, "{b}");
            }
            assert_eq!(applications_of(&c, &code).await.len(), 1, "{b}: round {round}");
            let mut fresh = request.clone();
            fresh.request_id = format!("multi-submit-{round}-again");
            let second = c
                .rep(round as usize + 1)
                .await
                .submit_repair_application(call(fresh, &who))
                .await
                .expect("a new request_id applies again")
                .into_inner();
            assert_ne!(second.name, name, "{b}");
            assert_eq!(applications_of(&c, &code).await.len(), 2, "{b}: round {round}");
        }
        c.stop().await;
    }
}

/// Every application of an enterprise, as the reviewer lists them.
async fn applications_of(c: &Cluster, code: &str) -> Vec<pb::RepairApplication> {
    c.rep(2)
        .await
        .list_repair_applications(call(
            pb::ListRepairApplicationsRequest {
                applicant_credit_code: code.to_string(),
                page_size: 1000,
                ..Default::default()
            },
            &c.reviewer,
        ))
        .await
        .expect("list applications")
        .into_inner()
        .repair_applications
}

async fn applications_events(c: &Cluster, name: &str) -> usize {
    c.rep(0)
        .await
        .list_repair_application_events(call(
            pb::ListRepairApplicationEventsRequest {
                name: name.to_string(),
                page_size: 1000,
                page_token: String::new(),
            },
            &c.reviewer,
        ))
        .await
        .expect("list application events")
        .into_inner()
        .events
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transitions_have_one_winner_across_instances() {
    for db in support::backends().await {
        let c = Cluster::start(&db).await;
        let b = c.backend;
        let officer = c.officer.clone();

        // PublishPenaltyDecision, all with the etag of the recorded decision.
        let code = credit_code("91310115", 620_001);
        let recorded = calls::create(
            &mut c.enf(0).await,
            &officer,
            "",
            decision("沪应急罚〔2025〕多转-1号", DECIDED, &code),
        )
        .await
        .expect("create");
        let chans = c.connections(CONCURRENT).await;
        let publish = |d: &pb::PenaltyDecision, etag: &str| pb::PublishPenaltyDecisionRequest {
            name: d.name.clone(),
            etag: etag.to_string(),
        };
        let results = race_all!(
            chans,
            EnfClient.publish_penalty_decision(|i| req(publish(&recorded, &recorded.etag), &officer))
        );
        let published = one_winner(&format!("{b}: publish with one etag"), results, STALE);
        assert_eq!(published.state, pb::DecisionState::Published as i32);
        c.assert_one_event(&published.name, pb::DecisionEventKind::Published, b)
            .await;
        let feed = c.feed_of(&published.disclosure).await;
        assert_eq!(
            feed.iter().map(|f| f.kind).collect::<Vec<_>>(),
            [pb::ChangeKind::Published as i32],
            "{b}: one PUBLISHED feed entry"
        );

        // PublishPenaltyDecision without an etag: the state machine decides.
        let code2 = credit_code("91310115", 620_002);
        let recorded2 = decision("沪应急罚〔2025〕多转-2号", DECIDED, &code2);
        let recorded2 = calls::create(&mut c.enf(1).await, &officer, "", recorded2)
            .await
            .expect("create");
        let results = race_all!(
            chans,
            EnfClient.publish_penalty_decision(|i| req(publish(&recorded2, ""), &officer))
        );
        let published2 = one_winner(
            &format!("{b}: publish without etag"),
            results,
            &[
                (Code::FailedPrecondition, "INVALID_STATE_TRANSITION"),
                (Code::Aborted, "CONCURRENT_UPDATE"),
            ],
        );
        c.assert_one_event(&published2.name, pb::DecisionEventKind::Published, b)
            .await;
        assert_eq!(c.feed_of(&published2.disclosure).await.len(), 1, "{b}");

        // CorrectPenaltyDecision with one etag, each with other content.
        let draft = |i: usize| {
            let facts = patch_of("violation_facts", format!("经复核，更正后的违法事实（第{i}稿）。"));
            correction(
                &published.name,
                facts,
                &["violation_facts"],
                &format!("笔误 {i}"),
                &published.etag,
            )
        };
        let results = race_all!(chans, EnfClient.correct_penalty_decision(|i| req(draft(i), &officer)));
        let corrected = one_winner(&format!("{b}: correct with one etag"), results, STALE);
        let now = calls::get(&mut c.enf(2).await, &officer, &published.name).await;
        assert_eq!(
            (&now.etag, &now.violation_facts),
            (&corrected.etag, &corrected.violation_facts),
            "{b}: the stored decision is the winner's"
        );
        c.assert_one_event(&published.name, pb::DecisionEventKind::Corrected, b)
            .await;
        let feed = c.feed_of(&published.disclosure).await;
        assert_eq!(
            feed.iter().map(|f| f.kind).collect::<Vec<_>>(),
            [pb::ChangeKind::Published as i32, pb::ChangeKind::Corrected as i32],
            "{b}: one CORRECTED feed entry"
        );
        let record = feed[1]
            .record
            .as_ref()
            .expect("a corrected active record carries content");
        assert_eq!(record.violation_facts, corrected.violation_facts, "{b}");

        // NoticeService: one delivery act for a bundle, whoever asks.
        let bundle = c
            .not(0)
            .await
            .get_notice_bundle(req(notice_bundle(&published.name, 0), &officer))
            .await
            .expect("bundle")
            .into_inner();
        let at = prost_types::Timestamp {
            seconds: c.servers[0].clock.now().timestamp(),
            nanos: 0,
        };
        let delivery = |i: usize| pb::RecordNoticeDeliveryRequest {
            name: bundle.name.clone(),
            method: pb::DeliveryMethod::Direct as i32,
            recipient: format!("王五 {i}"),
            recipient_relation: "法定代表人".into(),
            delivered_at: Some(at),
            consent_ref: String::new(),
            witnesses: vec![],
            etag: String::new(),
        };
        let results = race_all!(chans, NotClient.record_notice_delivery(|i| req(delivery(i), &officer)));
        let delivered = one_winner(
            &format!("{b}: record delivery"),
            results,
            &[
                (Code::FailedPrecondition, "ALREADY_DELIVERED"),
                (Code::Aborted, "CONCURRENT_UPDATE"),
            ],
        );
        assert_eq!(delivered.delivery_state, pb::DeliveryState::Delivered as i32);
        c.assert_one_event(&published.name, pb::DecisionEventKind::NoticeDelivered, b)
            .await;

        // WithdrawPenaltyDecision with one etag.
        let withdrawal = |i: usize| pb::WithdrawPenaltyDecisionRequest {
            name: published.name.clone(),
            legal_event: pb::WithdrawalEvent::Revoked as i32,
            public_reason: format!("行政处罚决定已被撤销 {i}"),
            etag: corrected.etag.clone(),
            legal_event_on: String::new(),
        };
        let results = race_all!(
            chans,
            EnfClient.withdraw_penalty_decision(|i| req(withdrawal(i), &officer))
        );
        let withdrawn = one_winner(&format!("{b}: withdraw with one etag"), results, STALE);
        assert_eq!(withdrawn.state, pb::DecisionState::Withdrawn as i32);
        c.assert_one_event(&published.name, pb::DecisionEventKind::Withdrawn, b)
            .await;
        let feed = c.feed_of(&published.disclosure).await;
        let terminated = calls::terminated(&feed);
        assert_eq!(terminated.len(), 1, "{b}: TERMINATED entries {terminated:?}");
        assert_eq!(terminated[0].reason, pb::TerminationReason::Withdrawn as i32);
        c.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notice_bundle_rendered_once_across_instances() {
    for db in support::backends().await {
        let c = Cluster::start(&db).await;
        let b = c.backend;
        for round in 0..3u64 {
            let (dec, _) = c.published(round, "书").await;
            let chans = c.connections(CONCURRENT).await;
            let first = render_all(&chans, &dec.name, &c.officer, b, round, 1).await;
            assert_eq!(
                c.count_events(&dec.name, pb::DecisionEventKind::NoticeRendered).await,
                1,
                "{b}: round {round}: NOTICE_RENDERED events"
            );
            assert_eq!(bundle_version(&c, &dec.name, 2).await, Err(Code::NotFound), "{b}");

            // A correction: the next concurrent requests render exactly one
            // more version; the first stays as it was.
            c.enf(round as usize)
                .await
                .correct_penalty_decision(req(
                    slip_correction(
                        &dec.name,
                        "violation_facts",
                        format!("经复核，更正后的违法事实（{round}）。"),
                        "",
                    ),
                    &c.officer,
                ))
                .await
                .expect("correct");
            let second = render_all(&chans, &dec.name, &c.officer, b, round, 2).await;
            assert_ne!(second.documents, first.documents, "{b}: the correction is rendered");
            assert_eq!(
                c.count_events(&dec.name, pb::DecisionEventKind::NoticeRendered).await,
                2,
                "{b}: round {round}: NOTICE_RENDERED events"
            );
            assert_eq!(bundle_version(&c, &dec.name, 3).await, Err(Code::NotFound), "{b}");
            assert_eq!(
                bundle_version(&c, &dec.name, 1).await.map(|x| x.documents),
                Ok(first.documents),
                "{b}: version 1 is kept as rendered"
            );
        }
        c.stop().await;
    }
}

/// A bundle version read on instance 1.
async fn bundle_version(c: &Cluster, decision: &str, version: i32) -> Result<pb::NoticeBundle, Code> {
    c.not(1)
        .await
        .get_notice_bundle(req(notice_bundle(decision, version), &c.officer))
        .await
        .map(|r| r.into_inner())
        .map_err(|s| s.code())
}

/// GetNoticeBundle (latest) on every connection at once: every answer is
/// the same bundle version, byte for byte.
async fn render_all(
    chans: &[Channel],
    decision: &str,
    officer: &str,
    backend: &str,
    round: u64,
    version: i32,
) -> pb::NoticeBundle {
    let results = race_all!(
        chans,
        NotClient.get_notice_bundle(|i| req(notice_bundle(decision, 0), officer))
    );
    let mut answers = Vec::new();
    for r in results {
        answers.push(r.unwrap_or_else(|s| panic!("{backend}: round {round}: a concurrent render failed: {s:?}")));
    }
    let first = answers[0].clone();
    assert_eq!(first.version, version, "{backend}: round {round}");
    for a in &answers {
        assert_eq!(
            (a.version, &a.documents),
            (first.version, &first.documents),
            "{backend}: round {round}: two different renderings answered"
        );
    }
    first
}
